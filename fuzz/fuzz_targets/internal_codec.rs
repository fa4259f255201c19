//! The internal RPC codec (edge ↔ cluster, node ↔ node) and the Raft log's batch format:
//! bytes from the network or the disk must decode or fail, never crash or balloon.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meridian_cluster::api::{ApiReply, ApiRequest};
use meridian_cluster::state::EncodedBatch;
use meridian_cluster::trace::Traced;
use meridian_rpc::codec;

fuzz_target!(|data: &[u8]| {
    // What a node reads on its internal API: a request with the edge request ids.
    if let Ok(traced) = codec::decode::<Traced<Vec<String>, ApiRequest>>(data) {
        // What decodes re-encodes to bytes that decode to the same request.
        let bytes = codec::encode(&traced).expect("encode");
        let again = codec::decode::<Traced<Vec<String>, ApiRequest>>(&bytes).expect("decode again");
        assert_eq!(codec::encode(&again).expect("encode again"), bytes);
    }
    let _ = codec::decode::<ApiReply>(data);
    let _ = EncodedBatch(bytes::Bytes::copy_from_slice(data)).decode();
});
