//! 7 → 8 (with the file owners' index, `super::index_file_owners`): pending broadcast
//! pushes name the providers whose devices they reach (`/message/broadcast.json`'s
//! `os`). Records written before reach every provider, which an empty list says.

use meridian_push::PushOptions;
use serde::{Deserialize, Serialize};

use crate::raft::wire::from_bytes;
use crate::state::apply::CommandError;
use crate::state::cross_domain::broadcast_pushes::PendingBroadcast;
use crate::state::keys::push as push_keys;
use crate::state::messages::Message;
use crate::state::store::{Overlay, StateRead};

/// A pending broadcast as format 7 wrote it (the 6 → 7 step writes it too).
pub(in crate::state) mod v7 {
    use super::*;

    #[derive(Serialize, Deserialize)]
    pub(in crate::state) struct PendingBroadcast {
        pub(in crate::state) message: Message,
        pub(in crate::state) title: String,
        pub(in crate::state) body: String,
        pub(in crate::state) after: Vec<u8>,
        pub(in crate::state) options: PushOptions,
    }
}

pub(super) fn add_providers(state: &mut Overlay<'_>) -> Result<(), CommandError> {
    for (key, value) in state.scan_raw(push_keys::BROADCAST)? {
        let old: v7::PendingBroadcast = from_bytes(&value)?;
        let pending = PendingBroadcast {
            message: old.message,
            title: old.title,
            body: old.body,
            after: old.after,
            options: old.options,
            providers: Vec::new(),
        };
        state.put(key, &pending)?;
    }
    Ok(())
}
