//! What audio/video keeps of an erased user (LIFE-02): its place in a room (it leaves,
//! as if kicked: the members are told), its block, and the streams recorded of it with
//! their files (the file store's sweep then deletes the objects nothing points at).
//! Sent beside `DeleteUsers`/`EraseUsers` in one `Command::All`, so a log written before
//! it existed replays as it did.

use meridian_proto::rtc::LeaveReason;
use serde::{Deserialize, Serialize};

use super::super::apply::{Apply, ApplyContext, CommandError};
use super::super::apps;
use super::super::files::ForgetFiles;
use super::super::keys::{of_app, rtc as keys};
use super::super::store::{Overlay, StateRead};
use super::super::users::validate_user_id;
use super::{room_of, RecordedStream, RoomAt};
use crate::raft::wire::from_bytes;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EraseRtcUsers {
    pub app_key: String,
    pub user_ids: Vec<String>,
}

impl Apply for EraseRtcUsers {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key = self.app_key.as_str();
        apps::by_key(state, app_key)?;
        for user_id in &self.user_ids {
            validate_user_id(user_id)?;
            if let Some(room_id) = room_of(state, app_key, user_id)? {
                let mut room = RoomAt::open(state, app_key, &room_id)?;
                room.drop_member(state, user_id, LeaveReason::Kicked)?;
                room.report(ctx, state)?;
            }
            state.delete(keys::block(app_key, user_id));
        }
        let (records, file_ids) = recorded_of(state, app_key, &self.user_ids)?;
        for key in records {
            state.delete(key);
        }
        ForgetFiles {
            app_key: app_key.to_string(),
            file_ids,
        }
        .apply(ctx, state)
    }
}

/// The keys of the streams recorded of `user_ids` in any room of the app, and their files.
fn recorded_of(
    state: &impl StateRead,
    app_key: &str,
    user_ids: &[String],
) -> Result<(Vec<Vec<u8>>, Vec<String>), CommandError> {
    let (mut records, mut file_ids) = (Vec::new(), Vec::new());
    let mut failure = None;
    state.visit_from(&of_app(keys::RECORDED, app_key), &[], &mut |key, value| {
        match from_bytes::<RecordedStream>(value) {
            Ok(stream) if user_ids.contains(&stream.user_id) => {
                records.push(key.to_vec());
                file_ids.push(stream.file_id);
            }
            Ok(_) => {}
            Err(e) => failure = Some(CommandError::from(e)),
        }
        failure.is_none()
    })?;
    match failure {
        Some(e) => Err(e),
        None => Ok((records, file_ids)),
    }
}
