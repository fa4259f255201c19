//! A `meridian dev` child process (one SG area, one node) for the session benchmarks: the
//! edge under test runs in its own process, so its memory is measured apart from the
//! clients', and it is killed when the guard drops, also on an error or Ctrl-C. An edge
//! may also run as a process of its own in front of the child's cluster
//! ([`DevChild::standalone_edge`]), to measure an edge without a node beside it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use meridian_dev::endpoints::{endpoints_path, Endpoints as DevEndpoints};
use serde_json::{json, Value};

use crate::host::{free_port, keepalive_connection, port_base, scratch_dir, PORT_BASE_ATTEMPTS};

/// A debug build on a busy machine can take a while to start three Raft-backed services.
const START_WAIT: Duration = Duration::from_secs(120);
/// Operator admin API requests in flight while registering users.
const USER_WRITERS: usize = 64;

/// What the benchmarks need from `endpoints.json`.
#[derive(Clone)]
pub struct Endpoints {
    /// `ws://127.0.0.1:P/websocket`
    pub ws: String,
    /// The edge's admin URL (operator API and `/stats`).
    pub edge_admin: String,
    pub edge_metrics: String,
    /// The Server API base URL.
    pub api: String,
    /// The primary nav's base URL.
    pub nav: String,
    pub operator_token: String,
    /// The demo app's prod environment.
    pub app_key: String,
    pub app_secret: String,
    /// The cluster nodes' RPC addresses.
    pub cluster: Vec<String>,
    pub node_metrics: Vec<String>,
    /// SG's media server's metrics URL, when it runs one.
    pub media_metrics: Option<String>,
}

impl Endpoints {
    /// SG's first edge and the demo app's prod environment.
    fn of(endpoints: &DevEndpoints) -> anyhow::Result<Self> {
        let area = endpoints.area("SG")?;
        let edge = area.edges.first().context("endpoints.json lists no edge")?;
        let prod = area.app("prod")?;
        Ok(Self {
            ws: edge.ws.clone(),
            edge_admin: edge.admin.clone(),
            edge_metrics: edge.metrics.clone(),
            api: area.api()?.to_string(),
            nav: endpoints
                .nav
                .first()
                .context("endpoints.json lists no nav")?
                .clone(),
            operator_token: endpoints.operator_token.clone(),
            app_key: prod.app_key.clone(),
            app_secret: prod.app_secret.clone(),
            cluster: area.cluster.iter().map(|node| node.rpc.clone()).collect(),
            node_metrics: area.cluster.iter().map(|n| n.metrics.clone()).collect(),
            media_metrics: area.media.as_ref().map(|media| media.metrics.clone()),
        })
    }
}

pub struct DevChild {
    process: ChildProcess,
    pub endpoints: Endpoints,
}

impl DevChild {
    /// Starts `meridian dev --areas SG --nodes 1` with `extra_args`, on the first port base
    /// that is free, and waits until it has written `endpoints.json`.
    pub async fn start(extra_args: &[&str]) -> anyhow::Result<Self> {
        Self::start_nodes(1, extra_args).await
    }

    /// [`DevChild::start`] with `nodes` cluster nodes.
    pub async fn start_nodes(nodes: u64, extra_args: &[&str]) -> anyhow::Result<Self> {
        // Each child gets its own data dir: a dev data dir remembers its ports.
        static STARTED: AtomicU32 = AtomicU32::new(0);
        let exe = std::env::current_exe().context("finding the meridian binary")?;
        let mut last_error = None;
        for attempt in 0..PORT_BASE_ATTEMPTS {
            let data_dir =
                scratch_dir()?.join(format!("dev-{}", STARTED.fetch_add(1, Ordering::Relaxed)));
            std::fs::create_dir_all(&data_dir)?;
            let log_path = data_dir.join("dev.log");
            let log = std::fs::File::create(&log_path)?;
            let child = Command::new(&exe)
                .args(["dev", "--areas", "SG", "--nodes"])
                .arg(nodes.to_string())
                .arg("--port-base")
                .arg(port_base(attempt).to_string())
                .arg("--data-dir")
                .arg(&data_dir)
                .args(extra_args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .with_context(|| format!("starting {}", exe.display()))?;
            let mut process = ChildProcess {
                child,
                data_dir,
                log: log_path,
            };
            match process.wait_for_endpoints().await {
                Ok(endpoints) => return Ok(Self { process, endpoints }),
                // Most likely a port of this base is taken: try the next base.
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("no port base tried")))
    }

    /// The child's resident memory (VmRSS), in bytes.
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        self.process.rss_bytes()
    }

    pub fn pid(&self) -> u32 {
        self.process.child.id()
    }

    /// Bytes in the child's data dir (every node's log, state and snapshots).
    /// The deployment's data dir: all of it, and the parts of every node's storage.
    pub fn disk_use(&self) -> DiskUse {
        fn walk(dir: &std::path::Path, part: Option<Part>, into: &mut DiskUse) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let part = part.or(match name.as_str() {
                    "raft-log" => Some(Part::RaftLog),
                    "snapshots" => Some(Part::Snapshots),
                    n if n == "sled" || n.starts_with("sled-") => Some(Part::Sled),
                    _ => None,
                });
                match entry.metadata() {
                    Ok(meta) if meta.is_dir() => walk(&entry.path(), part, into),
                    Ok(meta) => into.add(part, meta.len()),
                    Err(_) => {}
                }
            }
        }
        let mut disk = DiskUse::default();
        walk(&self.process.data_dir, None, &mut disk);
        disk
    }

    /// Starts `meridian edge` as a process of its own in front of this deployment's
    /// cluster, so its memory can be measured without the node's.
    pub async fn standalone_edge(&self) -> anyhow::Result<EdgeChild> {
        let exe = std::env::current_exe().context("finding the meridian binary")?;
        let data_dir = self.process.data_dir.join("standalone-edge");
        std::fs::create_dir_all(&data_dir)?;
        let (public, admin) = (free_port()?, free_port()?);
        let cluster: Vec<String> = self
            .endpoints
            .cluster
            .iter()
            .map(|n| format!("{n:?}"))
            .collect();
        let config = data_dir.join("edge.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{public}\"\nadmin_listen = \"127.0.0.1:{admin}\"\n\
                 operator_token = {:?}\n[[areas]]\narea = \"SG\"\ncluster = [{}]\n",
                self.endpoints.operator_token,
                cluster.join(", ")
            ),
        )?;
        let log = data_dir.join("edge.log");
        let child = Command::new(&exe)
            .args(["edge", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        let mut process = ChildProcess {
            child,
            data_dir,
            log,
        };
        let endpoints = Endpoints {
            ws: format!("ws://127.0.0.1:{public}/websocket"),
            edge_admin: format!("http://127.0.0.1:{admin}"),
            edge_metrics: format!("http://127.0.0.1:{admin}/metrics"),
            ..self.endpoints.clone()
        };
        let admin = endpoints.edge_admin.clone();
        process
            .wait_until("meridian edge", || async {
                edge_sessions(&admin).await.ok().map(|_| Ok(()))
            })
            .await?;
        Ok(EdgeChild { process, endpoints })
    }

    /// Registers `users` in the prod app through the edge's operator admin API.
    pub async fn create_users(&self, users: &[String]) -> anyhow::Result<()> {
        let users: Arc<Vec<String>> = Arc::new(users.to_vec());
        let next = Arc::new(AtomicUsize::new(0));
        let path = format!("/admin/v1/apps/{}/users", self.endpoints.app_key);
        let authority = self
            .endpoints
            .edge_admin
            .trim_start_matches("http://")
            .to_string();
        let bearer = format!("Bearer {}", self.endpoints.operator_token);
        let mut writers = Vec::new();
        for _ in 0..USER_WRITERS.min(users.len()) {
            let mut connection = keepalive_connection(&self.endpoints.edge_admin).await?;
            let (users, next) = (users.clone(), next.clone());
            let (path, authority, bearer) = (path.clone(), authority.clone(), bearer.clone());
            writers.push(tokio::spawn(async move {
                loop {
                    let Some(user) = users.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        return Ok::<_, anyhow::Error>(());
                    };
                    let body = json!({ "userId": user }).to_string();
                    let request = hyper::Request::post(path.as_str())
                        .header(hyper::header::HOST, authority.as_str())
                        .header(hyper::header::CONTENT_TYPE, "application/json")
                        .header(hyper::header::AUTHORIZATION, bearer.as_str())
                        .body(Full::new(Bytes::from(body)))?;
                    let response = connection.send_request(request).await?;
                    let status = response.status();
                    let answer = response.into_body().collect().await?.to_bytes();
                    if !status.is_success() {
                        bail!(
                            "creating user {user} answered {status}: {}",
                            String::from_utf8_lossy(&answer)
                        );
                    }
                }
            }));
        }
        for writer in writers {
            writer.await??;
        }
        Ok(())
    }
}

/// A `meridian edge` child in front of a [`DevChild`]'s cluster.
pub struct EdgeChild {
    process: ChildProcess,
    pub endpoints: Endpoints,
}

impl EdgeChild {
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        self.process.rss_bytes()
    }

    pub async fn sessions(&self) -> anyhow::Result<u64> {
        edge_sessions(&self.endpoints.edge_admin).await
    }
}

/// Live sessions as an edge counts them (`sessions` of its `/stats`).
async fn edge_sessions(edge_admin: &str) -> anyhow::Result<u64> {
    let url = format!("{edge_admin}/stats");
    let answer =
        meridian_rpc::http::request("GET", &url, None, None, Duration::from_secs(10)).await?;
    let stats: Value = serde_json::from_slice(&answer.body)
        .with_context(|| format!("{url} answered {}", answer.text()))?;
    stats["sessions"]
        .as_u64()
        .with_context(|| format!("{url} has no sessions count"))
}

/// The running child: killed, and its data dir removed, when dropped.
struct ChildProcess {
    child: Child,
    data_dir: PathBuf,
    log: PathBuf,
}

impl ChildProcess {
    /// The child's resident memory (VmRSS), in bytes.
    fn rss_bytes(&self) -> anyhow::Result<u64> {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).with_context(|| path.clone())?;
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no VmRSS in {path}"))?;
        Ok(kib * 1024)
    }

    async fn wait_for_endpoints(&mut self) -> anyhow::Result<Endpoints> {
        let path = endpoints_path(&self.data_dir);
        // dev writes endpoints.json atomically (write, then rename), once all is up.
        self.wait_until("meridian dev", || async {
            path.exists()
                .then(|| DevEndpoints::read(&path).and_then(|e| Endpoints::of(&e)))
        })
        .await
    }

    /// Polls `ready` every 100 ms until it answers, the child exits or [`START_WAIT`]
    /// passes.
    async fn wait_until<T, F, Fut>(&mut self, what: &str, mut ready: F) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<anyhow::Result<T>>>,
    {
        let started = Instant::now();
        loop {
            if let Some(answer) = ready().await {
                return answer;
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("{what} exited ({status}): {}", self.log_tail().trim_end());
            }
            if started.elapsed() > START_WAIT {
                bail!("{what} did not come up within {START_WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(5)..].join("\n")
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
        // The run's temp dir too, once its last child is gone (fails while not empty).
        if let Some(run_dir) = self.data_dir.parent() {
            let _ = std::fs::remove_dir(run_dir);
        }
    }
}

#[derive(Clone, Copy)]
enum Part {
    Sled,
    RaftLog,
    Snapshots,
}

/// Bytes on disk under a deployment's data dir (MiB when serialized).
#[derive(Debug, Clone, Copy, Default)]
pub struct DiskUse {
    pub total: u64,
    pub sled: u64,
    pub raft_log: u64,
    pub snapshots: u64,
}

impl DiskUse {
    fn add(&mut self, part: Option<Part>, bytes: u64) {
        self.total += bytes;
        match part {
            Some(Part::Sled) => self.sled += bytes,
            Some(Part::RaftLog) => self.raft_log += bytes,
            Some(Part::Snapshots) => self.snapshots += bytes,
            None => {}
        }
    }
}

impl serde::Serialize for DiskUse {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mib = |bytes: u64| (bytes as f64 / (1024.0 * 1024.0) * 10.0).round() / 10.0;
        let mut out = serializer.serialize_struct("DiskUse", 4)?;
        out.serialize_field("total_mib", &mib(self.total))?;
        out.serialize_field("sled_mib", &mib(self.sled))?;
        out.serialize_field("raft_log_mib", &mib(self.raft_log))?;
        out.serialize_field("snapshots_mib", &mib(self.snapshots))?;
        out.end()
    }
}
