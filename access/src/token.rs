//! User tokens: what `/user/getToken.json` issues and what a client presents to connect.
//!
//! A token is opaque to apps: URL-safe base64 of `appKey \n userId \n issuedAtMs \n mac`,
//! where `mac` is HMAC-SHA256 over the first three fields keyed with the App Secret of the
//! environment. Every `getToken` issues a new token and earlier ones stay valid, as with
//! the commercial service, until `/user/token/expire.json` refuses tokens issued before a
//! given time (the user's `tokens_valid_after_ms`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    pub app_key: String,
    pub user_id: String,
    pub issued_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is malformed")]
    Malformed,
    #[error("token signature does not match")]
    BadSignature,
}

fn mac(app_secret: &str, body: &str) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(app_secret.as_bytes()).ok()?;
    mac.update(body.as_bytes());
    Some(mac)
}

/// An HMAC-SHA256 of `text` keyed with the App Secret, URL-safe base64: what tokens and
/// archive download links carry.
pub fn sign(app_secret: &str, text: &str) -> String {
    mac(app_secret, text)
        .map(|m| URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Whether `signature` is [`sign`] of `text` (compared in constant time).
pub fn verify_signature(app_secret: &str, text: &str, signature: &str) -> bool {
    let Ok(tag) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    mac(app_secret, text).is_some_and(|m| m.verify_slice(&tag).is_ok())
}

pub fn issue(app_secret: &str, claims: &TokenClaims) -> String {
    let body = format!(
        "{}\n{}\n{}",
        claims.app_key, claims.user_id, claims.issued_at_ms
    );
    let tag = sign(app_secret, &body);
    URL_SAFE_NO_PAD.encode(format!("{body}\n{tag}"))
}

/// Reads a token's claims without checking its signature (to find the app it is for).
/// Anything after `@` (nav hosts, as commercial clients expect) is ignored.
pub fn peek(token: &str) -> Result<(TokenClaims, String, String), TokenError> {
    let token = token.split('@').next().unwrap_or_default();
    let decoded = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| TokenError::Malformed)?;
    let text = String::from_utf8(decoded).map_err(|_| TokenError::Malformed)?;
    let mut parts = text.split('\n');
    let (Some(app_key), Some(user_id), Some(issued), Some(tag), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(TokenError::Malformed);
    };
    let issued_at_ms = issued.parse().map_err(|_| TokenError::Malformed)?;
    let body = format!("{app_key}\n{user_id}\n{issued}");
    let claims = TokenClaims {
        app_key: app_key.to_string(),
        user_id: user_id.to_string(),
        issued_at_ms,
    };
    Ok((claims, body, tag.to_string()))
}

/// The token's claims if it was issued with `app_secret`.
pub fn verify(app_secret: &str, token: &str) -> Result<TokenClaims, TokenError> {
    let (claims, body, tag) = peek(token)?;
    if URL_SAFE_NO_PAD.decode(&tag).is_err() {
        return Err(TokenError::Malformed);
    }
    if !verify_signature(app_secret, &body, &tag) {
        return Err(TokenError::BadSignature);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> TokenClaims {
        TokenClaims {
            app_key: "appkey01".into(),
            user_id: "alice".into(),
            issued_at_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn a_token_verifies_with_its_secret_only() {
        let token = issue("secret-a", &claims());
        assert_eq!(verify("secret-a", &token), Ok(claims()));
        assert_eq!(verify("secret-b", &token), Err(TokenError::BadSignature));
        // Nav hosts after '@' are tolerated.
        assert_eq!(
            verify("secret-a", &format!("{token}@nav1.example;nav2.example")),
            Ok(claims())
        );
    }

    #[test]
    fn tampered_or_garbage_tokens_are_refused() {
        let token = issue("secret-a", &claims());
        let (_, body, tag) = peek(&token).unwrap();
        let forged = URL_SAFE_NO_PAD.encode(format!("{}\n{tag}", body.replace("alice", "mallory")));
        assert_eq!(verify("secret-a", &forged), Err(TokenError::BadSignature));
        for garbage in [
            "",
            "!!!",
            &URL_SAFE_NO_PAD.encode("a\nb\nnot-a-number\nx"),
            &URL_SAFE_NO_PAD.encode("a\nb"),
        ] {
            assert_eq!(
                verify("secret-a", garbage),
                Err(TokenError::Malformed),
                "{garbage:?}"
            );
        }
    }
}
