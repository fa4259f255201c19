//! Meridian telemetry: the admin HTTP endpoint every process serves
//! (`/metrics`, `/stats`, `/healthz`, `/readyz`, plus an optional operator
//! API on the same port), process metrics and logging setup.
//!
//! # Metric naming
//!
//! Every process has one [`prometheus::Registry`]; each crate defines its
//! metrics in one module and registers them into it. Names follow
//! `meridian_<component>_<what>_<unit>` (e.g. `meridian_edge_sessions`,
//! `meridian_cluster_append_duration_seconds`,
//! `meridian_process_resident_memory_bytes`): counters end in `_total`,
//! durations are histograms in seconds, and labels are bounded (area, op,
//! code), never a user or app id. Every `/metrics` output must pass
//! `promtool check metrics`.

pub mod admin;
pub mod labels;
pub mod listen;
pub mod logging;
pub mod process;

pub use admin::{
    json_response, serve_admin, whole_body, AdminHooks, AdminServer, Divert, PeerAddr, Running,
    StreamBody, DEFAULT_BODY_LIMIT, DEFAULT_DRAIN_TIMEOUT, METRICS_CONTENT_TYPE,
};
pub use listen::{free_loopback_port, listen, ListenError};
pub use logging::{
    init_logging, init_logging_while_starting, LogFormat, ParseLogFormatError, StartingLogs,
};
pub use process::ProcessMetrics;

/// Bucket bounds (seconds) of the write and delivery latency histograms: fine below
/// 5 ms, where the latency targets lie, so a hop's p99 can be read from them.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075,
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A histogram with these bucket bounds, registered with `registry`.
pub fn histogram(
    registry: &prometheus::Registry,
    name: &str,
    help: &str,
    buckets: &[f64],
) -> prometheus::Result<prometheus::Histogram> {
    let opts = prometheus::HistogramOpts::new(name, help).buckets(buckets.to_vec());
    let histogram = prometheus::Histogram::with_opts(opts)?;
    registry.register(Box::new(histogram.clone()))?;
    Ok(histogram)
}
