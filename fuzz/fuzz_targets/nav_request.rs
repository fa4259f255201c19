//! What a client sends nav: `/v2/navi.json` (an `RC-Appkey` header and a form body) and
//! `/v1/nav`'s query string, plus the client-address → location rules.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meridian_nav::answer::NavRequest;
use meridian_nav::{LocationPrefix, LocationRules};

fuzz_target!(|data: &[u8]| {
    // The first line is the header value, the rest the body.
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (header, body) = data.split_at(split);
    if let Ok(request) = NavRequest::from_navi(Some(header), body.get(1..).unwrap_or_default()) {
        assert!(!request.token.is_empty() && !request.token.contains('@'));
        assert!(!request.app_key.is_empty());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(request) = NavRequest::from_query(text) {
            assert!(!request.token.contains('@'));
        }
        let rules = LocationRules {
            header: String::new(),
            prefixes: vec![LocationPrefix {
                prefix: text.to_string(),
                location: "fuzz".into(),
            }],
        };
        let _ = rules.locate("10.1.2.3".parse().unwrap());
        let _ = rules.locate("2001:db8::1".parse().unwrap());
    }
});
