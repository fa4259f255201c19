//! covers: WEB-02, MSG-10. Nav answers browser pages (CORS) from the origins the app lists
//! as secure domains, and every origin while it lists none: preflights of both navigation
//! requests, the answers' `Access-Control-Allow-Origin`, and a 403 without CORS headers
//! for an origin the app does not list. Requests without `Origin` are unchanged.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{binary, put_settings, Api};
use meridian_testkit::{eventually, DevDeployment};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP/1.1 exchange: the status, the headers (names lowercased) and the body.
async fn exchange(
    url: &str,
    method: &str,
    headers: &[(&str, &str)],
) -> (u16, BTreeMap<String, String>, String) {
    let rest = url.trim_start_matches("http://");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .expect("connect to nav");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: 0\r\n"
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

const ALLOW_ORIGIN: &str = "access-control-allow-origin";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nav_answers_pages_from_the_apps_secure_domains_only() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "dev");
    let token = api.token("alice").await;
    let nav = dev.endpoints["nav"][0].as_str().unwrap().to_string();
    let v1 = format!("{nav}/v1/nav?appKey={}&token={token}", api.key);
    let page = "http://chat.example.com";

    // Nav's edge health poll runs every second: wait for a first 200.
    eventually(Duration::from_secs(10), "nav knows the edge", || async {
        (exchange(&v1, "GET", &[]).await.0 == 200).then_some(())
    })
    .await;

    // No secure domains: every page may read the answer.
    let (status, headers, body) = exchange(&v1, "GET", &[("Origin", page)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers.get(ALLOW_ORIGIN).map(String::as_str), Some(page));
    assert_eq!(headers.get("vary").map(String::as_str), Some("Origin"));
    let (status, headers, _) = exchange(&v1, "GET", &[]).await;
    assert_eq!(status, 200);
    assert!(
        !headers.contains_key(ALLOW_ORIGIN),
        "not a browser: no CORS"
    );

    // The commercial request's preflight announces its RC-Appkey header.
    let (status, headers, _) = exchange(
        &format!("{nav}/v2/navi.json"),
        "OPTIONS",
        &[
            ("Origin", page),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "rc-appkey, content-type"),
        ],
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(headers.get(ALLOW_ORIGIN).map(String::as_str), Some(page));
    let allowed = headers["access-control-allow-headers"].to_ascii_lowercase();
    assert!(allowed.contains("rc-appkey") && allowed.contains("content-type"));
    assert!(headers["access-control-allow-methods"].contains("POST"));

    // The app lists its secure domains: only they get answers.
    let settings = serde_json::json!({ "secureDomains": [page] });
    assert_eq!(put_settings(&dev, &api.key, settings).await, 200);
    let other = "http://evil.example.net";
    // Settings reach nav within its one-second app cache.
    let refused = eventually(Duration::from_secs(10), "the origin refused", || async {
        let answer = exchange(&v1, "GET", &[("Origin", other)]).await;
        (answer.0 != 200).then_some(answer)
    })
    .await;
    assert_eq!(refused.0, 403, "{}", refused.2);
    assert!(!refused.1.contains_key(ALLOW_ORIGIN));
    let (status, headers, _) = exchange(&v1, "OPTIONS", &[("Origin", other)]).await;
    assert_eq!(status, 403, "a preflight naming the app is refused too");
    assert!(!headers.contains_key(ALLOW_ORIGIN));

    let (status, headers, _) = exchange(&v1, "GET", &[("Origin", page)]).await;
    assert_eq!(status, 200);
    assert_eq!(headers.get(ALLOW_ORIGIN).map(String::as_str), Some(page));
    let (status, headers, _) = exchange(&v1, "OPTIONS", &[("Origin", page)]).await;
    assert_eq!(status, 204);
    assert_eq!(headers.get(ALLOW_ORIGIN).map(String::as_str), Some(page));
    // Clients that are not browsers are not affected by the list.
    assert_eq!(exchange(&v1, "GET", &[]).await.0, 200);
    dev.stop();
}
