//! `meridian bench fanout`: what the leader does per delivered message as edges are added
//! (issue 16; DESIGN §4, "Filtered per edge"). For each edge count, a 3-node area of real
//! processes with that many edges (the chaos harness's deployment); every user online on
//! one of them, spread evenly; the app server publishes private messages between pairs of
//! users at a steady rate. Over a window it counts the deliveries, the feed events the
//! leader sent and the CPU time of the leader and of the edges, first with each edge's
//! feed filtered by its sessions, then with every edge reading the whole feed.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use meridian_access::token::{self, TokenClaims};
use meridian_chaos::deployment::{Deployment, Topology};
use meridian_client::{ClientError, ConnectOptions, Connection};
use meridian_cluster::admin::generate_credentials;
use meridian_cluster::state::{Command, CreateApp, Envelope, NewMessage, Publish, PutUser};
use meridian_proto::{ClientFrame, ServerFrame};
use meridian_regions::AreaCode;
use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;

use crate::host::scratch_dir;
use crate::measure::{cpu_seconds, machine, metric_sum};

/// The app server publishes this often (a share of the rate each time).
const TICK: Duration = Duration::from_millis(10);
const WARM_UP: Duration = Duration::from_secs(2);
const ANSWER_WAIT: Duration = Duration::from_secs(10);
/// Users created per write.
const USERS_PER_WRITE: usize = 100;

#[derive(Args)]
pub struct FanoutArgs {
    /// The edge counts to measure, a deployment each.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    edges: Vec<usize>,
    /// Users online, spread evenly over the edges.
    #[arg(long, default_value_t = 400)]
    users: usize,
    /// Private messages published per second.
    #[arg(long, default_value_t = 500)]
    rate: u64,
    /// The measured window, after a warm-up of 2 s.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Row {
    edges: usize,
    /// `filtered` or `whole`.
    feed: &'static str,
    published: u64,
    delivered: u64,
    /// Feed events the leader sent to the edges.
    served: u64,
    served_per_delivered: f64,
    leader_cpu_us_per_delivered: f64,
    edges_cpu_us_per_delivered: f64,
}

pub async fn run(args: FanoutArgs) -> anyhow::Result<()> {
    if args.users < 2 || args.edges.contains(&0) {
        bail!("at least 2 users and 1 edge");
    }
    let binary = std::env::current_exe()?;
    let mut rows = Vec::new();
    for &edges in &args.edges {
        for whole_feed in [false, true] {
            rows.push(measure(&binary, &args, edges, whole_feed).await?);
        }
    }
    if args.json {
        let object = json!({ "benchmark": "fanout", "machine": machine(), "rows": rows });
        println!("{object}");
        return Ok(());
    }
    println!(
        "{} users, {} msg/s for {} s\n\n| edges | feed | published | delivered | leader events sent | per delivery | leader CPU µs / delivery | edges' CPU µs / delivery |\n|---:|---|---:|---:|---:|---:|---:|---:|",
        args.users, args.rate, args.seconds
    );
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {:.2} | {:.1} | {:.1} |",
            r.edges,
            r.feed,
            r.published,
            r.delivered,
            r.served,
            r.served_per_delivered,
            r.leader_cpu_us_per_delivered,
            r.edges_cpu_us_per_delivered
        );
    }
    Ok(())
}

async fn measure(
    binary: &Path,
    args: &FanoutArgs,
    edges: usize,
    whole_feed: bool,
) -> anyhow::Result<Row> {
    let feed = if whole_feed { "whole" } else { "filtered" };
    progress(&format!("{edges} edges, {feed} feeds"));
    let dir = scratch_dir()?.join(format!("fanout-{edges}-{feed}"));
    std::fs::create_dir_all(&dir)?;
    let topology = Topology {
        nodes: 3,
        edges,
        small_disks_mib: None,
        planted_bug: None,
        whole_feed,
    };
    let deployment = Deployment::start(binary, &dir, &topology, AreaCode::Sg).await?;
    let row = measure_in(&deployment, args, edges, feed).await;
    drop(deployment);
    std::fs::remove_dir_all(&dir)?;
    row
}

async fn measure_in(
    deployment: &Deployment,
    args: &FanoutArgs,
    edges: usize,
    feed: &'static str,
) -> anyhow::Result<Row> {
    let leader = deployment.wait_for_leader(ANSWER_WAIT).await?;
    let credentials = generate_credentials();
    let envelope = |command| Envelope {
        area: AreaCode::Sg,
        command,
    };
    let app_key = credentials.app_key.clone();
    deployment
        .client
        .write_one(envelope(Command::CreateApp(CreateApp {
            name: "fanout".into(),
            dev: generate_credentials(),
            prod: credentials.clone(),
        })))
        .await?;
    let users: Vec<String> = (0..args.users).map(|i| format!("u{i}")).collect();
    for chunk in users.chunks(USERS_PER_WRITE) {
        let puts = chunk
            .iter()
            .map(|user| {
                envelope(Command::PutUser(PutUser {
                    app_key: app_key.clone(),
                    user_id: user.clone(),
                    name: None,
                    portrait: None,
                }))
            })
            .collect();
        for result in deployment.client.write(puts).await? {
            result?;
        }
    }

    let delivered = Arc::new(AtomicU64::new(0));
    let (stop, stopped) = watch::channel(false);
    let mut readers = Vec::new();
    for (index, user) in users.iter().enumerate() {
        let options = ConnectOptions {
            url: deployment.edges[index % edges].ws_url(),
            app_key: app_key.clone(),
            token: token::issue(
                &credentials.app_secret,
                &TokenClaims {
                    app_key: app_key.clone(),
                    user_id: user.clone(),
                    issued_at_ms: meridian_clock::now_ms(),
                },
            ),
            device_id: format!("{user}-phone"),
            platform: "iOS".into(),
            cursor: None,
            tls: None,
        };
        let mut connection = Connection::connect(&options)
            .await
            .with_context(|| format!("{user} connecting"))?;
        match connection.next_within(ANSWER_WAIT).await? {
            ServerFrame::Connected { .. } => {}
            other => bail!("{user} was answered {other:?}"),
        }
        readers.push(tokio::spawn(read(
            connection,
            delivered.clone(),
            stopped.clone(),
        )));
    }

    let published = Arc::new(AtomicU64::new(0));
    let nodes = deployment
        .nodes
        .iter()
        .map(|n| n.rpc_addr.clone())
        .collect();
    let publisher = tokio::spawn(publish(
        meridian_cluster::ClusterClient::new(AreaCode::Sg, nodes, None),
        app_key.clone(),
        users.clone(),
        args.rate,
        published.clone(),
        stopped.clone(),
    ));
    tokio::time::sleep(WARM_UP).await;
    let before = Sample::take(deployment, leader, &delivered, &published).await?;
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let after = Sample::take(deployment, leader, &delivered, &published).await?;
    stop.send_replace(true);
    publisher.await??;
    for reader in readers {
        let _ = reader.await;
    }

    let delivered = (after.delivered - before.delivered).max(1);
    let per_delivery_us = |seconds: f64| seconds * 1e6 / delivered as f64;
    let served = (after.served - before.served) as u64;
    Ok(Row {
        edges,
        feed,
        published: after.published - before.published,
        delivered,
        served,
        served_per_delivered: served as f64 / delivered as f64,
        leader_cpu_us_per_delivered: per_delivery_us(after.leader_cpu - before.leader_cpu),
        edges_cpu_us_per_delivered: per_delivery_us(after.edges_cpu - before.edges_cpu),
    })
}

/// Counts the messages a session receives until `stop`.
async fn read(
    mut connection: Connection,
    delivered: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            // Only ever set to true.
            _ = stop.changed() => return,
            frame = connection.next_within(ANSWER_WAIT) => match frame {
                Ok(ServerFrame::Message(_)) => {
                    delivered.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {}
                Err(ClientError::Timeout(_)) => {
                    if connection.send(&ClientFrame::Ping).await.is_err() {
                        return;
                    }
                }
                Err(_) => return,
            },
        }
    }
}

/// Publishes `rate` private messages a second between users far apart in the list (so
/// on different edges once there are several) until `stop`.
async fn publish(
    client: meridian_cluster::ClusterClient,
    app_key: String,
    users: Vec<String>,
    rate: u64,
    published: Arc<AtomicU64>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let client = Arc::new(client);
    let per_tick = (rate as f64 * TICK.as_secs_f64()).max(1.0) as usize;
    let mut ticks = tokio::time::interval(TICK);
    let mut next = 0usize;
    let mut writes = tokio::task::JoinSet::new();
    while !*stop.borrow() {
        ticks.tick().await;
        let n = users.len();
        let messages: Vec<NewMessage> = (0..per_tick)
            .map(|i| {
                let from = (next + i) % n;
                let to = (from + n / 2 + (next + i) / n) % n;
                let to = if to == from { (to + 1) % n } else { to };
                NewMessage::private_text(&users[from], &users[to], "fan-out")
            })
            .collect();
        next += per_tick;
        let command = Command::Publish(Publish {
            app_key: app_key.clone(),
            messages,
        });
        let (client, published) = (client.clone(), published.clone());
        writes.spawn(async move {
            let envelope = Envelope {
                area: AreaCode::Sg,
                command,
            };
            if client.write_one(envelope).await.is_ok() {
                published.fetch_add(per_tick as u64, Ordering::Relaxed);
            }
        });
        while writes.try_join_next().is_some() {}
    }
    while writes.join_next().await.is_some() {}
    Ok(())
}

struct Sample {
    delivered: u64,
    published: u64,
    served: f64,
    leader_cpu: f64,
    edges_cpu: f64,
}

impl Sample {
    async fn take(
        deployment: &Deployment,
        leader: u64,
        delivered: &AtomicU64,
        published: &AtomicU64,
    ) -> anyhow::Result<Self> {
        let node = deployment
            .nodes
            .iter()
            .find(|n| n.id == leader)
            .context("no leader")?;
        let metrics =
            meridian_rpc::http::request("GET", &node.metrics_url, None, None, ANSWER_WAIT)
                .await?
                .text();
        let (leader_pid, edge_pids) = deployment.pids(leader);
        let leader_pid = leader_pid.context("the leader is not running")?;
        let mut edges_cpu = 0.0;
        for pid in edge_pids {
            edges_cpu += cpu_seconds(&pid.to_string())?;
        }
        Ok(Self {
            delivered: delivered.load(Ordering::Relaxed),
            published: published.load(Ordering::Relaxed),
            served: metric_sum(&metrics, "meridian_cluster_feed_events_served_total"),
            leader_cpu: cpu_seconds(&leader_pid.to_string())?,
            edges_cpu,
        })
    }
}

fn progress(message: &str) {
    eprintln!("meridian bench: fanout: {message}");
}
