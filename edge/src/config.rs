//! An edge's configuration (`meridian edge --config edge.toml`).

use meridian_regions::AreaCode;
use meridian_rpc::{PublicTlsFiles, TlsFiles};
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
    /// TLS on the public listener (`wss://` sessions, `https://` Server API); plain when
    /// absent (loopback deployments such as `meridian dev`).
    #[serde(default)]
    pub public_tls: Option<PublicTlsFiles>,
    /// Client sessions (`/websocket`).
    #[serde(default)]
    pub sessions: SessionSettings,
    /// CA certificates (PEM files) trusted for moderation callbacks besides the web's
    /// public roots: app servers behind a private CA.
    #[serde(default)]
    pub outbound_ca_files: Vec<std::path::PathBuf>,
    /// How often this edge sweeps its areas' file stores for expired files and orphans
    /// (FILE-04).
    #[serde(default = "default_file_sweep_ms")]
    pub file_sweep_ms: u64,
    /// How often this edge sends its apps' usage counts (Server API calls, push clicks)
    /// to their areas (CON-01).
    #[serde(default = "default_usage_flush_ms")]
    pub usage_flush_ms: u64,
}

/// Limits and timers of client sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    /// How often clients should ping (sent to them on connect).
    pub heartbeat_ms: u64,
    /// A session that sends nothing for this long is closed.
    pub idle_timeout_ms: u64,
    /// An upper bound on every app's offline window (PRV-02: each app chooses 1–7 days,
    /// default 7); an operator may keep less.
    pub offline_window_secs: u64,
    /// Messages one connection may send per second (MSG-06).
    pub sends_per_second: u32,
    /// Live events queued for one session; past this it stops taking them and catches up
    /// by a sync instead (a client whose socket takes no frame for 5 s is disconnected).
    pub queue_frames: usize,
    /// An audio/video room member whose session ends keeps its place and resources this
    /// long, for a reconnect (RTC-01).
    pub rtc_reconnect_ms: u64,
    /// Ask each leader for only the feed events of this edge's sessions (DESIGN §4,
    /// "Filtered per edge"); off, the edge reads the whole feed, as before filtering.
    pub filter_feed: bool,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            heartbeat_ms: 30_000,
            idle_timeout_ms: 90_000,
            offline_window_secs: 7 * 24 * 3600,
            sends_per_second: 5,
            queue_frames: 256,
            rtc_reconnect_ms: meridian_cluster::state::rtc::RECONNECT_TIMEOUT_MS,
            filter_feed: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeArea {
    pub area: AreaCode,
    /// RPC addresses of (some of) the area's cluster nodes.
    pub cluster: Vec<String>,
    /// Dial these nodes (by id) at another address than the one their leader hints
    /// name: a proxy or a NAT in between (the chaos harness puts a proxy on every link).
    #[serde(default)]
    pub routes: Vec<meridian_regions::SeedPeer>,
    /// Where the area's uploaded files live (FILE-02); without it this edge serves no
    /// uploads or downloads for the area. Every edge of an area names the same store.
    #[serde(default)]
    pub files: Option<meridian_files::StoreConfig>,
    /// The base URL of the area's media server (WHIP/WHEP, `meridian media`), handed to
    /// clients in `rtcJoined`; without it clients are told of none.
    #[serde(default)]
    pub media: Option<String>,
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

/// Every ten minutes: expired files go soon after their links stop working.
pub const DEFAULT_FILE_SWEEP_MS: u64 = 600_000;

fn default_file_sweep_ms() -> u64 {
    DEFAULT_FILE_SWEEP_MS
}

/// Every two seconds: charts move soon after the calls, at one small write per app.
pub const DEFAULT_USAGE_FLUSH_MS: u64 = 2_000;

fn default_usage_flush_ms() -> u64 {
    DEFAULT_USAGE_FLUSH_MS
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
        for (key, ms) in [
            ("file_sweep_ms", self.file_sweep_ms),
            ("usage_flush_ms", self.usage_flush_ms),
        ] {
            if ms == 0 {
                return Err(bad(key.into(), "must be at least 1"));
            }
        }
        let sessions = &self.sessions;
        if !(1..=7 * 24 * 3600).contains(&sessions.offline_window_secs) {
            return Err(bad(
                "sessions.offline_window_secs".into(),
                "must be 1 second to 7 days",
            ));
        }
        if sessions.heartbeat_ms == 0 || sessions.idle_timeout_ms <= sessions.heartbeat_ms {
            return Err(bad(
                "sessions.idle_timeout_ms".into(),
                "must be longer than a non-zero heartbeat_ms",
            ));
        }
        if sessions.sends_per_second == 0 || sessions.queue_frames < 16 {
            return Err(bad(
                "sessions".into(),
                "sends_per_second must be at least 1 and queue_frames at least 16",
            ));
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
