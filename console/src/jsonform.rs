//! One form for every JSON record the admin API keeps per app (settings, limits, file
//! limits, push style, push vendors): each field of the record the API answered becomes
//! an input named `kind:path`, and a submitted form is laid over the record read afresh
//! (read-modify-write, so fields the form does not show survive) before it is PUT back.
//! The API checks the result; its refusal is what the page shows. A new field in a
//! record shows up here without a change.
//!
//! | JSON | input | kind |
//! |---|---|---|
//! | `true`/`false` | checkbox | `bool` |
//! | string | text | `text` (empty: unset) |
//! | number or `null` (unset) | text | `value`: empty unset, JSON if it reads as JSON, else text |
//! | list of plain values | textarea, one per line | `lines` (each line as `value`) |
//! | list of objects | textarea of JSON | `json` |
//! | object | a fieldset of its fields | |

use serde_json::{Map, Value};

use crate::forms::Form;
use crate::html::Html;

/// The inputs for `record`'s fields; `submitted` (a refused form) overrides the values
/// shown, so what was typed stays beside the API's refusal.
pub fn inputs(record: &Value, submitted: Option<&Form>) -> Html {
    match record {
        Value::Object(fields) => object_inputs(fields, "", submitted),
        other => html!("<pre>{}</pre>", other.to_string()),
    }
}

fn object_inputs(fields: &Map<String, Value>, prefix: &str, submitted: Option<&Form>) -> Html {
    Html::concat(fields.iter().map(|(key, value)| {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        input(&path, key, value, submitted)
    }))
}

/// A field's value as the form shows it.
fn shown(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn input(path: &str, label: &str, value: &Value, submitted: Option<&Form>) -> Html {
    let id = format!("f-{}", path.replace('.', "-"));
    let typed = |kind: &str| submitted.and_then(|form| form.get(&format!("{kind}:{path}")));
    match value {
        Value::Object(fields) => html!(
            "<fieldset><legend>{}</legend>{}</fieldset>",
            label,
            object_inputs(fields, path, submitted)
        ),
        Value::Bool(on) => {
            let name = format!("bool:{path}");
            let checked = match submitted {
                Some(form) => form.0.iter().any(|(n, v)| *n == name && v == "on"),
                None => *on,
            };
            html!(
                "<div class=\"field check\"><input type=\"hidden\" name=\"{}\" value=\"off\">\
                 <input type=\"checkbox\" id=\"{}\" name=\"{}\" value=\"on\"{}>\
                 <label for=\"{}\">{}</label></div>",
                name,
                id,
                name,
                Html::literal(if checked { " checked" } else { "" }),
                id,
                label
            )
        }
        Value::Array(items) => {
            let plain = items.iter().all(|i| !(i.is_object() || i.is_array()));
            let (kind, text, hint) = if plain {
                let lines: Vec<String> = items.iter().map(shown).collect();
                ("lines", lines.join("\n"), "one per line; JSON for objects")
            } else {
                let pretty = serde_json::to_string_pretty(value).unwrap_or_default();
                ("json", pretty, "JSON")
            };
            let text = typed(kind).map(str::to_string).unwrap_or(text);
            html!(
                "<div class=\"field\"><label for=\"{}\">{} <small>({})</small></label>\
                 <textarea id=\"{}\" name=\"{}:{}\" rows=\"{}\">{}</textarea></div>",
                id,
                label,
                hint,
                id,
                kind,
                path,
                text.lines().count().clamp(2, 16),
                text
            )
        }
        Value::String(_) | Value::Number(_) | Value::Null => {
            let kind = if value.is_string() { "text" } else { "value" };
            let text = typed(kind)
                .map(str::to_string)
                .unwrap_or_else(|| shown(value));
            let placeholder = if value.is_null() { "unset" } else { "" };
            html!(
                "<div class=\"field\"><label for=\"{}\">{}</label>\
                 <input id=\"{}\" name=\"{}:{}\" value=\"{}\" placeholder=\"{}\"></div>",
                id,
                label,
                id,
                kind,
                path,
                text,
                placeholder
            )
        }
    }
}

/// Lays the submitted fields over `record`. `Err` names a `json` field that is not JSON
/// (nothing is sent then).
pub fn merge(record: &mut Value, form: &Form) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for (name, raw) in &form.0 {
        let Some((kind, path)) = name.split_once(':') else {
            continue;
        };
        let value = match kind {
            "bool" => {
                if !seen.insert(name.as_str()) {
                    continue;
                }
                Value::Bool(form.0.iter().any(|(n, v)| n == name && v == "on"))
            }
            "text" if raw.is_empty() => Value::Null,
            "text" => Value::String(raw.clone()),
            "value" => loose(raw),
            "lines" => Value::Array(
                raw.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(loose)
                    .collect(),
            ),
            "json" if raw.trim().is_empty() => Value::Array(Vec::new()),
            "json" => serde_json::from_str(raw).map_err(|e| format!("{path} is not JSON: {e}"))?,
            _ => continue,
        };
        set(record, path, value);
    }
    Ok(())
}

/// Empty: unset; JSON if it reads as JSON (a number, `true`, an object); else the text.
fn loose(raw: &str) -> Value {
    let raw = raw.trim();
    if raw.is_empty() {
        return Value::Null;
    }
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

fn set(record: &mut Value, path: &str, value: Value) {
    let mut at = record;
    for key in path.split('.') {
        if !at.is_object() {
            *at = Value::Object(Map::new());
        }
        at = at
            .as_object_mut()
            .expect("made an object above")
            .entry(key)
            .or_insert(Value::Null);
    }
    *at = value;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> Value {
        json!({
            "offlineWindowDays": 7,
            "multiDevice": false,
            "secureDomains": [],
            "callbacks": {"routingUrl": null, "routingTypes": [], "maxAttempts": 16,
                          "moderation": [{"url": "https://m.example.com"}]},
            "unshown": "kept"
        })
    }

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form(
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn every_field_gets_a_labelled_input_of_its_kind() {
        let page = inputs(&settings(), None).into_string();
        for expected in [
            r#"<label for="f-offlineWindowDays">offlineWindowDays</label><input id="f-offlineWindowDays" name="value:offlineWindowDays" value="7""#,
            r#"<input type="checkbox" id="f-multiDevice" name="bool:multiDevice" value="on">"#,
            r#"name="lines:secureDomains""#,
            r#"<legend>callbacks</legend>"#,
            r#"name="value:callbacks.routingUrl" value="" placeholder="unset""#,
            r#"name="json:callbacks.moderation""#,
            r#"&quot;url&quot;: &quot;https://m.example.com&quot;"#,
            r#"name="text:unshown" value="kept""#,
        ] {
            assert!(page.contains(expected), "{expected} in {page}");
        }
        // What was typed into a refused form is shown again.
        let typed = form(&[
            ("value:offlineWindowDays", "9"),
            ("bool:multiDevice", "off"),
            ("bool:multiDevice", "on"),
        ]);
        let page = inputs(&settings(), Some(&typed)).into_string();
        assert!(page.contains(r#"name="value:offlineWindowDays" value="9""#));
        assert!(page.contains(r#"name="bool:multiDevice" value="on" checked>"#));
    }

    #[test]
    fn a_form_is_laid_over_the_record_and_keeps_what_it_does_not_show() {
        let mut record = settings();
        merge(
            &mut record,
            &form(&[
                ("value:offlineWindowDays", "3"),
                ("bool:multiDevice", "off"),
                ("bool:multiDevice", "on"),
                ("lines:secureDomains", "a.example.com\r\n\r\nb.example.com"),
                ("value:callbacks.routingUrl", "https://cb.example.com/route"),
                ("lines:callbacks.routingTypes", "1\n3"),
                ("json:callbacks.moderation", "[]"),
                ("csrf", "not a field"),
            ]),
        )
        .unwrap();
        assert_eq!(
            record,
            json!({
                "offlineWindowDays": 3,
                "multiDevice": true,
                "secureDomains": ["a.example.com", "b.example.com"],
                "callbacks": {"routingUrl": "https://cb.example.com/route", "routingTypes": [1, 3],
                              "maxAttempts": 16, "moderation": []},
                "unshown": "kept"
            })
        );
        // Unchecked (only the hidden "off"), cleared, and text that is no number (left
        // for the API to refuse in its own words).
        merge(
            &mut record,
            &form(&[
                ("bool:multiDevice", "off"),
                ("value:callbacks.routingUrl", ""),
                ("value:offlineWindowDays", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(record["multiDevice"], false);
        assert_eq!(record["callbacks"]["routingUrl"], Value::Null);
        assert_eq!(record["offlineWindowDays"], "x");
    }

    #[test]
    fn a_json_field_that_is_not_json_is_refused_by_name() {
        let mut record = settings();
        let before = record.clone();
        let error = merge(&mut record, &form(&[("json:callbacks.moderation", "[{")])).unwrap_err();
        assert!(
            error.starts_with("callbacks.moderation is not JSON"),
            "{error}"
        );
        assert_eq!(record, before);
    }
}
