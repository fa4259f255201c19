//! The node's internal RPC service: Raft's messages between nodes, and the API edges and
//! other nodes call (writes, linearizable reads, the feed the edges tail, membership),
//! which a leader cut off from its quorum refuses, as a node low on disk refuses what
//! would write.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use meridian_rpc::{codec, RpcHandler};
use openraft::errors::{ClientWriteError, LinearizableReadError, RaftError};
use openraft::{BasicNode, ChangeMembers, ReadPolicy};

use crate::api::*;
use crate::raft::network::RaftReply;
use crate::raft::Snapshot;
use crate::state;
use crate::trace::Traced;
use crate::writer::{not_leader_hint, WriteError};
use tracing::Instrument;

use super::{feed, status, NodeCore};

pub(super) struct RpcService {
    pub(super) core: Arc<NodeCore>,
}

fn reply<T: serde::Serialize>(value: &T) -> Bytes {
    codec::encode(value).unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot encode rpc reply");
        Bytes::new()
    })
}

fn raft_reply<T: serde::Serialize, E: std::fmt::Display>(result: Result<T, E>) -> Bytes {
    reply::<RaftReply<T>>(&result.map_err(|e| e.to_string()))
}

impl RpcHandler for RpcService {
    fn handle(&self, path: &str, body: Bytes) -> Option<BoxFuture<'static, Bytes>> {
        let core = self.core.clone();
        let future = match path {
            RAFT_APPEND_PATH => async move {
                if let Some(refused) = disk_low(&core) {
                    return refused;
                }
                match codec::decode(&body) {
                    Ok(request) => raft_reply(core.raft.append_entries(request).await),
                    Err(e) => raft_reply::<(), _>(Err(e)),
                }
            }
            .boxed(),
            RAFT_TRANSFER_LEADER_PATH => async move {
                match codec::decode(&body) {
                    Ok(request) => raft_reply(core.raft.handle_transfer_leader(request).await),
                    Err(e) => raft_reply::<(), _>(Err(e)),
                }
            }
            .boxed(),
            RAFT_VOTE_PATH => async move {
                match codec::decode(&body) {
                    Ok(request) => raft_reply(core.raft.vote(request).await),
                    Err(e) => raft_reply::<(), _>(Err(e)),
                }
            }
            .boxed(),
            RAFT_PRE_VOTE_PATH => async move {
                match codec::decode(&body) {
                    Ok(request) => raft_reply(core.raft.pre_vote(request).await),
                    Err(e) => raft_reply::<(), _>(Err(e)),
                }
            }
            .boxed(),
            RAFT_SNAPSHOT_PATH => async move {
                if let Some(refused) = disk_low(&core) {
                    return refused;
                }
                match codec::decode::<SnapshotTransfer>(&body) {
                    Ok(transfer) => {
                        let snapshot = Snapshot {
                            meta: transfer.meta,
                            snapshot: std::io::Cursor::new(transfer.data),
                        };
                        raft_reply(
                            core.raft
                                .install_full_snapshot(transfer.vote, snapshot)
                                .await,
                        )
                    }
                    Err(e) => raft_reply::<(), _>(Err(e)),
                }
            }
            .boxed(),
            API_PATH => async move {
                let answer = match codec::decode::<Traced<Vec<String>, ApiRequest>>(&body) {
                    Ok(Traced {
                        request_ids,
                        request,
                    }) if request_ids.is_empty() => serve_api(&core, request).await,
                    Ok(Traced {
                        request_ids,
                        request,
                    }) => {
                        let request_ids = request_ids.join(",");
                        let op = request.op();
                        tracing::debug!(%request_ids, op, "internal API request");
                        let span = tracing::debug_span!("api", %request_ids, op);
                        serve_api(&core, request).instrument(span).await
                    }
                    Err(e) => ApiReply::Unavailable(format!("{BAD_REQUEST}: {e}")),
                };
                reply(&answer)
            }
            .boxed(),
            _ => return None,
        };
        Some(future)
    }
}

/// A Raft append or snapshot refused while the disk is below its reserve (the leader
/// retries it; `disk.rs`).
fn disk_low(core: &NodeCore) -> Option<Bytes> {
    if !core.disk.low() {
        return None;
    }
    core.metrics.disk_refused_total.inc();
    Some(raft_reply::<(), _>(Err(RAFT_DISK_LOW)))
}

pub(super) fn not_leader(
    core: &NodeCore,
    forward: &openraft::errors::ForwardToLeader<crate::raft::TypeConfig>,
) -> ApiReply {
    core.metrics.forwarded_total.inc();
    ApiReply::NotLeader {
        leader: not_leader_hint(forward),
    }
}

pub(super) fn fenced(core: &NodeCore) -> ApiReply {
    core.metrics.quorum_fenced_total.inc();
    ApiReply::NotLeader { leader: None }
}

async fn serve_api(core: &NodeCore, request: ApiRequest) -> ApiReply {
    let needs_quorum = match &request {
        ApiRequest::Write(_)
        | ApiRequest::Feed { .. }
        | ApiRequest::FeedFor { .. }
        | ApiRequest::Backup => true,
        ApiRequest::Read { consistency, .. } => *consistency == ReadConsistency::Linearizable,
        _ => false,
    };
    if needs_quorum && core.quorum.cut_off() {
        return fenced(core);
    }
    // A leader low on disk refuses writes while it hands over (`disk.rs`): callers
    // look for the leader again, as they do at a fenced one.
    if matches!(request, ApiRequest::Write(_)) && core.disk.low() {
        core.metrics.disk_refused_total.inc();
        return ApiReply::NotLeader { leader: None };
    }
    match request {
        ApiRequest::Write(commands) => match core.writer.write(commands).await {
            Ok(results) => ApiReply::Written(results),
            Err(WriteError::NotLeader(leader)) => {
                core.metrics.forwarded_total.inc();
                ApiReply::NotLeader { leader }
            }
            Err(WriteError::Unavailable(reason)) => ApiReply::Unavailable(reason),
            Err(WriteError::Ambiguous(reason)) => ApiReply::Ambiguous(reason),
        },
        ApiRequest::Read { query, consistency } => {
            if consistency == ReadConsistency::Linearizable {
                match core.raft.ensure_linearizable(ReadPolicy::ReadIndex).await {
                    Ok(_) => {}
                    Err(RaftError::APIError(LinearizableReadError::ForwardToLeader(forward))) => {
                        return not_leader(core, &forward)
                    }
                    Err(e) => return ApiReply::Unavailable(e.to_string()),
                }
            }
            ApiReply::Read(state::query(&core.state_machine.state(), &query))
        }
        ApiRequest::Feed {
            after,
            limit,
            wait_ms,
        } => feed::serve(core, after, limit, wait_ms).await,
        ApiRequest::FeedFor {
            after,
            limit,
            wait_ms,
            interest,
        } => feed::serve_for(core, after, limit, wait_ms, interest).await,
        ApiRequest::AddNode { id, addr } => {
            let node = BasicNode { addr };
            match core.raft.add_learner(id, node, true).await {
                Ok(_) => {}
                Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward))) => {
                    return not_leader(core, &forward)
                }
                Err(e) => return ApiReply::Unavailable(e.to_string()),
            }
            change_membership(core, ChangeMembers::AddVoterIds([id].into())).await
        }
        ApiRequest::RemoveNode { id } => {
            change_membership(core, ChangeMembers::RemoveVoters([id].into())).await
        }
        ApiRequest::Status => ApiReply::Status(status(core)),
        ApiRequest::StateDigest => match core.state_machine.digest().await {
            Ok(digest) => ApiReply::StateDigest(digest),
            Err(e) => ApiReply::Unavailable(e.to_string()),
        },
        ApiRequest::Backup => super::backup::take(core).await,
    }
}

async fn change_membership(core: &NodeCore, change: ChangeMembers<u64, BasicNode>) -> ApiReply {
    match core.raft.change_membership(change, false).await {
        Ok(_) => ApiReply::Status(status(core)),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward))) => {
            not_leader(core, &forward)
        }
        Err(e) => ApiReply::Unavailable(e.to_string()),
    }
}
