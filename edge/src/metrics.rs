use meridian_telemetry::labels::{CounterFamily, GaugeFamily, HistogramFamily};
use meridian_telemetry::{histogram, label_set, LATENCY_BUCKETS};
use prometheus::{Histogram, IntCounter, IntGauge, Registry};

label_set! {
    /// An admin API answer: the area asked about and the HTTP status.
    pub(crate) struct AdminAnswer { area: &'static str, code: u16 }
}

label_set! {
    pub(crate) struct SessionKind { area: &'static str, platform: &'static str }
}

label_set! {
    /// A client frame's type.
    pub(crate) struct FrameOp { op: &'static str }
}

label_set! {
    /// Why a session ended.
    pub(crate) struct CloseReason { reason: &'static str }
}

label_set! {
    /// The priority class of a chatroom message shed under load.
    pub(crate) struct DropPriority { priority: &'static str }
}

label_set! {
    /// A Server API call: its path and its Server API code.
    pub(crate) struct ApiAnswer { path: String, code: u32 }
}

label_set! {
    pub(crate) struct ApiPath { path: String }
}

label_set! {
    /// How the app's moderation callback decided.
    pub(crate) struct ModerationOutcome { outcome: &'static str }
}

label_set! {
    pub(crate) struct FileArea { area: &'static str }
}

label_set! {
    /// An upload's end: stored, or why not (too_large, quota, invalid, unavailable, …).
    pub(crate) struct UploadResult { area: &'static str, result: &'static str }
}

label_set! {
    /// Why the file sweep removed files (FILE-04): expired, orphan.
    pub(crate) struct FileSwept { area: &'static str, reason: &'static str }
}

#[derive(Clone)]
pub(crate) struct EdgeMetrics {
    pub admin_requests: CounterFamily<AdminAnswer>,
    pub sessions: GaugeFamily<SessionKind>,
    pub frames_in: CounterFamily<FrameOp>,
    pub frames_out: IntCounter,
    pub send_seconds: Histogram,
    pub delivery_seconds: Histogram,
    pub session_closes: CounterFamily<CloseReason>,
    pub feed_events: IntCounter,
    pub resyncs: IntCounter,
    pub chatroom_drops: CounterFamily<DropPriority>,
    pub api_requests: CounterFamily<ApiAnswer>,
    pub api_seconds: HistogramFamily<ApiPath>,
    pub moderation_seconds: HistogramFamily<ModerationOutcome>,
    pub file_bytes_stored: CounterFamily<FileArea>,
    pub file_bytes_served: CounterFamily<FileArea>,
    pub uploads: CounterFamily<UploadResult>,
    pub files_swept: CounterFamily<FileSwept>,
    pub rtc_seconds: HistogramFamily<FrameOp>,
}

impl EdgeMetrics {
    pub fn register(registry: &Registry, areas: usize) -> prometheus::Result<Self> {
        let served = IntGauge::new("meridian_edge_areas_served", "Areas this edge fronts")?;
        served.set(areas as i64);
        registry.register(Box::new(served))?;
        let frames_out =
            IntCounter::new("meridian_edge_frames_out_total", "Frames sent to clients")?;
        registry.register(Box::new(frames_out.clone()))?;
        let send_seconds = histogram(
            registry,
            "meridian_edge_send_seconds",
            "From a client send frame to its acknowledgement (after the Raft commit)",
            LATENCY_BUCKETS,
        )?;
        let delivery_seconds = histogram(
            registry,
            "meridian_edge_delivery_seconds",
            "From a feed page's arrival at this edge to the write of its frames to a session's socket (one observation per write, timed by its oldest frame)",
            LATENCY_BUCKETS,
        )?;
        let feed_events = IntCounter::new(
            "meridian_edge_feed_events_total",
            "Events read from the areas' feeds",
        )?;
        registry.register(Box::new(feed_events.clone()))?;
        let resyncs = IntCounter::new(
            "meridian_edge_session_resyncs_total",
            "Sessions that fell behind their live queue and caught up by a sync instead",
        )?;
        registry.register(Box::new(resyncs.clone()))?;
        Ok(Self {
            admin_requests: CounterFamily::counter(
                registry,
                "meridian_edge_admin_requests_total",
                "Operator admin API requests handled by this edge, by area and HTTP status",
            )?,
            sessions: GaugeFamily::gauge(
                registry,
                "meridian_edge_sessions",
                "Live client sessions, by area and platform",
            )?,
            frames_in: CounterFamily::counter(
                registry,
                "meridian_edge_frames_in_total",
                "Client frames received, by frame type",
            )?,
            frames_out,
            send_seconds,
            delivery_seconds,
            session_closes: CounterFamily::counter(
                registry,
                "meridian_edge_session_closes_total",
                "Sessions ended, by reason (closed, idle, kicked, slow, drain, refused)",
            )?,
            feed_events,
            resyncs,
            chatroom_drops: CounterFamily::counter(
                registry,
                "meridian_edge_chatroom_drops_total",
                "Chatroom messages sent through this edge and shed under load (CHR-06), by priority",
            )?,
            api_requests: CounterFamily::counter(
                registry,
                "meridian_edge_api_requests_total",
                "Server API calls answered, by path (unknown paths as \"unknown\") and Server API code",
            )?,
            api_seconds: HistogramFamily::histogram(
                registry,
                "meridian_edge_api_seconds",
                "Server API calls from request to answer, by path",
                None,
            )?,
            moderation_seconds: HistogramFamily::histogram(
                registry,
                "meridian_edge_moderation_seconds",
                "How long client messages were held for the app's moderation callback (HOOK-02), by outcome (pass, block, replace, default)",
                None,
            )?,
            file_bytes_stored: CounterFamily::counter(
                registry,
                "meridian_edge_file_bytes_stored_total",
                "Bytes of uploaded files (and their previews) this edge stored, by area",
            )?,
            file_bytes_served: CounterFamily::counter(
                registry,
                "meridian_edge_file_bytes_served_total",
                "Bytes of files this edge served to downloads, by area",
            )?,
            uploads: CounterFamily::counter(
                registry,
                "meridian_edge_file_uploads_total",
                "Uploads by area and result (stored; refused: too_large, quota, invalid, denied; failed: unavailable)",
            )?,
            files_swept: CounterFamily::counter(
                registry,
                "meridian_edge_files_swept_total",
                "Files whose objects this edge's sweep deleted, by area and reason (expired: past their lifetime; orphan: stored a day ago and never recorded; stale_part: a chunk of a resumable upload that never finished)",
            )?,
            rtc_seconds: HistogramFamily::histogram(
                registry,
                "meridian_edge_rtc_seconds",
                "Audio/video room requests from frame to answer (after the Raft commit), by frame type",
                None,
            )?,
        })
    }
}
