//! `meridian bench soak`: signed Server API publishes at a steady rate (by default 70% of
//! the peak measured first) into a 3-node area for many minutes. The area must refuse
//! nothing, its p99 must stay flat and its memory must level off. The area runs as a
//! `meridian dev` child, so its memory and disk are measured apart from the load.
//!
//! The load is open-loop: every message has a scheduled send time and its latency counts
//! from then, so a stall shows as the queue behind it rather than as fewer samples.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use http_body_util::BodyExt;
use meridian_cluster::ClusterClient;
use meridian_regions::AreaCode;
use serde::Serialize;
use serde_json::json;
use tokio::time::Instant;

use crate::api::private_publish;
use crate::dev_child::{DevChild, DiskUse};
use crate::host::keepalive_connection;
use crate::measure::{machine, percentile_ms};

type SendRequest = hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>;

#[derive(Args)]
pub struct SoakArgs {
    #[arg(long)]
    json: bool,
    /// How long the steady load lasts.
    #[arg(long, default_value_t = 30)]
    minutes: u64,
    /// Messages per second; by default 70% of the peak a 20-second closed-loop run of the
    /// same writers reaches first.
    #[arg(long)]
    rate: Option<f64>,
    /// Writers, each on its own keep-alive connection.
    #[arg(long, default_value_t = 64)]
    writers: usize,
    /// Seconds per reported window.
    #[arg(long, default_value_t = 10)]
    window: u64,
    /// Write an SVG plot of p99 latency, throughput and memory over the run here.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Stop early once the deployment's data dir holds this much (GiB): its disk must not
    /// fill the machine's.
    #[arg(long, default_value_t = 40)]
    max_disk_gib: u64,
    /// Keep history this many minutes (and sync inboxes one minute) instead of the app's
    /// days: the area runs with a retention day of a minute and the demo app's history
    /// retention set to this many, so disk and memory must level off (LIFE-01).
    #[arg(long)]
    retention_minutes: Option<u16>,
    /// The nodes' `storage.sled_compact_ratio` (0: never rewrite sled), to compare.
    #[arg(long)]
    sled_compact_ratio: Option<f64>,
    /// The nodes' `storage.log_chunk_bytes`, to compare.
    #[arg(long)]
    log_chunk_bytes: Option<usize>,
}

/// One message's fate: when it was due (since the start), and its latency if acknowledged.
struct Sample {
    due: Duration,
    latency: Option<Duration>,
}

#[derive(Debug, Clone, Serialize)]
struct Window {
    end_s: u64,
    acked: u64,
    refused: u64,
    acked_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    rss_mib: f64,
    disk: DiskUse,
}

const MIB: f64 = 1024.0 * 1024.0;

impl Window {
    /// The window ending at `end` (since the start), from its acknowledged latencies.
    fn of(
        end: Duration,
        length: Duration,
        latencies: &mut [Duration],
        refused: u64,
        rss_bytes: u64,
        disk: DiskUse,
    ) -> Self {
        latencies.sort();
        Self {
            end_s: end.as_secs(),
            acked: latencies.len() as u64,
            refused,
            acked_per_sec: latencies.len() as f64 / length.as_secs_f64(),
            p50_ms: percentile_ms(latencies, 0.50),
            p99_ms: percentile_ms(latencies, 0.99),
            max_ms: percentile_ms(latencies, 1.0),
            rss_mib: rss_bytes as f64 / MIB,
            disk,
        }
    }
}

struct Target {
    api: String,
    authority: String,
    key: String,
    secret: String,
}

/// How long one publish may take before it counts as refused.
const ANSWER_WAIT: Duration = Duration::from_secs(30);

/// One publish on `connection`; true when it was acknowledged. The answer is read whole
/// either way, so the connection stays usable.
async fn publish(
    connection: &mut SendRequest,
    target: &Target,
    writer: usize,
    n: u64,
) -> anyhow::Result<bool> {
    let request = private_publish(&target.authority, &target.key, &target.secret, writer, n)?;
    let response = connection.send_request(request).await?;
    let ok = response.status().is_success();
    response.into_body().collect().await?;
    Ok(ok)
}

/// Sends writer `writer`'s messages; `due(n)` is when its `n`th is due (`None`: stop).
/// A message that is refused, times out or finds no connection counts as refused; the
/// writer reconnects and goes on.
async fn writer_loop(
    target: Arc<Target>,
    writer: usize,
    started: Instant,
    due: impl Fn(u64) -> Option<Duration>,
    samples: Arc<Mutex<Vec<Sample>>>,
) {
    let mut connection = None;
    let mut n = 0;
    while let Some(at) = due(n) {
        tokio::time::sleep_until(started + at).await;
        if connection.is_none() {
            connection = keepalive_connection(&target.api).await.ok();
        }
        let acknowledged = match connection.as_mut() {
            Some(open) => matches!(
                tokio::time::timeout(ANSWER_WAIT, publish(open, &target, writer, n)).await,
                Ok(Ok(true))
            ),
            None => false,
        };
        if !acknowledged {
            // Whatever went wrong, the next message starts on a fresh connection.
            connection = None;
        }
        let latency = acknowledged.then(|| started.elapsed().saturating_sub(at));
        samples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Sample { due: at, latency });
        n += 1;
    }
}

/// Starts a [`writer_loop`] per writer, each sending when `due_of(writer)` says.
fn spawn_writers<D>(
    target: &Arc<Target>,
    writers: usize,
    started: Instant,
    samples: &Arc<Mutex<Vec<Sample>>>,
    due_of: impl Fn(usize) -> D,
) -> Vec<tokio::task::JoinHandle<()>>
where
    D: Fn(u64) -> Option<Duration> + Send + 'static,
{
    (0..writers)
        .map(|writer| {
            tokio::spawn(writer_loop(
                target.clone(),
                writer,
                started,
                due_of(writer),
                samples.clone(),
            ))
        })
        .collect()
}

/// Closed loop for `seconds`: each writer sends its next message as soon as the last is
/// answered. Answers messages/s.
async fn peak(target: &Arc<Target>, writers: usize, seconds: u64) -> anyhow::Result<f64> {
    let samples = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let end = Duration::from_secs(seconds);
    // "Due" at once: the loop waits only for answers.
    let tasks = spawn_writers(target, writers, started, &samples, |_| {
        move |_| (started.elapsed() < end).then(|| started.elapsed())
    });
    for task in tasks {
        task.await?;
    }
    let acked = samples
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|s| s.latency.is_some())
        .count();
    Ok(acked as f64 / started.elapsed().as_secs_f64())
}

/// Gives the demo app `minutes` "days" of history in every conversation type and a
/// one-"day" offline window, with the area's retention day a minute long.
async fn keep_minutes(endpoints: &crate::dev_child::Endpoints, minutes: u16) -> anyhow::Result<()> {
    let base = format!(
        "{}/admin/v1/apps/{}",
        endpoints.edge_admin, endpoints.app_key
    );
    let days =
        json!({"private": minutes, "group": minutes, "ultraGroup": minutes, "chatroom": minutes});
    for (path, body) in [
        ("limits", json!({ "retentionDays": days })),
        ("settings", json!({ "offlineWindowDays": 1 })),
    ] {
        let url = format!("{base}/{path}");
        let body = body.to_string();
        let answer = meridian_rpc::http::request(
            "PUT",
            &url,
            Some(&endpoints.operator_token),
            Some(body.as_bytes()),
            Duration::from_secs(10),
        )
        .await?;
        anyhow::ensure!(answer.status == 200, "{url}: {}", answer.text());
    }
    Ok(())
}

pub async fn run(args: SoakArgs) -> anyhow::Result<()> {
    let mut dev_args: Vec<String> = vec!["--api-rate-limits".into(), "false".into()];
    if args.retention_minutes.is_some() {
        dev_args.extend(["--retention-day-ms".into(), "60000".into()]);
    }
    if let Some(ratio) = args.sled_compact_ratio {
        dev_args.extend(["--sled-compact-ratio".into(), ratio.to_string()]);
    }
    if let Some(bytes) = args.log_chunk_bytes {
        dev_args.extend(["--log-chunk-bytes".into(), bytes.to_string()]);
    }
    let dev_args: Vec<&str> = dev_args.iter().map(String::as_str).collect();
    let dev = DevChild::start_nodes(3, &dev_args).await?;
    let endpoints = &dev.endpoints;
    if let Some(minutes) = args.retention_minutes {
        keep_minutes(endpoints, minutes).await?;
    }
    let target = Arc::new(Target {
        api: endpoints.api.clone(),
        authority: endpoints.api.trim_start_matches("http://").to_string(),
        key: endpoints.app_key.clone(),
        secret: endpoints.app_secret.clone(),
    });
    let writers = args.writers.max(1);
    let (rate, peak_rate) = match args.rate {
        Some(rate) => (rate, None),
        None => {
            let peak = peak(&target, writers, 20).await?;
            eprintln!("meridian bench soak: peak {peak:.0} messages/s; soaking at 70%");
            (peak * 0.7, Some(peak))
        }
    };
    anyhow::ensure!(
        rate.is_finite() && (1.0..=1_000_000.0).contains(&rate),
        "--rate must be between 1 and 1,000,000 messages per second"
    );
    let term_at_start = raft_term(&endpoints.cluster).await?;
    let minutes = args.minutes.max(1);
    let length = Duration::from_secs(minutes * 60);
    let spacing = Duration::from_secs_f64(writers as f64 / rate);
    let samples = Arc::new(Mutex::new(Vec::new()));
    let stopping = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks = spawn_writers(&target, writers, started, &samples, |writer| {
        // Writers interleave evenly: writer w's nth message is due at (n + w/writers) spacings.
        let offset = spacing.mul_f64(writer as f64 / writers as f64);
        let stopping = stopping.clone();
        move |n: u64| {
            let at = offset + spacing.mul_f64(n as f64);
            (at < length && !stopping.load(Ordering::Relaxed)).then_some(at)
        }
    });

    let window = Duration::from_secs(args.window.max(1));
    let mut windows: Vec<Window> = Vec::new();
    // The newest window's acknowledged latencies (late answers join them at the end).
    let mut latencies: Vec<Duration>;
    let mut stopped_early = false;
    let mut end = window;
    loop {
        tokio::time::sleep_until(started + end).await;
        // Messages due in this window (those still unanswered are counted in the next).
        let mut due_before_end = Vec::new();
        samples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|s: &Sample| {
                let take = s.due < end;
                if take {
                    due_before_end.push(s.latency);
                }
                !take
            });
        latencies = due_before_end.iter().flatten().copied().collect();
        let refused = (due_before_end.len() - latencies.len()) as u64;
        let point = Window::of(
            end,
            window,
            &mut latencies,
            refused,
            dev.rss_bytes().unwrap_or(0),
            dev.disk_use(),
        );
        eprintln!("{}", serde_json::to_string(&point)?);
        let full = point.disk.total >= args.max_disk_gib * 1024 * 1024 * 1024;
        windows.push(point);
        if full {
            eprintln!("meridian bench soak: the data dir reached --max-disk-gib; stopping");
            stopping.store(true, Ordering::Relaxed);
            stopped_early = true;
        }
        if end >= length || stopped_early {
            break;
        }
        end += window;
    }
    for task in tasks {
        task.await.context("a writer panicked")?;
    }
    // Answers that came after the last window closed belong to it.
    if let Some(last) = windows.last_mut() {
        let late: Vec<Sample> =
            std::mem::take(&mut *samples.lock().unwrap_or_else(|p| p.into_inner()));
        let refused = last.refused + late.iter().filter(|s| s.latency.is_none()).count() as u64;
        latencies.extend(late.iter().filter_map(|s| s.latency));
        let (rss, disk) = (last.rss_mib * MIB, last.disk);
        *last = Window::of(end, window, &mut latencies, refused, rss as u64, disk);
    }

    let refused: u64 = windows.iter().map(|w| w.refused).sum();
    let acked: u64 = windows.iter().map(|w| w.acked).sum();
    let third = (windows.len() / 3).max(1);
    let median_p99 = |part: &[Window]| {
        let mut p99s: Vec<f64> = part.iter().map(|w| w.p99_ms).collect();
        p99s.sort_by(f64::total_cmp);
        p99s.get(p99s.len() / 2).copied().unwrap_or(0.0)
    };
    let summary = json!({
        "benchmark": "soak",
        "machine": machine(),
        "writers": writers,
        "peak_per_sec": peak_rate,
        "rate_per_sec": rate,
        "minutes": minutes,
        "retention_minutes": args.retention_minutes,
        "stopped_at_disk_limit": stopped_early,
        "acked": acked,
        "refused": refused,
        // A busy machine's late heartbeats show as elections: each raises the term.
        "elections": raft_term(&endpoints.cluster).await? - term_at_start,
        "p99_ms_first_third": median_p99(&windows[..third]),
        "p99_ms_last_third": median_p99(&windows[windows.len() - third..]),
        "p99_ms_worst_window": windows.iter().map(|w| w.p99_ms).fold(0.0, f64::max),
        "rss_mib_first": windows.first().map(|w| w.rss_mib),
        "rss_mib_max": windows.iter().map(|w| w.rss_mib).fold(0.0, f64::max),
        "rss_mib_last": windows.last().map(|w| w.rss_mib),
        "disk_last": windows.last().map(|w| w.disk),
        "windows": if args.json { json!(windows) } else { json!(null) },
    });
    if let Some(path) = &args.plot {
        std::fs::write(path, plot(&windows, rate))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    println!("{summary}");
    anyhow::ensure!(refused == 0, "{refused} writes were refused or lost");
    Ok(())
}

/// Four stacked panels over time: p99 latency, acknowledged messages/s, the
/// deployment's resident memory and its data dir.
fn plot(windows: &[Window], rate: f64) -> String {
    const WIDTH: f64 = 720.0;
    const PANEL: f64 = 150.0;
    const LEFT: f64 = 70.0;
    const TOP: f64 = 30.0;
    let span = windows.last().map_or(1, |w| w.end_s).max(1) as f64;
    let panels: [(&str, Vec<f64>); 4] = [
        (
            "p99 latency (ms)",
            windows.iter().map(|w| w.p99_ms).collect(),
        ),
        (
            "acknowledged / s",
            windows.iter().map(|w| w.acked_per_sec).collect(),
        ),
        (
            "resident memory (MiB)",
            windows.iter().map(|w| w.rss_mib).collect(),
        ),
        (
            "data dir, all nodes (MiB)",
            windows.iter().map(|w| w.disk.total as f64 / MIB).collect(),
        ),
    ];
    let height = TOP + panels.len() as f64 * (PANEL + 40.0) + 20.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" \
         fill=\"white\"/>\n<text x=\"{LEFT}\" y=\"18\">meridian bench soak: {rate:.0} messages/s \
         for {:.0} min</text>\n",
        WIDTH + LEFT + 20.0,
        span / 60.0
    );
    for (i, (label, values)) in panels.iter().enumerate() {
        let top = TOP + i as f64 * (PANEL + 40.0) + 10.0;
        let most = values.iter().copied().fold(0.0, f64::max).max(1e-9) * 1.1;
        // A window with no acknowledgement has no latency to draw.
        let points: Vec<String> = windows
            .iter()
            .zip(values)
            .filter(|(w, _)| i != 0 || w.acked > 0)
            .map(|(w, v)| {
                let x = LEFT + w.end_s as f64 / span * WIDTH;
                let y = top + PANEL - v / most * PANEL;
                format!("{x:.1},{y:.1}")
            })
            .collect();
        svg.push_str(&format!(
            "<text x=\"{LEFT}\" y=\"{:.1}\">{label}</text>\n\
             <rect x=\"{LEFT}\" y=\"{top:.1}\" width=\"{WIDTH}\" height=\"{PANEL}\" fill=\"none\" \
             stroke=\"#999\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{most:.0}</text>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">0</text>\n\
             <polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"{}\"/>\n",
            top - 4.0,
            LEFT - 6.0,
            top + 12.0,
            LEFT - 6.0,
            top + PANEL,
            points.join(" ")
        ));
    }
    svg.push_str(&format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">minutes: {:.0}</text>\n</svg>\n",
        LEFT + WIDTH,
        height - 6.0,
        span / 60.0
    ));
    svg
}

/// The highest Raft term the area's nodes report.
async fn raft_term(nodes: &[String]) -> anyhow::Result<u64> {
    let client = ClusterClient::new(AreaCode::Sg, nodes.to_vec(), None);
    let mut term = 0;
    for node in nodes {
        term = term.max(client.status_of(node).await?.term);
    }
    Ok(term)
}
