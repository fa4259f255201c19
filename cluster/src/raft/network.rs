//! Raft traffic between nodes over the internal RPC (HTTP/2, binary bodies, mTLS when
//! configured). One multiplexed connection per peer address, shared by every stream
//! openraft opens to that peer.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meridian_rpc::{RpcClient, RpcError, TlsSettings};
use openraft::errors::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::{BasicNode, OptionalSend};

use super::{Snapshot, SnapshotData, TypeConfig, Vote};
use crate::api::{
    SnapshotTransfer, RAFT_APPEND_PATH, RAFT_DISK_LOW, RAFT_PRE_VOTE_PATH, RAFT_SNAPSHOT_PATH,
    RAFT_TRANSFER_LEADER_PATH, RAFT_VOTE_PATH,
};

/// What a node answers to a Raft RPC: the openraft reply, or why it could not handle it.
pub type RaftReply<T> = Result<T, String>;

#[derive(Clone)]
pub struct NetworkFactory {
    tls: Option<TlsSettings>,
    /// The least time a Raft RPC gets for its answer (see [`PeerNetwork::call`]).
    min_rpc_timeout: Duration,
    /// Peers dialled somewhere else than their membership address (`peer_routes`).
    routes: Arc<BTreeMap<u64, String>>,
    clients: Arc<Mutex<HashMap<String, Arc<RpcClient>>>>,
}

impl NetworkFactory {
    pub fn new(
        tls: Option<TlsSettings>,
        routes: BTreeMap<u64, String>,
        min_rpc_timeout: Duration,
    ) -> Self {
        Self {
            tls,
            min_rpc_timeout,
            routes: Arc::new(routes),
            clients: Arc::default(),
        }
    }

    fn client(&self, addr: &str) -> Arc<RpcClient> {
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        clients
            .entry(addr.to_string())
            .or_insert_with(|| Arc::new(RpcClient::new(addr, self.tls.clone())))
            .clone()
    }
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerNetwork;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> PeerNetwork {
        let addr = self.routes.get(&target).unwrap_or(&node.addr);
        PeerNetwork {
            client: self.client(addr),
            min_rpc_timeout: self.min_rpc_timeout,
        }
    }
}

pub struct PeerNetwork {
    client: Arc<RpcClient>,
    min_rpc_timeout: Duration,
}

fn rpc_error(e: RpcError) -> RPCError<TypeConfig> {
    if e.is_unreachable() {
        RPCError::Unreachable(Unreachable::new(&e))
    } else {
        RPCError::Network(NetworkError::new(&e))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("peer refused: {0}")]
struct PeerRefused(String);

impl PeerNetwork {
    async fn call<Req, Resp>(
        &self,
        path: &str,
        request: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<TypeConfig>>
    where
        Req: serde::Serialize,
        Resp: serde::de::DeserializeOwned,
    {
        self.answer(path, request, option)
            .await
            .map_err(rpc_error)?
    }

    /// The peer's answer, or why none came (before it is turned into openraft's error).
    async fn answer<Req, Resp>(
        &self,
        path: &str,
        request: &Req,
        option: &RPCOption,
    ) -> Result<Result<Resp, RPCError<TypeConfig>>, RpcError>
    where
        Req: serde::Serialize,
        Resp: serde::de::DeserializeOwned,
    {
        // openraft gives appends one heartbeat interval (100 ms). A busy follower (a
        // snapshot, a loaded machine) answers later than that, and every late answer was
        // a lost acknowledgement, so the leader's lease ran out while nothing had failed.
        // An answer is worth waiting for while it is younger than an election timeout.
        // (Heartbeats keep their 100 ms: openraft's heartbeat worker times them itself.
        // Snapshots get their own, longer, `install_snapshot_timeout`.)
        let timeout = option.hard_ttl().max(self.min_rpc_timeout);
        let reply: RaftReply<Resp> = self.client.call(path, request, timeout).await?;
        Ok(reply.map_err(|reason| {
            let refused = PeerRefused(reason);
            if refused.0 == RAFT_DISK_LOW {
                RPCError::Unreachable(Unreachable::new(&refused))
            } else {
                RPCError::Network(NetworkError::new(&refused))
            }
        }))
    }
}

impl RaftNetworkV2<TypeConfig> for PeerNetwork {
    type SnapshotData = SnapshotData;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.call(RAFT_APPEND_PATH, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.call(RAFT_VOTE_PATH, &rpc, &option).await
    }

    /// Pre-Vote: a node cut off for a while asks whether it could win before it raises
    /// its term, so on its return it does not depose a leader the others still follow.
    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self.answer(RAFT_PRE_VOTE_PATH, &rpc, &option).await {
            // A peer of a build without Pre-Vote (a rolling upgrade) counts as granting,
            // as openraft does for a network without it: elections work as before.
            Err(RpcError::Status { status: 404, .. }) => {
                Ok(VoteResponse::new(rpc.vote, None, true))
            }
            answer => answer.map_err(rpc_error)?,
        }
    }

    /// A leader handing over (its disk is low): the target starts an election at once
    /// and the others let it, instead of waiting out the leader's lease. A peer of an
    /// older build answers 404, which is openraft's "not implemented": it waits.
    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.call(RAFT_TRANSFER_LEADER_PATH, &req, &option).await
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let transfer = SnapshotTransfer {
            vote,
            meta: snapshot.meta,
            data: snapshot.snapshot.into_inner(),
        };
        tokio::select! {
            reply = self.call(RAFT_SNAPSHOT_PATH, &transfer, &option) => Ok(reply?),
            closed = cancel => Err(StreamingError::Closed(closed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures::future::BoxFuture;
    use meridian_rpc::RpcHandler;

    /// A peer of a build that knows no Raft path at all (every path answers 404).
    struct OlderBuild;

    impl RpcHandler for OlderBuild {
        fn handle(&self, _path: &str, _body: Bytes) -> Option<BoxFuture<'static, Bytes>> {
            None
        }
    }

    fn peer(addr: &str) -> PeerNetwork {
        PeerNetwork {
            client: Arc::new(RpcClient::new(addr, None)),
            min_rpc_timeout: Duration::from_millis(500),
        }
    }

    fn pre_vote_request() -> VoteRequest<TypeConfig> {
        VoteRequest::new(Vote::new(3, 1), None)
    }

    #[tokio::test]
    async fn a_peer_without_pre_vote_grants_it_and_an_unreachable_one_does_not() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(meridian_rpc::serve(
            listener,
            None,
            Arc::new(OlderBuild),
            async move {
                let _ = stopped.await;
            },
        ));
        let option = RPCOption::new(Duration::from_millis(500));

        // A rolling upgrade: the older peer lets elections go on as before.
        let granted = peer(&addr)
            .pre_vote(pre_vote_request(), option.clone())
            .await
            .unwrap();
        assert!(granted.vote_granted);
        // Its real vote path is missing too, and that is an error, not a grant.
        assert!(peer(&addr)
            .vote(pre_vote_request(), option.clone())
            .await
            .is_err());

        let _ = stop.send(());
        server.await.unwrap().unwrap();
        // A node nobody answers for gets no grant, or a cut-off node would raise its term.
        let unreachable = peer(&addr).pre_vote(pre_vote_request(), option).await;
        assert!(
            matches!(unreachable, Err(RPCError::Unreachable(_))),
            "{unreachable:?}"
        );
    }
}
