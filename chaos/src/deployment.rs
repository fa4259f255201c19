//! One area as separate processes of the `meridian` binary: cluster nodes whose Raft
//! links each pass through a [`LinkProxy`], edges in front of them (each edge's link to
//! each node through a proxy of its own) and a nav. Any process can be SIGKILLed and
//! started again on the same ports and data.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use meridian_cluster::api::{NodeStatus, StateDigest};
use meridian_cluster::config::{loopback_cluster, LoopbackNode, RaftTuning, StorageTuning};
use meridian_cluster::raft::slow_fsync;
use meridian_cluster::{ClusterClient, NodeConfig};
use meridian_edge::{EdgeArea, EdgeConfig, SessionSettings, PLANTED_BUG_ENV};
use meridian_nav::{NavArea, NavConfig, NavRole};
use meridian_regions::{AreaCode, SeedPeer};
use tokio::time::Instant;

use crate::proxy::{LinkProxy, SlowLink};
use crate::small_disk::SmallDisk;

const OPERATOR_TOKEN_BYTES: usize = 24;

/// A child process and how to start it again.
struct Slot {
    name: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Slot {
    fn new(name: String, args: Vec<String>) -> Self {
        Self {
            name,
            args,
            env: Vec::new(),
            child: None,
        }
    }

    fn start(&mut self, binary: &Path, logs: &Path) -> anyhow::Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let log = File::options()
            .create(true)
            .append(true)
            .open(logs.join(format!("{}.log", self.name)))?;
        let child = Command::new(binary)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            // Every sync's starting cursor and extent, for explaining a failed run.
            .env("RUST_LOG", "warn,meridian_edge::sessions=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.name))?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGTERM, and SIGKILL if it has not exited within `grace`.
    async fn terminate(&mut self, grace: Duration) {
        let Some(child) = &mut self.child else {
            return;
        };
        // SAFETY: kill(2) on our own child's pid; no memory is touched.
        let _ = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + grace;
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.kill();
    }

    /// SIGKILL: no shutdown code runs.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(meridian_telemetry::free_loopback_port()?)
}

fn write_toml(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    std::fs::write(path, toml::to_string(value)?).with_context(|| format!("{}", path.display()))
}

pub struct Node {
    pub id: u64,
    pub rpc_addr: String,
    /// `http://…/metrics` of the node's admin listener.
    pub metrics_url: String,
    log_dir: PathBuf,
    /// Holds the milliseconds the node's clock is off by (see [`Deployment::jump_clock`]).
    clock_offset_file: PathBuf,
    slot: Slot,
}

pub struct EdgeProcess {
    /// `http://…` base of the Server API and `/websocket`.
    pub public: String,
    admin: String,
    slot: Slot,
    /// Node id → the proxy this edge dials it through.
    links: BTreeMap<u64, LinkProxy>,
}

impl EdgeProcess {
    pub fn ws_url(&self) -> String {
        format!("{}/websocket", self.public.replace("http://", "ws://"))
    }
}

pub struct Deployment {
    binary: PathBuf,
    dir: PathBuf,
    pub area: AreaCode,
    pub nodes: Vec<Node>,
    pub edges: Vec<EdgeProcess>,
    nav: Slot,
    nav_url: String,
    /// (from, to) → the proxy `from` dials `to` through.
    links: BTreeMap<(u64, u64), LinkProxy>,
    pub client: ClusterClient,
    /// Node id → its data directory's own disk, with small disks (unmounted after the
    /// nodes above are stopped: fields drop in order).
    disks: BTreeMap<u64, SmallDisk>,
}

pub struct Topology {
    pub nodes: u64,
    pub edges: usize,
    /// Each node's data directory on a tmpfs of this many MiB (root only), so its disk
    /// can be filled ([`Deployment::fill_disk`]).
    pub small_disks_mib: Option<u64>,
    /// Set [`PLANTED_BUG_ENV`] on the edges to this.
    pub planted_bug: Option<String>,
    /// Edges read the whole feed instead of their sessions' events (to compare).
    pub whole_feed: bool,
}

impl Deployment {
    /// Writes every configuration under `dir` and starts every process.
    pub async fn start(
        binary: &Path,
        dir: &Path,
        topology: &Topology,
        area: AreaCode,
    ) -> anyhow::Result<Self> {
        let operator_token: String = (0..OPERATOR_TOKEN_BYTES)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        let (plan, peers) = loopback_cluster(topology.nodes)?;
        let mut links = BTreeMap::new();
        for from in &peers {
            for to in &peers {
                if from.id != to.id {
                    links.insert((from.id, to.id), LinkProxy::start(to.addr.clone()).await?);
                }
            }
        }
        let mut nodes = Vec::new();
        let mut disks = BTreeMap::new();
        for &LoopbackNode {
            id,
            rpc_port: rpc,
            admin_port: admin,
        } in &plan
        {
            let config = NodeConfig {
                area,
                node_id: id,
                data_dir: dir.join(format!("node-{id}")),
                rpc_listen: format!("127.0.0.1:{rpc}"),
                rpc_advertise: None,
                admin_listen: format!("127.0.0.1:{admin}"),
                operator_token: operator_token.clone(),
                peers: peers.clone(),
                peer_routes: links
                    .iter()
                    .filter(|((from, _), _)| *from == id)
                    .map(|((_, to), proxy)| SeedPeer {
                        id: *to,
                        addr: proxy.addr().to_string(),
                    })
                    .collect(),
                tls: None,
                outbound_ca_files: Vec::new(),
                raft: RaftTuning::default(),
                storage: StorageTuning::default(),
                retention_day_ms: meridian_cluster::state::DAY_MS,
                call_answer_timeout_ms: meridian_cluster::state::ANSWER_TIMEOUT_MS,
                call_reconnect_ms: meridian_cluster::state::rtc::RECONNECT_TIMEOUT_MS,
                command_level: None,
            };
            if let Some(megabytes) = topology.small_disks_mib {
                disks.insert(id, SmallDisk::mount(&config.data_dir, megabytes)?);
            }
            let path = dir.join(format!("node-{id}.toml"));
            write_toml(&path, &config)?;
            let clock_offset_file = dir.join(format!("node-{id}.clock-offset-ms"));
            let mut slot = Slot::new(
                format!("node-{id}"),
                vec![
                    "cluster".into(),
                    "run".into(),
                    "--config".into(),
                    path.display().to_string(),
                ],
            );
            slot.env.push((
                meridian_clock::OFFSET_FILE_ENV.into(),
                clock_offset_file.display().to_string(),
            ));
            nodes.push(Node {
                id,
                rpc_addr: format!("127.0.0.1:{rpc}"),
                metrics_url: format!("http://127.0.0.1:{admin}/metrics"),
                log_dir: config.log_dir(),
                clock_offset_file,
                slot,
            });
        }
        let cluster: Vec<String> = nodes.iter().map(|n| n.rpc_addr.clone()).collect();
        let mut edges = Vec::new();
        for index in 0..topology.edges {
            let (public, admin) = (free_port()?, free_port()?);
            let mut edge_links = BTreeMap::new();
            for node in &nodes {
                edge_links.insert(node.id, LinkProxy::start(node.rpc_addr.clone()).await?);
            }
            let routes: Vec<SeedPeer> = edge_links
                .iter()
                .map(|(id, proxy)| SeedPeer {
                    id: *id,
                    addr: proxy.addr().to_string(),
                })
                .collect();
            let config = EdgeConfig {
                location: format!("chaos-{index}"),
                listen: format!("127.0.0.1:{public}"),
                admin_listen: format!("127.0.0.1:{admin}"),
                operator_token: operator_token.clone(),
                areas: vec![EdgeArea {
                    area,
                    cluster: routes.iter().map(|route| route.addr.clone()).collect(),
                    routes,
                    files: None,
                    media: None,
                }],
                directory: Vec::new(),
                rate_limits: true,
                tls: None,
                public_tls: None,
                sessions: SessionSettings {
                    filter_feed: !topology.whole_feed,
                    ..SessionSettings::default()
                },
                outbound_ca_files: Vec::new(),
                file_sweep_ms: meridian_edge::DEFAULT_FILE_SWEEP_MS,
                usage_flush_ms: meridian_edge::DEFAULT_USAGE_FLUSH_MS,
            };
            let path = dir.join(format!("edge-{index}.toml"));
            write_toml(&path, &config)?;
            let mut slot = Slot::new(
                format!("edge-{index}"),
                vec!["edge".into(), "--config".into(), path.display().to_string()],
            );
            if let Some(bug) = &topology.planted_bug {
                slot.env.push((PLANTED_BUG_ENV.into(), bug.clone()));
            }
            edges.push(EdgeProcess {
                public: format!("http://127.0.0.1:{public}"),
                admin: format!("http://127.0.0.1:{admin}"),
                slot,
                links: edge_links,
            });
        }
        let nav_port = free_port()?;
        let nav_path = dir.join("nav.toml");
        write_toml(
            &nav_path,
            &NavConfig {
                listen: format!("127.0.0.1:{nav_port}"),
                role: NavRole::Primary,
                areas: vec![NavArea {
                    area,
                    cluster: cluster.clone(),
                    edges: edges.iter().map(|e| e.public.clone()).collect(),
                    api: edges.iter().map(|e| e.public.clone()).collect(),
                    nav: vec![format!("http://127.0.0.1:{nav_port}")],
                    srv: None,
                    edge_tls: false,
                }],
                directory: Vec::new(),
                location: Default::default(),
                heartbeat_ms: SessionSettings::default().heartbeat_ms,
                dns: Default::default(),
            },
        )?;
        let mut deployment = Self {
            binary: binary.to_path_buf(),
            dir: dir.to_path_buf(),
            area,
            nodes,
            edges,
            nav: Slot::new(
                "nav".into(),
                vec![
                    "nav".into(),
                    "--config".into(),
                    nav_path.display().to_string(),
                ],
            ),
            nav_url: format!("http://127.0.0.1:{nav_port}"),
            links,
            client: ClusterClient::new(area, cluster, None),
            disks,
        };
        for id in 1..=topology.nodes {
            deployment.start_node(id)?;
        }
        if let Err(e) = deployment.wait_for_leader(Duration::from_secs(30)).await {
            bail!("{e}; exited early: {:?}", deployment.crashed());
        }
        for index in 0..topology.edges {
            deployment.start_edge(index).await?;
        }
        deployment.start_nav().await?;
        Ok(deployment)
    }

    /// The process ids of node `id` and of every edge (while running).
    pub fn pids(&self, id: u64) -> (Option<u32>, Vec<u32>) {
        let node = self
            .nodes
            .iter()
            .find(|n| n.id == id)
            .and_then(|n| n.slot.pid());
        (
            node,
            self.edges.iter().filter_map(|e| e.slot.pid()).collect(),
        )
    }

    /// The nav's base URL.
    pub fn nav_url(&self) -> &str {
        &self.nav_url
    }

    /// Starts the nav and waits until it answers.
    pub async fn start_nav(&mut self) -> anyhow::Result<()> {
        self.nav.start(&self.binary, &self.dir)?;
        let nav_health = format!("{}/healthz", self.nav_url);
        wait_for_ok(&nav_health, Duration::from_secs(15)).await
    }

    pub fn kill_nav(&mut self) {
        self.nav.kill();
    }

    /// Where the processes' logs are.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn node(&mut self, id: u64) -> &mut Node {
        self.nodes
            .iter_mut()
            .find(|n| n.id == id)
            .expect("node ids come from the deployment")
    }

    pub fn start_node(&mut self, id: u64) -> anyhow::Result<()> {
        let (binary, dir) = (self.binary.clone(), self.dir.clone());
        self.node(id).slot.start(&binary, &dir)
    }

    pub fn kill_node(&mut self, id: u64) {
        self.node(id).slot.kill();
    }

    pub async fn start_edge(&mut self, index: usize) -> anyhow::Result<()> {
        let edge = &mut self.edges[index];
        edge.slot.start(&self.binary, &self.dir)?;
        wait_for_ok(&format!("{}/readyz", edge.admin), Duration::from_secs(30)).await
    }

    pub fn kill_edge(&mut self, index: usize) {
        self.edges[index].slot.kill();
    }

    /// Processes that died on their own (not killed by the harness), by name.
    pub fn crashed(&mut self) -> Vec<String> {
        let mut crashed = Vec::new();
        let slots = self
            .nodes
            .iter_mut()
            .map(|n| &mut n.slot)
            .chain(self.edges.iter_mut().map(|e| &mut e.slot))
            .chain(std::iter::once(&mut self.nav));
        for slot in slots {
            if slot.child.is_some() && !slot.running() {
                crashed.push(slot.name.clone());
            }
        }
        crashed
    }

    /// Slows every link down (or makes them healthy again).
    pub fn slow_links(&self, slow: Option<SlowLink>) {
        for proxy in self.links.values() {
            proxy.set_slow(slow);
        }
    }

    /// Makes the Raft logs of nodes `ids` sync `delay` late each time (a binary built
    /// with the `planted-bug` feature honours it), or on time again.
    pub fn slow_fsync(&self, ids: &[u64], delay: Option<Duration>) -> anyhow::Result<()> {
        for node in self.nodes.iter().filter(|n| ids.contains(&n.id)) {
            let file = node.log_dir.join(slow_fsync::FILE);
            match delay {
                Some(delay) => std::fs::write(&file, delay.as_millis().to_string())?,
                None => std::fs::remove_file(&file)?,
            }
        }
        Ok(())
    }

    /// Steps node `id`'s clock by `offset_ms` (negative: back) from true time, or back to
    /// true time (a binary built with the `planted-bug` feature honours it, within 100 ms).
    pub fn jump_clock(&mut self, id: u64, offset_ms: Option<i64>) -> anyhow::Result<()> {
        let node = self.node(id);
        match offset_ms {
            Some(offset) => std::fs::write(&node.clock_offset_file, offset.to_string())?,
            None => std::fs::remove_file(&node.clock_offset_file)?,
        }
        Ok(())
    }

    /// Fills node `id`'s disk to half its reserve of free space (it then takes no
    /// entries, `storage.min_free_bytes`), or gives the space back.
    pub fn fill_disk(&self, id: u64, full: bool) -> anyhow::Result<()> {
        let disk = self
            .disks
            .get(&id)
            .context("a full disk needs small disks (--small-disks)")?;
        let reserve = StorageTuning::default().min_free_bytes;
        tokio::task::block_in_place(|| match full {
            true => disk.fill(reserve / 2),
            false => disk.empty(),
        })?;
        Ok(())
    }

    /// Cuts edge `index` off every node (both directions), or heals its links.
    pub fn cut_edge(&self, index: usize, cut: bool) {
        for proxy in self.edges[index].links.values() {
            proxy.set_cut(cut);
        }
    }

    /// Cuts every link to and from `id` (both directions), or heals all links.
    pub fn isolate(&self, id: Option<u64>) {
        for ((from, to), proxy) in &self.links {
            proxy.set_cut(Some(*from) == id || Some(*to) == id);
        }
    }

    /// The views of their group of the nodes that answer.
    pub async fn statuses(&self) -> Vec<NodeStatus> {
        let mut statuses = Vec::new();
        for node in &self.nodes {
            if let Ok(status) = self.client.status_of(&node.rpc_addr).await {
                statuses.push(status);
            }
        }
        statuses
    }

    /// The node that leads in the highest term any node knows, if one does.
    pub async fn leader(&self) -> Option<u64> {
        let statuses = self.statuses().await;
        let highest = statuses.iter().map(|s| s.term).max()?;
        statuses
            .iter()
            .find(|s| s.role == "leader" && s.term == highest)
            .map(|s| s.node_id)
    }

    pub async fn wait_for_leader(&self, timeout: Duration) -> anyhow::Result<u64> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(leader) = self.leader().await {
                return Ok(leader);
            }
            if Instant::now() > deadline {
                bail!(
                    "no leader within {timeout:?} (logs in {})",
                    self.dir.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every node's state digest once all of them hold the same records (none is written
    /// meanwhile), or what they answered when `timeout` passed. Applied indexes may still
    /// differ then: an election while checking adds a blank entry, which moves a node's
    /// index and none of its records.
    /// Stops every node cleanly (so each writes its state out) and returns where each
    /// one's data lies now: its data directory, or with small disks a copy beside it,
    /// since a tmpfs's files go with it.
    pub async fn stop_nodes_keeping_data(&mut self) -> anyhow::Result<Vec<PathBuf>> {
        let mut kept = Vec::new();
        for node in &mut self.nodes {
            node.slot.terminate(Duration::from_secs(20)).await;
            let data = self.dir.join(format!("node-{}", node.id));
            if !self.disks.contains_key(&node.id) {
                kept.push(data);
                continue;
            }
            let copy = self.dir.join(format!("node-{}.data", node.id));
            std::fs::create_dir_all(&copy)?;
            let copied = std::process::Command::new("cp")
                .arg("-a")
                .arg(data.join("raft-log"))
                .arg(data.join("state"))
                .arg(&copy)
                .status()?;
            ensure!(copied.success(), "copying node {}'s data", node.id);
            kept.push(copy);
        }
        Ok(kept)
    }

    /// Every node's state digest, read until the replicas agree, or were read at one
    /// applied index (then they must agree: a difference is a divergence), or `timeout`
    /// passes; the last read.
    pub async fn settled_digests(&self, timeout: Duration) -> Vec<(u64, Option<StateDigest>)> {
        let deadline = Instant::now() + timeout;
        loop {
            // All at once: each node hashes under its apply lock, so the nodes are read at
            // nearly one moment, and a write the area makes on its own (the leader's
            // periodic sweeps) rarely falls between two of them.
            let digests = futures::future::join_all(self.nodes.iter().map(|node| async {
                let digest = self.client.state_digest_of(&node.rpc_addr).await.ok();
                (node.id, digest)
            }))
            .await;
            if replicas_identical(&digests) || at_one_index(&digests) || Instant::now() > deadline {
                return digests;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Whether every node answered at the same applied index: their records must then be
/// the same, and a difference is a divergence, not a replica behind.
fn at_one_index(digests: &[(u64, Option<StateDigest>)]) -> bool {
    let indexes: std::collections::BTreeSet<_> = digests
        .iter()
        .map(|(_, d)| d.as_ref().map(|d| d.applied_index))
        .collect();
    indexes.len() == 1 && !indexes.contains(&None)
}

/// Whether every node answered with the same records.
pub fn replicas_identical(digests: &[(u64, Option<StateDigest>)]) -> bool {
    let states: std::collections::BTreeSet<_> = digests
        .iter()
        .map(|(_, d)| d.as_ref().map(|d| (d.records, &d.sha256)))
        .collect();
    states.len() == 1 && !states.contains(&None)
}

async fn wait_for_ok(url: &str, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let answer =
            meridian_rpc::http::request("GET", url, None, None, Duration::from_secs(2)).await;
        if matches!(answer, Ok(ref a) if a.status == 200) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{url} did not answer 200 within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(node: u64, index: u64, sha256: &str) -> (u64, Option<StateDigest>) {
        let digest = StateDigest {
            applied_index: Some(index),
            records: 10,
            sha256: sha256.into(),
        };
        (node, Some(digest))
    }

    #[test]
    fn replicas_read_at_different_indexes_settle_nothing_until_they_agree() {
        // One node read before the area's own write was applied, two after: not a verdict.
        let behind = [digest(1, 7, "a"), digest(2, 8, "b"), digest(3, 8, "b")];
        assert!(!replicas_identical(&behind) && !at_one_index(&behind));
        // A blank entry moves an index and no record: the same records agree.
        let blank = [digest(1, 7, "b"), digest(2, 8, "b"), digest(3, 8, "b")];
        assert!(replicas_identical(&blank));
        // Read at one index, differing records are a divergence.
        let diverged = [digest(1, 8, "a"), digest(2, 8, "b"), digest(3, 8, "b")];
        assert!(!replicas_identical(&diverged) && at_one_index(&diverged));
        // A node that did not answer is never identical, nor read at one index.
        let silent = [digest(1, 8, "b"), (2, None), digest(3, 8, "b")];
        assert!(!replicas_identical(&silent) && !at_one_index(&silent));
    }
}
