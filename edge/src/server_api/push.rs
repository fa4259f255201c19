//! Push-only notifications (SYS-03, commercially "不落地通知"): `/push.json` to everyone,
//! tags or users, and `/push/user.json` to listed users. They reach devices through the
//! app's push settings and make no message. `/push.json` counts against the broadcast
//! budget (SYS-04).

use meridian_cluster::state::push::{Notice, NoticeAudience, PushProvider};
use meridian_cluster::state::{Command, Output, PushNotice};
use serde_json::{json, Value};

use super::{fields, unexpected, Call, Fields};
use meridian_access::error::ApiError;
use meridian_access::params::{json_strings, json_strings_at_most};

/// Users one `/push/user.json` call may name.
const MAX_PUSH_USERS: usize = 100;

/// A list that may be left out.
fn optional_list(value: &Value, name: &str) -> Result<Vec<String>, ApiError> {
    match value.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(_) => json_strings(value, name),
    }
}

fn text<'v>(value: &'v Value, name: &str) -> Option<&'v str> {
    value
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// `platform`: `ios` (APNs), `android` (FCM), `web` (the app's webhook); none: all.
fn providers(body: &Value) -> Result<Vec<PushProvider>, ApiError> {
    optional_list(body, "platform")?
        .iter()
        .map(|platform| match platform.to_ascii_lowercase().as_str() {
            "ios" => Ok(PushProvider::Apns),
            "android" => Ok(PushProvider::Fcm),
            "web" => Ok(PushProvider::Webhook),
            _ => Err(ApiError::param(format!(
                "platform {platform:?} is not ios, android or web"
            ))),
        })
        .collect()
}

/// The notification's title, text (`alert`, or `pushContent` for `/push/user.json`) and
/// extras (the `ios` or `android` object's `extras`, as JSON text).
fn notice(
    audience: NoticeAudience,
    notification: &Value,
    text_field: &str,
) -> Result<Notice, ApiError> {
    let body = text(notification, text_field).ok_or_else(|| ApiError::missing(text_field))?;
    let extras = ["ios", "android"]
        .iter()
        .find_map(|platform| notification.get(platform)?.get("extras"))
        .filter(|extras| !extras.is_null());
    Ok(Notice {
        audience,
        title: text(notification, "title").unwrap_or_default().to_string(),
        body: body.to_string(),
        data: extras.map(Value::to_string),
    })
}

async fn send(call: &Call, notice: Notice) -> Fields {
    let output = call
        .write(Command::PushNotice(PushNotice {
            app_key: call.app_key(),
            notice,
        }))
        .await?;
    match output {
        Output::Notice { id, .. } => Ok(fields(json!({ "id": id }))),
        other => Err(unexpected(other)),
    }
}

// covers: SYS-03
/// `/push.json`: `{platform?, audience: {is_to_all?, userid?, tag?, tag_or?}, notification:
/// {title?, alert, ios?: {extras?}, android?: {extras?}}}`.
pub(super) async fn push(call: &Call) -> Fields {
    let body = call.json()?;
    let audience = body
        .get("audience")
        .ok_or_else(|| ApiError::missing("audience"))?;
    let notification = body
        .get("notification")
        .ok_or_else(|| ApiError::missing("notification"))?;
    let audience = NoticeAudience {
        everyone: audience.get("is_to_all").and_then(Value::as_bool) == Some(true),
        user_ids: optional_list(audience, "userid")?,
        tags_all: optional_list(audience, "tag")?,
        tags_any: optional_list(audience, "tag_or")?,
        providers: providers(body)?,
    };
    send(call, notice(audience, notification, "alert")?).await
}

/// `/push/user.json`: `{userIds, notification: {title?, pushContent, ios?, android?}}`.
pub(super) async fn push_user(call: &Call) -> Fields {
    let body = call.json()?;
    let user_ids = json_strings_at_most(body, "userIds", MAX_PUSH_USERS)?;
    let notification = body
        .get("notification")
        .ok_or_else(|| ApiError::missing("notification"))?;
    let audience = NoticeAudience {
        user_ids,
        ..NoticeAudience::default()
    };
    send(call, notice(audience, notification, "pushContent")?).await
}
