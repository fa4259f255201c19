//! One app's pages: the route among them, the tabs they share, the overview (credentials,
//! secret rotation, import).

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use serde_json::json;

use super::{
    csrf_field, denied_page, done, error_box, not_found, page, text_of, time, AppCtx, Ctx,
};
use crate::html::Html;
use crate::session::Role;

/// The app's pages: (path below `/apps/{key}`, tab title).
const TABS: &[(&str, &str)] = &[
    ("", "Overview"),
    ("/settings", "Settings"),
    ("/limits", "Limits"),
    ("/file-limits", "File limits"),
    ("/file-access", "File access"),
    ("/push-style", "Push style"),
    ("/push-vendors", "Push vendors"),
    ("/ultra-group-push", "Ultra-group push"),
    ("/push-rate", "Push rate"),
    ("/sdk-features", "SDK features"),
    ("/sensitive-words", "Sensitive words"),
    ("/dead-letters", "Dead letters"),
    ("/broadcast", "Broadcast"),
    ("/users", "Users"),
    ("/usage", "Usage"),
];

pub(crate) async fn route(
    ctx: &Ctx<'_>,
    app: &AppCtx,
    method: &Method,
    rest: &[&str],
) -> Response<Bytes> {
    use super::{records, tools, usage};
    match (method, rest) {
        (&Method::GET, []) => overview(ctx, app, None),
        (&Method::POST, ["secret"]) => rotate(ctx, app).await,
        (&Method::POST, ["import"]) => import(ctx, app).await,
        (&Method::GET, [slug]) if records::record(slug).is_some() => {
            records::show(ctx, app, slug).await
        }
        (&Method::POST, [slug]) if records::record(slug).is_some() => {
            records::submit(ctx, app, slug).await
        }
        (&Method::GET, ["sensitive-words"]) => tools::words(ctx, app, None).await,
        (&Method::POST, ["sensitive-words"]) => tools::add_word(ctx, app).await,
        (&Method::POST, ["sensitive-words", "delete"]) => tools::delete_word(ctx, app).await,
        (&Method::GET, ["dead-letters"]) => tools::dead_letters(ctx, app).await,
        (&Method::POST, ["dead-letters", "retry"]) => tools::retry(ctx, app).await,
        (&Method::GET, ["broadcast"]) => tools::broadcast(ctx, app, None).await,
        (&Method::POST, ["broadcast"]) => tools::send_broadcast(ctx, app).await,
        (&Method::GET, ["users"]) => tools::users(ctx, app, None).await,
        (&Method::POST, ["users", "expire-tokens"]) => tools::expire_tokens(ctx, app).await,
        (&Method::GET, ["usage"]) => usage::show(ctx, app).await,
        _ => not_found(ctx),
    }
}

/// A page of the app: its name, tabs and `body`.
pub(crate) fn app_page(
    ctx: &Ctx<'_>,
    app: &AppCtx,
    status: StatusCode,
    tab: &str,
    body: Html,
) -> Response<Bytes> {
    let tabs = Html::concat(TABS.iter().map(|(path, title)| {
        let current = if *title == tab {
            " aria-current=\"page\""
        } else {
            ""
        };
        html!(
            "<li><a href=\"/apps/{}{}\"{}>{}</a></li>",
            app.key,
            *path,
            Html::literal(current),
            *title
        )
    }));
    let body = html!(
        "<p class=\"app-id\">{} · <code>{}</code> · {} environment · area {}</p>\
         <nav aria-label=\"App\"><ul class=\"tabs\">{}</ul></nav>{}",
        app.name,
        app.key,
        app.env,
        app.area.code.as_str(),
        tabs,
        body
    );
    page(ctx, status, &format!("{}: {}", app.name, tab), body)
}

/// The path of one of the app's pages.
pub(crate) fn app_path(app: &AppCtx, below: &str) -> String {
    format!("/apps/{}{below}", app.key)
}

fn overview(ctx: &Ctx<'_>, app: &AppCtx, error: Option<&str>) -> Response<Bytes> {
    let csrf = csrf_field(&ctx.session);
    let import = if ctx.session.is_operator() {
        html!(
            "<section><h2>Import</h2><p>The lines of an export (<code>GET /admin/v1/apps/…/export</code>): \
             users, groups and messages, applied in order.</p>\
             <form method=\"post\" action=\"{}\" enctype=\"multipart/form-data\">{}\
             <div class=\"field\"><label for=\"import-file\">Export file (ndjson)</label>\
             <input type=\"file\" id=\"import-file\" name=\"file\" accept=\".ndjson,.jsonl,application/x-ndjson\" required></div>\
             <button type=\"submit\">Import</button></form></section>",
            app_path(app, "/import"),
            csrf.clone()
        )
    } else {
        Html::default()
    };
    let body = html!(
        "{}<section><h2>Credentials</h2><dl><dt>App Key</dt><dd><code id=\"app-key\">{}</code></dd>\
         <dt>App Secret</dt><dd><code id=\"app-secret\">{}</code></dd></dl>\
         <form method=\"post\" action=\"{}\">{}\
         <div class=\"field\"><label for=\"overlap\">Old secret stays valid for (seconds)</label>\
         <input id=\"overlap\" name=\"overlapSeconds\" value=\"86400\" inputmode=\"numeric\"></div>\
         <button type=\"submit\" id=\"rotate\">Rotate the secret</button></form></section>{}",
        error_box(error),
        app.key,
        app.secret,
        app_path(app, "/secret"),
        csrf,
        import
    );
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    app_page(ctx, app, status, "Overview", body)
}

/// `POST …/secret`: a new App Secret; the old one overlaps as asked.
async fn rotate(ctx: &Ctx<'_>, app: &AppCtx) -> Response<Bytes> {
    let overlap = ctx.form.text("overlapSeconds");
    let body = match overlap.parse::<u64>() {
        Ok(seconds) => json!({ "overlapSeconds": seconds }),
        // The API words the refusal.
        Err(_) => json!({ "overlapSeconds": overlap }),
    };
    let path = format!("/apps/{}/secret", app.key);
    match ctx
        .state
        .areas
        .admin_json(&app.area, Method::POST, &path, &body)
        .await
    {
        Ok(answer) if answer.ok() => {
            let secret = text_of(&answer.body["appSecret"]);
            if matches!(ctx.session.role, Role::Developer(_)) {
                ctx.state
                    .sessions
                    .update_secret(&ctx.session.id, &app.key, &secret);
            }
            let until = answer.body["previousValidUntilMs"]
                .as_u64()
                .unwrap_or_default();
            let message = format!(
                "Secret rotated: the old one is accepted until {}.",
                time(until)
            );
            done(ctx, &app_path(app, ""), message)
        }
        Ok(answer) => overview(ctx, app, Some(&answer.error())),
        Err(unreachable) => overview(ctx, app, Some(&unreachable)),
    }
}

/// `POST …/import` (operators): the file's lines go to the admin API as they are.
async fn import(ctx: &Ctx<'_>, app: &AppCtx) -> Response<Bytes> {
    if let Err(denied) = ctx.session.operator() {
        return denied_page(ctx, denied);
    }
    let Some(file) = ctx.parts.iter().find(|p| p.name == "file") else {
        return overview(ctx, app, Some("Choose an export file to import."));
    };
    let path = format!("/apps/{}/import", app.key);
    let body = Some(("application/x-ndjson", file.body.clone()));
    match ctx
        .state
        .areas
        .admin(&app.area, Method::POST, &path, body)
        .await
    {
        Ok(answer) if answer.ok() => {
            let counts: Vec<String> = ["users", "groups", "ultraGroups", "messages"]
                .iter()
                .map(|kind| format!("{} {kind}", answer.body[*kind]))
                .collect();
            let message = format!("Imported {}.", counts.join(", "));
            done(ctx, &app_path(app, ""), message)
        }
        Ok(answer) => overview(ctx, app, Some(&answer.error())),
        Err(unreachable) => overview(ctx, app, Some(&unreachable)),
    }
}
