//! Upgrades of the state written by older builds (LIFE-05): one step per data format
//! version, each bringing the records of version `n` to version `n + 1`. The raft layer
//! runs them on a node's own state when it opens it and on every snapshot of an older
//! format it reads (installed from a peer, recovered at start, restored from a backup),
//! so an area is upgraded node by node without being wiped.
//!
//! A step must be deterministic (every replica upgrades to the same records) and may be
//! run again after a crash before its version was recorded.

pub(in crate::state) mod broadcast_platforms;
pub(in crate::state) mod push_options;

use std::collections::{BTreeMap, BTreeSet};

use super::apply::CommandError;
use super::files::FileRecord;
use super::keys::{files, presence, usage};
use super::store::{Overlay, StateRead};

/// The oldest format this build upgrades from; older states must be restored from an
/// export instead (LIFE-03).
pub const OLDEST_UPGRADABLE: u32 = 5;

/// Stages the step from format `from` to `from + 1`.
pub fn step(from: u32, state: &mut Overlay<'_>) -> Result<(), CommandError> {
    match from {
        5 => count_online_users(state),
        6 => push_options::add_push_options(state),
        7 => {
            index_file_owners(state)?;
            broadcast_platforms::add_providers(state)
        }
        _ => Err(CommandError::Storage(format!(
            "no upgrade from data format {from}"
        ))),
    }
}

/// 5 → 6: per-app usage (CON-01) keeps how many of each app's users are online; states
/// written before it have sessions but no count, so count them once.
fn count_online_users(state: &mut Overlay<'_>) -> Result<(), CommandError> {
    let mut users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (key, _) in state.scan_raw(presence::SESSION)? {
        if let Some((app_key, user_id)) = presence::session_owner(&key) {
            users.entry(app_key).or_default().insert(user_id);
        }
    }
    for (app_key, online) in users {
        state.put(usage::online(&app_key), &(online.len() as u64))?;
    }
    Ok(())
}

/// 7 → 8: an uploader's files are indexed (`fileowner/`, LIFE-02) so erasing the user
/// forgets them; files recorded before have no index entry, so index them once.
fn index_file_owners(state: &mut Overlay<'_>) -> Result<(), CommandError> {
    for (key, value) in state.scan_raw(files::FILE)? {
        let Some(app_key) = files::app_of(&key) else {
            continue;
        };
        let record: FileRecord = crate::raft::wire::from_bytes(&value)?;
        if !record.owner.is_empty() {
            state.put(files::owned(app_key, &record.owner, &record.file_id), &())?;
        }
    }
    Ok(())
}
