//! The forwarding core: one task, on a thread of its own, owns every WebRTC transport (a str0m `Rtc`, sans-IO),
//! the one UDP socket they share and the ICE-TCP connections ([`tcp`]) of clients whose
//! network blocks UDP. It demultiplexes each packet to the transport that accepts it, drives str0m's timers, and copies each publisher's media to its
//! subscribers. Signalling reaches it as [`Command`]s, so no lock is held on the media path.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::bwe::Bitrate;
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::config::DtlsCert;
use str0m::media::{KeyframeRequestKind, MediaData, MediaKind, Rid};
use str0m::net::{Protocol, Receive};
use str0m::Input;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};

use crate::metrics::{Kind, MediaMetrics, Track, Way};
use crate::mixing::{MixOrders, Mixing};
use crate::recording::{Orders, Recordings};

mod batch;
mod dtls;
mod layers;
mod offer;
mod speakers;
pub(crate) mod tcp;
mod timers;
mod transport;

use batch::Datagrams;
use layers::{Pass, Watching};
pub use offer::{answer_offer, dtls_certificate, Peer};
use speakers::Speakers;
use tcp::TcpEvent;
use timers::Timers;
use transport::{Outbound, Transport, Work};

/// A publisher is asked for a keyframe at most this often (subscribers joining and
/// losing packets would otherwise flood it with PLIs).
const KEYFRAME_INTERVAL: Duration = Duration::from_millis(500);
/// Rounds of one drive in which a timeout found already due after a poll is handled at
/// once, rather than a turn of the event loop later.
const DUE_ROUNDS: usize = 4;
/// Larger than any datagram WebRTC sends (str0m's MTU is 1150 by default).
const DATAGRAM_BYTES: usize = 2000;

/// The room member a transport belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Member {
    pub app_key: String,
    pub room_id: String,
    pub user_id: String,
}

/// A published stream: its publisher and its id (RTC `streamId`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct StreamKey {
    pub publisher: Member,
    pub stream_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Publish,
    Subscribe,
}

/// An open transport, for the membership check.
pub(crate) struct Open {
    pub id: u64,
    pub member: Member,
    pub side: Side,
    /// The room of the stream it carries: another room's for a member watching its
    /// room's cross-room PK partner (RTC-04).
    pub stream_room: String,
}

/// What signalling asks of the forwarding task.
pub(crate) enum Command {
    /// A WHIP offer: answers the transport's id and the SDP answer. A stream published
    /// again replaces the earlier transport (as `rtcPublish` replaces its descriptor).
    Publish {
        stream: StreamKey,
        offer: SdpOffer,
        reply: oneshot::Sender<Result<(u64, SdpAnswer), Refused>>,
    },
    /// A WHEP offer from `member` for `stream`, for its simulcast layer `layer` (a rid
    /// the publisher sends; without it, the first the publisher listed).
    Subscribe {
        stream: StreamKey,
        member: Member,
        layer: Option<Rid>,
        offer: SdpOffer,
        reply: oneshot::Sender<Result<(u64, SdpAnswer), Refused>>,
    },
    /// Ends a transport (WHIP/WHEP `DELETE`); answers whether it existed.
    Close {
        id: u64,
        reply: oneshot::Sender<bool>,
    },
    /// Every open transport, for the membership check.
    List { reply: oneshot::Sender<Vec<Open>> },
    /// Ends these transports (their members left the room or lost the role).
    Evict { ids: Vec<u64> },
    /// The rooms the area records now (RTC-07).
    Record { orders: Orders },
    /// The rooms the area mixes now (RTC-09).
    Mix { orders: MixOrders },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refused {
    #[error("the stream is not published here")]
    NoStream,
    #[error("the offer cannot be accepted: {0}")]
    BadOffer(String),
}

pub(crate) struct Sfu {
    socket: UdpSocket,
    /// Datagrams polling the transports queued for `socket`.
    datagrams: Datagrams,
    /// The address in our ICE candidate, and what str0m is told datagrams arrive at.
    advertised: SocketAddr,
    /// Presented on every transport ([`dtls_certificate`]).
    certificate: DtlsCert,
    transports: HashMap<u64, Transport>,
    timers: Timers,
    /// Publisher transport → its subscribers' transports.
    subscribers: HashMap<u64, BTreeSet<u64>>,
    streams: HashMap<StreamKey, u64>,
    /// The transport each client address last sent to, so a datagram is not offered to
    /// every transport in turn.
    sources: HashMap<SocketAddr, u64>,
    /// Open ICE-TCP connections by client address: where their packets are written.
    tcp: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    /// Transports given input (a packet, a timeout, media to send, a request) since they
    /// were last polled: only these are polled, so a packet costs one transport's poll
    /// and not every transport's.
    dirty: HashSet<u64>,
    metrics: MediaMetrics,
    /// Where recordings go; `None` when this server has no file store.
    recordings: Option<Arc<Recordings>>,
    orders: Orders,
    /// `None` when this machine's GStreamer cannot mix.
    mixing: Option<Mixing>,
    /// When the packet being handled was read: a frame it completes is forwarded by the
    /// next `drive`, and the time until then is the SFU's added latency.
    received_at: Option<Instant>,
    speakers: Speakers,
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl Sfu {
    pub(crate) fn new(
        socket: UdpSocket,
        advertised: SocketAddr,
        certificate: DtlsCert,
        metrics: MediaMetrics,
        recordings: Option<Arc<Recordings>>,
        mixing: Option<Mixing>,
    ) -> Self {
        Self {
            socket,
            datagrams: Datagrams::new(metrics.copy_delay.clone()),
            advertised,
            certificate,
            transports: HashMap::new(),
            timers: Timers::default(),
            subscribers: HashMap::new(),
            streams: HashMap::new(),
            sources: HashMap::new(),
            tcp: HashMap::new(),
            dirty: HashSet::new(),
            metrics,
            recordings,
            orders: Orders::new(),
            mixing,
            received_at: None,
            speakers: Speakers::default(),
        }
    }

    pub(crate) async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut tcp_events: mpsc::Receiver<TcpEvent>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut buf = vec![0u8; DATAGRAM_BYTES];
        loop {
            let deadline = self.drive();
            let deadline = self
                .speakers
                .due()
                .map_or(deadline, |due| due.min(deadline));
            tokio::select! {
                _ = stop.wait_for(|stop| *stop) => break,
                command = commands.recv() => match command {
                    Some(command) => self.command(command),
                    None => break,
                },
                Some(event) = tcp_events.recv() => self.tcp_event(event),
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((n, source)) => self.receive(&buf[..n], source, Protocol::Udp),
                    // ICMP errors of earlier sends surface here on some systems.
                    Err(e) => tracing::debug!(error = %e, "udp receive"),
                },
                () = tokio::time::sleep_until(deadline.into()) => {}
            }
            let now = now();
            while let Some(id) = self.timers.pop_due(now) {
                if let Some(transport) = self.transports.get_mut(&id) {
                    transport.handle_timeout(now);
                    self.dirty.insert(id);
                }
            }
            if self.speakers.due().is_some_and(|due| due <= now) {
                self.announce_speakers(now);
            }
        }
        for (&id, transport) in self.transports.iter_mut() {
            transport.rtc.disconnect();
            self.dirty.insert(id);
        }
        self.drive();
    }

    fn tcp_event(&mut self, event: TcpEvent) {
        match event {
            TcpEvent::Opened { peer, out } => {
                self.metrics.tcp_connections.inc();
                self.tcp.insert(peer, out);
            }
            TcpEvent::Packet { peer, packet } => self.receive(&packet, peer, Protocol::Tcp),
            TcpEvent::Closed { peer } => {
                self.metrics.tcp_connections.dec();
                self.tcp.remove(&peer);
                self.sources.remove(&peer);
            }
        }
    }

    fn receive(&mut self, datagram: &[u8], source: SocketAddr, proto: Protocol) {
        let Ok(contents) = datagram.try_into() else {
            return;
        };
        let received_at = now();
        self.received_at = Some(received_at);
        let input = Input::Receive(
            received_at,
            Receive {
                proto,
                source,
                destination: self.advertised,
                contents,
            },
        );
        let known = self
            .sources
            .get(&source)
            .filter(|id| {
                self.transports
                    .get(id)
                    .is_some_and(|t| t.rtc.accepts(&input))
            })
            .copied();
        // A datagram before the transport exists (a fast STUN check) is simply dropped:
        // ICE sends it again.
        let Some(id) = known.or_else(|| {
            self.transports
                .iter()
                .find(|(_, t)| t.rtc.accepts(&input))
                .map(|(&id, _)| id)
        }) else {
            return;
        };
        self.sources.insert(source, id);
        if let Some(transport) = self.transports.get_mut(&id) {
            if let Err(e) = transport.rtc.handle_input(input) {
                tracing::debug!(error = %e, "transport failed");
                transport.rtc.disconnect();
            }
            self.dirty.insert(id);
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Publish {
                stream,
                offer,
                reply,
            } => {
                if let Some(old) = self.streams.get(&stream).copied() {
                    self.disconnect(old);
                }
                let answer = self.open(stream.publisher.clone(), Side::Publish, offer, false);
                if let Ok((id, _)) = &answer {
                    if let Some(t) = self.transports.get_mut(id) {
                        t.stream_id = stream.stream_id.clone();
                    }
                    self.streams.insert(stream, *id);
                }
                let _ = reply.send(answer);
            }
            Command::Subscribe {
                stream,
                member,
                layer,
                offer,
                reply,
            } => {
                let Some(publisher) = self.streams.get(&stream).copied() else {
                    let _ = reply.send(Err(Refused::NoStream));
                    return;
                };
                // A subscriber that lets its bandwidth choose among layers gets an
                // estimator (which also paces what is sent to it).
                let adaptive = layer.is_none()
                    && self
                        .transports
                        .get(&publisher)
                        .is_some_and(|p| p.layers.len() > 1);
                let answer = self.open(member, Side::Subscribe, offer, adaptive);
                if let Ok((id, _)) = &answer {
                    if let Some(t) = self.transports.get_mut(id) {
                        t.publisher = Some(publisher);
                        t.watching = Watching::pinned(layer);
                    }
                    self.subscribers.entry(publisher).or_default().insert(*id);
                }
                let _ = reply.send(answer);
            }
            Command::Close { id, reply } => {
                let _ = reply.send(self.disconnect(id));
            }
            Command::List { reply } => {
                let list = self
                    .transports
                    .iter()
                    .map(|(&id, t)| Open {
                        id,
                        member: t.member.clone(),
                        side: t.side,
                        stream_room: t
                            .publisher
                            .and_then(|p| self.transports.get(&p))
                            .unwrap_or(t)
                            .member
                            .room_id
                            .clone(),
                    })
                    .collect();
                let _ = reply.send(list);
            }
            Command::Evict { ids } => {
                for id in ids {
                    if self.disconnect(id) {
                        self.metrics.evictions.inc();
                    }
                }
            }
            Command::Record { orders } => {
                self.orders = orders;
                // Streams of rooms no longer recorded end their files (to be stored).
                for t in self.transports.values_mut() {
                    if self.orders.of(&t.member).is_none() {
                        t.recorder = None;
                    }
                }
            }
            Command::Mix { orders } => {
                if let Some(mixing) = &mut self.mixing {
                    mixing.follow(orders);
                }
            }
        }
    }

    /// A new ICE-lite transport answering `offer`; with `estimate`, it estimates the
    /// bandwidth towards its peer.
    fn open(
        &mut self,
        member: Member,
        side: Side,
        offer: SdpOffer,
        estimate: bool,
    ) -> Result<(u64, SdpAnswer), Refused> {
        let now = now();
        let peer = match side {
            Side::Publish => Peer::Publisher,
            Side::Subscribe => Peer::Subscriber { estimate },
        };
        let (rtc, answer) = answer_offer(offer, self.advertised, &self.certificate, peer, now)
            .map_err(Refused::BadOffer)?;
        // Ids name transports in URLs (`DELETE` ends one): random, so not guessable.
        let mut id = rand::random::<u64>();
        while self.transports.contains_key(&id) {
            id = rand::random();
        }
        self.transports
            .insert(id, Transport::new(member, side, rtc, now));
        self.timers.set(id, now, now);
        self.dirty.insert(id);
        self.metrics.transports.with(&way(side)).inc();
        Ok((id, answer))
    }

    /// Starts closing a transport; it is dropped at the next [`Sfu::drive`].
    fn disconnect(&mut self, id: u64) -> bool {
        match self.transports.get_mut(&id) {
            Some(t) => {
                t.rtc.disconnect();
                self.dirty.insert(id);
                true
            }
            None => false,
        }
    }

    /// Polls every transport given input until each waits for a later time or input,
    /// forwarding what publishers send (which gives their subscribers input); drops
    /// dead transports; answers when to wake next.
    fn drive(&mut self) -> Instant {
        let mut forwarded = false;
        for round in 0.. {
            let polled: Vec<u64> = self.dirty.drain().collect();
            if polled.is_empty() {
                break;
            }
            let now = now();
            // After a frame was written to subscribers, what this round sends is mostly
            // their copies of it.
            let copies_of = self.received_at.filter(|_| forwarded);
            self.datagrams.copies_of(copies_of);
            let mut work = Vec::new();
            let mut out = Outbound {
                udp: &mut self.datagrams,
                socket: &self.socket,
                tcp: &self.tcp,
            };
            for id in &polled {
                if let Some(transport) = self.transports.get_mut(id) {
                    let before = transport.timeout;
                    transport.poll(*id, &mut out, &mut work, &self.metrics);
                    // A timeout already due is handled in this drive (str0m does its
                    // sending work, packetizing included, only in a timeout); the rounds
                    // are bounded in case one stays due.
                    if transport.timeout <= now && round < DUE_ROUNDS {
                        transport.handle_timeout(now);
                        self.dirty.insert(*id);
                    }
                    self.timers.set(*id, before, transport.timeout);
                }
            }
            self.datagrams.flush(&self.socket);
            for item in work {
                match item {
                    Work::Media(publisher, data) => {
                        forwarded = true;
                        self.forward(publisher, &data);
                    }
                    Work::Estimate(subscriber, estimate) => self.adapt(subscriber, estimate),
                    Work::Keyframe {
                        publisher,
                        kind,
                        watcher,
                        layer,
                    } => self.request_keyframe(publisher, kind, watcher, layer),
                    Work::ChannelOpened(id) => self.tell_speakers_to_newcomer(id),
                }
            }
            self.drop_dead(&polled);
        }
        self.datagrams.copies_of(None);
        // Every subscriber's copy has been handed to the socket by now.
        if let (true, Some(at)) = (forwarded, self.received_at.take()) {
            self.metrics
                .forward_delay
                .observe(now().duration_since(at).as_secs_f64());
        }
        self.received_at = None;
        let idle = now() + Duration::from_secs(1);
        self.timers.next().map_or(idle, |t| t.min(idle))
    }

    fn forward(&mut self, publisher: u64, data: &MediaData) {
        let now = now();
        self.record(publisher, data);
        self.mix(publisher, data);
        let Some(source) = self.transports.get_mut(&publisher) else {
            return;
        };
        if let Some(rid) = data.rid {
            source.rates.add(rid, data.data.len(), data.network_time);
        }
        let wallclock = source.wallclock(data.mid, data.network_time);
        let default_layer = source.layers.first().copied();
        let keyframe = data.rid.is_some() && data.is_keyframe();
        let kind = if data.params.spec().codec.is_audio() {
            MediaKind::Audio
        } else {
            MediaKind::Video
        };
        // Heard whether or not anybody watches: members who only publish are told too.
        if let (MediaKind::Audio, Some(dbov)) = (kind, data.ext_vals.audio_level) {
            self.speakers.hear(publisher, dbov, now);
        }
        let Some(subscribers) = self.subscribers.get(&publisher) else {
            return;
        };
        let label = kind_label(kind == MediaKind::Audio);
        // Counted once per frame: a labelled counter's lookup per subscriber adds up.
        let mut written = 0u64;
        for id in subscribers {
            let Some(subscriber) = self.transports.get_mut(id) else {
                continue;
            };
            // Of a simulcast stream, only the layer the subscriber watches.
            let mut time = data.time;
            if let Some(rid) = data.rid {
                let default = default_layer.unwrap_or(rid);
                match subscriber.watching.pass(rid, data.time, keyframe, default) {
                    Pass::Drop => continue,
                    Pass::Forward(at, switched) => {
                        time = at;
                        if switched {
                            self.metrics.layer_switches.inc();
                        }
                    }
                }
            }
            let Some(&(mid, _)) = subscriber.mids.iter().find(|(_, k)| *k == kind) else {
                continue;
            };
            let Some(writer) = subscriber.rtc.writer(mid) else {
                continue;
            };
            self.dirty.insert(*id);
            // The subscriber's payload type for the publisher's codec, if it offered it
            // (matching codec parameters is dear, and neither side's change).
            let from = data.params.pt();
            let known = subscriber.payload_types.iter().find(|(pt, _)| *pt == from);
            let matched = match known {
                Some(&(_, matched)) => matched,
                None => {
                    let matched = writer.match_params(data.params);
                    subscriber.payload_types.push((from, matched));
                    matched
                }
            };
            let Some(pt) = matched else {
                continue;
            };
            // The level the publisher measured (RFC 6464) goes on, so watchers tell who
            // speaks without decoding (RTCRtpReceiver.getSynchronizationSources).
            let writer = match data.ext_vals.audio_level {
                Some(level) => {
                    writer.audio_level(level, data.ext_vals.voice_activity.unwrap_or(false))
                }
                None => writer,
            };
            match writer.write(pt, wallclock, time, data.data.clone()) {
                // Packetized now, so the poll that follows sends it.
                Ok(()) => {
                    subscriber.handle_timeout(now);
                    written += 1;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "subscriber write failed");
                    subscriber.rtc.disconnect();
                }
            }
        }
        self.metrics.forwarded_frames.with(&label).inc_by(written);
        self.metrics
            .forwarded_bytes
            .with(&label)
            .inc_by(written * data.data.len() as u64);
    }

    /// A subscriber's bandwidth estimate changed: it moves to the biggest layer that
    /// fits (unless it pinned one), and the estimator probes up to the biggest.
    fn adapt(&mut self, subscriber: u64, estimate: Bitrate) {
        let Some(publisher) = self.transports.get(&subscriber).and_then(|t| t.publisher) else {
            return;
        };
        let Some(source) = self.transports.get(&publisher) else {
            return;
        };
        if source.layers.len() < 2 {
            return;
        }
        let fitting = source.rates.fitting(&source.layers, estimate);
        let desired = source.rates.desired(&source.layers);
        let Some(watcher) = self.transports.get_mut(&subscriber) else {
            return;
        };
        if let Some(desired) = desired {
            watcher.rtc.bwe().set_desired_bitrate(desired);
            self.dirty.insert(subscriber);
        }
        if let Some(layer) = fitting {
            if watcher.watching.aim(layer) {
                let kind = KeyframeRequestKind::Pli;
                self.request_keyframe(publisher, kind, Some(subscriber), Some(layer));
            }
        }
    }

    /// Writes a publisher's frame to its recording when its room is recorded, starting
    /// one at its first frame there.
    fn record(&mut self, publisher: u64, data: &MediaData) {
        let (Some(recordings), Some(t)) = (&self.recordings, self.transports.get_mut(&publisher))
        else {
            return;
        };
        let mut started = false;
        if t.recorder.is_none() {
            let Some(order) = self.orders.of(&t.member) else {
                return;
            };
            let has_video = t.mids.iter().any(|(_, kind)| *kind == MediaKind::Video);
            t.recorder = Some(recordings.start(&t.member, &t.stream_id, has_video, order));
            started = true;
        }
        // Of a simulcast stream, the biggest layer (the first its publisher lists).
        if data.rid.is_none() || data.rid == t.layers.first().copied() {
            if let Some(recorder) = &t.recorder {
                recorder.push(data);
            }
        }
        // The file starts at a keyframe.
        if started {
            self.request_keyframe(publisher, KeyframeRequestKind::Pli, None, None);
        }
    }

    /// Feeds a publisher's frame to its room's mix, if the room is mixed here.
    fn mix(&mut self, publisher: u64, data: &MediaData) {
        let (Some(mixing), Some(t)) = (&mut self.mixing, self.transports.get(&publisher)) else {
            return;
        };
        // Of a simulcast stream, the biggest layer (the first its publisher lists).
        if data.rid.is_some() && data.rid != t.layers.first().copied() {
            return;
        }
        // A video input waits for a keyframe to decode from.
        if mixing.push(publisher, &t.member, data) {
            self.request_keyframe(publisher, KeyframeRequestKind::Pli, None, None);
        }
    }

    /// Asks `publisher` for a keyframe of `layer`, or of the layer `watcher` watches or
    /// moves to (the publisher's first before it watched any; none without simulcast).
    fn request_keyframe(
        &mut self,
        publisher: u64,
        kind: KeyframeRequestKind,
        watcher: Option<u64>,
        layer: Option<Rid>,
    ) {
        let chosen = watcher
            .and_then(|id| self.transports.get(&id))
            .and_then(|t| t.watching.wanted());
        let Some(transport) = self.transports.get_mut(&publisher) else {
            return;
        };
        let layer = layer.or(chosen).or(transport.layers.first().copied());
        let now = now();
        if transport
            .keyframe_requests
            .get(&layer)
            .is_some_and(|&at| now.duration_since(at) < KEYFRAME_INTERVAL)
        {
            return;
        }
        let mut asked = false;
        for &(mid, media) in &transport.mids {
            if media != MediaKind::Video {
                continue;
            }
            if let Some(mut writer) = transport.rtc.writer(mid) {
                // Fails only while no packet of the stream has arrived yet; a request that
                // was not sent does not hold the next one back.
                if writer.request_keyframe(layer, kind).is_ok() {
                    self.metrics.keyframe_requests.inc();
                    asked = true;
                }
            }
        }
        if asked {
            transport.keyframe_requests.insert(layer, now);
            self.dirty.insert(publisher);
        }
    }

    /// Forgets those of `polled` that are closed; a gone publisher's subscribers are
    /// closed too (the stream they watched has ended), and forgotten once polled.
    fn drop_dead(&mut self, polled: &[u64]) {
        let dead: Vec<u64> = polled
            .iter()
            .copied()
            .filter(|id| self.transports.get(id).is_some_and(|t| !t.rtc.is_alive()))
            .collect();
        if dead.is_empty() {
            return;
        }
        self.sources.retain(|_, id| !dead.contains(id));
        for id in dead {
            let Some(transport) = self.transports.remove(&id) else {
                continue;
            };
            self.timers.remove(id, transport.timeout);
            self.metrics.transports.with(&way(transport.side)).dec();
            for (_, kind) in &transport.mids {
                self.metrics
                    .tracks
                    .with(&track_label(transport.side, *kind))
                    .dec();
            }
            if let Some(publisher) = transport.publisher {
                if let Some(set) = self.subscribers.get_mut(&publisher) {
                    set.remove(&id);
                }
            }
            for subscriber in self.subscribers.remove(&id).unwrap_or_default() {
                self.disconnect(subscriber);
            }
            if transport.side == Side::Publish {
                if let Some(mixing) = &mut self.mixing {
                    mixing.remove(id, &transport.member);
                }
                let key = StreamKey {
                    publisher: transport.member,
                    stream_id: transport.stream_id,
                };
                if self.streams.get(&key) == Some(&id) {
                    self.streams.remove(&key);
                }
            }
        }
    }
}

fn way(side: Side) -> Way {
    Way {
        way: side_name(side),
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Publish => "publish",
        Side::Subscribe => "subscribe",
    }
}

fn kind_label(audio: bool) -> Kind {
    Kind {
        kind: if audio { "audio" } else { "video" },
    }
}

fn track_label(side: Side, kind: MediaKind) -> Track {
    Track {
        way: side_name(side),
        kind: kind_label(kind == MediaKind::Audio).kind,
    }
}
