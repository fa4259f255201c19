//! `meridian bench nav`: navigation answers per second and their latency, driven by `wrk`
//! (Debian's package) against the primary nav of a `meridian dev` child.

use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use meridian_client::server_api::{form, post_form};
use serde::Serialize;

use super::{interruptible, print_json, progress};
use crate::dev_child::DevChild;

#[derive(Args)]
pub struct NavArgs {
    #[arg(long)]
    json: bool,
    /// Connections wrk keeps open.
    #[arg(long, default_value_t = 64)]
    connections: u32,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The wrk binary.
    #[arg(long, default_value = "wrk")]
    wrk: String,
}

#[derive(Serialize, Debug, PartialEq)]
struct NavLoad {
    connections: u32,
    seconds: u64,
    requests: u64,
    answers_per_sec: f64,
    non_200: u64,
    p50_ms: f64,
    p99_ms: f64,
}

pub async fn run(args: NavArgs) -> anyhow::Result<()> {
    let wrk = crate::host::find_binary(&args.wrk)
        .with_context(|| format!("{} not found (install Debian's wrk)", args.wrk))?;
    let r = interruptible(measure(&args, &wrk)).await?;
    if r.non_200 > 0 {
        bail!(
            "{} of {} navigation answers were not 200",
            r.non_200,
            r.requests
        );
    }
    if args.json {
        return print_json("nav", r);
    }
    println!("connections  seconds  requests  answers/s  p50 ms  p99 ms");
    println!(
        "{:>11} {:>8} {:>9} {:>10.0} {:>7.2} {:>7.2}",
        r.connections, r.seconds, r.requests, r.answers_per_sec, r.p50_ms, r.p99_ms
    );
    Ok(())
}

async fn measure(args: &NavArgs, wrk: &std::path::Path) -> anyhow::Result<NavLoad> {
    let dev = DevChild::start(&[]).await?;
    let e = &dev.endpoints;
    let answer = post_form(
        &e.api,
        &e.app_key,
        &e.app_secret,
        "/user/getToken.json",
        "userId=u1",
    )
    .await?;
    let token = answer["token"].as_str().context("token")?;
    let query = form(&[("appKey", &e.app_key), ("token", token), ("area", "SG")]);
    let url = format!("{}/v1/nav?{query}", e.nav);
    // The nav polls the edge once a second: wait for its first answer.
    let mut ready = false;
    for _ in 0..100 {
        let answer =
            meridian_rpc::http::request("GET", &url, None, None, Duration::from_secs(2)).await;
        if matches!(answer, Ok(ref a) if a.status == 200) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !ready {
        bail!("the nav did not answer 200 within 10 s");
    }
    progress(&format!(
        "wrk: {} connections for {} s on {}/v1/nav",
        args.connections, args.seconds, e.nav
    ));
    let output = tokio::process::Command::new(wrk)
        .args(["-t2", "--latency"])
        .arg(format!("-c{}", args.connections))
        .arg(format!("-d{}s", args.seconds))
        .arg(&url)
        .output()
        .await
        .context("running wrk")?;
    if !output.status.success() {
        bail!("wrk failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    parse_wrk(&String::from_utf8_lossy(&output.stdout), args)
}

/// Reads wrk's report: `Requests/sec:`, the `--latency` percentiles, the request count
/// and `Non-2xx or 3xx responses:`.
fn parse_wrk(report: &str, args: &NavArgs) -> anyhow::Result<NavLoad> {
    let field = |prefix: &str| {
        report
            .lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
    };
    let answers_per_sec: f64 = field("Requests/sec:")
        .context("wrk printed no Requests/sec")?
        .parse()?;
    let requests: u64 = report
        .lines()
        .find_map(|l| {
            l.trim()
                .split_once(" requests in ")
                .map(|(n, _)| n.trim().to_string())
        })
        .context("wrk printed no request count")?
        .parse()?;
    let non_200 = field("Non-2xx or 3xx responses:").map_or(Ok(0), str::parse)?;
    let percentile = |p: &str| -> anyhow::Result<f64> {
        let value = field(p).with_context(|| format!("wrk printed no {p} latency"))?;
        wrk_ms(value)
    };
    Ok(NavLoad {
        connections: args.connections,
        seconds: args.seconds,
        requests,
        answers_per_sec,
        non_200,
        p50_ms: percentile("50%")?,
        p99_ms: percentile("99%")?,
    })
}

/// `850.00us`, `1.23ms`, `2.00s` in milliseconds.
fn wrk_ms(value: &str) -> anyhow::Result<f64> {
    let split = value
        .find(|c: char| c.is_ascii_alphabetic())
        .context("no unit")?;
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse()?;
    Ok(match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        _ => bail!("unknown unit {unit:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_wrk_report() {
        let report = "Running 10s test @ http://127.0.0.1:7000/v1/nav?x\n  2 threads and 64 connections\n\
            \x20 Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency     2.10ms    1.00ms  30.00ms   90.00%\n\
            \x20 Latency Distribution\n     50%  850.00us\n     75%    2.00ms\n     90%    3.00ms\n     99%    1.20s\n\
            \x20 301234 requests in 10.00s, 100.00MB read\n  Non-2xx or 3xx responses: 7\n\
            Requests/sec:  30123.40\nTransfer/sec:     10.00MB\n";
        let args = NavArgs {
            json: true,
            connections: 64,
            seconds: 10,
            wrk: "wrk".into(),
        };
        let load = parse_wrk(report, &args).unwrap();
        assert_eq!(load.requests, 301_234);
        assert_eq!(load.non_200, 7);
        assert!((load.answers_per_sec - 30_123.4).abs() < 0.01);
        assert!((load.p50_ms - 0.85).abs() < 1e-9);
        assert!((load.p99_ms - 1200.0).abs() < 1e-9);
    }
}
