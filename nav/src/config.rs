//! A nav's configuration (`meridian nav --config nav.toml`).

use std::net::IpAddr;

use meridian_regions::AreaCode;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NavRole {
    Primary,
    Backup,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NavConfig {
    pub listen: String,
    #[serde(default = "default_role")]
    pub role: NavRole,
    /// Areas this nav answers for.
    #[serde(default)]
    pub areas: Vec<NavArea>,
    /// Other areas: looked up to tell a client which area its app lives in, and that
    /// area's nav hosts.
    #[serde(default)]
    pub directory: Vec<NavArea>,
    /// How a client's location is found, for preferring edges near it.
    #[serde(default)]
    pub location: LocationRules,
    /// The ping interval clients are told.
    #[serde(default = "default_heartbeat_ms")]
    pub heartbeat_ms: u64,
    /// Where SRV names are looked up.
    #[serde(default)]
    pub dns: DnsConfig,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    /// Name servers (`ip:port`); the system's (`/etc/resolv.conf`) when empty.
    pub servers: Vec<String>,
}

/// One area as nav sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NavArea {
    pub area: AreaCode,
    /// RPC addresses of (some of) the area's cluster nodes, to look apps up.
    pub cluster: Vec<String>,
    /// Edges' public base URLs (`http://host:port`, `https://host:port`); nav polls their
    /// `/stats` for the areas they serve, their location and load.
    #[serde(default)]
    pub edges: Vec<String>,
    /// An SRV name whose targets are edges (`_meridian-edge._tcp.sg.example.com`), looked
    /// up every 5 s; its edges join the static ones.
    #[serde(default)]
    pub srv: Option<String>,
    /// Whether the edges found by SRV serve TLS (`https://`, `wss://`).
    #[serde(default)]
    pub edge_tls: bool,
    /// The area's Server API base URLs, handed to clients.
    #[serde(default)]
    pub api: Vec<String>,
    /// The area's nav hosts (primary first), named to clients of apps homed there.
    #[serde(default)]
    pub nav: Vec<String>,
}

/// Where a client is: the value of `header` when a front proxy sets it, else the
/// location of the longest IP prefix containing the client's address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocationRules {
    pub header: String,
    pub prefixes: Vec<LocationPrefix>,
}

impl Default for LocationRules {
    fn default() -> Self {
        Self {
            header: "X-Meridian-Location".into(),
            prefixes: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationPrefix {
    /// `10.1.0.0/16`, `2001:db8::/32`
    pub prefix: String,
    pub location: String,
}

/// An address range as (network bits, prefix length) in a 128-bit space (IPv4 mapped).
fn parse_prefix(text: &str) -> Option<(u128, u32)> {
    let (addr, len) = text.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    let len: u32 = len.parse().ok()?;
    let (bits, len) = match addr {
        IpAddr::V4(v4) if len <= 32 => (u128::from(v4.to_ipv6_mapped()), len + 96),
        IpAddr::V6(v6) if len <= 128 => (u128::from(v6), len),
        _ => return None,
    };
    Some((bits, len))
}

fn mask(len: u32) -> u128 {
    match len {
        0 => 0,
        len => u128::MAX << (128 - len),
    }
}

impl LocationRules {
    /// The location of the longest prefix containing `ip`.
    pub fn locate(&self, ip: IpAddr) -> Option<String> {
        let ip = match ip {
            IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
            IpAddr::V6(v6) => u128::from(v6),
        };
        self.prefixes
            .iter()
            .filter_map(|p| parse_prefix(&p.prefix).map(|(bits, len)| (bits, len, p)))
            .filter(|(bits, len, _)| ip & mask(*len) == bits & mask(*len))
            .max_by_key(|(_, len, _)| *len)
            .map(|(_, _, p)| p.location.clone())
    }
}

fn default_role() -> NavRole {
    NavRole::Primary
}

fn default_heartbeat_ms() -> u64 {
    30_000
}

impl NavConfig {
    /// Checks what serde cannot: addresses, prefixes, areas named once.
    pub fn validate(&self) -> Result<(), String> {
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(format!(
                "key listen: {:?} is not an ip:port address",
                self.listen
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for area in self.areas.iter().chain(&self.directory) {
            if !seen.insert(area.area) {
                return Err(format!("area {} is configured twice", area.area));
            }
            if area.cluster.is_empty() {
                return Err(format!(
                    "area {}: cluster needs at least one node",
                    area.area
                ));
            }
            for edge in &area.edges {
                if !(edge.starts_with("http://") || edge.starts_with("https://")) {
                    return Err(format!(
                        "area {}: edge {edge:?} must be an http:// or https:// base URL",
                        area.area
                    ));
                }
            }
        }
        for prefix in &self.location.prefixes {
            if parse_prefix(&prefix.prefix).is_none() {
                return Err(format!(
                    "location.prefixes: {:?} is not an address/length prefix",
                    prefix.prefix
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_matching_prefix_names_the_location() {
        let rules = LocationRules {
            header: "X".into(),
            prefixes: vec![
                LocationPrefix {
                    prefix: "10.0.0.0/8".into(),
                    location: "wide".into(),
                },
                LocationPrefix {
                    prefix: "10.1.0.0/16".into(),
                    location: "narrow".into(),
                },
                LocationPrefix {
                    prefix: "2001:db8::/32".into(),
                    location: "v6".into(),
                },
            ],
        };
        let at = |ip: &str| rules.locate(ip.parse().unwrap());
        assert_eq!(at("10.1.2.3").as_deref(), Some("narrow"));
        assert_eq!(at("10.2.0.1").as_deref(), Some("wide"));
        assert_eq!(at("2001:db8::1").as_deref(), Some("v6"));
        assert_eq!(at("192.168.0.1"), None);
    }

    #[test]
    fn bad_prefixes_and_edges_are_refused() {
        let mut config: NavConfig = toml::from_str(
            r#"listen = "127.0.0.1:1"
               [[areas]]
               area = "SG"
               cluster = ["127.0.0.1:2"]
               edges = ["http://127.0.0.1:3"]"#,
        )
        .unwrap();
        assert_eq!(config.validate(), Ok(()));
        config.location.prefixes.push(LocationPrefix {
            prefix: "10.0.0.0/33".into(),
            location: "x".into(),
        });
        assert!(config.validate().unwrap_err().contains("10.0.0.0/33"));
        config.location.prefixes.clear();
        config.areas[0].edges.push("127.0.0.1:4".into());
        assert!(config.validate().unwrap_err().contains("127.0.0.1:4"));
    }
}
