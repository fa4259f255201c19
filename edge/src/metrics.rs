use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

#[derive(Clone)]
pub(crate) struct EdgeMetrics {
    pub admin_requests: IntCounterVec,
    pub sessions: IntGaugeVec,
    pub frames_in: IntCounterVec,
    pub frames_out: IntCounter,
    pub send_seconds: Histogram,
    pub session_closes: IntCounterVec,
    pub feed_events: IntCounter,
    pub resyncs: IntCounter,
    pub chatroom_drops: IntCounterVec,
    pub api_requests: IntCounterVec,
    pub api_seconds: HistogramVec,
    pub moderation_seconds: HistogramVec,
}

impl EdgeMetrics {
    pub fn register(registry: &Registry, areas: usize) -> prometheus::Result<Self> {
        let admin_requests = IntCounterVec::new(
            Opts::new(
                "meridian_edge_admin_requests_total",
                "Operator admin API requests handled by this edge, by area and HTTP status",
            ),
            &["area", "code"],
        )?;
        registry.register(Box::new(admin_requests.clone()))?;
        let served = IntGauge::new("meridian_edge_areas_served", "Areas this edge fronts")?;
        served.set(areas as i64);
        registry.register(Box::new(served))?;
        let sessions = IntGaugeVec::new(
            Opts::new(
                "meridian_edge_sessions",
                "Live client sessions, by area and platform",
            ),
            &["area", "platform"],
        )?;
        registry.register(Box::new(sessions.clone()))?;
        let frames_in = IntCounterVec::new(
            Opts::new(
                "meridian_edge_frames_in_total",
                "Client frames received, by frame type",
            ),
            &["op"],
        )?;
        registry.register(Box::new(frames_in.clone()))?;
        let frames_out =
            IntCounter::new("meridian_edge_frames_out_total", "Frames sent to clients")?;
        registry.register(Box::new(frames_out.clone()))?;
        let send_seconds = Histogram::with_opts(HistogramOpts::new(
            "meridian_edge_send_seconds",
            "From a client send frame to its acknowledgement (after the Raft commit)",
        ))?;
        registry.register(Box::new(send_seconds.clone()))?;
        let session_closes = IntCounterVec::new(
            Opts::new(
                "meridian_edge_session_closes_total",
                "Sessions ended, by reason (closed, idle, kicked, slow, drain, refused)",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(session_closes.clone()))?;
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
        let chatroom_drops = IntCounterVec::new(
            Opts::new(
                "meridian_edge_chatroom_drops_total",
                "Chatroom messages sent through this edge and shed under load (CHR-06), by priority",
            ),
            &["priority"],
        )?;
        registry.register(Box::new(chatroom_drops.clone()))?;
        let api_requests = IntCounterVec::new(
            Opts::new(
                "meridian_edge_api_requests_total",
                "Server API calls answered, by path (unknown paths as \"unknown\") and Server API code",
            ),
            &["path", "code"],
        )?;
        registry.register(Box::new(api_requests.clone()))?;
        let api_seconds = HistogramVec::new(
            HistogramOpts::new(
                "meridian_edge_api_seconds",
                "Server API calls from request to answer, by path",
            ),
            &["path"],
        )?;
        registry.register(Box::new(api_seconds.clone()))?;
        let moderation_seconds = HistogramVec::new(
            HistogramOpts::new(
                "meridian_edge_moderation_seconds",
                "How long client messages were held for the app's moderation callback (HOOK-02), by outcome (pass, block, replace, default)",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(moderation_seconds.clone()))?;
        Ok(Self {
            moderation_seconds,
            api_requests,
            api_seconds,
            chatroom_drops,
            admin_requests,
            sessions,
            frames_in,
            frames_out,
            send_seconds,
            session_closes,
            feed_events,
            resyncs,
        })
    }
}
