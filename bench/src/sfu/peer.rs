//! The bench's WebRTC client: a str0m `Rtc` on a UDP socket of its own, publishing a
//! synthetic VP8 + Opus stream or watching one. Every frame carries its sequence number
//! and send time, so a watcher counts what it lost and how long each frame took.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{progress, ANSWER_WAIT};

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

/// Frames the publisher has written so far: (video, audio).
#[derive(Default)]
pub(super) struct Sent {
    pub(super) video: AtomicU64,
    pub(super) audio: AtomicU64,
}

impl Sent {
    pub(super) fn snapshot(&self) -> (u64, u64) {
        (
            self.video.load(Ordering::Relaxed),
            self.audio.load(Ordering::Relaxed),
        )
    }
}

/// What one subscriber got: (sequence number, latency) of each frame, and whether its
/// transport failed (str0m gave up, e.g. on a DTLS handshake timeout).
#[derive(Default)]
pub(super) struct Received {
    pub(super) failed: bool,
    pub(super) video: Vec<(u64, Duration)>,
    pub(super) audio: Vec<(u64, Duration)>,
}

/// A str0m client on its own UDP socket, with one video (VP8) and one audio (Opus) m-line.
pub(super) struct Peer {
    rtc: Rtc,
    socket: UdpSocket,
    /// The m-lines it offered (a publisher writes to them); none when it answered.
    mids: Option<(Mid, Mid)>,
}

impl Peer {
    /// A client on a socket of its own at `ip` that takes VP8 and Opus.
    async fn client(ip: IpAddr) -> anyhow::Result<(Rtc, UdpSocket)> {
        let socket = UdpSocket::bind((ip, 0)).await?;
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_vp8(true)
            .enable_opus(true, false)
            .build(Instant::now().into_std());
        rtc.add_local_candidate(Candidate::host(socket.local_addr()?, "udp")?);
        Ok((rtc, socket))
    }

    /// Offers a video and an audio m-line in `direction` from `ip`; `answer` is asked the
    /// server's answer to the offer's SDP.
    pub(super) async fn offer<F>(
        ip: IpAddr,
        direction: Direction,
        answer: F,
    ) -> anyhow::Result<Self>
    where
        F: AsyncFnOnce(String) -> anyhow::Result<String>,
    {
        let (mut rtc, socket) = Self::client(ip).await?;
        let mut change = rtc.sdp_api();
        let video = change.add_media(MediaKind::Video, direction, None, None, None);
        let audio = change.add_media(MediaKind::Audio, direction, None, None, None);
        let (offer, pending) = change.apply().context("an offer with no m-lines")?;
        let answer = SdpAnswer::from_sdp_string(&answer(offer.to_sdp_string()).await?)?;
        rtc.sdp_api().accept_answer(pending, answer)?;
        Ok(Self {
            rtc,
            socket,
            mids: Some((video, audio)),
        })
    }

    /// Offers to a WHIP or WHEP `url` and applies the server's answer.
    pub(super) async fn offer_to(
        url: &str,
        token: &str,
        direction: Direction,
    ) -> anyhow::Result<Self> {
        Self::offer(
            Ipv4Addr::LOCALHOST.into(),
            direction,
            async |offer: String| {
                let answer = meridian_rpc::http::request_with_body(
                    "POST",
                    url,
                    Some(token),
                    Some(("application/sdp", offer.as_bytes())),
                    ANSWER_WAIT,
                )
                .await?;
                if answer.status != 201 {
                    bail!("{url} answered {}: {}", answer.status, answer.text());
                }
                Ok(answer.text())
            },
        )
        .await
    }

    /// Answers a server's offer to send to it, from `ip`; answers the client and its SDP
    /// answer.
    pub(super) async fn answer(ip: IpAddr, offer: &str) -> anyhow::Result<(Self, String)> {
        let (mut rtc, socket) = Self::client(ip).await?;
        let answer = rtc
            .sdp_api()
            .accept_offer(SdpOffer::from_sdp_string(offer)?)?;
        let peer = Self {
            rtc,
            socket,
            mids: None,
        };
        Ok((peer, answer.to_sdp_string()))
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
    pub(super) async fn publish(
        mut self,
        frame_bytes: usize,
        epoch: Instant,
        sent: Arc<Sent>,
        mut stop: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let (video, audio) = self.mids.context("only an offering client publishes")?;
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
                self.write(video, time, frame)?;
                sent.video.fetch_add(1, Ordering::Relaxed);
                next_video += VIDEO_EVERY;
            }
            if connected && now >= next_audio {
                let seq = sent.audio.load(Ordering::Relaxed);
                let time = MediaTime::new(seq * 960, Frequency::FORTY_EIGHT_KHZ);
                self.write(audio, time, stamped(&[], seq, epoch, AUDIO_BYTES))?;
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
    pub(super) async fn watch(
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
                let video = data.params.spec().codec.is_video();
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
