//! Who speaks in each room (active speaker), told to its members over their transports'
//! data channels. The level each publisher's client measures and sends with its audio
//! packets (RFC 6464, dBov) is averaged per stream over an interval as an amplitude
//! (0 silence to 1 loudest, the scale of a browser's `audioLevel`), so a stream that
//! speaks in short bursts still counts. At the end of each interval a room's speakers are
//! its streams above the threshold, loudest first; members hear of it only when that
//! list (who, in what order) changes, so a steady talker costs no messages.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{Member, Sfu};

/// How often the speakers of a room are worked out: about as quick as people notice.
pub(super) const INTERVAL: Duration = Duration::from_millis(300);
/// A stream quieter on average than this (−40 dBov) is silent: room noise, breathing.
const THRESHOLD: f32 = 0.01;

/// A room: its app and its id.
pub(super) type RoomKey = (String, String);

/// A stream heard speaking in an interval, as members are told of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Speaker {
    pub user_id: String,
    pub stream_id: String,
    /// The mean amplitude over the interval, 0 to 1.
    pub level: f32,
}

/// What a data channel carries: the room's speakers, loudest (the active speaker) first;
/// empty when nobody speaks.
#[derive(Debug, Serialize)]
struct SpeakersMessage<'a> {
    speakers: &'a [Speaker],
}

#[derive(Default)]
struct Heard {
    amplitude_sum: f32,
    packets: u32,
}

#[derive(Default)]
pub(super) struct Speakers {
    /// Publisher transport → what it sent this interval.
    heard: HashMap<u64, Heard>,
    /// Room → the speakers its members were last told of (never empty).
    announced: HashMap<RoomKey, Vec<Speaker>>,
    /// When the running interval started; `None` while no room has anything to tell.
    started: Option<Instant>,
}

impl Speakers {
    /// A packet of `publisher`'s at `dbov` (RFC 6464: 0 loudest, −127 silence).
    pub(super) fn hear(&mut self, publisher: u64, dbov: i8, now: Instant) {
        let heard = self.heard.entry(publisher).or_default();
        heard.amplitude_sum += 10f32.powf(f32::from(dbov.clamp(-127, 0)) / 20.0);
        heard.packets += 1;
        self.started.get_or_insert(now);
    }

    /// When the running interval ends, if one runs.
    pub(super) fn due(&self) -> Option<Instant> {
        self.started.map(|at| at + INTERVAL)
    }

    /// Ends the interval: the rooms whose speakers changed, with their speakers now.
    /// `stream_of` names a publisher transport's member and stream (`None` once gone).
    pub(super) fn changes<'a>(
        &mut self,
        now: Instant,
        stream_of: impl Fn(u64) -> Option<(&'a Member, &'a str)>,
    ) -> Vec<(RoomKey, Vec<Speaker>)> {
        let mut rooms: HashMap<RoomKey, Vec<Speaker>> = HashMap::new();
        for (publisher, heard) in self.heard.drain() {
            let level = heard.amplitude_sum / heard.packets.max(1) as f32;
            let Some((member, stream_id)) = stream_of(publisher) else {
                continue;
            };
            if level < THRESHOLD {
                continue;
            }
            rooms.entry(room_of(member)).or_default().push(Speaker {
                user_id: member.user_id.clone(),
                stream_id: stream_id.to_owned(),
                level,
            });
        }
        let mut changed = Vec::new();
        // Rooms that fell silent.
        self.announced.retain(|room, _| {
            let silent = !rooms.contains_key(room);
            if silent {
                changed.push((room.clone(), Vec::new()));
            }
            !silent
        });
        for (room, mut speakers) in rooms {
            speakers.sort_by(|a, b| b.level.total_cmp(&a.level));
            let same = self.announced.get(&room).is_some_and(|before| {
                before.len() == speakers.len()
                    && before
                        .iter()
                        .zip(&speakers)
                        .all(|(a, b)| (&a.user_id, &a.stream_id) == (&b.user_id, &b.stream_id))
            });
            if !same {
                changed.push((room.clone(), speakers.clone()));
            }
            self.announced.insert(room, speakers);
        }
        // Another interval runs while any room has speakers to be heard falling silent.
        self.started = (!self.announced.is_empty()).then_some(now);
        changed
    }

    /// The speakers a room's members were last told of (for a member who just opened its
    /// channel).
    pub(super) fn of(&self, room: &RoomKey) -> &[Speaker] {
        self.announced.get(room).map_or(&[], Vec::as_slice)
    }
}

/// The forwarding task's part: ending intervals and writing to data channels.
impl Sfu {
    /// Ends a speakers interval: the members of each room whose speakers changed are told,
    /// over the data channels of their transports.
    pub(super) fn announce_speakers(&mut self, now: Instant) {
        let transports = &self.transports;
        let changes = self.speakers.changes(now, |id| {
            transports
                .get(&id)
                .map(|t| (&t.member, t.stream_id.as_str()))
        });
        for (room, speakers) in changes {
            self.metrics.speaker_changes.inc();
            let ids: Vec<u64> = self
                .transports
                .iter()
                .filter(|(_, t)| {
                    t.channel.is_some()
                        && (&t.member.app_key, &t.member.room_id) == (&room.0, &room.1)
                })
                .map(|(&id, _)| id)
                .collect();
            let message = speakers_message(&speakers);
            for id in ids {
                self.send_on_channel(id, &message);
            }
        }
    }

    /// A member who just opened its channel learns who speaks now, if anybody does.
    pub(super) fn tell_speakers_to_newcomer(&mut self, id: u64) {
        let Some(t) = self.transports.get(&id) else {
            return;
        };
        let speakers = self.speakers.of(&room_of(&t.member));
        if !speakers.is_empty() {
            let message = speakers_message(speakers);
            self.send_on_channel(id, &message);
        }
    }

    fn send_on_channel(&mut self, id: u64, message: &str) {
        let Some(t) = self.transports.get_mut(&id) else {
            return;
        };
        let Some(mut channel) = t.channel.and_then(|c| t.rtc.channel(c)) else {
            return;
        };
        // A full channel (a client that stopped reading) loses the message; the next
        // change tells the whole list again.
        if let Err(e) = channel.write(false, message.as_bytes()) {
            tracing::debug!(error = %e, "data channel write failed");
        }
        self.dirty.insert(id);
    }
}

fn room_of(member: &Member) -> RoomKey {
    (member.app_key.clone(), member.room_id.clone())
}

fn speakers_message(speakers: &[Speaker]) -> String {
    serde_json::to_string(&SpeakersMessage { speakers }).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(user: &str) -> Member {
        Member {
            app_key: "app".into(),
            room_id: "room".into(),
            user_id: user.into(),
        }
    }

    fn names(speakers: &[Speaker]) -> Vec<&str> {
        speakers.iter().map(|s| s.user_id.as_str()).collect()
    }

    #[test]
    fn members_hear_when_the_loudest_changes_and_when_the_room_falls_silent() {
        let (alice, bob) = (member("alice"), member("bob"));
        let stream_of = |id: u64| match id {
            1 => Some((&alice, "mic")),
            2 => Some((&bob, "mic")),
            _ => None,
        };
        let mut speakers = Speakers::default();
        let start = tokio::time::Instant::now().into_std();
        assert_eq!(speakers.due(), None);

        // Alice talks (−20 dBov); bob is at −60, room noise.
        for _ in 0..15 {
            speakers.hear(1, -20, start);
            speakers.hear(2, -60, start);
        }
        assert_eq!(speakers.due(), Some(start + INTERVAL));
        let at = start + INTERVAL;
        let changes = speakers.changes(at, stream_of);
        assert_eq!(changes.len(), 1);
        assert_eq!(names(&changes[0].1), ["alice"]);
        assert!((changes[0].1[0].level - 0.1).abs() < 1e-3);

        // The same again: nothing to tell.
        for _ in 0..15 {
            speakers.hear(1, -21, at);
        }
        assert!(speakers.changes(at + INTERVAL, stream_of).is_empty());

        // A burst: one loud packet (−6 dBov) among silence averages above the threshold,
        // and bob, louder than alice now, leads.
        speakers.hear(2, -6, at);
        for _ in 0..14 {
            speakers.hear(2, -127, at);
            speakers.hear(1, -30, at);
        }
        let changes = speakers.changes(at + 2 * INTERVAL, stream_of);
        assert_eq!(names(&changes[0].1), ["bob", "alice"]);
        assert_eq!(speakers.of(&changes[0].0).len(), 2);

        // Nobody sends: the room is told it fell silent, once, and the intervals stop.
        let changes = speakers.changes(at + 3 * INTERVAL, stream_of);
        assert_eq!(changes, [(("app".into(), "room".into()), vec![])]);
        assert_eq!(speakers.due(), None);
        assert!(speakers.changes(at + 4 * INTERVAL, stream_of).is_empty());
    }

    #[test]
    fn a_stream_whose_transport_is_gone_is_nobody() {
        let mut speakers = Speakers::default();
        let now = tokio::time::Instant::now().into_std();
        speakers.hear(9, 0, now);
        assert!(speakers.changes(now + INTERVAL, |_| None).is_empty());
        assert_eq!(speakers.due(), None);
    }
}
