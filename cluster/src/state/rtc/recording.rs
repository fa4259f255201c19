//! Server-side recording of audio/video rooms (RTC-07). The app server starts and stops
//! recording a room (`/rtc/record/*.json`); the area's media servers read which rooms are
//! recorded and write each stream published there to a WebM file. A stored file becomes
//! one of the app's files (FILE-01: its quota, its signed links, its expiry) and a
//! recorded stream of the room, and the app server is called back when it is ready.
//! An order lasts until stopped or until the room ends.

use serde::{Deserialize, Serialize};

use super::super::apply::{Apply, ApplyContext, CommandError};
use super::super::apps;
use super::super::files::{FileRecord, RecordFile};
use super::super::keys::{files as file_keys, rtc as keys};
use super::super::outbox::{self, HookEvent};
use super::super::store::{Overlay, StateRead};
use super::live_session;

/// A room the app server asked to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingOrder {
    pub app_key: String,
    pub room_id: String,
    /// The room's lifetime the order belongs to.
    pub session_id: String,
    pub started_ms: u64,
    /// Told of each stored file, when given.
    pub callback_url: Option<String>,
}

/// One stream as recording stored it: a WebM file among the app's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedStream {
    pub room_id: String,
    pub session_id: String,
    pub user_id: String,
    pub stream_id: String,
    pub file_id: String,
    pub size: u64,
    /// When its first frame was written, and how long it lasts.
    pub started_ms: u64,
    pub duration_ms: u64,
    /// When its file expires (FILE-04), and with it the links to it.
    pub expires_ms: u64,
    /// Its tracks' codecs, e.g. `["VP8", "opus"]`.
    pub tracks: Vec<String>,
}

/// The callback telling the app server that a recorded stream is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingReady {
    pub callback_url: String,
    pub stream: RecordedStream,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeRecording {
    pub app_key: String,
    pub room_id: String,
    pub change: RecordingChange,
}

/// Variants are appended, never reordered (bincode).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RecordingChange {
    /// Records the room from now on; a room already recorded keeps its order (the newer
    /// callback URL replaces the older).
    Start { callback_url: Option<String> },
    /// Nothing more is recorded; a room not recorded stays so.
    Stop,
    /// A media server stored a recorded stream.
    Stored(Box<StoredStream>),
}

/// A recorded stream, stored as `file` among the app's files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredStream {
    pub file: FileRecord,
    pub stream: RecordedStream,
    /// The order's, carried by the media server because the order may be gone by now.
    pub callback_url: Option<String>,
}

impl Apply for ChangeRecording {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let Self {
            app_key,
            room_id,
            change,
        } = self;
        apps::by_key(state, app_key)?;
        match change {
            RecordingChange::Start { callback_url } => {
                if let Some(url) = callback_url {
                    apps::validate_url("callbackUrl", url)?;
                }
                let session_id = live_session(state, app_key, room_id)?;
                let key = keys::recording(app_key, room_id);
                let started_ms = state
                    .get::<RecordingOrder>(&key)?
                    .map_or(ctx.now_ms, |order| order.started_ms);
                let order = RecordingOrder {
                    app_key: app_key.clone(),
                    room_id: room_id.clone(),
                    session_id,
                    started_ms,
                    callback_url: callback_url.clone(),
                };
                Ok(state.put(key, &order)?)
            }
            RecordingChange::Stop => {
                state.delete(keys::recording(app_key, room_id));
                Ok(())
            }
            RecordingChange::Stored(stored) => {
                let StoredStream {
                    file,
                    stream,
                    callback_url,
                } = &**stored;
                let key = keys::recorded(app_key, room_id, &stream.file_id);
                let consistent = stream.file_id == file.file_id
                    && stream.room_id == *room_id
                    && stream.expires_ms == file.expires_ms;
                if !consistent {
                    return Err(CommandError::invalid(
                        "stream",
                        "names another file or room",
                    ));
                }
                // A retry whose first answer was lost: recorded, and called back, once.
                if state.get::<RecordedStream>(&key)?.is_some() {
                    return Ok(());
                }
                RecordFile {
                    app_key: app_key.clone(),
                    record: file.clone(),
                }
                .apply(ctx, state)?;
                state.put(key, stream)?;
                match callback_url {
                    Some(url) => outbox::enqueue(
                        ctx,
                        state,
                        app_key,
                        format!("rtcrecording/{room_id}"),
                        HookEvent::Recording(RecordingReady {
                            callback_url: url.clone(),
                            stream: stream.clone(),
                        }),
                    ),
                    None => Ok(()),
                }
            }
        }
    }
}

/// The room ended: its order ends with it (a later room of that id starts unrecorded).
pub(super) fn room_ended(state: &mut Overlay<'_>, app_key: &str, room_id: &str) {
    state.delete(keys::recording(app_key, room_id));
}

/// Every room of the area being recorded.
pub fn orders(state: &impl StateRead) -> Result<Vec<RecordingOrder>, CommandError> {
    Ok(state.scan(keys::RECORDING)?)
}

/// What was recorded in a room and is still stored, oldest first.
pub fn streams(
    state: &impl StateRead,
    app_key: &str,
    room_id: &str,
) -> Result<Vec<RecordedStream>, CommandError> {
    apps::by_key(state, app_key)?;
    let mut streams: Vec<RecordedStream> = state.scan(&keys::recorded_streams(app_key, room_id))?;
    // A file that expired (FILE-04) is no longer there to fetch.
    let mut kept = Vec::with_capacity(streams.len());
    for stream in streams.drain(..) {
        let file = state.get::<FileRecord>(&file_keys::file(app_key, &stream.file_id))?;
        if file.is_some() {
            kept.push(stream);
        }
    }
    kept.sort_by(|a, b| (a.started_ms, &a.file_id).cmp(&(b.started_ms, &b.file_id)));
    Ok(kept)
}
