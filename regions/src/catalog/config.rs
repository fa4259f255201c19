//! An area's configuration as its TOML file holds it, and the checks of each value.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::area::AreaCode;

/// Configuration of one area, as written in its TOML file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaConfig {
    pub code: AreaCode,
    /// Navigation service hosts clients call first.
    pub nav: HostPair,
    /// Server API hosts app servers call.
    pub api: HostPair,
    pub edges: EdgeDiscovery,
    pub cluster: ClusterSeeds,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default)]
    pub rate_limits: RateLimits,
}

/// A primary host and the backup clients fall back to (`host[:port]` or a URL).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostPair {
    pub primary: String,
    pub backup: String,
}

/// Where nav finds the area's edges: a DNS SRV name, a static list, or both
/// (the static list is the fallback when DNS is unavailable).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeDiscovery {
    /// DNS SRV name, e.g. `_meridian-edge._tcp.sg.meridian.example`.
    /// (Always serialized: the cluster stores entries in a format that is not
    /// self-describing.)
    #[serde(default)]
    pub discovery: Option<String>,
    /// `host:port` of edges to use when discovery is absent or fails.
    #[serde(default, rename = "static")]
    pub static_edges: Vec<String>,
    /// Whether the edges serve TLS (`wss://`, `https://`).
    #[serde(default)]
    pub tls: bool,
}

/// How clients and app servers reach one area: what the operator admin API's area
/// catalog keeps (`/admin/v1/areas`), the same sections as an area's TOML file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    pub code: AreaCode,
    pub nav: HostPair,
    pub api: HostPair,
    pub edges: EdgeDiscovery,
}

impl CatalogEntry {
    pub fn validate(&self) -> Result<(), InvalidKey> {
        self.nav.validate("nav")?;
        self.api.validate("api")?;
        self.edges.validate()
    }
}

/// Seed peers of the area's Raft cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSeeds {
    pub peers: Vec<SeedPeer>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPeer {
    /// Raft node id; unique within the area.
    pub id: u64,
    /// Internal RPC address, `host:port`.
    pub addr: String,
}

/// Retention periods in days (SPEC PRV-02, PRV-04, ULG-04). Keys left out of the
/// file take the defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retention {
    /// Offline messages kept for an absent recipient, 1..=7.
    pub offline_days: u32,
    pub private_history_days: u32,
    pub group_history_days: u32,
    /// 1..=1095 (36 months).
    pub ultragroup_history_days: u32,
    pub chatroom_history_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            offline_days: 7,
            private_history_days: 180,
            group_history_days: 180,
            ultragroup_history_days: 7,
            chatroom_history_days: 60,
        }
    }
}

/// Rate limits (SPEC MSG-06, SYS-04). Keys left out of the file take the defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Per client connection.
    pub client_messages_per_sec: u32,
    /// Server API sends to private and group conversations, per app.
    pub api_private_group_per_sec: u32,
    /// Server API sends to ultra groups and chatrooms, per app.
    pub api_ultragroup_chatroom_per_sec: u32,
    /// Broadcast / push-to-all, per app.
    pub broadcasts_per_hour: u32,
    pub broadcasts_per_day: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            client_messages_per_sec: 5,
            api_private_group_per_sec: 20,
            api_ultragroup_chatroom_per_sec: 100,
            broadcasts_per_hour: 2,
            broadcasts_per_day: 3,
        }
    }
}

/// A value that parsed but is not allowed: which key, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("key {key}: {reason}")]
pub struct InvalidKey {
    /// Dotted path, e.g. `cluster.peers[1].id`.
    pub key: String,
    pub reason: String,
}

impl InvalidKey {
    fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        InvalidKey {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

impl AreaConfig {
    /// Checks every value's range and consistency; reports the first problem in
    /// file order.
    pub fn validate(&self) -> Result<(), InvalidKey> {
        self.entry().validate()?;
        self.cluster.validate()?;
        self.retention.validate()?;
        self.rate_limits.validate()
    }
}

impl AreaConfig {
    /// The catalog entry this file describes.
    pub fn entry(&self) -> CatalogEntry {
        CatalogEntry {
            code: self.code,
            nav: self.nav.clone(),
            api: self.api.clone(),
            edges: self.edges.clone(),
        }
    }
}

impl HostPair {
    fn validate(&self, section: &str) -> Result<(), InvalidKey> {
        check_host(&format!("{section}.primary"), &self.primary)?;
        check_host(&format!("{section}.backup"), &self.backup)
    }
}

impl EdgeDiscovery {
    fn validate(&self) -> Result<(), InvalidKey> {
        if let Some(name) = &self.discovery {
            check_host("edges.discovery", name)?;
        }
        for (i, edge) in self.static_edges.iter().enumerate() {
            check_host(&format!("edges.static[{i}]"), edge)?;
        }
        // With neither source nav could never answer a client of this area.
        if self.discovery.is_none() && self.static_edges.is_empty() {
            return Err(InvalidKey::new(
                "edges",
                "needs a discovery name or at least one static edge",
            ));
        }
        Ok(())
    }
}

impl ClusterSeeds {
    fn validate(&self) -> Result<(), InvalidKey> {
        if self.peers.is_empty() {
            return Err(InvalidKey::new(
                "cluster.peers",
                "must list at least one seed peer",
            ));
        }
        let mut ids: HashMap<u64, usize> = HashMap::new();
        let mut addrs: HashMap<&str, usize> = HashMap::new();
        for (i, peer) in self.peers.iter().enumerate() {
            if let Some(first) = ids.insert(peer.id, i) {
                return Err(InvalidKey::new(
                    format!("cluster.peers[{i}].id"),
                    format!(
                        "duplicate peer id {} (also cluster.peers[{first}].id)",
                        peer.id
                    ),
                ));
            }
            let key = format!("cluster.peers[{i}].addr");
            check_host(&key, &peer.addr)?;
            if let Some(first) = addrs.insert(peer.addr.as_str(), i) {
                return Err(InvalidKey::new(
                    key,
                    format!(
                        "duplicate peer address {:?} (also cluster.peers[{first}].addr)",
                        peer.addr
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Retention {
    fn validate(&self) -> Result<(), InvalidKey> {
        check_range("retention.offline_days", self.offline_days, 1, 7)?;
        check_min(
            "retention.private_history_days",
            self.private_history_days,
            1,
        )?;
        check_min("retention.group_history_days", self.group_history_days, 1)?;
        check_range(
            "retention.ultragroup_history_days",
            self.ultragroup_history_days,
            1,
            1095,
        )?;
        check_min(
            "retention.chatroom_history_days",
            self.chatroom_history_days,
            1,
        )
    }
}

impl RateLimits {
    fn validate(&self) -> Result<(), InvalidKey> {
        // A zero limit would silently disable sending; that is never intended.
        check_min(
            "rate_limits.client_messages_per_sec",
            self.client_messages_per_sec,
            1,
        )?;
        check_min(
            "rate_limits.api_private_group_per_sec",
            self.api_private_group_per_sec,
            1,
        )?;
        check_min(
            "rate_limits.api_ultragroup_chatroom_per_sec",
            self.api_ultragroup_chatroom_per_sec,
            1,
        )?;
        check_min(
            "rate_limits.broadcasts_per_hour",
            self.broadcasts_per_hour,
            1,
        )?;
        // A day allowance below the hourly one would make the hourly limit a lie.
        if self.broadcasts_per_day < self.broadcasts_per_hour {
            return Err(InvalidKey::new(
                "rate_limits.broadcasts_per_day",
                format!(
                    "must be at least broadcasts_per_hour ({}), got {}",
                    self.broadcasts_per_hour, self.broadcasts_per_day
                ),
            ));
        }
        Ok(())
    }
}

fn check_host(key: &str, value: &str) -> Result<(), InvalidKey> {
    if value.trim().is_empty() {
        return Err(InvalidKey::new(key, "must not be empty"));
    }
    if value.chars().any(char::is_whitespace) {
        return Err(InvalidKey::new(
            key,
            format!("must not contain whitespace, got {value:?}"),
        ));
    }
    Ok(())
}

fn check_range(key: &str, value: u32, min: u32, max: u32) -> Result<(), InvalidKey> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(InvalidKey::new(
            key,
            format!("must be between {min} and {max}, got {value}"),
        ))
    }
}

fn check_min(key: &str, value: u32, min: u32) -> Result<(), InvalidKey> {
    if value >= min {
        Ok(())
    } else {
        Err(InvalidKey::new(
            key,
            format!("must be at least {min}, got {value}"),
        ))
    }
}
