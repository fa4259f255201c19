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
