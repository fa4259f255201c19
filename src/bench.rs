//! `meridian bench raft`: acknowledged writes (durable and majority-committed) per second
//! and their latency on a 3-node loopback cluster, next to a 3-member etcd measured in the
//! same run with the same concurrency.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine;
use bytes::Bytes;
use clap::Subcommand;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use meridian_cluster::admin::generate_credentials;
use meridian_cluster::config::{loopback_cluster, LoopbackNode, RaftTuning, StorageTuning};
use meridian_cluster::state::{Command, CreateApp, Credentials, Envelope, PutUser};
use meridian_cluster::{ClusterClient, ClusterNode, NodeConfig};
use meridian_regions::AreaCode;
use serde_json::json;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Replicated writes: Meridian's cluster against a 3-member etcd.
    Raft {
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Concurrent writers, comma separated.
        #[arg(long, value_delimiter = ',', default_value = "1,16,256")]
        writers: Vec<usize>,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// The etcd binary for the baseline (Debian's etcd-server installs /usr/bin/etcd).
        #[arg(long, default_value = "etcd")]
        etcd: String,
        /// Skip the etcd baseline.
        #[arg(long)]
        no_etcd: bool,
    },
    /// Server API: `/message/private/publish.json` through one edge into a 3-node area.
    Api {
        #[arg(long)]
        json: bool,
        #[arg(long, value_delimiter = ',', default_value = "1,16,256")]
        writers: Vec<usize>,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// Steady Server API load for many minutes at 70% of the peak: refusals, p99 and
    /// memory over time (not part of `bench all`).
    Soak(crate::bench_soak::SoakArgs),
    /// Idle WebSocket sessions on one edge and the edge process's memory per session.
    Sessions(crate::bench_sessions::SessionsArgs),
    /// Private-message latency between WebSocket sessions at a steady rate.
    Ws(crate::bench_sessions::WsArgs),
    /// Time for a group message to reach every online member.
    Group(crate::bench_sessions::GroupArgs),
    /// Chatroom fan-out: deliveries per second to every member of one room.
    Chatroom(crate::bench_sessions::ChatroomArgs),
    /// Navigation answers per second and latency under wrk (Debian's package).
    Nav(crate::bench_sessions::NavArgs),
    /// Message routing callbacks (HOOK-01) per second to a local app server.
    Hooks(crate::bench_hooks::HooksArgs),
    /// Every benchmark above with its defaults, one after the other, each in a process of
    /// its own; prints `{"machine": …, "benchmarks": [each one's --json object]}`.
    All,
}

/// What `bench all` runs, in order.
const ALL: [&str; 8] = [
    "raft", "api", "sessions", "ws", "group", "chatroom", "nav", "hooks",
];

async fn run_all() -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("locating the meridian binary")?;
    let mut results = Vec::new();
    for name in ALL {
        eprintln!("meridian bench: all: {name}");
        let output = tokio::process::Command::new(&exe)
            .args(["bench", name, "--json"])
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .await?;
        if !output.status.success() {
            bail!("meridian bench {name} failed ({})", output.status);
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let last = stdout.lines().last().unwrap_or_default();
        let result: serde_json::Value = serde_json::from_str(last)
            .with_context(|| format!("meridian bench {name} printed no JSON"))?;
        results.push(result);
    }
    println!("{}", json!({ "machine": machine(), "benchmarks": results }));
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize)]
struct Measurement {
    writers: usize,
    writes: u64,
    writes_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// The `q` quantile (nearest rank) of ascending `sorted` latencies, in milliseconds.
pub(crate) fn percentile_ms(sorted: &[Duration], q: f64) -> f64 {
    meridian_chaos::checker::nearest_rank(sorted, q).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

fn summarize(writers: usize, elapsed: Duration, mut latencies: Vec<Duration>) -> Measurement {
    latencies.sort();
    Measurement {
        writers,
        writes: latencies.len() as u64,
        writes_per_sec: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile_ms(&latencies, 0.50),
        p99_ms: percentile_ms(&latencies, 0.99),
    }
}

/// Runs `writers` loops of `op` for `duration`; every completed op's latency is kept.
async fn drive<F, Fut>(writers: usize, duration: Duration, op: F) -> anyhow::Result<Measurement>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                op(writer, n).await?;
                latencies.push(t.elapsed());
                n += 1;
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    Ok(summarize(writers, started.elapsed(), all))
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(meridian_telemetry::free_loopback_port()?)
}

/// A 3-node loopback area of in-process nodes with one app; answers the nodes, a client
/// and the app's prod credentials.
pub(crate) async fn start_bench_area(
    dir: &Path,
) -> anyhow::Result<(Vec<ClusterNode>, Arc<ClusterClient>, Credentials)> {
    let token = generate_credentials().app_secret + "-bench-operator";
    let (plan, peers) = loopback_cluster(3)?;
    let mut nodes = Vec::new();
    for &LoopbackNode {
        id,
        rpc_port: rpc,
        admin_port: admin,
    } in &plan
    {
        nodes.push(
            ClusterNode::start(NodeConfig {
                area: AreaCode::Sg,
                node_id: id,
                data_dir: dir.join(format!("node-{id}")),
                rpc_listen: format!("127.0.0.1:{rpc}"),
                rpc_advertise: None,
                admin_listen: format!("127.0.0.1:{admin}"),
                operator_token: token.clone(),
                peers: peers.clone(),
                peer_routes: Default::default(),
                tls: None,
                outbound_ca_files: Vec::new(),
                raft: RaftTuning::default(),
                storage: StorageTuning::default(),
            })
            .await?,
        );
    }
    let client = Arc::new(ClusterClient::new(
        AreaCode::Sg,
        peers.iter().map(|p| p.addr.clone()).collect(),
        None,
    ));
    let creds = generate_credentials();
    client
        .write_one(Envelope {
            area: AreaCode::Sg,
            command: Command::CreateApp(CreateApp {
                name: "bench".into(),
                dev: generate_credentials(),
                prod: creds.clone(),
            }),
        })
        .await?;
    Ok((nodes, client, creds))
}

async fn bench_meridian(
    dir: &Path,
    writers: &[usize],
    duration: Duration,
) -> anyhow::Result<Vec<Measurement>> {
    let (nodes, client, creds) = start_bench_area(dir).await?;
    let mut results = Vec::new();
    for &count in writers {
        let client = client.clone();
        let app_key = creds.app_key.clone();
        let measurement = drive(count, duration, move |writer, n| {
            let client = client.clone();
            let envelope = Envelope {
                area: AreaCode::Sg,
                command: Command::PutUser(PutUser {
                    app_key: app_key.clone(),
                    user_id: format!("w{count}-{writer}-{n}"),
                    name: Some("bench user".into()),
                    portrait: None,
                }),
            };
            async move {
                client.write_one(envelope).await?;
                Ok(())
            }
        })
        .await?;
        results.push(measurement);
    }
    for node in nodes {
        node.shutdown().await;
    }
    Ok(results)
}

struct EtcdCluster {
    children: Vec<std::process::Child>,
    client_url: String,
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub(crate) fn find_binary(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Path::new(name).is_file().then(|| PathBuf::from(name));
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}

async fn start_etcd(binary: &Path, dir: &Path) -> anyhow::Result<EtcdCluster> {
    let members: Vec<(String, u16, u16)> = (1..=3)
        .map(|i| Ok((format!("e{i}"), free_port()?, free_port()?)))
        .collect::<anyhow::Result<_>>()?;
    let initial: Vec<String> = members
        .iter()
        .map(|(name, _, peer)| format!("{name}=http://127.0.0.1:{peer}"))
        .collect();
    let mut cluster = EtcdCluster {
        children: Vec::new(),
        client_url: format!("http://127.0.0.1:{}", members[0].1),
    };
    for (name, client, peer) in &members {
        let child = std::process::Command::new(binary)
            .args(["--name", name])
            .arg("--data-dir")
            .arg(dir.join(name))
            .args([
                "--listen-client-urls",
                &format!("http://127.0.0.1:{client}"),
            ])
            .args([
                "--advertise-client-urls",
                &format!("http://127.0.0.1:{client}"),
            ])
            .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer}")])
            .args([
                "--initial-advertise-peer-urls",
                &format!("http://127.0.0.1:{peer}"),
            ])
            .args(["--initial-cluster", &initial.join(",")])
            .args(["--initial-cluster-state", "new", "--log-level", "error"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        cluster.children.push(child);
    }
    let started = Instant::now();
    loop {
        let health = meridian_rpc::http::request(
            "GET",
            &format!("{}/health", cluster.client_url),
            None,
            None,
            Duration::from_secs(2),
        )
        .await;
        if matches!(&health, Ok(answer) if answer.status == 200 && answer.text().contains("true")) {
            return Ok(cluster);
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("etcd did not become healthy within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One writer's keep-alive HTTP/1.1 connection (to etcd's JSON gateway, or an edge).
pub(crate) async fn keepalive_connection(
    url: &str,
) -> anyhow::Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
    let authority = url.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(authority).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

async fn bench_etcd(
    binary: &Path,
    dir: &Path,
    writers: &[usize],
    duration: Duration,
) -> anyhow::Result<Vec<Measurement>> {
    let cluster = start_etcd(binary, dir).await?;
    let mut results = Vec::new();
    for &count in writers {
        let mut connections = Vec::new();
        for _ in 0..count {
            connections.push(tokio::sync::Mutex::new(
                keepalive_connection(&cluster.client_url).await?,
            ));
        }
        let connections = Arc::new(connections);
        let authority = cluster.client_url.trim_start_matches("http://").to_string();
        let measurement = drive(count, duration, move |writer, n| {
            let connections = connections.clone();
            let authority = authority.clone();
            async move {
                let b64 = base64::engine::general_purpose::STANDARD;
                let body = json!({
                    "key": b64.encode(format!("w{count}-{writer}-{n}")),
                    "value": b64.encode("bench user"),
                })
                .to_string();
                let request = hyper::Request::post("/v3/kv/put")
                    .header(hyper::header::HOST, authority)
                    .header(hyper::header::CONTENT_TYPE, "application/json")
                    .body(Full::new(Bytes::from(body)))?;
                let mut sender = connections[writer].lock().await;
                let response = sender.send_request(request).await?;
                let status = response.status();
                response.into_body().collect().await?;
                if !status.is_success() {
                    bail!("etcd put answered {status}");
                }
                Ok(())
            }
        })
        .await?;
        results.push(measurement);
    }
    Ok(results)
}

pub(crate) fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_default();
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "cpu": cpu,
        "os": std::env::consts::OS,
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
    })
}

/// How many port bases a benchmark deployment tries before giving up.
pub(crate) const PORT_BASE_ATTEMPTS: u16 = 5;

/// The first of consecutive loopback ports for a benchmark deployment: spread by process
/// id so concurrent runs rarely collide, and a different range on each retry if taken.
pub(crate) fn port_base(attempt: u16) -> u16 {
    // Below Linux's ephemeral range (32768+): thousands of benchmark client sockets,
    // some still closing from an earlier run, never hold these ports.
    20_000 + (std::process::id() % 300) as u16 * 20 + attempt * 1000
}

/// Writer `writer`'s `n`th private message as a signed `/message/private/publish.json`.
pub(crate) fn private_publish(
    authority: &str,
    key: &str,
    secret: &str,
    writer: usize,
    n: u64,
) -> anyhow::Result<hyper::Request<Full<Bytes>>> {
    let nonce = format!("{writer}{n}");
    let body = format!(
        "fromUserId=w{writer}&toUserId=r{writer}&objectName=RC:TxtMsg&content={{\"content\":\"m{n}\"}}"
    );
    let mut request = hyper::Request::post("/message/private/publish.json")
        .header(hyper::header::HOST, authority)
        .header(
            hyper::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        );
    for (name, value) in meridian_client::server_api::signed_headers(key, secret, &nonce, 0) {
        request = request.header(name, value);
    }
    Ok(request.body(Full::new(Bytes::from(body)))?)
}

/// Acknowledged private messages/s through one edge of a 3-node `meridian dev` area,
/// each writer on its own keep-alive connection, every request signed as SDKs sign.
async fn bench_api(writers: &[usize], duration: Duration) -> anyhow::Result<Vec<Measurement>> {
    let dir = tempfile_dir()?.join("api");
    let mut deployment = None;
    for attempt in 0..PORT_BASE_ATTEMPTS {
        let base = port_base(attempt);
        let options = crate::dev::DevOptions {
            areas: vec![AreaCode::Sg],
            nodes: 3,
            data_dir: dir.join(format!("try-{attempt}")),
            port_base: base,
            // The pipeline is measured, not the per-app limiter (6000 messages/min).
            rate_limits: false,
            sessions: Default::default(),
            outbound_ca_files: Vec::new(),
        };
        if let Ok(started) = crate::dev::Deployment::start(options).await {
            deployment = Some(started);
            break;
        }
    }
    let deployment = deployment.context("no free port range for the benchmark deployment")?;
    let endpoints = deployment.endpoints();
    let api = endpoints["areas"]["SG"]["api"][0]
        .as_str()
        .context("api url")?
        .to_string();
    let app = endpoints["areas"]["SG"]["apps"][1].clone();
    let key = app["appKey"].as_str().context("app key")?.to_string();
    let secret = app["appSecret"].as_str().context("app secret")?.to_string();
    let authority = api.trim_start_matches("http://").to_string();
    let mut results = Vec::new();
    for &count in writers {
        let mut connections = Vec::new();
        for _ in 0..count {
            connections.push(tokio::sync::Mutex::new(keepalive_connection(&api).await?));
        }
        let connections = Arc::new(connections);
        let (authority, key, secret) = (authority.clone(), key.clone(), secret.clone());
        let measurement = drive(count, duration, move |writer, n| {
            let connections = connections.clone();
            let (authority, key, secret) = (authority.clone(), key.clone(), secret.clone());
            async move {
                let request = private_publish(&authority, &key, &secret, writer, n)?;
                let mut sender = connections[writer].lock().await;
                let response = sender.send_request(request).await?;
                let status = response.status();
                let answer = response.into_body().collect().await?.to_bytes();
                if !status.is_success() {
                    bail!(
                        "publish answered {status}: {}",
                        String::from_utf8_lossy(&answer)
                    );
                }
                Ok(())
            }
        })
        .await?;
        results.push(measurement);
    }
    deployment.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(results)
}

pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    let (as_json, writers, seconds, etcd, no_etcd) = match command {
        BenchCommand::Raft {
            json,
            writers,
            seconds,
            etcd,
            no_etcd,
        } => (json, writers, seconds, etcd, no_etcd),
        BenchCommand::Api {
            json,
            writers,
            seconds,
        } => {
            let results = bench_api(&writers, Duration::from_secs(seconds.max(1))).await?;
            if json {
                println!(
                    "{}",
                    json!({ "benchmark": "api", "machine": machine(), "seconds_per_point": seconds, "meridian": results })
                );
            } else {
                println!("writers  messages/s   p50 ms   p99 ms");
                for m in &results {
                    println!(
                        "{:>7} {:>11.0} {:>8.2} {:>8.2}",
                        m.writers, m.writes_per_sec, m.p50_ms, m.p99_ms
                    );
                }
            }
            return Ok(());
        }
        BenchCommand::Sessions(args) => return crate::bench_sessions::sessions(args).await,
        BenchCommand::Ws(args) => return crate::bench_sessions::ws(args).await,
        BenchCommand::Group(args) => return crate::bench_sessions::group(args).await,
        BenchCommand::Chatroom(args) => return crate::bench_sessions::chatroom(args).await,
        BenchCommand::Nav(args) => return crate::bench_sessions::nav(args).await,
        BenchCommand::Hooks(args) => return crate::bench_hooks::hooks(args).await,
        BenchCommand::Soak(args) => return crate::bench_soak::soak(args).await,
        BenchCommand::All => return run_all().await,
    };
    let duration = Duration::from_secs(seconds.max(1));
    let dir = tempfile_dir()?;
    let meridian = bench_meridian(&dir.join("meridian"), &writers, duration).await?;
    let etcd_results = if no_etcd {
        None
    } else {
        let binary = find_binary(&etcd).with_context(|| {
            format!(
                "etcd binary {etcd:?} not found (install Debian's etcd-server, or pass --no-etcd)"
            )
        })?;
        Some(bench_etcd(&binary, &dir.join("etcd"), &writers, duration).await?)
    };
    let _ = std::fs::remove_dir_all(&dir);
    let ratios: Option<Vec<f64>> = etcd_results.as_ref().map(|etcd| {
        meridian
            .iter()
            .zip(etcd)
            .map(|(m, e)| {
                if e.writes_per_sec > 0.0 {
                    m.writes_per_sec / e.writes_per_sec
                } else {
                    0.0
                }
            })
            .collect()
    });
    if as_json {
        println!(
            "{}",
            json!({
                "benchmark": "raft",
                "machine": machine(),
                "seconds_per_point": seconds,
                "meridian": meridian,
                "etcd": etcd_results,
                "ratio": ratios,
            })
        );
    } else {
        println!("writers  meridian w/s   p50 ms   p99 ms |   etcd w/s   p50 ms   p99 ms |  ratio");
        for (i, m) in meridian.iter().enumerate() {
            let e = etcd_results.as_ref().and_then(|e| e.get(i));
            let r = ratios.as_ref().and_then(|r| r.get(i));
            println!(
                "{:>7} {:>13.0} {:>8.2} {:>8.2} | {:>10} {:>8} {:>8} | {:>6}",
                m.writers,
                m.writes_per_sec,
                m.p50_ms,
                m.p99_ms,
                e.map_or("-".into(), |e| format!("{:.0}", e.writes_per_sec)),
                e.map_or("-".into(), |e| format!("{:.2}", e.p50_ms)),
                e.map_or("-".into(), |e| format!("{:.2}", e.p99_ms)),
                r.map_or("-".into(), |r| format!("{r:.1}x")),
            );
        }
    }
    Ok(())
}

pub(crate) fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("meridian-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
