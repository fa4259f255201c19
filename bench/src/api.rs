//! `meridian bench api`: acknowledged Server API publishes per second through one edge of
//! a 3-node `meridian dev` area running in this process.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use meridian_cluster::config::StorageTuning;
use meridian_regions::AreaCode;
use serde_json::json;

use crate::host::{keepalive_connection, port_base, scratch_dir, PORT_BASE_ATTEMPTS};
use crate::measure::{drive, machine, Measurement};

#[derive(Args)]
pub struct ApiArgs {
    #[arg(long)]
    json: bool,
    #[arg(long, value_delimiter = ',', default_value = "1,16,256")]
    writers: Vec<usize>,
    #[arg(long, default_value_t = 5)]
    seconds: u64,
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
    let dir = scratch_dir()?.join("api");
    let mut deployment = None;
    for attempt in 0..PORT_BASE_ATTEMPTS {
        let base = port_base(attempt);
        let options = meridian_dev::DevOptions {
            areas: vec![AreaCode::Sg],
            nodes: 3,
            data_dir: dir.join(format!("try-{attempt}")),
            port_base: base,
            // The pipeline is measured, not the per-app limiter (6000 messages/min).
            rate_limits: false,
            sessions: Default::default(),
            outbound_ca_files: Vec::new(),
            file_sweep_ms: meridian_edge::DEFAULT_FILE_SWEEP_MS,
            files_s3: None,
            retention_day_ms: meridian_cluster::state::DAY_MS,
            sled_compact_ratio: StorageTuning::default().sled_compact_ratio,
            log_chunk_bytes: StorageTuning::default().log_chunk_bytes,
            demo_dir: meridian_dev::demo_site::default_dir(),
            call_answer_timeout_ms: meridian_cluster::state::ANSWER_TIMEOUT_MS,
        };
        if let Ok(started) = meridian_dev::Deployment::start(options).await {
            deployment = Some(started);
            break;
        }
    }
    let deployment = deployment.context("no free port range for the benchmark deployment")?;
    let endpoints = deployment.endpoints();
    let area = endpoints.area("SG")?;
    let api = area.api()?.to_string();
    let prod = area.app("prod")?;
    let (key, secret) = (prod.app_key.clone(), prod.app_secret.clone());
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

pub async fn run(args: ApiArgs) -> anyhow::Result<()> {
    let ApiArgs {
        json,
        writers,
        seconds,
    } = args;
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
    Ok(())
}
