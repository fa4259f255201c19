//! `meridian bench …`: the benchmarks behind BENCHMARKS.md. Each subcommand has a file
//! (`raft.rs`, `api.rs`, `soak.rs`, `hooks.rs`, `push.rs`, `files.rs`, `fanout.rs`, `sessions/*.rs`) with
//! its flags, its load and its report; the `meridian` binary only hands the parsed
//! [`BenchCommand`] to [`run`].
//!
//! Where the load goes: `bench raft`, `bench hooks` and `bench push` write to an in-process area
//! (`area.rs`), `bench api` publishes into an in-process `meridian dev` deployment, and
//! the session, nav, soak and files benchmarks run `meridian dev` as a child process
//! (`dev_child.rs`) so its memory is measured apart from the load's.

mod api;
mod area;
mod dev_child;
mod etcd;
mod fanout;
mod files;
mod histogram;
mod hooks;
mod host;
mod measure;
mod nats;
mod push;
mod raft;
mod sessions;
mod sfu;
mod soak;

use std::process::Stdio;

use anyhow::{bail, Context};
use clap::Subcommand;
use serde_json::json;

use measure::machine;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Replicated writes: Meridian's cluster against a 3-member etcd.
    Raft(raft::RaftArgs),
    /// Server API: `/message/private/publish.json` through one edge into a 3-node area.
    Api(api::ApiArgs),
    /// Steady Server API load for many minutes at 70% of the peak: refusals, p99 and
    /// memory over time (not part of `bench all`).
    Soak(soak::SoakArgs),
    /// Idle WebSocket sessions on one edge and the edge process's memory per session.
    Sessions(sessions::SessionsArgs),
    /// Private-message latency between WebSocket sessions at a steady rate.
    Ws(sessions::WsArgs),
    /// Time for a group message to reach every online member.
    Group(sessions::GroupArgs),
    /// Chatroom fan-out: deliveries per second to every member of one room.
    Chatroom(sessions::ChatroomArgs),
    /// Navigation answers per second and latency under wrk (Debian's package).
    Nav(sessions::NavArgs),
    /// Message routing callbacks (HOOK-01) per second to a local app server.
    Hooks(hooks::HooksArgs),
    /// Pushes per second to offline devices through Huawei Push Kit's fake: a notice to
    /// everyone (batched requests) against a message to each (one request each).
    Push(push::PushArgs),
    /// The file service against its disk: sequential disk writes, uploads and downloads
    /// in MB/s, and thumbnails per second (not part of `bench all`).
    Files(files::FilesArgs),
    /// The media server's WebRTC forwarding: one WHIP publisher, N WHEP subscribers (not
    /// part of `bench all`).
    Sfu(sfu::SfuArgs),
    /// Feed fan-out: the leader's work per delivered message with 1, 2, 4 and 8 edges,
    /// each edge's feed filtered by its sessions against each reading all of it (not part
    /// of `bench all`).
    Fanout(fanout::FanoutArgs),
    /// Every benchmark above with its defaults, one after the other, each in a process of
    /// its own; prints `{"machine": …, "benchmarks": [each one's --json object]}`.
    All,
}

/// What `bench all` runs, in order.
const ALL: [&str; 9] = [
    "raft", "api", "sessions", "ws", "group", "chatroom", "nav", "hooks", "push",
];

async fn run_all() -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("locating the meridian binary")?;
    let mut results = Vec::new();
    for name in ALL {
        eprintln!("meridian bench: all: {name}");
        let output = tokio::process::Command::new(&exe)
            .args(["bench", name, "--json"])
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .await?;
        if !output.status.success() {
            bail!("meridian bench {name} failed ({})", output.status);
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let last = stdout.lines().last().unwrap_or_default();
        let result: serde_json::Value = serde_json::from_str(last)
            .with_context(|| format!("meridian bench {name} printed no JSON"))?;
        results.push(result);
    }
    println!("{}", json!({ "machine": machine(), "benchmarks": results }));
    Ok(())
}

pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    let result = match command {
        BenchCommand::Raft(args) => raft::run(args).await,
        BenchCommand::Api(args) => api::run(args).await,
        BenchCommand::Soak(args) => soak::run(args).await,
        BenchCommand::Sessions(args) => sessions::sessions(args).await,
        BenchCommand::Ws(args) => sessions::ws(args).await,
        BenchCommand::Group(args) => sessions::group(args).await,
        BenchCommand::Chatroom(args) => sessions::chatroom(args).await,
        BenchCommand::Nav(args) => sessions::nav(args).await,
        BenchCommand::Hooks(args) => hooks::run(args).await,
        BenchCommand::Push(args) => push::run(args).await,
        BenchCommand::Files(args) => files::run(args).await,
        BenchCommand::Sfu(args) => sfu::run(args).await,
        BenchCommand::Fanout(args) => fanout::run(args).await,
        BenchCommand::All => run_all().await,
    };
    host::remove_scratch_dir();
    result
}
