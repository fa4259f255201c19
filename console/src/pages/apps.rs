//! Apps by area (with the operator's create form) and the area catalog.

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use serde_json::{json, Value};

use super::{csrf_field, denied_page, done, error_box, page, text_of, time, Ctx};
use crate::html::Html;
use crate::session::Role;

pub(crate) async fn list(ctx: &Ctx<'_>) -> Response<Bytes> {
    render_list(ctx, None).await
}

/// The apps page; `refused` is a create form's area and the API's refusal.
async fn render_list(ctx: &Ctx<'_>, refused: Option<(&str, String)>) -> Response<Bytes> {
    let status = if refused.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    if let Role::Developer(apps) = &ctx.session.role {
        let rows = Html::concat(apps.iter().map(|(key, app)| {
            html!(
                "<tr><td><a href=\"/apps/{}\">{}</a></td><td>{}</td></tr>",
                key,
                key,
                app.area
            )
        }));
        let body = html!(
            "<table><thead><tr><th scope=\"col\">App Key</th><th scope=\"col\">Area</th></tr></thead>\
             <tbody>{}</tbody></table><p><a href=\"/signin\">Add another app</a> by signing in with its key.</p>",
            rows
        );
        return page(ctx, status, "Your apps", body);
    }
    let mut sections = Vec::new();
    for area in ctx.state.areas.list() {
        let answer = ctx
            .state
            .areas
            .admin(area, Method::GET, "/apps", None)
            .await;
        let table = match answer {
            Ok(answer) if answer.ok() => apps_table(answer.body["apps"].as_array()),
            Ok(answer) => error_box(Some(&answer.error())),
            Err(unreachable) => error_box(Some(&unreachable)),
        };
        let error = refused
            .as_ref()
            .filter(|(code, _)| *code == area.code.as_str())
            .map(|(_, e)| e.as_str());
        let code = area.code.as_str();
        sections.push(html!(
            "<section aria-labelledby=\"area-{}\" data-area=\"{}\"><h2 id=\"area-{}\">{}</h2>{}\
             <form method=\"post\" action=\"/areas/{}/apps\" class=\"inline\">{}{}\
             <label for=\"new-app-{}\">New app in {}</label>\
             <input id=\"new-app-{}\" name=\"name\" placeholder=\"name\">\
             <button type=\"submit\">Create app</button></form></section>",
            code,
            code,
            code,
            code,
            table,
            code,
            csrf_field(&ctx.session),
            error_box(error),
            code,
            code,
            code
        ));
    }
    page(ctx, status, "Apps by area", Html::concat(sections))
}

fn apps_table(apps: Option<&Vec<Value>>) -> Html {
    let apps = apps.map(Vec::as_slice).unwrap_or_default();
    if apps.is_empty() {
        return Html::literal("<p>No apps yet.</p>");
    }
    let rows = Html::concat(apps.iter().map(|app| {
        let key = |env: &str| text_of(&app[env]["appKey"]);
        let (dev, prod) = (key("dev"), key("prod"));
        html!(
            "<tr data-app=\"{}\"><td>{}</td><td><a href=\"/apps/{}\">{}</a></td>\
             <td><a href=\"/apps/{}\">{}</a></td><td>{}</td></tr>",
            prod,
            text_of(&app["name"]),
            dev,
            dev,
            prod,
            prod,
            time(app["createdAtMs"].as_u64().unwrap_or_default())
        )
    }));
    html!(
        "<table><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Dev App Key</th>\
         <th scope=\"col\">Prod App Key</th><th scope=\"col\">Created</th></tr></thead><tbody>{}</tbody></table>",
        rows
    )
}

/// `POST /areas/{code}/apps`: a new app (operators).
pub(crate) async fn create(ctx: &Ctx<'_>, code: &str) -> Response<Bytes> {
    if let Err(denied) = ctx.session.operator() {
        return denied_page(ctx, denied);
    }
    let Some(area) = ctx.state.areas.get(code) else {
        return super::not_found(ctx);
    };
    let body = json!({ "name": ctx.form.text("name") });
    match ctx
        .state
        .areas
        .admin_json(area, Method::POST, "/apps", &body)
        .await
    {
        Ok(answer) if answer.ok() => {
            let app = &answer.body["app"];
            let prod = text_of(&app["prod"]["appKey"]);
            let message = format!("App {} created in {}.", text_of(&app["name"]), area.code);
            done(ctx, &format!("/apps/{prod}"), message)
        }
        Ok(answer) => render_list(ctx, Some((code, answer.error()))).await,
        Err(unreachable) => render_list(ctx, Some((code, unreachable))).await,
    }
}

/// The area catalog of every area (operators), and where the console reaches each.
pub(crate) async fn catalog(ctx: &Ctx<'_>) -> Response<Bytes> {
    if let Err(denied) = ctx.session.operator() {
        return denied_page(ctx, denied);
    }
    let mut sections = Vec::new();
    for area in ctx.state.areas.list() {
        let entries = match ctx
            .state
            .areas
            .admin(area, Method::GET, "/areas", None)
            .await
        {
            Ok(answer) if answer.ok() => {
                let entries = answer.body["areas"].as_array().cloned().unwrap_or_default();
                if entries.is_empty() {
                    Html::literal("<p>This area's catalog has no entries.</p>")
                } else {
                    Html::concat(entries.iter().map(|entry| {
                        html!(
                            "<h3>{}</h3><pre>{}</pre>",
                            text_of(&entry["code"]),
                            serde_json::to_string_pretty(entry).unwrap_or_default()
                        )
                    }))
                }
            }
            Ok(answer) => error_box(Some(&answer.error())),
            Err(unreachable) => error_box(Some(&unreachable)),
        };
        sections.push(html!(
            "<section><h2>{}</h2><dl><dt>Admin API</dt><dd>{}</dd><dt>Server API</dt><dd>{}</dd></dl>{}</section>",
            area.code.as_str(),
            area.admin,
            area.api,
            entries
        ));
    }
    page(ctx, StatusCode::OK, "Area catalog", Html::concat(sections))
}
