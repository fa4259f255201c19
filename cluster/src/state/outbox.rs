//! Callbacks to the app server waiting to be delivered (HOOK-01, HOOK-03, HOOK-04).
//!
//! A job is written in the same apply round as the change it reports, so nothing committed
//! goes unreported, and it is replicated like everything else, so it survives the loss of
//! the leader. The leader's dispatcher (`crate::hooks`) posts jobs, one at a time per
//! *lane* (a conversation, a user, a room) so each lane arrives in order, and reports
//! back: a delivered job is removed; a failed one waits out an exponential backoff; after
//! the app's retry cap it moves to the app's dead letters, where the operator can see it
//! and send it again.
//!
//! Which URL a job goes to is read when it is sent, not when it is written: an operator
//! who fixes a wrong URL gets the waiting jobs delivered to the right one.

use meridian_proto::Conversation;
use serde::{Deserialize, Serialize};

use super::apply::{Apply, ApplyContext, CommandError};
use super::apps;
use super::apps::CallbackSettings;
use super::keys::{of_app, outbox as keys};
use super::messages::Message;
use super::push::{self, PushJob};
use super::store::{Overlay, StateRead};
use super::usage::{self, Category};

/// The first retry waits this long; each further one twice as long …
pub const FIRST_BACKOFF_MS: u64 = 1_000;
/// … up to this.
pub const MAX_BACKOFF_MS: u64 = 300_000;
/// Dead letters listed at most per read.
pub const MAX_DEAD_PAGE: usize = 1_000;
/// The longest error text kept with a job.
const MAX_ERROR_CHARS: usize = 200;

/// One callback waiting to be delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Stable across retries and failovers: the app server dedupes by it.
    pub id: u64,
    pub app_key: String,
    /// Jobs of one lane are delivered one at a time, in `id` order.
    pub lane: String,
    pub event: HookEvent,
    pub created_ms: u64,
    pub attempts: u32,
    /// Not sent again before this instant.
    pub next_attempt_ms: u64,
    pub last_error: String,
}

/// What a callback reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum HookEvent {
    /// HOOK-01: a message was stored.
    Message(Box<Message>),
    /// HOOK-03: a device connected, disconnected or logged out.
    Status(StatusChange),
    /// HOOK-04: a chatroom was created or destroyed, or members joined or left.
    Chatroom(RoomChange),
    /// PUSH-01: a notification for an offline device.
    Push(PushJob),
    /// RTC-07: a recorded stream is stored, told to the URL its recording order gave.
    Recording(super::rtc::RecordingReady),
    /// RTC-01, RTC-02: a room was created or destroyed, a member joined or left, or a
    /// member's resources changed (the app's RTC callback URL).
    RtcRoom(super::rtc::RtcRoomEvent),
    /// LIFE-02: an erasure is complete (the app's erasure callback URL).
    UsersErased(super::cross_domain::delete_users::UsersErased),
}

impl HookEvent {
    /// The kind label of metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            HookEvent::Message(_) => "routing",
            HookEvent::Status(_) => "online_status",
            HookEvent::Chatroom(_) => "chatroom_state",
            HookEvent::Push(_) => "push",
            HookEvent::Recording(_) => "rtc_recording",
            HookEvent::RtcRoom(_) => "rtc_room",
            HookEvent::UsersErased(_) => "users_erased",
        }
    }
}

/// The commercial service's status codes: 0 online, 1 offline, 2 logged out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceStatus {
    Online = 0,
    Offline = 1,
    LoggedOut = 2,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub user_id: String,
    pub status: DeviceStatus,
    pub platform: String,
    pub client_ip: String,
    /// `{edgeId}-{sessionId}`: tells one user's devices apart.
    pub session_id: String,
    pub time_ms: u64,
}

/// The commercial service's chatroom event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoomEvent {
    Created = 0,
    Joined = 1,
    Quit = 2,
    Destroyed = 3,
}

/// Why a chatroom event happened (the commercial service's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoomCause {
    /// Someone asked for it (a client, the Server API).
    Requested = 0,
    /// CHR-07: an offline member missed too much.
    AutoExit = 1,
    /// The member was banned from the room.
    Banned = 2,
    /// CHR-08: the room stayed idle too long.
    AutoDestroy = 3,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomChange {
    pub room_id: String,
    pub user_ids: Vec<String>,
    pub event: RoomEvent,
    pub cause: RoomCause,
    pub time_ms: u64,
}

fn change_waiting(state: &mut Overlay<'_>, delta: i64) -> Result<(), CommandError> {
    let waiting: u64 = state.get(keys::WAITING)?.unwrap_or(0);
    state.put(
        keys::WAITING.to_vec(),
        &waiting.saturating_add_signed(delta),
    )?;
    Ok(())
}

pub(in crate::state) fn enqueue(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    lane: String,
    event: HookEvent,
) -> Result<(), CommandError> {
    let id = state.get::<u64>(keys::LAST_ID)?.unwrap_or(0) + 1;
    state.put(keys::LAST_ID.to_vec(), &id)?;
    let job = Job {
        id,
        app_key: app_key.to_string(),
        lane,
        event,
        created_ms: ctx.now_ms,
        attempts: 0,
        next_attempt_ms: 0,
        last_error: String::new(),
    };
    state.put(keys::job(id), &job)?;
    change_waiting(state, 1)
}

/// HOOK-01: a stored message is routed when the app asks for its conversation type.
pub(super) fn route_message(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    callbacks: &CallbackSettings,
    message: &Message,
) -> Result<(), CommandError> {
    if !callbacks.routes(message.conversation.kind) {
        return Ok(());
    }
    let lane = conversation_lane(&message.conversation);
    enqueue(
        ctx,
        state,
        app_key,
        lane,
        HookEvent::Message(Box::new(message.clone())),
    )
}

fn conversation_lane(conversation: &Conversation) -> String {
    format!(
        "conv/{}/{}/{}/{}",
        conversation.kind.code(),
        conversation.first,
        conversation.second,
        conversation.channel
    )
}

/// PUSH-01, SYS-03: one job per device, in its device's lane.
pub(super) fn enqueue_pushes(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    jobs: Vec<push::PushJob>,
) -> Result<(), CommandError> {
    for job in jobs {
        let sent = format!("{}.sent", job.device.provider.name());
        usage::add(ctx, state, app_key, Category::Push, &sent, 1)?;
        // One device's notifications go out in order.
        let lane = format!("push/{}/{}", job.user_id, job.device.device_id);
        enqueue(ctx, state, app_key, lane, HookEvent::Push(job))?;
    }
    Ok(())
}

/// HOOK-03: a device's session started or ended.
pub(super) fn device_status(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    change: StatusChange,
) -> Result<(), CommandError> {
    if apps::settings(state, app_key)?
        .callbacks
        .online_status_url
        .is_none()
    {
        return Ok(());
    }
    let lane = format!("user/{}", change.user_id);
    enqueue(ctx, state, app_key, lane, HookEvent::Status(change))
}

/// HOOK-04: a chatroom changed; nothing when no member changed.
pub(super) fn room_changed(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    change: RoomChange,
) -> Result<(), CommandError> {
    let membership = matches!(change.event, RoomEvent::Joined | RoomEvent::Quit);
    if membership && change.user_ids.is_empty() {
        return Ok(());
    }
    if apps::settings(state, app_key)?
        .callbacks
        .chatroom_state_url
        .is_none()
    {
        return Ok(());
    }
    let lane = format!("room/{}", change.room_id);
    enqueue(ctx, state, app_key, lane, HookEvent::Chatroom(change))
}

/// Up to `limit` waiting jobs after `after`, oldest first. A record that does not decode
/// is logged and skipped: it must not hold up every other job.
pub fn waiting(state: &impl StateRead, after: u64, limit: usize) -> Result<Vec<Job>, CommandError> {
    let mut jobs = Vec::new();
    state.visit_from(keys::JOB, &keys::job(after + 1), &mut |key, value| {
        match crate::raft::wire::from_bytes::<Job>(value) {
            Ok(job) => jobs.push(job),
            Err(e) => tracing::error!(
                key = %String::from_utf8_lossy(key),
                error = %e,
                "undecodable callback job skipped"
            ),
        }
        jobs.len() < limit
    })?;
    Ok(jobs)
}

/// The id of the newest job ever written.
pub fn last_id(state: &impl StateRead) -> Result<u64, CommandError> {
    Ok(state.get(keys::LAST_ID)?.unwrap_or(0))
}

/// How many jobs wait (the queue depth metric).
pub fn waiting_count(state: &impl StateRead) -> Result<u64, CommandError> {
    Ok(state.get(keys::WAITING)?.unwrap_or(0))
}

/// The app's dead letters, oldest first.
pub fn dead_letters(
    state: &impl StateRead,
    app_key: &str,
    limit: usize,
) -> Result<Vec<Job>, CommandError> {
    apps::by_key(state, app_key)?;
    let mut jobs: Vec<Job> = state.scan(&of_app(keys::DEAD, app_key))?;
    jobs.truncate(limit.min(MAX_DEAD_PAGE));
    Ok(jobs)
}

/// The wait before the attempt after `attempts` failed ones.
pub fn backoff_ms(attempts: u32) -> u64 {
    FIRST_BACKOFF_MS
        .saturating_mul(1u64 << attempts.saturating_sub(1).min(32))
        .min(MAX_BACKOFF_MS)
}

/// How many times jobs came back under old ids (dead letters retried): a dispatcher
/// sweeping the outbox must start over to meet them in id order.
pub fn retries(state: &impl StateRead) -> Result<u64, CommandError> {
    Ok(state.get(keys::RETRIES)?.unwrap_or(0))
}

/// How long a dead letter is kept (from its job's creation) for the operator to see and
/// send again; then the retention sweep drops it, so an app server that stays down does
/// not grow the state without bound (LIFE-01).
pub const DEAD_LETTER_KEEP_MS: u64 = 30 * 24 * 3600 * 1000;
/// Dead letters one [`DropDeadLetters`] removes at most.
pub const MAX_DROPPED_DEAD_LETTERS: usize = 1_000;

/// Ids of the app's dead letters past [`DEAD_LETTER_KEEP_MS`] at `now_ms`, oldest first,
/// at most [`MAX_DROPPED_DEAD_LETTERS`]. Ids grow with creation time (a retried job keeps
/// both), so the search stops at the first one still kept.
pub fn expired_dead_letters(
    state: &impl StateRead,
    app_key: &str,
    now_ms: u64,
) -> Result<Vec<u64>, CommandError> {
    let mut ids = Vec::new();
    let mut failure = None;
    state.visit_from(&of_app(keys::DEAD, app_key), &[], &mut |_, value| {
        match crate::raft::wire::from_bytes::<Job>(value) {
            Ok(job) if job.created_ms.saturating_add(DEAD_LETTER_KEEP_MS) <= now_ms => {
                ids.push(job.id);
                ids.len() < MAX_DROPPED_DEAD_LETTERS
            }
            Ok(_) => false,
            Err(e) => {
                failure = Some(CommandError::from(e));
                false
            }
        }
    })?;
    match failure {
        Some(e) => Err(e),
        None => Ok(ids),
    }
}

/// Drops dead letters past their keep, as the leader found them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DropDeadLetters {
    pub app_key: String,
    pub ids: Vec<u64>,
}

impl Apply for DropDeadLetters {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        if self.ids.len() > MAX_DROPPED_DEAD_LETTERS {
            return Err(CommandError::Limit {
                what: "dead letters per command".into(),
                limit: MAX_DROPPED_DEAD_LETTERS as u64,
            });
        }
        for &id in &self.ids {
            state.delete(keys::dead(&self.app_key, id));
        }
        Ok(())
    }
}

/// Removes an app environment's dead letters (its waiting jobs fail out on their own).
pub(super) fn delete_all(state: &mut Overlay<'_>, app_key: &str) -> Result<(), CommandError> {
    Ok(state.delete_prefix(&of_app(keys::DEAD, app_key))?)
}

/// The app server took these callbacks (written by dispatchers before
/// [`OutboxSettled`], which says how each ended; kept for the entries in the log).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxDelivered {
    pub ids: Vec<u64>,
}

impl Apply for OutboxDelivered {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        for &id in &self.ids {
            settle(state, id)?;
        }
        Ok(())
    }
}

/// How a job left the outbox for good, other than by failing out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Settlement {
    /// The app server, or the push provider, took it.
    Delivered,
    /// No longer wanted (the app, its URL or the device went away).
    Dropped,
    /// The push provider will never take it (e.g. too large).
    Rejected,
    /// The push provider no longer knows the device.
    TokenGone,
}

impl Settlement {
    /// The outcome's name in the app's usage counters (PUSH-09, CON-01).
    fn usage_name(self, push: bool) -> &'static str {
        match self {
            Settlement::Delivered if push => "accepted",
            Settlement::Delivered => "delivered",
            Settlement::Dropped => "dropped",
            Settlement::Rejected => "failed.rejected",
            Settlement::TokenGone => "failed.token_gone",
        }
    }
}

/// These jobs are done with, each with how it ended (the dispatcher reports it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxSettled {
    pub jobs: Vec<(u64, Settlement)>,
}

impl Apply for OutboxSettled {
    type Answer = ();

    /// Settled jobs leave the outbox and count in their app's usage (already gone:
    /// reported twice, nothing to do).
    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        for &(id, settlement) in &self.jobs {
            if let Some(job) = settle(state, id)? {
                count_outcome(ctx, state, &job, |push| settlement.usage_name(push))?;
            }
        }
        Ok(())
    }
}

/// Removes a job from the outbox; the job, if it was still there.
fn settle(state: &mut Overlay<'_>, id: u64) -> Result<Option<Job>, CommandError> {
    let job = state.get::<Job>(&keys::job(id))?;
    if let Some(job) = &job {
        state.delete(keys::job(id));
        change_waiting(state, -1)?;
        // It named erased users (LIFE-02): no stale copy of it may stay either.
        if matches!(job.event, HookEvent::UsersErased(_)) {
            state.mark_erasure();
        }
    }
    Ok(job)
}

/// Counts what became of a job in its app's usage: a push under its provider, a
/// callback under its kind. `outcome` names it, told whether the job is a push.
fn count_outcome(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    job: &Job,
    outcome: impl FnOnce(bool) -> &'static str,
) -> Result<(), CommandError> {
    let (category, subject) = match &job.event {
        HookEvent::Push(push) => (Category::Push, push.device.provider.name()),
        other => (Category::Callbacks, other.kind()),
    };
    let name = format!("{subject}.{}", outcome(category == Category::Push));
    usage::add(ctx, state, &job.app_key, category, &name, 1)
}

/// These callbacks failed, with why: retried later or dead-lettered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxFailed {
    pub failures: Vec<(u64, String)>,
}

impl Apply for OutboxFailed {
    type Answer = Vec<u64>;

    /// Failed attempts: each job waits out its backoff, or goes to the dead letters once it
    /// has used up its app's attempts. Answers which went dead.
    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<Vec<u64>, CommandError> {
        let failures: &[(u64, String)] = &self.failures;
        let mut dead = Vec::new();
        for (id, error) in failures {
            let Some(mut job) = state.get::<Job>(&keys::job(*id))? else {
                continue;
            };
            job.attempts += 1;
            job.last_error = error.chars().take(MAX_ERROR_CHARS).collect();
            let Ok(settings) = apps::settings(state, &job.app_key) else {
                // The app was deleted meanwhile: its jobs have nowhere to go.
                state.delete(keys::job(job.id));
                change_waiting(state, -1)?;
                continue;
            };
            if !matches!(job.event, HookEvent::Push(_)) {
                count_outcome(ctx, state, &job, |_| "failed_attempt")?;
            }
            if job.attempts >= settings.callbacks.max_attempts {
                state.delete(keys::job(job.id));
                change_waiting(state, -1)?;
                state.put(keys::dead(&job.app_key, job.id), &job)?;
                count_outcome(
                    ctx,
                    state,
                    &job,
                    |push| {
                        if push {
                            "failed.dead"
                        } else {
                            "dead"
                        }
                    },
                )?;
                dead.push(job.id);
            } else {
                job.next_attempt_ms = ctx.now_ms + backoff_ms(job.attempts);
                state.put(keys::job(job.id), &job)?;
            }
        }
        Ok(dead)
    }
}

/// The app's dead letters go back into the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryDeadLetters {
    pub app_key: String,
}

impl Apply for RetryDeadLetters {
    type Answer = u64;

    /// Dead letters go back into the outbox, as they were, with fresh attempts.
    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<u64, CommandError> {
        let app_key: &str = &self.app_key;
        apps::by_key(state, app_key)?;
        let mut moved = 0;
        for (key, value) in state.scan_raw(&of_app(keys::DEAD, app_key))? {
            let mut job: Job = crate::raft::wire::from_bytes(&value)?;
            job.attempts = 0;
            job.next_attempt_ms = 0;
            state.delete(key);
            state.put(keys::job(job.id), &job)?;
            change_waiting(state, 1)?;
            moved += 1;
        }
        if moved > 0 {
            let retries: u64 = state.get(keys::RETRIES)?.unwrap_or(0);
            state.put(keys::RETRIES.to_vec(), &(retries + 1))?;
        }
        Ok(moved)
    }
}
