//! The signature the Server API checks on every call (API-02) and every callback to the
//! app server carries (HOOK-05): lowercase hex SHA-1 of `secret + nonce + timestamp`.

use sha1::{Digest, Sha1};

pub fn signature(app_secret: &str, nonce: &str, timestamp: &str) -> String {
    let mut hasher = Sha1::new();
    hasher.update(app_secret.as_bytes());
    hasher.update(nonce.as_bytes());
    hasher.update(timestamp.as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `url` with the callback signature in its query: `appKey`, `nonce`, `signTimestamp`,
/// `signature` (COMPAT.md, "Callbacks to the app server").
pub fn signed_url(url: &str, app_key: &str, app_secret: &str, now_ms: u64) -> String {
    let nonce = rand::random::<u32>().to_string();
    let timestamp = now_ms.to_string();
    let signature = signature(app_secret, &nonce, &timestamp);
    let separator = if url.contains('?') { '&' } else { '?' };
    format!(
        "{url}{separator}appKey={app_key}&nonce={nonce}&signTimestamp={timestamp}&signature={signature}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query_param<'a>(url: &'a str, name: &str) -> &'a str {
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("{name} missing from {url}"))
    }

    // covers: HOOK-05
    #[test]
    fn callbacks_carry_the_server_api_signature_in_their_query() {
        // printf 'secret12314314%s' 1408710653491 | sha1sum
        assert_eq!(
            signature("secret123", "14314", "1408710653491"),
            "d23bc516c97098f423a6232cd807815884653e93"
        );
        for url in [
            "https://app.example.com/cb",
            "https://app.example.com/cb?x=1",
        ] {
            let signed = signed_url(url, "key1", "secret123", 1_408_710_653_491);
            assert!(signed.starts_with(url));
            assert_eq!(query_param(&signed, "appKey"), "key1");
            assert_eq!(query_param(&signed, "signTimestamp"), "1408710653491");
            let nonce = query_param(&signed, "nonce");
            assert_eq!(
                query_param(&signed, "signature"),
                signature("secret123", nonce, "1408710653491")
            );
        }
    }
}
