//! What a publish asks beyond its message (API-07), read the same way from form and JSON
//! bodies: `isIncludeSender`, `disablePush`, `pushExt` (its title and vendor
//! `pushConfigs`), `count`, `contentAvailable`, `disableUpdateLastMsg`, `expansion` with
//! `extraContent`.

use meridian_cluster::state::{self, Command, NewMessage, SendOptions};
use meridian_proto::ConversationType;
use meridian_push::{parse_badge, PushOptions};
use serde_json::{Map, Value};

use super::Body;
use meridian_access::error::ApiError;
use meridian_access::params::flag;

/// A parameter of a form or JSON body as text (a JSON value that is not a string as its
/// JSON text, so `true` and `1` read as a form's would).
fn text_of(body: &Body, key: &str) -> Option<String> {
    match body {
        Body::Form(form) => form.get(key).map(str::to_string),
        Body::Json(json) => match json.get(key)? {
            Value::Null => None,
            Value::String(text) => Some(text.clone()),
            other => Some(other.to_string()),
        },
    }
}

/// A flag of a form or JSON body: `1`/`0`, `true`/`false`; absent: `default`.
pub(super) fn body_flag(body: &Body, key: &str, default: bool) -> Result<bool, ApiError> {
    flag(key, text_of(body, key).as_deref(), default)
}

/// The command storing an app server's messages with its call's options: the one older
/// builds know too unless the call asked something of the notifications, so publishes
/// go on during a rolling upgrade.
pub(super) fn publish_command(
    app_key: String,
    messages: Vec<NewMessage>,
    body: &Body,
) -> Result<Command, ApiError> {
    let publish = publish_with_push(app_key, messages, body)?;
    Ok(if *publish.push == PushOptions::default() {
        Command::PublishWithOptions(state::PublishWithOptions {
            app_key: publish.app_key,
            messages: publish.messages,
            options: publish.options,
        })
    } else {
        Command::PublishWithPush(publish)
    })
}

/// An app server's messages with everything its call asked, of the notifications too.
pub(super) fn publish_with_push(
    app_key: String,
    messages: Vec<NewMessage>,
    body: &Body,
) -> Result<state::PublishWithPush, ApiError> {
    let options = send_options(body)?;
    let push = push_options(body, &messages)?;
    Ok(state::PublishWithPush {
        app_key,
        messages,
        options,
        push: Box::new(push),
    })
}

/// The options of a publish call's body.
pub(super) fn send_options(body: &Body) -> Result<SendOptions, ApiError> {
    let get = |key: &str| text_of(body, key);
    let flag_of = |key: &str| body_flag(body, key, false);
    let expansion = match get("extraContent").filter(|text| !text.is_empty()) {
        None => Vec::new(),
        Some(_) if !flag_of("expansion")? => {
            return Err(ApiError::param("extraContent needs expansion=true"));
        }
        Some(text) => string_map("extraContent", &text)?,
    };
    Ok(SendOptions {
        // The commercial default: the sender's own devices get no copy.
        exclude_sender: !flag_of("isIncludeSender")?,
        disable_push: flag_of("disablePush")?,
        push_title: push_title(&push_ext(body)?)?,
        keep_last_message: flag_of("disableUpdateLastMsg")?,
        expansion,
    })
}

/// What the call asks of the notifications: `count` (the badge; as commercially, only
/// for a message to one user), `contentAvailable`, `pushExt.pushConfigs` and
/// `pushExt.templateId` (the app's push template, in each recipient's language).
fn push_options(body: &Body, messages: &[NewMessage]) -> Result<PushOptions, ApiError> {
    let mut push = PushOptions::default();
    let ext = push_ext(body)?;
    if let Some(configs) = ext.get("pushConfigs") {
        push.read_push_configs(configs)
            .map_err(|e| ApiError::param(format!("pushExt: {e}")))?;
    }
    push.template_id = match ext.get("templateId") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if id.is_empty() => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => return Err(ApiError::param("pushExt.templateId must be a string")),
    };
    push.content_available = body_flag(body, "contentAvailable", false)?;
    if let Some(count) = text_of(body, "count").filter(|text| !text.is_empty()) {
        // -1 (the Java SDK's "unchanged") asks for no badge of its own.
        let badge = parse_badge(&count).map_err(ApiError::param)?;
        let to_one_user = matches!(messages, [one] if matches!(
            one.conversation.kind,
            ConversationType::Private | ConversationType::System
        ) && !one.conversation.second.is_empty());
        if to_one_user {
            push.badge = badge;
        }
    }
    Ok(push)
}

/// `pushExt`: a JSON object (empty when absent). The Java SDK's templates send one per
/// recipient, a list: the first stands for all, as one call's options are one.
fn push_ext(body: &Body) -> Result<Map<String, Value>, ApiError> {
    let refused = |e: String| ApiError::param(format!("pushExt must be a JSON object: {e}"));
    let value = match body {
        Body::Json(json) if json.get("pushExt").is_some_and(Value::is_array) => {
            json["pushExt"][0].clone()
        }
        _ => match text_of(body, "pushExt").filter(|text| !text.is_empty()) {
            None => return Ok(Map::new()),
            Some(text) => serde_json::from_str(&text).map_err(|e| refused(e.to_string()))?,
        },
    };
    match value {
        Value::Object(ext) => Ok(ext),
        Value::Null => Ok(Map::new()),
        // A list entry may be the object's JSON text.
        Value::String(text) if !text.is_empty() => {
            serde_json::from_str(&text).map_err(|e| refused(e.to_string()))
        }
        Value::String(_) => Ok(Map::new()),
        other => Err(refused(format!("not {other}"))),
    }
}

/// `pushExt.title` replaces the sender's name in notifications. `forceShowPushContent`
/// needs nothing (content is always shown).
fn push_title(ext: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    match ext.get("title") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(title)) if title.is_empty() => Ok(None),
        Some(Value::String(title)) => Ok(Some(title.clone())),
        Some(_) => Err(ApiError::param("pushExt.title must be a string")),
    }
}

/// A JSON object of key/values; values that are not strings are kept as their JSON text.
fn string_map(name: &str, text: &str) -> Result<Vec<(String, String)>, ApiError> {
    let object: Map<String, Value> = serde_json::from_str(text)
        .map_err(|e| ApiError::param(format!("{name} must be a JSON object: {e}")))?;
    Ok(object
        .into_iter()
        .map(|(key, value)| match value {
            Value::String(text) => (key, text),
            other => (key, other.to_string()),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use meridian_access::params::Params;

    fn form(body: &str) -> Body {
        Body::Form(Params::parse_form(body.as_bytes()).unwrap())
    }

    #[test]
    fn form_and_json_bodies_give_the_same_options() {
        let from_form = send_options(&form(
            r#"isIncludeSender=1&disablePush=true&pushExt={"title":"T","forceShowPushContent":1}&disableUpdateLastMsg=1&expansion=1&extraContent={"k":"v","n":2}"#,
        ))
        .unwrap();
        let from_json = send_options(&Body::Json(serde_json::json!({
            "isIncludeSender": 1, "disablePush": true,
            "pushExt": {"title": "T", "forceShowPushContent": 1},
            "disableUpdateLastMsg": true, "expansion": true,
            "extraContent": "{\"k\":\"v\",\"n\":2}",
        })))
        .unwrap();
        let expected = SendOptions {
            exclude_sender: false,
            disable_push: true,
            push_title: Some("T".into()),
            keep_last_message: true,
            expansion: vec![("k".into(), "v".into()), ("n".into(), "2".into())],
        };
        assert_eq!(from_form, expected);
        assert_eq!(from_json, expected);
        assert!(send_options(&form("")).unwrap().exclude_sender);
    }

    #[test]
    fn malformed_options_are_refused() {
        for body in [
            "pushExt=not json",
            r#"pushExt={"title":3}"#,
            r#"extraContent={"k":"v"}"#,
            "expansion=1&extraContent=[1]",
            "disablePush=maybe",
        ] {
            assert!(send_options(&form(body)).is_err(), "{body}");
        }
    }
}
