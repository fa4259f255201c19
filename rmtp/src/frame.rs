//! RMTP frames as the Web SDKs send them over WebSocket: one binary message per frame, a
//! header byte (type, dup, qos, retain) and the type's fields, big-endian. There is no
//! remaining-length field: the WebSocket message delimits the frame.

use thiserror::Error;

/// A frame larger than this is refused: a message's content (≤ 128 KiB) plus room for
/// the rest of its body.
pub const MAX_FRAME_BYTES: usize = 144 * 1024;

/// The frame types (the header's high nibble).
mod kind {
    pub const CONNACK: u8 = 2;
    pub const PUBLISH: u8 = 3;
    pub const PUBACK: u8 = 4;
    pub const QUERY: u8 = 5;
    pub const QUERYACK: u8 = 6;
    pub const QUERYCON: u8 = 7;
    pub const PINGREQ: u8 = 12;
    pub const PINGRESP: u8 = 13;
    pub const DISCONNECT: u8 = 14;
}

/// Why bytes are not a frame.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    #[error("empty frame")]
    Empty,
    #[error("a frame of {0} bytes is over the limit of {MAX_FRAME_BYTES}")]
    Oversize(usize),
    #[error("frame type {0} is not one this side accepts")]
    UnknownType(u8),
    #[error("the frame ends inside its {0}")]
    Truncated(&'static str),
    #[error("{0} bytes follow the end of a frame of type {1}")]
    TrailingBytes(usize, u8),
    #[error("the {0} is not UTF-8")]
    NotUtf8(&'static str),
    #[error("the {0} is longer than 65535 bytes")]
    TooLong(&'static str),
}

/// The header byte's flags besides the type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// On a server PUBLISH: a copy of a message the user sent from another device.
    pub dup: bool,
    /// 0: no acknowledgement wanted; otherwise the receiver acknowledges (PUBACK, QUERYCON).
    pub qos: u8,
    pub retain: bool,
}

impl Flags {
    fn byte(self, kind: u8) -> u8 {
        kind << 4 | u8::from(self.dup) << 3 | (self.qos & 3) << 1 | u8::from(self.retain)
    }

    fn of(byte: u8) -> Self {
        Self {
            dup: byte & 8 != 0,
            qos: (byte >> 1) & 3,
            retain: byte & 1 != 0,
        }
    }
}

/// A client's PUBLISH or QUERY: a request named by its topic, about `target_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub flags: Flags,
    pub topic: String,
    pub target_id: String,
    pub message_id: u16,
    /// The protobuf body (`body.rs`), decoded according to the topic.
    pub body: Vec<u8>,
}

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    Publish(Request),
    Query(Request),
    /// Acknowledges a server PUBLISH.
    PubAck {
        message_id: u16,
    },
    /// Confirms a QUERYACK.
    QueryCon {
        message_id: u16,
    },
    PingReq,
    Disconnect {
        status: u8,
    },
}

/// The CONNACK layouts: the SDK asks for one with `protocolVer` in the connect query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ConnAckLayout {
    /// userId, sessionId and timestamp in a row (protocol 3, and SDKs that send no
    /// version).
    #[default]
    Plain,
    /// A flags byte says which fields follow; a first message id may too (protocol 4).
    Flagged,
}

impl ConnAckLayout {
    /// The layout for a `protocolVer` query value (absent or unknown: the plain one).
    pub fn for_version(version: Option<&str>) -> Self {
        match version {
            Some("4") => Self::Flagged,
            _ => Self::Plain,
        }
    }
}

/// A session accepted: who it is, and the server's time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub user_id: String,
    pub session_id: String,
    pub timestamp_ms: u64,
}

/// The answer to a connect: status 0 with [`Accepted`], or a refusal's status (codes in
/// edge/COMMERCIAL-PROTOCOL.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    pub layout: ConnAckLayout,
    pub status: u8,
    pub accepted: Option<Accepted>,
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFrame {
    ConnAck(ConnAck),
    /// A notice or message pushed to the client (topic `s_ntf`, `s_msg`, …).
    Publish {
        flags: Flags,
        /// Seconds since the epoch.
        date: u32,
        topic: String,
        target_id: String,
        message_id: u16,
        body: Vec<u8>,
    },
    /// Answers a client PUBLISH: status 0 and the stored message's id and time.
    PubAck {
        message_id: u16,
        status: u16,
        time_ms: u64,
        msg_uid: String,
    },
    /// Answers a client QUERY: status 0 and the answer's protobuf body.
    QueryAck {
        message_id: u16,
        status: u16,
        time_ms: u64,
        body: Vec<u8>,
    },
    PingResp,
    Disconnect {
        status: u8,
    },
}

/// Reads a frame's fields in order, naming what ran out.
struct Reader<'b> {
    bytes: &'b [u8],
}

impl<'b> Reader<'b> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'b [u8], FrameError> {
        if self.bytes.len() < n {
            return Err(FrameError::Truncated(what));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, FrameError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, FrameError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, FrameError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, FrameError> {
        let mut b = [0; 8];
        b.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_be_bytes(b))
    }

    fn text(&mut self, what: &'static str) -> Result<String, FrameError> {
        let len = self.u16(what)?;
        let bytes = self.take(usize::from(len), what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| FrameError::NotUtf8(what))
    }

    fn rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes).to_vec()
    }

    /// A frame of fixed fields must end where they do.
    fn end(self, kind: u8) -> Result<(), FrameError> {
        match self.bytes.len() {
            0 => Ok(()),
            n => Err(FrameError::TrailingBytes(n, kind)),
        }
    }
}

/// Writes a frame's fields.
struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    fn new(kind: u8, flags: Flags) -> Self {
        Self {
            bytes: vec![flags.byte(kind)],
        }
    }

    fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }

    fn u16(&mut self, v: u16) {
        self.bytes.extend_from_slice(&v.to_be_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.bytes.extend_from_slice(&v.to_be_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.bytes.extend_from_slice(&v.to_be_bytes());
    }

    fn text(&mut self, v: &str, what: &'static str) -> Result<(), FrameError> {
        let len = u16::try_from(v.len()).map_err(|_| FrameError::TooLong(what))?;
        self.u16(len);
        self.bytes.extend_from_slice(v.as_bytes());
        Ok(())
    }

    fn bytes(&mut self, v: &[u8]) {
        self.bytes.extend_from_slice(v);
    }

    /// The time as the SDK reads it: whole seconds (4 bytes), and, where a frame has it,
    /// the milliseconds apart.
    fn seconds(&mut self, time_ms: u64) {
        self.u32(u32::try_from(time_ms / 1000).unwrap_or(u32::MAX));
    }
}

/// The header byte of a frame within the size limit.
fn header(bytes: &[u8]) -> Result<(u8, Flags, Reader<'_>), FrameError> {
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(FrameError::Oversize(bytes.len()));
    }
    let (&first, rest) = bytes.split_first().ok_or(FrameError::Empty)?;
    Ok((first >> 4, Flags::of(first), Reader { bytes: rest }))
}

fn time_ms(seconds: u32, millis: u16) -> u64 {
    u64::from(seconds) * 1000 + u64::from(millis)
}

impl Request {
    fn read(flags: Flags, mut r: Reader<'_>) -> Result<Self, FrameError> {
        Ok(Self {
            flags,
            topic: r.text("topic")?,
            target_id: r.text("target id")?,
            message_id: r.u16("message id")?,
            body: r.rest(),
        })
    }

    fn write(&self, kind: u8) -> Result<Vec<u8>, FrameError> {
        let mut w = Writer::new(kind, self.flags);
        w.text(&self.topic, "topic")?;
        w.text(&self.target_id, "target id")?;
        w.u16(self.message_id);
        w.bytes(&self.body);
        Ok(w.bytes)
    }
}

impl ClientFrame {
    pub fn decode(bytes: &[u8]) -> Result<Self, FrameError> {
        let (kind, flags, mut r) = header(bytes)?;
        let frame = match kind {
            kind::PUBLISH => return Ok(Self::Publish(Request::read(flags, r)?)),
            kind::QUERY => return Ok(Self::Query(Request::read(flags, r)?)),
            kind::PUBACK => Self::PubAck {
                message_id: r.u16("message id")?,
            },
            kind::QUERYCON => Self::QueryCon {
                message_id: r.u16("message id")?,
            },
            kind::PINGREQ => Self::PingReq,
            kind::DISCONNECT => {
                r.u8("disconnect")?;
                let status = r.u8("status")?;
                // The SDK ignores what follows a DISCONNECT's status; so does this side.
                r.rest();
                Self::Disconnect { status }
            }
            other => return Err(FrameError::UnknownType(other)),
        };
        r.end(kind)?;
        Ok(frame)
    }

    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let none = Flags::default();
        Ok(match self {
            Self::Publish(request) => request.write(kind::PUBLISH)?,
            Self::Query(request) => request.write(kind::QUERY)?,
            Self::PubAck { message_id } => id_frame(kind::PUBACK, *message_id),
            Self::QueryCon { message_id } => id_frame(kind::QUERYCON, *message_id),
            Self::PingReq => Writer::new(kind::PINGREQ, none).bytes,
            Self::Disconnect { status } => disconnect(*status),
        })
    }
}

fn id_frame(kind: u8, message_id: u16) -> Vec<u8> {
    let mut w = Writer::new(kind, Flags::default());
    w.u16(message_id);
    w.bytes
}

fn disconnect(status: u8) -> Vec<u8> {
    let mut w = Writer::new(kind::DISCONNECT, Flags::default());
    w.u8(0);
    w.u8(status);
    w.bytes
}

/// CONNACK flag bits of the flagged layout.
const HAS_USER: u8 = 1;
const HAS_SESSION: u8 = 2;
const HAS_TIME: u8 = 4;
/// A first message id for the client's counter; this side never sends one (the client
/// then counts from 0).
const HAS_MESSAGE_ID: u8 = 8;

impl ConnAck {
    fn write(&self) -> Result<Vec<u8>, FrameError> {
        let mut w = Writer::new(kind::CONNACK, Flags::default());
        w.u8(0);
        w.u8(self.status);
        if let Some(accepted) = &self.accepted {
            if self.layout == ConnAckLayout::Flagged {
                w.u8(HAS_USER | HAS_SESSION | HAS_TIME);
            }
            w.text(&accepted.user_id, "user id")?;
            w.text(&accepted.session_id, "session id")?;
            w.u64(accepted.timestamp_ms);
        }
        Ok(w.bytes)
    }

    fn read(layout: ConnAckLayout, mut r: Reader<'_>) -> Result<Self, FrameError> {
        r.u8("connack")?;
        let status = r.u8("status")?;
        let accepted = match (r.bytes.is_empty(), layout) {
            (true, _) => None,
            (false, ConnAckLayout::Plain) => Some(Accepted {
                user_id: r.text("user id")?,
                session_id: r.text("session id")?,
                timestamp_ms: r.u64("timestamp")?,
            }),
            (false, ConnAckLayout::Flagged) => {
                let has = r.u8("flags")?;
                let mut text = |bit: u8, what| match has & bit {
                    0 => Ok(String::new()),
                    _ => r.text(what),
                };
                let (user_id, session_id) =
                    (text(HAS_USER, "user id")?, text(HAS_SESSION, "session id")?);
                let timestamp_ms = match has & HAS_TIME {
                    0 => 0,
                    _ => r.u64("timestamp")?,
                };
                if has & HAS_MESSAGE_ID != 0 {
                    r.u16("message id")?;
                }
                Some(Accepted {
                    user_id,
                    session_id,
                    timestamp_ms,
                })
            }
        };
        r.end(kind::CONNACK)?;
        Ok(Self {
            layout,
            status,
            accepted,
        })
    }
}

impl ServerFrame {
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        Ok(match self {
            Self::ConnAck(ack) => ack.write()?,
            Self::Publish {
                flags,
                date,
                topic,
                target_id,
                message_id,
                body,
            } => {
                let mut w = Writer::new(kind::PUBLISH, *flags);
                w.u32(*date);
                w.text(topic, "topic")?;
                w.text(target_id, "target id")?;
                w.u16(*message_id);
                w.bytes(body);
                w.bytes
            }
            Self::PubAck {
                message_id,
                status,
                time_ms,
                msg_uid,
            } => {
                let mut w = Writer::new(kind::PUBACK, Flags::default());
                w.u16(*message_id);
                w.seconds(*time_ms);
                w.u16(*status);
                // Below 1000, so it fits.
                w.u16((time_ms % 1000) as u16);
                w.text(msg_uid, "message uid")?;
                w.bytes
            }
            Self::QueryAck {
                message_id,
                status,
                time_ms,
                body,
            } => {
                let mut w = Writer::new(kind::QUERYACK, Flags::default());
                w.u16(*message_id);
                w.seconds(*time_ms);
                w.u16(*status);
                w.bytes(body);
                w.bytes
            }
            Self::PingResp => Writer::new(kind::PINGRESP, Flags::default()).bytes,
            Self::Disconnect { status } => disconnect(*status),
        })
    }

    /// Reads a server frame as a client does; a CONNACK in the given layout.
    pub fn decode(bytes: &[u8], layout: ConnAckLayout) -> Result<Self, FrameError> {
        let (kind, flags, mut r) = header(bytes)?;
        let frame = match kind {
            kind::CONNACK => return Ok(Self::ConnAck(ConnAck::read(layout, r)?)),
            kind::PUBLISH => {
                let date = r.u32("date")?;
                return Ok(Self::Publish {
                    flags,
                    date,
                    topic: r.text("topic")?,
                    target_id: r.text("target id")?,
                    message_id: r.u16("message id")?,
                    body: r.rest(),
                });
            }
            kind::PUBACK => {
                let message_id = r.u16("message id")?;
                let seconds = r.u32("date")?;
                let status = r.u16("status")?;
                let millis = r.u16("milliseconds")?;
                Self::PubAck {
                    message_id,
                    status,
                    time_ms: time_ms(seconds, millis),
                    msg_uid: r.text("message uid")?,
                }
            }
            kind::QUERYACK => {
                let message_id = r.u16("message id")?;
                let seconds = r.u32("date")?;
                return Ok(Self::QueryAck {
                    message_id,
                    status: r.u16("status")?,
                    time_ms: time_ms(seconds, 0),
                    body: r.rest(),
                });
            }
            kind::PINGRESP => Self::PingResp,
            kind::DISCONNECT => {
                r.u8("disconnect")?;
                let status = r.u8("status")?;
                r.rest();
                Self::Disconnect { status }
            }
            other => return Err(FrameError::UnknownType(other)),
        };
        r.end(kind)?;
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish() -> ClientFrame {
        ClientFrame::Publish(Request {
            flags: Flags {
                qos: 1,
                ..Flags::default()
            },
            topic: "ppMsgP".into(),
            target_id: "bob".into(),
            message_id: 0x0102,
            body: vec![8, 3],
        })
    }

    #[test]
    fn a_publish_is_laid_out_as_the_sdk_writes_it() {
        let bytes = publish().encode().unwrap();
        let mut expected = vec![0x32, 0, 6];
        expected.extend_from_slice(b"ppMsgP");
        expected.extend_from_slice(&[0, 3]);
        expected.extend_from_slice(b"bob");
        expected.extend_from_slice(&[1, 2, 8, 3]);
        assert_eq!(bytes, expected);
        assert_eq!(ClientFrame::decode(&bytes).unwrap(), publish());
    }

    #[test]
    fn fixed_frames_round_trip() {
        for frame in [
            ClientFrame::PingReq,
            ClientFrame::PubAck { message_id: 7 },
            ClientFrame::QueryCon { message_id: 65535 },
            ClientFrame::Disconnect { status: 1 },
        ] {
            let bytes = frame.encode().unwrap();
            assert_eq!(ClientFrame::decode(&bytes).unwrap(), frame);
        }
        assert_eq!(ClientFrame::PingReq.encode().unwrap(), vec![0xC0]);
    }

    #[test]
    fn server_frames_round_trip() {
        let accepted = Some(Accepted {
            user_id: "alice".into(),
            session_id: "s1".into(),
            timestamp_ms: 1_764_000_000_123,
        });
        for layout in [ConnAckLayout::Plain, ConnAckLayout::Flagged] {
            for accepted in [accepted.clone(), None] {
                let ack = ServerFrame::ConnAck(ConnAck {
                    layout,
                    status: if accepted.is_some() { 0 } else { 4 },
                    accepted,
                });
                let bytes = ack.encode().unwrap();
                assert_eq!(ServerFrame::decode(&bytes, layout).unwrap(), ack);
            }
        }
        for frame in [
            ServerFrame::PubAck {
                message_id: 3,
                status: 0,
                time_ms: 1_764_000_000_123,
                msg_uid: "C3F0-1".into(),
            },
            ServerFrame::QueryAck {
                message_id: 4,
                status: 0,
                time_ms: 1_764_000_000_000,
                body: vec![16, 1],
            },
            ServerFrame::Publish {
                flags: Flags::default(),
                date: 1_764_000_000,
                topic: "s_ntf".into(),
                target_id: "alice".into(),
                message_id: 0,
                body: vec![8, 1],
            },
            ServerFrame::PingResp,
            ServerFrame::Disconnect { status: 1 },
        ] {
            let bytes = frame.encode().unwrap();
            assert_eq!(
                ServerFrame::decode(&bytes, ConnAckLayout::Plain).unwrap(),
                frame
            );
        }
    }

    #[test]
    fn a_connack_for_protocol_3_has_no_flags_byte() {
        let ack = ServerFrame::ConnAck(ConnAck {
            layout: ConnAckLayout::for_version(Some("3")),
            status: 0,
            accepted: Some(Accepted {
                user_id: "u".into(),
                session_id: "".into(),
                timestamp_ms: 1,
            }),
        });
        assert_eq!(
            ack.encode().unwrap(),
            vec![0x20, 0, 0, 0, 1, b'u', 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
        );
    }

    // One test per malformed-frame class: each is a clear error, never a panic.

    #[test]
    fn an_empty_frame_is_refused() {
        assert_eq!(ClientFrame::decode(&[]), Err(FrameError::Empty));
    }

    #[test]
    fn a_truncated_frame_names_the_field_it_ends_in() {
        let bytes = publish().encode().unwrap();
        assert_eq!(
            ClientFrame::decode(&bytes[..2]),
            Err(FrameError::Truncated("topic"))
        );
        assert_eq!(
            ClientFrame::decode(&bytes[..12]),
            Err(FrameError::Truncated("target id"))
        );
        assert_eq!(
            ClientFrame::decode(&bytes[..14]),
            Err(FrameError::Truncated("message id"))
        );
        assert_eq!(
            ClientFrame::decode(&[0x40, 1]),
            Err(FrameError::Truncated("message id"))
        );
        assert_eq!(
            ClientFrame::decode(&[0xE0, 0]),
            Err(FrameError::Truncated("status"))
        );
    }

    #[test]
    fn a_length_past_the_end_or_bytes_past_a_fixed_frame_are_refused() {
        // The topic claims 255 bytes; two follow.
        assert_eq!(
            ClientFrame::decode(&[0x32, 0, 255, b'p', b'p']),
            Err(FrameError::Truncated("topic"))
        );
        assert_eq!(
            ClientFrame::decode(&[0xC0, 0]),
            Err(FrameError::TrailingBytes(1, 12))
        );
        assert_eq!(
            ClientFrame::decode(&[0x40, 0, 1, 9]),
            Err(FrameError::TrailingBytes(1, 4))
        );
    }

    #[test]
    fn types_a_client_never_sends_are_refused() {
        for kind in [0u8, 1, 2, 6, 8, 9, 10, 11, 13, 15] {
            assert_eq!(
                ClientFrame::decode(&[kind << 4, 0, 0]),
                Err(FrameError::UnknownType(kind))
            );
        }
    }

    #[test]
    fn an_oversize_frame_is_refused_before_it_is_read() {
        let mut bytes = publish().encode().unwrap();
        bytes.resize(MAX_FRAME_BYTES + 1, 0);
        assert_eq!(
            ClientFrame::decode(&bytes),
            Err(FrameError::Oversize(MAX_FRAME_BYTES + 1))
        );
    }

    #[test]
    fn a_topic_that_is_not_utf8_is_refused() {
        assert_eq!(
            ClientFrame::decode(&[0x32, 0, 1, 0xFF, 0, 0, 0, 1]),
            Err(FrameError::NotUtf8("topic"))
        );
    }

    #[test]
    fn a_string_over_65535_bytes_cannot_be_written() {
        let ack = ServerFrame::PubAck {
            message_id: 1,
            status: 0,
            time_ms: 0,
            msg_uid: "x".repeat(70_000),
        };
        assert_eq!(ack.encode(), Err(FrameError::TooLong("message uid")));
    }
}
