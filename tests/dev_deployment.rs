//! `meridian dev` as a user runs it: the whole deployment healthy within 15 s,
//! endpoints.json in its documented schema, every metrics URL answering, the admin API
//! reachable through the edge, a clean shutdown and a restart with the same apps.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use meridian_testkit::{eventually, Process};
use serde_json::Value;
use tokio::time::Instant;

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_meridian"))
}

const AREAS: [&str; 5] = ["CN", "SG", "SG-B", "NA", "SA"];

fn start_dev(data_dir: &Path, port_base: u16) -> Process {
    Process::spawn(
        Command::new(binary())
            .args(["dev", "--port-base", &port_base.to_string(), "--data-dir"])
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null()),
    )
}

async fn get(url: &str) -> Option<meridian_rpc::http::HttpAnswer> {
    meridian_rpc::http::request("GET", url, None, None, Duration::from_secs(5))
        .await
        .ok()
}

/// GET with the area header.
async fn admin_with_area(url: &str, token: &str, area: &str) -> meridian_rpc::http::HttpAnswer {
    let headers = [
        ("Authorization".to_string(), format!("Bearer {token}")),
        ("X-Meridian-Area".to_string(), area.to_string()),
    ];
    meridian_testkit::raw_http(url, "GET", &headers, b"").await
}

fn string_array(value: &Value, what: &str) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{what} is not an array"))
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("{what} holds a non-string"))
                .to_string()
        })
        .collect()
}

/// Checks the schema of DESIGN §7 and returns every URL that must answer /healthz.
fn check_schema(endpoints: &Value) -> Vec<String> {
    let mut health = Vec::new();
    let navs = string_array(&endpoints["nav"], "nav");
    assert_eq!(navs.len(), 2, "a primary and a backup nav");
    health.extend(navs.iter().cloned());
    assert!(endpoints["operatorToken"]
        .as_str()
        .is_some_and(|t| t.len() >= 16));
    let areas = endpoints["areas"].as_object().expect("areas");
    let codes: Vec<&str> = areas.keys().map(String::as_str).collect();
    let mut expected = AREAS.to_vec();
    expected.sort();
    let mut got = codes.clone();
    got.sort();
    assert_eq!(got, expected);
    let metrics = string_array(&endpoints["metrics"], "metrics");
    for (code, area) in areas {
        let api = string_array(&area["api"], "api");
        assert!(
            !api.is_empty() && api.iter().all(|u| u.starts_with("http://")),
            "{code} api"
        );
        health.extend(api);
        let edges = area["edges"].as_array().expect("edges");
        assert!(!edges.is_empty());
        for edge in edges {
            assert!(edge["ws"]
                .as_str()
                .is_some_and(|u| u.starts_with("ws://") && u.ends_with("/websocket")));
            let m = edge["metrics"].as_str().expect("edge metrics");
            assert!(metrics.iter().any(|x| x == m), "{m} listed in metrics");
            health.push(m.trim_end_matches("/metrics").to_string());
        }
        let cluster = area["cluster"].as_array().expect("cluster");
        assert_eq!(cluster.len(), 3, "{code} has 3 nodes");
        for node in cluster {
            assert!(node["id"].as_u64().is_some());
            let m = node["metrics"].as_str().expect("node metrics");
            assert!(metrics.iter().any(|x| x == m), "{m} listed in metrics");
            health.push(node["admin"].as_str().expect("node admin").to_string());
        }
        let apps = area["apps"].as_array().expect("apps");
        let envs: Vec<&str> = apps
            .iter()
            .map(|a| a["env"].as_str().expect("env"))
            .collect();
        assert_eq!(envs, ["dev", "prod"], "{code} demo app environments");
        for app in apps {
            assert!(app["appKey"].as_str().is_some_and(|k| !k.is_empty()));
            assert!(app["appSecret"].as_str().is_some_and(|k| !k.is_empty()));
        }
    }
    health
}

fn pick_port_base() -> u16 {
    // Outside the ephemeral range; spread by pid so parallel runs rarely collide.
    20_000 + (std::process::id() % 200) as u16 * 50
}

async fn wait_for_endpoints(path: &PathBuf, dev: &mut Process) -> Value {
    eventually(Duration::from_secs(15), "endpoints.json", || {
        let exited = dev.try_wait();
        async move {
            assert!(exited.is_none(), "meridian dev exited early: {exited:?}");
            let text = std::fs::read_to_string(path).ok()?;
            serde_json::from_str(&text).ok()
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dev_is_healthy_fast_documents_itself_and_restarts_with_the_same_apps() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let endpoints_path = data_dir.join("endpoints.json");
    let port_base = pick_port_base();
    let started = Instant::now();
    let mut dev = start_dev(&data_dir, port_base);

    let endpoints = wait_for_endpoints(&endpoints_path, &mut dev).await;
    let health = check_schema(&endpoints);
    for url in &health {
        let answer = get(&format!("{url}/healthz")).await;
        assert_eq!(answer.map(|a| a.status), Some(200), "{url}/healthz");
    }
    let healthy_after = started.elapsed();
    assert!(
        healthy_after <= Duration::from_secs(15),
        "healthy after {healthy_after:?}"
    );

    for url in string_array(&endpoints["metrics"], "metrics") {
        let answer = get(&url).await.unwrap_or_else(|| panic!("{url} answers"));
        assert_eq!(answer.status, 200, "{url}");
        assert!(
            answer.text().lines().any(|l| l.starts_with("meridian_")),
            "{url} has meridian_ metrics"
        );
    }

    // The operator admin API through the SG edge.
    let token = endpoints["operatorToken"].as_str().unwrap().to_string();
    let edge = endpoints["areas"]["SG"]["api"][0]
        .as_str()
        .unwrap()
        .to_string();
    let apps_url = format!("{edge}/admin/v1/apps");
    let unauthorized =
        meridian_rpc::http::request("GET", &apps_url, None, None, Duration::from_secs(5))
            .await
            .unwrap();
    assert_eq!(unauthorized.status, 401);
    let body =
        br#"{"name":"moved-in","prod":{"appKey":"movedinkey01","appSecret":"movedinsecret01"}}"#;
    let created = meridian_rpc::http::request(
        "POST",
        &apps_url,
        Some(&token),
        Some(body),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert_eq!(created.status, 200, "{}", created.text());
    let listed = meridian_rpc::http::request(
        "GET",
        &apps_url,
        Some(&token),
        None,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert!(listed.text().contains("movedinkey01"));
    let users_url = format!("{edge}/admin/v1/apps/movedinkey01/users");
    let user = meridian_rpc::http::request(
        "POST",
        &users_url,
        Some(&token),
        Some(br#"{"userId":"alice","name":"Alice","tags":["vip"]}"#),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert_eq!(user.status, 200, "{}", user.text());
    let created: serde_json::Value = serde_json::from_str(&user.text()).unwrap();
    assert_eq!(
        (&created["user"]["name"], &created["user"]["tags"]),
        (&serde_json::json!("Alice"), &serde_json::json!(["vip"]))
    );
    // The app lives in SG only: the NA cluster does not know it.
    let na_edge = endpoints["areas"]["NA"]["api"][0].as_str().unwrap();
    let elsewhere = meridian_rpc::http::request(
        "GET",
        &format!("{na_edge}/admin/v1/apps/movedinkey01"),
        Some(&token),
        None,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert_eq!(elsewhere.status, 404);

    // An edge refuses admin calls for an area it does not front.
    let misdirected = admin_with_area(&apps_url, &token, "NA").await;
    assert_eq!(misdirected.status, 421, "{}", misdirected.text());
    let unknown = admin_with_area(&apps_url, &token, "EU").await;
    assert_eq!(unknown.status, 400, "{}", unknown.text());
    assert_eq!(admin_with_area(&apps_url, &token, "sg").await.status, 200);

    // SIGTERM: a clean exit.
    let status = dev.terminate();
    assert!(status.success(), "meridian dev exited with {status}");

    // Same data dir, same flags: the same apps come back.
    std::fs::remove_file(&endpoints_path).unwrap();
    let mut dev = start_dev(&data_dir, port_base);
    let again = wait_for_endpoints(&endpoints_path, &mut dev).await;
    for code in AREAS {
        assert_eq!(
            again["areas"][code]["apps"], endpoints["areas"][code]["apps"],
            "{code} demo app kept"
        );
    }
    let listed = meridian_rpc::http::request(
        "GET",
        &apps_url,
        Some(&token),
        None,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert!(
        listed.text().contains("movedinkey01"),
        "app created before the restart is kept"
    );
    assert!(dev.terminate().success());
}
