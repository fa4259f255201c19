//! An edge's configuration (`meridian edge --config edge.toml`).

use meridian_regions::AreaCode;
use meridian_rpc::TlsFiles;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeConfig {
    /// Where this edge runs (a PoP name); nav prefers edges near the client.
    #[serde(default = "default_location")]
    pub location: String,
    /// Public listener: client connections, the Server API and the admin API.
    pub listen: String,
    /// `/metrics`, `/stats`, `/healthz`, `/readyz`.
    pub admin_listen: String,
    pub operator_token: String,
    /// The areas this edge fronts and how to reach each one's cluster.
    pub areas: Vec<EdgeArea>,
    /// Other areas, consulted only to tell an app server which area its app lives in.
    #[serde(default)]
    pub directory: Vec<DirectoryArea>,
    /// Per-app Server API rate limits (COMPAT.md); only benchmarks of the pipeline turn
    /// them off.
    #[serde(default = "enabled")]
    pub rate_limits: bool,
    /// mTLS identity towards clusters.
    #[serde(default)]
    pub tls: Option<TlsFiles>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeArea {
    pub area: AreaCode,
    /// RPC addresses of (some of) the area's cluster nodes.
    pub cluster: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryArea {
    pub area: AreaCode,
    pub cluster: Vec<String>,
    /// That area's Server API base URL, named in wrong-area answers.
    pub api: String,
}

fn enabled() -> bool {
    true
}

fn default_location() -> String {
    "local".to_string()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key {key}: {reason}")]
pub struct ConfigError {
    pub key: String,
    pub reason: String,
}

impl EdgeConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: String, reason: &str| ConfigError {
            key,
            reason: reason.to_string(),
        };
        for (key, addr) in [
            ("listen", &self.listen),
            ("admin_listen", &self.admin_listen),
        ] {
            if addr.parse::<std::net::SocketAddr>().is_err() {
                return Err(bad(key.into(), "must be an ip:port address"));
            }
        }
        if self.operator_token.len() < 16 {
            return Err(bad(
                "operator_token".into(),
                "must be at least 16 characters",
            ));
        }
        if self.areas.is_empty() {
            return Err(bad("areas".into(), "an edge must front at least one area"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, area) in self.areas.iter().enumerate() {
            if !seen.insert(area.area) {
                return Err(bad(format!("areas[{i}].area"), "listed twice"));
            }
            if area.cluster.is_empty() {
                return Err(bad(
                    format!("areas[{i}].cluster"),
                    "needs at least one node address",
                ));
            }
        }
        Ok(())
    }
}
