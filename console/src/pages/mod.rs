//! The console's pages: the route from method and path to a page, the layout every page
//! shares, and the checks before any page runs (signed in, the form's CSRF token, the
//! app in the session's scope).

mod app;
mod apps;
mod records;
mod signin;
mod tools;
mod usage;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use serde_json::Value;

use crate::areas::Area;
use crate::forms::{multipart, Form, Part};
use crate::html::Html;
use crate::session::{Denied, Role, Scope, Session};
use crate::State;

const STYLE: &str = include_str!("../../style.css");

/// A signed-in request, checked.
pub(crate) struct Ctx<'a> {
    pub state: &'a State,
    pub session: Session,
    /// The form posted (fields of a multipart body too), or empty.
    pub form: Form,
    /// A multipart body's parts (the import form's file).
    pub parts: Vec<Part>,
    pub query: Form,
    pub flash: Option<String>,
}

/// The app a page is about, as its area's admin API answered.
pub(crate) struct AppCtx {
    pub key: String,
    pub area: Area,
    pub name: String,
    /// `dev` or `prod`.
    pub env: String,
    /// Its current App Secret (to sign Server API calls with).
    pub secret: String,
}

pub(crate) async fn handle(state: &State, request: Request<Bytes>) -> Response<Bytes> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let method = parts.method.clone();
    let session = state.sessions.get(&parts.headers);
    match (&method, segments.as_slice()) {
        (&Method::GET, ["style.css"]) => return style(),
        (&Method::GET, []) => {
            let signed_in = session.as_ref().is_some_and(|s| s.role != Role::Visitor);
            return redirect(if signed_in { "/apps" } else { "/signin" });
        }
        (&Method::GET, ["signin"]) => return signin::show(state, session.as_ref()),
        (&Method::POST, ["signin"]) => {
            return signin::submit(state, session.as_ref(), &Form::parse(&body)).await
        }
        _ => {}
    }
    let Some(session) = session.filter(|s| s.role != Role::Visitor) else {
        return redirect("/signin");
    };
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (form, files) = if method != Method::POST {
        (Form::default(), Vec::new())
    } else if content_type.starts_with("multipart/form-data") {
        let all = multipart(content_type, &body).unwrap_or_default();
        let (files, fields): (Vec<Part>, Vec<Part>) =
            all.into_iter().partition(|p| p.filename.is_some());
        let fields = fields
            .into_iter()
            .map(|p| (p.name, String::from_utf8_lossy(&p.body).into_owned()))
            .collect();
        (Form(fields), files)
    } else {
        (Form::parse(&body), Vec::new())
    };
    if method == Method::POST && !session.csrf_ok(form.get("csrf")) {
        return message_page(
            Some(&session),
            StatusCode::FORBIDDEN,
            "Form refused",
            "This form did not come from this session of the console (its CSRF token does not \
             match): nothing was changed. Reload the page and send it again.",
        );
    }
    let ctx = Ctx {
        state,
        flash: state.sessions.take_flash(&session.id),
        session,
        form,
        parts: files,
        query: Form::parse(parts.uri.query().unwrap_or_default().as_bytes()),
    };
    match (&method, segments.as_slice()) {
        (&Method::POST, ["signout"]) => signin::sign_out(&ctx),
        (&Method::GET, ["apps"]) => apps::list(&ctx).await,
        (&Method::GET, ["areas"]) => apps::catalog(&ctx).await,
        (&Method::POST, ["areas", code, "apps"]) => apps::create(&ctx, code).await,
        (_, ["apps", key, rest @ ..]) => match app_ctx(&ctx, key).await {
            Ok(app) => app::route(&ctx, &app, &method, rest).await,
            Err(response) => *response,
        },
        _ => not_found(&ctx),
    }
}

/// The app `key` if this session may see it; else the page saying why not.
async fn app_ctx(ctx: &Ctx<'_>, key: &str) -> Result<AppCtx, Box<Response<Bytes>>> {
    // App Keys are 6–64 letters and digits; anything else names no app.
    if key.is_empty() || key.len() > 64 || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Box::new(not_found(ctx)));
    }
    let scope = ctx
        .session
        .scope(key)
        .map_err(|denied| Box::new(denied_page(ctx, denied)))?;
    let found = match &scope {
        Scope::Operator => ctx.state.areas.find_app(key).await,
        Scope::Developer(app) => match ctx.state.areas.get(&app.area) {
            Some(area) => ctx.state.areas.find_app_in(area, key).await,
            None => Ok(None),
        },
    };
    let found = match found {
        Ok(Some(found)) => found,
        Ok(None) => return Err(Box::new(not_found(ctx))),
        Err(unreachable) => {
            return Err(Box::new(message_page(
                Some(&ctx.session),
                StatusCode::BAD_GATEWAY,
                "Area unreachable",
                &unreachable,
            )))
        }
    };
    // A developer's proof is the secret they signed in with: once it is rotated by
    // someone else, their session no longer opens the app.
    if let Scope::Developer(app) = &scope {
        if !crate::session::same_secret(&app.secret, found.secret()) {
            return Err(Box::new(message_page(
                Some(&ctx.session),
                StatusCode::FORBIDDEN,
                "Sign in again",
                "This app's secret was rotated since you signed in: sign in with the new one.",
            )));
        }
    }
    Ok(AppCtx {
        key: key.to_string(),
        name: found.app["name"].as_str().unwrap_or_default().to_string(),
        secret: found.secret().to_string(),
        env: found.env,
        area: found.area,
    })
}

/// The whole document: header, navigation, the flash message, the page.
pub(crate) fn layout(
    session: Option<&Session>,
    flash: Option<&str>,
    title: &str,
    body: Html,
) -> Html {
    let nav = match session {
        Some(session) if session.role != Role::Visitor => {
            let areas = if session.is_operator() {
                Html::literal("<li><a href=\"/areas\">Areas</a></li>")
            } else {
                Html::default()
            };
            let who = if session.is_operator() {
                "operator"
            } else {
                "developer"
            };
            html!(
                "<nav aria-label=\"Console\"><ul><li><a href=\"/apps\">Apps</a></li>{}</ul>\
                 <form method=\"post\" action=\"/signout\" class=\"signout\">{}\
                 <span>Signed in as {}</span> <button type=\"submit\">Sign out</button></form></nav>",
                areas,
                csrf_field(session),
                who
            )
        }
        _ => Html::default(),
    };
    let flash = match flash {
        Some(message) => html!("<p class=\"flash\" role=\"status\">{}</p>", message),
        None => Html::default(),
    };
    html!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Meridian console</title><link rel=\"stylesheet\" href=\"/style.css\"></head>\
         <body><header><a class=\"brand\" href=\"/\">Meridian console</a>{}</header>\
         <main><h1>{}</h1>{}{}</main></body></html>",
        title,
        nav,
        title,
        flash,
        body
    )
}

/// The hidden field every form carries.
pub(crate) fn csrf_field(session: &Session) -> Html {
    html!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        session.csrf
    )
}

/// A refusal shown next to the form it refuses.
pub(crate) fn error_box(error: Option<&str>) -> Html {
    match error {
        Some(error) => html!("<p class=\"error\" role=\"alert\">{}</p>", error),
        None => Html::default(),
    }
}

pub(crate) fn respond(status: StatusCode, document: Html) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(document.into_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-type", "text/html; charset=utf-8"),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        (
            "content-security-policy",
            "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A page of `ctx`'s session.
pub(crate) fn page(ctx: &Ctx<'_>, status: StatusCode, title: &str, body: Html) -> Response<Bytes> {
    respond(
        status,
        layout(Some(&ctx.session), ctx.flash.as_deref(), title, body),
    )
}

pub(crate) fn message_page(
    session: Option<&Session>,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response<Bytes> {
    let body = html!("<p class=\"error\" role=\"alert\">{}</p>", message);
    respond(status, layout(session, None, title, body))
}

pub(crate) fn not_found(ctx: &Ctx<'_>) -> Response<Bytes> {
    message_page(
        Some(&ctx.session),
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page or app.",
    )
}

pub(crate) fn denied_page(ctx: &Ctx<'_>, denied: Denied) -> Response<Bytes> {
    match denied {
        Denied::SignedOut => redirect("/signin"),
        Denied::Forbidden => message_page(
            Some(&ctx.session),
            StatusCode::FORBIDDEN,
            "Forbidden",
            "This page is not in your session's scope: sign in with the app's key and secret to see it.",
        ),
    }
}

/// Redirect-after-post (and plain redirects): `303 See Other`.
pub(crate) fn redirect(to: &str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(location) = HeaderValue::try_from(to) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

/// Redirects to `to` with a message for the next page.
pub(crate) fn done(ctx: &Ctx<'_>, to: &str, message: String) -> Response<Bytes> {
    ctx.state.sessions.flash(&ctx.session.id, message);
    redirect(to)
}

pub(crate) fn with_cookie(mut response: Response<Bytes>, cookie: String) -> Response<Bytes> {
    if let Ok(value) = HeaderValue::try_from(cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

fn style() -> Response<Bytes> {
    let mut response = Response::new(Bytes::from_static(STYLE.as_bytes()));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("max-age=300"));
    response
}

/// A time as people read it (UTC), from milliseconds since the epoch.
pub(crate) fn time(ms: u64) -> String {
    format!("{} UTC", meridian_clock::format_utc(ms))
}

/// A JSON value as a short text (strings without quotes).
pub(crate) fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
