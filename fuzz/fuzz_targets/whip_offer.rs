//! A WHIP or WHEP offer as a browser, OBS or anyone else may send one: SDP built from
//! arbitrary parts (media sections, codecs and their parameters, feedback, header
//! extensions, simulcast rids, SSRCs, ICE and DTLS lines), parsed and answered as the
//! media server answers it. Every transport of an area runs in one task, so an offer is
//! answered or refused, never a panic.
#![no_main]

use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use meridian_media::Peer;
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::config::DtlsCert;
use str0m::{Input, Output};

/// One certificate for every offer, as the media server has.
static CERTIFICATE: LazyLock<DtlsCert> =
    LazyLock::new(|| meridian_media::dtls_certificate().expect("a DTLS certificate"));

/// Text of one SDP token: anything but a line break, which would end the line.
#[derive(Debug)]
struct Token(String);

impl<'a> Arbitrary<'a> for Token {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let text: String = u.arbitrary()?;
        Ok(Token(text.replace(['\r', '\n'], "")))
    }
}

#[derive(Arbitrary, Debug)]
struct Offer {
    bundle: bool,
    ice_lite: bool,
    ufrag: Token,
    pwd: Token,
    /// The certificate's SHA-256 digest (any length: a wrong one must be refused).
    fingerprint: Option<Vec<u8>>,
    setup: Setup,
    sections: Vec<Section>,
    /// Lines of any kind, after the session's.
    extra: Vec<Token>,
}

#[derive(Arbitrary, Debug)]
enum Setup {
    ActPass,
    Active,
    Passive,
    Other(Token),
}

#[derive(Arbitrary, Debug)]
struct Section {
    kind: Kind,
    port: u16,
    direction: Direction,
    mid: Token,
    codecs: Vec<Codec>,
    feedback: Vec<(u8, Feedback)>,
    extensions: Vec<(u8, Extension)>,
    rids: Vec<(Token, bool)>,
    simulcast: bool,
    ssrcs: Vec<(u32, Token)>,
    /// A retransmission pair (`ssrc-group:FID`).
    fid: Option<(u32, u32)>,
    rtcp_mux: bool,
    own_ice: bool,
    extra: Vec<Token>,
}

#[derive(Arbitrary, Debug)]
enum Kind {
    Audio,
    Video,
    Application,
    Other(Token),
}

#[derive(Arbitrary, Debug)]
enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
    None,
}

#[derive(Arbitrary, Debug)]
struct Codec {
    payload_type: u8,
    name: CodecName,
    clock_rate: u32,
    channels: Option<u8>,
    /// `key=value` parameters (`apt`, `profile-level-id`, `packetization-mode`, …).
    parameters: Vec<(Parameter, u32)>,
}

#[derive(Arbitrary, Debug)]
enum CodecName {
    Opus,
    Vp8,
    Vp9,
    H264,
    Av1,
    Rtx,
    Red,
    Ulpfec,
    Pcmu,
    TelephoneEvent,
    Other(Token),
}

#[derive(Arbitrary, Debug)]
enum Parameter {
    Apt,
    ProfileLevelId,
    PacketizationMode,
    LevelAsymmetryAllowed,
    ProfileId,
    Minptime,
    UseInbandFec,
    Other(Token),
}

#[derive(Arbitrary, Debug)]
enum Feedback {
    Nack,
    NackPli,
    CcmFir,
    GoogRemb,
    TransportCc,
    Other(Token),
}

#[derive(Arbitrary, Debug)]
enum Extension {
    AudioLevel,
    AbsSendTime,
    TransportWideCc,
    Mid,
    RtpStreamId,
    RepairedRtpStreamId,
    VideoOrientation,
    Other(Token),
}

impl Offer {
    fn sdp(&self) -> String {
        let mut sdp =
            String::from("v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
        if self.bundle {
            let mids: Vec<&str> = self.sections.iter().map(|s| s.mid.0.as_str()).collect();
            line(&mut sdp, format_args!("a=group:BUNDLE {}", mids.join(" ")));
        }
        if self.ice_lite {
            sdp.push_str("a=ice-lite\r\n");
        }
        sdp.push_str("a=msid-semantic: WMS *\r\n");
        for extra in &self.extra {
            line(&mut sdp, format_args!("{}", extra.0));
        }
        for section in &self.sections {
            section.write(self, &mut sdp);
        }
        sdp
    }

    fn transport_lines(&self, sdp: &mut String) {
        line(sdp, format_args!("a=ice-ufrag:{}", self.ufrag.0));
        line(sdp, format_args!("a=ice-pwd:{}", self.pwd.0));
        if let Some(digest) = &self.fingerprint {
            let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
            line(sdp, format_args!("a=fingerprint:sha-256 {}", hex.join(":")));
        }
        let setup = match &self.setup {
            Setup::ActPass => "actpass",
            Setup::Active => "active",
            Setup::Passive => "passive",
            Setup::Other(other) => &other.0,
        };
        line(sdp, format_args!("a=setup:{setup}"));
    }
}

impl Section {
    fn write(&self, offer: &Offer, sdp: &mut String) {
        let payload_types: Vec<String> = self
            .codecs
            .iter()
            .map(|c| c.payload_type.to_string())
            .collect();
        match &self.kind {
            Kind::Application => line(
                sdp,
                format_args!(
                    "m=application {} UDP/DTLS/SCTP webrtc-datachannel",
                    self.port
                ),
            ),
            kind => {
                let kind = match kind {
                    Kind::Audio => "audio",
                    Kind::Video => "video",
                    Kind::Other(other) => &other.0,
                    Kind::Application => unreachable!(),
                };
                let port = self.port;
                let types = payload_types.join(" ");
                line(
                    sdp,
                    format_args!("m={kind} {port} UDP/TLS/RTP/SAVPF {types}"),
                );
            }
        }
        sdp.push_str("c=IN IP4 0.0.0.0\r\n");
        if self.own_ice || !offer.bundle {
            offer.transport_lines(sdp);
        }
        line(sdp, format_args!("a=mid:{}", self.mid.0));
        let direction = match self.direction {
            Direction::SendRecv => Some("sendrecv"),
            Direction::SendOnly => Some("sendonly"),
            Direction::RecvOnly => Some("recvonly"),
            Direction::Inactive => Some("inactive"),
            Direction::None => None,
        };
        if let Some(direction) = direction {
            line(sdp, format_args!("a={direction}"));
        }
        if self.rtcp_mux {
            sdp.push_str("a=rtcp-mux\r\n");
        }
        for (id, extension) in &self.extensions {
            line(sdp, format_args!("a=extmap:{id} {}", extension.uri()));
        }
        for codec in &self.codecs {
            codec.write(sdp);
        }
        for (payload_type, feedback) in &self.feedback {
            line(
                sdp,
                format_args!("a=rtcp-fb:{payload_type} {}", feedback.text()),
            );
        }
        for (rid, sends) in &self.rids {
            let way = if *sends { "send" } else { "recv" };
            line(sdp, format_args!("a=rid:{} {way}", rid.0));
        }
        if self.simulcast && !self.rids.is_empty() {
            let rids: Vec<&str> = self.rids.iter().map(|r| r.0 .0.as_str()).collect();
            line(sdp, format_args!("a=simulcast:send {}", rids.join(";")));
        }
        if let Some((primary, repair)) = self.fid {
            line(sdp, format_args!("a=ssrc-group:FID {primary} {repair}"));
        }
        for (ssrc, cname) in &self.ssrcs {
            line(sdp, format_args!("a=ssrc:{ssrc} cname:{}", cname.0));
        }
        for extra in &self.extra {
            line(sdp, format_args!("{}", extra.0));
        }
    }
}

impl Codec {
    fn write(&self, sdp: &mut String) {
        let name = match &self.name {
            CodecName::Opus => "opus",
            CodecName::Vp8 => "VP8",
            CodecName::Vp9 => "VP9",
            CodecName::H264 => "H264",
            CodecName::Av1 => "AV1",
            CodecName::Rtx => "rtx",
            CodecName::Red => "red",
            CodecName::Ulpfec => "ulpfec",
            CodecName::Pcmu => "PCMU",
            CodecName::TelephoneEvent => "telephone-event",
            CodecName::Other(other) => &other.0,
        };
        let (pt, clock) = (self.payload_type, self.clock_rate);
        match self.channels {
            Some(channels) => line(sdp, format_args!("a=rtpmap:{pt} {name}/{clock}/{channels}")),
            None => line(sdp, format_args!("a=rtpmap:{pt} {name}/{clock}")),
        }
        if !self.parameters.is_empty() {
            let parameters: Vec<String> = self
                .parameters
                .iter()
                .map(|(key, value)| format!("{}={value}", key.text()))
                .collect();
            line(sdp, format_args!("a=fmtp:{pt} {}", parameters.join(";")));
        }
    }
}

impl Parameter {
    fn text(&self) -> &str {
        match self {
            Parameter::Apt => "apt",
            Parameter::ProfileLevelId => "profile-level-id",
            Parameter::PacketizationMode => "packetization-mode",
            Parameter::LevelAsymmetryAllowed => "level-asymmetry-allowed",
            Parameter::ProfileId => "profile-id",
            Parameter::Minptime => "minptime",
            Parameter::UseInbandFec => "useinbandfec",
            Parameter::Other(other) => &other.0,
        }
    }
}

impl Feedback {
    fn text(&self) -> &str {
        match self {
            Feedback::Nack => "nack",
            Feedback::NackPli => "nack pli",
            Feedback::CcmFir => "ccm fir",
            Feedback::GoogRemb => "goog-remb",
            Feedback::TransportCc => "transport-cc",
            Feedback::Other(other) => &other.0,
        }
    }
}

impl Extension {
    fn uri(&self) -> &str {
        match self {
            Extension::AudioLevel => "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
            Extension::AbsSendTime => "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
            Extension::TransportWideCc => {
                "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
            }
            Extension::Mid => "urn:ietf:params:rtp-hdrext:sdes:mid",
            Extension::RtpStreamId => "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
            Extension::RepairedRtpStreamId => {
                "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
            }
            Extension::VideoOrientation => "urn:3gpp:video-orientation",
            Extension::Other(other) => &other.0,
        }
    }
}

fn line(sdp: &mut String, text: std::fmt::Arguments<'_>) {
    let _ = sdp.write_fmt(text);
    sdp.push_str("\r\n");
}

fuzz_target!(|input: (Offer, Option<bool>)| {
    // A publisher's offer, or a subscriber's (estimating its bandwidth or not).
    let (offer, subscriber) = input;
    let peer = match subscriber {
        None => Peer::Publisher,
        Some(estimate) => Peer::Subscriber { estimate },
    };
    let Ok(parsed) = SdpOffer::from_sdp_string(&offer.sdp()) else {
        return;
    };
    let advertised: SocketAddr = "127.0.0.1:3478".parse().expect("an address");
    let now = Instant::now();
    let Ok((mut rtc, answer)) =
        meridian_media::answer_offer(parsed, advertised, &CERTIFICATE, peer, now)
    else {
        return;
    };
    // The answer is SDP the client can read.
    SdpAnswer::from_sdp_string(&answer.to_sdp_string()).expect("our own answer parses");
    // The new transport takes its first steps without a peer, then times out.
    for step in 0..64 {
        match rtc.poll_output() {
            Ok(Output::Timeout(_)) if step < 63 => {
                let later = now + Duration::from_secs(step + 1);
                if rtc.handle_input(Input::Timeout(later)).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
});
