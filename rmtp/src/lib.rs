//! The commercial Web SDKs' long-connection protocol, as `edge/COMMERCIAL-PROTOCOL.md`
//! describes it: RMTP frames over WebSocket (`frame`) carrying protobuf bodies (`body`).
//! Written from that note; no SDK code is copied.

pub mod body;
mod frame;

pub use frame::{
    Accepted, ClientFrame, ConnAck, ConnAckLayout, Flags, FrameError, Request, ServerFrame,
    MAX_FRAME_BYTES,
};
