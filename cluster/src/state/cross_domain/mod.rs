//! The upper layer of the state: the commands and queries that span domains. Each domain
//! module below keeps its own keys, records and single-domain commands and never calls
//! up here; what writes or reads several domains at once (publishing and its fan-out,
//! receipts, bans, deleting an app, sync and history) lives here and calls down.

pub(super) mod bans;
pub(super) mod broadcast_pushes;
pub(super) mod calls;
mod client_sends;
pub(super) mod delete_app;
pub(super) mod delete_users;
pub(super) mod export;
pub(super) mod history;
pub(super) mod notifications;
pub(super) mod publish;
pub(super) mod receipts;
pub(super) mod retention;
pub(super) mod sync;
pub(super) mod ultragroup_changes;
pub(super) mod user_data;
