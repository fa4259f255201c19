//! covers: NAV-01, NAV-02, NAV-03, NAV-04. Navigation through real processes: answers for
//! all five areas in both formats, wrong areas and bad credentials, nearby-first edge
//! order, a dead edge leaving the answers within 5 s, and the SDK falling back from a
//! killed primary nav to the backup, then to its cached answer, and the resilient client
//! reconnecting from that answer to the backup edge; edges, API and nav hosts taken from
//! the area catalog the admin API keeps.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use meridian_access::token::{self, TokenClaims};
use meridian_client::nav::{NavError, Navigation, Navigator};
use meridian_client::server_api::post_form;
use meridian_client::{Backoff, Client, ConnectOptions, Connection, Outgoing};
use meridian_cluster::admin::generate_credentials;
use meridian_cluster::state::{Command as ClusterCommand, CreateApp, Envelope, PutUser};
use meridian_proto::ServerFrame;
use meridian_regions::AreaCode;
use meridian_testkit::{
    eventually, free_port, listening, raw_http, ClusterOptions, DevDeployment, Process,
    ProcessCluster, OPERATOR_TOKEN,
};
use serde_json::Value;

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_meridian"))
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

async fn navi(nav: &str, app_key: &str, token: &str) -> (u16, Value) {
    let headers = vec![
        ("RC-Appkey".to_string(), app_key.to_string()),
        (
            "Content-Type".to_string(),
            "application/x-www-form-urlencoded".to_string(),
        ),
    ];
    let body = meridian_client::server_api::form(&[
        ("token", token),
        ("v", "5.6.2"),
        ("platfrom", "Android"),
    ]);
    let answer = raw_http(
        &format!("{nav}/v2/navi.json"),
        "POST",
        &headers,
        body.as_bytes(),
    )
    .await;
    (answer.status, json(&answer.body))
}

async fn nav_get(
    nav: &str,
    app_key: &str,
    token: &str,
    area: &str,
    headers: &[(String, String)],
) -> (u16, Value) {
    let query =
        meridian_client::server_api::form(&[("appKey", app_key), ("token", token), ("area", area)]);
    let answer = raw_http(&format!("{nav}/v1/nav?{query}"), "GET", headers, b"").await;
    (answer.status, json(&answer.body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_area_is_navigated_in_both_formats_and_wrong_areas_are_named() {
    let areas = ["CN", "SG", "SG-B", "NA", "SA"];
    let dev = DevDeployment::start(binary(), &areas.join(","), 1).await;
    let navs: Vec<String> = dev.endpoints["nav"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    assert_eq!(navs.len(), 2, "a primary and a backup nav");
    for area in areas {
        let (key, secret) = dev.app(area, "prod");
        let answer = post_form(
            &dev.api(area),
            &key,
            &secret,
            "/user/getToken.json",
            "userId=alice",
        )
        .await
        .unwrap();
        let token = answer["token"].as_str().unwrap().to_string();
        let edge = dev.ws(area);
        let edge_host = edge
            .trim_start_matches("ws://")
            .trim_end_matches("/websocket");
        for nav in &navs {
            // The commercial client's request and the fields it reads (once the nav has
            // polled the edge, which started after it).
            let body = eventually(Duration::from_secs(10), "a navigation answer", || async {
                let (status, body) = navi(nav, &key, &token).await;
                (status == 200).then_some(body)
            })
            .await;
            assert_eq!(body["code"], 200);
            assert_eq!(body["server"], edge_host, "{area}: {body}");
            assert!(body["backupServer"].is_string());
            assert_eq!(body["serverAddr"][0]["addr"], edge_host);
            // The commercial Web SDK's code for plain WebSocket.
            assert_eq!(body["serverAddr"][0]["protocol"], 5);
            assert_eq!(body["openTLS"], false);
            // Our SDKs' request.
            let (status, body) = nav_get(nav, &key, &token, area, &[]).await;
            assert_eq!(status, 200, "{area}: {body}");
            assert_eq!(body["primary"], edge.as_str());
            assert_eq!(body["area"], area);
            assert_eq!(body["api"][0], dev.api(area).as_str());
            assert!(body["heartbeatMs"].as_u64().unwrap() > 0);
        }
        // NAV-02: another area's code names the home area and its navs.
        let other = if area == "NA" { "SA" } else { "NA" };
        let (status, body) = nav_get(&navs[0], &key, &token, other, &[]).await;
        assert_eq!(status, 421, "{body}");
        assert_eq!(body["area"], area);
        assert_eq!(body["nav"][0], navs[0].as_str());
        // Bad credentials: 401, which clients report as 31004.
        let (status, _) = navi(&navs[0], &key, &format!("{token}x")).await;
        assert_eq!(status, 401);
        let (status, _) = navi(&navs[0], "no-such-app", &token).await;
        assert_eq!(status, 401);
        let (status, body) = nav_get(&navs[0], &key, &token, "XX", &[]).await;
        assert_eq!(status, 400, "{body}");
        // A token carrying nav hosts after `@` is the same token to nav.
        let (status, _) = navi(&navs[0], &key, &format!("{token}@{}", navs[1])).await;
        assert_eq!(status, 200);
    }
    dev.stop();
}

/// An SG cluster of real processes with an app, two edges in two locations and a primary
/// and a backup nav in front of them.
struct Area {
    cluster: ProcessCluster,
    app_key: String,
    token: String,
    edges: Vec<(String, Process)>,
    navs: Vec<(String, Process)>,
    _dns: Option<Process>,
    _dir: tempfile::TempDir,
}

/// How the navs learn the edges.
#[derive(PartialEq)]
enum Discovery {
    StaticList,
    /// SRV records served by Debian's dnsmasq.
    DnsSrv,
    /// Nothing configured: the area catalog will name them.
    Catalog,
}

const SRV_NAME: &str = "_meridian-edge._tcp.sg.meridian.test";

/// dnsmasq on a loopback port answering `SRV_NAME` with each edge (`edgeN.meridian.test`).
fn dnsmasq(port: u16, edges: &[String]) -> Process {
    let binary = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("dnsmasq is missing: install Debian's dnsmasq-base (scripts/test does)");
    let mut command = Command::new(binary);
    command.args([
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        "--listen-address=127.0.0.1",
        "--pid-file=",
        "--user=root",
    ]);
    command.arg(format!("--port={port}"));
    for (i, edge) in edges.iter().enumerate() {
        let edge_port = edge.rsplit(':').next().unwrap();
        command.arg(format!(
            "--srv-host={SRV_NAME},edge{i}.meridian.test,{edge_port},0,10"
        ));
        command.arg(format!("--host-record=edge{i}.meridian.test,127.0.0.1"));
    }
    Process::spawn(command.stdout(Stdio::null()).stderr(Stdio::null()))
}

async fn area_with_two_edges_and_two_navs(discovery: Discovery) -> Area {
    let mut cluster = ProcessCluster::new(binary(), ClusterOptions::default());
    cluster.start_all();
    cluster.wait_for_leader(0, Duration::from_secs(15)).await;
    let client = cluster.client();
    let prod = generate_credentials();
    let envelope = |command| Envelope {
        area: AreaCode::Sg,
        command,
    };
    client
        .write_one(envelope(ClusterCommand::CreateApp(CreateApp {
            name: "nav".into(),
            dev: generate_credentials(),
            prod: prod.clone(),
        })))
        .await
        .unwrap();
    client
        .write_one(envelope(ClusterCommand::PutUser(PutUser {
            app_key: prod.app_key.clone(),
            user_id: "alice".into(),
            name: None,
            portrait: None,
        })))
        .await
        .unwrap();
    let token = token::issue(
        &prod.app_secret,
        &TokenClaims {
            app_key: prod.app_key.clone(),
            user_id: "alice".into(),
            issued_at_ms: meridian_clock::now_ms(),
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let nodes: Vec<String> = cluster
        .nodes
        .iter()
        .map(|n| format!("{:?}", n.rpc_addr()))
        .collect();
    let spawn = |args: &[&str]| {
        Process::spawn(
            Command::new(binary())
                .args(args)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null()),
        )
    };
    let mut edges = Vec::new();
    for location in ["sg-east", "sg-west"] {
        let (public, admin) = (free_port(), free_port());
        let path = dir.path().join(format!("{location}.toml"));
        std::fs::write(
            &path,
            format!(
                "location = \"{location}\"\nlisten = \"127.0.0.1:{public}\"\n\
                 admin_listen = \"127.0.0.1:{admin}\"\noperator_token = \"{OPERATOR_TOKEN}\"\n\
                 [[areas]]\narea = \"SG\"\ncluster = [{}]\n",
                nodes.join(", ")
            ),
        )
        .unwrap();
        let process = spawn(&["edge", "--config", path.to_str().unwrap()]);
        edges.push((format!("http://127.0.0.1:{public}"), process));
    }
    let edge_bases: Vec<String> = edges.iter().map(|(e, _)| e.clone()).collect();
    let (edge_config, dns) = match discovery {
        Discovery::StaticList => {
            let list: Vec<String> = edge_bases.iter().map(|e| format!("{e:?}")).collect();
            (format!("edges = [{}]\n", list.join(", ")), None)
        }
        Discovery::DnsSrv => {
            let dns_port = free_port();
            let config =
                format!("srv = \"{SRV_NAME}\"\n[dns]\nservers = [\"127.0.0.1:{dns_port}\"]\n");
            (config, Some(dnsmasq(dns_port, &edge_bases)))
        }
        Discovery::Catalog => (String::new(), None),
    };
    let nav_ports = [free_port(), free_port()];
    let nav_urls: Vec<String> = nav_ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let mut navs = Vec::new();
    for (role, port) in ["primary", "backup"].into_iter().zip(nav_ports) {
        let path = dir.path().join(format!("nav-{role}.toml"));
        let nav_list: Vec<String> = nav_urls.iter().map(|n| format!("{n:?}")).collect();
        std::fs::write(
            &path,
            format!(
                "listen = \"127.0.0.1:{port}\"\nrole = \"{role}\"\n\
                 [[areas]]\narea = \"SG\"\ncluster = [{}]\nnav = [{}]\n{edge_config}",
                nodes.join(", "),
                nav_list.join(", ")
            ),
        )
        .unwrap();
        let process = spawn(&["nav", "--config", path.to_str().unwrap()]);
        navs.push((format!("http://127.0.0.1:{port}"), process));
        listening(port, "the nav listening").await;
    }
    Area {
        cluster,
        app_key: prod.app_key,
        token,
        edges,
        navs,
        _dns: dns,
        _dir: dir,
    }
}

/// The test user's phone dialling `url`.
fn phone(url: String, app_key: &str, token: &str) -> ConnectOptions {
    ConnectOptions {
        url,
        app_key: app_key.into(),
        token: token.into(),
        device_id: "phone".into(),
        platform: "iOS".into(),
        cursor: None,
        tls: None,
    }
}

fn ws_of(base: &str) -> String {
    format!("{}/websocket", base.replace("http://", "ws://"))
}

/// The resilient client asks the navs at every (re)connect; with every nav gone and its
/// edge dead, it dials the backup edge of the last answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_navigated_client_reconnects_to_the_backup_edge_with_every_nav_gone() {
    let mut area = area_with_two_edges_and_two_navs(Discovery::StaticList).await;
    let (key, token) = (area.app_key.clone(), area.token.clone());
    let navs: Vec<String> = area.navs.iter().map(|(nav, _)| nav.clone()).collect();
    let navigator = Arc::new(Navigator::new(navs));
    let route = eventually(Duration::from_secs(30), "both edges in the answer", || {
        let navigator = navigator.clone();
        let (key, token) = (key.clone(), token.clone());
        async move {
            let route = navigator.route(&key, &token, "SG").await.ok()?;
            (route.primary != route.backup).then_some(route)
        }
    })
    .await;
    let options = phone(String::new(), &key, &token);
    let navigation = Navigation::new(navigator, "SG");
    let client = Client::start_navigated(options, Backoff::default(), navigation);
    let text = |content: &str| Outgoing {
        conversation_type: 1,
        target_id: "friend".into(),
        channel_id: String::new(),
        object_name: "RC:TxtMsg".into(),
        content: format!("{{\"content\":\"{content}\"}}"),
    };
    let sender = client.sender();
    sender.send(text("through the best edge")).await.unwrap();

    for (_, nav) in area.navs.drain(..) {
        nav.kill();
    }
    let at = area
        .edges
        .iter()
        .position(|(base, _)| ws_of(base) == route.primary)
        .expect("the primary is one of the edges");
    area.edges.remove(at).1.kill();
    // Its edge gone, the session reconnects: the last answer's primary first (dead),
    // then its backup.
    let sent = tokio::time::timeout(Duration::from_secs(30), sender.send(text("after")));
    sent.await.expect("acknowledged in time").unwrap();
    assert!(client.reconnects() >= 1);
    client.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nearby_healthy_edges_first_a_dead_one_gone_within_5s_and_the_sdk_falls_back() {
    let mut area = area_with_two_edges_and_two_navs(Discovery::StaticList).await;
    let primary_nav = area.navs[0].0.clone();
    let (key, token) = (area.app_key.clone(), area.token.clone());
    let listed = |nav: String, location: &'static str| {
        let (key, token) = (key.clone(), token.clone());
        async move {
            let header = vec![("X-Meridian-Location".to_string(), location.to_string())];
            let (status, body) = nav_get(&nav, &key, &token, "SG", &header).await;
            (status == 200).then(|| {
                body["edges"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["ws"].as_str().unwrap().to_string())
                    .collect::<Vec<_>>()
            })
        }
    };
    let (east, west) = (ws_of(&area.edges[0].0), ws_of(&area.edges[1].0));
    // NAV-04: both edges healthy; the one at the client's location comes first.
    eventually(Duration::from_secs(30), "both edges in the answer", || {
        let listed = listed(primary_nav.clone(), "sg-west");
        async move { listed.await.filter(|edges| edges.len() == 2) }
    })
    .await;
    assert_eq!(
        listed(primary_nav.clone(), "sg-west").await.unwrap(),
        [west.clone(), east.clone()]
    );
    assert_eq!(
        listed(primary_nav.clone(), "sg-east").await.unwrap(),
        [east.clone(), west.clone()]
    );

    // A dead edge is out of every nav's answers within 5 s (each nav polls on its own).
    let (_, east_process) = area.edges.remove(0);
    east_process.kill();
    let killed = Instant::now();
    for (nav, _) in &area.navs {
        eventually(Duration::from_secs(10), "the dead edge to leave", || {
            let listed = listed(nav.clone(), "sg-east");
            let west = west.clone();
            async move { listed.await.filter(|edges| edges == &[west]) }
        })
        .await;
    }
    let gone_after = killed.elapsed();
    assert!(gone_after < Duration::from_secs(5), "took {gone_after:?}");

    // NAV-03: the primary nav dies; the SDK gets its answer from the backup and connects.
    let (primary, primary_process) = area.navs.remove(0);
    primary_process.kill();
    let backup = area.navs[0].0.clone();
    let navigator = Navigator::new(vec![primary.clone(), backup.clone()]);
    let route = navigator
        .route(&key, &token, "SG")
        .await
        .expect("route via the backup");
    assert_eq!(route.primary, west);
    let mut connection = Connection::connect(&phone(route.primary.clone(), &key, &token))
        .await
        .expect("connect to the routed edge");
    assert!(matches!(
        connection.next_within(Duration::from_secs(10)).await,
        Ok(ServerFrame::Connected { .. })
    ));
    connection.close().await;
    // Nav hosts carried in the token are asked first.
    let carried = Navigator::new(Vec::new());
    let host = backup.trim_start_matches("http://");
    assert_eq!(
        carried
            .route(&key, &format!("{token}@{host}"), "SG")
            .await
            .unwrap(),
        route
    );
    // A wrong area is a definite refusal, not a reason to try the next nav.
    assert!(matches!(
        navigator.route(&key, &token, "NA").await,
        Err(NavError::Refused { status: 421, .. })
    ));
    // Every nav gone: the SDK uses the last answer it got.
    let (_, backup_process) = area.navs.remove(0);
    backup_process.kill();
    assert_eq!(navigator.route(&key, &token, "SG").await.unwrap(), route);
    assert!(matches!(
        Navigator::new(vec![primary])
            .route(&key, &token, "SG")
            .await,
        Err(NavError::Unreachable(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edges_are_discovered_through_dns_srv() {
    let area = area_with_two_edges_and_two_navs(Discovery::DnsSrv).await;
    let mut expected: Vec<String> = area.edges.iter().map(|(e, _)| ws_of(e)).collect();
    expected.sort();
    for (nav, _) in &area.navs {
        // Discovery runs every 5 s and the first look-up is at start-up.
        eventually(
            Duration::from_secs(15),
            "both SRV edges in the answer",
            || async {
                let (edges, _) = nav_edges_and_api(&area, nav).await?;
                (edges == expected).then_some(())
            },
        )
        .await;
    }
}

async fn admin(area: &Area, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    area.cluster.admin(method, path, body).await
}

/// What `/v1/nav` answers for SG: its edges (sorted) and API hosts.
async fn nav_edges_and_api(area: &Area, nav: &str) -> Option<(Vec<String>, Value)> {
    let (status, body) = nav_get(nav, &area.app_key, &area.token, "SG", &[]).await;
    let mut edges: Vec<String> = (status == 200)
        .then(|| body["edges"].as_array().cloned())
        .flatten()?
        .iter()
        .map(|e| e["ws"].as_str().unwrap_or_default().to_string())
        .collect();
    edges.sort();
    Some((edges, body["api"].clone()))
}

// covers: NAV-01, NAV-02, NAV-03
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_area_catalog_names_edges_api_and_nav_hosts_without_restarting_nav() {
    let area = area_with_two_edges_and_two_navs(Discovery::Catalog).await;
    let nav = area.navs[0].0.clone();
    // No edge configured: nav has none to give.
    let (status, _) = nav_get(&nav, &area.app_key, &area.token, "SG", &[]).await;
    assert_eq!(status, 503);

    let statics: Vec<String> = area
        .edges
        .iter()
        .map(|(e, _)| e.trim_start_matches("http://").to_string())
        .collect();
    let entry = |api: &str| {
        serde_json::json!({
            "nav": {"primary": "https://nav-sg.example.com", "backup": "https://nav-sg-b.example.com"},
            "api": {"primary": api, "backup": "https://api-sg-b.example.com"},
            "edges": {"static": statics, "tls": false},
        })
    };
    let (status, body) = admin(
        &area,
        "PUT",
        "/admin/v1/areas/SG",
        Some(entry("https://api-sg.example.com")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["area"]["code"], "SG");
    let (status, listed) = admin(&area, "GET", "/admin/v1/areas", None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["areas"], serde_json::json!([body["area"]]));

    let mut expected: Vec<String> = area.edges.iter().map(|(e, _)| ws_of(e)).collect();
    expected.sort();
    for (nav, _) in &area.navs {
        let (edges, api) = eventually(Duration::from_secs(15), "the catalog's edges", || async {
            nav_edges_and_api(&area, nav)
                .await
                .filter(|(edges, _)| *edges == expected)
        })
        .await;
        assert_eq!(edges, expected);
        assert_eq!(
            api,
            serde_json::json!(["https://api-sg.example.com", "https://api-sg-b.example.com"])
        );
    }
    // NAV-02: a client asking another area is told the catalog's nav hosts.
    let (status, body) = nav_get(&nav, &area.app_key, &area.token, "NA", &[]).await;
    assert_eq!(status, 421, "{body}");
    assert_eq!(
        body["nav"],
        serde_json::json!(["https://nav-sg.example.com", "https://nav-sg-b.example.com"])
    );

    // A change reaches the answers; bad input is refused and changes nothing.
    let (status, _) = admin(
        &area,
        "PUT",
        "/admin/v1/areas/SG",
        Some(entry("https://api2-sg.example.com")),
    )
    .await;
    assert_eq!(status, 200);
    let mut no_edges = entry("https://api3-sg.example.com");
    no_edges["edges"] = serde_json::json!({});
    let (status, body) = admin(&area, "PUT", "/admin/v1/areas/SG", Some(no_edges)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid")),
        "{body}"
    );
    let mut other_code = entry("https://api3-sg.example.com");
    other_code["code"] = "NA".into();
    let (status, _) = admin(&area, "PUT", "/admin/v1/areas/SG", Some(other_code)).await;
    assert_eq!(status, 400);
    let (status, _) = admin(&area, "PUT", "/admin/v1/areas/XX", Some(entry("https://a"))).await;
    assert_eq!(status, 400);
    eventually(Duration::from_secs(15), "the changed API host", || async {
        let (_, api) = nav_edges_and_api(&area, &nav).await?;
        (api[0] == "https://api2-sg.example.com").then_some(())
    })
    .await;
    let (_, stored) = admin(&area, "GET", "/admin/v1/areas/SG", None).await;
    assert_eq!(
        stored["area"]["api"]["primary"],
        "https://api2-sg.example.com"
    );

    // An edge taken out of the catalog leaves the answers.
    let mut one_edge = entry("https://api2-sg.example.com");
    one_edge["edges"]["static"] = serde_json::json!([statics[0]]);
    let (status, _) = admin(&area, "PUT", "/admin/v1/areas/SG", Some(one_edge)).await;
    assert_eq!(status, 200);
    let remaining = vec![ws_of(&area.edges[0].0)];
    eventually(Duration::from_secs(15), "one edge left", || async {
        let (edges, _) = nav_edges_and_api(&area, &nav).await?;
        (edges == remaining).then_some(())
    })
    .await;

    // Deleted: the configuration again, which names no edge.
    let (status, body) = admin(&area, "DELETE", "/admin/v1/areas/SG", None).await;
    assert_eq!((status, &body["deleted"]), (200, &Value::from("SG")));
    let (status, _) = admin(&area, "GET", "/admin/v1/areas/SG", None).await;
    assert_eq!(status, 404);
    let (status, _) = admin(&area, "DELETE", "/admin/v1/areas/SG", None).await;
    assert_eq!(status, 404);
    for (nav, _) in &area.navs {
        eventually(Duration::from_secs(15), "no edge to give", || async {
            let (status, _) = nav_get(nav, &area.app_key, &area.token, "SG", &[]).await;
            (status == 503).then_some(())
        })
        .await;
    }
}
