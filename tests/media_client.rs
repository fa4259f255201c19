//! The media server ([sfu], RTC-05) with a WebRTC client that is not a browser: str0m
//! itself, as an ingest tool or a player would use it, publishes over WHIP and another
//! watches over WHEP, each over a lossy path. Frames arrive whole and in order; the
//! server asks the publisher again for what it lost, answers the player's requests, and
//! its metrics count both, with the player's reported loss.
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
use str0m::{Candidate, Event, Input, Output, Rtc};
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
    async fn offer(url: &str, token: &str, direction: Direction, loss: Option<Loss>) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut rtc = Rtc::builder().build(now());
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
        let resend: Vec<u8> = self
            .rtc
            .codec_config()
            .params()
            .iter()
            .filter_map(|p| p.resend())
            .map(|pt| *pt)
            .collect();
        match &mut self.loss {
            Some(loss) if self.connected => loss.loses(datagram, &resend),
            _ => false,
        }
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
    let mut host = Member::connect(&dev.ws("SG"), &api, "studio").await;
    host.join("tv", RoomKind::Live, Role::Host).await.unwrap();
    let mut fan = Member::connect(&dev.ws("SG"), &api, "viewer").await;
    fan.join("tv", RoomKind::Live, Role::Audience)
        .await
        .unwrap();
    let media = host.media_server.clone();
    // The publisher's path loses a packet in ten, which retransmission repairs; the
    // player's loses one in ten for good.
    let mut publisher = Client::offer(
        &format!("{media}/whip/tv/cam"),
        &api.token("studio").await,
        Direction::SendOnly,
        Some(Loss::new(10, false)),
    )
    .await;
    let mut player = Client::offer(
        &format!("{media}/whep/tv/studio/cam"),
        &api.token("viewer").await,
        Direction::RecvOnly,
        Some(Loss::new(10, true)),
    )
    .await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let (mut connected, mut sent, mut received) = (None, 0u32, Vec::new());
    let mut counts = (0.0, 0.0, 0.0);
    let mut next_look = tokio::time::Instant::now();
    // Until the player has 40 frames and the server has counted repairs each way.
    while received.len() < 40 || counts.0 == 0.0 || counts.1 == 0.0 || counts.2 == 0.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the player got {} of {sent} frames; NACKs to the publisher, from the player, \
             packets the player lost: {counts:?}",
            received.len()
        );
        if publisher
            .drain()
            .await
            .iter()
            .any(|e| matches!(e, Event::Connected))
        {
            connected = Some(tokio::time::Instant::now());
        }
        for event in player.drain().await {
            if let Event::MediaData(data) = event {
                received.push(data.data.to_vec());
            }
        }
        // A frame every ~30 ms once connected (the payload is opaque to the SFU).
        let due = connected.map(|at| at + Duration::from_millis(30 * u64::from(sent)));
        if due.is_some_and(|due| tokio::time::Instant::now() >= due) {
            let writer = publisher.rtc.writer(publisher.mid).unwrap();
            let pt = writer.payload_params().next().unwrap().pt();
            let frame = format!("frame {sent:05} ").repeat(20).into_bytes();
            let time = MediaTime::from_seconds(f64::from(sent) / 30.0);
            writer.write(pt, now(), time, frame).unwrap();
            sent += 1;
        }
        publisher.receive().await;
        player.receive().await;
        if tokio::time::Instant::now() >= next_look {
            counts = repair_counts(&dev).await;
            next_look = tokio::time::Instant::now() + Duration::from_millis(250);
        }
    }
    // Frames arrive whole and in order, those repaired too (str0m sends by wallclock, and
    // a repaired frame arrives after its successor); those lost for good are missing.
    assert!(
        received[0].starts_with(b"frame "),
        "{:?}",
        &received[0][..12]
    );
    let numbers: Vec<u32> = received
        .iter()
        .map(|f| std::str::from_utf8(&f[6..11]).unwrap().parse().unwrap())
        .collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    eprintln!(
        "{} of {sent} frames arrived; NACKs to the publisher, from the player, packets the \
         player lost: {counts:?}",
        received.len()
    );
    // What came in is counted by kind, and each transport's one video line.
    assert!(media_metric(&dev, "meridian_media_received_bytes_total{kind=\"video\"}").await > 0.0);
    for way in ["publish", "subscribe"] {
        let tracks = format!("meridian_media_tracks{{kind=\"video\",way=\"{way}\"}}");
        assert_eq!(media_metric(&dev, &tracks).await, 1.0, "{tracks}");
    }
}
