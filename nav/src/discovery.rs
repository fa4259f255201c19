//! Edge discovery by DNS SRV (`_meridian-edge._tcp.<area>.<domain>`): every few seconds
//! each area's SRV name is looked up, each target resolved to an address, and the edges
//! found join the ones nav polls. Static lists in the config work without it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use tokio::sync::watch;

use crate::catalog::LiveAreas;
use crate::edges::EdgeBook;

/// How often SRV names are looked up again.
pub const DISCOVER_EVERY: Duration = Duration::from_secs(5);

/// A resolver asking `servers` (`ip:port`), or the system's when there are none.
pub fn resolver(servers: &[String]) -> Result<TokioResolver, String> {
    if servers.is_empty() {
        return TokioResolver::builder_tokio()
            .and_then(|b| b.build())
            .map_err(|e| format!("system DNS configuration: {e}"));
    }
    let mut name_servers = Vec::new();
    for server in servers {
        let addr: SocketAddr = server
            .parse()
            .map_err(|_| format!("dns.servers: {server:?} is not an ip:port address"))?;
        let mut config = NameServerConfig::udp_and_tcp(addr.ip());
        for connection in &mut config.connections {
            connection.port = addr.port();
        }
        name_servers.push(config);
    }
    let config = ResolverConfig::from_parts(None, Vec::new(), name_servers);
    TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        .build()
        .map_err(|e| format!("DNS resolver: {e}"))
}

/// The edges an SRV name points at, as base URLs.
pub async fn lookup(resolver: &TokioResolver, name: &str, tls: bool) -> Vec<String> {
    let Ok(records) = resolver.srv_lookup(name).await else {
        return Vec::new();
    };
    let scheme = if tls { "https" } else { "http" };
    let mut bases = Vec::new();
    for record in records.answers() {
        let RData::SRV(srv) = &record.data else {
            continue;
        };
        let target = srv.target.to_utf8();
        let ip: Option<IpAddr> = match target.trim_end_matches('.').parse() {
            Ok(ip) => Some(ip),
            Err(_) => resolver
                .lookup_ip(target.as_str())
                .await
                .ok()
                .and_then(|ips| ips.iter().next()),
        };
        if let Some(ip) = ip {
            bases.push(format!("{scheme}://{}", SocketAddr::new(ip, srv.port)));
        }
    }
    bases
}

/// Looks the SRV name of every served area up each [`DISCOVER_EVERY`] until `stop`. The
/// names may change as the catalog does; the resolver is built at the first one.
pub async fn discover(
    dns_servers: Vec<String>,
    areas: Arc<LiveAreas>,
    edges: Arc<EdgeBook>,
    mut stop: watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(DISCOVER_EVERY);
    let mut dns: Option<TokioResolver> = None;
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        for area in areas.served() {
            let Some(name) = &area.srv else {
                continue;
            };
            if dns.is_none() {
                match resolver(&dns_servers) {
                    Ok(built) => dns = Some(built),
                    Err(error) => {
                        tracing::warn!(%error, srv = %name, "edge discovery has no resolver");
                        continue;
                    }
                }
            }
            if let Some(dns) = &dns {
                edges.learn(lookup(dns, name, area.edge_tls).await);
            }
        }
    }
}
