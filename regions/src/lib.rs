//! Area codes and the per-area catalog (`regions/areas/*.toml`).

pub mod area;
pub mod catalog;

pub use area::{AreaCode, UnknownAreaCode};
pub use catalog::{
    AreaConfig, Catalog, CatalogEntry, CatalogError, ClusterSeeds, EdgeDiscovery, HostPair,
    InvalidKey, Location, RateLimits, Retention, SeedPeer,
};
