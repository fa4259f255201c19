//! What a client sends an edge: the `/websocket` query string and every frame after it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meridian_edge::sessions::ConnectParams;
use meridian_proto::{ClientFrame, ServerFrame};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ConnectParams::parse(text);
    }
    if let Ok(frame) = serde_json::from_slice::<ClientFrame>(data) {
        // A decoded frame survives a round trip unchanged.
        let text = serde_json::to_string(&frame).expect("encode");
        let again: ClientFrame = serde_json::from_str(&text).expect("decode again");
        assert_eq!(frame, again);
    }
    let _ = serde_json::from_slice::<ServerFrame>(data);
});
