//! What a commercial SDK client sends an edge: RMTP frames and their protobuf bodies
//! (edge/COMMERCIAL-PROTOCOL.md).
#![no_main]

use libfuzzer_sys::fuzz_target;
use meridian_rmtp::body::{self, SyncRequestMsg, UpStreamMessage};
use meridian_rmtp::{ClientFrame, ConnAckLayout, ServerFrame};

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = ClientFrame::decode(data) {
        // A decoded frame survives a round trip unchanged.
        let bytes = frame.encode().expect("a decoded frame encodes");
        assert_eq!(ClientFrame::decode(&bytes).expect("decode again"), frame);
        if let ClientFrame::Publish(request) | ClientFrame::Query(request) = &frame {
            let _ = body::decode::<UpStreamMessage>(&request.topic, &request.body);
            let _ = body::decode::<SyncRequestMsg>(&request.topic, &request.body);
        }
    }
    for layout in [ConnAckLayout::Plain, ConnAckLayout::Flagged] {
        let _ = ServerFrame::decode(data, layout);
    }
});
