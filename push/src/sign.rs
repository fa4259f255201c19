//! The digests vendors sign their authentication requests with, as lowercase hex.

use md5::{Digest, Md5};
use ring::digest::{digest, SHA256};

/// SHA-256 of `text`, lowercase hex (OPPO's `sign`).
pub(crate) fn sha256_hex(text: &str) -> String {
    hex(digest(&SHA256, text.as_bytes()).as_ref())
}

/// MD5 of `text`, lowercase hex (vivo's `sign`; ring has no MD5).
pub(crate) fn md5_hex(text: &str) -> String {
    hex(&Md5::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // covers: PUSH-05
    #[test]
    fn digests_are_lowercase_hex() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
    }
}
