//! The signed credentials of the file service, keyed with the App Secret (as tokens and
//! archive links are): any edge of the area checks them without asking anyone, and a
//! rotated secret retires them.
//!
//! * An upload grant is `base64url(JSON claims).signature`, carried in the upload URL.
//! * A download link carries its expiry `e` and signature `s` over the app, the file,
//!   the variant and the expiry.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use meridian_access::token;
use meridian_proto::files::FileKind;
use serde::{Deserialize, Serialize};

use super::PREFIX;

/// What an upload grant allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GrantClaims {
    pub app_key: String,
    pub file_id: String,
    pub kind: FileKind,
    /// The most bytes the upload may hold.
    pub size: u64,
    pub name: String,
    pub content_type: String,
    /// The uploading user; empty for the app server.
    pub owner: String,
    /// How long the file is kept, when the uploader asked for less than the app's link
    /// lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_seconds: Option<u64>,
    pub expires_ms: u64,
}

impl GrantClaims {
    pub(super) fn seal(&self, app_secret: &str) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default());
        let signature = token::sign(app_secret, &body);
        format!("{body}.{signature}")
    }

    /// The claims a grant states, not yet checked: their app names the secret to check
    /// them with.
    pub(super) fn read(grant: &str) -> Option<(GrantClaims, &str, &str)> {
        let (body, signature) = grant.split_once('.')?;
        let claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()?;
        Some((claims, body, signature))
    }
}

/// The original file or its resized preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    Original,
    Preview,
}

impl Variant {
    fn suffix(self) -> &'static str {
        match self {
            Variant::Original => "",
            Variant::Preview => "/preview",
        }
    }
}

fn signed_text(app_key: &str, file_id: &str, variant: Variant, expires_ms: u64) -> String {
    format!(
        "file\n{app_key}\n{file_id}{}\n{expires_ms}",
        variant.suffix()
    )
}

pub(crate) fn download_link(
    base_url: &str,
    app_secret: &str,
    app_key: &str,
    file_id: &str,
    variant: Variant,
    expires_ms: u64,
) -> String {
    let signature = token::sign(
        app_secret,
        &signed_text(app_key, file_id, variant, expires_ms),
    );
    format!(
        "{base_url}{PREFIX}{app_key}/{file_id}{}?e={expires_ms}&s={signature}",
        variant.suffix()
    )
}

/// Whether a link's signature is the app's for this file and expiry.
pub(super) fn link_signed(
    app_secret: &str,
    app_key: &str,
    file_id: &str,
    variant: Variant,
    expires_ms: u64,
    signature: &str,
) -> bool {
    let text = signed_text(app_key, file_id, variant, expires_ms);
    token::verify_signature(app_secret, &text, signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_reads_back_and_a_link_verifies_only_as_signed() {
        let claims = GrantClaims {
            app_key: "k".into(),
            file_id: "f".into(),
            kind: FileKind::Image,
            size: 10,
            name: "a.png".into(),
            content_type: "image/png".into(),
            owner: "u".into(),
            keep_seconds: Some(60),
            expires_ms: 99,
        };
        let grant = claims.seal("secret");
        let (read, body, signature) = GrantClaims::read(&grant).unwrap();
        assert_eq!(read, claims);
        assert!(token::verify_signature("secret", body, signature));
        assert!(!token::verify_signature("other", body, signature));

        let link = download_link("http://h", "secret", "k", "f", Variant::Original, 99);
        let signature = link.rsplit_once("s=").unwrap().1;
        assert!(link_signed(
            "secret",
            "k",
            "f",
            Variant::Original,
            99,
            signature
        ));
        assert!(!link_signed(
            "secret",
            "k",
            "f",
            Variant::Preview,
            99,
            signature
        ));
        assert!(!link_signed(
            "secret",
            "k",
            "f",
            Variant::Original,
            100,
            signature
        ));
        assert!(!link_signed(
            "secret",
            "k",
            "g",
            Variant::Original,
            99,
            signature
        ));
    }
}
