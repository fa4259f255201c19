//! The `meridian` command: parses flags and wires the crates together.

mod api;
mod audit;
mod call;
mod chaos;
mod chat;
mod config_file;
mod demo_app;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use meridian_cluster::backup;
use meridian_cluster::{ClusterNode, NodeConfig};
use meridian_dev::endpoints::{DATA_DIR_ENV, DEFAULT_DATA_DIR};
use meridian_edge::{Edge, EdgeConfig};
use meridian_files::BucketPrefix;
use meridian_media::{MediaConfig, MediaServer};
use meridian_nav::{Nav, NavConfig};
use meridian_regions::{AreaCode, Catalog};
use meridian_telemetry::{init_logging, init_logging_while_starting, LogFormat, StartingLogs};

/// Raft entries, RPC bodies and state-machine records are many short-lived allocations;
/// glibc's allocator spent an eighth of the CPU in `_int_malloc` under write load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "meridian",
    version,
    about = "Meridian: a self-hosted, multi-area instant-messaging cluster"
)]
struct Cli {
    /// Log format on stderr: pretty or json.
    #[arg(
        long,
        global = true,
        default_value = "pretty",
        env = "MERIDIAN_LOG_FORMAT"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run every area (3-node clusters, edges) and a primary and backup nav in one process.
    Dev(DevArgs),
    /// Run or manage a cluster node.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Run an edge.
    Edge(ConfigArg),
    /// Run a nav service.
    Nav(NavArgs),
    /// Run an area's media server (WebRTC SFU with WHIP/WHEP).
    Media(ConfigArg),
    /// Serve the web console for operators and app developers over the areas' admin APIs.
    Console(ConsoleArgs),
    /// Run a benchmark.
    #[command(subcommand)]
    Bench(meridian_bench::BenchCommand),
    /// Chat from a terminal through a deployment's edge (send, listen, or interactive).
    Chat(chat::ChatArgs),
    /// Ring a user or a group's members from a terminal, or answer a call (RTC-03).
    Call(call::CallArgs),
    /// Call the Server API as a dev deployment's demo app, signed for you, and print the
    /// status and the body: `meridian api POST /user/getToken.json userId=alice`.
    Api(api::ApiArgs),
    /// Write a Prometheus scrape configuration (file discovery) for a deployment.
    PrometheusConfig(PrometheusConfigArgs),
    /// Run an area as separate processes under load and seeded faults, and check that no
    /// acknowledged message was lost, duplicated or reordered. The last line printed is
    /// the verdict as JSON; the exit status is non-zero on any violation.
    Chaos(chaos::ChaosArgs),
    /// Audit stored data.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Operate an area through its admin API.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Take a consistent backup of the area while it serves (the leader's snapshot, at or
    /// after every write acknowledged before): `state.snap` and `backup.json` in `--out`.
    Backup {
        #[command(flatten)]
        target: AdminTarget,
        /// A new directory (or an empty one) for the backup, or `s3://bucket/prefix` (the
        /// bucket reached through the AWS environment; not the area's file store bucket).
        #[arg(long)]
        out: String,
    },
    /// Write an app environment's users, groups and history as JSON lines (LIFE-03).
    Export {
        #[command(flatten)]
        target: AdminTarget,
        /// The App Key of the environment.
        #[arg(long)]
        app: String,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Import an export (JSON lines) into an app environment, in order.
    Import {
        #[command(flatten)]
        target: AdminTarget,
        /// The App Key of the environment.
        #[arg(long)]
        app: String,
        /// The export to read.
        #[arg(long)]
        file: PathBuf,
    },
}

#[derive(Args)]
struct PrometheusConfigArgs {
    #[command(flatten)]
    endpoints: demo_app::EndpointsFile,
    /// Where to write prometheus.yml and targets.json (by default prometheus/ beside
    /// endpoints.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seconds between scrapes.
    #[arg(long, default_value_t = 15)]
    scrape_interval: u64,
}

#[derive(Args)]
struct DevArgs {
    /// Areas to run, comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "CN,SG,SG-B,NA,SA",
        env = "MERIDIAN_DEV_AREAS"
    )]
    areas: Vec<AreaCode>,
    /// Cluster nodes per area.
    #[arg(long, default_value_t = 3, env = "MERIDIAN_DEV_NODES")]
    nodes: u64,
    /// Where every node keeps its data, and where endpoints.json is written.
    #[arg(long, default_value = DEFAULT_DATA_DIR, env = DATA_DIR_ENV)]
    data_dir: PathBuf,
    /// First of the consecutive loopback ports used.
    #[arg(long, default_value_t = 7000, env = "MERIDIAN_DEV_PORT_BASE")]
    port_base: u16,
    /// Client sessions: how far back a reconnecting device is synced (1 s to 7 days).
    #[arg(long, default_value_t = 7 * 24 * 3600, env = "MERIDIAN_DEV_OFFLINE_WINDOW_SECS")]
    offline_window_secs: u64,
    /// Client sessions: messages one connection may send per second.
    #[arg(long, default_value_t = 5, env = "MERIDIAN_DEV_SENDS_PER_SECOND")]
    sends_per_second: u32,
    /// Client sessions: live events queued per session before it catches up by sync.
    #[arg(long, default_value_t = 256, env = "MERIDIAN_DEV_QUEUE_FRAMES")]
    queue_frames: usize,
    /// Client sessions: a session silent this long is closed (clients are told to ping
    /// at a third of it).
    #[arg(long, default_value_t = 90_000, env = "MERIDIAN_DEV_IDLE_TIMEOUT_MS")]
    idle_timeout_ms: u64,
    /// Client sessions: how long an audio/video room member whose session ended keeps its
    /// place and resources for a reconnect.
    #[arg(long, default_value_t = 30_000, env = "MERIDIAN_DEV_RTC_RECONNECT_MS")]
    rtc_reconnect_ms: u64,
    /// CA certificates (PEM) trusted for callbacks and push besides the web's roots: app
    /// servers or push gateways behind a private CA. Repeatable.
    #[arg(long = "outbound-ca", env = "MERIDIAN_DEV_OUTBOUND_CA")]
    outbound_ca_files: Vec<PathBuf>,
    /// How often each edge deletes expired files and orphaned objects from its area's
    /// file store.
    #[arg(long, default_value_t = meridian_edge::DEFAULT_FILE_SWEEP_MS, env = "MERIDIAN_DEV_FILE_SWEEP_MS")]
    file_sweep_ms: u64,
    /// Keep each area's files in an S3-compatible service instead of a local directory:
    /// `http://KEY:SECRET@HOST:PORT`, one bucket per area (`meridian-<area>-files`, which
    /// must exist).
    #[arg(long, env = "MERIDIAN_DEV_FILES_S3")]
    files_s3: Option<String>,
    /// How long a day of retention lasts (ms): a real day unless a soak test compresses it
    /// to watch history, inboxes and disk stay bounded in minutes.
    #[arg(long, default_value_t = meridian_cluster::state::DAY_MS, env = "MERIDIAN_DEV_RETENTION_DAY_MS")]
    retention_day_ms: u64,
    /// Rewrite a node's sled once it exceeds this many times its live bytes (0: never;
    /// see `storage.sled_compact_ratio`).
    #[arg(long, default_value_t = meridian_cluster::config::StorageTuning::default().sled_compact_ratio)]
    sled_compact_ratio: f64,
    /// The size of a Raft log chunk file (see `storage.log_chunk_bytes`).
    #[arg(long, default_value_t = meridian_cluster::config::StorageTuning::default().log_chunk_bytes)]
    log_chunk_bytes: usize,
    /// The JavaScript SDK's build the web demo is served from (`npm run build` in sdk/js).
    #[arg(long, default_value_os_t = meridian_dev::demo_site::default_dir(), env = "MERIDIAN_DEV_DEMO_DIR")]
    demo_dir: std::path::PathBuf,
    /// How long a callee has to answer a call before the server ends it as "no answer"
    /// (ms).
    #[arg(long, default_value_t = meridian_cluster::state::ANSWER_TIMEOUT_MS, env = "MERIDIAN_DEV_CALL_ANSWER_TIMEOUT_MS")]
    call_answer_timeout_ms: u64,
    /// Enforce the Server API's per-app rate limits (`false` for benchmarks that measure
    /// the pipeline rather than the limiter).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    api_rate_limits: bool,
}

#[derive(Args)]
struct ConsoleArgs {
    /// Address to listen on (plain HTTP: put TLS in front of it).
    #[arg(
        long,
        default_value = "127.0.0.1:7900",
        env = "MERIDIAN_CONSOLE_LISTEN"
    )]
    listen: String,
    /// An area and its admin API, CODE=URL (an edge's or a node's admin listener).
    /// Repeatable, one per area.
    #[arg(long = "area", required = true)]
    areas: Vec<String>,
    /// An area's Server API, CODE=URL, when it is not at the admin URL (an edge serves
    /// both on its public listener). Repeatable.
    #[arg(long = "api")]
    apis: Vec<String>,
    /// A file holding the operator token.
    #[arg(long, conflicts_with = "operator_token")]
    operator_token_file: Option<PathBuf>,
    /// The operator token (prefer the environment or a file to the command line).
    #[arg(long, env = "MERIDIAN_OPERATOR_TOKEN", hide_env_values = true)]
    operator_token: Option<String>,
    /// CA certificates (PEM) trusted for https admin and API URLs. Repeatable.
    #[arg(long = "ca-file")]
    ca_files: Vec<PathBuf>,
}

#[derive(Args)]
struct ConfigArg {
    /// TOML configuration; keys may be overridden by MERIDIAN_<ROLE>__<KEY> variables.
    #[arg(long)]
    config: PathBuf,
}

#[derive(Args)]
struct NavArgs {
    #[arg(long)]
    config: PathBuf,
    /// Directory of area files (regions/areas/*.toml); the built-in catalog otherwise.
    #[arg(long)]
    catalog: Option<PathBuf>,
}

#[derive(Args)]
struct AdminTarget {
    /// Admin URL of any cluster node (or an edge), e.g. http://127.0.0.1:7005
    #[arg(long)]
    admin: String,
    /// Operator token.
    #[arg(long, env = "MERIDIAN_OPERATOR_TOKEN")]
    token: String,
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Run a cluster node.
    Run(ConfigArg),
    /// Add a node to a running cluster (as a learner, then a voter).
    Join {
        #[command(flatten)]
        target: AdminTarget,
        /// Id of the new node.
        #[arg(long)]
        id: u64,
        /// RPC address of the new node.
        #[arg(long)]
        addr: String,
    },
    /// Remove a node from a running cluster.
    Leave {
        #[command(flatten)]
        target: AdminTarget,
        #[arg(long)]
        id: u64,
    },
    /// Show a node's view of its cluster.
    Status {
        #[command(flatten)]
        target: AdminTarget,
    },
    /// Make a new area's first node (never run yet) start with a backup taken by
    /// `meridian admin backup`; start the area's other nodes empty.
    Restore {
        /// The node's configuration (its area must be the backup's).
        #[arg(long)]
        config: PathBuf,
        /// The backup directory, or the `s3://bucket/prefix` it was written to.
        #[arg(long)]
        from: String,
    },
    /// List the records that stopped nodes do not hold alike, to examine replicas that
    /// differ (stop the nodes cleanly first: after a crash a node's state may lag its log
    /// until a restart replays it).
    Compare {
        /// The nodes' data directories (each configuration's `data_dir`).
        #[arg(required = true, num_args = 2..)]
        data_dirs: Vec<PathBuf>,
        /// List at most this many records.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

/// The log filter, unless `RUST_LOG` sets one.
const LOG_FILTER: &str = "info,openraft=warn,sled=warn";
/// `meridian dev`'s log filter until every area is up. It starts an area's nodes one after
/// the other, and openraft warns of each peer not listening yet ("Connection refused"),
/// which reads as a failure; later warnings show as usual.
const DEV_STARTING_LOG_FILTER: &str = "info,openraft=error,sled=warn";

/// Each runtime worker thread's stack.
const WORKER_STACK_BYTES: usize = 8 * 1024 * 1024;
/// How long a process that failed waits for its blocking tasks before it exits.
const FAILED_SHUTDOWN: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs = match cli.command {
        Commands::Dev(_) => {
            init_logging_while_starting(cli.log_format, DEV_STARTING_LOG_FILTER, LOG_FILTER)
        }
        _ => init_logging(cli.log_format, LOG_FILTER),
    };
    // Worker threads get a main thread's 8 MiB of stack rather than tokio's 2 MiB: an
    // unoptimised build's async frames are large, and the Server API's deepest handlers
    // overflowed 2 MiB in debug builds (an aborted process, not an error answer).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(WORKER_STACK_BYTES)
        .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("meridian: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, logs)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("meridian: {}", chain.join(": "));
            // Dropping the runtime waits for every blocking task to return; a failed
            // process must exit (for its supervisor to restart it) even if one never does.
            // A chaos run saw a node that had printed a fatal Raft error still running.
            runtime.shutdown_timeout(FAILED_SHUTDOWN);
            ExitCode::FAILURE
        }
    }
}

/// `meridian dev`: runs until Ctrl-C or SIGTERM; logs switch to the default filter once
/// every area is up.
async fn dev(args: DevArgs, logs: StartingLogs) -> anyhow::Result<()> {
    let deployment = meridian_dev::Deployment::start(meridian_dev::DevOptions {
        areas: args.areas,
        nodes: args.nodes,
        data_dir: args.data_dir,
        port_base: args.port_base,
        rate_limits: args.api_rate_limits,
        outbound_ca_files: args.outbound_ca_files,
        file_sweep_ms: args.file_sweep_ms,
        files_s3: args.files_s3,
        retention_day_ms: args.retention_day_ms,
        sled_compact_ratio: args.sled_compact_ratio,
        log_chunk_bytes: args.log_chunk_bytes,
        demo_dir: args.demo_dir,
        call_answer_timeout_ms: args.call_answer_timeout_ms,
        sessions: meridian_edge::SessionSettings {
            offline_window_secs: args.offline_window_secs,
            sends_per_second: args.sends_per_second,
            queue_frames: args.queue_frames,
            idle_timeout_ms: args.idle_timeout_ms,
            heartbeat_ms: (args.idle_timeout_ms / 3).max(1),
            rtc_reconnect_ms: args.rtc_reconnect_ms,
            ..Default::default()
        },
    })
    .await?;
    logs.started();
    println!("{}", deployment.summary());
    until_signalled().await;
    tracing::info!("shutting down");
    deployment.shutdown().await;
    Ok(())
}

/// `meridian console`: runs until Ctrl-C or SIGTERM.
async fn console(args: ConsoleArgs) -> anyhow::Result<()> {
    let operator_token = match (args.operator_token_file, args.operator_token) {
        (Some(file), _) => std::fs::read_to_string(&file)
            .with_context(|| format!("--operator-token-file {}", file.display()))?
            .trim()
            .to_string(),
        (None, Some(token)) => token,
        (None, None) => {
            bail!("the console needs --operator-token-file or MERIDIAN_OPERATOR_TOKEN")
        }
    };
    let areas =
        meridian_console::areas_from_flags(&args.areas, &args.apis).map_err(anyhow::Error::msg)?;
    let console = meridian_console::Console::start(meridian_console::ConsoleConfig {
        listen: args.listen,
        operator_token,
        areas,
        ca_files: args.ca_files,
    })
    .await?;
    tracing::info!(url = %console.url(), "console running");
    until_signalled().await;
    console.shutdown().await;
    Ok(())
}

async fn run(command: Commands, logs: StartingLogs) -> anyhow::Result<()> {
    match command {
        Commands::Dev(args) => dev(args, logs).await,
        Commands::Console(args) => console(args).await,
        Commands::Cluster(ClusterCommand::Run(args)) => {
            let config: NodeConfig =
                config_file::load(&args.config, "cluster").map_err(anyhow::Error::msg)?;
            let node = ClusterNode::start(config).await?;
            tracing::info!(rpc = %node.rpc_addr(), admin = %node.admin_addr(), "cluster node running");
            let failed = tokio::select! {
                () = until_signalled() => None,
                reason = node.failed() => Some(reason),
            };
            node.shutdown().await;
            match failed {
                // Exiting lets the supervisor restart the node from its last durable
                // state, where it catches up; staying up would keep a dead replica.
                Some(reason) => anyhow::bail!("raft stopped on a fatal error: {reason}"),
                None => Ok(()),
            }
        }
        Commands::Cluster(ClusterCommand::Join { target, id, addr }) => {
            let body = serde_json::json!({ "id": id, "addr": addr });
            admin_call(&target, "POST", "/admin/v1/cluster/members", Some(body)).await
        }
        Commands::Cluster(ClusterCommand::Leave { target, id }) => {
            admin_call(
                &target,
                "DELETE",
                &format!("/admin/v1/cluster/members/{id}"),
                None,
            )
            .await
        }
        Commands::Cluster(ClusterCommand::Status { target }) => {
            admin_call(&target, "GET", "/admin/v1/cluster", None).await
        }
        Commands::Cluster(ClusterCommand::Restore { config, from }) => {
            let config: NodeConfig =
                config_file::load(&config, "cluster").map_err(anyhow::Error::msg)?;
            let manifest = restore(&config, &from)
                .await
                .with_context(|| format!("restoring {from}"))?;
            println!("{}", serde_json::to_string(&manifest)?);
            Ok(())
        }
        Commands::Cluster(ClusterCommand::Compare { data_dirs, limit }) => {
            let differences = meridian_cluster::raft::record_differences(&data_dirs, limit)?;
            for difference in &differences {
                println!("{difference}");
            }
            anyhow::ensure!(differences.is_empty(), "the replicas' records differ");
            println!("the replicas hold the same records");
            Ok(())
        }
        Commands::Admin(AdminCommand::Backup { target, out }) => backup(&target, &out).await,
        Commands::Admin(AdminCommand::Export { target, app, out }) => {
            let path = format!("/admin/v1/apps/{app}/export");
            let lines = admin_request(&target, "GET", &path, None).await?;
            std::fs::write(&out, &lines).with_context(|| format!("writing {}", out.display()))?;
            let count = lines.iter().filter(|b| **b == b'\n').count();
            println!(
                "{}",
                serde_json::json!({ "lines": count, "bytes": lines.len() })
            );
            Ok(())
        }
        Commands::Admin(AdminCommand::Import { target, app, file }) => {
            let lines =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let path = format!("/admin/v1/apps/{app}/import");
            let body = Some(("application/x-ndjson", lines.as_slice()));
            let answer = admin_request(&target, "POST", &path, body).await?;
            println!("{}", String::from_utf8_lossy(&answer));
            Ok(())
        }
        Commands::Edge(args) => {
            let config: EdgeConfig =
                config_file::load(&args.config, "edge").map_err(anyhow::Error::msg)?;
            let edge = Edge::start(config).await?;
            tracing::info!(public = %edge.public_addr(), admin = %edge.admin_addr(), "edge running");
            until_signalled().await;
            edge.shutdown().await;
            Ok(())
        }
        Commands::Media(args) => {
            let config: MediaConfig =
                config_file::load(&args.config, "media").map_err(anyhow::Error::msg)?;
            let media = MediaServer::start(config).await?;
            tracing::info!(public = %media.public_addr(), admin = %media.admin_addr(), "media server running");
            until_signalled().await;
            media.shutdown().await;
            Ok(())
        }
        Commands::Nav(args) => {
            let config: NavConfig =
                config_file::load(&args.config, "nav").map_err(anyhow::Error::msg)?;
            let catalog = match &args.catalog {
                Some(dir) => Catalog::load_dir(dir)?,
                None => Catalog::builtin(),
            };
            let nav = Nav::start(config, catalog).await?;
            tracing::info!(addr = %nav.addr(), "nav running");
            until_signalled().await;
            nav.shutdown().await;
            Ok(())
        }
        Commands::Bench(command) => meridian_bench::run(command).await,
        Commands::Chaos(args) => chaos::run(args).await,
        Commands::Audit(command) => audit::run(command),
        Commands::Chat(args) => chat::run(args).await,
        Commands::Call(args) => call::run(args).await,
        Commands::Api(args) => api::run(args).await,
        Commands::PrometheusConfig(args) => {
            let file = args.endpoints.path();
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let endpoints: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            let out = args.out.unwrap_or_else(|| {
                file.parent()
                    .unwrap_or(std::path::Path::new("."))
                    .join("prometheus")
            });
            let path = meridian_dev::prometheus_config::write(
                &endpoints,
                &out,
                args.scrape_interval.max(1),
            )?;
            println!("{}", path.display());
            Ok(())
        }
    }
}

/// `meridian admin backup`: the area's code from the node's status, then the snapshot.
async fn backup(target: &AdminTarget, out: &str) -> anyhow::Result<()> {
    let status = admin_request(target, "GET", "/admin/v1/cluster", None).await?;
    let status: serde_json::Value = serde_json::from_slice(&status)?;
    let area: AreaCode = serde_json::from_value(status["status"]["area"].clone())
        .context("the node's status names no area")?;
    let snapshot = admin_request(target, "POST", "/admin/v1/cluster/backup", None).await?;
    let manifest = match BucketPrefix::parse(out)? {
        Some(bucket) => backup_to_bucket(&bucket, area, snapshot).await,
        None => Ok(backup::write_dir(
            std::path::Path::new(out),
            area,
            &snapshot,
        )?),
    }
    .with_context(|| format!("writing the backup to {out}"))?;
    println!("{}", serde_json::to_string(&manifest)?);
    Ok(())
}

/// A backup into a bucket: the snapshot, then its manifest (a prefix with a manifest
/// holds a complete backup, and is never overwritten).
async fn backup_to_bucket(
    bucket: &BucketPrefix,
    area: AreaCode,
    snapshot: bytes::Bytes,
) -> anyhow::Result<backup::Manifest> {
    let manifest = backup::describe(area, &snapshot, meridian_clock::now_ms())?;
    if bucket.exists(backup::MANIFEST_FILE).await? {
        bail!("{bucket} already holds a backup");
    }
    bucket.put(backup::SNAPSHOT_FILE, snapshot).await?;
    let json = serde_json::to_vec_pretty(&manifest)?;
    bucket.put(backup::MANIFEST_FILE, json.into()).await?;
    Ok(manifest)
}

/// `meridian cluster restore`: from a backup directory, or from a bucket through a
/// scratch copy (checked against its manifest as a directory is).
async fn restore(config: &NodeConfig, from: &str) -> anyhow::Result<backup::Manifest> {
    let Some(bucket) = BucketPrefix::parse(from)? else {
        return Ok(backup::restore(config, std::path::Path::new(from)).await?);
    };
    let scratch = tempfile::tempdir()?;
    for name in [backup::SNAPSHOT_FILE, backup::MANIFEST_FILE] {
        std::fs::write(scratch.path().join(name), bucket.get(name).await?)?;
    }
    Ok(backup::restore(config, scratch.path()).await?)
}

/// Calls the operator admin API and prints its JSON answer; non-2xx is an error.
async fn admin_call(
    target: &AdminTarget,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<()> {
    let body = body.map(|b| b.to_string());
    let body = body.as_deref().map(|b| ("application/json", b.as_bytes()));
    let answer = admin_request(target, method, path, body).await?;
    println!("{}", String::from_utf8_lossy(&answer));
    Ok(())
}

/// The body of a 2xx answer of the operator admin API (`body`: content type and bytes);
/// otherwise an error with the answer's text.
async fn admin_request(
    target: &AdminTarget,
    method: &str,
    path: &str,
    body: Option<(&str, &[u8])>,
) -> anyhow::Result<bytes::Bytes> {
    let url = format!("{}{}", target.admin.trim_end_matches('/'), path);
    let answer = meridian_rpc::http::request_with_body(
        method,
        &url,
        Some(&target.token),
        body,
        // Longer than a backup may take (the cluster gives it two minutes).
        Duration::from_secs(150),
    )
    .await
    .with_context(|| url.clone())?;
    if !(200..300).contains(&answer.status) {
        bail!("{url} answered HTTP {}: {}", answer.status, answer.text());
    }
    Ok(answer.body)
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn until_signalled() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
