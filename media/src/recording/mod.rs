//! Recording (RTC-07). The app server orders a room recorded (`/rtc/record/start.json`);
//! the membership watcher reads the area's orders and hands them to the forwarding task,
//! which gives every publisher in such a room a [`Recorder`]. Each recorded stream is
//! written to a WebM file (`webm.rs`); when it ends (the order stopped, the room ended,
//! the publisher left) the file is stored among the app's files and reported to the
//! cluster, which records it and calls the app server back.

mod webm;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use meridian_cluster::state::files::{FileAnswer, FileQuestion, FileRecord};
use meridian_cluster::state::rtc::{
    ChangeRecording, RecordedStream, RecordingChange, RecordingOrder, StoredStream,
};
use meridian_cluster::state::{Command, Envelope, Query, QueryOutput};
use meridian_cluster::{ClusterClient, ClusterError};
use meridian_files::{ObjectName, Store};
use meridian_proto::files::FileKind;
use str0m::format::Codec;
use str0m::media::MediaData;
use tokio::io::AsyncReadExt;

use crate::metrics::MediaMetrics;
use crate::sfu::Member;
use webm::{Frame, Track, Written};

/// Frames waiting for the file writer; more than a few seconds of media means the disk
/// cannot keep up, and frames are dropped rather than holding up forwarding.
const FRAME_QUEUE: usize = 1_024;
/// Storing a file is retried this many times while the area has no leader.
const STORE_ATTEMPTS: u32 = 10;
const UPLOAD_CHUNK: usize = 256 * 1024;

/// Where recordings go: the area's file store and its cluster.
pub(crate) struct Recordings {
    store: Store,
    cluster: Arc<ClusterClient>,
    /// Files are written here, then moved to the store.
    scratch: PathBuf,
    metrics: MediaMetrics,
    /// The server's runtime: recordings are started from the forwarding thread, whose
    /// own runtime is kept for forwarding.
    runtime: tokio::runtime::Handle,
}

/// One stream being recorded; dropping it ends the file, which is then stored.
pub(crate) struct Recorder {
    frames: SyncSender<Frame>,
    metrics: MediaMetrics,
}

impl Recorder {
    /// Queues a frame of the stream: VP8 video and Opus audio are recorded (WebM holds
    /// no other codec WebRTC sends).
    pub(crate) fn push(&self, data: &MediaData) {
        let track = match data.params.spec().codec {
            Codec::Vp8 => Track::Video,
            Codec::Opus => Track::Audio,
            _ => return,
        };
        let frame = Frame {
            track,
            data: data.data.clone(),
            rtp_time: data.time.numer(),
            clock: u64::from(data.time.denom()),
            arrived: data.network_time,
        };
        match self.frames.try_send(frame) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.metrics.recording_dropped_frames.inc(),
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

impl Recordings {
    pub(crate) fn new(
        store: Store,
        cluster: Arc<ClusterClient>,
        scratch: PathBuf,
        metrics: MediaMetrics,
    ) -> Self {
        Self {
            store,
            cluster,
            scratch,
            metrics,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// Starts recording `publisher`'s stream `stream_id` under `order`.
    pub(crate) fn start(
        self: &Arc<Self>,
        publisher: &Member,
        stream_id: &str,
        has_video: bool,
        order: &RecordingOrder,
    ) -> Recorder {
        let (frames, queue) = sync_channel(FRAME_QUEUE);
        let file_id = format!(
            "{:016x}{:016x}",
            rand::random::<u64>(),
            rand::random::<u64>()
        );
        let path = self
            .scratch
            .join(format!("meridian-recording-{file_id}.webm"));
        let stream = StreamOf {
            publisher: publisher.clone(),
            stream_id: stream_id.to_string(),
            file_id,
            order: order.clone(),
        };
        self.metrics.recordings.inc();
        let recordings = self.clone();
        self.runtime.spawn(async move {
            let written =
                tokio::task::spawn_blocking(move || webm::write(path, has_video, queue)).await;
            recordings.metrics.recordings.dec();
            match written {
                Ok(Ok(Some(written))) => recordings.keep(stream, written).await,
                Ok(Ok(None)) => tracing::info!(stream = %stream.stream_id, "nothing recorded"),
                Ok(Err(e)) => {
                    recordings.metrics.recording_failures.inc();
                    tracing::error!(error = %e, stream = %stream.stream_id, "recording failed");
                }
                Err(e) => tracing::error!(error = %e, "recording writer panicked"),
            }
        });
        Recorder {
            frames,
            metrics: self.metrics.clone(),
        }
    }

    /// Stores a written file among the app's files and reports it; the scratch file goes
    /// either way.
    async fn keep(&self, stream: StreamOf, written: Written) {
        let outcome = self.store_and_report(&stream, &written).await;
        let _ = tokio::fs::remove_file(&written.path).await;
        match outcome {
            Ok(()) => self.metrics.recordings_stored.inc(),
            Err(e) => {
                self.metrics.recording_failures.inc();
                tracing::error!(error = %e, file = %stream.file_id, "recorded file not kept");
                let name = ObjectName::Original {
                    app_key: &stream.publisher.app_key,
                    file_id: &stream.file_id,
                };
                let _ = self.store.delete(name).await;
            }
        }
    }

    async fn store_and_report(&self, stream: &StreamOf, written: &Written) -> Result<(), String> {
        let app_key = &stream.publisher.app_key;
        let sha256 = self.upload(stream, written).await?;
        let lifetime_ms = match self.budget(app_key).await? {
            FileAnswer::Budget(limits, _) => limits.link_lifetime_secs() * 1_000,
            other => return Err(format!("unexpected answer {other:?}")),
        };
        let now_ms = meridian_clock::now_ms();
        let started_ms = now_ms.saturating_sub(millis(written.started.elapsed()));
        let file = FileRecord {
            file_id: stream.file_id.clone(),
            kind: FileKind::Video,
            owner: stream.publisher.user_id.clone(),
            size: written.size,
            content_type: "video/webm".into(),
            name: format!(
                "{}-{}-{}.webm",
                stream.publisher.room_id, stream.publisher.user_id, stream.stream_id
            ),
            sha256,
            created_ms: now_ms,
            has_preview: false,
            expires_ms: now_ms + lifetime_ms,
        };
        let recorded = RecordedStream {
            room_id: stream.publisher.room_id.clone(),
            session_id: stream.order.session_id.clone(),
            user_id: stream.publisher.user_id.clone(),
            stream_id: stream.stream_id.clone(),
            file_id: stream.file_id.clone(),
            size: written.size,
            started_ms,
            duration_ms: millis(written.duration),
            expires_ms: file.expires_ms,
            tracks: written.tracks.clone(),
        };
        let command = Command::ChangeRecording(ChangeRecording {
            app_key: app_key.clone(),
            room_id: stream.publisher.room_id.clone(),
            change: RecordingChange::Stored(Box::new(StoredStream {
                file,
                stream: recorded,
                callback_url: stream.order.callback_url.clone(),
            })),
        });
        self.report(command).await
    }

    async fn upload(&self, stream: &StreamOf, written: &Written) -> Result<String, String> {
        let name = ObjectName::Original {
            app_key: &stream.publisher.app_key,
            file_id: &stream.file_id,
        };
        let mut file = tokio::fs::File::open(&written.path)
            .await
            .map_err(|e| e.to_string())?;
        let mut upload = self.store.upload(name);
        loop {
            let mut chunk = vec![0u8; UPLOAD_CHUNK];
            let n = file.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            chunk.truncate(n);
            if let Err(e) = upload.write(Bytes::from(chunk)).await {
                upload.abort().await;
                return Err(e.to_string());
            }
        }
        upload.finish().await.map_err(|e| e.to_string())
    }

    async fn budget(&self, app_key: &str) -> Result<FileAnswer, String> {
        let query = Query::Files {
            app_key: app_key.to_string(),
            question: FileQuestion::Budget,
        };
        match self.cluster.read(query).await {
            Ok(QueryOutput::Files(answer)) => Ok(answer),
            Ok(other) => Err(format!("unexpected answer {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Commits the stored file, retrying while the area elects a leader (the command is
    /// idempotent: a retry of a committed one changes nothing).
    async fn report(&self, command: Command) -> Result<(), String> {
        let envelope = Envelope {
            area: self.cluster.area(),
            command,
        };
        let mut wait = Duration::from_millis(200);
        for _ in 1..STORE_ATTEMPTS {
            match self.cluster.write_one(envelope.clone()).await {
                Ok(_) => return Ok(()),
                Err(ClusterError::Refused(refused)) => return Err(refused.to_string()),
                Err(e) => tracing::warn!(error = %e, "recorded file not reported yet"),
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
        self.cluster
            .write_one(envelope)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Which stream a file records, under which order.
struct StreamOf {
    publisher: Member,
    stream_id: String,
    file_id: String,
    order: RecordingOrder,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The rooms the area records now: app → room → order (looked up per frame, by `&str`).
#[derive(Debug, Default)]
pub(crate) struct Orders(HashMap<String, HashMap<String, RecordingOrder>>);

impl Orders {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Reads the area's recording orders.
    pub(crate) async fn read(cluster: &ClusterClient) -> Result<Orders, ClusterError> {
        let QueryOutput::RtcRecordings(list) = cluster.read(Query::RtcRecordings).await? else {
            return Err(ClusterError::Protocol("unexpected answer to orders".into()));
        };
        let mut orders = Orders::new();
        for order in list {
            orders
                .0
                .entry(order.app_key.clone())
                .or_default()
                .insert(order.room_id.clone(), order);
        }
        Ok(orders)
    }

    /// The order recording `member`'s room, if any.
    pub(crate) fn of(&self, member: &Member) -> Option<&RecordingOrder> {
        self.0.get(&member.app_key)?.get(&member.room_id)
    }
}
