//! Ultra groups as the 5.x SDK syncs them once nav says `ugMsg` 1. Ultra groups have no
//! offline sync in Meridian (ULG-03), and the SDK expects none: at each connect it asks
//! for its groups' channels (`pullUgSes`: unread counts, last messages) and for the
//! position to pull from (`pullUgMsg` from 0, whose messages it ignores). A live message
//! is then kept for the session's next `pullUgMsg` and announced by `s_cmd` type 6.
//!
//! Positions are milliseconds, strictly increasing: the SDK starts pulling from the larger
//! of the 0-pull's position and the newest channel's `versionTime` (its last message's
//! time), so the two must be one clock.

use std::collections::VecDeque;

use meridian_proto::UltraGroupBody;
use meridian_rmtp::body::{self, DownStreamMessage, DownStreamMessages, RelationsOutput};
use prost::Message;

use super::frames::down_stream;

/// The most messages kept for a session's next pull; older ones are in the history the
/// SDK reads on demand.
const KEPT: usize = 1_000;
/// The most message bytes one pull answers (as `pullMsg`'s).
const PULL_BYTES: usize = 128 * 1024;

pub(super) struct UltraGroups {
    /// The position of the newest message kept (ms).
    clock: i64,
    kept: VecDeque<DownStreamMessage>,
}

impl UltraGroups {
    pub(super) fn new(now_ms: u64) -> Self {
        Self {
            clock: i64::try_from(now_ms).unwrap_or(i64::MAX),
            kept: VecDeque::new(),
        }
    }

    /// Keeps a live message for the next pull; the notice to send (its position).
    pub(super) fn keep(&mut self, message: DownStreamMessage) -> body::NotifyMsg {
        self.clock = (self.clock + 1).max(message.data_time);
        self.kept.push_back(message);
        if self.kept.len() > KEPT {
            self.kept.pop_front();
        }
        body::NotifyMsg {
            r#type: body::COMMAND_ULTRA_GROUP_MESSAGES,
            time: Some(self.clock),
            chrm_id: None,
        }
    }

    /// The answer to `pullUgMsg` from `sync_time`: from 0 (the connect's), only the
    /// position; else the kept messages, as many as fit, oldest first. A position never
    /// goes back (the SDK refuses that), so an answer that leaves messages kept repeats
    /// the one asked from, with `finished` false: the SDK pulls again at once.
    pub(super) fn pull(&mut self, sync_time: i64) -> DownStreamMessages {
        let mut list = Vec::new();
        if sync_time > 0 {
            let mut bytes = 0;
            while let Some(message) = self.kept.front() {
                bytes += message.encoded_len();
                if bytes > PULL_BYTES && !list.is_empty() {
                    break;
                }
                list.extend(self.kept.pop_front());
            }
        }
        let finished = sync_time == 0 || self.kept.is_empty();
        DownStreamMessages {
            list,
            sync_time: match finished {
                true => self.clock.max(sync_time),
                false => sync_time,
            },
            finished: Some(finished),
        }
    }
}

/// The answer to `pullUgSes` from `sync_time`: every channel of the user's groups whose
/// last message is newer (all of them from 0), oldest first, in one page.
pub(super) fn channels(groups: &[UltraGroupBody], viewer: &str, sync_time: i64) -> Vec<u8> {
    let mut info: Vec<body::RelationInfo> = groups
        .iter()
        .flat_map(|group| {
            group.channels.iter().map(|channel| {
                let last = channel.last_message.as_ref();
                body::RelationInfo {
                    r#type: i32::from(meridian_proto::ConversationType::UltraGroup.code()),
                    user_id: group.group_id.clone(),
                    msg: last.map(|m| down_stream(m, viewer)),
                    unread_count: i64::try_from(channel.unread).ok(),
                    bus_channel: Some(channel.channel_id.clone()),
                    version_time: Some(
                        last.map_or(0, |m| i64::try_from(m.sent_time).unwrap_or(i64::MAX)),
                    ),
                }
            })
        })
        .filter(|channel| sync_time == 0 || channel.version_time > Some(sync_time))
        .collect();
    info.sort_by_key(|channel| channel.version_time);
    RelationsOutput {
        info,
        is_finished: Some(true),
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::super::tests::stored_text;
    use super::*;

    fn message(id: &str, time: i64, bytes: usize) -> DownStreamMessage {
        DownStreamMessage {
            msg_id: Some(id.into()),
            data_time: time,
            content: "x".repeat(bytes),
            ..Default::default()
        }
    }

    fn ids(pulled: &DownStreamMessages) -> Vec<&str> {
        pulled
            .list
            .iter()
            .filter_map(|m| m.msg_id.as_deref())
            .collect()
    }

    #[test]
    fn positions_only_grow_and_a_connect_pull_gives_the_position_alone() {
        let mut groups = UltraGroups::new(1_000);
        // Two messages of one millisecond, and one older than the session: each notice is
        // later than the one before.
        let times: Vec<i64> = [(2_000, "a"), (2_000, "b"), (500, "c")]
            .into_iter()
            .map(|(time, id)| groups.keep(message(id, time, 10)).time.unwrap())
            .collect();
        assert_eq!(times, [2_000, 2_001, 2_002]);
        let connect = groups.pull(0);
        assert_eq!((connect.list.len(), connect.sync_time), (0, 2_002));
        assert_eq!(connect.finished, Some(true));
        let pulled = groups.pull(2_002);
        assert_eq!(ids(&pulled), ["a", "b", "c"]);
        assert_eq!((pulled.sync_time, pulled.finished), (2_002, Some(true)));
        let again = groups.pull(2_002);
        assert!(again.list.is_empty(), "each message is handed out once");
    }

    #[test]
    fn a_full_pull_repeats_its_position_and_asks_for_another() {
        let mut groups = UltraGroups::new(0);
        for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
            groups.keep(message(id, 10 + i as i64, PULL_BYTES / 2));
        }
        let first = groups.pull(5);
        assert_eq!(ids(&first), ["a"]);
        assert_eq!((first.sync_time, first.finished), (5, Some(false)));
        let second = groups.pull(5);
        assert_eq!(ids(&second), ["b"]);
        let last = groups.pull(5);
        assert_eq!(ids(&last), ["c"]);
        assert_eq!((last.sync_time, last.finished), (12, Some(true)));
    }

    #[test]
    fn channels_newer_than_the_sync_time_come_oldest_first_with_their_counts() {
        let channel = |id: &str, unread, time: Option<u64>| meridian_proto::ChannelBody {
            channel_id: id.into(),
            unread,
            last_message: time.map(|sent_time| stored_text(10, "guild", id, sent_time)),
        };
        let groups = [UltraGroupBody {
            group_id: "guild".into(),
            channels: vec![
                channel("news", 2, Some(300)),
                channel("", 0, None),
                channel("chat", 1, Some(100)),
            ],
        }];
        let listed = |since| {
            let out = RelationsOutput::decode(channels(&groups, "bob", since).as_slice()).unwrap();
            assert_eq!(out.is_finished, Some(true));
            out.info
                .iter()
                .map(|c| {
                    (
                        c.bus_channel.clone().unwrap(),
                        c.unread_count,
                        c.version_time,
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            listed(0),
            [
                (String::new(), Some(0), Some(0)),
                ("chat".into(), Some(1), Some(100)),
                ("news".into(), Some(2), Some(300)),
            ]
        );
        assert_eq!(listed(100), [("news".into(), Some(2), Some(300))]);
    }
}
