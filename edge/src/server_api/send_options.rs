//! What a publish asks beyond its message (API-07), read the same way from form and JSON
//! bodies: `isIncludeSender`, `disablePush`, `pushExt`, `disableUpdateLastMsg`,
//! `expansion` with `extraContent`.

use meridian_cluster::state::SendOptions;
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
        push_title: push_title(get("pushExt").as_deref())?,
        keep_last_message: flag_of("disableUpdateLastMsg")?,
        expansion,
    })
}

/// `pushExt`: a JSON object whose `title` replaces the sender's name in notifications.
/// Its other fields (`forceShowPushContent`, vendor `pushConfigs`, `templateId`) are
/// accepted: content is always shown, and the vendor channels come with the push work.
fn push_title(push_ext: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(text) = push_ext.filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    let ext: Map<String, Value> = serde_json::from_str(text)
        .map_err(|e| ApiError::param(format!("pushExt must be a JSON object: {e}")))?;
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
