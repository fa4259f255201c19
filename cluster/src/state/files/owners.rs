//! Whose files are whose (LIFE-02 for media): an upload by a user is recorded with an
//! index `fileowner/{app}/{user}/{file}`, so erasing the user forgets its files at once
//! (their links stop working; the store's sweep deletes the objects nothing records).
//! These commands wrap the older ones they extend, which keep their meaning for logs
//! written before them.

use serde::{Deserialize, Serialize};

use super::{FileRecord, ForgetFiles, RecordFile};
use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::keys::files as keys;
use crate::state::store::{Overlay, StateRead};
use crate::state::{apps, users};

/// [`RecordFile`], and the index of its uploader's files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordOwnedFile(pub RecordFile);

impl Apply for RecordOwnedFile {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        self.0.apply(ctx, state)?;
        let RecordFile { app_key, record } = &self.0;
        if !record.owner.is_empty() {
            state.put(keys::owned(app_key, &record.owner, &record.file_id), &())?;
        }
        Ok(())
    }
}

/// [`ForgetFiles`], and their places in their uploaders' indexes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForgetOwnedFiles(pub ForgetFiles);

impl Apply for ForgetOwnedFiles {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let ForgetFiles { app_key, file_ids } = &self.0;
        for file_id in file_ids {
            if let Some(record) = state.get::<FileRecord>(&keys::file(app_key, file_id))? {
                if !record.owner.is_empty() {
                    state.delete(keys::owned(app_key, &record.owner, file_id));
                }
            }
        }
        self.0.apply(ctx, state)
    }
}

/// Forgets every file these users uploaded (sent beside `DeleteUsers`/`EraseUsers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EraseUserFiles {
    pub app_key: String,
    pub user_ids: Vec<String>,
}

impl Apply for EraseUserFiles {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        let mut file_ids = Vec::new();
        for user_id in &self.user_ids {
            users::validate_user_id(user_id)?;
            file_ids.extend(owned_by(state, &self.app_key, user_id)?);
        }
        let forget = ForgetFiles {
            app_key: self.app_key.clone(),
            file_ids,
        };
        ForgetOwnedFiles(forget).apply(ctx, state)
    }
}

/// The ids of the files `user_id` uploaded and the app still records.
fn owned_by(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
) -> Result<Vec<String>, CommandError> {
    let prefix = keys::owned_by(app_key, user_id);
    let ids = state
        .scan_raw(&prefix)?
        .into_iter()
        .filter_map(|(key, _)| String::from_utf8(key[prefix.len()..].to_vec()).ok())
        .collect();
    Ok(ids)
}
