//! `data "meridian_endpoints"`: the URLs `meridian dev` wrote to its endpoints.json, so a
//! configuration can find an area's Server API, WebSocket and admin URLs. Read from the
//! file: the admin API has no list of endpoints (a node knows only its own cluster).

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeType, Block, Description, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{map, AttributePath, DataSource, Diagnostics};

use crate::attributes::{computed, required, sensitive, string_list, text};

pub struct EndpointsDataSource;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EndpointsState {
    file: Value<String>,
    nav: Value<Vec<String>>,
    operator_token: Value<String>,
    areas: Value<BTreeMap<String, AreaEndpoints>>,
}

/// One area's URLs, as the data source shows them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AreaEndpoints {
    api: Vec<String>,
    ws: Vec<String>,
    edge_admin: Vec<String>,
    cluster_admin: Vec<String>,
}

/// endpoints.json as `meridian dev` writes it (the parts shown).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EndpointsFile {
    nav: Vec<String>,
    operator_token: String,
    areas: BTreeMap<String, AreaFile>,
}

#[derive(Deserialize)]
struct AreaFile {
    api: Vec<String>,
    edges: Vec<EdgeFile>,
    cluster: Vec<NodeFile>,
}

#[derive(Deserialize)]
struct EdgeFile {
    ws: String,
    admin: String,
}

#[derive(Deserialize)]
struct NodeFile {
    admin: String,
}

impl From<AreaFile> for AreaEndpoints {
    fn from(area: AreaFile) -> Self {
        Self {
            api: area.api,
            ws: area.edges.iter().map(|edge| edge.ws.clone()).collect(),
            edge_admin: area.edges.into_iter().map(|edge| edge.admin).collect(),
            cluster_admin: area.cluster.into_iter().map(|node| node.admin).collect(),
        }
    }
}

#[async_trait]
impl DataSource for EndpointsDataSource {
    type State<'a> = EndpointsState;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let urls = string_list();
        let area = AttributeType::Object(map! {
            "api" => urls.clone(),
            "ws" => urls.clone(),
            "edge_admin" => urls.clone(),
            "cluster_admin" => urls.clone(),
        });
        Some(Schema {
            version: 1,
            block: Block {
                description: Description::plain(
                    "The endpoints of a running `meridian dev`, from the endpoints.json it writes in its data dir.",
                ),
                attributes: map! {
                    "file" => required(AttributeType::String, "Path of endpoints.json."),
                    "nav" => computed(urls, "The navs' URLs (primary first)."),
                    "operator_token" => sensitive(computed(AttributeType::String, "The operator token the admin APIs want.")),
                    "areas" => computed(
                        AttributeType::Map(Box::new(area)),
                        "Per area code: api (Server API base URLs), ws (client WebSocket URLs), edge_admin (admin API through each edge) and cluster_admin (each cluster node's admin API).",
                    ),
                },
                ..Default::default()
            },
        })
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: EndpointsState,
        _provider_meta_state: ValueEmpty,
    ) -> Option<EndpointsState> {
        let path = text(&config.file).to_string();
        let parsed = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|json| {
                serde_json::from_str::<EndpointsFile>(&json).map_err(|e| e.to_string())
            });
        match parsed {
            Ok(endpoints) => Some(EndpointsState {
                file: config.file,
                nav: endpoints.nav.into(),
                operator_token: endpoints.operator_token.into(),
                areas: Value::Value(
                    endpoints
                        .areas
                        .into_iter()
                        .map(|(code, area)| (code, area.into()))
                        .collect(),
                ),
            }),
            Err(problem) => {
                diags.error(
                    format!("Could not read {path}"),
                    problem,
                    AttributePath::new("file"),
                );
                None
            }
        }
    }
}
