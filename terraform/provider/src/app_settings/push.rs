//! `push_app` blocks: the push credentials of one app identifier (iOS bundle id, Android
//! applicationId), the admin API's `push.apps`. The API never shows a private key: it
//! answers [`REDACTED_KEY`] instead, and a write carrying that placeholder keeps the
//! stored key. The state keeps the configured key, so plans compare it with the
//! configuration and not with the placeholder.

use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeType, Block, Description, NestedBlock};
use tf_provider::value::{self, Value};
use tf_provider::{map, AttributePath, Diagnostics};

use super::{at_most, check_url};
use crate::attributes::{check_at, optional_computed, or_default, required, sensitive, text};

const MAX_APPS: usize = 20;
const MAX_APP_ID_CHARS: usize = 128;
/// What the admin API shows instead of a private key.
pub const REDACTED_KEY: &str = "<redacted>";
/// The admin API's defaults.
const APNS_ENDPOINT: &str = "https://api.push.apple.com";
const FCM_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
const FCM_ENDPOINT: &str = "https://fcm.googleapis.com";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PushAppState {
    app_id: Value<String>,
    #[serde(with = "value::serde_as_vec")]
    apns: Value<ApnsState>,
    #[serde(with = "value::serde_as_vec")]
    fcm: Value<FcmState>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApnsState {
    team_id: Value<String>,
    key_id: Value<String>,
    private_key_pem: Value<String>,
    endpoint: Value<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FcmState {
    project_id: Value<String>,
    client_email: Value<String>,
    private_key_pem: Value<String>,
    token_uri: Value<String>,
    endpoint: Value<String>,
}

/// An app identifier's credentials as the admin API reads and writes them.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemotePushApp {
    app_id: String,
    apns: Option<RemoteApns>,
    fcm: Option<RemoteFcm>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RemoteApns {
    team_id: String,
    key_id: String,
    private_key_pem: String,
    /// Always the app identifier it is listed under.
    bundle_id: String,
    endpoint: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RemoteFcm {
    project_id: String,
    client_email: String,
    private_key_pem: String,
    token_uri: String,
    endpoint: String,
}

pub fn schema() -> NestedBlock {
    let text = AttributeType::String;
    let apns = Block {
        description: Description::plain(
            "APNs token-based (.p8) credentials; the bundle id is the app_id.",
        ),
        attributes: map! {
            "team_id" => required(text.clone(), "Apple Developer team id, 10 letters or digits."),
            "key_id" => required(text.clone(), "The .p8 key's id, 10 letters or digits."),
            "private_key_pem" => sensitive(required(text.clone(), "The .p8 file's contents (PKCS#8 PEM, P-256), e.g. file(\"AuthKey_ABC123DEFG.p8\").")),
            "endpoint" => optional_computed(text.clone(), "APNs endpoint (default https://api.push.apple.com; the sandbox is https://api.sandbox.push.apple.com)."),
        },
        ..Default::default()
    };
    let fcm = Block {
        description: Description::plain(
            "FCM HTTP v1 credentials: fields of a Firebase service account key.",
        ),
        attributes: map! {
            "project_id" => required(text.clone(), "Firebase project id (lowercase letters, digits and -)."),
            "client_email" => required(text.clone(), "The service account's e-mail."),
            "private_key_pem" => sensitive(required(text.clone(), "The service account's private_key (PKCS#8 PEM, RSA).")),
            "token_uri" => optional_computed(text.clone(), "OAuth2 token endpoint (default https://oauth2.googleapis.com/token)."),
            "endpoint" => optional_computed(text.clone(), "FCM endpoint (default https://fcm.googleapis.com)."),
        },
        ..Default::default()
    };
    NestedBlock::List(Block {
        description: Description::plain(format!(
            "Push credentials of one app identifier (at most {MAX_APPS}). The admin API never shows private keys: a key changed outside Terraform is not seen as drift."
        )),
        attributes: map! {
            "app_id" => required(text, "iOS bundle id or Android applicationId, 1 to 128 characters, each listed once."),
        },
        blocks: map! {
            "apns" => NestedBlock::Optional(apns),
            "fcm" => NestedBlock::Optional(fcm),
        },
        ..Default::default()
    })
}

impl PushAppState {
    /// The configured credentials with the API's defaults for what is left out.
    pub fn planned(config: Self) -> Self {
        Self {
            app_id: config.app_id,
            apns: config.apns.map(|apns| ApnsState {
                endpoint: or_default(apns.endpoint, APNS_ENDPOINT.to_string()),
                ..apns
            }),
            fcm: config.fcm.map(|fcm| FcmState {
                token_uri: or_default(fcm.token_uri, FCM_TOKEN_URI.to_string()),
                endpoint: or_default(fcm.endpoint, FCM_ENDPOINT.to_string()),
                ..fcm
            }),
        }
    }

    pub fn to_remote(&self) -> RemotePushApp {
        let app_id = text(&self.app_id).to_string();
        RemotePushApp {
            apns: self.apns.as_ref_option().map(|apns| RemoteApns {
                team_id: text(&apns.team_id).to_string(),
                key_id: text(&apns.key_id).to_string(),
                private_key_pem: text(&apns.private_key_pem).to_string(),
                bundle_id: app_id.clone(),
                endpoint: text(&apns.endpoint).to_string(),
            }),
            fcm: self.fcm.as_ref_option().map(|fcm| RemoteFcm {
                project_id: text(&fcm.project_id).to_string(),
                client_email: text(&fcm.client_email).to_string(),
                private_key_pem: text(&fcm.private_key_pem).to_string(),
                token_uri: text(&fcm.token_uri).to_string(),
                endpoint: text(&fcm.endpoint).to_string(),
            }),
            app_id,
        }
    }

    /// Adds an error for each value the admin API would refuse; `path` is the block's.
    fn validate(&self, diags: &mut Diagnostics, path: &AttributePath) {
        check_at(
            diags,
            path.clone().attribute("app_id"),
            "app_id",
            &self.app_id,
            |id: &str| match id.chars().count() {
                1..=MAX_APP_ID_CHARS => Ok(()),
                _ => Err(format!("must be 1 to {MAX_APP_ID_CHARS} characters")),
            },
        );
        if let Value::Value(apns) = &self.apns {
            let at = |name: &'static str| path.clone().attribute("apns").index(0).attribute(name);
            check_at(
                diags,
                at("team_id"),
                "team_id",
                &apns.team_id,
                check_apple_id,
            );
            check_at(diags, at("key_id"), "key_id", &apns.key_id, check_apple_id);
            check_at(
                diags,
                at("private_key_pem"),
                "private_key_pem",
                &apns.private_key_pem,
                check_pem,
            );
            check_at(diags, at("endpoint"), "endpoint", &apns.endpoint, check_url);
        }
        if let Value::Value(fcm) = &self.fcm {
            let at = |name: &'static str| path.clone().attribute("fcm").index(0).attribute(name);
            check_at(
                diags,
                at("project_id"),
                "project_id",
                &fcm.project_id,
                |id: &str| {
                    let valid = !id.is_empty()
                        && id
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                    match valid {
                        true => Ok(()),
                        false => Err("must be lowercase letters, digits and '-'".into()),
                    }
                },
            );
            check_at(
                diags,
                at("client_email"),
                "client_email",
                &fcm.client_email,
                |email: &str| match email.contains('@') {
                    true => Ok(()),
                    false => Err("must be the service account's e-mail".into()),
                },
            );
            check_at(
                diags,
                at("private_key_pem"),
                "private_key_pem",
                &fcm.private_key_pem,
                check_pem,
            );
            check_at(
                diags,
                at("token_uri"),
                "token_uri",
                &fcm.token_uri,
                check_url,
            );
            check_at(diags, at("endpoint"), "endpoint", &fcm.endpoint, check_url);
        }
    }
}

impl From<RemotePushApp> for PushAppState {
    fn from(app: RemotePushApp) -> Self {
        Self {
            app_id: app.app_id.into(),
            apns: app
                .apns
                .map(|apns| ApnsState {
                    team_id: apns.team_id.into(),
                    key_id: apns.key_id.into(),
                    private_key_pem: apns.private_key_pem.into(),
                    endpoint: apns.endpoint.into(),
                })
                .into(),
            fcm: app
                .fcm
                .map(|fcm| FcmState {
                    project_id: fcm.project_id.into(),
                    client_email: fcm.client_email.into(),
                    private_key_pem: fcm.private_key_pem.into(),
                    token_uri: fcm.token_uri.into(),
                    endpoint: fcm.endpoint.into(),
                })
                .into(),
        }
    }
}

/// Checks the `push_app` blocks against the admin API's limits.
pub fn validate(diags: &mut Diagnostics, apps: &Value<Vec<PushAppState>>) {
    crate::attributes::check(diags, "push_app", apps, at_most(MAX_APPS, "blocks"));
    let Some(apps) = apps.as_ref_option() else {
        return;
    };
    for (i, app) in apps.iter().enumerate() {
        let path = AttributePath::new("push_app").index(i as i64);
        app.validate(diags, &path);
        let listed_before = apps[..i]
            .iter()
            .any(|other| other.app_id.is_value() && other.app_id == app.app_id);
        if listed_before {
            diags.error(
                "Invalid app_id",
                format!("{} has two push_app blocks", text(&app.app_id)),
                path.attribute("app_id"),
            );
        }
    }
}

/// Puts the keys of `known` (the state before a read, or the plan before a write) in
/// place of the placeholder the admin API answers, for the same app identifier. A key
/// not known (an import, credentials added outside Terraform) stays the placeholder, so
/// the plan writes the configured one.
pub fn keep_keys(apps: &mut Value<Vec<PushAppState>>, known: &Value<Vec<PushAppState>>) {
    let (Some(apps), Some(known)) = (apps.as_mut_option(), known.as_ref_option()) else {
        return;
    };
    for app in apps {
        let known = known.iter().find(|k| k.app_id == app.app_id);
        if let Value::Value(apns) = &mut app.apns {
            let known_key = known
                .and_then(|k| k.apns.as_ref_option())
                .map(|k| &k.private_key_pem);
            keep_key(&mut apns.private_key_pem, known_key);
        }
        if let Value::Value(fcm) = &mut app.fcm {
            let known_key = known
                .and_then(|k| k.fcm.as_ref_option())
                .map(|k| &k.private_key_pem);
            keep_key(&mut fcm.private_key_pem, known_key);
        }
    }
}

fn keep_key(key: &mut Value<String>, known: Option<&Value<String>>) {
    let redacted = key.as_ref_option().is_some_and(|k| k == REDACTED_KEY);
    if let (true, Some(Value::Value(known))) = (redacted, known) {
        *key = Value::Value(known.clone());
    }
}

/// Apple's team and key ids.
fn check_apple_id(id: &str) -> Result<(), String> {
    if id.len() == 10 && id.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err("must be 10 letters or digits".into())
    }
}

/// A private key as the admin API wants it: PKCS#8 PEM (not the placeholder it shows).
fn check_pem(pem: &str) -> Result<(), String> {
    if pem.contains("-----BEGIN PRIVATE KEY-----") {
        Ok(())
    } else {
        Err("must be a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)".into())
    }
}
