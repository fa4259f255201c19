//! The signed credentials of the file service, keyed with the App Secret (as tokens and
//! archive links are): any edge of the area checks them without asking anyone, and a
//! rotated secret retires them.
//!
//! * An upload grant is `base64url(JSON claims).signature`, carried in the upload URL.
//! * A download link carries its expiry `e` and signature `s` over the app, the file,
//!   the variant, the expiry and, when it names one, its conversation.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use meridian_access::token;
use meridian_proto::files::FileKind;
use meridian_proto::Conversation;
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
    /// The conversation the file is for: its links name it (private mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Conversation>,
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

/// A download link: a file (or its preview), until when, and in private mode the
/// conversation whose members may fetch it (`ct`, `c1`, `c2` in the query: its type
/// code and its two ids; the channel does not matter).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Link<'a> {
    pub app_key: &'a str,
    pub file_id: &'a str,
    pub variant: Variant,
    pub expires_ms: u64,
    pub scope: Option<&'a Conversation>,
}

impl Link<'_> {
    /// What the signature covers; a link without a scope signs as links always did.
    fn signed_text(&self) -> String {
        let mut text = format!(
            "file\n{}\n{}{}\n{}",
            self.app_key,
            self.file_id,
            self.variant.suffix(),
            self.expires_ms
        );
        if let Some(scope) = self.scope {
            let kind = scope.kind.code();
            text.push_str(&format!("\n{kind}\n{}\n{}", scope.first, scope.second));
        }
        text
    }

    pub(crate) fn url(&self, base_url: &str, app_secret: &str) -> String {
        let signature = token::sign(app_secret, &self.signed_text());
        let mut url = format!(
            "{base_url}{PREFIX}{}/{}{}?e={}&s={signature}",
            self.app_key,
            self.file_id,
            self.variant.suffix(),
            self.expires_ms
        );
        if let Some(scope) = self.scope {
            let encode =
                |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
            url.push_str(&format!(
                "&ct={}&c1={}&c2={}",
                scope.kind.code(),
                encode(&scope.first),
                encode(&scope.second)
            ));
        }
        url
    }

    /// Whether `signature` is the app's for this link.
    pub(super) fn signed(&self, app_secret: &str, signature: &str) -> bool {
        token::verify_signature(app_secret, &self.signed_text(), signature)
    }
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
            scope: Some(Conversation::private("u", "v", "")),
            expires_ms: 99,
        };
        let grant = claims.seal("secret");
        let (read, body, signature) = GrantClaims::read(&grant).unwrap();
        assert_eq!(read, claims);
        assert!(token::verify_signature("secret", body, signature));
        assert!(!token::verify_signature("other", body, signature));

        let group = Conversation::group_like(meridian_proto::ConversationType::Group, "g/1", "");
        let other = Conversation::group_like(meridian_proto::ConversationType::Group, "g2", "");
        let link = |variant, expires_ms, scope| Link {
            app_key: "k",
            file_id: "f",
            variant,
            expires_ms,
            scope,
        };
        let url = link(Variant::Original, 99, None).url("http://h", "secret");
        let signature = url.rsplit_once("s=").unwrap().1;
        assert!(link(Variant::Original, 99, None).signed("secret", signature));
        assert!(!link(Variant::Preview, 99, None).signed("secret", signature));
        assert!(!link(Variant::Original, 100, None).signed("secret", signature));
        assert!(!link(Variant::Original, 99, Some(&group)).signed("secret", signature));

        let scoped = link(Variant::Original, 99, Some(&group)).url("http://h", "secret");
        assert!(scoped.ends_with("&ct=3&c1=g%2F1&c2="), "{scoped}");
        let signature = scoped
            .split("s=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap();
        assert!(link(Variant::Original, 99, Some(&group)).signed("secret", signature));
        assert!(!link(Variant::Original, 99, Some(&other)).signed("secret", signature));
        assert!(!link(Variant::Original, 99, None).signed("secret", signature));
    }
}
