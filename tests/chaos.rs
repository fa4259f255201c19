//! covers: MSG-01 (under faults). `meridian chaos` runs an area as real processes with a
//! seeded schedule of faults and checks every acknowledgement and delivery: the seeded CI
//! run must come out clean, and the same run with a bug planted in the edges (acks sent
//! before the commit) must be caught.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_meridian"))
}

fn chaos(extra: &[&str]) -> (Output, Value, Vec<Value>) {
    let output = Command::new(binary())
        .args(["chaos", "--areas", "SG", "--duration", "60s", "--seed", "7"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run meridian chaos");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stdout.lines().last().unwrap_or_default();
    let verdict: Value = serde_json::from_str(last)
        .unwrap_or_else(|_| panic!("last line is not JSON: {last:?}\nstderr:\n{stderr}"));
    let faults = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("fault").is_some())
        .collect();
    (output, verdict, faults)
}

#[test]
fn a_seeded_run_with_leader_kills_and_partitions_loses_nothing() {
    let (output, verdict, faults) = chaos(&[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{verdict}\n{stderr}");
    for key in ["lost", "duplicates", "order_violations", "phantoms"] {
        assert_eq!(verdict[key], 0, "{key}: {verdict}");
    }
    assert_eq!(verdict["replicas_identical"], true, "{verdict}");
    assert!(verdict["acked"].as_u64().unwrap() > 500, "{verdict}");
    assert!(verdict["delivered"].as_u64().unwrap() > 1000, "{verdict}");
    assert!(verdict["faults"].as_u64().unwrap() >= 10, "{verdict}");
    assert_eq!(faults.len() as u64, verdict["faults"].as_u64().unwrap());
    let count = |name: &str| faults.iter().filter(|f| f["fault"] == name).count();
    assert!(count("kill-leader") >= 2, "{faults:?}");
    assert!(count("partition-leader") >= 1, "{faults:?}");
    // Writes came back after every fault (a partitioned leader holds writes until the
    // partition heals: up to 3 s, plus an election).
    assert!(
        verdict["max_write_outage_ms"].as_u64().unwrap() < 10_000,
        "{verdict}"
    );
}

#[test]
fn acknowledging_before_the_commit_is_caught() {
    let (output, verdict, _) = chaos(&["--plant-bug", "ack-before-commit"]);
    assert!(!output.status.success(), "{verdict}");
    assert!(verdict["lost"].as_u64().unwrap() > 0, "{verdict}");
}
