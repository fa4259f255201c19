//! `meridian_cluster_member`: one node in the Raft membership of the endpoint's area. The
//! node must already run (`meridian cluster run` with no peers waits to be added).

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tf_provider::schema::{AttributeType, Block, Description, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{map, AttributePath, Diagnostics, Resource};

use crate::admin::{AdminClient, AdminError};
use crate::attributes::{check, computed, required, text};
use crate::provider::{report, Connection};

/// Adding a node waits for it to catch up with the log before it becomes a voter.
const ADD_TIMEOUT: Duration = Duration::from_secs(300);

pub struct ClusterMemberResource {
    connection: Connection,
}

impl ClusterMemberResource {
    pub fn new(connection: Connection) -> Self {
        Self { connection }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterMemberState {
    /// The node id, as text.
    id: Value<String>,
    node_id: Value<i64>,
    addr: Value<String>,
}

/// The membership as the cluster status shows it: node id to RPC address.
#[derive(Deserialize)]
struct Membership {
    nodes: std::collections::BTreeMap<String, String>,
}

impl Membership {
    fn addr_of(&self, node_id: i64) -> Option<&String> {
        self.nodes.get(&node_id.to_string())
    }
}

fn membership(answer: &serde_json::Value) -> Result<Membership, AdminError> {
    serde_json::from_value(answer["status"].clone())
        .map_err(|e| AdminError::Malformed(format!("cluster status: {e}: {answer}")))
}

async fn current_membership(admin: &AdminClient) -> Result<Membership, AdminError> {
    membership(&admin.get("/admin/v1/cluster").await?)
}

/// The member's state if the membership has it.
fn member_state(membership: &Membership, node_id: i64) -> Option<ClusterMemberState> {
    membership.addr_of(node_id).map(|addr| ClusterMemberState {
        id: node_id.to_string().into(),
        node_id: node_id.into(),
        addr: addr.clone().into(),
    })
}

fn check_node_id(id: &i64) -> Result<(), String> {
    if *id < 1 {
        return Err("must be 1 or more".into());
    }
    Ok(())
}

/// `host:port`, as nodes dial each other.
fn check_addr(addr: &str) -> Result<(), String> {
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
            Ok(())
        }
        _ => Err(format!(
            "{addr:?} must be host:port (the node's RPC address)"
        )),
    }
}

#[async_trait]
impl Resource for ClusterMemberResource {
    type State<'a> = ClusterMemberState;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(Schema {
            version: 1,
            block: Block {
                description: Description::plain(
                    "A node in the Raft membership of the endpoint's area. Creating it adds the running node as a learner, waits for it to catch up, then makes it a voter; destroying it removes the node. Keep the number of voters odd.",
                ),
                attributes: map! {
                    "id" => computed(AttributeType::String, "The node id."),
                    "node_id" => required(AttributeType::Number, "The node's id (node_id in its configuration), 1 or more."),
                    "addr" => required(AttributeType::String, "The node's RPC address, host:port, as the other nodes reach it."),
                },
                ..Default::default()
            },
        })
    }

    async fn validate<'a>(
        &self,
        diags: &mut Diagnostics,
        config: ClusterMemberState,
    ) -> Option<()> {
        check(diags, "node_id", &config.node_id, check_node_id);
        check(diags, "addr", &config.addr, check_addr);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: ClusterMemberState,
        private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(ClusterMemberState, ValueEmpty)> {
        let admin = self.connection.client(diags)?;
        let node_id = state.node_id.as_ref_option().copied().unwrap_or_default();
        match current_membership(&admin).await {
            // Not a member (removed outside Terraform): gone from the state, planned to
            // be added again.
            Ok(membership) => member_state(&membership, node_id).map(|s| (s, private_state)),
            Err(error) => {
                report(diags, "read the cluster membership", error);
                Some((state, private_state))
            }
        }
    }

    async fn plan_create<'a>(
        &self,
        _diags: &mut Diagnostics,
        proposed_state: ClusterMemberState,
        _config_state: ClusterMemberState,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(ClusterMemberState, ValueEmpty)> {
        let id = proposed_state.node_id.map(|id| id.to_string());
        Some((
            ClusterMemberState {
                id,
                ..proposed_state
            },
            Default::default(),
        ))
    }

    /// A member cannot move: a new id or address removes it and adds it again.
    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior_state: ClusterMemberState,
        proposed_state: ClusterMemberState,
        _config_state: ClusterMemberState,
        prior_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(ClusterMemberState, ValueEmpty, Vec<AttributePath>)> {
        let mut replace = Vec::new();
        if proposed_state.node_id != prior_state.node_id {
            replace.push(AttributePath::new("node_id"));
        }
        if proposed_state.addr != prior_state.addr {
            replace.push(AttributePath::new("addr"));
        }
        Some((proposed_state, prior_private_state, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior_state: ClusterMemberState,
        prior_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<ValueEmpty> {
        Some(prior_private_state)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned_state: ClusterMemberState,
        _config_state: ClusterMemberState,
        planned_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(ClusterMemberState, ValueEmpty)> {
        let admin = self.connection.client(diags)?;
        let node_id = planned_state.node_id.as_ref_option().copied()?;
        let body = json!({ "id": node_id, "addr": text(&planned_state.addr) });
        let added = admin
            .call(
                "POST",
                "/admin/v1/cluster/members",
                Some(&body),
                ADD_TIMEOUT,
            )
            .await
            .and_then(|answer| membership(&answer));
        match added {
            Ok(membership) => match member_state(&membership, node_id) {
                Some(state) => Some((state, planned_private_state)),
                None => {
                    diags.root_error(
                        "The node is not in the membership after adding it",
                        format!("Members: {:?}", membership.nodes),
                    );
                    None
                }
            },
            Err(error) => {
                report(diags, &format!("add node {node_id}"), error);
                None
            }
        }
    }

    /// Never reached with a change: both attributes replace the member.
    async fn update<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior_state: ClusterMemberState,
        planned_state: ClusterMemberState,
        _config_state: ClusterMemberState,
        planned_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(ClusterMemberState, ValueEmpty)> {
        Some((planned_state, planned_private_state))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior_state: ClusterMemberState,
        _planned_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<()> {
        let admin = self.connection.client(diags)?;
        let node_id = prior_state.node_id.as_ref_option().copied()?;
        let removed = match current_membership(&admin).await {
            // Already gone: nothing to remove.
            Ok(membership) if membership.addr_of(node_id).is_none() => Ok(()),
            Ok(_) => admin
                .delete(&format!("/admin/v1/cluster/members/{node_id}"))
                .await
                .map(|_| ()),
            Err(error) => Err(error),
        };
        match removed {
            Ok(()) => Some(()),
            Err(error) => {
                report(diags, &format!("remove node {node_id}"), error);
                None
            }
        }
    }

    /// `terraform import meridian_cluster_member.NAME <node id>`.
    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(ClusterMemberState, ValueEmpty)> {
        let admin = self.connection.client(diags)?;
        let Ok(node_id) = id.parse::<i64>() else {
            diags.root_error_short(format!("{id:?} is not a node id"));
            return None;
        };
        match current_membership(&admin).await {
            Ok(membership) => match member_state(&membership, node_id) {
                Some(state) => Some((state, Default::default())),
                None => {
                    diags.root_error_short(format!("Node {node_id} is not a cluster member"));
                    None
                }
            },
            Err(error) => {
                report(diags, "read the cluster membership", error);
                None
            }
        }
    }
}
