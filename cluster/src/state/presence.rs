//! Who is online (`/user/checkOnline.json`; the online-status webhooks build on it).
//!
//! Each edge writes a record when a session starts and removes it when the session ends,
//! and renews a lease while it runs. A record counts only while its edge's lease holds, so
//! an edge that dies takes its users offline within the lease; the leader's sweep then
//! removes what the dead edge left.

use serde::{Deserialize, Serialize};

use super::apply::{Apply, ApplyContext, CommandError};
use super::apps;
use super::keys::presence as keys;
use super::outbox::{self, DeviceStatus, StatusChange};
use super::store::{Overlay, StateRead};
use super::usage;
use super::users::validate_user_id;

/// An edge's lease lasts this long past its last renewal.
pub const LEASE_MS: u64 = 30_000;

/// One live session as its edge reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub edge_id: u64,
    pub session_id: u64,
    pub platform: String,
    pub since_ms: u64,
    /// `ip:port` of the device as the edge saw it.
    pub client_ip: String,
}

impl SessionRecord {
    fn status_change(&self, user_id: &str, status: DeviceStatus, now_ms: u64) -> StatusChange {
        StatusChange {
            user_id: user_id.to_string(),
            status,
            platform: self.platform.clone(),
            client_ip: self.client_ip.clone(),
            session_id: format!("{}-{}", self.edge_id, self.session_id),
            time_ms: now_ms,
        }
    }
}

/// The edge is alive: its records count for another [`LEASE_MS`].
pub(super) fn renew(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    edge_id: u64,
) -> Result<(), CommandError> {
    Ok(state.put(keys::lease(edge_id), &(ctx.now_ms + LEASE_MS))?)
}

/// Removes every record of an edge (it stopped, or its lease ran out) and its lease; its
/// sessions went offline.
fn clear_edge(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    edge_id: u64,
) -> Result<(), CommandError> {
    for (index, value) in state.scan_raw(&keys::of_edge(edge_id))? {
        let key: Vec<u8> = crate::raft::wire::from_bytes(&value)?;
        let record = state.get::<SessionRecord>(&key)?;
        state.delete(key.clone());
        state.delete(index);
        if let (Some(record), Some((app_key, user_id))) = (record, keys::session_owner(&key)) {
            if !has_sessions(state, &app_key, &user_id)? {
                usage::online_changed(ctx, state, &app_key, -1)?;
            }
            let change = record.status_change(&user_id, DeviceStatus::Offline, ctx.now_ms);
            outbox::device_status(ctx, state, &app_key, change)?;
        }
    }
    state.delete(keys::lease(edge_id));
    Ok(())
}

/// Clears the edges whose lease ran out, as of the entry's time.
pub(super) fn expire(ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
    let expired: Vec<u64> = state
        .scan_raw(keys::LEASE)?
        .into_iter()
        .filter_map(|(key, value)| {
            let until: u64 = crate::raft::wire::from_bytes(&value).ok()?;
            let edge = keys::lease_edge(&key)?;
            (until <= ctx.now_ms).then_some(edge)
        })
        .collect();
    for edge_id in expired {
        clear_edge(ctx, state, edge_id)?;
    }
    Ok(())
}

/// Whether the edge's lease holds at `now_ms`.
pub(super) fn edge_alive(
    state: &impl StateRead,
    edge_id: u64,
    now_ms: u64,
) -> Result<bool, CommandError> {
    let until: u64 = state.get(&keys::lease(edge_id))?.unwrap_or(0);
    Ok(until > now_ms)
}

/// Whether the user has a session record (live or of an edge whose lease is running out):
/// a user counts as online in the app's usage from the first to the last.
fn has_sessions(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
) -> Result<bool, CommandError> {
    let mut found = false;
    state.visit_raw(&keys::sessions(app_key, user_id), false, &mut |_| {
        found = true;
        false
    })?;
    Ok(found)
}

/// The user's live sessions at `now_ms` (whose edges' leases hold).
pub(super) fn sessions(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
    now_ms: u64,
) -> Result<Vec<SessionRecord>, CommandError> {
    apps::by_key(state, app_key)?;
    let mut live = Vec::new();
    for record in state.scan::<SessionRecord>(&keys::sessions(app_key, user_id))? {
        if edge_alive(state, record.edge_id, now_ms)? {
            live.push(record);
        }
    }
    Ok(live)
}

/// A client session started or ended on an edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangePresence {
    pub app_key: String,
    pub user_id: String,
    pub record: SessionRecord,
    pub status: DeviceStatus,
}

impl Apply for ChangePresence {
    type Answer = ();

    /// A session started or ended on an edge (HOOK-03 reports it).
    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let user_id: &str = &self.user_id;
        let record: &SessionRecord = &self.record;
        let status = self.status;
        apps::by_key(state, app_key)?;
        validate_user_id(user_id)?;
        let key = keys::session(app_key, user_id, record.edge_id, record.session_id);
        let index = keys::by_edge(record.edge_id, app_key, user_id, record.session_id);
        if status == DeviceStatus::Online {
            if !has_sessions(state, app_key, user_id)? {
                usage::online_changed(ctx, state, app_key, 1)?;
            }
            let mut stored = record.clone();
            stored.since_ms = ctx.now_ms;
            state.put(key.clone(), &stored)?;
            state.put(index, &key)?;
            renew(ctx, state, record.edge_id)?;
        } else if state.get_raw(&key)?.is_some() {
            state.delete(key);
            state.delete(index);
            if !has_sessions(state, app_key, user_id)? {
                usage::online_changed(ctx, state, app_key, -1)?;
            }
        } else {
            // Already gone (its edge's lease ran out and said so): no second report.
            return Ok(());
        }
        let change = record.status_change(user_id, status, ctx.now_ms);
        outbox::device_status(ctx, state, app_key, change)
    }
}

/// An edge renews its lease: its sessions count as online for another 30 s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeAlive {
    pub edge_id: u64,
}

impl Apply for EdgeAlive {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let Self { edge_id } = self;
        renew(ctx, state, *edge_id)
    }
}

/// An edge shut down: its sessions are gone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeStopped {
    pub edge_id: u64,
}

impl Apply for EdgeStopped {
    type Answer = ();

    /// An edge shut down cleanly.
    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let edge_id = self.edge_id;
        clear_edge(ctx, state, edge_id)
    }
}

/// Clears the sessions of edges whose lease ran out (the leader proposes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireEdges;

impl Apply for ExpireEdges {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        expire(ctx, state)
    }
}
