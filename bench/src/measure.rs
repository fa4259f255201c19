//! Closed-loop measurement shared by `bench raft` and `bench api`: writers that each send
//! their next request as soon as the last is answered, and what they measured.

use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use anyhow::Context;
use serde_json::json;

/// One point: `writers` concurrent writers for a fixed time.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Measurement {
    pub writers: usize,
    pub writes: u64,
    pub writes_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
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
pub(crate) async fn drive<F, Fut>(
    writers: usize,
    duration: Duration,
    op: F,
) -> anyhow::Result<Measurement>
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

/// The machine a figure was measured on, printed with every `--json` result.
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

/// `/proc/<pid>/stat` after the command name: state, ppid, … (field 3 onwards).
fn stat_fields(pid: &str) -> anyhow::Result<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let (_, rest) = stat.rsplit_once(')').context("no command name in stat")?;
    Ok(rest.split_whitespace().map(String::from).collect())
}

/// A process's user + system CPU time, in seconds (`pid` a number or `self`).
pub(crate) fn cpu_seconds(pid: &str) -> anyhow::Result<f64> {
    let fields = stat_fields(pid)?;
    // utime and stime are fields 14 and 15, in clock ticks.
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Ok(ticks as f64 / per_second as f64)
}

/// The sum of a metric's samples (every label set) in Prometheus text.
pub(crate) fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Keeps every thread of process `pid` (and those it starts later) on `cpus`, a list
/// like `0` or `1-3`, through util-linux's `taskset`.
pub(crate) fn pin(pid: u32, cpus: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("taskset")
        .args(["--all-tasks", "--cpu-list", "--pid", cpus])
        .arg(pid.to_string())
        .stdout(std::process::Stdio::null())
        .status()
        .context("running taskset (util-linux)")?;
    anyhow::ensure!(
        status.success(),
        "taskset could not pin {pid} to CPUs {cpus}"
    );
    Ok(())
}
