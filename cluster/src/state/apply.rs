//! What applying a command needs and answers, shared by every domain: the context every
//! replica applies with, the refusals, and the [`Apply`] trait each command implements.

use meridian_regions::AreaCode;
use serde::{Deserialize, Serialize};

use super::store::Overlay;

/// One command's effect on the state, staged in the batch's overlay. On error the caller
/// rolls back whatever it staged.
pub trait Apply {
    /// What the command answers; [`super::Command`] wraps it into an [`super::Output`].
    type Answer;

    fn apply(
        &self,
        ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<Self::Answer, CommandError>;
}

/// Why a command or query was refused. Each variant maps to one wire code at the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum CommandError {
    #[error("this cluster serves area {cluster}; the request was for area {requested}")]
    WrongArea {
        cluster: AreaCode,
        requested: AreaCode,
    },
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{what} already exists")]
    Conflict { what: String },
    #[error("limit reached: {what} (at most {limit})")]
    Limit { what: String, limit: u64 },
    #[error("forbidden: {reason}")]
    Forbidden { reason: String },
    #[error("not a member of {what}")]
    NotMember { what: String },
    #[error("muted in {what}")]
    Muted { what: String },
    #[error("a dev environment holds at most {limit} users")]
    DevUserLimit { limit: u64 },
    #[error("a group holds at most {limit} members")]
    MemberCap { limit: u64 },
    #[error("storage: {0}")]
    Storage(String),
    /// A rolling upgrade is under way and some voter's build does not know this command
    /// yet (LIFE-05): try again once every node runs the new build.
    #[error(
        "the area is being upgraded: this needs command level {needed}, some node is at {area}"
    )]
    Upgrading { needed: u32, area: u32 },
}

impl CommandError {
    pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> Self {
        CommandError::Invalid {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        CommandError::NotFound { what: what.into() }
    }
}

impl From<std::io::Error> for CommandError {
    fn from(e: std::io::Error) -> Self {
        CommandError::Storage(e.to_string())
    }
}

/// What applying a command may depend on besides the state: identical on every replica.
#[derive(Debug, Clone, Copy)]
pub struct ApplyContext {
    pub area: AreaCode,
    pub now_ms: u64,
}
