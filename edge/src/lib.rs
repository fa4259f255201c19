//! The edge: the access point clients and app servers reach. It is stateless apart from
//! live sessions and forwards everything to the home area's cluster. It serves the Server
//! API and the operator admin API for the areas it fronts, and its health and metrics
//! endpoints; client sessions build on it.

pub mod config;
mod files;
mod metrics;
pub mod moderation;
mod server;
pub mod server_api;
pub mod sessions;
mod usage;

pub use config::{
    DirectoryArea, EdgeArea, EdgeConfig, SessionSettings, DEFAULT_FILE_SWEEP_MS,
    DEFAULT_USAGE_FLUSH_MS,
};
pub use meridian_files::StoreConfig;
pub use server::{Edge, EdgeError};
pub use sessions::{PLANTED_BUG_AVAILABLE, PLANTED_BUG_ENV};

/// Message times and token checks read the one wall clock.
pub(crate) use meridian_clock::now_ms;
