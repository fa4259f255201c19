//! Signing in (the operator token, or an App Key and its Secret) and out.

use bytes::Bytes;
use http::{Response, StatusCode};

use super::{error_box, layout, redirect, respond, with_cookie, Ctx};
use crate::forms::Form;
use crate::html::Html;
use crate::session::{clear_cookie, same_secret, set_cookie, DevApp, Role, Session};
use crate::State;

/// The sign-in page; a visitor gets a session for its CSRF token.
pub(crate) fn show(state: &State, session: Option<&Session>) -> Response<Bytes> {
    match session {
        Some(session) => respond(StatusCode::OK, form(session, None)),
        None => {
            let visitor = state.sessions.create(Role::Visitor);
            with_cookie(
                respond(StatusCode::OK, form(&visitor, None)),
                set_cookie(&visitor),
            )
        }
    }
}

fn form(session: &Session, error: Option<&str>) -> Html {
    let csrf = super::csrf_field(session);
    let adding = match &session.role {
        Role::Developer(apps) => html!(
            "<p>Signed in to {} app(s). Sign in with another App Key to add it to this session.</p>",
            apps.len()
        ),
        _ => Html::default(),
    };
    let body = html!(
        "{}{}<div class=\"columns\">\
         <form method=\"post\" action=\"/signin\" class=\"card\"><h2>App developer</h2>{}\
         <input type=\"hidden\" name=\"as\" value=\"developer\">\
         <div class=\"field\"><label for=\"app-key\">App Key</label>\
         <input id=\"app-key\" name=\"appKey\" autocomplete=\"username\" required></div>\
         <div class=\"field\"><label for=\"app-secret\">App Secret</label>\
         <input id=\"app-secret\" name=\"appSecret\" type=\"password\" autocomplete=\"current-password\" required></div>\
         <button type=\"submit\" id=\"developer-signin\">Sign in</button></form>\
         <form method=\"post\" action=\"/signin\" class=\"card\"><h2>Operator</h2>{}\
         <input type=\"hidden\" name=\"as\" value=\"operator\">\
         <div class=\"field\"><label for=\"operator-token\">Operator token</label>\
         <input id=\"operator-token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required></div>\
         <button type=\"submit\" id=\"operator-signin\">Sign in</button></form></div>",
        error_box(error),
        adding,
        csrf.clone(),
        csrf
    );
    layout(Some(session), None, "Sign in", body)
}

pub(crate) async fn submit(
    state: &State,
    session: Option<&Session>,
    form: &Form,
) -> Response<Bytes> {
    let Some(session) = session.filter(|s| s.csrf_ok(form.get("csrf"))) else {
        // No session or a stale form: a fresh sign-in page.
        let visitor = state.sessions.create(Role::Visitor);
        let page = self::form(
            &visitor,
            Some("The sign-in form had expired: please sign in again."),
        );
        return with_cookie(respond(StatusCode::FORBIDDEN, page), set_cookie(&visitor));
    };
    let refused =
        |message: &str| respond(StatusCode::UNAUTHORIZED, self::form(session, Some(message)));
    let role = match form.text("as") {
        "operator" => {
            if !same_secret(form.text("token"), &state.operator_token) {
                return refused("That is not the operator token.");
            }
            Role::Operator
        }
        "developer" => {
            let (key, secret) = (form.text("appKey"), form.text("appSecret"));
            let wrong = "No app has that App Key and Secret.";
            if key.is_empty() || key.len() > 64 || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
                return refused(wrong);
            }
            let found = match state.areas.find_app(key).await {
                Ok(Some(found)) if same_secret(secret, found.secret()) => found,
                Ok(_) => return refused(wrong),
                Err(unreachable) => return refused(&unreachable),
            };
            // Another key adds to a developer's session.
            let mut apps = match &session.role {
                Role::Developer(apps) => apps.clone(),
                _ => Default::default(),
            };
            apps.insert(
                key.to_string(),
                DevApp {
                    area: found.area.code.to_string(),
                    secret: secret.to_string(),
                },
            );
            Role::Developer(apps)
        }
        _ => return refused("Choose how to sign in."),
    };
    let to = match &role {
        Role::Developer(_) => format!("/apps/{}", form.text("appKey")),
        _ => "/apps".to_string(),
    };
    let signed_in = state.sessions.replace(Some(session), role);
    with_cookie(redirect(&to), set_cookie(&signed_in))
}

pub(crate) fn sign_out(ctx: &Ctx<'_>) -> Response<Bytes> {
    ctx.state.sessions.remove(&ctx.session.id);
    with_cookie(redirect("/signin"), clear_cookie())
}
