//! `meridian dev`: the whole deployment in one process on loopback (DESIGN §7) — every
//! requested area with its cluster and edge, a primary and a backup nav, demo apps, and
//! `<data-dir>/endpoints.json` describing it all.

pub mod demo_site;
pub mod endpoints;
pub mod prometheus_config;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context};
use meridian_cluster::admin::generate_credentials;
use meridian_cluster::config::{RaftTuning, StorageTuning};
use meridian_cluster::state::{
    App, AppEnv, Command, CreateApp, Envelope, Output, Query, QueryOutput,
};
use meridian_cluster::{ClusterClient, ClusterNode, NodeConfig};
use meridian_edge::{DirectoryArea, Edge, EdgeArea, EdgeConfig, StoreConfig};
use meridian_nav::{Nav, NavArea, NavConfig, NavRole};
use meridian_regions::{AreaCode, Catalog, SeedPeer};
use serde::{Deserialize, Serialize};

use demo_site::{DemoArea, DemoSite};
use endpoints::{
    endpoints_path, AppCredentials, AreaEndpoints, EdgeEndpoints, Endpoints, MediaEndpoints,
    NodeEndpoints,
};
use meridian_console::{Area as ConsoleArea, Console, ConsoleConfig};
use meridian_media::{MediaConfig, MediaServer};

pub struct DevOptions {
    pub areas: Vec<AreaCode>,
    pub nodes: u64,
    pub data_dir: PathBuf,
    pub port_base: u16,
    /// Server API rate limits at the edges (off only for benchmarks).
    pub rate_limits: bool,
    /// Client session settings of every edge.
    pub sessions: meridian_edge::SessionSettings,
    /// CA certificates trusted for callbacks and push (see `NodeConfig`).
    pub outbound_ca_files: Vec<PathBuf>,
    /// How often each edge sweeps its area's files (FILE-04).
    pub file_sweep_ms: u64,
    /// `http://KEY:SECRET@HOST:PORT` of an S3-compatible service holding each area's files
    /// in its bucket `meridian-<area>-files`; a local directory per area when absent.
    pub files_s3: Option<String>,
    /// How long a day of retention lasts (see `NodeConfig::retention_day_ms`).
    pub retention_day_ms: u64,
    /// See `StorageTuning::sled_compact_ratio` and `log_chunk_bytes`.
    pub sled_compact_ratio: f64,
    pub log_chunk_bytes: usize,
    /// The JavaScript SDK's build (`sdk/js/dist`) the web demo is served from.
    pub demo_dir: PathBuf,
    /// How long a callee has to answer (see `NodeConfig::call_answer_timeout_ms`).
    pub call_answer_timeout_ms: u64,
}

const DEMO_APP: &str = "demo";

/// The area's bucket in the S3-compatible service at `url` (`http://KEY:SECRET@HOST:PORT`).
fn s3_store(url: &str, area: AreaCode) -> anyhow::Result<StoreConfig> {
    let (scheme, rest) = url
        .split_once("://")
        .context("--files-s3 is http(s)://KEY:SECRET@HOST:PORT")?;
    let (credentials, host) = rest
        .rsplit_once('@')
        .context("--files-s3 names its credentials: http://KEY:SECRET@HOST:PORT")?;
    let (key, secret) = credentials
        .split_once(':')
        .context("--files-s3's credentials are KEY:SECRET")?;
    Ok(StoreConfig::S3 {
        bucket: format!("meridian-{}-files", area.as_str().to_ascii_lowercase()),
        region: "us-east-1".into(),
        endpoint: Some(format!("{scheme}://{host}")),
        access_key_id: Some(key.into()),
        secret_access_key: Some(secret.into()),
    })
}
const LAYOUT_FILE: &str = "dev-layout.json";
/// Navs poll edges every second; a few polls at most.
const NAV_READY_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// What a data dir was created with: restarting must reuse the same ports, because Raft
/// membership records node addresses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Layout {
    port_base: u16,
    nodes: u64,
    areas: Vec<AreaCode>,
    operator_token: String,
}

fn load_or_create_layout(options: &DevOptions) -> anyhow::Result<Layout> {
    let path = options.data_dir.join(LAYOUT_FILE);
    let wanted = |token: String| Layout {
        port_base: options.port_base,
        nodes: options.nodes,
        areas: options.areas.clone(),
        operator_token: token,
    };
    if path.exists() {
        let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
        let existing: Layout =
            serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?;
        if existing != wanted(existing.operator_token.clone()) {
            bail!(
                "{} was created with --port-base {} --nodes {} --areas {}; use the same flags or another --data-dir",
                options.data_dir.display(),
                existing.port_base,
                existing.nodes,
                existing.areas.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(",")
            );
        }
        return Ok(existing);
    }
    let layout = wanted(generate_credentials().app_secret + &generate_credentials().app_secret);
    std::fs::create_dir_all(&options.data_dir)
        .with_context(|| format!("{}", options.data_dir.display()))?;
    std::fs::write(&path, serde_json::to_vec_pretty(&layout)?)
        .with_context(|| format!("{}", path.display()))?;
    Ok(layout)
}

struct Ports(u32);

impl Ports {
    fn next(&mut self) -> anyhow::Result<u16> {
        let port = u16::try_from(self.0).context("--port-base leaves too few ports below 65536")?;
        self.0 += 1;
        Ok(port)
    }
}

fn local(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// The ports of one area's processes.
struct AreaPlan {
    area: AreaCode,
    edge_public: u16,
    edge_admin: u16,
    /// (node id, rpc port, admin port)
    node_ports: Vec<(u64, u16, u16)>,
    /// The media server's public (TCP and UDP) and admin ports.
    media_ports: (u16, u16),
}

impl AreaPlan {
    fn peers(&self) -> Vec<SeedPeer> {
        self.node_ports
            .iter()
            .map(|&(id, rpc, _)| SeedPeer {
                id,
                addr: local(rpc),
            })
            .collect()
    }
}

struct AreaDeployment {
    area: AreaCode,
    nodes: Vec<ClusterNode>,
    edge: Edge,
    media: MediaServer,
    client: ClusterClient,
    demo: Option<App>,
}

pub struct Deployment {
    navs: Vec<(NavRole, Nav)>,
    areas: Vec<AreaDeployment>,
    demo_site: Option<DemoSite>,
    console: Option<Console>,
    layout: Layout,
    data_dir: PathBuf,
}

impl Deployment {
    pub async fn start(options: DevOptions) -> anyhow::Result<Self> {
        if options.nodes == 0 {
            bail!("--nodes must be at least 1");
        }
        let layout = load_or_create_layout(&options)?;
        let mut ports = Ports(u32::from(layout.port_base));
        let nav_ports = [ports.next()?, ports.next()?];
        // Every area's ports first: each edge names the other areas' clusters and APIs.
        let mut plans = Vec::new();
        for &area in &layout.areas {
            let edge_public = ports.next()?;
            let edge_admin = ports.next()?;
            let mut node_ports = Vec::new();
            for id in 1..=layout.nodes {
                node_ports.push((id, ports.next()?, ports.next()?));
            }
            plans.push(AreaPlan {
                area,
                edge_public,
                edge_admin,
                node_ports,
                media_ports: (0, 0),
            });
        }
        // Media servers' ports come after every area's, so data dirs laid out before
        // media existed keep their cluster's ports.
        for plan in &mut plans {
            plan.media_ports = (ports.next()?, ports.next()?);
        }
        // The web demo's port comes after those, for the same reason, and the console's
        // after the demo's.
        let demo_port = ports.next()?;
        let console_port = ports.next()?;
        // Both navs answer for every area (one PoP serving all of them).
        let nav_urls: Vec<String> = nav_ports
            .iter()
            .map(|&p| format!("http://{}", local(p)))
            .collect();
        let nav_areas: Vec<NavArea> = plans
            .iter()
            .map(|plan| {
                let edge = format!("http://{}", local(plan.edge_public));
                NavArea {
                    area: plan.area,
                    cluster: plan.peers().into_iter().map(|p| p.addr).collect(),
                    edges: vec![edge.clone()],
                    api: vec![edge],
                    nav: nav_urls.clone(),
                    srv: None,
                    edge_tls: false,
                }
            })
            .collect();
        let mut navs = Vec::new();
        for (role, port) in [
            (NavRole::Primary, nav_ports[0]),
            (NavRole::Backup, nav_ports[1]),
        ] {
            let config = NavConfig {
                listen: local(port),
                role,
                areas: nav_areas.clone(),
                directory: Vec::new(),
                location: Default::default(),
                heartbeat_ms: options.sessions.heartbeat_ms,
                dns: Default::default(),
            };
            navs.push((role, Nav::start(config, Catalog::builtin()).await?));
        }
        let mut areas = Vec::new();
        for plan in &plans {
            let area = plan.area;
            let peers = plan.peers();
            let mut nodes = Vec::new();
            for &(id, rpc, admin) in &plan.node_ports {
                let config = NodeConfig {
                    area,
                    node_id: id,
                    data_dir: options
                        .data_dir
                        .join(area.as_str())
                        .join(format!("node-{id}")),
                    rpc_listen: local(rpc),
                    rpc_advertise: None,
                    admin_listen: local(admin),
                    operator_token: layout.operator_token.clone(),
                    peers: peers.clone(),
                    peer_routes: Default::default(),
                    tls: None,
                    outbound_ca_files: options.outbound_ca_files.clone(),
                    raft: RaftTuning::default(),
                    storage: StorageTuning {
                        sled_cache_bytes: 16 * 1024 * 1024,
                        log_cache_entries: 10_000,
                        log_cache_bytes: 16 * 1024 * 1024,
                        sled_compact_ratio: options.sled_compact_ratio,
                        log_chunk_bytes: options.log_chunk_bytes,
                        ..StorageTuning::default()
                    },
                    retention_day_ms: options.retention_day_ms,
                    call_answer_timeout_ms: options.call_answer_timeout_ms,
                    // A call outlives a reconnect as a room membership does.
                    call_reconnect_ms: options.sessions.rtc_reconnect_ms,
                    command_level: None,
                };
                nodes.push(
                    ClusterNode::start(config)
                        .await
                        .with_context(|| format!("area {area} node {id}"))?,
                );
            }
            let rpc_addrs: Vec<String> = peers.iter().map(|p| p.addr.clone()).collect();
            let (media_public, media_admin) = plan.media_ports;
            // Each area's files in its own directory (NAV-05); recordings among them.
            let files = match &options.files_s3 {
                Some(url) => s3_store(url, area)?,
                None => StoreConfig::Local {
                    dir: options.data_dir.join(area.as_str()).join("files"),
                },
            };
            let media = MediaServer::start(MediaConfig {
                area,
                cluster: rpc_addrs.clone(),
                listen: local(media_public),
                admin_listen: local(media_admin),
                advertised_ip: None,
                tls: None,
                public_tls: None,
                files: Some(files.clone()),
                recording_dir: Some(options.data_dir.join(area.as_str()).join("recording")),
            })
            .await
            .with_context(|| format!("area {area} media server"))?;
            let directory = plans
                .iter()
                .filter(|other| other.area != area)
                .map(|other| DirectoryArea {
                    area: other.area,
                    cluster: other.peers().into_iter().map(|p| p.addr).collect(),
                    api: format!("http://{}", local(other.edge_public)),
                })
                .collect();
            let edge = Edge::start(EdgeConfig {
                location: "local".into(),
                listen: local(plan.edge_public),
                admin_listen: local(plan.edge_admin),
                operator_token: layout.operator_token.clone(),
                areas: vec![EdgeArea {
                    area,
                    cluster: rpc_addrs.clone(),
                    routes: Vec::new(),
                    files: Some(files),
                    media: Some(format!("http://{}", media.public_addr())),
                }],
                directory,
                rate_limits: options.rate_limits,
                tls: None,
                public_tls: None,
                sessions: options.sessions.clone(),
                outbound_ca_files: options.outbound_ca_files.clone(),
                file_sweep_ms: options.file_sweep_ms,
                usage_flush_ms: meridian_edge::DEFAULT_USAGE_FLUSH_MS,
            })
            .await
            .with_context(|| format!("area {area} edge"))?;
            areas.push(AreaDeployment {
                area,
                nodes,
                edge,
                media,
                client: ClusterClient::new(area, rpc_addrs, None),
                demo: None,
            });
        }
        let mut deployment = Self {
            navs,
            areas,
            demo_site: None,
            console: None,
            layout,
            data_dir: options.data_dir,
        };
        deployment.ensure_demo_apps().await?;
        let demo_areas = deployment.demo_areas();
        let navs = deployment.endpoints().nav;
        deployment.demo_site = Some(
            DemoSite::start(&local(demo_port), options.demo_dir, demo_areas, navs)
                .await
                .context("web demo")?,
        );
        deployment.console = Some(
            Console::start(ConsoleConfig {
                listen: local(console_port),
                operator_token: deployment.layout.operator_token.clone(),
                areas: deployment.console_areas(),
                ca_files: Vec::new(),
            })
            .await
            .context("web console")?,
        );
        deployment.navs_know_edges().await;
        deployment.write_endpoints()?;
        Ok(deployment)
    }

    /// Waits until every nav has found a healthy edge of each area (its first poll may
    /// have come before the edges listened), so clients reading endpoints.json are
    /// answered at once; gives up after [`NAV_READY_WAIT`] with a warning.
    async fn navs_know_edges(&self) {
        let until = tokio::time::Instant::now() + NAV_READY_WAIT;
        while !self.navs.iter().all(|(_, nav)| nav.has_edges()) {
            if tokio::time::Instant::now() >= until {
                tracing::warn!("a nav has not found every area's edge yet");
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Every area gets one demo app (dev + prod); a restart finds the existing one.
    async fn ensure_demo_apps(&mut self) -> anyhow::Result<()> {
        for area in &mut self.areas {
            let apps = match area.client.read(Query::ListApps).await? {
                QueryOutput::Apps(apps) => apps,
                other => bail!("unexpected answer {other:?}"),
            };
            let demo = match apps.into_iter().find(|app| app.name == DEMO_APP) {
                Some(app) => app,
                None => {
                    let command = Command::CreateApp(CreateApp {
                        name: DEMO_APP.into(),
                        dev: generate_credentials(),
                        prod: generate_credentials(),
                    });
                    match area
                        .client
                        .write_one(Envelope {
                            area: area.area,
                            command,
                        })
                        .await?
                    {
                        Output::App(app) => app,
                        other => bail!("unexpected answer {other:?}"),
                    }
                }
            };
            area.demo = Some(demo);
        }
        Ok(())
    }

    /// Each area's dev app, for the web demo's token helper.
    fn demo_areas(&self) -> Vec<DemoArea> {
        self.areas
            .iter()
            .filter_map(|area| {
                Some(DemoArea {
                    area: area.area.to_string(),
                    api: format!("http://{}", area.edge.public_addr()),
                    app: credentials(area.demo.as_ref()?, AppEnv::Dev),
                })
            })
            .collect()
    }

    /// Each area as the console reaches it: the edge's public listener serves both the
    /// admin API and the Server API.
    fn console_areas(&self) -> Vec<ConsoleArea> {
        self.areas
            .iter()
            .map(|area| {
                let edge = format!("http://{}", area.edge.public_addr());
                ConsoleArea {
                    code: area.area,
                    admin: edge.clone(),
                    api: edge,
                }
            })
            .collect()
    }

    /// What endpoints.json holds.
    pub fn endpoints(&self) -> Endpoints {
        let mut metrics: Vec<String> = Vec::new();
        let nav: Vec<String> = self
            .navs
            .iter()
            .map(|(_, nav)| {
                metrics.push(format!("http://{}/metrics", nav.addr()));
                format!("http://{}", nav.addr())
            })
            .collect();
        let mut areas = BTreeMap::new();
        for area in &self.areas {
            let public = area.edge.public_addr();
            let edge = EdgeEndpoints {
                ws: format!("ws://{public}/websocket"),
                admin: format!("http://{public}"),
                metrics: format!("http://{}/metrics", area.edge.admin_addr()),
                location: "local".into(),
            };
            metrics.push(edge.metrics.clone());
            let cluster: Vec<NodeEndpoints> = area
                .nodes
                .iter()
                .map(|node| {
                    let admin = format!("http://{}", node.admin_addr());
                    metrics.push(format!("{admin}/metrics"));
                    NodeEndpoints {
                        id: node.node_id(),
                        rpc: node.rpc_addr().to_string(),
                        metrics: format!("{admin}/metrics"),
                        admin,
                    }
                })
                .collect();
            let apps: Vec<AppCredentials> = area
                .demo
                .iter()
                .flat_map(|app| [AppEnv::Dev, AppEnv::Prod].map(|env| credentials(app, env)))
                .collect();
            let media = MediaEndpoints {
                url: format!("http://{}", area.media.public_addr()),
                metrics: format!("http://{}/metrics", area.media.admin_addr()),
            };
            metrics.push(media.metrics.clone());
            areas.insert(
                area.area.to_string(),
                AreaEndpoints {
                    api: vec![format!("http://{public}")],
                    edges: vec![edge],
                    cluster,
                    apps,
                    media: Some(media),
                },
            );
        }
        Endpoints {
            nav,
            operator_token: self.layout.operator_token.clone(),
            areas,
            metrics,
            demo: self.demo_site.as_ref().map(DemoSite::url),
            console: self.console.as_ref().map(Console::url),
        }
    }

    /// endpoints.json, and beside it a Prometheus scrape configuration (`prometheus/`).
    fn write_endpoints(&self) -> anyhow::Result<()> {
        let endpoints = self.endpoints();
        prometheus_config::write(
            &serde_json::to_value(&endpoints)?,
            &self.data_dir.join("prometheus"),
            15,
        )?;
        // endpoints.json last: its appearance means the deployment is up.
        endpoints.write(&endpoints_path(&self.data_dir))
    }

    pub fn summary(&self) -> String {
        let mut out = String::new();
        let navs: Vec<String> = self
            .navs
            .iter()
            .map(|(role, nav)| {
                let role = match role {
                    NavRole::Primary => "primary",
                    NavRole::Backup => "backup",
                };
                format!("http://{} ({role})", nav.addr())
            })
            .collect();
        out.push_str(&format!("Meridian dev is up. nav: {}\n", navs.join("  ")));
        out.push_str(&format!(
            "{:<5} {:<24} {:<24} {:<6} {:<24} {:<16} {:<16}\n",
            "AREA",
            "EDGE (API, WS, ADMIN)",
            "MEDIA (WHIP, WHEP)",
            "NODES",
            "FIRST NODE ADMIN",
            "DEV APP KEY",
            "PROD APP KEY"
        ));
        for area in &self.areas {
            let first_admin = area
                .nodes
                .first()
                .map(|n| format!("http://{}", n.admin_addr()))
                .unwrap_or_default();
            let (dev, prod) = area
                .demo
                .as_ref()
                .map(|app| (app.dev.app_key.clone(), app.prod.app_key.clone()))
                .unwrap_or_default();
            out.push_str(&format!(
                "{:<5} {:<24} {:<24} {:<6} {:<24} {:<16} {:<16}\n",
                area.area.as_str(),
                format!("http://{}", area.edge.public_addr()),
                format!("http://{}", area.media.public_addr()),
                area.nodes.len(),
                first_admin,
                dev,
                prod
            ));
        }
        if let Some(site) = &self.demo_site {
            out.push_str(&format!("web demo: {}\n", site.url()));
        }
        if let Some(console) = &self.console {
            out.push_str(&format!(
                "console: {}  (sign in with the operator token or an app's key and secret)\n",
                console.url()
            ));
        }
        out.push_str(&format!(
            "endpoints: {}  (operator token and app secrets are in it)\n",
            endpoints_path(&self.data_dir).display()
        ));
        out
    }

    pub async fn shutdown(self) {
        if let Some(console) = self.console {
            console.shutdown().await;
        }
        if let Some(site) = self.demo_site {
            site.shutdown().await;
        }
        for (_, nav) in self.navs {
            nav.shutdown().await;
        }
        for area in self.areas {
            area.edge.shutdown().await;
            area.media.shutdown().await;
            for node in area.nodes {
                node.shutdown().await;
            }
        }
    }
}

/// The credentials of `app`'s environment `env`, as endpoints.json lists them.
fn credentials(app: &App, env: AppEnv) -> AppCredentials {
    let creds = app.credentials(env);
    AppCredentials {
        env: env.as_str().into(),
        app_key: creds.app_key.clone(),
        app_secret: creds.app_secret.clone(),
    }
}
