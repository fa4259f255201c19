//! Server API bodies: the lenient form parser with every typed accessor handlers use,
//! the JSON body reader, and the signing timestamp.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meridian_access::params::{json_body, Params};
use meridian_client::url_encode;
use meridian_edge::server_api::auth::timestamp_ms;

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = Params::parse_form(data) {
        // Re-encoding what was parsed and parsing it again gives the same pairs.
        let encoded: Vec<String> = params
            .pairs()
            .iter()
            .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
            .collect();
        let again = Params::parse_form(encoded.join("&").as_bytes()).expect("re-encoded form");
        let kept: Vec<_> = params
            .pairs()
            .iter()
            .filter(|(k, _)| !k.is_empty())
            .collect();
        let round: Vec<_> = again
            .pairs()
            .iter()
            .filter(|(k, _)| !k.is_empty())
            .collect();
        assert_eq!(kept, round);
        for (key, _) in params.pairs() {
            let _ = params.required_at_most(key, 3);
            let _ = params.int::<u64>(key);
            let _ = params.int::<i32>(key);
            let _ = params.bool_flag(key, false);
            let _ = params.bounded(key, 64);
            let _ = params.bracketed(key);
        }
    }
    let _ = json_body(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = timestamp_ms(text);
    }
});
