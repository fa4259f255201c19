//! `meridian_area`: one entry of the area catalog kept by the cluster of the area the
//! provider's endpoint serves: how clients and app servers reach an area (its nav and
//! API hosts, where its edges are). Navs read it, so a changed host or edge source
//! reaches clients without a restart.

use async_trait::async_trait;
use meridian_regions::{AreaCode, CatalogEntry, EdgeDiscovery, HostPair};
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeType, Block, Description, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{map, AttributePath, Diagnostics, Resource};

use crate::admin::{AdminClient, AdminError};
use crate::attributes::{
    check, check_area_code, computed, optional, optional_computed, or_default, required,
    string_list, text, to_value_list,
};
use crate::provider::{report, Connection};

pub struct AreaResource {
    connection: Connection,
}

impl AreaResource {
    pub fn new(connection: Connection) -> Self {
        Self { connection }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AreaState {
    /// The area code.
    id: Value<String>,
    code: Value<String>,
    nav_primary: Value<String>,
    nav_backup: Value<String>,
    api_primary: Value<String>,
    api_backup: Value<String>,
    edge_discovery: Value<String>,
    static_edges: Value<Vec<Value<String>>>,
    edge_tls: Value<bool>,
}

impl From<CatalogEntry> for AreaState {
    fn from(entry: CatalogEntry) -> Self {
        Self {
            id: entry.code.as_str().to_string().into(),
            code: entry.code.as_str().to_string().into(),
            nav_primary: entry.nav.primary.into(),
            nav_backup: entry.nav.backup.into(),
            api_primary: entry.api.primary.into(),
            api_backup: entry.api.backup.into(),
            edge_discovery: entry.edges.discovery.into(),
            static_edges: to_value_list(entry.edges.static_edges),
            edge_tls: entry.edges.tls.into(),
        }
    }
}

/// What stands for a value not known yet when the configuration is checked: a host
/// every check accepts, so only the known values can fail.
const NOT_YET_KNOWN: &str = "not-yet-known.invalid";

impl AreaState {
    /// The plan: configured values, and the API's defaults for what is left out.
    fn planned(config: AreaState) -> Self {
        Self {
            id: config.code.clone(),
            static_edges: or_default(config.static_edges, Vec::new()),
            edge_tls: or_default(config.edge_tls, false),
            ..config
        }
    }

    /// The catalog entry these values describe. Values not known yet (only while
    /// validating: planned and stored states are known) stand in as [`NOT_YET_KNOWN`],
    /// so the catalog's own checks can run on the rest.
    fn entry(&self) -> CatalogEntry {
        let host = |value: &Value<String>| match value {
            Value::Value(host) => host.clone(),
            Value::Null | Value::Unknown => NOT_YET_KNOWN.to_string(),
        };
        CatalogEntry {
            // An invalid code is reported on its own.
            code: self
                .code
                .as_ref_option()
                .and_then(|code| code.parse().ok())
                .unwrap_or(AreaCode::Sg),
            nav: HostPair {
                primary: host(&self.nav_primary),
                backup: host(&self.nav_backup),
            },
            api: HostPair {
                primary: host(&self.api_primary),
                backup: host(&self.api_backup),
            },
            edges: EdgeDiscovery {
                discovery: match &self.edge_discovery {
                    Value::Null => None,
                    discovery => Some(host(discovery)),
                },
                static_edges: match &self.static_edges {
                    Value::Value(edges) => edges.iter().map(host).collect(),
                    Value::Null => Vec::new(),
                    Value::Unknown => vec![NOT_YET_KNOWN.to_string()],
                },
                tls: self.edge_tls.as_ref_option().copied().unwrap_or_default(),
            },
        }
    }
}

/// The attribute a catalog validation key (`nav.primary`, `edges.static[1]`, `edges`)
/// is about: its name and its path.
fn attribute_of(key: &str) -> (&'static str, AttributePath) {
    let static_index = key
        .strip_prefix("edges.static[")
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|index| index.parse::<i64>().ok());
    if let Some(index) = static_index {
        return (
            "static_edges",
            AttributePath::new("static_edges").index(index),
        );
    }
    let name = match key {
        "nav.primary" => "nav_primary",
        "nav.backup" => "nav_backup",
        "api.primary" => "api_primary",
        "api.backup" => "api_backup",
        "edges.discovery" => "edge_discovery",
        // Neither a discovery name nor a static edge.
        "edges" => "static_edges",
        _ => return ("area entry", AttributePath::root()),
    };
    (name, AttributePath::new(name))
}

fn area_path(code: &str) -> String {
    format!("/admin/v1/areas/{code}")
}

fn parse_entry(answer: &serde_json::Value) -> Result<AreaState, AdminError> {
    serde_json::from_value::<CatalogEntry>(answer["area"].clone())
        .map(AreaState::from)
        .map_err(|e| AdminError::Malformed(format!("area entry: {e}: {answer}")))
}

/// The catalog's entry for `code`; a 404 error when it has none.
async fn read_entry(admin: &AdminClient, code: &str) -> Result<AreaState, AdminError> {
    parse_entry(&admin.get(&area_path(code)).await?)
}

/// Creates or replaces the entry; answers it as stored.
async fn write_entry(admin: &AdminClient, state: &AreaState) -> Result<AreaState, AdminError> {
    let entry = state.entry();
    let body = serde_json::to_value(&entry)
        .map_err(|e| AdminError::Malformed(format!("area entry: {e}")))?;
    parse_entry(&admin.put(&area_path(entry.code.as_str()), &body).await?)
}

#[async_trait]
impl Resource for AreaResource {
    type State<'a> = AreaState;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let text = AttributeType::String;
        Some(Schema {
            version: 1,
            block: Block {
                description: Description::plain(
                    "An entry of the area catalog kept by the cluster of the area the provider's endpoint serves: how clients and app servers reach one area. Its navs lay the entry over their configuration within seconds. Destroying it removes the entry (the navs fall back to their configuration).",
                ),
                attributes: map! {
                    "id" => computed(text.clone(), "The area code."),
                    "code" => required(text.clone(), "The area the entry describes: CN, SG, SG-B, NA or SA. A change replaces the entry."),
                    "nav_primary" => required(text.clone(), "Host (host[:port] or URL) of the area's primary nav."),
                    "nav_backup" => required(text.clone(), "Host of the area's backup nav."),
                    "api_primary" => required(text.clone(), "Server API host (or base URL) app servers call first."),
                    "api_backup" => required(text.clone(), "Server API host app servers fall back to."),
                    "edge_discovery" => optional(text, "DNS SRV name listing the area's edges, e.g. _meridian-edge._tcp.sg.example.com."),
                    "static_edges" => optional_computed(string_list(), "host:port of edges to use when there is no discovery name or DNS fails (default []). With no edge_discovery, at least one."),
                    "edge_tls" => optional_computed(AttributeType::Bool, "Whether the edges serve TLS (wss://, https://; default false)."),
                },
                ..Default::default()
            },
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: AreaState) -> Option<()> {
        check(diags, "code", &config.code, check_area_code);
        // The catalog's own checks (what the admin API refuses); the first problem.
        if let Err(invalid) = config.entry().validate() {
            let (name, path) = attribute_of(&invalid.key);
            diags.error(format!("Invalid {name}"), invalid.reason, path);
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: AreaState,
        private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(AreaState, ValueEmpty)> {
        let admin = self.connection.client(diags)?;
        match read_entry(&admin, text(&state.code)).await {
            Ok(current) => Some((current, private_state)),
            // Deleted outside Terraform: gone from the state, planned for creation again.
            Err(error) if error.is_not_found() => None,
            Err(error) => {
                report(diags, "read the area entry", error);
                Some((state, private_state))
            }
        }
    }

    async fn plan_create<'a>(
        &self,
        _diags: &mut Diagnostics,
        _proposed_state: AreaState,
        config_state: AreaState,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(AreaState, ValueEmpty)> {
        Some((AreaState::planned(config_state), Default::default()))
    }

    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior_state: AreaState,
        _proposed_state: AreaState,
        config_state: AreaState,
        prior_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(AreaState, ValueEmpty, Vec<AttributePath>)> {
        let planned = AreaState::planned(config_state);
        let replace = if planned.code != prior_state.code {
            vec![AttributePath::new("code")]
        } else {
            Vec::new()
        };
        Some((planned, prior_private_state, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior_state: AreaState,
        prior_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<ValueEmpty> {
        Some(prior_private_state)
    }

    /// Refuses to take over an entry made outside this resource: it is imported instead.
    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned_state: AreaState,
        _config_state: AreaState,
        planned_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(AreaState, ValueEmpty)> {
        let admin = self.connection.client(diags)?;
        let code = text(&planned_state.code);
        let written = match read_entry(&admin, code).await {
            Ok(_) => {
                diags.error(
                    format!("The area catalog already has an entry for {code}"),
                    format!("Import it to manage it: terraform import meridian_area.<name> {code}"),
                    AttributePath::new("code"),
                );
                return None;
            }
            Err(error) if error.is_not_found() => write_entry(&admin, &planned_state).await,
            Err(error) => Err(error),
        };
        match written {
            Ok(stored) => Some((stored, planned_private_state)),
            Err(error) => {
                report(diags, &format!("create the catalog entry of {code}"), error);
                None
            }
        }
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        _prior_state: AreaState,
        planned_state: AreaState,
        _config_state: AreaState,
        planned_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(AreaState, ValueEmpty)> {
        let admin = self.connection.client(diags)?;
        match write_entry(&admin, &planned_state).await {
            Ok(stored) => Some((stored, planned_private_state)),
            Err(error) => {
                report(diags, "update the area entry", error);
                None
            }
        }
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior_state: AreaState,
        _planned_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<()> {
        let admin = self.connection.client(diags)?;
        match admin.delete(&area_path(text(&prior_state.code))).await {
            Ok(_) => Some(()),
            // Already gone.
            Err(error) if error.is_not_found() => Some(()),
            Err(error) => {
                report(diags, "delete the area entry", error);
                None
            }
        }
    }

    /// `terraform import meridian_area.NAME <area code>`.
    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(AreaState, ValueEmpty)> {
        let admin = self.connection.client(diags)?;
        let code = match id.parse::<AreaCode>() {
            Ok(code) => code,
            Err(unknown) => {
                diags.root_error_short(unknown.to_string());
                return None;
            }
        };
        match read_entry(&admin, code.as_str()).await {
            Ok(state) => Some((state, Default::default())),
            Err(error) => {
                report(diags, &format!("import the catalog entry of {code}"), error);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attributes::known_list;

    fn configured() -> AreaState {
        AreaState {
            code: "SG".to_string().into(),
            nav_primary: "nav-sg.example.com".to_string().into(),
            nav_backup: "nav-sg-b.example.com".to_string().into(),
            api_primary: "https://api-sg.example.com".to_string().into(),
            api_backup: "https://api-sg-b.example.com".to_string().into(),
            edge_discovery: "_meridian-edge._tcp.sg.example.com".to_string().into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_plan_fills_in_the_defaults_and_writes_the_documented_entry() {
        let planned = AreaState::planned(configured());
        assert_eq!(planned.id, Value::Value("SG".to_string()));
        assert_eq!(planned.static_edges, Value::Value(Vec::new()));
        assert_eq!(planned.edge_tls, Value::Value(false));
        assert_eq!(
            serde_json::to_value(planned.entry()).unwrap(),
            serde_json::json!({
                "code": "SG",
                "nav": {"primary": "nav-sg.example.com", "backup": "nav-sg-b.example.com"},
                "api": {"primary": "https://api-sg.example.com", "backup": "https://api-sg-b.example.com"},
                "edges": {"discovery": "_meridian-edge._tcp.sg.example.com", "static": [], "tls": false},
            })
        );
    }

    #[test]
    fn an_answer_without_discovery_reads_back_as_null() {
        let answer = serde_json::json!({"area": {
            "code": "SG-B",
            "nav": {"primary": "n1", "backup": "n2"},
            "api": {"primary": "a1", "backup": "a2"},
            "edges": {"static": ["edge-1.example.com:443"], "tls": true},
        }});
        let state = parse_entry(&answer).unwrap();
        assert_eq!(state.id, Value::Value("SG-B".to_string()));
        assert_eq!(state.edge_discovery, Value::Null);
        assert_eq!(
            known_list(&state.static_edges),
            Some(vec!["edge-1.example.com:443".to_string()])
        );
        assert_eq!(state.edge_tls, Value::Value(true));
        // And the stored state writes the same entry back.
        assert_eq!(
            Some(state.entry()),
            serde_json::from_value(answer["area"].clone()).ok()
        );
    }

    #[test]
    fn catalog_checks_point_at_the_attribute() {
        let problem = |state: AreaState| {
            let invalid = state.entry().validate().unwrap_err();
            (attribute_of(&invalid.key).1, invalid.reason)
        };
        let blank_nav = AreaState {
            nav_backup: " ".to_string().into(),
            ..configured()
        };
        assert_eq!(
            problem(blank_nav),
            (AttributePath::new("nav_backup"), "must not be empty".into())
        );
        let spaced_edge = AreaState {
            static_edges: to_value_list(["edge-1:443".to_string(), "edge 2:443".to_string()]),
            ..configured()
        };
        assert_eq!(
            problem(spaced_edge).0,
            AttributePath::new("static_edges").index(1)
        );
        let no_edges = AreaState {
            edge_discovery: Value::Null,
            static_edges: Value::Value(Vec::new()),
            ..configured()
        };
        assert_eq!(
            problem(no_edges),
            (
                AttributePath::new("static_edges"),
                "needs a discovery name or at least one static edge".into()
            )
        );
    }

    #[test]
    fn values_not_yet_known_pass_the_checks() {
        let unknown = AreaState {
            nav_primary: Value::Unknown,
            edge_discovery: Value::Null,
            static_edges: Value::Unknown,
            ..configured()
        };
        assert_eq!(unknown.entry().validate(), Ok(()));
        let unknown_discovery = AreaState {
            edge_discovery: Value::Unknown,
            static_edges: Value::Null,
            ..configured()
        };
        assert_eq!(unknown_discovery.entry().validate(), Ok(()));
    }
}
