//! `needNotify` on the calls that mute, block or whitelist chatroom members: the notices
//! the commercial client SDKs turn into chatroom events (`RC:ChrmBanMsg`,
//! `RC:ChrmBlockMsg`, content `{chatroomId, operateType, durationTime, operateTime,
//! userList, extra}`). They go as status messages (to online devices, never stored, as
//! the commercial service's are) in the same Raft entry as the change: in the room, or,
//! to users who need not be in it, in a system conversation from `__chatroom__` (which
//! the commercial protocol's sessions show as a message of the room, as the SDKs expect).

use meridian_cluster::state::messages::MAX_CONTENT_BYTES;
use meridian_cluster::state::{Command, MessageFlags, RoomSet};
use meridian_proto::{Conversation, ConversationType};
use serde_json::json;

use super::messages::{new_message, Publish};
use super::send_options::publish_command;
use super::Call;
use meridian_access::error::ApiError;

/// The sender of the notices: the SDKs read only their type and content.
const NOTICE_SENDER: &str = "__chatroom__";
pub(crate) const BAN: &str = "RC:ChrmBanMsg";
pub(crate) const BLOCK: &str = "RC:ChrmBlockMsg";

/// Who hears a notice (the commercial documentation's "notification scope").
#[derive(Debug, Clone, Copy, PartialEq)]
enum Audience {
    /// The room's members (a blocked member too: the notice goes before the kick).
    Room,
    /// The named users alone, wherever they are.
    Users,
}

/// A change that may announce itself.
pub(super) struct Change<'a> {
    pub object_name: &'static str,
    /// The SDK's `ChrmMemBanType` or `ChrmMemOperateType`.
    pub operate_type: u8,
    pub room_ids: &'a [String],
    pub users: &'a [String],
    /// How long a timed change lasts.
    pub duration_ms: Option<u64>,
}

impl<'a> Change<'a> {
    /// A change of a member set; `None` for sets the commercial service never announces.
    pub(super) fn of_set(
        set: RoomSet,
        added: bool,
        room_ids: &'a [String],
        users: &'a [String],
    ) -> Option<Self> {
        let (object_name, operate_type) = match (set, added) {
            (RoomSet::Gagged, true) => (BAN, 1),
            (RoomSet::Gagged, false) => (BAN, 0),
            (RoomSet::MuteWhitelist, true) => (BAN, 5),
            (RoomSet::MuteWhitelist, false) => (BAN, 4),
            (RoomSet::AppMuted, true) => (BAN, 7),
            (RoomSet::AppMuted, false) => (BAN, 6),
            (RoomSet::Blocked, true) => (BLOCK, 1),
            (RoomSet::Blocked, false) => (BLOCK, 0),
            _ => return None,
        };
        Some(Self {
            object_name,
            operate_type,
            room_ids,
            users,
            duration_ms: None,
        })
    }

    /// The whole room muted (`ChrmMemBanType` 3) or unmuted (2).
    pub(super) fn room_muted(muted: bool, room_ids: &'a [String]) -> Self {
        Self {
            object_name: BAN,
            operate_type: if muted { 3 } else { 2 },
            room_ids,
            users: &[],
            duration_ms: None,
        }
    }

    /// An app-wide mute, and an unblock, are told to the users named; the rest to the
    /// room's members.
    fn audience(&self) -> Audience {
        match (self.object_name, self.operate_type) {
            (BAN, 6 | 7) | (BLOCK, 0) => Audience::Users,
            _ => Audience::Room,
        }
    }
}

/// `change` as the call asks: alone, or with its notice when `needNotify` is true (with
/// the call's `extra`).
pub(super) fn announced(
    call: &Call,
    command: Command,
    change: Change,
) -> Result<Command, ApiError> {
    let form = call.form()?;
    if !form.bool_flag("needNotify", false)? {
        return Ok(command);
    }
    let extra = form.get("extra").unwrap_or_default();
    let content = |room_id: &str| {
        let mut content = json!({
            "chatroomId": room_id,
            "operateType": change.operate_type,
            "operateTime": call.now_ms,
            "userList": change.users,
            "extra": extra,
        });
        if let Some(duration) = change.duration_ms {
            content["durationTime"] = json!(duration);
        }
        let content = content.to_string();
        match content.len() > MAX_CONTENT_BYTES {
            true => Err(ApiError::TooLong("extra".into())),
            false => Ok(content),
        }
    };
    let notice = |content: String| Publish {
        from: NOTICE_SENDER.into(),
        object_name: change.object_name.into(),
        content,
        flags: MessageFlags::status(),
        channel: String::new(),
        push_content: None,
        push_data: None,
        verify_blacklist: false,
    };
    let mut messages = Vec::new();
    match change.audience() {
        Audience::Room => {
            for room_id in change.room_ids {
                let room = Conversation::group_like(ConversationType::Chatroom, room_id, "");
                messages.push(new_message(&notice(content(room_id)?), room, None));
            }
        }
        Audience::Users => {
            // An app-wide mute has no room.
            let room_id = change.room_ids.first().map_or("", String::as_str);
            let notice = notice(content(room_id)?);
            for user in change.users {
                let conversation = Conversation::system(NOTICE_SENDER, user);
                messages.push(new_message(&notice, conversation, Some(user)));
            }
        }
    }
    let publish = publish_command(call.app_key(), messages, &call.body)?;
    Ok(Command::All(vec![publish, command]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_set_change_has_the_sdk_type_and_audience_of_the_commercial_docs() {
        let (rooms, users) = (["r1".to_string()], ["bob".to_string()]);
        let told = |set, added| {
            Change::of_set(set, added, &rooms, &users)
                .map(|c| (c.object_name, c.operate_type, c.audience()))
        };
        let table = [
            (RoomSet::Gagged, true, BAN, 1, Audience::Room),
            (RoomSet::Gagged, false, BAN, 0, Audience::Room),
            (RoomSet::MuteWhitelist, true, BAN, 5, Audience::Room),
            (RoomSet::MuteWhitelist, false, BAN, 4, Audience::Room),
            (RoomSet::AppMuted, true, BAN, 7, Audience::Users),
            (RoomSet::AppMuted, false, BAN, 6, Audience::Users),
            (RoomSet::Blocked, true, BLOCK, 1, Audience::Room),
            (RoomSet::Blocked, false, BLOCK, 0, Audience::Users),
        ];
        for (set, added, object_name, operate_type, audience) in table {
            let expected = Some((object_name, operate_type, audience));
            assert_eq!(told(set, added), expected, "{set:?} added: {added}");
        }
        assert_eq!(told(RoomSet::UserWhitelist, true), None);
        let muted = Change::room_muted(true, &rooms);
        assert_eq!((muted.operate_type, muted.audience()), (3, Audience::Room));
        assert_eq!(Change::room_muted(false, &rooms).operate_type, 2);
    }
}
