//! The media server ([sfu], RTC-05) with a WebRTC client that is not a browser: str0m
//! itself, as an ingest tool or a player would use it, publishes over WHIP and another
//! watches over WHEP, each over a lossy path. Frames arrive whole and in order; the
//! server asks the publisher again for what it lost, answers the player's requests, and
//! its metrics count both, with the player's reported loss. Each video codec str0m
//! carries besides VP8 (which the browsers of tests/media.rs send), H.264, H.265, VP9 and
//! AV1, reaches a player that offers only it.
// covers: RTC-05

mod common;

use std::time::Duration;

use common::rtc::{media_metric, Member};
use common::{binary, Api};
use meridian_proto::rtc::{Role, RoomKind};
use meridian_testkit::DevDeployment;
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use tokio::net::UdpSocket;

/// A path that loses every `every`th RTP packet of the media; with `keeps_lost`, every
/// retransmission too, so a loss stays lost and the receiver's reports count it.
struct Loss {
    every: u32,
    keeps_lost: bool,
    seen: u32,
}

impl Loss {
    fn new(every: u32, keeps_lost: bool) -> Self {
        Self {
            every,
            keeps_lost,
            seen: 0,
        }
    }

    /// Whether `datagram` is lost; `resend` are the payload types of retransmissions.
    fn loses(&mut self, datagram: &[u8], resend: &[u8]) -> bool {
        // RTP: version 2, and not RTCP, whose packet types (200–206) take the place of
        // RTP's marker bit and payload type. STUN and DTLS start with other bits.
        let rtp = datagram.len() >= 12 && datagram[0] >> 6 == 2;
        if !rtp || (200..=206).contains(&datagram[1]) {
            return false;
        }
        if resend.contains(&(datagram[1] & 0x7f)) {
            return self.keeps_lost;
        }
        self.seen += 1;
        self.seen.is_multiple_of(self.every)
    }
}

/// A str0m client over WHIP/WHEP (full ICE, one video line), on a path that may lose
/// packets once it is connected.
struct Client {
    rtc: Rtc,
    socket: UdpSocket,
    mid: Mid,
    loss: Option<Loss>,
    connected: bool,
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

impl Client {
    async fn offer(
        url: &str,
        token: &str,
        direction: Direction,
        video: Video,
        loss: Option<Loss>,
    ) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut rtc = video.config().build(now());
        rtc.add_local_candidate(Candidate::host(socket.local_addr().unwrap(), "udp").unwrap());
        let mut change = rtc.sdp_api();
        let mid = change.add_media(MediaKind::Video, direction, None, None, None);
        let (offer, pending): (_, SdpPendingOffer) = change.apply().unwrap();
        let headers = [
            ("Content-Type".to_string(), "application/sdp".to_string()),
            ("Authorization".to_string(), format!("Bearer {token}")),
        ];
        let answer =
            meridian_testkit::raw_http(url, "POST", &headers, offer.to_sdp_string().as_bytes())
                .await;
        assert_eq!(answer.status, 201, "{}", answer.text());
        let answer = SdpAnswer::from_sdp_string(&answer.text()).unwrap();
        rtc.sdp_api().accept_answer(pending, answer).unwrap();
        Self {
            rtc,
            socket,
            mid,
            loss,
            connected: false,
        }
    }

    /// Whether the path loses `datagram` (only once connected: the handshake gets through).
    fn loses(&mut self, datagram: &[u8]) -> bool {
        let Some(loss) = self.loss.as_mut().filter(|_| self.connected) else {
            return false;
        };
        let resend: Vec<u8> = self
            .rtc
            .codec_config()
            .params()
            .iter()
            .filter_map(|p| p.resend())
            .map(|pt| *pt)
            .collect();
        loss.loses(datagram, &resend)
    }

    /// Sends what str0m has to send and answers its events, until it waits for time.
    async fn drain(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        loop {
            match self.rtc.poll_output().unwrap() {
                Output::Timeout(_) => return events,
                Output::Transmit(t) => {
                    if !self.loses(&t.contents) {
                        let _ = self.socket.send_to(&t.contents, t.destination).await;
                    }
                }
                Output::Event(event) => {
                    self.connected |= matches!(event, Event::Connected);
                    events.push(event);
                }
            }
        }
    }

    /// Takes what arrives within a few milliseconds and moves str0m's clock.
    async fn receive(&mut self) {
        let mut buf = vec![0u8; 2000];
        let local = self.socket.local_addr().unwrap();
        let wait = tokio::time::timeout(Duration::from_millis(5), self.socket.recv_from(&mut buf));
        if let Ok(Ok((n, source))) = wait.await {
            if !self.loses(&buf[..n]) {
                let receive = Receive {
                    proto: Protocol::Udp,
                    source,
                    destination: local,
                    contents: buf[..n].try_into().unwrap(),
                };
                self.rtc
                    .handle_input(Input::Receive(now(), receive))
                    .unwrap();
            }
        }
        self.rtc.handle_input(Input::Timeout(now())).unwrap();
    }
}

/// The video codec a client offers: every one str0m has (as browsers offer several), or
/// one alone.
#[derive(Debug, Clone, Copy)]
enum Video {
    Any,
    H264,
    H265,
    Vp9,
    Av1,
}

impl Video {
    fn config(self) -> RtcConfig {
        let only = Rtc::builder().clear_codecs();
        match self {
            Video::Any => Rtc::builder(),
            Video::H264 => only.enable_h264(true),
            Video::H265 => only.enable_h265(true),
            Video::Vp9 => only.enable_vp9(true),
            Video::Av1 => only.enable_av1(true),
        }
    }

    /// Frame `n` as the codec's packetizer takes it: a NAL unit of a keyframe's slice
    /// (H.264, H.265), an OBU of a frame (AV1), or bytes as they are (VP8, VP9), each
    /// carrying its number as text.
    fn frame(self, n: u32) -> Vec<u8> {
        let header: &[u8] = match self {
            Video::Any | Video::Vp9 => &[],
            Video::H264 => &[0, 0, 0, 1, 0x65],
            Video::H265 => &[0, 0, 0, 1, 0x26, 0x01],
            Video::Av1 => &[0x30],
        };
        let mut frame = header.to_vec();
        frame.extend(format!("frame {n:05} ").repeat(20).into_bytes());
        frame
    }
}

/// The number a received frame carries (after whatever the depacketizer put before it).
fn frame_number(frame: &[u8]) -> u32 {
    let at = frame
        .windows(6)
        .position(|w| w == b"frame ")
        .unwrap_or_else(|| panic!("no number in {frame:?}"));
    let digits = std::str::from_utf8(&frame[at + 6..at + 11]).unwrap();
    digits.parse().unwrap()
}

/// A host publishing `stream` over WHIP from str0m and an audience member watching it
/// over WHEP, driven together.
struct Stream {
    video: Video,
    publisher: Client,
    player: Client,
    connected: Option<tokio::time::Instant>,
    sent: u32,
    received: Vec<Vec<u8>>,
}

impl Stream {
    async fn open(
        api: &Api,
        media: &str,
        stream: &str,
        video: Video,
        (publishing, playing): (Option<Loss>, Option<Loss>),
    ) -> Self {
        let publisher = Client::offer(
            &format!("{media}/whip/tv/{stream}"),
            &api.token("studio").await,
            Direction::SendOnly,
            video,
            publishing,
        )
        .await;
        let player = Client::offer(
            &format!("{media}/whep/tv/studio/{stream}"),
            &api.token("viewer").await,
            Direction::RecvOnly,
            video,
            playing,
        )
        .await;
        Self {
            video,
            publisher,
            player,
            connected: None,
            sent: 0,
            received: Vec::new(),
        }
    }

    /// One turn: what each side has to send and its events, a frame when one is due (every
    /// ~30 ms once the publisher is connected), then what arrives within a few ms.
    async fn step(&mut self) {
        let events = self.publisher.drain().await;
        if events.iter().any(|e| matches!(e, Event::Connected)) {
            self.connected = Some(tokio::time::Instant::now());
        }
        for event in self.player.drain().await {
            if let Event::MediaData(data) = event {
                self.received.push(data.data.to_vec());
            }
        }
        let due = self
            .connected
            .map(|at| at + Duration::from_millis(30 * u64::from(self.sent)));
        if due.is_some_and(|due| tokio::time::Instant::now() >= due) {
            let writer = self.publisher.rtc.writer(self.publisher.mid).unwrap();
            let pt = writer.payload_params().next().unwrap().pt();
            let time = MediaTime::from_seconds(f64::from(self.sent) / 30.0);
            writer
                .write(pt, now(), time, self.video.frame(self.sent))
                .unwrap();
            self.sent += 1;
        }
        self.publisher.receive().await;
        self.player.receive().await;
    }

    /// The numbers of the frames the player got, checked to be in the order sent.
    fn numbers_in_order(&self) -> Vec<u32> {
        let numbers: Vec<u32> = self.received.iter().map(|f| frame_number(f)).collect();
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
        numbers
    }
}

/// A live room `tv` with host `studio` and audience member `viewer`; the media server's URL.
async fn live_room(dev: &DevDeployment, api: &Api) -> (Member, Member, String) {
    let mut host = Member::connect(&dev.ws("SG"), api, "studio").await;
    host.join("tv", RoomKind::Live, Role::Host).await.unwrap();
    let mut fan = Member::connect(&dev.ws("SG"), api, "viewer").await;
    fan.join("tv", RoomKind::Live, Role::Audience)
        .await
        .unwrap();
    let media = host.media_server.clone();
    (host, fan, media)
}

/// The media server's NACKs each way and the loss subscribers reported.
async fn repair_counts(dev: &DevDeployment) -> (f64, f64, f64) {
    (
        media_metric(dev, "meridian_media_nacks_total{way=\"publish\"}").await,
        media_metric(dev, "meridian_media_nacks_total{way=\"subscribe\"}").await,
        media_metric(dev, "meridian_media_packets_lost_total").await,
    )
}

#[tokio::test]
async fn a_non_browser_client_publishes_over_whip_and_another_watches_over_whep_on_lossy_paths() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "dev");
    let (_host, _fan, media) = live_room(&dev, &api).await;
    // The publisher's path loses a packet in ten, which retransmission repairs; the
    // player's loses one in ten for good.
    let losses = (Some(Loss::new(10, false)), Some(Loss::new(10, true)));
    let mut stream = Stream::open(&api, &media, "cam", Video::Any, losses).await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut counts = (0.0, 0.0, 0.0);
    let mut next_look = tokio::time::Instant::now();
    // Until the player has 40 frames and the server has counted repairs each way.
    while stream.received.len() < 40 || counts.0 == 0.0 || counts.1 == 0.0 || counts.2 == 0.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the player got {} of {} frames; NACKs to the publisher, from the player, \
             packets the player lost: {counts:?}",
            stream.received.len(),
            stream.sent
        );
        stream.step().await;
        if tokio::time::Instant::now() >= next_look {
            counts = repair_counts(&dev).await;
            next_look = tokio::time::Instant::now() + Duration::from_millis(250);
        }
    }
    // Frames arrive whole and in order, those repaired too (str0m sends by wallclock, and
    // a repaired frame arrives after its successor); those lost for good are missing.
    let numbers = stream.numbers_in_order();
    assert_eq!(stream.received[0], Video::Any.frame(numbers[0]));
    eprintln!(
        "{} of {} frames arrived; NACKs to the publisher, from the player, packets the \
         player lost: {counts:?}",
        numbers.len(),
        stream.sent
    );
    // What came in is counted by kind, and each transport's one video line.
    assert!(media_metric(&dev, "meridian_media_received_bytes_total{kind=\"video\"}").await > 0.0);
    // Each frame left in the round of the event loop that forwarded it, where its copy
    // is timed from the read of the packet that completed it.
    let copies = media_metric(&dev, "meridian_media_copy_delay_seconds_count").await;
    assert!(
        copies >= numbers.len() as f64,
        "{copies} copies timed for {} frames",
        numbers.len()
    );
    for way in ["publish", "subscribe"] {
        let tracks = format!("meridian_media_tracks{{kind=\"video\",way=\"{way}\"}}");
        assert_eq!(media_metric(&dev, &tracks).await, 1.0, "{tracks}");
    }
}

#[tokio::test]
async fn h264_h265_vp9_and_av1_each_reach_a_player_that_offers_only_that_codec() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "dev");
    let (_host, _fan, media) = live_room(&dev, &api).await;
    for video in [Video::H264, Video::H265, Video::Vp9, Video::Av1] {
        let id = format!("{video:?}").to_lowercase();
        let mut stream = Stream::open(&api, &media, &id, video, (None, None)).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while stream.received.len() < 20 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{video:?}: the player got {} of {} frames",
                stream.received.len(),
                stream.sent
            );
            stream.step().await;
        }
        // Every frame from the first the player got (it may have connected after the
        // publisher began), in order, its number and text intact.
        let numbers = stream.numbers_in_order();
        let first = numbers[0];
        let expected: Vec<u32> = (first..first + numbers.len() as u32).collect();
        assert_eq!(numbers, expected, "{video:?}");
        for (frame, n) in stream.received.iter().zip(numbers) {
            let text = format!("frame {n:05} ").repeat(20).into_bytes();
            assert!(frame.ends_with(&text), "{video:?}: {frame:?}");
        }
    }
}
