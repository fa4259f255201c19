//! A 3-node SG area of in-process cluster nodes on loopback, for the benchmarks that
//! write through the cluster client directly (`bench raft`, `bench hooks`, `bench push`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use meridian_cluster::admin::generate_credentials;
use meridian_cluster::config::{loopback_cluster, LoopbackNode, RaftTuning, StorageTuning};
use meridian_cluster::state::{Command, CreateApp, Credentials, Envelope};
use meridian_cluster::{ClusterClient, ClusterNode, NodeConfig};
use meridian_regions::AreaCode;

/// A 3-node loopback area of in-process nodes with one app, trusting the CA certificates
/// of `outbound_ca_files` for callbacks and pushes; answers the nodes, a client and the
/// app's prod credentials.
pub(crate) async fn start_bench_area(
    dir: &Path,
    outbound_ca_files: Vec<PathBuf>,
) -> anyhow::Result<(Vec<ClusterNode>, Arc<ClusterClient>, Credentials)> {
    let token = generate_credentials().app_secret + "-bench-operator";
    let (plan, peers) = loopback_cluster(3)?;
    let mut nodes = Vec::new();
    for &LoopbackNode {
        id,
        rpc_port: rpc,
        admin_port: admin,
    } in &plan
    {
        nodes.push(
            ClusterNode::start(NodeConfig {
                area: AreaCode::Sg,
                node_id: id,
                data_dir: dir.join(format!("node-{id}")),
                rpc_listen: format!("127.0.0.1:{rpc}"),
                rpc_advertise: None,
                admin_listen: format!("127.0.0.1:{admin}"),
                operator_token: token.clone(),
                peers: peers.clone(),
                peer_routes: Default::default(),
                tls: None,
                outbound_ca_files: outbound_ca_files.clone(),
                raft: RaftTuning::default(),
                storage: StorageTuning::default(),
                retention_day_ms: meridian_cluster::state::DAY_MS,
                call_answer_timeout_ms: meridian_cluster::state::ANSWER_TIMEOUT_MS,
                call_reconnect_ms: meridian_cluster::state::rtc::RECONNECT_TIMEOUT_MS,
                command_level: None,
            })
            .await?,
        );
    }
    let client = Arc::new(ClusterClient::new(
        AreaCode::Sg,
        peers.iter().map(|p| p.addr.clone()).collect(),
        None,
    ));
    let creds = generate_credentials();
    client
        .write_one(Envelope {
            area: AreaCode::Sg,
            command: Command::CreateApp(CreateApp {
                name: "bench".into(),
                dev: generate_credentials(),
                prod: creds.clone(),
            }),
        })
        .await?;
    Ok((nodes, client, creds))
}
