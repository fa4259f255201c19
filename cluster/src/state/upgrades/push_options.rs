//! 6 → 7: push jobs (waiting or dead) and pending broadcast pushes carry what the app
//! server asked of their notifications (`PushOptions`, PUSH-05). Records written before
//! have none: they are rewritten with the defaults, which is how they were sent (pending
//! broadcasts in format 7's layout, which the 7 → 8 step reads).

use serde::Deserialize;

use super::broadcast_platforms::v7;
use crate::raft::wire::from_bytes;
use crate::state::apply::CommandError;
use crate::state::keys::{outbox as outbox_keys, push as push_keys};
use crate::state::messages::Message;
use crate::state::outbox::{HookEvent, Job, RoomChange, StatusChange};
use crate::state::push::{DeviceToken, PushJob};
use crate::state::rtc::{RecordingReady, RtcRoomEvent};
use crate::state::store::{Overlay, StateRead};

/// The records as format 6 wrote them: the same fields, in the same order, without the
/// options (tests write them too).
pub(in crate::state) mod v6 {
    use super::*;

    #[derive(Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub(in crate::state) struct PushJob {
        pub(in crate::state) user_id: String,
        pub(in crate::state) device: DeviceToken,
        pub(in crate::state) title: String,
        pub(in crate::state) body: String,
        pub(in crate::state) data: Option<String>,
        pub(in crate::state) msg_uid: String,
    }

    #[derive(Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub(in crate::state) enum HookEvent {
        Message(Box<Message>),
        Status(StatusChange),
        Chatroom(RoomChange),
        Push(PushJob),
        Recording(RecordingReady),
        RtcRoom(RtcRoomEvent),
    }

    #[derive(Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub(in crate::state) struct Job {
        pub(in crate::state) id: u64,
        pub(in crate::state) app_key: String,
        pub(in crate::state) lane: String,
        pub(in crate::state) event: HookEvent,
        pub(in crate::state) created_ms: u64,
        pub(in crate::state) attempts: u32,
        pub(in crate::state) next_attempt_ms: u64,
        pub(in crate::state) last_error: String,
    }

    #[derive(Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub(in crate::state) struct PendingBroadcast {
        pub(in crate::state) message: Message,
        pub(in crate::state) title: String,
        pub(in crate::state) body: String,
        pub(in crate::state) after: Vec<u8>,
    }

    impl From<PushJob> for super::PushJob {
        fn from(old: PushJob) -> Self {
            let PushJob {
                user_id,
                device,
                title,
                body,
                data,
                msg_uid,
            } = old;
            super::PushJob {
                user_id,
                device,
                title,
                body,
                data,
                msg_uid,
                options: Default::default(),
            }
        }
    }

    impl From<Job> for super::Job {
        fn from(old: Job) -> Self {
            let event = match old.event {
                HookEvent::Message(message) => super::HookEvent::Message(message),
                HookEvent::Status(change) => super::HookEvent::Status(change),
                HookEvent::Chatroom(change) => super::HookEvent::Chatroom(change),
                HookEvent::Push(push) => super::HookEvent::Push(push.into()),
                HookEvent::Recording(ready) => super::HookEvent::Recording(ready),
                HookEvent::RtcRoom(event) => super::HookEvent::RtcRoom(event),
            };
            super::Job {
                id: old.id,
                app_key: old.app_key,
                lane: old.lane,
                event,
                created_ms: old.created_ms,
                attempts: old.attempts,
                next_attempt_ms: old.next_attempt_ms,
                last_error: old.last_error,
            }
        }
    }

    impl From<PendingBroadcast> for v7::PendingBroadcast {
        fn from(old: PendingBroadcast) -> Self {
            v7::PendingBroadcast {
                message: old.message,
                title: old.title,
                body: old.body,
                after: old.after,
                options: Default::default(),
            }
        }
    }
}

pub(super) fn add_push_options(state: &mut Overlay<'_>) -> Result<(), CommandError> {
    for prefix in [outbox_keys::JOB, outbox_keys::DEAD] {
        for (key, value) in state.scan_raw(prefix)? {
            // The family's counters live elsewhere (`counter/`): every record is a job.
            let job: Job = from_bytes::<v6::Job>(&value)?.into();
            state.put(key, &job)?;
        }
    }
    for (key, value) in state.scan_raw(push_keys::BROADCAST)? {
        // Format 7's layout: the 7 → 8 step reads it next.
        let pending: v7::PendingBroadcast = from_bytes::<v6::PendingBroadcast>(&value)?.into();
        state.put(key, &pending)?;
    }
    Ok(())
}
