//! `meridian bench sfu`: the media server's forwarding (docs/media.md). A host publishes a
//! synthetic VP8 + Opus stream over WHIP to a `meridian dev` child's media server, and N
//! audience members watch it over WHEP, each a str0m client on its own UDP socket in this
//! process. Every frame carries its sequence number and send time, so the subscribers
//! count what they lost and how long each frame took from publisher to subscriber.
//!
//! All of it shares one machine: the subscribers' SRTP and DTLS run beside the SFU, and
//! their scheduling delays are part of the latency measured.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use futures::{StreamExt, TryStreamExt};
use meridian_access::token::{self, TokenClaims};
use meridian_client::{ClientError, ConnectOptions, Connection};
use meridian_proto::rtc::{Role, RoomKind};
use meridian_proto::{ClientFrame, ServerFrame};
use serde::Serialize;
use serde_json::json;
use str0m::media::Direction;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::dev_child::{DevChild, Endpoints};
use crate::histogram::HistogramRead;
use crate::measure::{cpu_seconds, machine, metric_sum, percentile_ms, pin};

mod janus;
mod peer;

use janus::Janus;
use peer::{Peer, Received, Sent};

const ROOM: &str = "bench";
const HOST: &str = "host";
const STREAM: &str = "cam";
/// WHEP offers in flight at once while subscribers join.
const OFFERS_IN_FLIGHT: usize = 16;
/// How long every subscriber may take to get its first frame.
const CONNECT_WAIT: Duration = Duration::from_secs(60);
/// Frames still on their way when the publisher stops.
const SETTLE: Duration = Duration::from_secs(1);
/// The edge closes a session silent for 90 s.
const PING_EVERY: Duration = Duration::from_secs(30);
const ANSWER_WAIT: Duration = Duration::from_secs(30);

#[derive(Args)]
pub struct SfuArgs {
    #[arg(long)]
    json: bool,
    /// Audience members watching the stream, each over its own WebRTC transport.
    #[arg(long, default_value_t = 100)]
    subscribers: usize,
    /// Seconds measured, once every subscriber receives.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// The video's bitrate (25 frames per second); audio adds about 32 kbit/s.
    #[arg(long, default_value_t = 500)]
    kbps: u64,
    /// The media server's process on the first CPU alone and this process (the
    /// publisher and every subscriber) on the others, so the subscribers' decryption does
    /// not take the server's core: what one core forwards.
    #[arg(long)]
    split_cpus: bool,
    /// The same load through Janus's VideoRoom (Debian's `janus`) instead of Meridian's
    /// media server: the peer measured the same way.
    #[arg(long)]
    janus: bool,
}

#[derive(Serialize)]
struct SfuRun {
    /// `meridian` or `janus`.
    server: &'static str,
    subscribers: usize,
    /// Subscribers that received a frame before the measured window began.
    receiving: usize,
    /// Subscribers whose transport failed; their frames count as lost.
    failed: usize,
    seconds: f64,
    kbps: u64,
    video_frames_sent: u64,
    audio_frames_sent: u64,
    /// Of the video frames sent in the window, the share each subscriber received.
    video_delivery_min: f64,
    video_delivery_mean: f64,
    video_loss_pct: f64,
    audio_loss_pct: f64,
    /// Publisher's write to subscriber's socket read, over the window's frames received.
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    latency_max_ms: f64,
    /// What Meridian's media server measured inside itself (none for Janus).
    #[serde(flatten)]
    inside: Option<Inside>,
    /// The SFU's process (`meridian dev`: the SFU, and idle cluster nodes and edges; or
    /// Janus), of one core.
    dev_cpu_pct: f64,
    /// This process: publisher and every subscriber's DTLS/SRTP.
    bench_cpu_pct: f64,
    /// Whether the media server had the first CPU to itself (`--split-cpus`).
    split_cpus: bool,
    sessions_ended: usize,
}

#[derive(Serialize)]
struct Inside {
    /// A frame's fan-out (`meridian_media_forward_delay_seconds`: from reading the packet
    /// that completes a frame to having sent it to every subscriber), over the window's
    /// frames: the histogram bucket bounds the quantiles fall in, and the share
    /// under the 2 ms target.
    sfu_delay_p50_ms_at_most: f64,
    sfu_delay_p99_ms_at_most: f64,
    sfu_delay_under_2ms_pct: f64,
    /// The same per subscriber's copy (`meridian_media_copy_delay_seconds`: from that read
    /// to handing one copy to the socket), over the window's datagrams.
    copy_delay_p50_ms_at_most: f64,
    copy_delay_p99_ms_at_most: f64,
    copy_delay_under_2ms_pct: f64,
    /// From the media server's metrics (audio and video frames).
    sfu_frames_per_sec: f64,
    sfu_mbit_per_sec: f64,
}

pub async fn run(args: SfuArgs) -> anyhow::Result<()> {
    if args.subscribers == 0 || args.seconds == 0 || args.kbps == 0 {
        bail!("--subscribers, --seconds and --kbps must be at least 1");
    }
    let r = tokio::select! {
        result = measure(&args) => result?,
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
    };
    if args.json {
        let mut object = serde_json::to_value(&r)?;
        object["benchmark"] = json!("sfu");
        object["machine"] = machine();
        println!("{object}");
        return Ok(());
    }
    let (frames, mbit) = match &r.inside {
        Some(inside) => (
            format!("{:.0}", inside.sfu_frames_per_sec),
            format!("{:.1}", inside.sfu_mbit_per_sec),
        ),
        None => ("-".into(), "-".into()),
    };
    println!(
        "server    subs  receiving  frames(v/a)  delivery min/mean  loss v/a %   \
         latency p50/p99/max ms   SFU frames/s  Mbit/s  server CPU %  bench CPU %"
    );
    println!(
        "{:<8} {:>5} {:>10} {:>7}/{:<5} {:>8.4}/{:<8.4} {:>5.2}/{:<5.2} {:>7.2}/{:.2}/{:<8.2} \
         {:>12} {:>7} {:>13.0} {:>12.0}",
        r.server,
        r.subscribers,
        r.receiving,
        r.video_frames_sent,
        r.audio_frames_sent,
        r.video_delivery_min,
        r.video_delivery_mean,
        r.video_loss_pct,
        r.audio_loss_pct,
        r.latency_p50_ms,
        r.latency_p99_ms,
        r.latency_max_ms,
        frames,
        mbit,
        r.dev_cpu_pct,
        r.bench_cpu_pct
    );
    if let Some(inside) = &r.inside {
        println!(
            "SFU added latency per copy: p50 ≤ {} ms, p99 ≤ {} ms, {:.2}% of copies under 2 ms",
            inside.copy_delay_p50_ms_at_most,
            inside.copy_delay_p99_ms_at_most,
            inside.copy_delay_under_2ms_pct
        );
        println!(
            "A frame's fan-out to every subscriber: p50 ≤ {} ms, p99 ≤ {} ms, {:.2}% of frames \
             under 2 ms",
            inside.sfu_delay_p50_ms_at_most,
            inside.sfu_delay_p99_ms_at_most,
            inside.sfu_delay_under_2ms_pct
        );
    }
    println!(
        "({:.1} s measured, {} kbit/s VP8 at 25 fps + Opus; {} subscribers failed; {} sessions \
         ended; {} build{})",
        r.seconds,
        r.kbps,
        r.failed,
        r.sessions_ended,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        if r.split_cpus {
            "; the SFU alone on CPU 0"
        } else {
            ""
        }
    );
    Ok(())
}

/// The SFU measured: Meridian's media server in a `meridian dev` child, its host and
/// audience members' sessions in the live room kept open; or Janus.
enum Server {
    Meridian {
        dev: DevChild,
        /// The media server's base URL, as `rtcJoined` named it.
        media: String,
        sessions: Vec<JoinHandle<()>>,
    },
    Janus {
        janus: Janus,
        /// The publisher's feed, once it publishes.
        feed: u64,
    },
}

impl Server {
    async fn start(args: &SfuArgs) -> anyhow::Result<Self> {
        if args.janus {
            return Ok(Self::Janus {
                janus: Janus::start().await?,
                feed: 0,
            });
        }
        let dev = DevChild::start(&[]).await?;
        let mut users: Vec<String> = (0..args.subscribers).map(audience).collect();
        users.push(HOST.into());
        dev.create_users(&users).await?;
        progress(&format!(
            "host and {} audience join room {ROOM}",
            args.subscribers
        ));
        let endpoints = &dev.endpoints;
        let (host_session, media) = join(endpoints, HOST, Role::Host).await?;
        let mut sessions = vec![keep_open(host_session)];
        let joined: Vec<Connection> = futures::stream::iter(0..args.subscribers)
            .map(|i| async move { join(endpoints, &audience(i), Role::Audience).await })
            .buffered(OFFERS_IN_FLIGHT)
            .map_ok(|(session, _)| session)
            .try_collect()
            .await?;
        sessions.extend(joined.into_iter().map(keep_open));
        Ok(Self::Meridian {
            dev,
            media,
            sessions,
        })
    }

    fn pid(&self) -> anyhow::Result<u32> {
        match self {
            Self::Meridian { dev, .. } => Ok(dev.pid()),
            Self::Janus { janus, .. } => janus.pid(),
        }
    }

    fn metrics_url(&self) -> anyhow::Result<Option<String>> {
        match self {
            Self::Meridian { dev, .. } => match &dev.endpoints.media_metrics {
                Some(url) => Ok(Some(url.clone())),
                None => bail!("meridian dev runs no media server"),
            },
            Self::Janus { .. } => Ok(None),
        }
    }

    async fn publisher(&mut self) -> anyhow::Result<Peer> {
        match self {
            Self::Meridian { dev, media, .. } => Peer::offer_to(
                &format!("{media}/whip/{ROOM}/{STREAM}"),
                &mint_token(&dev.endpoints, HOST),
                Direction::SendOnly,
            )
            .await
            .context("WHIP offer"),
            Self::Janus { janus, feed } => {
                let (peer, published) = janus.publisher().await?;
                *feed = published;
                Ok(peer)
            }
        }
    }

    async fn subscriber(&self, i: usize) -> anyhow::Result<Peer> {
        match self {
            Self::Meridian { dev, media, .. } => Peer::offer_to(
                &format!("{media}/whep/{ROOM}/{HOST}/{STREAM}"),
                &mint_token(&dev.endpoints, &audience(i)),
                Direction::RecvOnly,
            )
            .await
            .context("WHEP offer"),
            Self::Janus { janus, feed } => janus.subscriber(*feed).await,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Meridian { .. } => "meridian",
            Self::Janus { .. } => "janus",
        }
    }

    /// Sessions to the edge that ended during the run (Janus has none).
    fn sessions_ended(&self) -> usize {
        match self {
            Self::Meridian { sessions, .. } => sessions.iter().filter(|s| s.is_finished()).count(),
            Self::Janus { .. } => 0,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Self::Meridian { sessions, .. } = self {
            sessions.iter().for_each(JoinHandle::abort);
        }
    }
}

fn audience(i: usize) -> String {
    format!("a{i}")
}

async fn measure(args: &SfuArgs) -> anyhow::Result<SfuRun> {
    let mut server = Server::start(args).await?;
    let server_pid = server.pid()?;
    if args.split_cpus {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cpus < 2 {
            bail!("--split-cpus needs at least 2 CPUs");
        }
        pin(server_pid, "0")?;
        pin(std::process::id(), &format!("1-{}", cpus - 1))?;
    }
    let metrics_url = server.metrics_url()?;

    let epoch = Instant::now();
    let (stop_publisher, publisher_stopped) = watch::channel(false);
    let (stop_subscribers, subscribers_stopped) = watch::channel(false);
    let sent = Arc::new(Sent::default());
    let publisher = server.publisher().await?;
    let frame_bytes = (args.kbps * 1000 / 8 / 25) as usize;
    let publishing =
        tokio::spawn(publisher.publish(frame_bytes, epoch, sent.clone(), publisher_stopped));

    progress(&format!(
        "{} subscribers watch through {}",
        args.subscribers,
        server.name()
    ));
    let receiving = Arc::new(AtomicUsize::new(0));
    // Each subscriber starts as soon as its offer is answered, so the DTLS handshakes
    // spread out instead of all timing out together.
    let server = &server;
    let watching: Vec<JoinHandle<Received>> = futures::stream::iter(0..args.subscribers)
        .map(|i| {
            let (receiving, stop) = (receiving.clone(), subscribers_stopped.clone());
            async move {
                let peer = server.subscriber(i).await?;
                anyhow::Ok(tokio::spawn(peer.watch(epoch, receiving, stop)))
            }
        })
        .buffered(OFFERS_IN_FLIGHT)
        .try_collect()
        .await?;
    let waited = Instant::now();
    while receiving.load(Ordering::Relaxed) < args.subscribers && waited.elapsed() < CONNECT_WAIT {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let receiving = receiving.load(Ordering::Relaxed);

    progress(&format!(
        "{receiving} subscribers receive; measuring {} s",
        args.seconds
    ));
    let before = Sample::take(server_pid, metrics_url.as_deref()).await?;
    let first = sent.snapshot();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let after = Sample::take(server_pid, metrics_url.as_deref()).await?;
    let _ = stop_publisher.send(true);
    publishing.await??;
    let last = sent.snapshot();
    tokio::time::sleep(SETTLE).await;
    let _ = stop_subscribers.send(true);
    let mut received = Vec::new();
    for subscriber in watching {
        received.push(subscriber.await?);
    }
    Ok(summarize(
        args,
        server.name(),
        receiving,
        (first, last),
        &received,
        (&before, &after),
        server.sessions_ended(),
    ))
}

/// What the window's counters and CPU clocks read at one moment.
struct Sample {
    at: Instant,
    dev_cpu: f64,
    bench_cpu: f64,
    /// Meridian's media server's metrics.
    metrics: Option<Metrics>,
}

struct Metrics {
    forwarded_frames: f64,
    forwarded_bytes: f64,
    forward_delay: HistogramRead,
    copy_delay: HistogramRead,
}

impl Sample {
    async fn take(server_pid: u32, metrics_url: Option<&str>) -> anyhow::Result<Self> {
        let metrics = match metrics_url {
            Some(url) => {
                let answer =
                    meridian_rpc::http::request("GET", url, None, None, ANSWER_WAIT).await?;
                let text = answer.text();
                Some(Metrics {
                    forwarded_frames: metric_sum(&text, "meridian_media_forwarded_frames_total"),
                    forwarded_bytes: metric_sum(&text, "meridian_media_forwarded_bytes_total"),
                    forward_delay: HistogramRead::parse(
                        &text,
                        "meridian_media_forward_delay_seconds",
                    ),
                    copy_delay: HistogramRead::parse(&text, "meridian_media_copy_delay_seconds"),
                })
            }
            None => None,
        };
        Ok(Self {
            at: Instant::now(),
            dev_cpu: cpu_seconds(&server_pid.to_string())?,
            bench_cpu: cpu_seconds("self")?,
            metrics,
        })
    }
}

impl Metrics {
    fn since(&self, before: &Self, seconds: f64) -> Inside {
        let delays = self.forward_delay.since(&before.forward_delay);
        let copies = self.copy_delay.since(&before.copy_delay);
        Inside {
            sfu_delay_p50_ms_at_most: delays.quantile_at_most_ms(0.50),
            sfu_delay_p99_ms_at_most: delays.quantile_at_most_ms(0.99),
            sfu_delay_under_2ms_pct: delays.under_ms(2.0),
            copy_delay_p50_ms_at_most: copies.quantile_at_most_ms(0.50),
            copy_delay_p99_ms_at_most: copies.quantile_at_most_ms(0.99),
            copy_delay_under_2ms_pct: copies.under_ms(2.0),
            sfu_frames_per_sec: (self.forwarded_frames - before.forwarded_frames) / seconds,
            sfu_mbit_per_sec: (self.forwarded_bytes - before.forwarded_bytes) * 8.0 / seconds / 1e6,
        }
    }
}

fn summarize(
    args: &SfuArgs,
    server: &'static str,
    receiving: usize,
    ((video0, audio0), (video1, audio1)): ((u64, u64), (u64, u64)),
    received: &[Received],
    (before, after): (&Sample, &Sample),
    sessions_ended: usize,
) -> SfuRun {
    let in_window = |frames: &[(u64, Duration)], from: u64, to: u64| {
        let mut seqs: Vec<u64> = frames
            .iter()
            .map(|f| f.0)
            .filter(|s| (from..to).contains(s))
            .collect();
        seqs.sort_unstable();
        seqs.dedup();
        seqs.len() as u64
    };
    let (video_sent, audio_sent) = (video1 - video0, audio1 - audio0);
    let video_got: Vec<u64> = received
        .iter()
        .map(|r| in_window(&r.video, video0, video1))
        .collect();
    let audio_got: u64 = received
        .iter()
        .map(|r| in_window(&r.audio, audio0, audio1))
        .sum();
    let share = |got: u64, of: u64| if of == 0 { 0.0 } else { got as f64 / of as f64 };
    let ratios: Vec<f64> = video_got.iter().map(|&g| share(g, video_sent)).collect();
    let mut latencies: Vec<Duration> = received
        .iter()
        .flat_map(|r| {
            let video = r.video.iter().filter(|f| (video0..video1).contains(&f.0));
            video.chain(r.audio.iter().filter(|f| (audio0..audio1).contains(&f.0)))
        })
        .map(|f| f.1)
        .collect();
    latencies.sort_unstable();
    let subscribers = received.len() as u64;
    let seconds = after.at.duration_since(before.at).as_secs_f64();
    let inside = match (&before.metrics, &after.metrics) {
        (Some(before), Some(after)) => Some(after.since(before, seconds)),
        _ => None,
    };
    SfuRun {
        server,
        subscribers: args.subscribers,
        receiving,
        failed: received.iter().filter(|r| r.failed).count(),
        seconds,
        kbps: args.kbps,
        video_frames_sent: video_sent,
        audio_frames_sent: audio_sent,
        video_delivery_min: ratios.iter().copied().fold(f64::INFINITY, f64::min),
        video_delivery_mean: ratios.iter().sum::<f64>() / ratios.len().max(1) as f64,
        video_loss_pct: 100.0 * (1.0 - share(video_got.iter().sum(), video_sent * subscribers)),
        audio_loss_pct: 100.0 * (1.0 - share(audio_got, audio_sent * subscribers)),
        latency_p50_ms: percentile_ms(&latencies, 0.50),
        latency_p99_ms: percentile_ms(&latencies, 0.99),
        latency_max_ms: latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        inside,
        dev_cpu_pct: 100.0 * (after.dev_cpu - before.dev_cpu) / seconds,
        split_cpus: args.split_cpus,
        bench_cpu_pct: 100.0 * (after.bench_cpu - before.bench_cpu) / seconds,
        sessions_ended,
    }
}

/// A token for `user`, minted here with the App Secret.
fn mint_token(endpoints: &Endpoints, user: &str) -> String {
    token::issue(
        &endpoints.app_secret,
        &TokenClaims {
            app_key: endpoints.app_key.clone(),
            user_id: user.to_string(),
            issued_at_ms: meridian_clock::now_ms(),
        },
    )
}

/// A session of `user` that has joined the live room as `role`, and the media server
/// URL its `rtcJoined` named.
async fn join(
    endpoints: &Endpoints,
    user: &str,
    role: Role,
) -> anyhow::Result<(Connection, String)> {
    let options = ConnectOptions {
        url: endpoints.ws.clone(),
        app_key: endpoints.app_key.clone(),
        token: mint_token(endpoints, user),
        device_id: user.to_string(),
        platform: "iOS".into(),
        cursor: None,
        tls: None,
    };
    let mut session = Connection::connect(&options).await?;
    while !matches!(
        session.next_within(ANSWER_WAIT).await?,
        ServerFrame::Synced { .. }
    ) {}
    session
        .send(&ClientFrame::RtcJoin {
            req_id: 1,
            room_id: ROOM.into(),
            kind: RoomKind::Live,
            role,
        })
        .await?;
    loop {
        match session.next_within(ANSWER_WAIT).await? {
            ServerFrame::RtcJoined { media_server, .. } if !media_server.is_empty() => {
                return Ok((session, media_server))
            }
            ServerFrame::RtcJoined { .. } => bail!("the area has no media server"),
            ServerFrame::Error { code, message, .. } => {
                bail!("{user} joining {ROOM}: {code} {message}")
            }
            _ => {}
        }
    }
}

/// Keeps a session open (the media server drops members whose session closed), pinging
/// the edge when it has been quiet.
fn keep_open(mut session: Connection) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match session.next_within(PING_EVERY).await {
                Ok(_) => {}
                Err(ClientError::Timeout(_)) => {
                    if session.send(&ClientFrame::Ping).await.is_err() {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    })
}

fn progress(message: &str) {
    eprintln!("meridian bench: sfu: {message}");
}
