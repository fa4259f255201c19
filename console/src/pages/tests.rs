//! The checks every page relies on, through the router: sessions, CSRF tokens, scope.

use std::collections::BTreeMap;

use super::*;
use crate::areas::Areas;
use crate::session::{DevApp, Sessions, COOKIE_NAME};

/// A console whose one area listens nowhere: the checks tested answer before any call.
fn state() -> State {
    let area = Area {
        code: "SG".parse().unwrap(),
        admin: "http://127.0.0.1:9".into(),
        api: "http://127.0.0.1:9".into(),
    };
    let http = meridian_rpc::outbound::OutboundClient::new(&[]).unwrap();
    State {
        operator_token: "operator-token".into(),
        areas: Areas::new(vec![area], "operator-token".into(), http),
        sessions: Sessions::default(),
    }
}

fn request(method: &str, path: &str, session: Option<&Session>, body: &str) -> Request<Bytes> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(session) = session {
        builder = builder.header("cookie", format!("{COOKIE_NAME}={}", session.id));
    }
    builder
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(body.to_string()))
        .unwrap()
}

fn text(response: &Response<Bytes>) -> String {
    String::from_utf8_lossy(response.body()).into_owned()
}

#[tokio::test]
async fn a_developer_of_one_app_gets_403_on_another_apps_pages_and_operator_pages() {
    let state = state();
    let apps = BTreeMap::from([(
        "appkeyA1".to_string(),
        DevApp {
            area: "SG".into(),
            secret: "secretA".into(),
        },
    )]);
    let developer = state.sessions.create(Role::Developer(apps));
    for path in [
        "/apps/appkeyB1",
        "/apps/appkeyB1/settings",
        "/apps/appkeyB1/usage",
        "/areas",
    ] {
        let response = handle(&state, request("GET", path, Some(&developer), "")).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(text(&response).contains("not in your session"), "{path}");
    }
    let create = format!("csrf={}&name=x", developer.csrf);
    let response = handle(
        &state,
        request("POST", "/areas/SG/apps", Some(&developer), &create),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let rotate = format!("csrf={}", developer.csrf);
    let response = handle(
        &state,
        request("POST", "/apps/appkeyB1/secret", Some(&developer), &rotate),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn pages_need_a_session_and_posts_their_csrf_token() {
    let state = state();
    let response = handle(&state, request("GET", "/apps", None, "")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/signin");

    let operator = state.sessions.create(Role::Operator);
    for body in ["name=x".to_string(), "csrf=wrong&name=x".to_string()] {
        let response = handle(
            &state,
            request("POST", "/areas/SG/apps", Some(&operator), &body),
        )
        .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{body}");
        assert!(text(&response).contains("CSRF"));
    }
    // Signing out needs the token too, and then the session is gone.
    let body = format!("csrf={}", operator.csrf);
    let response = handle(&state, request("POST", "/signout", Some(&operator), &body)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = handle(&state, request("GET", "/apps", Some(&operator), "")).await;
    assert_eq!(response.headers()[LOCATION], "/signin");
}

#[tokio::test]
async fn signing_in_checks_the_operator_token_and_gives_a_new_session() {
    let state = state();
    let page = handle(&state, request("GET", "/signin", None, "")).await;
    let cookie = page.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let visitor = state.sessions.get(&{
        let mut headers = http::HeaderMap::new();
        headers.insert("cookie", cookie.split(';').next().unwrap().parse().unwrap());
        headers
    });
    let visitor = visitor.expect("a visitor session");
    assert!(
        text(&page).contains(&visitor.csrf),
        "the form carries its CSRF token"
    );

    let wrong = format!("csrf={}&as=operator&token=guess", visitor.csrf);
    let response = handle(&state, request("POST", "/signin", Some(&visitor), &wrong)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(text(&response).contains("not the operator token"));

    let right = format!("csrf={}&as=operator&token=operator-token", visitor.csrf);
    let response = handle(&state, request("POST", "/signin", Some(&visitor), &right)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap();
    assert!(
        !cookie.contains(&visitor.id),
        "a new session id after signing in"
    );
}
