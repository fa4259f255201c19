//! The delivery checker: a ledger of every send (and what became of it), every delivery
//! to a device, and what the cluster finally stored; [`Ledger::verify`] holds them to
//! MSG-01 — nothing acknowledged is lost, nothing is delivered twice, and every receiver
//! sees a conversation in one order (the stored `seq` order).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use serde::Serialize;

/// What became of a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Acknowledged, with the `seq` the acknowledgement carried (0 when it carries none,
    /// as Server API answers don't).
    Acked { seq: u64, at_ms: u64 },
    /// Refused with a definite answer: it must not be stored.
    Refused,
    /// No answer (a timeout, a dropped connection): it may or may not be stored.
    Unknown,
}

#[derive(Debug, Clone)]
struct Sent {
    conversation: String,
    /// Devices that must get it (pushed or by sync); empty for conversations that are
    /// online-only or fetched by history (chatrooms, ultra groups).
    recipients: Vec<String>,
    outcome: Outcome,
}

#[derive(Debug, Clone)]
struct Delivered {
    id: String,
    conversation: String,
    /// `None` where the protocol carries no seq (the commercial one): the stored seq
    /// stands in for the order check.
    seq: Option<u64>,
}

#[derive(Default)]
struct Records {
    sent: BTreeMap<String, Sent>,
    deliveries: BTreeMap<String, Vec<Delivered>>,
    /// Per conversation, what the cluster stored: (message id, seq), in history order.
    stored: BTreeMap<String, Vec<(String, u64)>>,
}

/// Shared by every load task; all methods take `&self`.
#[derive(Default)]
pub struct Ledger {
    records: Mutex<Records>,
}

/// The checker's findings. Field names and order are the harness's last output line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub acked: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub order_violations: u64,
    /// Sends refused with a definite answer that were stored anyway.
    pub phantoms: u64,
    /// Of `acked` and `delivered`, what sessions on the commercial protocol sent and got.
    pub commercial_acked: u64,
    pub commercial_delivered: u64,
    /// The first few violations, spelled out.
    #[serde(skip)]
    pub examples: Vec<String>,
}

impl Verdict {
    pub fn clean(&self) -> bool {
        self.lost == 0 && self.duplicates == 0 && self.order_violations == 0 && self.phantoms == 0
    }

    fn note(&mut self, example: impl FnOnce() -> String) {
        if self.examples.len() < 20 {
            self.examples.push(example());
        }
    }
}

impl Ledger {
    fn records(&self) -> std::sync::MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A send of message `id` (unique in the run) to `conversation`.
    pub fn sent(&self, id: &str, conversation: &str, recipients: Vec<String>, outcome: Outcome) {
        self.records().sent.insert(
            id.to_string(),
            Sent {
                conversation: conversation.to_string(),
                recipients,
                outcome,
            },
        );
    }

    /// Message `id` reached `device`, in `conversation`, with `seq`.
    pub fn delivered(&self, device: &str, id: &str, conversation: &str, seq: u64) {
        self.record_delivery(device, id, conversation, Some(seq));
    }

    /// Message `id` reached `device` over the commercial protocol, which carries no seq.
    pub fn delivered_unsequenced(&self, device: &str, id: &str, conversation: &str) {
        self.record_delivery(device, id, conversation, None);
    }

    fn record_delivery(&self, device: &str, id: &str, conversation: &str, seq: Option<u64>) {
        self.records()
            .deliveries
            .entry(device.to_string())
            .or_default()
            .push(Delivered {
                id: id.to_string(),
                conversation: conversation.to_string(),
                seq,
            });
    }

    /// What the cluster holds for `conversation` at the end, oldest first.
    pub fn stored(&self, conversation: &str, messages: Vec<(String, u64)>) {
        self.records()
            .stored
            .insert(conversation.to_string(), messages);
    }

    /// Every conversation a send went to.
    pub fn conversations(&self) -> BTreeSet<String> {
        self.records()
            .sent
            .values()
            .map(|s| s.conversation.clone())
            .collect()
    }

    /// Acknowledgement times (ms), sorted.
    pub fn ack_times(&self) -> Vec<u64> {
        let mut times: Vec<u64> = self
            .records()
            .sent
            .values()
            .filter_map(|s| match s.outcome {
                Outcome::Acked { at_ms, .. } => Some(at_ms),
                _ => None,
            })
            .collect();
        times.sort_unstable();
        times
    }

    /// How many acknowledged sends each device still lacks (for waiting until the
    /// deliveries settle).
    pub fn missing_deliveries(&self) -> usize {
        let records = self.records();
        let got: BTreeSet<(&str, &str)> = records
            .deliveries
            .iter()
            .flat_map(|(device, list)| list.iter().map(move |d| (device.as_str(), d.id.as_str())))
            .collect();
        records
            .sent
            .iter()
            .filter(|(_, s)| matches!(s.outcome, Outcome::Acked { .. }))
            .flat_map(|(id, s)| s.recipients.iter().map(move |r| (r.as_str(), id.as_str())))
            .filter(|key| !got.contains(key))
            .count()
    }

    pub fn verify(&self) -> Verdict {
        let records = self.records();
        let mut verdict = Verdict::default();
        // Where each message id was stored: (conversation, seq), once per copy.
        let mut copies: BTreeMap<&str, Vec<(&str, u64)>> = BTreeMap::new();
        for (conversation, messages) in &records.stored {
            for (id, seq) in messages {
                copies
                    .entry(id.as_str())
                    .or_default()
                    .push((conversation.as_str(), *seq));
            }
        }
        // Storage: acknowledged means stored, once, where it was sent, with the acked seq.
        for (id, sent) in &records.sent {
            let stored = copies.get(id.as_str()).map(Vec::as_slice).unwrap_or(&[]);
            if stored.len() > 1 {
                verdict.duplicates += stored.len() as u64 - 1;
                verdict.note(|| format!("{id} stored {} times", stored.len()));
            }
            if let Some((conversation, _)) = stored.iter().find(|(c, _)| *c != sent.conversation) {
                verdict.order_violations += 1;
                verdict.note(|| {
                    format!(
                        "{id} stored in {conversation}, sent to {}",
                        sent.conversation
                    )
                });
            }
            match sent.outcome {
                Outcome::Acked { seq, .. } => {
                    verdict.acked += 1;
                    if id.starts_with(crate::commercial::SEND_PREFIX) {
                        verdict.commercial_acked += 1;
                    }
                    match stored.first() {
                        None => {
                            verdict.lost += 1;
                            verdict.note(|| {
                                format!("{id} acknowledged but not stored in {}", sent.conversation)
                            });
                        }
                        Some((_, stored_seq)) if seq != 0 && seq != *stored_seq => {
                            verdict.order_violations += 1;
                            verdict.note(|| {
                                format!("{id} acked as seq {seq}, stored as {stored_seq}")
                            });
                        }
                        Some(_) => {}
                    }
                }
                Outcome::Refused if !stored.is_empty() => {
                    verdict.phantoms += 1;
                    verdict.note(|| format!("{id} refused but stored"));
                }
                Outcome::Refused | Outcome::Unknown => {}
            }
        }
        // Devices: each recipient gets every acknowledged message, once, in seq order.
        // What each device got, by id: looked up once per recipient of every message, so
        // a long run's check stays n log n.
        let mut got: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (device, list) in &records.deliveries {
            verdict.delivered += list.len() as u64;
            let seen = got.entry(device.as_str()).or_default();
            let mut last_seq: BTreeMap<&str, u64> = BTreeMap::new();
            for delivery in list {
                if !seen.insert(delivery.id.as_str()) {
                    verdict.duplicates += 1;
                    verdict.note(|| format!("{} delivered twice to {device}", delivery.id));
                }
                let stored_seq = copies
                    .get(delivery.id.as_str())
                    .and_then(|c| c.first())
                    .map(|(_, seq)| *seq);
                if delivery.seq.is_none() {
                    verdict.commercial_delivered += 1;
                }
                // Unstored and without a seq of its own: nothing to order it by.
                let Some(seq) = delivery.seq.or(stored_seq) else {
                    continue;
                };
                let last = last_seq.entry(delivery.conversation.as_str()).or_insert(0);
                if seq <= *last {
                    verdict.order_violations += 1;
                    verdict.note(|| {
                        format!(
                            "{device} got seq {seq} after {} in {}",
                            last, delivery.conversation
                        )
                    });
                }
                *last = (*last).max(seq);
                if let Some(stored_seq) = stored_seq {
                    if stored_seq != seq {
                        verdict.order_violations += 1;
                        verdict.note(|| {
                            format!(
                                "{device} got {} as seq {seq}, stored as {stored_seq}",
                                delivery.id
                            )
                        });
                    }
                }
            }
        }
        for (id, sent) in &records.sent {
            if !matches!(sent.outcome, Outcome::Acked { .. }) {
                continue;
            }
            for device in &sent.recipients {
                let reached = got
                    .get(device.as_str())
                    .is_some_and(|ids| ids.contains(id.as_str()));
                if !reached {
                    verdict.lost += 1;
                    verdict.note(|| format!("{id} never reached {device}"));
                }
            }
        }
        verdict
    }
}

/// The `q` quantile (nearest rank) of ascending `sorted` values.
pub fn nearest_rank<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[i])
}

/// The longest stretch of `window` (ms) without an acknowledgement, given sorted ack times.
pub fn longest_silence(ack_times: &[u64], window: (u64, u64)) -> u64 {
    let (start, end) = window;
    let inside = ack_times
        .iter()
        .copied()
        .filter(|t| (start..=end).contains(t));
    let mut previous = start;
    let mut longest = 0;
    for t in inside.chain(std::iter::once(end)) {
        longest = longest.max(t - previous);
        previous = t;
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acked(seq: u64) -> Outcome {
        Outcome::Acked { seq, at_ms: 1 }
    }

    /// A ledger where everything went right: two messages in one chat, both stored and
    /// delivered once in order.
    fn healthy() -> Ledger {
        let ledger = Ledger::default();
        ledger.sent("m1", "1:a:b", vec!["b".into()], acked(1));
        ledger.sent("m2", "1:a:b", vec!["b".into()], acked(2));
        ledger.stored("1:a:b", vec![("m1".into(), 1), ("m2".into(), 2)]);
        ledger.delivered("b", "m1", "1:a:b", 1);
        ledger.delivered("b", "m2", "1:a:b", 2);
        ledger
    }

    #[test]
    fn a_healthy_run_is_clean() {
        let verdict = healthy().verify();
        assert!(verdict.clean(), "{verdict:?}");
        assert_eq!((verdict.acked, verdict.delivered), (2, 2));
    }

    #[test]
    fn an_acknowledged_message_missing_from_storage_is_lost() {
        let ledger = healthy();
        ledger.stored("1:a:b", vec![("m1".into(), 1)]);
        let verdict = ledger.verify();
        assert_eq!(verdict.lost, 1, "{verdict:?}");
    }

    #[test]
    fn an_acknowledged_message_a_recipient_never_got_is_lost() {
        let ledger = healthy();
        ledger.sent("m3", "1:a:b", vec!["b".into()], acked(3));
        ledger.stored(
            "1:a:b",
            vec![("m1".into(), 1), ("m2".into(), 2), ("m3".into(), 3)],
        );
        assert_eq!(ledger.verify().lost, 1);
        assert_eq!(ledger.missing_deliveries(), 1);
    }

    #[test]
    fn unanswered_sends_may_be_missing_but_refused_ones_must_be() {
        let ledger = healthy();
        ledger.sent("m3", "1:a:b", vec!["b".into()], Outcome::Unknown);
        assert!(ledger.verify().clean());
        ledger.sent("m4", "1:a:b", vec!["b".into()], Outcome::Refused);
        ledger.stored(
            "1:a:b",
            vec![("m1".into(), 1), ("m2".into(), 2), ("m4".into(), 3)],
        );
        assert_eq!(ledger.verify().phantoms, 1);
    }

    #[test]
    fn a_second_delivery_or_a_second_copy_is_a_duplicate() {
        let ledger = healthy();
        ledger.delivered("b", "m2", "1:a:b", 2);
        assert_eq!(ledger.verify().duplicates, 1);
        let ledger = healthy();
        ledger.stored(
            "1:a:b",
            vec![("m1".into(), 1), ("m2".into(), 2), ("m2".into(), 3)],
        );
        assert_eq!(ledger.verify().duplicates, 1);
    }

    #[test]
    fn out_of_order_or_mismatched_seqs_are_order_violations() {
        let ledger = Ledger::default();
        ledger.sent("m1", "1:a:b", vec!["b".into()], acked(1));
        ledger.sent("m2", "1:a:b", vec!["b".into()], acked(2));
        ledger.stored("1:a:b", vec![("m1".into(), 1), ("m2".into(), 2)]);
        ledger.delivered("b", "m2", "1:a:b", 2);
        ledger.delivered("b", "m1", "1:a:b", 1);
        assert_eq!(ledger.verify().order_violations, 1);

        let ledger = healthy();
        ledger.sent("m3", "1:a:b", vec![], acked(7));
        ledger.stored(
            "1:a:b",
            vec![("m1".into(), 1), ("m2".into(), 2), ("m3".into(), 3)],
        );
        assert_eq!(ledger.verify().order_violations, 1);
    }

    #[test]
    fn deliveries_without_a_seq_are_ordered_by_the_stored_one_and_counted_apart() {
        let ledger = Ledger::default();
        ledger.sent("rc-m1", "1:a:b", vec!["b".into()], acked(0));
        ledger.sent("rc-m2", "1:a:b", vec!["b".into()], acked(0));
        ledger.stored("1:a:b", vec![("rc-m1".into(), 1), ("rc-m2".into(), 2)]);
        ledger.delivered_unsequenced("b", "rc-m1", "1:a:b");
        ledger.delivered_unsequenced("b", "rc-m2", "1:a:b");
        let verdict = ledger.verify();
        assert!(verdict.clean(), "{verdict:?}");
        assert_eq!(
            (verdict.commercial_acked, verdict.commercial_delivered),
            (2, 2)
        );

        ledger.delivered_unsequenced("b", "rc-m1", "1:a:b");
        let verdict = ledger.verify();
        assert_eq!((verdict.duplicates, verdict.order_violations), (1, 1));
    }

    #[test]
    fn nearest_rank_quantiles_pick_a_member() {
        let sorted = [10, 20, 30, 40];
        assert_eq!(nearest_rank(&sorted, 0.5), Some(20));
        assert_eq!(nearest_rank(&sorted, 0.99), Some(40));
        assert_eq!(nearest_rank(&sorted, 0.0), Some(10));
        assert_eq!(nearest_rank::<u64>(&[], 0.5), None);
    }

    #[test]
    fn the_longest_silence_counts_the_window_edges() {
        assert_eq!(longest_silence(&[], (100, 600)), 500);
        assert_eq!(longest_silence(&[150, 200, 520], (100, 600)), 320);
        assert_eq!(longest_silence(&[50, 590], (100, 600)), 490);
    }
}
