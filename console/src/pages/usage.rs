//! Usage charts (CON-01): the app's counters per hour or day from the area's usage API
//! (`GET /admin/v1/apps/{key}/usage?by=hour|day`, `…/usage/storage`), drawn as SVG, and
//! its push statistics over the range (PUSH-09).

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use serde_json::Value;

use super::app::{app_page, app_path};
use super::{error_box, text_of, AppCtx, Ctx};
use crate::charts::{bar_chart, Series};
use crate::html::Html;

/// The charts: (`data-metric`, title, where in a bucket, summed over the range).
const CHARTS: &[(&str, &str, &[&str], bool)] = &[
    ("messages", "Messages", &["messages", "total"], true),
    (
        "api-calls",
        "Server API calls",
        &["apiCalls", "total"],
        true,
    ),
    (
        "api-failed",
        "Failed Server API calls",
        &["apiCalls", "failed"],
        true,
    ),
    ("online", "Online users", &["onlineUsersPeak"], false),
    ("pushes", "Pushes sent", &["pushes", "sent"], true),
    (
        "callbacks",
        "Callbacks delivered",
        &["callbacks", "delivered"],
        true,
    ),
    (
        "dead-letters",
        "Callbacks dead-lettered",
        &["callbacks", "deadLetters"],
        true,
    ),
];

pub(crate) async fn show(ctx: &Ctx<'_>, app: &AppCtx) -> Response<Bytes> {
    let by = if ctx.query.text("by") == "day" {
        "day"
    } else {
        "hour"
    };
    let path = format!("/apps/{}/usage?by={by}", app.key);
    let usage = match ctx
        .state
        .areas
        .admin(&app.area, Method::GET, &path, None)
        .await
    {
        Ok(answer) if answer.ok() => charts(&answer.body, by),
        Ok(answer) => error_box(Some(&format!(
            "Usage is not available from this area (HTTP {}): {}",
            answer.status,
            answer.error()
        ))),
        Err(unreachable) => error_box(Some(&unreachable)),
    };
    let path = format!("/apps/{}/usage/storage", app.key);
    let storage = match ctx
        .state
        .areas
        .admin(&app.area, Method::GET, &path, None)
        .await
    {
        Ok(answer) if answer.ok() => storage(&answer.body),
        Ok(answer) => error_box(Some(&format!(
            "Storage figures are not available from this area (HTTP {}): {}",
            answer.status,
            answer.error()
        ))),
        Err(unreachable) => error_box(Some(&unreachable)),
    };
    let switch = |to: &str, title: &str| {
        let current = if to == by {
            " aria-current=\"page\""
        } else {
            ""
        };
        html!(
            "<a href=\"{}?by={}\"{}>{}</a>",
            app_path(app, "/usage"),
            to,
            Html::literal(current),
            title
        )
    };
    let body = html!(
        "<p class=\"switch\">{} · {}</p>{}<h2>Storage</h2>{}",
        switch("hour", "Last 24 hours, by hour"),
        switch("day", "Last 30 days, by day"),
        usage,
        storage
    );
    app_page(ctx, app, StatusCode::OK, "Usage", body)
}

/// A bucket's start as its label: `MM-DD HH:00` by hour, the date by day.
fn label(start_ms: u64, by: &str) -> String {
    let full = meridian_clock::format_utc(start_ms);
    match by {
        "day" => full[..10].to_string(),
        _ => full[5..16].to_string(),
    }
}

fn charts(usage: &Value, by: &str) -> Html {
    let buckets = usage["buckets"].as_array().cloned().unwrap_or_default();
    let figures = Html::concat(CHARTS.iter().map(|(metric, title, at, summed)| {
        let points = buckets
            .iter()
            .map(|bucket| {
                let value = at.iter().fold(bucket, |v, key| &v[*key]);
                (
                    label(bucket["startMs"].as_u64().unwrap_or_default(), by),
                    value.as_u64().unwrap_or_default(),
                )
            })
            .collect();
        bar_chart(&Series {
            metric,
            title,
            points,
            summed: *summed,
        })
    }));
    html!(
        "<p>Online now: <strong id=\"online-now\">{}</strong></p><div class=\"charts\">{}</div>{}",
        text_of(&usage["onlineUsers"]),
        figures,
        Html::concat([totals(&buckets), push_statistics(&buckets)])
    )
}

/// The outcomes a provider's pushes are counted by (PUSH-09).
const PUSH_OUTCOMES: [&str; 5] = ["sent", "accepted", "dropped", "failed", "clicked"];

/// Sums over the range of each provider's pushes by outcome, and of failures by reason
/// (PUSH-09).
fn push_statistics(buckets: &[Value]) -> Html {
    let mut providers: BTreeMap<String, [u64; 5]> = BTreeMap::new();
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for bucket in buckets {
        let pushes = &bucket["pushes"];
        for (provider, figures) in pushes["providers"].as_object().into_iter().flatten() {
            let sums = providers.entry(provider.clone()).or_default();
            for (sum, outcome) in sums.iter_mut().zip(PUSH_OUTCOMES) {
                *sum += figures[outcome].as_u64().unwrap_or_default();
            }
        }
        for (reason, n) in pushes["failed"].as_object().into_iter().flatten() {
            *reasons.entry(reason.clone()).or_default() += n.as_u64().unwrap_or_default();
        }
    }
    let provider_rows = Html::concat(providers.iter().map(|(provider, sums)| {
        let cells = Html::concat(sums.iter().map(|n| html!("<td>{}</td>", *n)));
        html!(
            "<tr><th scope=\"row\">{}</th>{}</tr>",
            provider.as_str(),
            cells
        )
    }));
    let reason_rows = Html::concat(reasons.iter().map(|(reason, n)| {
        html!(
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
            reason.as_str(),
            *n
        )
    }));
    let heads = Html::concat(
        PUSH_OUTCOMES
            .iter()
            .map(|outcome| html!("<th scope=\"col\">{}</th>", *outcome)),
    );
    html!(
        "<h2>Push statistics</h2><div class=\"columns\"><table id=\"pushes-by-provider\">\
         <caption>Pushes by provider</caption><thead><tr><th scope=\"col\">Provider</th>{}</tr></thead>\
         <tbody>{}</tbody></table><table id=\"push-failures\"><caption>Failed pushes by reason</caption>\
         <tbody>{}</tbody></table></div>",
        heads,
        provider_rows,
        reason_rows
    )
}

fn storage(answer: &Value) -> Html {
    let families = answer["families"].as_array().cloned().unwrap_or_default();
    let rows = Html::concat(families.iter().map(|family| {
        html!(
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td></tr>",
            text_of(&family["family"]),
            text_of(&family["records"]),
            text_of(&family["bytes"])
        )
    }));
    html!(
        "<table id=\"storage\"><thead><tr><th scope=\"col\">Records of</th><th scope=\"col\">Records</th>\
         <th scope=\"col\">Bytes</th></tr></thead><tbody>{}</tbody><tfoot><tr><th scope=\"row\">Total</th>\
         <td>{}</td><td>{}</td></tr></tfoot></table>",
        rows,
        text_of(&answer["total"]["records"]),
        text_of(&answer["total"]["bytes"])
    )
}

/// Sums over the range: messages by conversation type and Server API calls by path.
fn totals(buckets: &[Value]) -> Html {
    let mut messages: BTreeMap<String, u64> = BTreeMap::new();
    let mut paths: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for bucket in buckets {
        for (kind, n) in bucket["messages"].as_object().into_iter().flatten() {
            *messages.entry(kind.clone()).or_default() += n.as_u64().unwrap_or_default();
        }
        for (path, n) in bucket["apiCalls"]["paths"]
            .as_object()
            .into_iter()
            .flatten()
        {
            let sums = paths.entry(path.clone()).or_default();
            sums.0 += n["ok"].as_u64().unwrap_or_default();
            sums.1 += n["failed"].as_u64().unwrap_or_default();
        }
    }
    let message_rows = Html::concat(messages.iter().map(|(kind, n)| {
        html!(
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
            kind.as_str(),
            *n
        )
    }));
    let path_rows = Html::concat(paths.iter().map(|(path, (ok, failed))| {
        html!(
            "<tr><th scope=\"row\"><code>{}</code></th><td>{}</td><td>{}</td></tr>",
            path.as_str(),
            *ok,
            *failed
        )
    }));
    html!(
        "<div class=\"columns\"><table id=\"messages-by-type\"><caption>Messages by type</caption>\
         <tbody>{}</tbody></table><table id=\"api-by-path\"><caption>Server API calls by path</caption>\
         <thead><tr><th scope=\"col\">Path</th><th scope=\"col\">Succeeded</th><th scope=\"col\">Failed</th></tr></thead>\
         <tbody>{}</tbody></table></div>",
        message_rows,
        path_rows
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn push_statistics_add_up_each_provider_and_reason_over_the_range() {
        let bucket = |accepted: u64, gone: u64| {
            json!({"pushes": {
                "failed": {"token_gone": gone},
                "providers": {"apns": {"sent": accepted + gone, "accepted": accepted,
                    "dropped": 0, "failed": gone, "clicked": 1}},
            }})
        };
        let table = push_statistics(&[bucket(2, 1), bucket(3, 0)]).into_string();
        assert!(
            table.contains(
                "<th scope=\"row\">apns</th><td>6</td><td>5</td><td>0</td><td>1</td><td>2</td>"
            ),
            "{table}"
        );
        assert!(
            table.contains("<th scope=\"row\">token_gone</th><td>1</td>"),
            "{table}"
        );
    }
}
