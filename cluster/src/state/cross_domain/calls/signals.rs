//! The CallLib's signalling messages as the commercial SDKs send them: each is an IM
//! message whose JSON content names its call (`callId`); the invite also names the
//! callees (`inviteUserIds`), the media (`mediaType` 1 audio, 2 video) and the media
//! room (`channelInfo.Id`), a hang-up its reason from the sender's side (`reason`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::state::apply::CommandError;
use crate::state::users::validate_user_id;

pub use meridian_proto::calls::{ACCEPT, HANGUP, INVITE, MODIFY_MEDIA, MODIFY_MEMBERS, RINGING};

/// Everyone in a call at most, caller included (the CallLib's group calls).
pub const MAX_PARTIES: usize = 32;

/// Audio or video. Variants are appended, never reordered (bincode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Media {
    Audio,
    Video,
}

impl Media {
    fn from_code(code: u64) -> Option<Self> {
        match code {
            1 => Some(Media::Audio),
            2 => Some(Media::Video),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Media::Audio => "audio",
            Media::Video => "video",
        }
    }
}

/// Why a call (or one party's part in it) ended. Variants are appended, never reordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndReason {
    /// The caller hung up before anyone answered.
    Cancelled,
    /// A callee declined.
    Rejected,
    /// A callee was in another call or room (answered by the server).
    Busy,
    /// A callee did not answer in time (ended by the server).
    NoAnswer,
    /// Hung up after answering: what the other side's SDK calls a remote hang-up.
    Hangup,
    /// The sender's network failed.
    Network,
}

impl EndReason {
    /// The CallLib's hang-up reason, as the sender sees it (`1` cancel … `7` network; the
    /// `1x` remote codes say the same of the other side). Engine and media errors count
    /// as a hang-up.
    pub fn from_code(code: u64) -> Self {
        match code % 10 {
            1 => EndReason::Cancelled,
            2 => EndReason::Rejected,
            4 => EndReason::Busy,
            5 => EndReason::NoAnswer,
            7 => EndReason::Network,
            _ => EndReason::Hangup,
        }
    }

    /// The code the server's own hang-ups carry (the callee's side: busy, no response).
    pub fn code(self) -> u8 {
        match self {
            EndReason::Cancelled => 1,
            EndReason::Rejected => 2,
            EndReason::Hangup => 3,
            EndReason::Busy => 4,
            EndReason::NoAnswer => 5,
            EndReason::Network => 7,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            EndReason::Cancelled => "cancelled",
            EndReason::Rejected => "rejected",
            EndReason::Busy => "busy",
            EndReason::NoAnswer => "noAnswer",
            EndReason::Hangup => "hangup",
            EndReason::Network => "network",
        }
    }

    pub const ALL: [EndReason; 6] = [
        EndReason::Cancelled,
        EndReason::Rejected,
        EndReason::Busy,
        EndReason::NoAnswer,
        EndReason::Hangup,
        EndReason::Network,
    ];
}

/// One signalling message, read from its object name and content.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    Invite {
        callees: Vec<String>,
        media: Media,
        room_id: Option<String>,
    },
    Ringing,
    Accept,
    Hangup(EndReason),
    AddCallees(Vec<String>),
    SwitchMedia(Media),
}

impl Signal {
    /// The call a message signals and what it says; `None` for other messages. Content
    /// that cannot be a call's is refused, so a broken client changes nothing.
    pub fn read(
        object_name: &str,
        content: &str,
    ) -> Result<Option<(String, Signal)>, CommandError> {
        if !matches!(
            object_name,
            INVITE | RINGING | ACCEPT | HANGUP | MODIFY_MEMBERS | MODIFY_MEDIA
        ) {
            return Ok(None);
        }
        let body: Value = serde_json::from_str(content)
            .map_err(|_| bad(format!("{object_name} content must be a JSON object")))?;
        let call_id = body["callId"]
            .as_str()
            .filter(|id| valid_id(id))
            .ok_or_else(|| bad("callId must be 1 to 64 of A-Z a-z 0-9 _ = + -"))?
            .to_string();
        let signal = match object_name {
            INVITE => Signal::Invite {
                callees: users(&body["inviteUserIds"])?,
                media: media(&body["mediaType"])?.unwrap_or(Media::Audio),
                room_id: body["channelInfo"]["Id"]
                    .as_str()
                    .filter(|id| !id.is_empty())
                    .map(|id| {
                        valid_id(id)
                            .then(|| id.to_string())
                            .ok_or_else(|| bad("channelInfo.Id must be a valid room id"))
                    })
                    .transpose()?,
            },
            RINGING => Signal::Ringing,
            ACCEPT => Signal::Accept,
            HANGUP => Signal::Hangup(EndReason::from_code(body["reason"].as_u64().unwrap_or(3))),
            MODIFY_MEMBERS => {
                let callees = users(&body["inviteUserIds"])?;
                if callees.is_empty() {
                    return Err(bad("inviteUserIds must name someone to invite"));
                }
                Signal::AddCallees(callees)
            }
            _ => Signal::SwitchMedia(
                media(&body["mediaType"])?.ok_or_else(|| bad("mediaType must be 1 or 2"))?,
            ),
        };
        Ok(Some((call_id, signal)))
    }
}

fn bad(reason: impl Into<String>) -> CommandError {
    CommandError::invalid("content", reason)
}

/// Call and room ids go into keys: the characters of group ids.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'=' | b'+' | b'-'))
}

fn media(value: &Value) -> Result<Option<Media>, CommandError> {
    if value.is_null() {
        return Ok(None);
    }
    value
        .as_u64()
        .and_then(Media::from_code)
        .map(Some)
        .ok_or_else(|| bad("mediaType must be 1 (audio) or 2 (video)"))
}

/// `inviteUserIds`: user ids, each once, in the order given.
fn users(value: &Value) -> Result<Vec<String>, CommandError> {
    if value.is_null() {
        return Ok(Vec::new());
    }
    let list = value
        .as_array()
        .ok_or_else(|| bad("inviteUserIds must be a list of user ids"))?;
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for item in list {
        let user = item
            .as_str()
            .ok_or_else(|| bad("inviteUserIds must be a list of user ids"))?;
        validate_user_id(user)?;
        if !out.iter().any(|u| u == user) {
            out.push(user.to_string());
        }
    }
    if out.len() >= MAX_PARTIES {
        return Err(CommandError::Limit {
            what: "callees of a call".into(),
            limit: MAX_PARTIES as u64 - 1,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hang_up_reason_reads_the_same_from_either_side() {
        assert_eq!(EndReason::from_code(1), EndReason::Cancelled);
        assert_eq!(EndReason::from_code(14), EndReason::Busy);
        assert_eq!(EndReason::from_code(15), EndReason::NoAnswer);
        assert_eq!(EndReason::from_code(6), EndReason::Hangup);
        for reason in EndReason::ALL {
            assert_eq!(EndReason::from_code(reason.code().into()), reason);
        }
    }

    #[test]
    fn only_call_signals_are_read_and_their_content_is_checked() {
        assert_eq!(Signal::read("RC:TxtMsg", "not json"), Ok(None));
        let invite =
            r#"{"callId":"c1","mediaType":2,"inviteUserIds":["b","b"],"channelInfo":{"Id":"r1"}}"#;
        let (call_id, signal) = Signal::read(INVITE, invite).unwrap().unwrap();
        assert_eq!(call_id, "c1");
        assert_eq!(
            signal,
            Signal::Invite {
                callees: vec!["b".into()],
                media: Media::Video,
                room_id: Some("r1".into())
            }
        );
        for (object_name, content) in [
            (HANGUP, r#"{"reason":3}"#),
            (HANGUP, r#"{"callId":"a/b"}"#),
            (MODIFY_MEDIA, r#"{"callId":"c1"}"#),
            (MODIFY_MEMBERS, r#"{"callId":"c1","inviteUserIds":[]}"#),
            (INVITE, r#"{"callId":"c1","inviteUserIds":"b"}"#),
        ] {
            assert!(Signal::read(object_name, content).is_err(), "{content}");
        }
    }
}
