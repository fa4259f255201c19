//! Answering a client's SDP offer with a new ICE-lite transport.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer};
use str0m::config::DtlsCert;
use str0m::net::TcpType;
use str0m::rtp::{Extension, ExtensionMap};
use str0m::{Candidate, Rtc};

use super::dtls::CRYPTO;
use super::layers::INITIAL_ESTIMATE;

/// How often str0m reports each media line's running totals (NACKs, loss), which the
/// server's metrics count.
const STATS_INTERVAL: Duration = Duration::from_secs(1);

/// A self-signed certificate for DTLS. A media server makes one when it starts and
/// presents it on every transport, as mediasoup's workers do (the SDP fingerprint is
/// what a peer checks).
pub fn dtls_certificate() -> Result<DtlsCert, String> {
    CRYPTO
        .dtls_provider
        .generate_certificate()
        .ok_or_else(|| "the crypto provider cannot make a DTLS certificate".to_owned())
}

/// Who a transport's client is, which decides the feedback the transport negotiates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// A publisher: it numbers its packets transport-wide (TWCC) and the server tells it
    /// when each arrived, which its encoder's bitrate follows.
    Publisher,
    /// A subscriber. With `estimate`, the server numbers what it sends and estimates the
    /// bandwidth towards it from the subscriber's feedback, to pick its simulcast layer
    /// (RTC-06). Without, no TWCC is negotiated: its feedback would inform nothing, and
    /// applying it was the largest single cost of forwarding to a large audience.
    Subscriber { estimate: bool },
}

/// The str0m transport, ICE-lite, that answers `offer` (a WHIP or WHEP client's), with
/// this server's UDP and passive TCP candidates at `advertised` and its `certificate`.
/// Public for the fuzz target that builds offers from arbitrary parts.
pub fn answer_offer(
    offer: SdpOffer,
    advertised: SocketAddr,
    certificate: &DtlsCert,
    peer: Peer,
    now: Instant,
) -> Result<(Rtc, SdpAnswer), String> {
    let mut builder = Rtc::builder()
        .set_ice_lite(true)
        .set_crypto_provider(CRYPTO.clone())
        .set_dtls_cert(certificate.clone())
        .set_stats_interval(Some(STATS_INTERVAL));
    match peer {
        Peer::Publisher => {}
        Peer::Subscriber { estimate: true } => {
            builder = builder.enable_bwe(Some(INITIAL_ESTIMATE));
        }
        Peer::Subscriber { estimate: false } => {
            builder = builder.set_extension_map(without_twcc());
        }
    }
    let mut rtc = builder.build(now);
    let candidates = [
        Candidate::host(advertised, "udp"),
        Candidate::builder()
            .tcp()
            .host(advertised)
            .tcptype(TcpType::Passive)
            .build(),
    ];
    for candidate in candidates {
        rtc.add_local_candidate(candidate.map_err(|e| e.to_string())?);
    }
    let answer = rtc
        .sdp_api()
        .accept_offer(offer)
        .map_err(|e| e.to_string())?;
    // str0m answers a media section without a codec it takes with a line that lists no
    // format, which no SDP parser (str0m's own included) accepts: such an offer is
    // refused rather than answered with SDP the client cannot read (found by fuzzing).
    // The check is the one str0m's parser makes of each media line; parsing the answer
    // again would cost the forwarding thread a millisecond.
    if let Some(problem) = answer.media_lines.iter().find_map(|m| m.check_consistent()) {
        return Err(format!(
            "a media section of the offer has no codec this server takes ({problem})"
        ));
    }
    Ok((rtc, answer))
}

/// str0m's standard RTP header extensions (Chrome's) but the transport-wide sequence
/// number.
fn without_twcc() -> ExtensionMap {
    let mut map = ExtensionMap::empty();
    let standard = ExtensionMap::standard();
    for (id, extension) in standard.iter() {
        if *extension != Extension::TransportSequenceNumber {
            map.set(id, extension.clone());
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use str0m::media::{Direction, MediaKind};

    use super::*;

    fn offer(now: Instant) -> SdpOffer {
        let mut client = Rtc::builder().build(now);
        let mut change = client.sdp_api();
        change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        change.apply().expect("a change").0
    }

    /// What every test answers with: the server's address and a certificate.
    fn server() -> (SocketAddr, DtlsCert) {
        let advertised = "127.0.0.1:3478".parse().expect("an address");
        (advertised, dtls_certificate().expect("a certificate"))
    }

    fn fingerprint(answer: &SdpAnswer) -> String {
        let sdp = answer.to_sdp_string();
        let line = sdp.lines().find(|l| l.starts_with("a=fingerprint:"));
        line.expect("a fingerprint").to_owned()
    }

    /// Found by the `whip_offer` fuzz target: a video line whose one codec is unknown.
    #[test]
    fn an_offer_without_a_codec_the_server_takes_is_refused() {
        let now = tokio::time::Instant::now().into_std();
        let offer = SdpOffer::from_sdp_string(concat!(
            "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
            "a=group:BUNDLE e__\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n",
            "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n",
            "a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:",
            "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n",
            "a=setup:actpass\r\na=mid:e__\r\na=sendonly\r\na=rtcp-mux\r\n",
            "a=rtpmap:96 FOO/90000\r\n",
        ))
        .expect("an offer");
        let (advertised, certificate) = server();
        let refused = answer_offer(offer, advertised, &certificate, Peer::Publisher, now);
        let error = refused.expect_err("refused");
        assert!(error.contains("no codec this server takes"), "{error}");
    }

    /// TWCC costs the server a register of every packet sent and a pass over it for each
    /// feedback packet: only transports whose feedback something follows negotiate it.
    #[test]
    fn only_transports_whose_feedback_is_used_negotiate_twcc() {
        let now = tokio::time::Instant::now().into_std();
        let (advertised, certificate) = server();
        let cases = [
            (Peer::Publisher, true),
            (Peer::Subscriber { estimate: true }, true),
            (Peer::Subscriber { estimate: false }, false),
        ];
        for (peer, negotiated) in cases {
            let (_, answer) =
                answer_offer(offer(now), advertised, &certificate, peer, now).expect("answered");
            let sdp = answer.to_sdp_string();
            assert_eq!(
                sdp.contains("transport-wide-cc"),
                negotiated,
                "{peer:?}: {sdp}"
            );
            // What the client gets otherwise is unchanged: the media id extension stays.
            assert!(sdp.contains("sdes:mid"), "{peer:?}: {sdp}");
        }
    }

    #[test]
    fn every_transport_presents_the_servers_certificate() {
        let now = tokio::time::Instant::now().into_std();
        let (advertised, certificate) = server();
        let answers: Vec<SdpAnswer> = (0..2)
            .map(|_| answer_offer(offer(now), advertised, &certificate, Peer::Publisher, now))
            .map(|answered| answered.expect("answered").1)
            .collect();
        assert_eq!(fingerprint(&answers[0]), fingerprint(&answers[1]));
        // Another server's certificate is another key.
        let other = dtls_certificate().expect("a certificate");
        let (_, answer) =
            answer_offer(offer(now), advertised, &other, Peer::Publisher, now).expect("answered");
        assert_ne!(fingerprint(&answer), fingerprint(&answers[0]));
    }
}
