//! Pages that act through the app's Server API or its admin queues: sensitive words,
//! callback dead letters, the broadcast form and the user lookup.

use bytes::Bytes;
use http::{Method, Response, StatusCode};

use super::app::{app_page, app_path};
use super::{csrf_field, done, error_box, text_of, time, AppCtx, Ctx};
use crate::areas::Answer;
use crate::html::Html;

/// A Server API call of the app; an unreachable API becomes an answer carrying why.
async fn api(ctx: &Ctx<'_>, app: &AppCtx, path: &str, form: &[(&str, &str)]) -> Answer {
    ctx.state
        .areas
        .server_api(&app.area, &app.key, &app.secret, path, form)
        .await
        .unwrap_or_else(|unreachable| Answer {
            status: 502,
            body: serde_json::json!({ "errorMessage": unreachable }),
        })
}

fn status_of(error: Option<&str>) -> StatusCode {
    if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    }
}

pub(crate) async fn words(ctx: &Ctx<'_>, app: &AppCtx, error: Option<&str>) -> Response<Bytes> {
    let csrf = csrf_field(&ctx.session);
    let listed = api(ctx, app, "/sensitiveword/list.json", &[]).await;
    let table = if listed.api_ok() {
        let words = listed.body["words"].as_array().cloned().unwrap_or_default();
        let rows = Html::concat(words.iter().map(|w| {
            let word = text_of(&w["word"]);
            html!(
                "<tr><td>{}</td><td>{}</td><td><form method=\"post\" action=\"{}\" class=\"inline\">{}\
                 <input type=\"hidden\" name=\"word\" value=\"{}\">\
                 <button type=\"submit\" aria-label=\"Delete {}\">Delete</button></form></td></tr>",
                word,
                text_of(&w["replaceWord"]),
                app_path(app, "/sensitive-words/delete"),
                csrf.clone(),
                word,
                word
            )
        }));
        html!(
            "<table id=\"words\"><thead><tr><th scope=\"col\">Word</th><th scope=\"col\">Replaced by</th>\
             <th scope=\"col\"><span class=\"visually-hidden\">Actions</span></th></tr></thead><tbody>{}</tbody></table>",
            rows
        )
    } else {
        error_box(Some(&listed.error()))
    };
    let body = html!(
        "<p>Text messages from clients are screened while they are stored: a word without a \
         replacement refuses the message, one with a replacement is replaced (at most 50 words).</p>\
         {}{}<form method=\"post\" action=\"{}\">{}\
         <div class=\"field\"><label for=\"word\">Word</label><input id=\"word\" name=\"word\"></div>\
         <div class=\"field\"><label for=\"replace\">Replace by (empty: refuse the message)</label>\
         <input id=\"replace\" name=\"replaceWord\"></div>\
         <button type=\"submit\">Add word</button></form>",
        error_box(error),
        table,
        app_path(app, "/sensitive-words"),
        csrf
    );
    app_page(ctx, app, status_of(error), "Sensitive words", body)
}

pub(crate) async fn add_word(ctx: &Ctx<'_>, app: &AppCtx) -> Response<Bytes> {
    let word = ctx.form.text("word");
    let mut form = vec![("word", word)];
    let replace = ctx.form.text("replaceWord");
    if !replace.is_empty() {
        form.push(("replaceWord", replace));
    }
    let answer = api(ctx, app, "/sensitiveword/add.json", &form).await;
    if answer.api_ok() {
        done(
            ctx,
            &app_path(app, "/sensitive-words"),
            format!("{word:?} added."),
        )
    } else {
        words(ctx, app, Some(&answer.error())).await
    }
}

pub(crate) async fn delete_word(ctx: &Ctx<'_>, app: &AppCtx) -> Response<Bytes> {
    let word = ctx.form.text("word");
    let answer = api(ctx, app, "/sensitiveword/delete.json", &[("word", word)]).await;
    if answer.api_ok() {
        done(
            ctx,
            &app_path(app, "/sensitive-words"),
            format!("{word:?} deleted."),
        )
    } else {
        words(ctx, app, Some(&answer.error())).await
    }
}

pub(crate) async fn dead_letters(ctx: &Ctx<'_>, app: &AppCtx) -> Response<Bytes> {
    let path = format!("/apps/{}/callbacks/dead-letters", app.key);
    let answer = ctx
        .state
        .areas
        .admin(&app.area, Method::GET, &path, None)
        .await;
    let body = match answer {
        Ok(answer) if answer.ok() => {
            let dead = answer.body["deadLetters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let rows = Html::concat(dead.iter().map(|job| {
                html!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    text_of(&job["id"]),
                    text_of(&job["kind"]),
                    text_of(&job["lane"]),
                    text_of(&job["attempts"]),
                    text_of(&job["lastError"]),
                    time(job["createdMs"].as_u64().unwrap_or_default())
                )
            }));
            let retry = if dead.is_empty() {
                Html::default()
            } else {
                html!(
                    "<form method=\"post\" action=\"{}\">{}<button type=\"submit\" id=\"retry\">\
                     Retry every dead letter</button></form>",
                    app_path(app, "/dead-letters/retry"),
                    csrf_field(&ctx.session)
                )
            };
            html!(
                "<p>Callbacks that failed as many times as the app's <code>maxAttempts</code> \
                 allows (kept 30 days). Waiting in the outbox now: <span id=\"waiting\">{}</span>.</p>\
                 <p>Dead letters: <span id=\"dead-count\">{}</span></p>\
                 <table id=\"dead-letters\"><thead><tr><th scope=\"col\">Id</th><th scope=\"col\">Kind</th>\
                 <th scope=\"col\">Lane</th><th scope=\"col\">Attempts</th><th scope=\"col\">Last error</th>\
                 <th scope=\"col\">Created</th></tr></thead><tbody>{}</tbody></table>{}",
                text_of(&answer.body["waiting"]),
                dead.len(),
                rows,
                retry
            )
        }
        Ok(answer) => error_box(Some(&answer.error())),
        Err(unreachable) => error_box(Some(&unreachable)),
    };
    app_page(ctx, app, StatusCode::OK, "Dead letters", body)
}

pub(crate) async fn retry(ctx: &Ctx<'_>, app: &AppCtx) -> Response<Bytes> {
    let path = format!("/apps/{}/callbacks/dead-letters/retry", app.key);
    let message = match ctx
        .state
        .areas
        .admin(&app.area, Method::POST, &path, None)
        .await
    {
        Ok(answer) if answer.ok() => format!(
            "{} dead letter(s) put back in the outbox.",
            text_of(&answer.body["retried"])
        ),
        Ok(answer) => answer.error(),
        Err(unreachable) => unreachable,
    };
    done(ctx, &app_path(app, "/dead-letters"), message)
}

pub(crate) async fn broadcast(ctx: &Ctx<'_>, app: &AppCtx, error: Option<&str>) -> Response<Bytes> {
    let path = format!("/apps/{}/limits", app.key);
    let budget = match ctx
        .state
        .areas
        .admin(&app.area, Method::GET, &path, None)
        .await
    {
        Ok(answer) if answer.ok() => {
            let rates = &answer.body["limits"]["apiRates"];
            let shown = |field: &str, default: u32| match rates[field].as_u64() {
                Some(n) => n.to_string(),
                None => format!("{default} (default)"),
            };
            html!(
                "<dl id=\"budget\"><dt>Broadcasts per hour</dt><dd id=\"per-hour\">{}</dd>\
                 <dt>Broadcasts per day</dt><dd id=\"per-day\">{}</dd></dl>",
                shown("broadcastsPerHour", 2),
                shown("broadcastsPerDay", 3)
            )
        }
        Ok(answer) => error_box(Some(&answer.error())),
        Err(unreachable) => error_box(Some(&unreachable)),
    };
    let typed = |name: &str, default: &'static str| match ctx.form.get(name) {
        Some(value) => value.to_string(),
        None => default.to_string(),
    };
    let body = html!(
        "<p>A message to every user of the app: stored once, read by each user's sync, pushed \
         to users offline at the time. The app's budget (set under Limits):</p>{}{}\
         <form method=\"post\" action=\"{}\">{}\
         <div class=\"field\"><label for=\"from\">From user</label><input id=\"from\" name=\"fromUserId\" value=\"{}\"></div>\
         <div class=\"field\"><label for=\"object\">Message type (objectName)</label><input id=\"object\" name=\"objectName\" value=\"{}\"></div>\
         <div class=\"field\"><label for=\"content\">Content (JSON)</label><textarea id=\"content\" name=\"content\" rows=\"3\">{}</textarea></div>\
         <div class=\"field\"><label for=\"push\">Push text</label><input id=\"push\" name=\"pushContent\" value=\"{}\"></div>\
         <button type=\"submit\" id=\"send-broadcast\">Send broadcast</button></form>",
        budget,
        error_box(error),
        app_path(app, "/broadcast"),
        csrf_field(&ctx.session),
        typed("fromUserId", "system"),
        typed("objectName", "RC:TxtMsg"),
        typed("content", "{\"content\":\"\"}"),
        typed("pushContent", "")
    );
    app_page(ctx, app, status_of(error), "Broadcast", body)
}

pub(crate) async fn send_broadcast(ctx: &Ctx<'_>, app: &AppCtx) -> Response<Bytes> {
    let mut form: Vec<(&str, &str)> = ["fromUserId", "objectName", "content"]
        .into_iter()
        .map(|name| (name, ctx.form.text(name)))
        .collect();
    if !ctx.form.text("pushContent").is_empty() {
        form.push(("pushContent", ctx.form.text("pushContent")));
    }
    let answer = api(ctx, app, "/message/broadcast.json", &form).await;
    if answer.api_ok() {
        let message = format!("Broadcast sent (id {}).", text_of(&answer.body["id"]));
        done(ctx, &app_path(app, "/broadcast"), message)
    } else {
        broadcast(ctx, app, Some(&answer.error())).await
    }
}

pub(crate) async fn users(ctx: &Ctx<'_>, app: &AppCtx, error: Option<&str>) -> Response<Bytes> {
    let user_id = ctx.query.text("userId");
    let found = if user_id.is_empty() {
        Html::default()
    } else {
        user(ctx, app, user_id).await
    };
    let body = html!(
        "{}<form method=\"get\" action=\"{}\" class=\"inline\">\
         <label for=\"user-id\">User id</label><input id=\"user-id\" name=\"userId\" value=\"{}\">\
         <button type=\"submit\" id=\"lookup\">Look up</button></form>{}",
        error_box(error),
        app_path(app, "/users"),
        user_id,
        found
    );
    app_page(ctx, app, status_of(error), "Users", body)
}

/// What the app's area knows of one user: the record (tokens' validity), online status
/// and ban.
async fn user(ctx: &Ctx<'_>, app: &AppCtx, user_id: &str) -> Html {
    let mut record_path = format!("/apps/{}/users/", app.key);
    record_path.extend(form_urlencoded::byte_serialize(user_id.as_bytes()));
    let record = match ctx
        .state
        .areas
        .admin(&app.area, Method::GET, &record_path, None)
        .await
    {
        Ok(answer) if answer.ok() => answer.body["user"].clone(),
        Ok(answer) => return error_box(Some(&answer.error())),
        Err(unreachable) => return error_box(Some(&unreachable)),
    };
    let online = api(ctx, app, "/user/checkOnline.json", &[("userId", user_id)]).await;
    let online = if online.api_ok() {
        (if online.body["status"] == "1" {
            "online"
        } else {
            "offline"
        })
        .to_string()
    } else {
        online.error()
    };
    let blocked = api(ctx, app, "/user/block/query.json", &[]).await;
    let ban = if blocked.api_ok() {
        blocked.body["users"]
            .as_array()
            .and_then(|users| users.iter().find(|u| u["userId"] == user_id))
            .map(|u| format!("banned until {}", text_of(&u["blockEndTime"])))
            .unwrap_or_else(|| "not banned".to_string())
    } else {
        blocked.error()
    };
    let valid_after = record["tokensValidAfterMs"].as_u64().unwrap_or_default();
    let tokens = if valid_after == 0 {
        "every token issued is valid".to_string()
    } else {
        format!("tokens issued before {} are refused", time(valid_after))
    };
    let tags: Vec<String> = record["tags"]
        .as_array()
        .map(|t| t.iter().map(text_of).collect())
        .unwrap_or_default();
    html!(
        "<section aria-labelledby=\"user-title\"><h2 id=\"user-title\">{}</h2><dl id=\"user\">\
         <dt>Name</dt><dd>{}</dd><dt>Registered</dt><dd>{}</dd><dt>Tags</dt><dd>{}</dd>\
         <dt>Tokens</dt><dd id=\"tokens\">{}</dd><dt>Online</dt><dd id=\"online\">{}</dd>\
         <dt>Ban</dt><dd id=\"ban\">{}</dd></dl>\
         <form method=\"post\" action=\"{}\">{}<input type=\"hidden\" name=\"userId\" value=\"{}\">\
         <button type=\"submit\">Expire the user's tokens now</button></form></section>",
        user_id,
        text_of(&record["name"]),
        time(record["createdAtMs"].as_u64().unwrap_or_default()),
        tags.join(", "),
        tokens,
        online,
        ban,
        app_path(app, "/users/expire-tokens"),
        csrf_field(&ctx.session),
        user_id
    )
}

pub(crate) async fn expire_tokens(ctx: &Ctx<'_>, app: &AppCtx) -> Response<Bytes> {
    let user_id = ctx.form.text("userId");
    let now = meridian_clock::now_ms().to_string();
    let answer = api(
        ctx,
        app,
        "/user/token/expire.json",
        &[("userId", user_id), ("time", &now)],
    )
    .await;
    if !answer.api_ok() {
        return users(ctx, app, Some(&answer.error())).await;
    }
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("userId", user_id)
        .finish();
    let to = format!("{}?{query}", app_path(app, "/users"));
    done(
        ctx,
        &to,
        format!("Tokens of {user_id} issued until now are refused."),
    )
}
