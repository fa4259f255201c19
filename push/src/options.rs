//! What an app server asks of one notification beyond its text (API-07, PUSH-05): the
//! commercial service's `count` (the badge), `contentAvailable` (wake the iOS app in the
//! background) and each channel's options, which its calls carry in two shapes: a
//! message's `pushExt.pushConfigs` (`[{"HW": {...}}, {"APNs": {...}}, ...]`) and a
//! push-only notification's `notification.ios` and `notification.android.{hw,mi,...}`.
//! The senders put each option where its provider reads it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The longest option value (an image URL is the longest kind).
pub const MAX_OPTION_CHARS: usize = 1_024;
/// APNs refuses an `apns-collapse-id` longer than this.
pub const MAX_APNS_COLLAPSE_ID_BYTES: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushOptions {
    /// The app icon's badge instead of the user's unread total (APNs, FCM).
    pub badge: Option<u32>,
    /// APNs `content-available: 1`: the app runs briefly in the background.
    pub content_available: bool,
    pub apns: ApnsOptions,
    pub fcm: FcmOptions,
    pub huawei: HuaweiOptions,
    pub honor: HonorOptions,
    pub xiaomi: XiaomiOptions,
    pub oppo: OppoOptions,
    pub vivo: VivoOptions,
    /// `pushExt.templateId`: the app's push template whose text, in the recipient's push
    /// language, replaces the message's push text (the cluster resolves it per user).
    pub template_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApnsOptions {
    /// `aps.thread-id`: notifications of one thread are grouped.
    pub thread_id: Option<String>,
    /// `apns-collapse-id`: a later notification with it replaces the earlier one.
    pub collapse_id: Option<String>,
    /// `aps.category`: the notification's actions, as the app registered them.
    pub category: Option<String>,
    /// `aps.interruption-level`: passive, active, time-sensitive or critical.
    pub interruption_level: Option<String>,
    /// A picture or video the app's notification service extension downloads
    /// (`mutable-content: 1` and `richMediaUri`).
    pub rich_media_uri: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FcmOptions {
    pub channel_id: Option<String>,
    /// `android.collapse_key`: only the last of a key is kept while the device is away.
    pub collapse_key: Option<String>,
    pub image_url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HuaweiOptions {
    pub channel_id: Option<String>,
    /// `LOW` (marketing) or `NORMAL` (service and communication), or `HIGH`.
    pub importance: Option<String>,
    /// Push Kit's self-classification (`android.category`, e.g. `IM`, `VOIP`).
    pub category: Option<String>,
    pub image: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HonorOptions {
    /// `LOW` or `NORMAL`.
    pub importance: Option<String>,
    pub image: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct XiaomiOptions {
    pub channel_id: Option<String>,
    pub large_icon_uri: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OppoOptions {
    pub channel_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VivoOptions {
    /// 0: operational message, 1: system message (vivo's two quotas).
    pub classification: Option<u8>,
    /// vivo's secondary classification (`IM`, `ORDER`, ...).
    pub category: Option<String>,
}

/// An option value of a JSON object: a string, or a number or flag as its text.
fn text(object: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(u8::from(*b).to_string())),
        Some(_) => Err(format!("{key} must be a string")),
    }
}

fn object<'a>(value: &'a Value, name: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("{name} must be a JSON object"))
}

impl ApnsOptions {
    fn read(o: &Map<String, Value>) -> Result<Self, String> {
        Ok(Self {
            // `threadId` as the Go SDK names it.
            thread_id: text(o, "thread-id")?.or(text(o, "threadId")?),
            collapse_id: text(o, "apns-collapse-id")?,
            category: text(o, "category")?,
            interruption_level: text(o, "interruption-level")?,
            rich_media_uri: text(o, "richMediaUri")?,
        })
    }
}

impl FcmOptions {
    fn read(o: &Map<String, Value>) -> Result<Self, String> {
        Ok(Self {
            channel_id: text(o, "channelId")?,
            collapse_key: text(o, "collapse_key")?,
            image_url: text(o, "imageUrl")?,
        })
    }
}

impl HuaweiOptions {
    fn read(o: &Map<String, Value>) -> Result<Self, String> {
        Ok(Self {
            channel_id: text(o, "channelId")?,
            importance: text(o, "importance")?,
            category: text(o, "category")?,
            image: text(o, "image")?,
        })
    }
}

impl HonorOptions {
    fn read(o: &Map<String, Value>) -> Result<Self, String> {
        Ok(Self {
            importance: text(o, "importance")?,
            image: text(o, "image")?,
        })
    }
}

impl XiaomiOptions {
    fn read(o: &Map<String, Value>) -> Result<Self, String> {
        Ok(Self {
            channel_id: text(o, "channelId")?,
            large_icon_uri: text(o, "large_icon_uri")?,
        })
    }
}

impl OppoOptions {
    fn read(o: &Map<String, Value>) -> Result<Self, String> {
        Ok(Self {
            channel_id: text(o, "channelId")?,
        })
    }
}

impl VivoOptions {
    fn read(o: &Map<String, Value>) -> Result<Self, String> {
        let classification = match text(o, "classification")?.as_deref() {
            None => None,
            Some("0") => Some(0),
            Some("1") => Some(1),
            Some(other) => return Err(format!("VIVO classification must be 0 or 1, not {other}")),
        };
        Ok(Self {
            classification,
            category: text(o, "category")?,
        })
    }
}

impl PushOptions {
    /// Takes a message's `pushExt.pushConfigs`: a list of one-vendor objects keyed `HW`,
    /// `HONOR`, `MI`, `OPPO`, `VIVO`, `APNs` or `FCM`, or one object of them all (the Java
    /// SDK's sample sends that); other vendors' keys are left alone, as the commercial
    /// service leaves them.
    pub fn read_push_configs(&mut self, configs: &Value) -> Result<(), String> {
        let list = match configs {
            Value::Null => return Ok(()),
            Value::Array(list) => list.as_slice(),
            Value::Object(_) => std::slice::from_ref(configs),
            _ => return Err("pushConfigs must be a list".into()),
        };
        for entry in list {
            for (vendor, value) in object(entry, "a pushConfigs entry")? {
                let o = object(value, vendor)?;
                match vendor.as_str() {
                    "HW" => self.huawei = HuaweiOptions::read(o)?,
                    "HONOR" => self.honor = HonorOptions::read(o)?,
                    "MI" => self.xiaomi = XiaomiOptions::read(o)?,
                    "OPPO" => self.oppo = OppoOptions::read(o)?,
                    "VIVO" => self.vivo = VivoOptions::read(o)?,
                    "APNs" => self.apns = ApnsOptions::read(o)?,
                    "FCM" => self.fcm = FcmOptions::read(o)?,
                    _ => {}
                }
            }
        }
        self.validate()
    }

    /// Takes a push-only notification's `ios` object (`badge`, `contentAvailable` and the
    /// APNs options) and `android` object (`hw`, `honor`, `mi`, `oppo`, `vivo`, `fcm`).
    pub fn read_platforms(&mut self, ios: &Value, android: &Value) -> Result<(), String> {
        if !ios.is_null() {
            let o = object(ios, "ios")?;
            self.apns = ApnsOptions::read(o)?;
            // The published SDKs document 0 or less as clearing the badge.
            self.badge = match text(o, "badge")? {
                None => None,
                Some(badge) => Some(parse_badge(&badge)?.unwrap_or(0)),
            };
            self.content_available = match text(o, "contentAvailable")?.as_deref() {
                None | Some("0") => false,
                Some("1") => true,
                Some(other) => return Err(format!("contentAvailable must be 0 or 1, not {other}")),
            };
        }
        if !android.is_null() {
            let o = object(android, "android")?;
            // The Go SDK's flat keys (`channelId`, `importance`, `image`, `large_icon_uri`,
            // `classification`) are each of these vendors' own names; a vendor's object
            // below replaces them.
            self.huawei = HuaweiOptions::read(o)?;
            self.xiaomi = XiaomiOptions::read(o)?;
            self.oppo = OppoOptions::read(o)?;
            self.vivo = VivoOptions::read(o)?;
            let part = |key: &str| match o.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(value) => object(value, key).map(Some),
            };
            if let Some(o) = part("hw")? {
                self.huawei = HuaweiOptions::read(o)?;
            }
            if let Some(o) = part("honor")? {
                self.honor = HonorOptions::read(o)?;
            }
            if let Some(o) = part("mi")? {
                self.xiaomi = XiaomiOptions::read(o)?;
            }
            if let Some(o) = part("oppo")? {
                self.oppo = OppoOptions::read(o)?;
            }
            if let Some(o) = part("vivo")? {
                self.vivo = VivoOptions::read(o)?;
            }
            if let Some(o) = part("fcm")? {
                self.fcm = FcmOptions::read(o)?;
            }
        }
        self.validate()
    }

    /// Every value within its provider's limits: what a replica checks again, since a
    /// command may come from any edge.
    pub fn validate(&self) -> Result<(), String> {
        let one_of = |name: &str, value: &Option<String>, allowed: &[&str]| match value {
            Some(v) if !allowed.contains(&v.as_str()) => Err(format!(
                "{name} must be one of {}, not {v}",
                allowed.join(", ")
            )),
            _ => Ok(()),
        };
        one_of(
            "APNs interruption-level",
            &self.apns.interruption_level,
            &["passive", "active", "time-sensitive", "critical"],
        )?;
        one_of(
            "HW importance",
            &self.huawei.importance,
            &["LOW", "NORMAL", "HIGH"],
        )?;
        one_of(
            "HONOR importance",
            &self.honor.importance,
            &["LOW", "NORMAL"],
        )?;
        if let Some(id) = &self.apns.collapse_id {
            if id.len() > MAX_APNS_COLLAPSE_ID_BYTES {
                return Err(format!(
                    "apns-collapse-id must be at most {MAX_APNS_COLLAPSE_ID_BYTES} bytes"
                ));
            }
        }
        if self.vivo.classification.is_some_and(|c| c > 1) {
            return Err("VIVO classification must be 0 or 1".into());
        }
        let too_long = self
            .texts()
            .into_iter()
            .flatten()
            .find(|value| value.chars().count() > MAX_OPTION_CHARS);
        match too_long {
            Some(_) => Err(format!(
                "a push option is longer than {MAX_OPTION_CHARS} characters"
            )),
            None => Ok(()),
        }
    }

    fn texts(&self) -> [&Option<String>; 16] {
        [
            &self.apns.thread_id,
            &self.apns.collapse_id,
            &self.apns.category,
            &self.apns.interruption_level,
            &self.apns.rich_media_uri,
            &self.fcm.channel_id,
            &self.fcm.collapse_key,
            &self.fcm.image_url,
            &self.huawei.channel_id,
            &self.huawei.importance,
            &self.huawei.category,
            &self.huawei.image,
            &self.honor.image,
            &self.xiaomi.channel_id,
            &self.xiaomi.large_icon_uri,
            &self.vivo.category,
        ]
    }
}

/// Sets `object[key]` to the option when it is given (the senders' one way of passing
/// an option on).
pub(crate) fn put(object: &mut Value, key: &str, option: &Option<String>) {
    if let Some(value) = option {
        object[key] = Value::String(value.clone());
    }
}

/// A badge as the commercial calls send it: a whole number; a negative one (the Java
/// SDK's -1, "leave it") is `None`.
pub fn parse_badge(text: &str) -> Result<Option<u32>, String> {
    let badge: i64 = text
        .trim()
        .parse()
        .map_err(|_| format!("the badge (count) must be a whole number, not {text}"))?;
    Ok(u32::try_from(badge).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // covers: API-07, PUSH-05
    #[test]
    fn a_messages_push_configs_reach_each_vendors_options() {
        let mut options = PushOptions::default();
        // The shape the published server SDKs send.
        options
            .read_push_configs(&json!([
                {"HW": {"channelId": "hw-123", "importance": "LOW", "category": "IM"}},
                {"MI": {"channelId": "mi-123"}},
                {"OPPO": {"channelId": "oppo-123"}},
                {"VIVO": {"classification": "0"}},
                {"APNs": {"thread-id": "123", "apns-collapse-id": "123456"}},
                {"FCM": {"channelId": "fcm-1", "collapse_key": "k", "imageUrl": "https://i/x.png"}},
                {"HONOR": {"importance": "NORMAL"}},
                {"SOMEONE_ELSE": {"x": 1}},
            ]))
            .unwrap();
        assert_eq!(options.huawei.channel_id.as_deref(), Some("hw-123"));
        assert_eq!(options.huawei.importance.as_deref(), Some("LOW"));
        assert_eq!(options.huawei.category.as_deref(), Some("IM"));
        assert_eq!(options.xiaomi.channel_id.as_deref(), Some("mi-123"));
        assert_eq!(options.oppo.channel_id.as_deref(), Some("oppo-123"));
        assert_eq!(options.vivo.classification, Some(0));
        assert_eq!(options.apns.thread_id.as_deref(), Some("123"));
        assert_eq!(options.apns.collapse_id.as_deref(), Some("123456"));
        assert_eq!(options.fcm.collapse_key.as_deref(), Some("k"));
        assert_eq!(options.honor.importance.as_deref(), Some("NORMAL"));
        assert_eq!(options.badge, None);
    }

    #[test]
    fn a_notifications_platform_objects_reach_the_same_options() {
        let mut options = PushOptions::default();
        options
            .read_platforms(
                &json!({"badge": 3, "contentAvailable": 1, "thread-id": "t",
                        "interruption-level": "time-sensitive"}),
                &json!({"hw": {"channelId": "c", "image": "https://i/h.png"},
                        "vivo": {"classification": 1, "category": "IM"},
                        "mi": {"channelId": "m", "large_icon_uri": "https://i/l.png"}}),
            )
            .unwrap();
        assert_eq!(options.badge, Some(3));
        assert!(options.content_available);
        assert_eq!(options.apns.thread_id.as_deref(), Some("t"));
        assert_eq!(
            options.apns.interruption_level.as_deref(),
            Some("time-sensitive")
        );
        assert_eq!(options.huawei.image.as_deref(), Some("https://i/h.png"));
        assert_eq!(options.vivo.classification, Some(1));
        assert_eq!(
            options.xiaomi.large_icon_uri.as_deref(),
            Some("https://i/l.png")
        );
    }

    #[test]
    fn options_past_a_providers_limits_are_refused() {
        let refused = |configs: Value| {
            PushOptions::default()
                .read_push_configs(&configs)
                .unwrap_err()
        };
        let at_limit = "x".repeat(MAX_APNS_COLLAPSE_ID_BYTES);
        assert!(PushOptions::default()
            .read_push_configs(&json!([{"APNs": {"apns-collapse-id": at_limit}}]))
            .is_ok());
        let past = "x".repeat(MAX_APNS_COLLAPSE_ID_BYTES + 1);
        assert!(refused(json!([{"APNs": {"apns-collapse-id": past}}])).contains("64 bytes"));
        assert!(refused(json!([{"VIVO": {"classification": "2"}}])).contains("0 or 1"));
        assert!(refused(json!([{"HW": {"importance": "URGENT"}}])).contains("LOW"));
        assert!(refused(json!([{"APNs": {"interruption-level": "loud"}}])).contains("passive"));
        // One object of every vendor is taken as a list of one.
        let mut one_object = PushOptions::default();
        one_object
            .read_push_configs(&json!({"HW": {"channelId": "h"}, "MI": {"channelId": "m"}}))
            .unwrap();
        assert_eq!(one_object.huawei.channel_id.as_deref(), Some("h"));
        assert_eq!(one_object.xiaomi.channel_id.as_deref(), Some("m"));
        // A negative badge clears it; the Go SDK's `threadId`.
        let mut cleared = PushOptions::default();
        cleared
            .read_platforms(&json!({"badge": -1, "threadId": "t"}), &Value::Null)
            .unwrap();
        assert_eq!(cleared.badge, Some(0));
        assert_eq!(cleared.apns.thread_id.as_deref(), Some("t"));
        // The Go SDK's flat Android keys reach each vendor they name.
        let mut flat = PushOptions::default();
        flat.read_platforms(
            &Value::Null,
            &json!({"channelId": "c", "importance": "LOW", "large_icon_uri": "i", "classification": "0"}),
        )
        .unwrap();
        assert_eq!(
            (
                flat.huawei.channel_id.as_deref(),
                flat.xiaomi.channel_id.as_deref()
            ),
            (Some("c"), Some("c"))
        );
        assert_eq!(flat.oppo.channel_id.as_deref(), Some("c"));
        assert_eq!(flat.huawei.importance.as_deref(), Some("LOW"));
        assert_eq!(flat.xiaomi.large_icon_uri.as_deref(), Some("i"));
        assert_eq!(flat.vivo.classification, Some(0));
        assert!(refused(json!([{"HW": {"channelId": ["a"]}}])).contains("string"));
        let image = "x".repeat(MAX_OPTION_CHARS);
        assert!(PushOptions::default()
            .read_push_configs(&json!([{"HW": {"image": image}}]))
            .is_ok());
        let image = "x".repeat(MAX_OPTION_CHARS + 1);
        assert!(refused(json!([{"HW": {"image": image}}])).contains("1024"));
        assert!(PushOptions::default()
            .read_platforms(&json!({"badge": "many"}), &Value::Null)
            .is_err());
        assert!(refused(json!("HW")).contains("list"));
        assert!(PushOptions::default()
            .read_platforms(&json!({"contentAvailable": 2}), &Value::Null)
            .is_err());
    }
}
