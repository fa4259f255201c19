//! Client tokens: parsing and verification of whatever a client presents.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meridian_access::token;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = token::peek(text);
    // Whatever verifies carries claims that issue a token verifying to the same claims.
    if let Ok(claims) = token::verify("fuzz-secret", text) {
        assert_eq!(
            token::verify("fuzz-secret", &token::issue("fuzz-secret", &claims)),
            Ok(claims)
        );
    }
});
