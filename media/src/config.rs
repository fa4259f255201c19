//! A media server's configuration (`meridian media --config media.toml`).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use meridian_files::StoreConfig;
use meridian_regions::AreaCode;
use meridian_rpc::{PublicTlsFiles, TlsFiles};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaConfig {
    /// The area whose rooms this server carries (media stays in the app's home area).
    pub area: AreaCode,
    /// RPC addresses of (some of) the area's cluster nodes: tokens and room membership
    /// are checked there.
    pub cluster: Vec<String>,
    /// `ip:port` of WHIP/WHEP (HTTP, TCP) and of all media (one UDP socket): the same
    /// port number for both.
    pub listen: String,
    /// `/metrics`, `/stats`, `/healthz`, `/readyz`.
    pub admin_listen: String,
    /// The address browsers send media to, when `listen` is behind a 1:1 NAT (the port
    /// stays `listen`'s).
    #[serde(default)]
    pub advertised_ip: Option<IpAddr>,
    /// mTLS identity towards the cluster.
    #[serde(default)]
    pub tls: Option<TlsFiles>,
    /// TLS on WHIP/WHEP (`https://`); plain when absent (loopback deployments).
    #[serde(default)]
    pub public_tls: Option<PublicTlsFiles>,
    /// The area's file store (as its edges' `[files]`): recordings are kept there among
    /// the app's files (RTC-07). Without it, rooms are not recorded.
    #[serde(default)]
    pub files: Option<StoreConfig>,
    /// Where recordings are written until they end and are stored (the system's
    /// temporary directory when absent).
    #[serde(default)]
    pub recording_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key {key}: {reason}")]
pub struct ConfigError {
    pub key: &'static str,
    pub reason: &'static str,
}

impl MediaConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, addr) in [
            ("listen", &self.listen),
            ("admin_listen", &self.admin_listen),
        ] {
            if addr.parse::<SocketAddr>().is_err() {
                return Err(ConfigError {
                    key,
                    reason: "must be an ip:port address",
                });
            }
        }
        if self.cluster.is_empty() {
            return Err(ConfigError {
                key: "cluster",
                reason: "needs at least one node address",
            });
        }
        let wildcard = self
            .listen
            .parse::<SocketAddr>()
            .is_ok_and(|addr| addr.ip().is_unspecified());
        match self.advertised_ip {
            Some(ip) if ip.is_unspecified() => {
                return Err(ConfigError {
                    key: "advertised_ip",
                    reason: "must be an address browsers can reach",
                })
            }
            None if wildcard => {
                return Err(ConfigError {
                    key: "advertised_ip",
                    reason: "needed when listen is a wildcard address",
                })
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> MediaConfig {
        MediaConfig {
            area: "SG".parse().unwrap(),
            cluster: vec!["127.0.0.1:7100".into()],
            listen: "0.0.0.0:8443".into(),
            admin_listen: "127.0.0.1:7301".into(),
            advertised_ip: Some("203.0.113.7".parse().unwrap()),
            tls: None,
            public_tls: None,
            files: None,
            recording_dir: None,
        }
    }

    #[test]
    fn a_config_names_reachable_addresses_and_a_cluster() {
        assert_eq!(config().validate(), Ok(()));
        let key = |config: MediaConfig| config.validate().unwrap_err().key;
        let bad_listen = MediaConfig {
            listen: "8443".into(),
            ..config()
        };
        assert_eq!(key(bad_listen), "listen");
        let no_cluster = MediaConfig {
            cluster: Vec::new(),
            ..config()
        };
        assert_eq!(key(no_cluster), "cluster");
        let wildcard = MediaConfig {
            advertised_ip: Some("0.0.0.0".parse().unwrap()),
            ..config()
        };
        assert_eq!(key(wildcard), "advertised_ip");
        let unadvertised = MediaConfig {
            advertised_ip: None,
            ..config()
        };
        assert_eq!(key(unadvertised), "advertised_ip");
    }
}
