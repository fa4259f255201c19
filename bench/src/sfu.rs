//! `meridian bench sfu`: the media server's forwarding (docs/media.md). A host publishes a
//! synthetic VP8 + Opus stream over WHIP to a `meridian dev` child's media server, and N
//! audience members watch it over WHEP, each a str0m client on its own UDP socket in this
//! process. Every frame carries its sequence number and send time, so the subscribers
//! count what they lost and how long each frame took from publisher to subscriber.
//!
//! All of it shares one machine: the subscribers' SRTP and DTLS run beside the SFU, and
//! their scheduling delays are part of the latency measured.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
use str0m::change::SdpAnswer;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::dev_child::{DevChild, Endpoints};
use crate::histogram::HistogramRead;
use crate::measure::{cpu_seconds, machine, metric_sum, percentile_ms, pin};

const ROOM: &str = "bench";
const HOST: &str = "host";
const STREAM: &str = "cam";
const VIDEO_EVERY: Duration = Duration::from_millis(40);
/// A keyframe every 2 s (and whenever the SFU asks for one for a new subscriber).
const KEYFRAME_EVERY: u64 = 50;
/// Opus's usual 20 ms frames at about 32 kbit/s.
const AUDIO_EVERY: Duration = Duration::from_millis(20);
const AUDIO_BYTES: usize = 80;
/// Sequence number and send time (ns since the run's epoch), little endian.
const STAMP: usize = 16;
/// VP8's 3-byte frame tag, and for a keyframe the start code and a 640x360 size.
const KEY_HEADER: [u8; 10] = [0x10, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01];
const INTER_HEADER: [u8; 3] = [0x11, 0, 0];
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
}

#[derive(Serialize)]
struct SfuRun {
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
    /// The `meridian dev` process (SFU, and an idle cluster node and edge), of one core.
    dev_cpu_pct: f64,
    /// This process: publisher and every subscriber's DTLS/SRTP.
    bench_cpu_pct: f64,
    /// Whether the media server had the first CPU to itself (`--split-cpus`).
    split_cpus: bool,
    sessions_ended: usize,
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
    println!(
        "subs  receiving  frames(v/a)  delivery min/mean  loss v/a %   latency p50/p99/max ms   \
         SFU frames/s  Mbit/s  dev CPU %  bench CPU %"
    );
    println!(
        "{:>4} {:>10} {:>7}/{:<5} {:>8.4}/{:<8.4} {:>5.2}/{:<5.2} {:>7.2}/{:.2}/{:<8.2} {:>12.0} \
         {:>7.1} {:>10.0} {:>12.0}",
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
        r.sfu_frames_per_sec,
        r.sfu_mbit_per_sec,
        r.dev_cpu_pct,
        r.bench_cpu_pct
    );
    println!(
        "SFU added latency per copy: p50 ≤ {} ms, p99 ≤ {} ms, {:.2}% of copies under 2 ms",
        r.copy_delay_p50_ms_at_most, r.copy_delay_p99_ms_at_most, r.copy_delay_under_2ms_pct
    );
    println!(
        "A frame's fan-out to every subscriber: p50 ≤ {} ms, p99 ≤ {} ms, {:.2}% of frames \
         under 2 ms",
        r.sfu_delay_p50_ms_at_most, r.sfu_delay_p99_ms_at_most, r.sfu_delay_under_2ms_pct
    );
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
            "; media server alone on CPU 0"
        } else {
            ""
        }
    );
    Ok(())
}

async fn measure(args: &SfuArgs) -> anyhow::Result<SfuRun> {
    let dev = DevChild::start(&[]).await?;
    let dev_pid = dev.pid();
    if args.split_cpus {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cpus < 2 {
            bail!("--split-cpus needs at least 2 CPUs");
        }
        pin(dev_pid, "0")?;
        pin(std::process::id(), &format!("1-{}", cpus - 1))?;
    }
    let metrics_url = dev.endpoints.media_metrics.clone();
    let metrics_url = metrics_url.context("meridian dev runs no media server")?;
    let audience: Vec<String> = (0..args.subscribers).map(|i| format!("a{i}")).collect();
    let mut users = audience.clone();
    users.push(HOST.into());
    dev.create_users(&users).await?;

    progress(&format!(
        "host and {} audience join room {ROOM}",
        args.subscribers
    ));
    let endpoints = &dev.endpoints;
    let (host_session, media) = join(endpoints, HOST, Role::Host).await?;
    let mut sessions = vec![keep_open(host_session)];
    let joined: Vec<Connection> = futures::stream::iter(&audience)
        .map(|user| async move { join(endpoints, user, Role::Audience).await.map(|j| j.0) })
        .buffered(OFFERS_IN_FLIGHT)
        .try_collect()
        .await?;
    sessions.extend(joined.into_iter().map(keep_open));

    let epoch = Instant::now();
    let (stop_publisher, publisher_stopped) = watch::channel(false);
    let (stop_subscribers, subscribers_stopped) = watch::channel(false);
    let sent = Arc::new(Sent::default());
    let publisher = Peer::offer(
        &format!("{media}/whip/{ROOM}/{STREAM}"),
        &mint_token(endpoints, HOST),
        Direction::SendOnly,
    )
    .await
    .context("WHIP offer")?;
    let frame_bytes = (args.kbps * 1000 / 8 / 25) as usize;
    let publishing =
        tokio::spawn(publisher.publish(frame_bytes, epoch, sent.clone(), publisher_stopped));

    progress(&format!("{} subscribers watch over WHEP", args.subscribers));
    let receiving = Arc::new(AtomicUsize::new(0));
    let watch_url = format!("{media}/whep/{ROOM}/{HOST}/{STREAM}");
    // Each subscriber starts as soon as its offer is answered, so the DTLS handshakes
    // spread out instead of all timing out together.
    let watching: Vec<JoinHandle<Received>> = futures::stream::iter(&audience)
        .map(|user| {
            let token = mint_token(endpoints, user);
            let url = watch_url.clone();
            let (receiving, stop) = (receiving.clone(), subscribers_stopped.clone());
            async move {
                let peer = Peer::offer(&url, &token, Direction::RecvOnly).await?;
                anyhow::Ok(tokio::spawn(peer.watch(epoch, receiving, stop)))
            }
        })
        .buffered(OFFERS_IN_FLIGHT)
        .try_collect()
        .await
        .context("WHEP offers")?;
    let waited = Instant::now();
    while receiving.load(Ordering::Relaxed) < args.subscribers && waited.elapsed() < CONNECT_WAIT {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let receiving = receiving.load(Ordering::Relaxed);

    progress(&format!(
        "{receiving} subscribers receive; measuring {} s",
        args.seconds
    ));
    let before = Sample::take(dev_pid, &metrics_url).await?;
    let first = sent.snapshot();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let after = Sample::take(dev_pid, &metrics_url).await?;
    let _ = stop_publisher.send(true);
    publishing.await??;
    let last = sent.snapshot();
    tokio::time::sleep(SETTLE).await;
    let _ = stop_subscribers.send(true);
    let mut received = Vec::new();
    for subscriber in watching {
        received.push(subscriber.await?);
    }
    let sessions_ended = sessions.iter().filter(|s| s.is_finished()).count();
    for session in &sessions {
        session.abort();
    }
    Ok(summarize(
        args,
        receiving,
        (first, last),
        &received,
        (&before, &after),
        sessions_ended,
    ))
}

/// Frames the publisher has written so far: (video, audio).
#[derive(Default)]
struct Sent {
    video: AtomicU64,
    audio: AtomicU64,
}

impl Sent {
    fn snapshot(&self) -> (u64, u64) {
        (
            self.video.load(Ordering::Relaxed),
            self.audio.load(Ordering::Relaxed),
        )
    }
}

/// What one subscriber got: (sequence number, latency) of each frame, and whether its
/// transport failed (str0m gave up, e.g. on a DTLS handshake timeout).
#[derive(Default)]
struct Received {
    failed: bool,
    video: Vec<(u64, Duration)>,
    audio: Vec<(u64, Duration)>,
}

/// What the window's counters and CPU clocks read at one moment.
struct Sample {
    at: Instant,
    dev_cpu: f64,
    bench_cpu: f64,
    forwarded_frames: f64,
    forwarded_bytes: f64,
    forward_delay: HistogramRead,
    copy_delay: HistogramRead,
}

impl Sample {
    async fn take(dev_pid: u32, metrics_url: &str) -> anyhow::Result<Self> {
        let answer =
            meridian_rpc::http::request("GET", metrics_url, None, None, ANSWER_WAIT).await?;
        let metrics = answer.text();
        Ok(Self {
            at: Instant::now(),
            dev_cpu: cpu_seconds(&dev_pid.to_string())?,
            bench_cpu: cpu_seconds("self")?,
            forwarded_frames: metric_sum(&metrics, "meridian_media_forwarded_frames_total"),
            forwarded_bytes: metric_sum(&metrics, "meridian_media_forwarded_bytes_total"),
            forward_delay: HistogramRead::parse(&metrics, "meridian_media_forward_delay_seconds"),
            copy_delay: HistogramRead::parse(&metrics, "meridian_media_copy_delay_seconds"),
        })
    }
}

fn summarize(
    args: &SfuArgs,
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
    let delays = after.forward_delay.since(&before.forward_delay);
    let copies = after.copy_delay.since(&before.copy_delay);
    SfuRun {
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
        sfu_delay_p50_ms_at_most: delays.quantile_at_most_ms(0.50),
        sfu_delay_p99_ms_at_most: delays.quantile_at_most_ms(0.99),
        sfu_delay_under_2ms_pct: delays.under_ms(2.0),
        copy_delay_p50_ms_at_most: copies.quantile_at_most_ms(0.50),
        copy_delay_p99_ms_at_most: copies.quantile_at_most_ms(0.99),
        copy_delay_under_2ms_pct: copies.under_ms(2.0),
        sfu_frames_per_sec: (after.forwarded_frames - before.forwarded_frames) / seconds,
        sfu_mbit_per_sec: (after.forwarded_bytes - before.forwarded_bytes) * 8.0 / seconds / 1e6,
        dev_cpu_pct: 100.0 * (after.dev_cpu - before.dev_cpu) / seconds,
        split_cpus: args.split_cpus,
        bench_cpu_pct: 100.0 * (after.bench_cpu - before.bench_cpu) / seconds,
        sessions_ended,
    }
}

/// A str0m client on its own UDP socket, with one video (VP8) and one audio (Opus) m-line.
struct Peer {
    rtc: Rtc,
    socket: UdpSocket,
    video: Mid,
    audio: Mid,
}

impl Peer {
    /// Offers to a WHIP or WHEP `url` and applies the server's answer.
    async fn offer(url: &str, token: &str, direction: Direction) -> anyhow::Result<Self> {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_vp8(true)
            .enable_opus(true, false)
            .build(Instant::now().into_std());
        rtc.add_local_candidate(Candidate::host(socket.local_addr()?, "udp")?);
        let mut change = rtc.sdp_api();
        let video = change.add_media(MediaKind::Video, direction, None, None, None);
        let audio = change.add_media(MediaKind::Audio, direction, None, None, None);
        let (offer, pending) = change.apply().context("an offer with no m-lines")?;
        let answer = meridian_rpc::http::request_with_body(
            "POST",
            url,
            Some(token),
            Some(("application/sdp", offer.to_sdp_string().as_bytes())),
            ANSWER_WAIT,
        )
        .await?;
        if answer.status != 201 {
            bail!("{url} answered {}: {}", answer.status, answer.text());
        }
        let answer = SdpAnswer::from_sdp_string(&answer.text())?;
        rtc.sdp_api().accept_answer(pending, answer)?;
        Ok(Self {
            rtc,
            socket,
            video,
            audio,
        })
    }

    /// Sends what str0m has to send; answers its events and when it next wants time.
    async fn flush(&mut self) -> anyhow::Result<(Vec<Event>, Instant)> {
        let mut events = Vec::new();
        loop {
            match self.rtc.poll_output()? {
                Output::Timeout(at) => return Ok((events, at.into())),
                Output::Transmit(t) => {
                    let _ = self.socket.send_to(&t.contents, t.destination).await;
                }
                Output::Event(event) => events.push(event),
            }
        }
    }

    /// Waits for a datagram until `until` and hands it, or the time, to str0m. False
    /// once `stop` is set.
    async fn step(
        &mut self,
        until: Instant,
        buf: &mut [u8],
        stop: &mut watch::Receiver<bool>,
    ) -> anyhow::Result<bool> {
        let datagram = tokio::select! {
            datagram = self.socket.recv_from(buf) => Some(datagram?),
            _ = tokio::time::sleep_until(until) => None,
            _ = stop.changed() => return Ok(false),
        };
        let now = Instant::now().into_std();
        if let Some((n, source)) = datagram {
            let receive = Receive {
                proto: Protocol::Udp,
                source,
                destination: self.socket.local_addr()?,
                contents: buf[..n].try_into()?,
            };
            self.rtc.handle_input(Input::Receive(now, receive))?;
        } else {
            self.rtc.handle_input(Input::Timeout(now))?;
        }
        Ok(true)
    }

    /// Publishes until stopped, once connected: a VP8 frame of `frame_bytes` every 40 ms
    /// and an Opus frame every 20 ms, each stamped, counted in `sent`.
    async fn publish(
        mut self,
        frame_bytes: usize,
        epoch: Instant,
        sent: Arc<Sent>,
        mut stop: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let mut buf = vec![0; 2000];
        let (mut connected, mut keyframe_asked) = (false, false);
        let (mut next_video, mut next_audio) = (Instant::now(), Instant::now());
        loop {
            let (events, mut until) = self.flush().await?;
            for event in events {
                match event {
                    Event::Connected => {
                        connected = true;
                        (next_video, next_audio) = (Instant::now(), Instant::now());
                    }
                    Event::KeyframeRequest(_) => keyframe_asked = true,
                    _ => {}
                }
            }
            if connected {
                until = until.min(next_video).min(next_audio);
            }
            if !self.step(until, &mut buf, &mut stop).await? {
                return Ok(());
            }
            let now = Instant::now();
            if connected && now >= next_video {
                let seq = sent.video.load(Ordering::Relaxed);
                let key = seq.is_multiple_of(KEYFRAME_EVERY) || std::mem::take(&mut keyframe_asked);
                let header: &[u8] = if key { &KEY_HEADER } else { &INTER_HEADER };
                let time = MediaTime::new(seq * 3600, Frequency::NINETY_KHZ);
                let frame = stamped(header, seq, epoch, frame_bytes);
                self.write(self.video, time, frame)?;
                sent.video.fetch_add(1, Ordering::Relaxed);
                next_video += VIDEO_EVERY;
            }
            if connected && now >= next_audio {
                let seq = sent.audio.load(Ordering::Relaxed);
                let time = MediaTime::new(seq * 960, Frequency::FORTY_EIGHT_KHZ);
                self.write(self.audio, time, stamped(&[], seq, epoch, AUDIO_BYTES))?;
                sent.audio.fetch_add(1, Ordering::Relaxed);
                next_audio += AUDIO_EVERY;
            }
        }
    }

    fn write(&mut self, mid: Mid, time: MediaTime, frame: Vec<u8>) -> anyhow::Result<()> {
        let writer = self.rtc.writer(mid).context("no writer for the m-line")?;
        let pt = writer
            .payload_params()
            .next()
            .context("no codec negotiated")?
            .pt();
        writer.write(pt, Instant::now().into_std(), time, frame)?;
        Ok(())
    }

    /// Receives until stopped or failed; counts itself in `receiving` at its first video
    /// frame.
    async fn watch(
        mut self,
        epoch: Instant,
        receiving: Arc<AtomicUsize>,
        stop: watch::Receiver<bool>,
    ) -> Received {
        let mut received = Received::default();
        if let Err(e) = self.receive(epoch, &receiving, stop, &mut received).await {
            progress(&format!("a subscriber failed: {e:#}"));
            received.failed = true;
        }
        received
    }

    async fn receive(
        &mut self,
        epoch: Instant,
        receiving: &AtomicUsize,
        mut stop: watch::Receiver<bool>,
        received: &mut Received,
    ) -> anyhow::Result<()> {
        let mut buf = vec![0; 2000];
        let epoch = epoch.into_std();
        loop {
            let (events, until) = self.flush().await?;
            for event in events {
                let Event::MediaData(data) = event else {
                    continue;
                };
                let video = data.mid == self.video;
                // A VP8 keyframe's header is 10 bytes, an inter frame's 3; audio has none.
                let skip = match data.data.first() {
                    _ if !video => 0,
                    Some(tag) if tag & 1 == 0 => KEY_HEADER.len(),
                    _ => INTER_HEADER.len(),
                };
                let Some((seq, sent_ns)) = read_stamp(data.data.get(skip..).unwrap_or_default())
                else {
                    continue;
                };
                let arrived = data.network_time.saturating_duration_since(epoch);
                let latency = arrived.saturating_sub(Duration::from_nanos(sent_ns));
                if video {
                    if received.video.is_empty() {
                        receiving.fetch_add(1, Ordering::Relaxed);
                    }
                    received.video.push((seq, latency));
                } else {
                    received.audio.push((seq, latency));
                }
            }
            if !self.step(until, &mut buf, &mut stop).await? {
                return Ok(());
            }
        }
    }
}

/// `header`, then the stamp, padded to `size` bytes.
fn stamped(header: &[u8], seq: u64, epoch: Instant, size: usize) -> Vec<u8> {
    let sent_ns = epoch.elapsed().as_nanos() as u64;
    let mut frame = header.to_vec();
    frame.extend(seq.to_le_bytes());
    frame.extend(sent_ns.to_le_bytes());
    frame.resize(size.max(frame.len()), 0);
    frame
}

fn read_stamp(data: &[u8]) -> Option<(u64, u64)> {
    let stamp = data.get(..STAMP)?;
    let seq = u64::from_le_bytes(stamp[..8].try_into().ok()?);
    let sent_ns = u64::from_le_bytes(stamp[8..].try_into().ok()?);
    Some((seq, sent_ns))
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
