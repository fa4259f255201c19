use meridian_telemetry::label_set;
use meridian_telemetry::labels::{CounterFamily, GaugeFamily};
use prometheus::{Histogram, IntCounter, IntGauge, Registry};

label_set! {
    /// Which way a transport carries media: `publish` (WHIP) or `subscribe` (WHEP).
    pub(crate) struct Way { way: &'static str }
}

label_set! {
    /// `audio` or `video`.
    pub(crate) struct Kind { kind: &'static str }
}

label_set! {
    /// A media line of a transport: which way it carries media, and what.
    pub(crate) struct Track { way: &'static str, kind: &'static str }
}

label_set! {
    /// A WHIP/WHEP request's answer.
    pub(crate) struct Answer { endpoint: &'static str, status: u16 }
}

/// Fine below the SFU's 2 ms target, coarse above.
const FORWARD_DELAY_BUCKETS: [f64; 12] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5,
];

#[derive(Clone)]
pub(crate) struct MediaMetrics {
    pub transports: GaugeFamily<Way>,
    pub tracks: GaugeFamily<Track>,
    pub received_bytes: CounterFamily<Kind>,
    pub forwarded_bytes: CounterFamily<Kind>,
    pub forwarded_frames: CounterFamily<Kind>,
    pub keyframe_requests: IntCounter,
    pub evictions: IntCounter,
    pub requests: CounterFamily<Answer>,
    pub layer_switches: IntCounter,
    pub nacks: CounterFamily<Way>,
    pub packets_lost: IntCounter,
    pub speaker_changes: IntCounter,
    pub recordings: IntGauge,
    pub recordings_stored: IntCounter,
    pub recording_failures: IntCounter,
    pub recording_dropped_frames: IntCounter,
    pub mixes: IntGauge,
    pub mix_failures: IntCounter,
    pub tcp_connections: IntGauge,
    pub forward_delay: Histogram,
    pub copy_delay: Histogram,
}

impl MediaMetrics {
    pub(crate) fn register(registry: &Registry) -> prometheus::Result<Self> {
        let counter = |name: &str, help: &str| -> prometheus::Result<IntCounter> {
            let counter = IntCounter::new(name, help)?;
            registry.register(Box::new(counter.clone()))?;
            Ok(counter)
        };
        let gauge = |name: &str, help: &str| -> prometheus::Result<IntGauge> {
            let gauge = IntGauge::new(name, help)?;
            registry.register(Box::new(gauge.clone()))?;
            Ok(gauge)
        };
        Ok(Self {
            transports: GaugeFamily::gauge(
                registry,
                "meridian_media_transports",
                "Open WebRTC transports (publishers and subscribers)",
            )?,
            tracks: GaugeFamily::gauge(
                registry,
                "meridian_media_tracks",
                "Media lines of open transports: published (received from publishers) and subscribed (sent to subscribers)",
            )?,
            received_bytes: CounterFamily::counter(
                registry,
                "meridian_media_received_bytes_total",
                "Media payload bytes received from publishers",
            )?,
            forwarded_bytes: CounterFamily::counter(
                registry,
                "meridian_media_forwarded_bytes_total",
                "Media payload bytes forwarded to subscribers",
            )?,
            forwarded_frames: CounterFamily::counter(
                registry,
                "meridian_media_forwarded_frames_total",
                "Media frames (audio samples, video frames) written to subscribers",
            )?,
            keyframe_requests: counter(
                "meridian_media_keyframe_requests_total",
                "Keyframe requests (PLI/FIR) sent to publishers",
            )?,
            evictions: counter(
                "meridian_media_evictions_total",
                "Transports closed because their member left the room or lost its role",
            )?,
            requests: CounterFamily::counter(
                registry,
                "meridian_media_requests_total",
                "WHIP/WHEP requests by endpoint and HTTP status",
            )?,
            layer_switches: counter(
                "meridian_media_layer_switches_total",
                "Subscribers moved to another simulcast layer by their bandwidth estimate",
            )?,
            nacks: CounterFamily::counter(
                registry,
                "meridian_media_nacks_total",
                "NACKs (retransmission requests): sent to publishers for packets lost on the way in (`publish`), received from subscribers for packets lost on the way out (`subscribe`)",
            )?,
            packets_lost: counter(
                "meridian_media_packets_lost_total",
                "Packets subscribers' receiver reports (RTCP) counted lost on the way to them",
            )?,
            speaker_changes: counter(
                "meridian_media_speaker_changes_total",
                "Changes of a room's speakers (who, loudest first) told to its members",
            )?,
            recordings: gauge(
                "meridian_media_recordings",
                "Streams being recorded to files now (RTC-07)",
            )?,
            recordings_stored: counter(
                "meridian_media_recordings_stored_total",
                "Recorded files stored among their apps' files and reported",
            )?,
            recording_failures: counter(
                "meridian_media_recording_failures_total",
                "Recordings lost: the file could not be written, stored or reported",
            )?,
            recording_dropped_frames: counter(
                "meridian_media_recording_dropped_frames_total",
                "Frames left out of recordings because the file writer fell behind",
            )?,
            mixes: gauge(
                "meridian_media_mixes",
                "Rooms mixed and pushed to a CDN by this server now (RTC-09)",
            )?,
            mix_failures: counter(
                "meridian_media_mix_failures_total",
                "Mix pipelines that failed (a CDN refusing the push, a missing element) and are retried",
            )?,
            tcp_connections: gauge(
                "meridian_media_tcp_connections",
                "Open ICE-TCP connections of clients whose network blocks UDP",
            )?,
            forward_delay: meridian_telemetry::histogram(
                registry,
                "meridian_media_forward_delay_seconds",
                "From reading a packet that completes a frame to having sent that frame to every subscriber: the SFU's added latency",
                &FORWARD_DELAY_BUCKETS,
            )?,
            copy_delay: meridian_telemetry::histogram(
                registry,
                "meridian_media_copy_delay_seconds",
                "From reading a packet that completes a frame to handing one subscriber's copy of it to the socket",
                &FORWARD_DELAY_BUCKETS,
            )?,
        })
    }
}
