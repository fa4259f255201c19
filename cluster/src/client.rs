//! Reaching an area's cluster from outside the Raft group (edges, the admin API, tools):
//! requests go to the last known leader; a follower's `NotLeader` hint redirects the
//! request; when no leader is known the client backs off and tries other nodes, up to a
//! deadline, then reports that the area has no leader.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meridian_regions::AreaCode;
use meridian_rpc::{RpcClient, RpcError, TlsSettings};
use tokio::time::Instant;

use crate::api::{
    ApiReply, ApiRequest, FilteredFeed, InterestUpdate, NodeStatus, ReadConsistency, StateDigest,
    API_PATH, BAD_REQUEST,
};
use crate::coalesce::{Coalescer, Rejected};
use crate::state::{CommandError, Envelope, FeedPage, Output, Query, QueryOutput};
use crate::trace::{current_request_id, Traced};
use crate::writer::MAX_BATCH_COMMANDS;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ClusterError {
    #[error("area {area} has no leader (waited {waited_ms} ms; last error: {last_error})")]
    NoLeader {
        area: AreaCode,
        waited_ms: u64,
        last_error: String,
    },
    /// The write may or may not have been committed (the connection broke after sending,
    /// or the leader lost its quorum while the write waited to commit).
    #[error("outcome unknown: {0}")]
    Ambiguous(String),
    #[error(transparent)]
    Refused(#[from] CommandError),
    #[error("unexpected answer: {0}")]
    Protocol(String),
    /// The leader could not read the request: an older build that does not know it.
    #[error("not understood: {0}")]
    NotUnderstood(String),
    #[error(transparent)]
    Rpc(#[from] std::sync::Arc<RpcError>),
}

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Give up finding a leader after this long.
    pub deadline: Duration,
    /// Wait for one answer at most this long.
    pub call_timeout: Duration,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(10),
            call_timeout: Duration::from_secs(10),
            first_backoff: Duration::from_millis(25),
            // About a heartbeat: a request waiting out an election reaches the new leader
            // within 100 ms of its election (at 500 ms, up to half a second after it).
            max_backoff: Duration::from_millis(100),
        }
    }
}

/// Concurrent writes through one client share RPCs (at most this many in flight).
const WRITE_RPCS_IN_FLIGHT: usize = 16;
const WRITE_QUEUE_DEPTH: usize = 65_536;
const MAX_HOPS_WITHOUT_PAUSE: usize = 4;
/// Writes of an idempotent command at most (each waits for a leader up to the caller's
/// deadline): two leader losses in a row, then the caller's own retry takes over.
pub const IDEMPOTENT_WRITE_TRIES: u32 = 3;

pub struct ClusterClient {
    router: Arc<Router>,
    /// Each command with the request id it was written for.
    writes: Coalescer<(Option<String>, Envelope), Result<Output, CommandError>, ClusterError>,
}

impl ClusterClient {
    /// `nodes`: RPC addresses of some members; the leader is discovered from them.
    pub fn new(area: AreaCode, nodes: Vec<String>, tls: Option<TlsSettings>) -> Self {
        Self::with_policy(area, nodes, tls, RetryPolicy::default())
    }

    pub fn with_policy(
        area: AreaCode,
        nodes: Vec<String>,
        tls: Option<TlsSettings>,
        policy: RetryPolicy,
    ) -> Self {
        Self::build(area, nodes, tls, policy, HashMap::new())
    }

    /// As [`ClusterClient::new`], but the nodes in `routes` (by id) are dialled at the
    /// address given there whatever address their leader hints name: a proxy or a NAT
    /// between this client and the cluster.
    pub fn routed(
        area: AreaCode,
        nodes: Vec<String>,
        tls: Option<TlsSettings>,
        routes: HashMap<u64, String>,
    ) -> Self {
        Self::build(area, nodes, tls, RetryPolicy::default(), routes)
    }

    fn build(
        area: AreaCode,
        nodes: Vec<String>,
        tls: Option<TlsSettings>,
        policy: RetryPolicy,
        routes: HashMap<u64, String>,
    ) -> Self {
        let router = Arc::new(Router {
            area,
            nodes,
            routes,
            tls,
            policy,
            clients: Mutex::default(),
            leader: Mutex::default(),
        });
        let writes = Coalescer::start(
            MAX_BATCH_COMMANDS,
            WRITE_RPCS_IN_FLIGHT,
            WRITE_QUEUE_DEPTH,
            {
                let router = router.clone();
                move |traced: Vec<(Option<String>, Envelope)>| {
                    let router = router.clone();
                    async move {
                        let mut ids = Vec::new();
                        let mut commands = Vec::with_capacity(traced.len());
                        for (id, command) in traced {
                            ids.extend(id);
                            commands.push(command);
                        }
                        // One entry per request, however many commands it wrote.
                        ids.sort_unstable();
                        ids.dedup();
                        match router.call(&ApiRequest::Write(commands), &ids).await? {
                            ApiReply::Written(results) => Ok(results),
                            other => Err(ClusterError::Protocol(format!("{other:?}"))),
                        }
                    }
                }
            },
        );
        Self { router, writes }
    }

    /// A client of the same nodes that gives up after its first attempt.
    pub fn without_retries(&self) -> Self {
        let router = &self.router;
        Self::build(
            router.area,
            router.nodes.clone(),
            router.tls.clone(),
            RetryPolicy {
                deadline: Duration::ZERO,
                ..router.policy
            },
            router.routes.clone(),
        )
    }

    pub fn area(&self) -> AreaCode {
        self.router.area
    }

    /// Sends `request` to one node, without redirects.
    pub async fn call_node(&self, addr: &str, request: &ApiRequest) -> Result<ApiReply, RpcError> {
        self.router.call_node(addr, request, &current_ids()).await
    }

    /// Sends `request` to the leader, following redirects and retrying while there is
    /// none. Writes are retried only when they certainly did not reach a node.
    pub async fn call(&self, request: &ApiRequest) -> Result<ApiReply, ClusterError> {
        self.router.call(request, &current_ids()).await
    }

    /// Commits `commands`; each has its own result. Concurrent calls share RPCs (and the
    /// leader then puts them in shared Raft entries).
    pub async fn write(
        &self,
        commands: Vec<Envelope>,
    ) -> Result<Vec<Result<Output, CommandError>>, ClusterError> {
        let id = current_request_id();
        let traced = commands.into_iter().map(|c| (id.clone(), c)).collect();
        self.writes
            .submit(traced)
            .await
            .map_err(|rejected| match rejected {
                Rejected::Failed(error) => error,
                Rejected::TooLarge { limit } => {
                    ClusterError::Protocol(format!("at most {limit} commands per write"))
                }
                Rejected::Closed => ClusterError::Protocol("client closed".into()),
            })
    }

    pub async fn write_one(&self, envelope: Envelope) -> Result<Output, ClusterError> {
        let mut results = self.write(vec![envelope]).await?;
        match results.pop() {
            Some(result) => Ok(result?),
            None => Err(ClusterError::Protocol("empty write answer".into())),
        }
    }

    /// [`write_one`](Self::write_one) for a command the state applies once however often
    /// it is written (a client send by its client id, a request by its `msgRandom`): an
    /// outcome left open (the leader lost its quorum or died while the write waited) is
    /// settled by writing it again, at the new leader, up to [`IDEMPOTENT_WRITE_TRIES`]
    /// writes in all.
    pub async fn write_idempotent(&self, envelope: Envelope) -> Result<Output, ClusterError> {
        for _ in 1..IDEMPOTENT_WRITE_TRIES {
            match self.write_one(envelope.clone()).await {
                Err(ClusterError::Ambiguous(_)) => {}
                written => return written,
            }
        }
        self.write_one(envelope).await
    }

    /// A linearizable read through the leader.
    pub async fn read(&self, query: Query) -> Result<QueryOutput, ClusterError> {
        let request = ApiRequest::Read {
            query,
            consistency: ReadConsistency::Linearizable,
        };
        match self.call(&request).await? {
            ApiReply::Read(result) => Ok(result?),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    /// The area's feed after `after` from the leader, waiting up to `wait` for news.
    pub async fn feed(
        &self,
        after: u64,
        limit: usize,
        wait: Duration,
    ) -> Result<FeedPage, ClusterError> {
        let request = ApiRequest::Feed {
            after,
            limit,
            wait_ms: wait.as_millis() as u64,
        };
        match self.call(&request).await? {
            ApiReply::Read(Ok(QueryOutput::Feed(page))) => Ok(page),
            ApiReply::Read(Err(refused)) => Err(refused.into()),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    /// The feed after `after` filtered by an edge's interest (see [`ApiRequest::FeedFor`]);
    /// `None` when the leader wants the whole interest.
    pub async fn feed_for(
        &self,
        after: u64,
        limit: usize,
        wait: Duration,
        interest: InterestUpdate,
    ) -> Result<Option<FilteredFeed>, ClusterError> {
        let request = ApiRequest::FeedFor {
            after,
            limit,
            wait_ms: wait.as_millis() as u64,
            interest,
        };
        match self.call(&request).await? {
            ApiReply::FilteredFeed(Ok(feed)) => Ok(Some(feed)),
            ApiReply::FilteredFeed(Err(refused)) => Err(refused.into()),
            ApiReply::InterestUnknown => Ok(None),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    /// Node `addr`'s own [`StateDigest`] (not forwarded).
    pub async fn state_digest_of(&self, addr: &str) -> Result<StateDigest, ClusterError> {
        match self.call_node(addr, &ApiRequest::StateDigest).await {
            Ok(ApiReply::StateDigest(digest)) => Ok(digest),
            Ok(other) => Err(ClusterError::Protocol(format!("{other:?}"))),
            Err(e) => Err(ClusterError::Rpc(Arc::new(e))),
        }
    }

    pub async fn status_of(&self, addr: &str) -> Result<NodeStatus, ClusterError> {
        match self.call_node(addr, &ApiRequest::Status).await {
            Ok(ApiReply::Status(status)) => Ok(status),
            Ok(other) => Err(ClusterError::Protocol(format!("{other:?}"))),
            Err(e) => Err(ClusterError::Rpc(Arc::new(e))),
        }
    }
}

/// The current request's id, as the list an internal API call carries.
fn current_ids() -> Vec<String> {
    current_request_id().into_iter().collect()
}

/// Finds the leader and carries one request to it.
struct Router {
    area: AreaCode,
    nodes: Vec<String>,
    /// Node id → the address to dial it at instead of the one its hints name.
    routes: HashMap<u64, String>,
    tls: Option<TlsSettings>,
    policy: RetryPolicy,
    clients: Mutex<HashMap<String, Arc<RpcClient>>>,
    leader: Mutex<Option<String>>,
}

impl Router {
    fn client(&self, addr: &str) -> Arc<RpcClient> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .entry(addr.to_string())
            .or_insert_with(|| Arc::new(RpcClient::new(addr, self.tls.clone())))
            .clone()
    }

    fn known_leader(&self) -> Option<String> {
        self.leader
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_leader(&self, addr: Option<String>) {
        *self.leader.lock().unwrap_or_else(|p| p.into_inner()) = addr;
    }

    async fn call_node(
        &self,
        addr: &str,
        request: &ApiRequest,
        request_ids: &[String],
    ) -> Result<ApiReply, RpcError> {
        let traced = Traced {
            request_ids,
            request,
        };
        self.client(addr)
            .call(
                API_PATH,
                &traced,
                request.call_timeout(self.policy.call_timeout),
            )
            .await
    }

    async fn call(
        &self,
        request: &ApiRequest,
        request_ids: &[String],
    ) -> Result<ApiReply, ClusterError> {
        let started = Instant::now();
        let is_write = !matches!(
            request,
            ApiRequest::Read { .. }
                | ApiRequest::Feed { .. }
                | ApiRequest::FeedFor { .. }
                | ApiRequest::Status
                | ApiRequest::StateDigest
                | ApiRequest::Backup
        );
        let mut backoff = self.policy.first_backoff;
        let mut next_seed = 0usize;
        let mut last_error;
        let mut hops = 0usize;
        loop {
            let target = match self.known_leader() {
                Some(leader) => leader,
                None => {
                    let Some(addr) = self.nodes.get(next_seed % self.nodes.len().max(1)) else {
                        return Err(ClusterError::Protocol(
                            "no cluster node addresses configured".into(),
                        ));
                    };
                    next_seed += 1;
                    addr.clone()
                }
            };
            let mut redirected = false;
            hops += 1;
            match self.call_node(&target, request, request_ids).await {
                Ok(ApiReply::NotLeader { leader }) => {
                    last_error = format!("{target} is not the leader");
                    redirected = leader.is_some();
                    self.set_leader(leader.map(|hint| match self.routes.get(&hint.id) {
                        Some(route) => route.clone(),
                        None => hint.addr,
                    }));
                }
                // An older build that cannot read the request: asking again will not help.
                Ok(ApiReply::Unavailable(reason)) if reason.starts_with(BAD_REQUEST) => {
                    return Err(ClusterError::NotUnderstood(format!("{target}: {reason}")));
                }
                Ok(ApiReply::Unavailable(reason)) => {
                    last_error = format!("{target}: {reason}");
                    self.set_leader(None);
                }
                Ok(ApiReply::Ambiguous(reason)) => {
                    self.set_leader(None);
                    return Err(ClusterError::Ambiguous(format!("{target}: {reason}")));
                }
                Ok(reply) => {
                    self.set_leader(Some(target));
                    return Ok(reply);
                }
                Err(e) if e.is_unreachable() || !is_write => {
                    last_error = e.to_string();
                    self.set_leader(None);
                }
                Err(e) => {
                    self.set_leader(None);
                    return Err(ClusterError::Ambiguous(e.to_string()));
                }
            }
            if started.elapsed() >= self.policy.deadline {
                return Err(ClusterError::NoLeader {
                    area: self.area,
                    waited_ms: started.elapsed().as_millis() as u64,
                    last_error,
                });
            }
            // Follow a hint at once, but not forever: hints can be stale during elections.
            if !redirected || hops.is_multiple_of(MAX_HOPS_WITHOUT_PAUSE) {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(self.policy.max_backoff);
            }
        }
    }
}
