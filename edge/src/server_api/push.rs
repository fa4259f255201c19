//! `/push.json`, `/push/user.json` and `/push/custom.json`. Without a `message`, a
//! push-only notification
//! (SYS-03, commercially "不落地通知") to everyone, tags or users: it reaches devices
//! through the app's push settings and makes no message. With a `message`, a broadcast
//! (SYS-02) to that audience: a system message each user keeps, pushed to the offline
//! ones with the notification's text. Either to everyone counts against the broadcast
//! budget (SYS-04).

use meridian_cluster::state::push::{
    notice_scans_every_device, Notice, NoticeAudience, NoticeOptions, PushProvider, TagItem,
    MAX_NOTICE_USERS,
};
use meridian_cluster::state::{
    Command, Conversation, Output, PushNotice, PushNoticeWithOptions, Query, QueryOutput,
};
use serde_json::{json, Value};

use super::messages::{content_flags, new_message, publish_with, Publish};
use super::{fields, unexpected, Body, Call, Fields};
use meridian_access::error::ApiError;
use meridian_access::params::{json_strings, json_strings_at_most, percent_decoded};

/// Whether a `/push.json` body goes to every user (SYS-04 budgets those).
pub(super) fn to_everyone(body: &Body) -> bool {
    matches!(body, Body::Json(json)
        if json.pointer("/audience/is_to_all").and_then(Value::as_bool) == Some(true))
}

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

/// `platform`: `ios` (APNs), `android` (FCM and the vendor channels), `web` (the app's
/// webhook); none: all.
fn providers(body: &Value) -> Result<Vec<PushProvider>, ApiError> {
    let mut providers = Vec::new();
    for platform in optional_list(body, "platform")? {
        providers.extend(providers_of(&platform)?);
    }
    Ok(providers)
}

/// The providers that reach one platform, named in any case.
pub(super) fn providers_of(platform: &str) -> Result<Vec<PushProvider>, ApiError> {
    Ok(match platform.to_ascii_lowercase().as_str() {
        "ios" => vec![PushProvider::Apns],
        "android" => PushProvider::ALL
            .into_iter()
            .filter(|p| p.is_android())
            .collect(),
        "web" => vec![PushProvider::Webhook],
        _ => {
            return Err(ApiError::param(format!(
                "platform {platform:?} is not ios, android or web"
            )))
        }
    })
}

/// The notification's title, text (`alert`, or `pushContent` for `/push/user.json`) and
/// extras (the `ios` or `android` object's `extras`, as JSON text).
fn notice(
    audience: NoticeAudience,
    notification: &Value,
    text_field: &str,
) -> Result<Notice, ApiError> {
    let body = text(notification, text_field).ok_or_else(|| ApiError::missing(text_field))?;
    // The first platform's extras that are there (the Go SDK sends `ios.extras: null`
    // beside Android's).
    let extras = ["ios", "android"].iter().find_map(|platform| {
        notification
            .get(platform)?
            .get("extras")
            .filter(|extras| !extras.is_null())
    });
    Ok(Notice {
        audience,
        title: text(notification, "title").unwrap_or_default().to_string(),
        body: body.to_string(),
        data: extras.map(Value::to_string),
    })
}

/// Each platform's options of a `notification` (its `ios` and `android` objects).
fn platform_options(notification: &Value) -> Result<NoticeOptions, ApiError> {
    let mut options = NoticeOptions::default();
    let part = |name| notification.get(name).unwrap_or(&Value::Null);
    options
        .push
        .read_platforms(part("ios"), part("android"))
        .map_err(|e| ApiError::param(format!("notification: {e}")))?;
    Ok(options)
}

/// Sends the notice, with the command older builds know too unless it asks more or goes
/// to everyone or to tags: the newer command pages those, so they reach any number of
/// devices.
async fn send(call: &Call, notice: Notice, options: NoticeOptions) -> Fields {
    let app_key = call.app_key();
    let paged = notice_scans_every_device(&notice, &options);
    let command = if options == NoticeOptions::default() && !paged {
        Command::PushNotice(PushNotice { app_key, notice })
    } else {
        Command::PushNoticeWithOptions(PushNoticeWithOptions {
            app_key,
            notice,
            options: Box::new(options),
        })
    };
    match call.write(command).await? {
        Output::Notice { id, .. } => Ok(fields(json!({ "id": id }))),
        other => Err(unexpected(other)),
    }
}

fn required<'v>(body: &'v Value, name: &str) -> Result<&'v Value, ApiError> {
    body.get(name).ok_or_else(|| ApiError::missing(name))
}

/// `packageName`: only devices registered under that app identifier.
fn package_name(audience: &Value) -> Option<String> {
    text(audience, "packageName").map(str::to_string)
}

// covers: SYS-03
/// `/push.json`: `{platform?, audience: {is_to_all?, userid?, tag?, tag_or?, packageName?},
/// notification: {title?, alert, ios?, android?}}`.
pub(super) async fn push(call: &Call) -> Fields {
    let body = call.json()?;
    let (audience, notification) = (required(body, "audience")?, required(body, "notification")?);
    let mut audience = NoticeAudience {
        everyone: audience.get("is_to_all").and_then(Value::as_bool) == Some(true),
        user_ids: optional_list(audience, "userid")?,
        tags_all: optional_list(audience, "tag")?,
        tags_any: optional_list(audience, "tag_or")?,
        providers: providers(body)?,
    };
    // As documented: everyone overrides the lists, and named users override tags.
    if audience.everyone {
        audience.user_ids.clear();
    }
    if audience.everyone || !audience.user_ids.is_empty() {
        audience.tags_all.clear();
        audience.tags_any.clear();
    }
    let package = package_name(body.get("audience").unwrap_or(&Value::Null));
    let notice = notice(audience, notification, "alert")?;
    match body.get("message") {
        None | Some(Value::Null) => {
            let options = NoticeOptions {
                package_name: package,
                ..platform_options(notification)?
            };
            send(call, notice, options).await
        }
        Some(message) => broadcast(call, body, message, notice).await,
    }
}

/// The `message` form: one system message per user of the audience (a landing broadcast
/// to everyone is one message every user sees), pushed with the notification's text.
async fn broadcast(call: &Call, body: &Value, message: &Value, notice: Notice) -> Fields {
    let from = text(body, "fromuserid")
        .or_else(|| text(body, "fromUserId"))
        .ok_or_else(|| ApiError::missing("fromuserid"))?
        .to_string();
    let object_name = text(message, "objectName")
        .ok_or_else(|| ApiError::missing("objectName"))?
        .to_string();
    let content = message_content(message)?;
    let p = Publish {
        from,
        flags: content_flags(&object_name, &content, true, true)?,
        object_name,
        content,
        channel: String::new(),
        push_content: Some(notice.body.clone()),
        push_data: notice.data.clone(),
        verify_blacklist: false,
    };
    // The message's own options (`disableUpdateLastMsg`) sit beside its content.
    let options = Body::Json(message.clone());
    let audience = notice.audience;
    if audience.everyone {
        let message = new_message(&p, Conversation::system(&p.from, ""), None);
        let answer = publish_with(call, &options, vec![message], "userId", &[""]).await?;
        return Ok(fields(json!({ "id": first_uid(&answer) })));
    }
    let users = if audience.user_ids.is_empty() {
        tagged_users(call, audience.tags_all, audience.tags_any).await?
    } else {
        audience.user_ids
    };
    let messages = users
        .iter()
        .map(|user| new_message(&p, Conversation::system(&p.from, user), Some(user)))
        .collect();
    let ids: Vec<&str> = users.iter().map(String::as_str).collect();
    let mut answer = publish_with(call, &options, messages, "userId", &ids).await?;
    answer.insert("id".into(), first_uid(&answer));
    Ok(answer)
}

/// The first message's id names a broadcast, as a notice's id names the notice.
fn first_uid(answer: &serde_json::Map<String, Value>) -> Value {
    answer
        .get("messageUIDs")
        .and_then(|uids| uids.get(0))
        .and_then(|uid| uid.get("messageUID"))
        .cloned()
        .unwrap_or(Value::Null)
}

/// The message content: a JSON string, which one published SDK percent-encodes.
fn message_content(message: &Value) -> Result<String, ApiError> {
    let content = match message.get("content") {
        Some(Value::String(text)) if !text.is_empty() => text.clone(),
        Some(Value::Object(object)) => Value::Object(object.clone()).to_string(),
        _ => return Err(ApiError::missing("content")),
    };
    if serde_json::from_str::<Value>(&content).is_err() {
        if let Some(decoded) = percent_decoded(&content) {
            if serde_json::from_str::<Value>(&decoded).is_ok() {
                return Ok(decoded);
            }
        }
    }
    Ok(content)
}

/// The users a tag audience names (at most as many as a notice may name).
async fn tagged_users(
    call: &Call,
    all: Vec<String>,
    any: Vec<String>,
) -> Result<Vec<String>, ApiError> {
    let output = call
        .read(Query::UsersByTags {
            app_key: call.app_key(),
            all,
            any,
        })
        .await?;
    let QueryOutput::UserIds(users) = output else {
        return Err(unexpected(output));
    };
    if users.len() > MAX_NOTICE_USERS {
        return Err(ApiError::CountOverLimit {
            what: "users a tag broadcast reaches".into(),
            limit: MAX_NOTICE_USERS as u64,
        });
    }
    Ok(users)
}

/// `/push/user.json`: `{userIds, notification: {title?, pushContent, ios?, android?}}`.
pub(super) async fn push_user(call: &Call) -> Fields {
    let body = call.json()?;
    let user_ids = json_strings_at_most(body, "userIds", MAX_PUSH_USERS)?;
    let notification = required(body, "notification")?;
    let audience = NoticeAudience {
        user_ids,
        ..NoticeAudience::default()
    };
    let options = platform_options(notification)?;
    send(
        call,
        notice(audience, notification, "pushContent")?,
        options,
    )
    .await
}

// covers: SYS-03, PUSH-05
/// `/push/custom.json` (the commercial Push Plus call): `{platform?, audience: {is_to_all?,
/// tag?, tag_or?, tagItems?, packageName?}, notification: {title?, alert, ios?,
/// android?}}`. Users are chosen by tags only; `tagItems` are expressions over them.
pub(super) async fn push_custom(call: &Call) -> Fields {
    let body = call.json()?;
    let (audience, notification) = (required(body, "audience")?, required(body, "notification")?);
    let everyone = audience.get("is_to_all").and_then(Value::as_bool) == Some(true);
    let mut options = platform_options(notification)?;
    options.package_name = package_name(audience);
    let mut targets = NoticeAudience {
        everyone,
        providers: providers(body)?,
        ..NoticeAudience::default()
    };
    // As documented: everyone overrides the tag conditions.
    if !everyone {
        targets.tags_all = optional_list(audience, "tag")?;
        targets.tags_any = optional_list(audience, "tag_or")?;
        options.tag_items = tag_items(audience)?;
    }
    send(call, notice(targets, notification, "alert")?, options).await
}

/// `tagItems`: `[{tags, isNot?, tagsOperator?: "AND"|"OR", itemsOperator?: "AND"|"OR"}]`;
/// an item's `itemsOperator` joins it to the items before it.
fn tag_items(audience: &Value) -> Result<Vec<TagItem>, ApiError> {
    let items = match audience.get("tagItems") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ApiError::param("tagItems must be a list")),
    };
    let operator = |item: &Value, name: &str| match text(item, name) {
        None => Ok(true),
        Some(op) if op.eq_ignore_ascii_case("and") => Ok(true),
        Some(op) if op.eq_ignore_ascii_case("or") => Ok(false),
        Some(op) => Err(ApiError::param(format!(
            "{name} must be AND or OR, not {op}"
        ))),
    };
    items
        .iter()
        .map(|item| {
            Ok(TagItem {
                tags: json_strings(item, "tags")?,
                all_tags: operator(item, "tagsOperator")?,
                negated: item.get("isNot").and_then(Value::as_bool) == Some(true),
                and_with_previous: operator(item, "itemsOperator")?,
            })
        })
        .collect()
}
