//! Bad configuration makes `meridian` exit non-zero with a one-line message that names
//! the problem.

use std::path::Path;
use std::process::Command;

use meridian_testkit::free_port;

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_meridian"))
}

/// Runs meridian and returns (exit success, stderr).
fn run(args: &[&str]) -> (bool, String) {
    let output = Command::new(binary())
        .args(args)
        .env("RUST_LOG", "off")
        .env_remove("MERIDIAN_OPERATOR_TOKEN")
        .output()
        .expect("run meridian");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn node_config(dir: &Path, area: &str, rpc: u16, admin: u16, peers: &str) -> String {
    format!(
        "area = \"{area}\"\nnode_id = 1\ndata_dir = \"{}\"\nrpc_listen = \"127.0.0.1:{rpc}\"\nadmin_listen = \"127.0.0.1:{admin}\"\noperator_token = \"0123456789abcdef0123\"\n{peers}",
        dir.join("data").display()
    )
}

fn run_cluster_with(config: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.toml");
    std::fs::write(&path, config).unwrap();
    run(&["cluster", "run", "--config", path.to_str().unwrap()])
}

fn assert_refused(result: (bool, String), expected: &[&str]) {
    let (ok, stderr) = result;
    assert!(!ok, "should fail: {stderr}");
    let last = stderr.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("meridian: "),
        "one-line error, got {stderr:?}"
    );
    for needle in expected {
        assert!(last.contains(needle), "{last:?} should mention {needle:?}");
    }
}

#[test]
fn unknown_area_code_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = node_config(dir.path(), "EU", free_port(), free_port(), "");
    assert_refused(
        run_cluster_with(&config),
        &["node.toml", "EU", "CN, SG, SG-B, NA, SA"],
    );
}

#[test]
fn a_peer_list_without_this_node_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let peers =
        "[[peers]]\nid = 2\naddr = \"127.0.0.1:1\"\n[[peers]]\nid = 3\naddr = \"127.0.0.1:2\"\n";
    let config = node_config(dir.path(), "SG", free_port(), free_port(), peers);
    assert_refused(
        run_cluster_with(&config),
        &["peers", "missing peer", "node_id 1"],
    );
}

#[test]
fn a_port_in_use_is_refused() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let config = node_config(dir.path(), "SG", port, free_port(), "");
    assert_refused(
        run_cluster_with(&config),
        &[&format!("127.0.0.1:{port}"), "rpc_listen", "in use"],
    );
}

#[test]
fn unknown_keys_and_bad_values_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = node_config(
        dir.path(),
        "SG",
        free_port(),
        free_port(),
        "colour = \"blue\"\n",
    );
    assert_refused(run_cluster_with(&config), &["colour"]);
    let config = node_config(
        dir.path(),
        "SG",
        free_port(),
        free_port(),
        "[raft]\nheartbeat_ms = 0\n",
    );
    assert_refused(run_cluster_with(&config), &["raft.heartbeat_ms"]);
    let config = node_config(
        dir.path(),
        "SG",
        free_port(),
        free_port(),
        "retention_day_ms = 999\n",
    );
    assert_refused(
        run_cluster_with(&config),
        &["retention_day_ms", "between 1000"],
    );
    let config = node_config(
        dir.path(),
        "SG",
        free_port(),
        free_port(),
        "call_answer_timeout_ms = 50\n",
    );
    assert_refused(
        run_cluster_with(&config),
        &["call_answer_timeout_ms", "between 100"],
    );
    let broken = run_cluster_with("area = \"SG\"\nnode_id = ");
    assert_refused(broken, &["node.toml"]);
}

#[test]
fn a_missing_config_file_is_named() {
    assert_refused(
        run(&["cluster", "run", "--config", "/nonexistent/node.toml"]),
        &["/nonexistent/node.toml"],
    );
}

#[test]
fn a_bad_area_file_names_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let areas = dir.path().join("areas");
    std::fs::create_dir(&areas).unwrap();
    std::fs::write(
        areas.join("sg.toml"),
        "code = \"SG\"\n[nav]\nprimary = \"a\"\nbackup = \"b\"\n[api]\nprimary = \"a\"\nbackup = \"b\"\n[edges]\nstatic = [\"e:1\"]\n[cluster]\npeers = [{ id = 1, addr = \"x:1\" }]\n[retention]\noffline_days = 9\n",
    )
    .unwrap();
    let nav = dir.path().join("nav.toml");
    std::fs::write(&nav, format!("listen = \"127.0.0.1:{}\"\n", free_port())).unwrap();
    let result = run(&[
        "nav",
        "--config",
        nav.to_str().unwrap(),
        "--catalog",
        areas.to_str().unwrap(),
    ]);
    assert_refused(result, &["sg.toml", "retention.offline_days"]);
}

#[test]
fn dev_refuses_an_unknown_area_and_a_mismatched_data_dir() {
    let (ok, stderr) = run(&["dev", "--areas", "SG,XX"]);
    assert!(!ok && stderr.contains("XX"), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("dev-layout.json"),
        r#"{"portBase":1,"nodes":3,"areas":["SG"],"operatorToken":"0123456789abcdef"}"#,
    )
    .unwrap();
    let result = run(&[
        "dev",
        "--areas",
        "SG",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_refused(result, &["--port-base 1"]);
}

#[test]
fn a_media_server_on_a_wildcard_address_needs_an_advertised_ip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("media.toml");
    let config = format!(
        "area = \"SG\"\ncluster = [\"127.0.0.1:1\"]\nlisten = \"0.0.0.0:{}\"\nadmin_listen = \"127.0.0.1:{}\"\n",
        free_port(),
        free_port()
    );
    std::fs::write(&path, &config).unwrap();
    let media = |path: &Path| run(&["media", "--config", path.to_str().unwrap()]);
    assert_refused(media(&path), &["advertised_ip"]);
    std::fs::write(&path, format!("{config}advertised_ip = \"0.0.0.0\"\n")).unwrap();
    assert_refused(media(&path), &["advertised_ip"]);
    std::fs::write(&path, config.replace("area = \"SG\"", "area = \"EU\"")).unwrap();
    assert_refused(media(&path), &["media.toml", "EU"]);
}

#[test]
fn the_console_refuses_bad_areas_a_missing_token_and_a_taken_port() {
    let token_dir = tempfile::tempdir().unwrap();
    let token_file = token_dir.path().join("token");
    std::fs::write(&token_file, "0123456789abcdef0123\n").unwrap();
    let token = token_file.to_str().unwrap();
    let console = |args: &[&str]| {
        let mut all = vec!["console", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        run(&all)
    };
    let with_token = |args: &[&str]| {
        let mut all = vec!["--operator-token-file", token];
        all.extend_from_slice(args);
        console(&all)
    };
    assert_refused(
        with_token(&["--area", "EU=http://127.0.0.1:1"]),
        &["EU=http://127.0.0.1:1", "CN, SG, SG-B, NA, SA"],
    );
    assert_refused(with_token(&["--area", "SG=127.0.0.1:1"]), &["http://"]);
    assert_refused(
        with_token(&["--area", "SG=http://a", "--api", "NA=http://b"]),
        &["--api NA"],
    );
    assert_refused(
        console(&["--area", "SG=http://127.0.0.1:1"]),
        &["--operator-token-file", "MERIDIAN_OPERATOR_TOKEN"],
    );
    assert_refused(
        console(&[
            "--area",
            "SG=http://127.0.0.1:1",
            "--operator-token-file",
            "/no/such/file",
        ]),
        &["/no/such/file"],
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut args = vec![
        "console",
        "--listen",
        addr.as_str(),
        "--operator-token-file",
        token,
    ];
    args.extend_from_slice(&["--area", "SG=http://127.0.0.1:1"]);
    assert_refused(run(&args), &["console.listen", &addr]);
}
