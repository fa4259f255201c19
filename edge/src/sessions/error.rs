//! Why a session refuses a connection, a frame or a request, and the one table from each
//! reason to its wire code (`edge/PROTOCOL.md` lists the codes).

use meridian_cluster::state::messages::MAX_CONTENT_BYTES;
use meridian_cluster::state::{CommandError, ConversationType};
use meridian_cluster::ClusterError;
use meridian_proto::{codes, ServerFrame};

#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionError {
    /// The frame or connection is malformed or names something it may not.
    #[error("{0}")]
    Invalid(String),
    #[error("token incorrect: {0}")]
    TokenIncorrect(String),
    #[error("the user is banned until {until_ms}")]
    Banned { until_ms: u64 },
    #[error("content is over {MAX_CONTENT_BYTES} bytes")]
    ContentTooLarge,
    #[error("at most {0} messages per second")]
    SendsPerSecond(u32),
    #[error("too many requests in flight")]
    RequestsInFlight,
    #[error("the app's moderation refused this message")]
    Moderated,
    #[error("the message contains a word the app does not allow")]
    SensitiveWord,
    #[error("the recipient does not accept messages from this user")]
    Blacklisted,
    /// The area cannot answer now; the client retries or reconnects.
    #[error("{0}")]
    Unavailable(String),
    /// The cluster answered something this request does not expect: a bug, not the
    /// client's fault.
    #[error("{0}")]
    Internal(&'static str),
    /// The cluster refused or failed a request about a conversation of type `kind` (which
    /// picks the chatroom codes over the group ones).
    #[error("{error}")]
    Cluster {
        error: ClusterError,
        kind: Option<ConversationType>,
    },
    /// The cluster refused or failed a request about an audio/video room.
    #[error("{0}")]
    Rtc(ClusterError),
}

impl SessionError {
    pub(super) fn invalid(why: impl Into<String>) -> Self {
        SessionError::Invalid(why.into())
    }

    pub(super) fn unexpected_answer() -> Self {
        SessionError::Internal("unexpected answer")
    }

    pub(super) fn code(&self) -> u32 {
        use ConversationType::{Chatroom, Private};
        match self {
            SessionError::Invalid(_) => codes::BAD_REQUEST,
            SessionError::TokenIncorrect(_) => codes::TOKEN_INCORRECT,
            SessionError::Banned { .. } => codes::USER_BLOCKED,
            SessionError::ContentTooLarge => codes::CONTENT_TOO_LARGE,
            SessionError::SendsPerSecond(_) | SessionError::RequestsInFlight => codes::RATE_LIMITED,
            SessionError::Moderated | SessionError::SensitiveWord => codes::CONTENT_REFUSED,
            SessionError::Blacklisted => codes::BLOCKED_BY_BLACKLIST,
            SessionError::Unavailable(_) => codes::UNAVAILABLE,
            SessionError::Internal(_) => codes::INTERNAL,
            SessionError::Cluster { error, kind } => match (error, kind) {
                (ClusterError::Refused(refused), kind) => match (refused, kind) {
                    (CommandError::NotMember { .. }, Some(Chatroom)) => codes::NOT_IN_CHATROOM,
                    (CommandError::NotMember { .. }, _) => codes::NOT_IN_GROUP,
                    (CommandError::Muted { .. }, Some(Chatroom)) => codes::MUTED_IN_CHATROOM,
                    (CommandError::Muted { .. }, Some(Private)) => codes::FORBIDDEN_IN_PRIVATE,
                    (CommandError::Muted { .. }, _) => codes::MUTED_IN_GROUP,
                    (CommandError::NotFound { .. }, Some(Chatroom)) => codes::CHATROOM_NOT_FOUND,
                    (CommandError::Forbidden { .. }, Some(Chatroom)) => codes::KICKED_FROM_CHATROOM,
                    (CommandError::Limit { .. }, _) => codes::CONTENT_TOO_LARGE,
                    (CommandError::Storage(_), _) => codes::INTERNAL,
                    (CommandError::Upgrading { .. }, _) => codes::UNAVAILABLE,
                    _ => codes::BAD_REQUEST,
                },
                _ => codes::UNAVAILABLE,
            },
            SessionError::Rtc(ClusterError::Refused(refused)) => match refused {
                CommandError::Conflict { .. } => codes::RTC_IN_ANOTHER_ROOM,
                CommandError::NotMember { .. } | CommandError::NotFound { .. } => {
                    codes::RTC_NOT_IN_ROOM
                }
                CommandError::Forbidden { .. } => codes::RTC_ROLE_FORBIDS,
                CommandError::Limit { .. } => codes::RTC_LIMIT,
                CommandError::Muted { .. } => codes::RTC_BLOCKED,
                CommandError::Storage(_) => codes::INTERNAL,
                CommandError::Upgrading { .. } => codes::UNAVAILABLE,
                _ => codes::BAD_REQUEST,
            },
            SessionError::Rtc(_) => codes::UNAVAILABLE,
        }
    }

    /// The error frame answering the send `client_id` or the request `req_id`.
    pub(super) fn into_frame(self, client_id: Option<String>, req_id: Option<u64>) -> ServerFrame {
        ServerFrame::Error {
            code: self.code(),
            message: self.to_string(),
            client_id,
            req_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(error: CommandError, kind: Option<ConversationType>) -> u32 {
        SessionError::Cluster {
            error: ClusterError::Refused(error),
            kind,
        }
        .code()
    }

    #[test]
    fn a_refusal_about_a_chatroom_gets_the_chatroom_code_and_otherwise_the_group_one() {
        let not_member = || CommandError::NotMember {
            what: "room".into(),
        };
        assert_eq!(
            refused(not_member(), Some(ConversationType::Chatroom)),
            codes::NOT_IN_CHATROOM
        );
        assert_eq!(
            refused(not_member(), Some(ConversationType::Group)),
            codes::NOT_IN_GROUP
        );
        assert_eq!(refused(not_member(), None), codes::NOT_IN_GROUP);
    }

    #[test]
    fn an_audio_video_room_refusal_gets_its_rtc_code() {
        let rtc = |error| SessionError::Rtc(ClusterError::Refused(error)).code();
        let limit = CommandError::Limit {
            what: "video hosts per live room".into(),
            limit: 16,
        };
        assert_eq!(rtc(limit), codes::RTC_LIMIT);
        let elsewhere = CommandError::Conflict {
            what: "alice in rtc room r1".into(),
        };
        assert_eq!(rtc(elsewhere), codes::RTC_IN_ANOTHER_ROOM);
        let blocked = CommandError::Muted {
            what: "audio/video rooms".into(),
        };
        assert_eq!(rtc(blocked), codes::RTC_BLOCKED);
        let unavailable = SessionError::Rtc(ClusterError::Ambiguous("reset".into()));
        assert_eq!(unavailable.code(), codes::UNAVAILABLE);
    }

    #[test]
    fn a_write_of_unknown_outcome_is_unavailable_and_the_message_is_the_errors_own() {
        let error = SessionError::Cluster {
            error: ClusterError::Ambiguous("connection reset".into()),
            kind: None,
        };
        let ServerFrame::Error { code, message, .. } = error.into_frame(None, Some(7)) else {
            panic!("an error frame");
        };
        assert_eq!(code, codes::UNAVAILABLE);
        assert!(message.contains("connection reset"), "{message}");
    }
}
