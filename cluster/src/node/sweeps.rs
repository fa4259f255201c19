//! What the leader proposes on a timer: the chatroom sweep (CHR-07, CHR-08) with the
//! expiry of dead edges' sessions, the next batches of broadcasts' pushes (SYS-02),
//! dropping audio/video room members whose session stayed away too long (RTC-01),
//! ending calls nobody answered (RTC-03),
//! removing history and dead letters past their retention (LIFE-01) and the messages of
//! users erased with them (LIFE-02), trimming the feed of old events, and recording the
//! area's command level (LIFE-05).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::NodeCore;
use crate::state::{self, App, Command};

/// How often the leader sweeps chatrooms: CHR-08 destroys idle rooms after an hour, CHR-07
/// auto-exits offline members 30 s after the first message they missed (so within 40 s).
const CHATROOM_SWEEP_EVERY: Duration = Duration::from_secs(10);

/// How often the leader pushes the next batch of each pending broadcast: a batch is
/// `BROADCAST_PUSH_BATCH` devices, so about that many devices a second.
const BROADCAST_PUSH_EVERY: Duration = Duration::from_secs(1);

/// How often the leader looks for room members past their reconnect timeout: they are
/// dropped within this much of it.
const RTC_SWEEP_EVERY: Duration = Duration::from_secs(1);

/// On the leader, proposes the chatroom sweep for every app environment and the expiry of
/// dead edges' sessions. The command carries no clock: each replica judges idleness by
/// the entry's stamp.
pub(super) async fn idle_chatrooms(core: Arc<NodeCore>, stop: impl Future<Output = ()>) {
    every(core, CHATROOM_SWEEP_EVERY, stop, |_, apps| {
        app_keys(apps)
            .map(|app_key| Command::DestroyIdleChatrooms(state::DestroyIdleChatrooms { app_key }))
            // Sessions of edges that stopped renewing their lease go offline, and their
            // audio/video room members start their reconnect timeout.
            .chain([
                Command::ExpireEdges(state::ExpireEdges),
                Command::DropAbsentRtcMembers(state::DropAbsentRtcMembers),
            ])
            .collect()
    })
    .await
}

/// On the leader, records the command level every voter has reached (LIFE-05) once the
/// upgrade gate finds it above the recorded one: behaviour changes inside older commands
/// wait for it. An area at its level writes nothing.
pub(super) async fn area_level(core: Arc<NodeCore>, stop: impl Future<Output = ()>) {
    let gate = core.writer.gate().clone();
    every(
        core,
        crate::upgrade_gate::POLL_EVERY,
        stop,
        move |local, _| {
            let level = gate.area_level();
            match state::areas::level(local) {
                Ok(recorded) if recorded < level => {
                    vec![Command::SetAreaLevel(state::SetAreaLevel { level })]
                }
                _ => Vec::new(),
            }
        },
    )
    .await
}

/// On the leader, proposes the next batch of pushes for every app with a broadcast whose
/// devices are still being gone through.
pub(super) async fn broadcast_pushes(core: Arc<NodeCore>, stop: impl Future<Output = ()>) {
    every(core, BROADCAST_PUSH_EVERY, stop, |local, apps| {
        app_keys(apps)
            .filter(|app_key| state::pending_broadcast_pushes(local, app_key).unwrap_or(false))
            .map(|app_key| Command::ExpandBroadcastPushes(state::ExpandBroadcastPushes { app_key }))
            .collect()
    })
    .await
}

/// On the leader, drops the audio/video room members whose session has been gone past its
/// timeout; it proposes only when one is due, so an idle area writes nothing.
pub(super) async fn absent_rtc_members(core: Arc<NodeCore>, stop: impl Future<Output = ()>) {
    every(
        core,
        RTC_SWEEP_EVERY,
        stop,
        |local, _| match state::absent_members_due(local, meridian_clock::now_ms()) {
            Ok(true) => vec![Command::DropAbsentRtcMembers(state::DropAbsentRtcMembers)],
            _ => Vec::new(),
        },
    )
    .await
}

/// On the leader, ends the part of callees that did not answer in time (RTC-03); it
/// proposes only when one is due. The timeout is this node's: the command carries it.
pub(super) async fn unanswered_calls(core: Arc<NodeCore>, stop: impl Future<Output = ()>) {
    let timeout_ms = core.config.call_answer_timeout_ms;
    every(
        core,
        RTC_SWEEP_EVERY,
        stop,
        move |local, _| match state::unanswered_calls_due(
            local,
            meridian_clock::now_ms(),
            timeout_ms,
        ) {
            Ok(true) => vec![Command::EndUnansweredCalls(state::EndUnansweredCalls {
                timeout_ms,
            })],
            _ => Vec::new(),
        },
    )
    .await
}

/// On the leader, hangs up for answered parties whose sessions stayed gone past the
/// reconnect grace (RTC-03, "network"); it proposes only when something is due.
pub(super) async fn vanished_call_parties(core: Arc<NodeCore>, stop: impl Future<Output = ()>) {
    let grace_ms = core.config.call_reconnect_ms;
    every(
        core,
        RTC_SWEEP_EVERY,
        stop,
        move |local, _| match state::vanished_parties_due(local, meridian_clock::now_ms(), grace_ms)
        {
            Ok(true) => vec![Command::EndVanishedParties(state::EndVanishedParties {
                grace_ms,
            })],
            _ => Vec::new(),
        },
    )
    .await
}

/// How often the leader looks for history past its retention.
const RETENTION_SWEEP_EVERY: Duration = Duration::from_secs(2);
/// Conversations and inbox entries looked at per sweep, over all apps: a large area is
/// gone through over several sweeps, so no sweep holds the leader long.
const RETENTION_CONVERSATIONS_PER_SWEEP: usize = 10_000;

/// Where the retention searches of each app stopped, and which app goes first next time
/// (so the apps after a large one are not starved). A new leader starts afresh.
#[derive(Default)]
struct RetentionSweep {
    cursors: HashMap<String, AppCursors>,
    first_app: usize,
}

#[derive(Default)]
struct AppCursors {
    history: state::RetentionCursor,
    inbox: state::RetentionCursor,
    /// Through the app's call records (RTC-10).
    calls: state::RetentionCursor,
    /// Through the app's messages for erased users' ones (LIFE-02) …
    erasure: state::RetentionCursor,
    /// … since this instant (ms): users whose erasure was asked for before it are done
    /// when the search reaches the end.
    erasure_pass_started_ms: u64,
}

/// On the leader, proposes removing messages past their app's retention (and the records
/// of calls ended that long ago) and inbox entries past its offline window, a bounded batch per app and a bounded search per
/// sweep; it proposes only when something is due.
pub(super) async fn expired_history(core: Arc<NodeCore>, stop: impl Future<Output = ()>) {
    let sweep = Mutex::new(RetentionSweep::default());
    let day_ms = core.config.retention_day_ms.max(1);
    every_until_caught_up(core, RETENTION_SWEEP_EVERY, stop, move |local, apps| {
        let now_ms = meridian_clock::now_ms();
        // A full batch found: more is likely due, so the next round comes at once.
        let mut behind = false;
        let mut sweep = sweep.lock().unwrap_or_else(|e| e.into_inner());
        let keys: Vec<String> = app_keys(apps).collect();
        let start = sweep.first_app % keys.len().max(1);
        let mut budget = RETENTION_CONVERSATIONS_PER_SWEEP;
        let mut looked_at = 0;
        let mut commands = Vec::new();
        for app_key in keys.iter().cycle().skip(start).take(keys.len()) {
            if budget == 0 {
                break;
            }
            looked_at += 1;
            let cursors = sweep.cursors.entry(app_key.clone()).or_default();
            if let Ok(found) =
                state::expired_history(local, app_key, now_ms, day_ms, &cursors.history, budget)
            {
                budget -= found.conversations.min(budget);
                cursors.history = found.next;
                let messages: u64 = found
                    .ranges
                    .iter()
                    .map(|r| r.last_seq + 1 - r.first_seq)
                    .sum();
                behind |= messages >= state::EXPIRE_BATCH * 9 / 10;
                if !found.ranges.is_empty() {
                    commands.push(Command::ExpireHistory(state::ExpireHistory {
                        app_key: app_key.clone(),
                        ranges: found.ranges,
                    }));
                }
            }
            if let Ok(found) =
                state::stale_inbox_entries(local, app_key, now_ms, day_ms, &cursors.inbox, budget)
            {
                budget -= found.looked_at.min(budget);
                cursors.inbox = found.next;
                behind |= found.entries.len() as u64 == state::EXPIRE_BATCH;
                if !found.entries.is_empty() {
                    commands.push(Command::TrimInboxes(state::TrimInboxes {
                        app_key: app_key.clone(),
                        entries: found.entries,
                    }));
                }
            }
            if let Ok(found) =
                state::expired_calls(local, app_key, now_ms, day_ms, &cursors.calls, budget)
            {
                budget -= found.looked_at.min(budget);
                cursors.calls = found.next;
                behind |= found.call_ids.len() == state::MAX_FORGOTTEN_CALLS;
                if !found.call_ids.is_empty() {
                    commands.push(Command::ForgetCalls(state::ForgetCalls {
                        app_key: app_key.clone(),
                        call_ids: found.call_ids,
                    }));
                }
            }
            budget -= erase_sent_messages(local, app_key, now_ms, cursors, budget, &mut commands)
                .min(budget);
            // Dead letters are few and oldest first: no budget of their own.
            if let Ok(ids) = state::expired_dead_letters(local, app_key, now_ms) {
                if !ids.is_empty() {
                    commands.push(Command::DropDeadLetters(state::DropDeadLetters {
                        app_key: app_key.clone(),
                        ids,
                    }));
                }
            }
        }
        sweep.first_app = start + looked_at;
        (commands, behind)
    })
    .await
}

/// The next batch of messages sent by users erased with their messages, and once a search
/// through all of the app's messages is done, the users it covered; answers how many
/// messages it looked at.
fn erase_sent_messages(
    local: &sled::Tree,
    app_key: &str,
    now_ms: u64,
    cursors: &mut AppCursors,
    budget: usize,
    commands: &mut Vec<Command>,
) -> usize {
    let Ok(pending) = state::erasing_sent(local, app_key) else {
        return 0;
    };
    if pending.is_empty() {
        return 0;
    }
    if cursors.erasure.is_empty() {
        cursors.erasure_pass_started_ms = now_ms;
    }
    let Ok(found) = state::sent_by_erased(local, app_key, &pending, &cursors.erasure, budget)
    else {
        return 0;
    };
    cursors.erasure = found.next;
    if !found.ranges.is_empty() {
        commands.push(Command::ExpireHistory(state::ExpireHistory {
            app_key: app_key.to_string(),
            ranges: found.ranges,
        }));
    }
    if cursors.erasure.is_empty() {
        let done: Vec<String> = pending
            .into_iter()
            .filter(|(_, asked_ms)| *asked_ms < cursors.erasure_pass_started_ms)
            .map(|(user_id, _)| user_id)
            .collect();
        if !done.is_empty() {
            commands.push(Command::SentMessagesErased(state::SentMessagesErased {
                app_key: app_key.to_string(),
                user_ids: done,
            }));
        }
    }
    found.looked_at
}

/// On the leader, trims the area's feed of events older than `storage.feed_max_age_ms`:
/// the count bound alone would keep a quiet area's last events (and the users they name)
/// for ever. It proposes only when something is due.
pub(super) async fn old_feed_events(core: Arc<NodeCore>, stop: impl Future<Output = ()>) {
    let max_age_ms = core.config.storage.feed_max_age_ms;
    let period = Duration::from_millis((max_age_ms / 10).clamp(100, 60_000));
    let heads = Mutex::new(FeedHeads::default());
    every_until_caught_up(core, period, stop, move |local, _| {
        let Ok(head) = state::feed::head(local) else {
            return (Vec::new(), false);
        };
        let now_ms = meridian_clock::now_ms();
        let mut heads = heads.lock().unwrap_or_else(|e| e.into_inner());
        let through = heads.older_than(now_ms, head, max_age_ms);
        match state::feed::oldest_kept(local, head) {
            Ok(oldest) if oldest <= through => (
                vec![Command::TrimFeed(state::TrimFeed { through })],
                through - oldest >= state::feed::TRIM_FEED_BATCH,
            ),
            _ => (Vec::new(), false),
        }
    })
    .await
}

/// The feed's head as the leader saw it over time: once a note is older than the age
/// bound, so is every event up to the head it noted. Positions only grow, so notes a node
/// took in an earlier term stay true.
#[derive(Default)]
struct FeedHeads {
    /// (when, head), oldest first; one per sweep at most, and only when the head moved.
    notes: VecDeque<(u64, u64)>,
    /// The newest head noted at least the age bound ago.
    old: u64,
}

impl FeedHeads {
    /// Notes `head` at `now_ms` and answers the newest head seen at least `max_age_ms`
    /// before it (0: none yet).
    fn older_than(&mut self, now_ms: u64, head: u64, max_age_ms: u64) -> u64 {
        let last_noted = self.notes.back().map_or(self.old, |&(_, noted)| noted);
        if last_noted < head {
            self.notes.push_back((now_ms, head));
        }
        while let Some(&(at, noted)) = self.notes.front() {
            if at.saturating_add(max_age_ms) > now_ms {
                break;
            }
            self.old = noted;
            self.notes.pop_front();
        }
        self.old
    }
}

fn app_keys(apps: &[App]) -> impl Iterator<Item = String> + '_ {
    apps.iter()
        .flat_map(|app| [&app.dev, &app.prod])
        .map(|creds| creds.app_key.clone())
}

/// Every `period`, while this node leads, proposes what `commands` makes of the local
/// state and its apps (nothing when it makes none).
async fn every(
    core: Arc<NodeCore>,
    period: Duration,
    stop: impl Future<Output = ()>,
    commands: impl Fn(&sled::Tree, &[App]) -> Vec<Command>,
) {
    every_until_caught_up(core, period, stop, |local, apps| {
        (commands(local, apps), false)
    })
    .await
}

/// As [`every`], but a round that says more is due (a backlog) is followed by the next
/// as soon as its proposal is applied, so a backlog is worked off at the pace Raft
/// applies it; caught up, it goes back to one round per `period`.
async fn every_until_caught_up(
    core: Arc<NodeCore>,
    period: Duration,
    stop: impl Future<Output = ()>,
    round: impl Fn(&sled::Tree, &[App]) -> (Vec<Command>, bool),
) {
    let mut ticks = tokio::time::interval(period);
    let mut behind = false;
    tokio::pin!(stop);
    loop {
        if !behind {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = &mut stop => return,
            }
        }
        behind = false;
        if !core.raft.is_leader() {
            continue;
        }
        let local = &core.state_machine.state();
        let apps = match state::query(local, &state::Query::ListApps) {
            Ok(state::QueryOutput::Apps(apps)) => apps,
            _ => continue,
        };
        let (commands, more) = round(local, &apps);
        let envelopes: Vec<state::Envelope> = commands
            .into_iter()
            .map(|command| state::Envelope {
                area: core.config.area,
                command,
            })
            .collect();
        if envelopes.is_empty() {
            continue;
        }
        match core.writer.write(envelopes).await {
            Ok(_) => behind = more,
            Err(e) => {
                tracing::debug!(error = ?e, period = ?period, "a timed proposal was not committed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FeedHeads;

    #[test]
    fn a_head_counts_as_old_once_it_was_noted_the_age_bound_ago() {
        let mut heads = FeedHeads::default();
        assert_eq!(heads.older_than(1_000, 10, 500), 0, "nothing noted before");
        assert_eq!(heads.older_than(1_400, 25, 500), 0);
        assert_eq!(
            heads.older_than(1_500, 25, 500),
            10,
            "head 10 is 500 ms old"
        );
        // A quiet feed: its last head ages out too, and stays the answer.
        assert_eq!(heads.older_than(1_899, 25, 500), 10);
        assert_eq!(heads.older_than(1_900, 25, 500), 25);
        assert_eq!(heads.older_than(9_000, 25, 500), 25);
        assert!(heads.notes.is_empty(), "an unmoved head is noted once");
    }
}
