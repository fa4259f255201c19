//! `meridian bench hooks`: full message routing (HOOK-01) from a 3-node loopback area to a
//! local app server that answers 200 at once. Messages are published through the cluster
//! client by concurrent writers over a number of conversations; the figure is routed
//! callbacks per second, from the first publish until the app server has every message,
//! with the order per conversation checked on the way.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

use anyhow::bail;
use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use meridian_cluster::state::{
    AppSettings, CallbackSettings, Command, Envelope, NewMessage, Publish, SetAppSettings,
};
use meridian_regions::AreaCode;
use serde_json::json;
use tokio::sync::watch;

#[derive(Args)]
pub struct HooksArgs {
    #[arg(long)]
    json: bool,
    /// Messages per measurement.
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Conversations the messages are spread over, comma separated (one measurement each).
    #[arg(long, value_delimiter = ',', default_value = "1,100")]
    conversations: Vec<usize>,
    /// Concurrent publishers.
    #[arg(long, default_value_t = 64)]
    writers: usize,
}

/// What the app server saw: the last seq per conversation (an older one is an order
/// violation; the same one again is an allowed repeat) and how many distinct messages.
#[derive(Default)]
struct Sink {
    last_seq: HashMap<String, u64>,
    distinct: usize,
    violations: usize,
}

fn form_value<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    body.split('&')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
}

async fn serve_sink(
    listener: tokio::net::TcpListener,
    sink: Arc<Mutex<Sink>>,
    count: watch::Sender<usize>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (sink, count) = (sink.clone(), count.clone());
        let service = service_fn(move |request: Request<Incoming>| {
            let (sink, count) = (sink.clone(), count.clone());
            async move {
                let body = request
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let body = String::from_utf8_lossy(&body);
                let conversation = format!(
                    "{}>{}",
                    form_value(&body, "fromUserId").unwrap_or_default(),
                    form_value(&body, "toUserId").unwrap_or_default()
                );
                let seq: u64 = form_value(&body, "seq")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                let distinct = {
                    let mut sink = sink.lock().unwrap_or_else(|e| e.into_inner());
                    let last = sink.last_seq.entry(conversation).or_insert(0);
                    if seq > *last {
                        *last = seq;
                        sink.distinct += 1;
                    } else if seq < *last {
                        sink.violations += 1;
                    }
                    sink.distinct
                };
                count.send_replace(distinct);
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"{}"))))
            }
        });
        tokio::spawn(async move {
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

struct Routed {
    conversations: usize,
    messages: usize,
    seconds: f64,
    callbacks_per_sec: f64,
    /// From the last publish's commit to the app server having every message.
    drain_ms: f64,
}

async fn measure(
    client: Arc<meridian_cluster::ClusterClient>,
    app_key: &str,
    conversations: usize,
    messages: usize,
    writers: usize,
    sink: &Arc<Mutex<Sink>>,
    count: &watch::Sender<usize>,
) -> anyhow::Result<Routed> {
    *sink.lock().unwrap_or_else(|e| e.into_inner()) = Sink::default();
    count.send_replace(0);
    let mut seen = count.subscribe();
    let started = Instant::now();
    // Writers take turns over the conversations; the order a conversation's messages
    // must arrive in is the seq order their commits gave them.
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let client = client.clone();
        let app_key = app_key.to_string();
        let count = messages / writers;
        tasks.push(tokio::spawn(async move {
            for n in 0..count {
                let c = (writer + n * writers) % conversations;
                let (from, to) = (format!("u{c}a"), format!("u{c}b"));
                let content = format!(r#"{{"content":"m{n}"}}"#);
                let message = NewMessage::private_text(&from, &to, &content);
                let publish = Command::Publish(Publish {
                    app_key: app_key.clone(),
                    messages: vec![message],
                });
                client
                    .write_one(Envelope {
                        area: AreaCode::Sg,
                        command: publish,
                    })
                    .await?;
            }
            anyhow::Ok(count)
        }));
    }
    let mut published = 0;
    for task in tasks {
        published += task.await??;
    }
    let committed = Instant::now();
    tokio::time::timeout(
        Duration::from_secs(120),
        seen.wait_for(|got| *got >= published),
    )
    .await
    .map_err(|_| anyhow::anyhow!("the app server did not get every message within 120 s"))??;
    let done = Instant::now();
    let violations = sink.lock().unwrap_or_else(|e| e.into_inner()).violations;
    if violations > 0 {
        bail!("{violations} callbacks arrived out of order");
    }
    let seconds = (done - started).as_secs_f64();
    Ok(Routed {
        conversations,
        messages: published,
        seconds,
        callbacks_per_sec: published as f64 / seconds,
        drain_ms: (done - committed).as_secs_f64() * 1000.0,
    })
}

pub async fn run(args: HooksArgs) -> anyhow::Result<()> {
    let dir = crate::host::scratch_dir()?.join("hooks");
    let (nodes, client, creds) = crate::area::start_bench_area(&dir, Vec::new()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/route", listener.local_addr()?);
    let sink = Arc::new(Mutex::new(Sink::default()));
    let (count, _) = watch::channel(0usize);
    let server = tokio::spawn(serve_sink(listener, sink.clone(), count.clone()));
    let settings = AppSettings {
        callbacks: CallbackSettings {
            routing_url: Some(url),
            ..CallbackSettings::default()
        },
        ..AppSettings::default()
    };
    client
        .write_one(Envelope {
            area: AreaCode::Sg,
            command: Command::SetAppSettings(SetAppSettings {
                app_key: creds.app_key.clone(),
                settings,
            }),
        })
        .await?;
    let mut results = Vec::new();
    for &conversations in &args.conversations {
        results.push(
            measure(
                client.clone(),
                &creds.app_key,
                conversations.max(1),
                args.messages,
                args.writers.max(1),
                &sink,
                &count,
            )
            .await?,
        );
    }
    server.abort();
    for node in nodes {
        node.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    if args.json {
        let points: Vec<_> = results
            .iter()
            .map(|r| {
                json!({
                    "conversations": r.conversations,
                    "messages": r.messages,
                    "seconds": r.seconds,
                    "callbacks_per_sec": r.callbacks_per_sec,
                    "drain_ms": r.drain_ms,
                })
            })
            .collect();
        println!(
            "{}",
            json!({ "benchmark": "hooks", "machine": crate::measure::machine(), "writers": args.writers, "meridian": points })
        );
    } else {
        println!("conversations  messages  callbacks/s  drain ms");
        for r in &results {
            println!(
                "{:>13} {:>9} {:>12.0} {:>9.1}",
                r.conversations, r.messages, r.callbacks_per_sec, r.drain_ms
            );
        }
    }
    Ok(())
}
