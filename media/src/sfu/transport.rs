//! One WebRTC transport (a str0m `Rtc`) as the forwarding task holds it, and what polling
//! it asks of the others: media to copy to subscribers, keyframes to ask publishers for.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use str0m::bwe::{Bitrate, BweKind};
use str0m::channel::ChannelId;
use str0m::media::{KeyframeRequestKind, MediaData, MediaKind, Mid, Pt, Rid};
use str0m::net::{Protocol, Transmit};
use str0m::stats::{MediaEgressStats, MediaIngressStats};
use str0m::{Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::batch::Datagrams;
use super::layers::{LayerRates, Watching};
use super::{kind_label, track_label, way, Member, Side};
use crate::metrics::MediaMetrics;
use crate::recording::Recorder;

pub(super) struct Transport {
    pub(super) member: Member,
    pub(super) side: Side,
    pub(super) rtc: Rtc,
    /// When str0m next wants `Input::Timeout`.
    pub(super) timeout: Instant,
    /// Its media lines by kind, as negotiated (a publisher's incoming, a subscriber's
    /// outgoing).
    pub(super) mids: Vec<(Mid, MediaKind)>,
    /// A publisher's stream id; a subscriber's publisher transport.
    pub(super) stream_id: String,
    pub(super) publisher: Option<u64>,
    /// A publisher's simulcast layers (rids) in the order its offer lists them, and
    /// their bitrates.
    pub(super) layers: Vec<Rid>,
    pub(super) rates: LayerRates,
    /// The layer a subscriber watches of a simulcast stream.
    pub(super) watching: Watching,
    /// A subscriber's payload type for each of its publisher's, `None` where it offered
    /// no codec that matches.
    pub(super) payload_types: Vec<(Pt, Option<Pt>)>,
    /// When a publisher was last asked for a keyframe of each layer.
    pub(super) keyframe_requests: HashMap<Option<Rid>, Instant>,
    /// A publisher's stream being recorded (RTC-07).
    pub(super) recorder: Option<Recorder>,
    /// The data channel its client opened, where the room's speakers are told.
    pub(super) channel: Option<ChannelId>,
    /// A publisher's media lines: the wallclock its last frame was written with.
    wallclocks: HashMap<Mid, Instant>,
    /// What str0m's stats of each media line (and layer) have reported so far: they are
    /// running totals, and the metrics count what is new.
    reported: HashMap<(Mid, Option<Rid>), Reported>,
}

#[derive(Default)]
struct Reported {
    nacks: u64,
    lost: u64,
}

/// How much a running total grew since `last`, which it then becomes. A total that went
/// down (a receiver report's loss count shrinks when retransmissions arrive) counts
/// nothing until it passes its old height.
fn growth(last: &mut u64, total: u64) -> u64 {
    let grown = total.saturating_sub(*last);
    *last = (*last).max(total);
    grown
}

/// What polling one transport asks of the others.
pub(super) enum Work {
    Media(u64, Box<MediaData>),
    /// A subscriber's bandwidth estimate changed.
    Estimate(u64, Bitrate),
    /// Ask `publisher` for a keyframe of the layer `watcher` watches, or of `layer`.
    Keyframe {
        publisher: u64,
        kind: KeyframeRequestKind,
        watcher: Option<u64>,
        layer: Option<Rid>,
    },
    /// The transport's client opened its data channel.
    ChannelOpened(u64),
}

/// Where transports' packets leave: the UDP socket's queue (sent in batches), or the
/// ICE-TCP connection of the client they go to.
pub(super) struct Outbound<'a> {
    pub(super) udp: &'a mut Datagrams,
    pub(super) socket: &'a UdpSocket,
    pub(super) tcp: &'a HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
}

impl Outbound<'_> {
    /// Queues a UDP datagram; writes to a TCP connection without waiting, where a full
    /// queue loses the packet, as the network could (NACK and keyframe requests repair it).
    fn send(&mut self, t: Transmit) {
        match t.proto {
            Protocol::Udp => self.udp.push(self.socket, t.destination, t.contents.into()),
            _ => {
                let framed = super::tcp::frame(&t.contents);
                if let (Some(out), Some(framed)) = (self.tcp.get(&t.destination), framed) {
                    let _ = out.try_send(framed);
                }
            }
        }
    }
}

impl Transport {
    pub(super) fn new(member: Member, side: Side, rtc: Rtc, now: Instant) -> Self {
        Self {
            member,
            side,
            rtc,
            timeout: now,
            mids: Vec::new(),
            stream_id: String::new(),
            publisher: None,
            layers: Vec::new(),
            rates: LayerRates::default(),
            watching: Watching::default(),
            payload_types: Vec::new(),
            keyframe_requests: HashMap::new(),
            recorder: None,
            channel: None,
            wallclocks: HashMap::new(),
            reported: HashMap::new(),
        }
    }

    /// The wallclock to write a publisher's frame of `mid` to subscribers with: when it
    /// `arrived`, but never before the line's previous frame. str0m queues what it sends
    /// by wallclock, and a frame repaired by retransmission arrives after its successor:
    /// at its own arrival time it would be sent after it, out of order.
    pub(super) fn wallclock(&mut self, mid: Mid, arrived: Instant) -> Instant {
        let last = self.wallclocks.entry(mid).or_insert(arrived);
        *last = (*last).max(arrived);
        *last
    }

    /// Gives str0m its timeout: what was written is packetized, RTCP and ICE keep time.
    pub(super) fn handle_timeout(&mut self, now: Instant) {
        if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
            tracing::debug!(error = %e, "transport failed");
            self.rtc.disconnect();
        }
    }

    pub(super) fn poll(
        &mut self,
        id: u64,
        out: &mut Outbound<'_>,
        work: &mut Vec<Work>,
        metrics: &MediaMetrics,
    ) {
        while self.rtc.is_alive() {
            let output = match self.rtc.poll_output() {
                Ok(output) => output,
                Err(e) => {
                    tracing::debug!(error = %e, "transport failed");
                    self.rtc.disconnect();
                    return;
                }
            };
            match output {
                Output::Timeout(at) => {
                    self.timeout = at;
                    return;
                }
                Output::Transmit(t) => out.send(t),
                Output::Event(event) => self.event(id, event, work, metrics),
            }
        }
    }

    fn event(&mut self, id: u64, event: Event, work: &mut Vec<Work>, metrics: &MediaMetrics) {
        match event {
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.rtc.disconnect();
            }
            Event::MediaAdded(added) => {
                self.mids.push((added.mid, added.kind));
                metrics
                    .tracks
                    .with(&track_label(self.side, added.kind))
                    .inc();
                // A publisher's simulcast layers, as its offer lists them (str0m gives
                // them from our side: what we receive).
                if self.side == Side::Publish {
                    let layers = added.simulcast.map(|s| s.recv).unwrap_or_default();
                    self.layers
                        .extend(layers.into_iter().map(|layer| layer.rid));
                }
            }
            // A new subscriber needs a keyframe to start decoding.
            Event::Connected => {
                if let Some(publisher) = self.publisher {
                    work.push(Work::Keyframe {
                        publisher,
                        kind: KeyframeRequestKind::Pli,
                        watcher: Some(id),
                        layer: None,
                    });
                }
            }
            Event::MediaData(data) if self.side == Side::Publish => {
                metrics
                    .received_bytes
                    .with(&kind_label(data.params.spec().codec.is_audio()))
                    .inc_by(data.data.len() as u64);
                if !data.contiguous {
                    work.push(Work::Keyframe {
                        publisher: id,
                        kind: KeyframeRequestKind::Fir,
                        watcher: None,
                        layer: data.rid,
                    });
                }
                work.push(Work::Media(id, Box::new(data)));
            }
            Event::EgressBitrateEstimate(BweKind::Twcc { estimate, .. })
                if self.side == Side::Subscribe =>
            {
                work.push(Work::Estimate(id, estimate));
            }
            Event::MediaIngressStats(stats) => self.ingress_stats(&stats, metrics),
            Event::MediaEgressStats(stats) => self.egress_stats(&stats, metrics),
            Event::ChannelOpen(channel, _) => {
                self.channel = Some(channel);
                work.push(Work::ChannelOpened(id));
            }
            Event::ChannelClose(channel) if self.channel == Some(channel) => self.channel = None,
            Event::KeyframeRequest(request) => {
                if let Some(publisher) = self.publisher {
                    work.push(Work::Keyframe {
                        publisher,
                        kind: request.kind,
                        watcher: Some(id),
                        layer: None,
                    });
                }
            }
            _ => {}
        }
    }

    /// A publisher's line: the NACKs str0m sent it for packets lost on the way in.
    fn ingress_stats(&mut self, stats: &MediaIngressStats, metrics: &MediaMetrics) {
        let reported = self.reported.entry((stats.mid, stats.rid)).or_default();
        let nacks = growth(&mut reported.nacks, stats.nacks);
        metrics.nacks.with(&way(self.side)).inc_by(nacks);
    }

    /// A subscriber's line: the NACKs it sent, and the loss its receiver reports tell.
    fn egress_stats(&mut self, stats: &MediaEgressStats, metrics: &MediaMetrics) {
        let reported = self.reported.entry((stats.mid, stats.rid)).or_default();
        let nacks = growth(&mut reported.nacks, stats.nacks);
        metrics.nacks.with(&way(self.side)).inc_by(nacks);
        if let Some(remote) = &stats.remote {
            let lost = growth(&mut reported.lost, remote.packets_lost);
            metrics.packets_lost.inc_by(lost);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::growth;

    #[test]
    fn a_running_total_counts_only_its_new_height() {
        let mut last = 0;
        assert_eq!(growth(&mut last, 5), 5);
        assert_eq!(growth(&mut last, 5), 0);
        // Repaired packets take a receiver report's loss count down, then it climbs again.
        assert_eq!(growth(&mut last, 3), 0);
        assert_eq!(growth(&mut last, 4), 0);
        assert_eq!(growth(&mut last, 9), 4);
    }
}
