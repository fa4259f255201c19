//! The room checker: what every watcher heard, epoch by epoch (one epoch per connection),
//! what every actor changed and what became of it, and the room as it ended.
//! [`RoomLedger::verify`] holds them to RTC-01/RTC-02 under faults: each watcher hears
//! every change after its join once, in the room's version order; every watcher hears the
//! same change at the same version; every acknowledged change is heard once and a refused
//! one never; and the notices, applied to the room as a watcher first saw it, make the
//! room as it ended, which is what the actors' acknowledged changes say it is.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use meridian_proto::rtc::{Resource, Role, RoomInfo, RoomNotice};
use serde::Serialize;

use crate::checker::Outcome;

/// A change an actor asked for, named so its notice can be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Join,
    Leave,
    /// Publishes a stream with a run-unique id.
    Publish(String),
    Unpublish(String),
    /// Sets an attribute to a run-unique value.
    Attribute(String, String),
}

/// What an actor's acknowledged changes say it is at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Membership {
    pub member: bool,
    pub streams: BTreeSet<String>,
}

/// One connection of a watcher: the room its join answered (none if the connection broke
/// first) and the notices it heard, in arrival order.
#[derive(Debug, Clone, Default)]
struct Epoch {
    joined: Option<RoomInfo>,
    heard: Vec<(u64, RoomNotice)>,
}

#[derive(Default)]
struct Records {
    epochs: BTreeMap<String, Vec<Epoch>>,
    ended: Vec<RoomInfo>,
    changes: Vec<(String, Change, Outcome)>,
    /// None for an actor that could not make sure of its place in time.
    memberships: BTreeMap<String, Option<Membership>>,
}

/// Shared by the room traffic's tasks; all methods take `&self`.
#[derive(Default)]
pub struct RoomLedger {
    records: Mutex<Records>,
}

/// The room checker's findings, part of the harness's last output line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RoomVerdict {
    /// Notices heard, all watchers together.
    pub notices: u64,
    /// Acknowledged changes.
    pub changes: u64,
    /// Notices a watcher should have heard and did not, and acknowledged changes no
    /// watcher heard.
    pub lost: u64,
    /// Notices heard twice by one watcher, or one change heard at two versions.
    pub duplicates: u64,
    /// Notices heard out of version order.
    pub reordered: u64,
    /// Two watchers heard different changes at one version, or the notices do not make
    /// the room as it ended, or the room is not what the acknowledged changes say.
    pub diverged: u64,
    /// Refused changes that were made anyway.
    pub phantoms: u64,
    /// Actors that could not make sure of their place within the settle time after the
    /// faults ended (reconnecting, rejoining or reading the room kept failing).
    pub unsettled: u64,
    /// Versions no watcher was connected to hear (then acknowledged changes are not
    /// counted lost, and the replay is skipped).
    pub unobserved: u64,
    #[serde(skip)]
    pub examples: Vec<String>,
}

impl RoomVerdict {
    /// Every violation found, whatever its kind.
    pub fn violations(&self) -> u64 {
        self.lost
            + self.duplicates
            + self.reordered
            + self.diverged
            + self.phantoms
            + self.unsettled
    }

    pub fn clean(&self) -> bool {
        self.violations() == 0
    }

    fn note(&mut self, example: impl FnOnce() -> String) {
        if self.examples.len() < 20 {
            self.examples.push(example());
        }
    }
}

/// The room as the checker compares it: who is in it with which role and streams, and
/// its attributes (not who is online, which changes without a notice).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct RoomShape {
    members: BTreeMap<String, (Role, BTreeMap<String, Resource>)>,
    attributes: BTreeMap<String, String>,
}

impl RoomShape {
    fn of(room: &RoomInfo) -> Self {
        Self {
            members: room
                .members
                .iter()
                .map(|m| (m.user_id.clone(), (m.role, by_stream(&m.resources))))
                .collect(),
            attributes: room.attributes.clone(),
        }
    }

    fn apply(&mut self, notice: &RoomNotice) {
        match notice {
            RoomNotice::Joined { member } => {
                let member_shape = (member.role, by_stream(&member.resources));
                self.members.insert(member.user_id.clone(), member_shape);
            }
            RoomNotice::Left { user_id, .. } => {
                self.members.remove(user_id);
            }
            RoomNotice::Published { user_id, resources } => {
                if let Some((_, streams)) = self.members.get_mut(user_id) {
                    streams.extend(by_stream(resources));
                }
            }
            RoomNotice::Unpublished {
                user_id,
                stream_ids,
            } => {
                if let Some((_, streams)) = self.members.get_mut(user_id) {
                    for id in stream_ids {
                        streams.remove(id);
                    }
                }
            }
            RoomNotice::Attributes { set, removed, .. } => {
                self.attributes.extend(set.clone());
                for key in removed {
                    self.attributes.remove(key);
                }
            }
            RoomNotice::RoleChanged { user_id, role } => {
                if let Some((member_role, _)) = self.members.get_mut(user_id) {
                    *member_role = *role;
                }
            }
            RoomNotice::Invited { .. }
            | RoomNotice::InviteDeclined { .. }
            | RoomNotice::PkInvited { .. }
            | RoomNotice::PkStarted { .. }
            | RoomNotice::PkDeclined { .. }
            | RoomNotice::PkEnded { .. } => {}
        }
    }
}

fn by_stream(resources: &[Resource]) -> BTreeMap<String, Resource> {
    resources
        .iter()
        .map(|r| (r.stream_id.clone(), r.clone()))
        .collect()
}

/// Whether `notice` is what `change` by `user` makes.
fn made_by(notice: &RoomNotice, user: &str, change: &Change) -> bool {
    match (notice, change) {
        (RoomNotice::Published { user_id, resources }, Change::Publish(stream)) => {
            user_id == user && resources.iter().any(|r| &r.stream_id == stream)
        }
        (
            RoomNotice::Unpublished {
                user_id,
                stream_ids,
            },
            Change::Unpublish(stream),
        ) => user_id == user && stream_ids.contains(stream),
        (RoomNotice::Attributes { user_id, set, .. }, Change::Attribute(key, value)) => {
            user_id == user && set.get(key) == Some(value)
        }
        _ => false,
    }
}

/// What explains an actor's place: its last changes with their outcomes and the last
/// notices about it, for a violation's note.
fn history_of(actor: &str, records: &Records, log: &BTreeMap<u64, &RoomNotice>) -> String {
    let changes: Vec<String> = records
        .changes
        .iter()
        .filter(|(user, ..)| user == actor)
        .map(|(_, change, outcome)| format!("{change:?} {outcome:?}"))
        .collect();
    let notices: Vec<String> = log
        .iter()
        .filter(|(_, notice)| concerns(notice, actor))
        .map(|(version, notice)| format!("v{version} {notice:?}"))
        .collect();
    let last = |items: &[String]| items[items.len().saturating_sub(4)..].join(", ");
    format!(
        "its last changes: [{}]; the last notices about it: [{}]",
        last(&changes),
        last(&notices)
    )
}

fn concerns(notice: &RoomNotice, actor: &str) -> bool {
    match notice {
        RoomNotice::Joined { member } => member.user_id == actor,
        RoomNotice::Left { user_id, .. }
        | RoomNotice::Published { user_id, .. }
        | RoomNotice::Unpublished { user_id, .. }
        | RoomNotice::RoleChanged { user_id, .. } => user_id == actor,
        _ => false,
    }
}

impl RoomLedger {
    fn records(&self) -> std::sync::MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `watcher` connected again: what it hears next belongs to a new epoch.
    pub fn connected(&self, watcher: &str) {
        let mut records = self.records();
        let epochs = records.epochs.entry(watcher.to_string()).or_default();
        epochs.push(Epoch::default());
    }

    /// The join on `watcher`'s current connection answered `room`.
    pub fn joined(&self, watcher: &str, room: RoomInfo) {
        self.in_current_epoch(watcher, |epoch| epoch.joined = Some(room));
    }

    /// `watcher` heard `notice`, which made `version`.
    pub fn heard(&self, watcher: &str, version: u64, notice: RoomNotice) {
        self.in_current_epoch(watcher, |epoch| epoch.heard.push((version, notice)));
    }

    fn in_current_epoch(&self, watcher: &str, record: impl FnOnce(&mut Epoch)) {
        let mut records = self.records();
        if let Some(epoch) = records.epochs.get_mut(watcher).and_then(|e| e.last_mut()) {
            record(epoch);
        }
    }

    /// A watcher read the room after all changes stopped and it had heard up to its
    /// version (or gave up waiting).
    pub fn ended(&self, room: RoomInfo) {
        self.records().ended.push(room);
    }

    pub fn changed(&self, user: &str, change: Change, outcome: Outcome) {
        self.records()
            .changes
            .push((user.to_string(), change, outcome));
    }

    /// What `actor`'s acknowledged changes (and its reads after unanswered ones) say it
    /// is once it stopped changing the room; None if it could not make sure in time.
    pub fn finished(&self, actor: &str, membership: Option<Membership>) {
        self.records()
            .memberships
            .insert(actor.to_string(), membership);
    }

    pub fn verify(&self) -> RoomVerdict {
        let records = self.records();
        let mut verdict = RoomVerdict::default();
        let ended = records.ended.iter().max_by_key(|r| r.version);
        // Each watcher, each epoch: versions rise; after the join's, none is skipped,
        // and the last epoch reaches the room's last version.
        for (watcher, epochs) in &records.epochs {
            for (index, epoch) in epochs.iter().enumerate() {
                verdict.notices += epoch.heard.len() as u64;
                let mut previous: Option<u64> = None;
                for (version, _) in &epoch.heard {
                    match previous {
                        Some(p) if *version == p => {
                            verdict.duplicates += 1;
                            verdict.note(|| format!("{watcher} heard version {p} twice"));
                        }
                        Some(p) if *version < p => {
                            verdict.reordered += 1;
                            verdict.note(|| format!("{watcher} heard version {version} after {p}"));
                        }
                        _ => {}
                    }
                    previous = Some(previous.map_or(*version, |p| p.max(*version)));
                }
                let Some(joined) = &epoch.joined else {
                    continue;
                };
                let mut expected = joined.version + 1;
                for (version, _) in epoch.heard.iter().filter(|(v, _)| *v > joined.version) {
                    if *version > expected {
                        verdict.lost += version - expected;
                        verdict.note(|| {
                            format!("{watcher} never heard versions {expected}..{version}")
                        });
                    }
                    expected = expected.max(version + 1);
                }
                let last_epoch = index + 1 == epochs.len();
                if let (true, Some(ended)) = (last_epoch, ended) {
                    if expected <= ended.version {
                        verdict.lost += ended.version + 1 - expected;
                        verdict.note(|| {
                            format!(
                                "{watcher} never heard versions {expected}..={}",
                                ended.version
                            )
                        });
                    }
                }
            }
        }
        // One change per version for everyone.
        let mut log: BTreeMap<u64, &RoomNotice> = BTreeMap::new();
        for (version, notice) in records.epochs.values().flatten().flat_map(|e| &e.heard) {
            match log.get(version) {
                Some(known) if *known != notice => {
                    verdict.diverged += 1;
                    verdict.note(|| format!("version {version} was {known:?} and {notice:?}"));
                }
                Some(_) => {}
                None => {
                    log.insert(*version, notice);
                }
            }
        }
        let Some(ended) = ended else {
            verdict.note(|| "no watcher read the room at the end".into());
            verdict.lost += 1;
            return verdict;
        };
        for other in &records.ended {
            if other.version == ended.version && RoomShape::of(other) != RoomShape::of(ended) {
                verdict.diverged += 1;
                verdict.note(|| format!("two reads at version {}: {other:?}", ended.version));
            }
        }
        // The notices, from the first join a watcher heard answered, make the end.
        let first = records
            .epochs
            .values()
            .flatten()
            .filter_map(|e| e.joined.as_ref())
            .min_by_key(|r| r.version);
        if let Some(first) = first {
            let mut shape = RoomShape::of(first);
            for version in first.version + 1..=ended.version {
                match log.get(&version) {
                    Some(notice) => shape.apply(notice),
                    None => verdict.unobserved += 1,
                }
            }
            if verdict.unobserved == 0 && shape != RoomShape::of(ended) {
                verdict.diverged += 1;
                verdict.note(|| format!("the notices make {shape:?}, the room is {ended:?}"));
            }
        }
        // Each acknowledged change heard once, a refused one never.
        for (user, change, outcome) in &records.changes {
            if matches!(change, Change::Join | Change::Leave) {
                continue;
            }
            let heard = log.values().filter(|n| made_by(n, user, change)).count();
            match outcome {
                Outcome::Acked { .. } => {
                    verdict.changes += 1;
                    if heard == 0 && verdict.unobserved == 0 {
                        verdict.lost += 1;
                        verdict
                            .note(|| format!("{user}'s {change:?} was acknowledged, never heard"));
                    }
                }
                Outcome::Refused if heard > 0 => {
                    verdict.phantoms += 1;
                    verdict.note(|| format!("{user}'s {change:?} was refused and made"));
                }
                Outcome::Refused | Outcome::Unknown => {}
            }
            if heard > 1 {
                verdict.duplicates += 1;
                verdict.note(|| format!("{user}'s {change:?} was heard {heard} times"));
            }
        }
        // The room is what each actor's acknowledged changes say.
        let shape = RoomShape::of(ended);
        for (actor, membership) in &records.memberships {
            let Some(membership) = membership else {
                verdict.unsettled += 1;
                verdict.note(|| format!("{actor} could not make sure of its place in time"));
                continue;
            };
            let in_room = shape.members.get(actor).map(|(_, streams)| Membership {
                member: true,
                streams: streams.keys().cloned().collect(),
            });
            let in_room = in_room.unwrap_or_default();
            if in_room != *membership {
                verdict.diverged += 1;
                verdict.note(|| {
                    format!(
                        "{actor} ended as {membership:?}, the room has {in_room:?}; {}",
                        history_of(actor, &records, &log)
                    )
                });
            }
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use meridian_proto::rtc::{LeaveReason, ResourceKind, RoomKind, RoomMember};

    use super::*;

    fn member(user: &str) -> RoomMember {
        RoomMember {
            user_id: user.into(),
            role: Role::Participant,
            joined_at: 1,
            online: true,
            resources: Vec::new(),
        }
    }

    fn room(version: u64, members: Vec<RoomMember>) -> RoomInfo {
        RoomInfo {
            room_id: "r".into(),
            kind: RoomKind::Meeting,
            session_id: "s".into(),
            created_at: 1,
            version,
            members,
            attributes: BTreeMap::new(),
            pk: None,
        }
    }

    fn published(user: &str, stream: &str) -> RoomNotice {
        RoomNotice::Published {
            user_id: user.into(),
            resources: vec![Resource {
                stream_id: stream.into(),
                kind: ResourceKind::Audio,
                layers: Vec::new(),
                media_server: String::new(),
                params: String::new(),
            }],
        }
    }

    const ACKED: Outcome = Outcome::Acked { seq: 0, at_ms: 1 };

    /// w joins at version 1, a joins (2) and publishes s1 (3); both watchers' views and
    /// the end agree.
    fn healthy() -> RoomLedger {
        let ledger = RoomLedger::default();
        ledger.connected("w");
        ledger.joined("w", room(1, vec![member("w")]));
        ledger.heard(
            "w",
            2,
            RoomNotice::Joined {
                member: member("a"),
            },
        );
        ledger.heard("w", 3, published("a", "s1"));
        ledger.changed("a", Change::Join, ACKED);
        ledger.changed("a", Change::Publish("s1".into()), ACKED);
        let mut a = member("a");
        a.resources = match published("a", "s1") {
            RoomNotice::Published { resources, .. } => resources,
            _ => unreachable!(),
        };
        ledger.ended(room(3, vec![member("w"), a]));
        ledger.finished(
            "a",
            Some(Membership {
                member: true,
                streams: ["s1".to_string()].into(),
            }),
        );
        ledger
    }

    #[test]
    fn a_healthy_room_is_clean() {
        let verdict = healthy().verify();
        assert!(verdict.clean(), "{verdict:?}");
        assert_eq!((verdict.notices, verdict.changes), (2, 1));
    }

    #[test]
    fn a_skipped_version_is_lost_and_a_repeated_or_earlier_one_is_caught() {
        let ledger = healthy();
        ledger.heard("w", 5, published("a", "s2"));
        assert_eq!(ledger.verify().lost, 1, "version 4 skipped");

        let ledger = healthy();
        ledger.heard("w", 3, published("a", "s1"));
        assert_eq!(ledger.verify().duplicates, 1);
        ledger.heard(
            "w",
            2,
            RoomNotice::Joined {
                member: member("a"),
            },
        );
        assert_eq!(ledger.verify().reordered, 1);
    }

    #[test]
    fn a_watcher_that_never_hears_the_last_change_lost_it() {
        let ledger = healthy();
        ledger.ended(room(4, vec![member("w")]));
        let verdict = ledger.verify();
        assert!(verdict.lost >= 1, "{verdict:?}");
    }

    #[test]
    fn an_acknowledged_change_nobody_heard_is_lost_and_a_refused_one_heard_a_phantom() {
        let ledger = healthy();
        ledger.changed("a", Change::Publish("s9".into()), ACKED);
        assert_eq!(ledger.verify().lost, 1);

        let ledger = healthy();
        ledger.changed("a", Change::Publish("s1".into()), Outcome::Refused);
        assert_eq!(ledger.verify().phantoms, 1);
    }

    #[test]
    fn watchers_that_disagree_or_an_end_the_notices_do_not_make_diverge() {
        let ledger = healthy();
        ledger.connected("v");
        ledger.joined("v", room(2, vec![member("w"), member("v")]));
        ledger.heard("v", 3, published("a", "other"));
        assert!(ledger.verify().diverged >= 1);

        let ledger = healthy();
        let left = RoomNotice::Left {
            user_id: "a".into(),
            reason: LeaveReason::Left,
        };
        // The room ended with a gone, but an actor that says it is still in.
        ledger.heard("w", 4, left);
        ledger.ended(room(4, vec![member("w")]));
        assert_eq!(ledger.verify().diverged, 1);
    }

    #[test]
    fn an_actor_unsure_of_its_place_is_unsettled_and_a_mismatch_names_its_history() {
        let ledger = healthy();
        ledger.finished("b", None);
        let verdict = ledger.verify();
        assert_eq!((verdict.unsettled, verdict.violations()), (1, 1));

        let ledger = healthy();
        ledger.finished("a", Some(Membership::default()));
        let verdict = ledger.verify();
        assert_eq!(verdict.diverged, 1);
        assert!(
            verdict.examples[0].contains("Publish(\"s1\") Acked"),
            "{:?}",
            verdict.examples
        );
    }

    #[test]
    fn a_rejoining_watcher_may_hear_versions_its_join_already_shows() {
        let ledger = healthy();
        ledger.connected("w");
        ledger.heard("w", 3, published("a", "s1"));
        ledger.joined("w", room(3, vec![member("w")]));
        assert!(ledger.verify().clean());
    }
}
