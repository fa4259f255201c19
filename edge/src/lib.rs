//! The edge: the access point clients and app servers reach. It is stateless apart from
//! live sessions and forwards everything to the home area's cluster. For now it serves its
//! health and metrics endpoints and the operator admin API for the areas it fronts; the
//! Server API and client sessions build on it.

pub mod config;
mod metrics;
mod server;

pub use config::{EdgeArea, EdgeConfig};
pub use server::{Edge, EdgeError};
