//! ICE-TCP (RFC 6544) for networks that block UDP: every transport also offers a passive
//! TCP candidate at the UDP candidate's address, whose port is the WHIP/WHEP listener's.
//! That listener hands over connections that open with a framed STUN request
//! ([`claims`]); each then carries RFC 4571 frames (a 16-bit length, then one STUN, DTLS
//! or SRTP packet). A reader task per connection passes packets to the forwarding task,
//! which writes back through the connection's queue.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

/// Packets queued towards one TCP peer; beyond, packets are dropped as UDP would lose
/// them (NACK and keyframe requests repair it).
const QUEUE: usize = 512;

/// What the connections tell the forwarding task.
pub(crate) enum TcpEvent {
    Opened {
        peer: SocketAddr,
        out: mpsc::Sender<Vec<u8>>,
    },
    Packet {
        peer: SocketAddr,
        packet: Vec<u8>,
    },
    Closed {
        peer: SocketAddr,
    },
}

/// Bytes [`claims`] looks at: a frame's length, then a STUN header up to its cookie.
pub(crate) const PREFIX: usize = 2 + 8;
const STUN_MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];

/// Whether a connection opening with `prefix` is ICE-TCP: a framed STUN message (first
/// two bits zero, the magic cookie at bytes 4–8), which no HTTP request or TLS
/// handshake starts with.
pub(crate) fn claims(prefix: &[u8]) -> bool {
    prefix.len() >= PREFIX && prefix[2] & 0xc0 == 0 && prefix[6..10] == STUN_MAGIC_COOKIE
}

/// `packet` framed for the wire (RFC 4571).
pub(crate) fn frame(packet: &[u8]) -> Option<Vec<u8>> {
    let length = u16::try_from(packet.len()).ok()?;
    let mut framed = Vec::with_capacity(2 + packet.len());
    framed.extend_from_slice(&length.to_be_bytes());
    framed.extend_from_slice(packet);
    Some(framed)
}

/// Runs the connections the listener hands over until `stop`.
pub(crate) async fn serve(
    mut accepted: mpsc::Receiver<(TcpStream, SocketAddr)>,
    events: mpsc::Sender<TcpEvent>,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            next = accepted.recv() => match next {
                Some((stream, peer)) => {
                    connections.spawn(connection(stream, peer, events.clone()));
                }
                None => break,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

async fn connection(stream: TcpStream, peer: SocketAddr, events: mpsc::Sender<TcpEvent>) {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let (out, mut outgoing) = mpsc::channel::<Vec<u8>>(QUEUE);
    if events.send(TcpEvent::Opened { peer, out }).await.is_err() {
        return;
    }
    let writing = tokio::spawn(async move {
        while let Some(framed) = outgoing.recv().await {
            if writer.write_all(&framed).await.is_err() {
                break;
            }
        }
    });
    while let Ok(length) = reader.read_u16().await {
        let mut packet = vec![0; usize::from(length)];
        if reader.read_exact(&mut packet).await.is_err() {
            break;
        }
        if events
            .send(TcpEvent::Packet { peer, packet })
            .await
            .is_err()
        {
            break;
        }
    }
    writing.abort();
    let _ = events.send(TcpEvent::Closed { peer }).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_framed_stun_request_is_claimed_and_http_or_tls_is_not() {
        // A binding request (type 0x0001), length 0x0050, then the cookie.
        let stun = [0x00, 0x64, 0x00, 0x01, 0x00, 0x50, 0x21, 0x12, 0xa4, 0x42];
        assert!(claims(&stun));
        assert!(!claims(b"POST /whip"));
        assert!(!claims(&[
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03
        ]));
        assert!(!claims(&stun[..9]));
    }

    #[test]
    fn frames_carry_their_length_and_a_packet_too_long_has_none() {
        assert_eq!(frame(b"abc"), Some(vec![0, 3, b'a', b'b', b'c']));
        assert_eq!(frame(&vec![0; 65_536]), None);
    }
}
