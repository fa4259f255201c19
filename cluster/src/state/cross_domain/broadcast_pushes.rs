//! SYS-02: a broadcast reaches offline users' devices too. It is meant for every user, so
//! its push jobs are made in bounded batches: the first while the broadcast is stored, the
//! rest by `ExpandBroadcastPushes`, which the leader proposes while any is pending. Each
//! batch walks the app's registered devices in key order from where the last one stopped,
//! so every device is considered once, and users online at that moment are skipped (they
//! get the message in their session), as for any message (PUSH-01). A push-only notice
//! to everyone or to tags (SYS-03, `PushNoticeWithOptions`) is paged the same way, so it
//! reaches any number of devices; it goes to online users' devices too.

use meridian_push::PushOptions;
use serde::{Deserialize, Serialize};

use super::notifications::{self, Mentions};
use crate::raft::wire::from_bytes;
use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::keys::{of_app, push as keys};
use crate::state::messages::Message;
use crate::state::push::{self, DeviceToken, Notice, NoticeOptions, PushJob, PushProvider};
use crate::state::store::{Overlay, StateRead};
use crate::state::{outbox, presence, users};

/// Devices one batch considers: one apply's work stays small whatever the app's size.
pub const BROADCAST_PUSH_BATCH: usize = 2_000;

/// A broadcast whose devices are still being gone through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingBroadcast {
    pub message: Message,
    pub title: String,
    pub body: String,
    /// The last device key gone through; empty before the first batch.
    pub after: Vec<u8>,
    /// What the app server asked of the notifications.
    pub options: PushOptions,
    /// The providers whose devices are pushed (`os`); empty: all.
    pub providers: Vec<PushProvider>,
}

/// Starts a stored broadcast's pushes (the caller checked that it is pushed at all).
pub(super) fn start(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    message: &Message,
    (title, body): (String, String),
    options: &PushOptions,
    providers: &[PushProvider],
) -> Result<(), CommandError> {
    let pending = PendingBroadcast {
        message: message.clone(),
        title,
        body,
        after: Vec::new(),
        options: options.clone(),
        providers: providers.to_vec(),
    };
    next_batch(ctx, state, app_key, pending)
}

/// A push-only notice whose devices are still being gone through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingNotice {
    pub id: String,
    pub notice: Notice,
    pub options: NoticeOptions,
    /// The last device key gone through; empty before the first batch.
    pub after: Vec<u8>,
}

/// Starts paging a notice's devices: the first batch now. Answers the devices it reached.
pub(super) fn start_notice(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    pending: PendingNotice,
) -> Result<u64, CommandError> {
    next_notice_batch(ctx, state, app_key, pending)
}

/// A registered device: its key, its user's id and its registration.
type PagedDevice = (Vec<u8>, String, DeviceToken);

/// The devices of a batch after `after` (from the first when empty), and whether they
/// were the last.
fn device_page(
    state: &impl StateRead,
    app_key: &str,
    after: &[u8],
) -> Result<(Vec<PagedDevice>, bool), CommandError> {
    let prefix = of_app(keys::TOKEN, app_key);
    // Just after the last key gone through (a key followed by a zero byte is the next
    // possible key).
    let start = if after.is_empty() {
        prefix.clone()
    } else {
        [after, &[0]].concat()
    };
    let mut devices: Vec<PagedDevice> = Vec::new();
    let mut undecodable = None;
    state.visit_from(&prefix, &start, &mut |key, value| {
        match (
            keys::token_user(&prefix, key),
            from_bytes::<DeviceToken>(value),
        ) {
            (Some(user), Ok(device)) => devices.push((key.to_vec(), user, device)),
            (_, Err(e)) => undecodable = Some(e),
            (None, _) => {}
        }
        devices.len() < BROADCAST_PUSH_BATCH
    })?;
    if let Some(e) = undecodable {
        return Err(e.into());
    }
    let done = devices.len() < BROADCAST_PUSH_BATCH;
    Ok((devices, done))
}

/// Pushes to the notice's devices of the next batch; keeps it pending, or lets it go when
/// its devices are all gone through. Answers the jobs made.
fn next_notice_batch(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    mut pending: PendingNotice,
) -> Result<u64, CommandError> {
    let (mut devices, done) = device_page(state, app_key, &pending.after)?;
    let (notice, options) = (&pending.notice, &pending.options);
    let mut jobs = Vec::new();
    let mut user: Option<users::User> = None;
    for (_, user_id, device) in &devices {
        if !device.takes_alerts() {
            continue;
        }
        // A user's devices are next to each other: read each user once.
        if user.as_ref().is_none_or(|u| u.user_id != *user_id) {
            user = users::get(state, app_key, user_id).ok();
        }
        let Some(user) = &user else { continue };
        if push::notice_takes(notice, options, user, device) {
            let notice = (pending.id.as_str(), notice, options);
            jobs.push(push::notice_job(notice, user_id, device.clone()));
        }
    }
    let made = jobs.len() as u64;
    outbox::enqueue_pushes(ctx, state, app_key, jobs)?;
    let record = keys::notice(app_key, &pending.id);
    match devices.pop() {
        Some((last, _, _)) if !done => {
            pending.after = last;
            state.put(record, &pending)?;
        }
        _ => state.delete(record),
    }
    Ok(made)
}

/// Pushes to the devices of the next batch; keeps the broadcast pending, or lets it go
/// when its devices are all gone through.
fn next_batch(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    mut pending: PendingBroadcast,
) -> Result<(), CommandError> {
    let (mut devices, done) = device_page(state, app_key, &pending.after)?;
    let message = &pending.message;
    let mut jobs = Vec::new();
    let mut checked: Option<(String, bool)> = None;
    for (_, user, device) in &devices {
        // A user's devices are next to each other: decide once per user.
        let pushed = match &checked {
            Some((last, pushed)) if last == user => *pushed,
            _ => {
                let pushed = presence::sessions(state, app_key, user, ctx.now_ms)?.is_empty()
                    && notifications::wants_push(
                        state,
                        app_key,
                        ctx.now_ms,
                        user,
                        message,
                        &Mentions::default(),
                    )?;
                checked = Some((user.clone(), pushed));
                pushed
            }
        };
        let platform = pending.providers.is_empty() || pending.providers.contains(&device.provider);
        if pushed && platform && device.takes_alerts() {
            jobs.push(PushJob {
                user_id: user.clone(),
                device: device.clone(),
                title: pending.title.clone(),
                body: pending.body.clone(),
                data: message.push_data.clone(),
                msg_uid: message.msg_uid.clone(),
                options: Box::new(pending.options.clone()),
            });
        }
    }
    outbox::enqueue_pushes(ctx, state, app_key, jobs)?;
    let record = keys::broadcast(app_key, &message.msg_uid);
    match devices.pop() {
        Some((last, _, _)) if !done => {
            pending.after = last;
            state.put(record, &pending)?;
        }
        _ => state.delete(record),
    }
    Ok(())
}

/// Whether any broadcast or notice of the app still has devices to go through.
pub fn pending_broadcast_pushes(
    state: &impl StateRead,
    app_key: &str,
) -> Result<bool, CommandError> {
    Ok(state.count_prefix(&of_app(keys::BROADCAST, app_key))? > 0
        || state.count_prefix(&of_app(keys::NOTICE, app_key))? > 0)
}

/// Pushes the next batch of each of the app's pending broadcasts and notices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpandBroadcastPushes {
    pub app_key: String,
}

impl Apply for ExpandBroadcastPushes {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let pending: Vec<PendingBroadcast> = state.scan(&of_app(keys::BROADCAST, &self.app_key))?;
        for broadcast in pending {
            next_batch(ctx, state, &self.app_key, broadcast)?;
        }
        let notices: Vec<PendingNotice> = state.scan(&of_app(keys::NOTICE, &self.app_key))?;
        for notice in notices {
            next_notice_batch(ctx, state, &self.app_key, notice)?;
        }
        Ok(())
    }
}
