//! Test harness: real `meridian` processes on loopback, started, killed (SIGKILL) and
//! restarted by the tests, plus helpers to query them.

pub mod app_server;
pub use app_server::{AppServer, Received};
mod moto;
pub use moto::Moto;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use meridian_cluster::api::{ApiReply, ApiRequest, NodeStatus, ReadConsistency};
use meridian_cluster::config::{loopback_cluster, LoopbackNode, RaftTuning, StorageTuning};
use meridian_cluster::state::{Query, QueryOutput};
use meridian_cluster::{ClusterClient, NodeConfig};
use meridian_regions::AreaCode;
use meridian_rpc::{DevPki, TlsFiles, TlsSettings};
use tokio::time::Instant;

pub const OPERATOR_TOKEN: &str = "test-operator-token-0123456789";

/// A port nobody listens on right now (the OS picks it; the test binds it soon after).
pub fn free_port() -> u16 {
    meridian_telemetry::free_loopback_port().expect("free port")
}

/// Waits until something accepts connections on loopback `port`.
pub async fn listening(port: u16, what: &str) {
    eventually(Duration::from_secs(15), what, || async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
    })
    .await;
}

pub use meridian_chaos::small_disk::SmallDisk;

/// A child process that is killed when dropped.
pub struct Process {
    child: Child,
}

impl Process {
    pub fn spawn(command: &mut Command) -> Self {
        let child = command
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn meridian");
        Self { child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(mut self) {
        self.sigkill();
    }

    fn sigkill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child's pid; no memory is touched.
        let _ = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        self.child.wait().expect("wait for meridian")
    }

    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.sigkill();
    }
}

/// Polls `probe` every 20 ms until it yields a value or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub struct NodeSpec {
    pub id: u64,
    pub rpc_port: u16,
    pub admin_port: u16,
    pub config_path: PathBuf,
}

impl NodeSpec {
    pub fn rpc_addr(&self) -> String {
        format!("127.0.0.1:{}", self.rpc_port)
    }

    pub fn admin_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.admin_port)
    }
}

/// A cluster of real `meridian cluster run` processes on loopback.
pub struct ProcessCluster {
    binary: PathBuf,
    pub area: AreaCode,
    pub nodes: Vec<NodeSpec>,
    running: BTreeMap<u64, Process>,
    tls: Option<TlsFiles>,
    log_filter: Option<String>,
    _root: tempfile::TempDir,
}

pub struct ClusterOptions {
    pub nodes: u64,
    pub raft: RaftTuning,
    pub tls: bool,
    /// `RUST_LOG` of the nodes, whose stderr then goes to files read by
    /// [`ProcessCluster::log`] (inherited, at `warn`, otherwise).
    pub log_filter: Option<String>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            nodes: 3,
            raft: RaftTuning::default(),
            tls: false,
            log_filter: None,
        }
    }
}

impl ProcessCluster {
    /// Writes one configuration per node; nothing runs yet.
    pub fn new(binary: &Path, options: ClusterOptions) -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let area = AreaCode::Sg;
        let (plan, peers) = loopback_cluster(options.nodes).expect("free ports");
        let pki = options.tls.then(|| DevPki::new().expect("dev pki"));
        let mut tls = None;
        let nodes = plan
            .into_iter()
            .map(
                |LoopbackNode {
                     id,
                     rpc_port,
                     admin_port,
                 }| {
                    let node_tls = pki.as_ref().map(|pki| {
                        pki.write_node(root.path(), &format!("node-{id}"))
                            .expect("certs")
                    });
                    tls = tls.clone().or(node_tls.clone());
                    let config = NodeConfig {
                        area,
                        node_id: id,
                        data_dir: root.path().join(format!("node-{id}")),
                        rpc_listen: format!("127.0.0.1:{rpc_port}"),
                        rpc_advertise: None,
                        admin_listen: format!("127.0.0.1:{admin_port}"),
                        operator_token: OPERATOR_TOKEN.into(),
                        peers: peers.clone(),
                        peer_routes: Default::default(),
                        tls: node_tls,
                        outbound_ca_files: Vec::new(),
                        raft: options.raft.clone(),
                        storage: StorageTuning::default(),
                        retention_day_ms: meridian_cluster::state::DAY_MS,
                        call_answer_timeout_ms: meridian_cluster::state::ANSWER_TIMEOUT_MS,
                        call_reconnect_ms: meridian_cluster::state::rtc::RECONNECT_TIMEOUT_MS,
                        command_level: None,
                    };
                    let config_path = root.path().join(format!("node-{id}.toml"));
                    std::fs::write(&config_path, toml::to_string(&config).expect("toml"))
                        .expect("write config");
                    NodeSpec {
                        id,
                        rpc_port,
                        admin_port,
                        config_path,
                    }
                },
            )
            .collect();
        Self {
            binary: binary.to_path_buf(),
            area,
            nodes,
            running: BTreeMap::new(),
            tls,
            log_filter: options.log_filter,
            _root: root,
        }
    }

    /// Makes node `id` report `level` (or its build's) from its next start: a stand-in
    /// for a node of an older build in a rolling upgrade (LIFE-05).
    pub fn set_command_level(&self, id: u64, level: Option<u32>) {
        self.configure(id, |config| config.command_level = level);
    }

    /// Changes node `id`'s configuration from its next start.
    pub fn configure(&self, id: u64, change: impl FnOnce(&mut NodeConfig)) {
        let path = &self.spec(id).config_path;
        let text = std::fs::read_to_string(path).expect("node config");
        let mut config: NodeConfig = toml::from_str(&text).expect("node config parses");
        change(&mut config);
        std::fs::write(path, toml::to_string(&config).expect("toml")).expect("write config");
    }

    pub fn spec(&self, id: u64) -> &NodeSpec {
        self.nodes.iter().find(|n| n.id == id).expect("node id")
    }

    pub fn start(&mut self, id: u64) {
        let config = self.spec(id).config_path.clone();
        let mut command = Command::new(&self.binary);
        command
            .args(["cluster", "run", "--config"])
            .arg(config)
            .env("RUST_LOG", self.log_filter.as_deref().unwrap_or("warn"))
            .stdout(Stdio::null());
        if self.log_filter.is_some() {
            let log = std::fs::File::options()
                .create(true)
                .append(true)
                .open(self.log_path(id))
                .expect("node log file");
            command.stderr(log);
        }
        self.running.insert(id, Process::spawn(&mut command));
    }

    /// Where node `id` keeps its data (a test may mount a small filesystem there first).
    pub fn data_dir(&self, id: u64) -> PathBuf {
        self._root.path().join(format!("node-{id}"))
    }

    /// How node `id` exited, if it has.
    pub fn exit_status(&mut self, id: u64) -> Option<std::process::ExitStatus> {
        self.running.get_mut(&id)?.try_wait()
    }

    fn log_path(&self, id: u64) -> PathBuf {
        self._root.path().join(format!("node-{id}.log"))
    }

    /// What node `id` logged (with [`ClusterOptions::log_filter`]).
    pub fn log(&self, id: u64) -> String {
        std::fs::read_to_string(self.log_path(id)).unwrap_or_default()
    }

    pub fn start_all(&mut self) {
        let ids: Vec<u64> = self.nodes.iter().map(|n| n.id).collect();
        for id in ids {
            self.start(id);
        }
    }

    pub fn kill(&mut self, id: u64) {
        if let Some(process) = self.running.remove(&id) {
            process.kill();
        }
    }

    /// Stops node `id` cleanly (SIGTERM): it writes its state out before it exits.
    pub fn stop(&mut self, id: u64) -> Option<std::process::ExitStatus> {
        Some(self.running.remove(&id)?.terminate())
    }

    pub fn kill_all(&mut self) {
        let ids: Vec<u64> = self.running.keys().copied().collect();
        for id in ids {
            self.kill(id);
        }
    }

    pub fn running_ids(&self) -> Vec<u64> {
        self.running.keys().copied().collect()
    }

    pub fn tls_settings(&self) -> Option<TlsSettings> {
        self.tls
            .as_ref()
            .map(|files| TlsSettings::load(files).expect("tls"))
    }

    /// A client that finds the leader among all nodes.
    pub fn client(&self) -> ClusterClient {
        ClusterClient::new(
            self.area,
            self.nodes.iter().map(|n| n.rpc_addr()).collect(),
            self.tls_settings(),
        )
    }

    pub async fn status(&self, id: u64) -> Option<NodeStatus> {
        self.client()
            .status_of(&self.spec(id).rpc_addr())
            .await
            .ok()
    }

    /// Waits until a running node is leader in the highest term any running node knows
    /// (a restarted old leader may briefly claim a stale term), with a term above
    /// `after_term`, and returns its status.
    pub async fn wait_for_leader(&self, after_term: u64, timeout: Duration) -> NodeStatus {
        eventually(timeout, "a leader", || async {
            let mut statuses = Vec::new();
            for id in self.running_ids() {
                statuses.extend(self.status(id).await);
            }
            let highest = statuses.iter().map(|s| s.term).max()?;
            statuses
                .into_iter()
                .find(|s| s.role == "leader" && s.term == highest && s.term > after_term)
        })
        .await
    }

    /// Waits until node `id` has applied at least `index`.
    pub async fn wait_for_applied(&self, id: u64, index: u64, timeout: Duration) -> NodeStatus {
        eventually(
            timeout,
            &format!("node {id} to apply index {index}"),
            || async {
                self.status(id)
                    .await
                    .filter(|s| s.applied_index.unwrap_or(0) >= index)
            },
        )
        .await
    }

    /// Reads `query` from node `id`'s own state, without forwarding.
    pub async fn local_read(&self, id: u64, query: Query) -> Option<QueryOutput> {
        let request = ApiRequest::Read {
            query,
            consistency: ReadConsistency::Local,
        };
        match self
            .client()
            .call_node(&self.spec(id).rpc_addr(), &request)
            .await
        {
            Ok(ApiReply::Read(Ok(output))) => Some(output),
            _ => None,
        }
    }

    /// Calls the operator admin API on the first node: the status, and the JSON answer
    /// (`Null` when it is not JSON).
    pub async fn admin(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let url = format!("{}{path}", self.nodes[0].admin_url());
        let body = body.map(|b| b.to_string());
        let answer = meridian_rpc::http::request(
            method,
            &url,
            Some(OPERATOR_TOKEN),
            body.as_deref().map(str::as_bytes),
            Duration::from_secs(10),
        )
        .await
        .expect("admin call");
        let value = serde_json::from_slice(&answer.body).unwrap_or(serde_json::Value::Null);
        (answer.status, value)
    }

    /// The value of an unlabelled-or-area-labelled metric on node `id`.
    pub async fn metric(&self, id: u64, name: &str) -> Option<f64> {
        let url = format!("{}/metrics", self.spec(id).admin_url());
        let answer = meridian_rpc::http::request("GET", &url, None, None, Duration::from_secs(5))
            .await
            .ok()?;
        metric_value(&answer.text(), name)
    }
}

/// The value of the first sample of `name` in a Prometheus text exposition.
pub fn metric_value(exposition: &str, name: &str) -> Option<f64> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            l.starts_with(name) && matches!(l.as_bytes().get(name.len()), Some(b' ') | Some(b'{'))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The sum of the samples of `name` whose labels include every one of `labels`
/// (`outcome="busy"`), in a Prometheus text exposition.
pub fn metric_sum(exposition: &str, name: &str, labels: &[&str]) -> f64 {
    exposition
        .lines()
        .filter(|l| l.starts_with(name) && l.as_bytes().get(name.len()) == Some(&b'{'))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Sends one HTTP/1.1 request exactly as given (headers and body bytes untouched) on a
/// fresh connection and reads the whole answer: for testing what real SDKs send.
pub async fn raw_http(
    url: &str,
    method: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> meridian_rpc::http::HttpAnswer {
    raw_http_with_head(url, method, headers, body).await.0
}

/// [`raw_http`], also answering the response's head (status line and headers) as text.
pub async fn raw_http_with_head(
    url: &str,
    method: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (meridian_rpc::http::HttpAnswer, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.trim_start_matches("http://");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .expect("connect");
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    stream.write_all(&bytes).await.expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .unwrap_or(response.len());
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let answer = meridian_rpc::http::HttpAnswer {
        status,
        body: response[split..].to_vec().into(),
    };
    (answer, head)
}

/// Hex SHA-1 of `secret + nonce + timestamp`, computed here independently of Meridian's
/// own code: the Server API's signature and the callbacks'.
pub fn signature(secret: &str, nonce: &str, timestamp: &str) -> String {
    use sha1::{Digest, Sha1};
    let digest = Sha1::digest(format!("{secret}{nonce}{timestamp}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `App-Key`, `Nonce`, `Timestamp` and `Signature` headers as COMPAT.md describes them.
pub fn signed_headers(
    app_key: &str,
    secret: &str,
    nonce: &str,
    timestamp: &str,
) -> Vec<(String, String)> {
    let signature = signature(secret, nonce, timestamp);
    vec![
        ("App-Key".into(), app_key.into()),
        ("Nonce".into(), nonce.into()),
        ("Timestamp".into(), timestamp.into()),
        ("Signature".into(), signature),
    ]
}

/// A `meridian dev` process for black-box tests, on ports no other test uses.
pub struct DevDeployment {
    pub endpoints: serde_json::Value,
    /// Where `endpoints` was read from (the CLI takes this path).
    pub endpoints_file: PathBuf,
    process: Process,
    /// The binary and arguments it runs with, for a restart.
    command: (PathBuf, Vec<OsString>),
    _dir: tempfile::TempDir,
}

/// Spawns `meridian` with `args` and waits for the `endpoints` file it writes; `None` if
/// it exited first (its ports were taken).
async fn launch(
    binary: &Path,
    args: &[OsString],
    endpoints: &Path,
) -> Option<(Process, serde_json::Value)> {
    let mut process = Process::spawn(
        Command::new(binary)
            .args(args)
            // MERIDIAN_TEST_LOG raises the level when a failure needs the processes' logs.
            .env(
                "RUST_LOG",
                std::env::var("MERIDIAN_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null()),
    );
    let started = eventually(Duration::from_secs(20), "endpoints.json", || {
        let exited = process.try_wait();
        async move {
            if exited.is_some() {
                return Some(None);
            }
            let text = std::fs::read_to_string(endpoints).ok()?;
            serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .map(Some)
        }
    })
    .await;
    started.map(|endpoints| (process, endpoints))
}

impl DevDeployment {
    /// The `/metrics` exposition of `area`'s first node, if it answers.
    pub async fn node_metrics(&self, area: &str) -> Option<String> {
        let admin = self.endpoints["areas"][area]["cluster"][0]["admin"].as_str()?;
        Self::metrics_at(&format!("{admin}/metrics")).await
    }

    /// The metrics exposition of `area`'s edge (on its own admin listener), if it answers.
    pub async fn edge_metrics(&self, area: &str) -> Option<String> {
        Self::metrics_at(self.endpoints["areas"][area]["edges"][0]["metrics"].as_str()?).await
    }

    async fn metrics_at(url: &str) -> Option<String> {
        let answer = meridian_rpc::http::request("GET", url, None, None, Duration::from_secs(5))
            .await
            .ok()?;
        Some(answer.text())
    }

    /// Starts `meridian dev --areas <areas> --nodes <nodes>` and waits for endpoints.json.
    pub async fn start(binary: &Path, areas: &str, nodes: u64) -> Self {
        Self::start_with(binary, areas, nodes, &[]).await
    }

    /// [`DevDeployment::start`] with extra `meridian dev` flags.
    pub async fn start_with(binary: &Path, areas: &str, nodes: u64, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = dir.path().join("data");
        let endpoints_file = data_dir.join("endpoints.json");
        // Outside the ephemeral range, spread by pid; another base when one is taken.
        let mut base = 20_000 + (std::process::id() % 400) as u16 * 25;
        for _ in 0..10 {
            let mut args: Vec<OsString> = ["dev", "--areas", areas, "--nodes", &nodes.to_string()]
                .iter()
                .chain(extra)
                .chain(&["--port-base", &base.to_string(), "--data-dir"])
                .map(OsString::from)
                .collect();
            args.push(data_dir.clone().into());
            if let Some((process, endpoints)) = launch(binary, &args, &endpoints_file).await {
                return Self {
                    endpoints,
                    endpoints_file,
                    process,
                    command: (binary.to_path_buf(), args),
                    _dir: dir,
                };
            }
            let _ = std::fs::remove_dir_all(&data_dir);
            base = base.wrapping_add(1000).max(20_000);
        }
        panic!("meridian dev did not start on any port base");
    }

    /// SIGKILLs the whole deployment (edges, navs, every node) at once and starts it again
    /// on the same ports and data.
    pub async fn kill_and_restart(&mut self) {
        self.process.sigkill();
        let _ = std::fs::remove_file(&self.endpoints_file);
        let (binary, args) = &self.command;
        let (process, endpoints) = launch(binary, args, &self.endpoints_file)
            .await
            .expect("meridian dev restarted on its ports");
        self.process = process;
        self.endpoints = endpoints;
    }

    pub fn api(&self, area: &str) -> String {
        self.endpoints["areas"][area]["api"][0]
            .as_str()
            .expect("api url")
            .to_string()
    }

    /// The WebSocket URL of the area's first edge.
    pub fn ws(&self, area: &str) -> String {
        self.endpoints["areas"][area]["edges"][0]["ws"]
            .as_str()
            .expect("ws url")
            .to_string()
    }

    /// (App Key, App Secret) of the demo app's `env` environment in `area`.
    pub fn app(&self, area: &str, env: &str) -> (String, String) {
        let apps = self.endpoints["areas"][area]["apps"]
            .as_array()
            .expect("apps");
        let app = apps.iter().find(|a| a["env"] == env).expect("environment");
        (
            app["appKey"].as_str().expect("key").to_string(),
            app["appSecret"].as_str().expect("secret").to_string(),
        )
    }

    pub fn stop(self) -> std::process::ExitStatus {
        self.stop_keeping_data().0
    }

    /// Stops it and hands over the directory holding its data dir (deleted when the
    /// returned `TempDir` is dropped).
    pub fn stop_keeping_data(self) -> (std::process::ExitStatus, tempfile::TempDir) {
        (self.process.terminate(), self._dir)
    }
}
