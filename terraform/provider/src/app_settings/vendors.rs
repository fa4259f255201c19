//! `push_vendor_app` blocks: the Chinese Android vendor channels of one app identifier
//! (PUSH-05), the admin API's `…/push-vendors`. Each vendor's block holds that vendor's
//! credential fields; the API shows secrets as [`REDACTED_KEY`] and a write carrying it
//! keeps the stored secret, so the state keeps the configured one. An endpoint or token
//! URI left out takes the API's default and stays null in the state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map};
use tf_provider::schema::{AttributeType, Block, Description, NestedBlock};
use tf_provider::value::{self, Value};
use tf_provider::{map, AttributePath, Diagnostics};

use super::push::REDACTED_KEY;
use super::{at_most, check_url};
use crate::attributes::{camel, check_at, optional, required, sensitive, text};

const MAX_APPS: usize = 20;

/// What a field of a vendor's credentials is.
#[derive(Clone, Copy, PartialEq)]
enum Field {
    Required,
    /// Required and never shown by the API.
    Secret,
    /// A URL with the API's default.
    Url,
}

/// The vendors in the admin API's names, and their fields as this provider names them
/// (the API's in camelCase).
const VENDORS: [(&str, &[(&str, Field)]); 6] = [
    (
        "huawei",
        &[
            ("app_id", Field::Required),
            ("app_secret", Field::Secret),
            ("token_uri", Field::Url),
            ("endpoint", Field::Url),
        ],
    ),
    (
        "xiaomi",
        &[
            ("app_secret", Field::Secret),
            ("package_name", Field::Required),
            ("endpoint", Field::Url),
        ],
    ),
    (
        "oppo",
        &[
            ("app_key", Field::Required),
            ("master_secret", Field::Secret),
            ("endpoint", Field::Url),
        ],
    ),
    (
        "vivo",
        &[
            ("app_id", Field::Required),
            ("app_key", Field::Required),
            ("app_secret", Field::Secret),
            ("endpoint", Field::Url),
        ],
    ),
    (
        "meizu",
        &[
            ("app_id", Field::Required),
            ("app_secret", Field::Secret),
            ("endpoint", Field::Url),
        ],
    ),
    (
        "honor",
        &[
            ("app_id", Field::Required),
            ("client_id", Field::Required),
            ("client_secret", Field::Secret),
            ("token_uri", Field::Url),
            ("endpoint", Field::Url),
        ],
    ),
];

/// One vendor's credentials: every field of its block, by this provider's names.
pub type VendorState = BTreeMap<String, Value<String>>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VendorAppState {
    app_id: Value<String>,
    #[serde(with = "value::serde_as_vec")]
    huawei: Value<VendorState>,
    #[serde(with = "value::serde_as_vec")]
    xiaomi: Value<VendorState>,
    #[serde(with = "value::serde_as_vec")]
    oppo: Value<VendorState>,
    #[serde(with = "value::serde_as_vec")]
    vivo: Value<VendorState>,
    #[serde(with = "value::serde_as_vec")]
    meizu: Value<VendorState>,
    #[serde(with = "value::serde_as_vec")]
    honor: Value<VendorState>,
}

impl VendorAppState {
    fn vendors(&self) -> [(&'static str, &Value<VendorState>); 6] {
        [
            ("huawei", &self.huawei),
            ("xiaomi", &self.xiaomi),
            ("oppo", &self.oppo),
            ("vivo", &self.vivo),
            ("meizu", &self.meizu),
            ("honor", &self.honor),
        ]
    }

    fn vendor_mut(&mut self, vendor: &str) -> Option<&mut Value<VendorState>> {
        Some(match vendor {
            "huawei" => &mut self.huawei,
            "xiaomi" => &mut self.xiaomi,
            "oppo" => &mut self.oppo,
            "vivo" => &mut self.vivo,
            "meizu" => &mut self.meizu,
            "honor" => &mut self.honor,
            _ => return None,
        })
    }
}

fn fields_of(vendor: &str) -> &'static [(&'static str, Field)] {
    VENDORS
        .iter()
        .find(|(name, _)| *name == vendor)
        .map_or(&[], |(_, fields)| *fields)
}

pub fn schema() -> NestedBlock {
    let vendor_block = |vendor: &str, doc: &str| {
        let attributes = fields_of(vendor)
            .iter()
            .map(|&(name, field)| {
                let attribute = match field {
                    Field::Required => {
                        required(AttributeType::String, &format!("{vendor} {name}."))
                    }
                    Field::Secret => sensitive(required(
                        AttributeType::String,
                        &format!("{vendor} {name} (never shown by the admin API)."),
                    )),
                    Field::Url => optional(
                        AttributeType::String,
                        &format!("{vendor} {name}; left out, the vendor's public one."),
                    ),
                };
                (name.to_string(), attribute)
            })
            .collect();
        NestedBlock::Optional(Block {
            description: Description::plain(doc),
            attributes,
            ..Default::default()
        })
    };
    NestedBlock::List(Block {
        description: Description::plain(format!(
            "Chinese Android vendor push channels of one Android applicationId (at most {MAX_APPS}); a device registered with a vendor's provider is pushed through its block. Secrets changed outside Terraform are not seen as drift."
        )),
        attributes: map! {
            "app_id" => required(AttributeType::String, "Android applicationId, 1 to 128 characters, each listed once."),
        },
        blocks: map! {
            "huawei" => vendor_block("huawei", "Huawei Push Kit: the app's OAuth2 client (AppGallery Connect)."),
            "xiaomi" => vendor_block("xiaomi", "Xiaomi MiPush: the AppSecret and the package it may push to."),
            "oppo" => vendor_block("oppo", "OPPO PUSH: AppKey and MasterSecret."),
            "vivo" => vendor_block("vivo", "vivo push: AppID, AppKey and AppSecret."),
            "meizu" => vendor_block("meizu", "Meizu Flyme push: AppID and AppSecret."),
            "honor" => vendor_block("honor", "Honor Push: app id and OAuth2 client."),
        },
        ..Default::default()
    })
}

/// The admin API's body for these blocks.
pub fn to_remote(apps: &Value<Vec<VendorAppState>>) -> serde_json::Value {
    let apps: Vec<serde_json::Value> = apps
        .iter()
        .flatten()
        .map(|app| {
            let channels: Vec<serde_json::Value> = app
                .vendors()
                .into_iter()
                .filter_map(|(vendor, state)| {
                    let fields: Map<String, serde_json::Value> = state
                        .as_ref_option()?
                        .iter()
                        .filter_map(|(name, value)| {
                            Some((camel(name), json!(value.as_ref_option()?)))
                        })
                        .collect();
                    Some(json!({ vendor: fields }))
                })
                .collect();
            json!({ "appId": text(&app.app_id), "channels": channels })
        })
        .collect();
    json!({ "apps": apps })
}

/// The blocks as the admin API's answer (`pushVendors`) has them.
pub fn from_remote(answer: &serde_json::Value) -> Result<Value<Vec<VendorAppState>>, String> {
    let malformed = || format!("push vendors: {answer}");
    let mut apps = Vec::new();
    for app in answer["apps"].as_array().ok_or_else(malformed)? {
        let mut state = VendorAppState {
            app_id: app["appId"]
                .as_str()
                .ok_or_else(malformed)?
                .to_string()
                .into(),
            ..Default::default()
        };
        for channel in app["channels"].as_array().ok_or_else(malformed)? {
            let (vendor, fields) = channel
                .as_object()
                .and_then(|o| o.iter().next())
                .ok_or_else(malformed)?;
            let slot = state.vendor_mut(vendor).ok_or_else(malformed)?;
            let vendor_state: VendorState = fields_of(vendor)
                .iter()
                .map(|&(name, _)| {
                    let value = fields[camel(name)].as_str().map(str::to_string);
                    (name.to_string(), value.into())
                })
                .collect();
            *slot = Value::Value(vendor_state);
        }
        apps.push(state);
    }
    Ok(Value::Value(apps))
}

/// Puts the secrets of `known` (the state before a read, the plan before a write) in
/// place of the placeholder the API answers, and keeps URLs `known` leaves null null
/// (the API answers its defaults), for the same app identifier and vendor.
pub fn keep_known(apps: &mut Value<Vec<VendorAppState>>, known: &Value<Vec<VendorAppState>>) {
    let (Some(apps), Some(known)) = (apps.as_mut_option(), known.as_ref_option()) else {
        return;
    };
    for app in apps {
        let Some(known_app) = known.iter().find(|k| k.app_id == app.app_id) else {
            continue;
        };
        for (vendor, known_vendor) in known_app.vendors() {
            let (Some(Value::Value(state)), Some(known_vendor)) =
                (app.vendor_mut(vendor), known_vendor.as_ref_option())
            else {
                continue;
            };
            for &(name, field) in fields_of(vendor) {
                let (Some(value), Some(known_value)) =
                    (state.get_mut(name), known_vendor.get(name))
                else {
                    continue;
                };
                let redacted = value.as_ref_option().is_some_and(|v| v == REDACTED_KEY);
                match field {
                    Field::Secret if redacted => *value = known_value.clone(),
                    Field::Url if known_value.is_null() => *value = Value::Null,
                    _ => {}
                }
            }
        }
    }
}

/// Checks the blocks against the admin API's limits.
pub fn validate(diags: &mut Diagnostics, apps: &Value<Vec<VendorAppState>>) {
    crate::attributes::check(diags, "push_vendor_app", apps, at_most(MAX_APPS, "blocks"));
    let Some(apps) = apps.as_ref_option() else {
        return;
    };
    for (i, app) in apps.iter().enumerate() {
        let path = AttributePath::new("push_vendor_app").index(i as i64);
        check_at(
            diags,
            path.clone().attribute("app_id"),
            "app_id",
            &app.app_id,
            |id: &str| match id.chars().count() {
                1..=128 => Ok(()),
                _ => Err("must be 1 to 128 characters".into()),
            },
        );
        if apps[..i]
            .iter()
            .any(|other| other.app_id.is_value() && other.app_id == app.app_id)
        {
            diags.error(
                "Invalid app_id",
                format!("{} has two push_vendor_app blocks", text(&app.app_id)),
                path.clone().attribute("app_id"),
            );
        }
        for (vendor, state) in app.vendors() {
            let Some(state) = state.as_ref_option() else {
                continue;
            };
            for &(name, field) in fields_of(vendor) {
                let at = path.clone().attribute(vendor).index(0).attribute(name);
                let value = state.get(name).cloned().unwrap_or_default();
                match field {
                    Field::Url => check_at(diags, at, name, &value, check_url),
                    Field::Required | Field::Secret => {
                        check_at(diags, at, name, &value, |v: &str| {
                            match (v.is_empty(), v == REDACTED_KEY) {
                                (false, false) => Ok(()),
                                (true, _) => Err("must not be empty".into()),
                                (_, true) => Err(format!(
                                    "{REDACTED_KEY} is what the API shows, not a value"
                                )),
                            }
                        })
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_go_out_as_the_api_wants_and_come_back_with_secrets_and_defaults_kept() {
        let planned: Value<Vec<VendorAppState>> = serde_json::from_value(json!([{
            "app_id": "com.example.chat",
            "huawei": [{"app_id": "1001", "app_secret": "s3cret", "token_uri": null, "endpoint": null}],
            "xiaomi": [{"app_secret": "mi", "package_name": "com.example.chat", "endpoint": "https://mi.test"}],
        }]))
        .unwrap();
        let body = to_remote(&planned);
        assert_eq!(
            body,
            json!({"apps": [{"appId": "com.example.chat", "channels": [
                {"huawei": {"appId": "1001", "appSecret": "s3cret"}},
                {"xiaomi": {"appSecret": "mi", "packageName": "com.example.chat", "endpoint": "https://mi.test"}},
            ]}]})
        );
        // The API answers redacted secrets and its default URLs.
        let answer = json!({"apps": [{"appId": "com.example.chat", "channels": [
            {"xiaomi": {"appSecret": REDACTED_KEY, "packageName": "com.example.chat", "endpoint": "https://mi.test"}},
            {"huawei": {"appId": "1001", "appSecret": REDACTED_KEY,
                "tokenUri": "https://oauth-login.cloud.huawei.com/oauth2/v3/token",
                "endpoint": "https://push-api.cloud.huawei.com"}},
        ]}]});
        let mut stored = from_remote(&answer).unwrap();
        keep_known(&mut stored, &planned);
        assert_eq!(stored, planned);
    }
}
