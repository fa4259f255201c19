//! Requests an app marks with an id (the Server API's `msgRandom`): applied once, and
//! answered again the same way when they come back within a minute, whether the app
//! retried or an edge wrote again after a leader loss left the outcome open.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::apply::{Apply, ApplyContext, CommandError};
use super::command::{Command, Output};
use super::kept;
use super::keys::requests as keys;
use super::store::{Overlay, StateRead};

/// How long an answer is kept: the commercial service keeps `msgRandom` a minute.
pub const KEPT_MS: u64 = 60_000;

/// `command`, applied at most once per `request_id` within [`KEPT_MS`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Once {
    pub app_key: String,
    /// Names the request within the app; the edge builds it from the path, the sender and
    /// `msgRandom`.
    pub request_id: String,
    pub command: Box<Command>,
}

/// What a marked request was answered, and which request that was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Answered {
    at_ms: u64,
    /// SHA-256 of the command's encoding: the same id on another request is refused.
    fingerprint: Vec<u8>,
    output: Output,
}

impl Apply for Once {
    type Answer = Output;

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<Output, CommandError> {
        if self.request_id.is_empty() || self.request_id.len() > 256 {
            return Err(CommandError::invalid(
                "msgRandom",
                "the request id is 1 to 256 bytes",
            ));
        }
        let key = keys::answer(&self.app_key, &self.request_id);
        let fingerprint = fingerprint(&self.command)?;
        if let Some(earlier) = state.get::<Answered>(&key)? {
            if earlier.at_ms + KEPT_MS >= ctx.now_ms {
                if earlier.fingerprint != fingerprint {
                    return Err(CommandError::invalid(
                        "msgRandom",
                        "was given to another request within the last minute",
                    ));
                }
                return Ok(earlier.output);
            }
            kept::forget_index(state, &keys::ANSWERS, earlier.at_ms, &key);
        }
        let output = self.command.execute(ctx, state)?;
        let answered = Answered {
            at_ms: ctx.now_ms,
            fingerprint,
            output: output.clone(),
        };
        kept::put(ctx, state, &keys::ANSWERS, KEPT_MS, key, &answered)?;
        Ok(output)
    }
}

fn fingerprint(command: &Command) -> Result<Vec<u8>, CommandError> {
    let bytes = crate::raft::wire::to_bytes(command)?;
    Ok(Sha256::digest(bytes).to_vec())
}
