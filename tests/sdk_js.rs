//! The JavaScript/TypeScript client SDK (`sdk/js`, `@meridian-im/client`): its type check
//! (`tsc`, strict) and its tests under Node's test runner, which start and stop their own
//! `meridian dev` processes from the binary built here: every client frame, typed errors,
//! nav fallback, 2,000 messages across a drain and a crash with none lost or repeated,
//! 1,000 across two leader kills (the area as separate processes), and the SDK in a real
//! chromium (nav across origins, IndexedDB resume after a reload), and the web chat demo
//! driven like a person through its page in two browser contexts, and the web console
//! (operators and developers, screenshots under the target dir's `artifacts/console`).
//! `scripts/test` installs Node.js, npm and chromium; this test runs `npm ci` when the
//! packages are missing or older than the lock file.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tokio::time::Instant;

fn sdk_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sdk/js")
}

/// Runs `program` in the SDK's directory; panics with everything it printed if it fails.
fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program)
        .args(args)
        .current_dir(sdk_dir())
        .env("MERIDIAN_BIN", env!("CARGO_BIN_EXE_meridian"))
        .env("CONSOLE_SCREENSHOTS", artifacts("console"))
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} (scripts/test installs Node.js and npm): {e}")
        });
    assert!(
        output.status.success(),
        "{program} {} failed ({}):\n{}\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Where a browser test keeps its screenshots: `artifacts/<name>` in the cargo target
/// directory (the binary's `debug/` or `release/` is in it), never in the source tree.
fn artifacts(name: &str) -> PathBuf {
    let binary = Path::new(env!("CARGO_BIN_EXE_meridian"));
    let target = binary.ancestors().nth(2).unwrap_or(Path::new("."));
    target.join("artifacts").join(name)
}

/// A TAP summary line's number (`# pass 20`).
fn summary(tap: &str, key: &str) -> usize {
    tap.lines()
        .filter_map(|line| line.strip_prefix(&format!("# {key} ")))
        .filter_map(|n| n.trim().parse::<usize>().ok())
        .sum()
}

// covers: WEB-01, WEB-02, WEB-03, WEB-04, WEB-05, CON-02, CON-03
#[test]
fn the_js_sdk_type_checks_and_passes_its_node_tests_against_meridian_dev() {
    let dir = sdk_dir();
    common::npm_install(&dir);
    // A clean build: compiled files of removed tests must not run.
    let _ = std::fs::remove_dir_all(dir.join("dist"));
    // tsc, and the demo page's HTML and CSS beside its compiled script.
    run("npm", &["run", "build"]);

    let mut files: Vec<String> = std::fs::read_dir(dir.join("dist/test"))
        .expect("tsc wrote dist/test")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".test.js"))
        .map(|name| format!("dist/test/{name}"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "test files: {files:?}");

    // One file at a time: each starts its own `meridian dev`.
    let (mut passed, mut failed) = (0, 0);
    for file in &files {
        let started = Instant::now();
        let output = run("node", &["--test", "--test-reporter=tap", file]);
        let tap = String::from_utf8_lossy(&output.stdout);
        println!("{file}: {:.1} s", started.elapsed().as_secs_f64());
        for line in tap
            .lines()
            .filter(|l| l.contains("exchange:") || l.contains("failover:"))
        {
            println!("  {}", line.trim_start_matches(['#', ' ']));
        }
        passed += summary(&tap, "pass");
        failed += summary(&tap, "fail");
        assert_eq!(summary(&tap, "fail"), 0, "{file}:\n{tap}");
    }
    println!("sdk/js: {passed} passed, {failed} failed");
    assert!(passed >= 35, "only {passed} tests ran");
}
