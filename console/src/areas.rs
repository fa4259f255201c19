//! The console's view of the areas: each area's operator admin API (JSON under
//! `/admin/v1`, the operator token as bearer) and its Server API (form posts signed with
//! an app's secret, as an app server signs them). One pooled client carries both
//! (`rpc::outbound`, http and https).

use std::time::Duration;

use bytes::Bytes;
use http::Method;
use meridian_regions::AreaCode;
use meridian_rpc::outbound::OutboundClient;
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(15);

/// One area the console manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Area {
    pub code: AreaCode,
    /// The admin API's base URL (an edge's or a node's admin listener).
    pub admin: String,
    /// The Server API's base URL (an edge's public listener).
    pub api: String,
}

/// What an API answered: its status and its JSON body (`Null` if it was not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn ok(&self) -> bool {
        self.status == 200
    }

    /// The API's own error text: the admin API's `error`, the Server API's
    /// `errorMessage`, else the status.
    pub fn error(&self) -> String {
        ["error", "errorMessage"]
            .iter()
            .find_map(|field| self.body[field].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| format!("HTTP {}", self.status))
    }

    /// A Server API answer that succeeded (HTTP 200 and `code` 200).
    pub fn api_ok(&self) -> bool {
        self.ok() && self.body["code"] == 200
    }
}

/// An app as an area's admin API shows it, and which of its environments a key named.
#[derive(Debug, Clone)]
pub struct FoundApp {
    pub area: Area,
    pub app: Value,
    /// `dev` or `prod`.
    pub env: String,
}

impl FoundApp {
    /// The App Secret of the environment the key named.
    pub fn secret(&self) -> &str {
        self.app[&self.env]["appSecret"]
            .as_str()
            .unwrap_or_default()
    }
}

pub struct Areas {
    list: Vec<Area>,
    token: String,
    http: OutboundClient,
}

impl Areas {
    pub fn new(list: Vec<Area>, token: String, http: OutboundClient) -> Self {
        Self { list, token, http }
    }

    pub fn list(&self) -> &[Area] {
        &self.list
    }

    pub fn get(&self, code: &str) -> Option<&Area> {
        self.list.iter().find(|a| a.code.as_str() == code)
    }

    /// One admin API call; `Err` when the area did not answer.
    pub async fn admin(
        &self,
        area: &Area,
        method: Method,
        path: &str,
        body: Option<(&str, Bytes)>,
    ) -> Result<Answer, String> {
        let bearer = format!("Bearer {}", self.token);
        let mut headers = vec![("authorization", bearer.as_str())];
        let body = match body {
            Some((content_type, bytes)) => {
                headers.push(("content-type", content_type));
                bytes
            }
            None => Bytes::new(),
        };
        let url = format!("{}/admin/v1{path}", area.admin.trim_end_matches('/'));
        let answer = self
            .http
            .request(method, &url, &headers, body, TIMEOUT)
            .await
            .map_err(|e| format!("area {} did not answer: {e}", area.code))?;
        Ok(Answer {
            status: answer.status,
            body: serde_json::from_slice(&answer.body).unwrap_or(Value::Null),
        })
    }

    /// An admin call with a JSON body.
    pub async fn admin_json(
        &self,
        area: &Area,
        method: Method,
        path: &str,
        body: &Value,
    ) -> Result<Answer, String> {
        let bytes = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
        self.admin(area, method, path, Some(("application/json", bytes)))
            .await
    }

    /// The app `key` names, searched in every area (an area answers 404 for apps that
    /// are not its own). `Ok(None)`: no area has it.
    pub async fn find_app(&self, key: &str) -> Result<Option<FoundApp>, String> {
        for area in &self.list {
            if let Some(found) = self.find_app_in(area, key).await? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// The app `key` names if `area` holds it.
    pub async fn find_app_in(&self, area: &Area, key: &str) -> Result<Option<FoundApp>, String> {
        let answer = self
            .admin(area, Method::GET, &format!("/apps/{key}"), None)
            .await?;
        match answer.status {
            200 => Ok(Some(FoundApp {
                area: area.clone(),
                env: answer.body["env"].as_str().unwrap_or("prod").to_string(),
                app: answer.body["app"].clone(),
            })),
            404 | 421 => Ok(None),
            _ => Err(format!("area {}: {}", area.code, answer.error())),
        }
    }

    /// One Server API call of `app_key`, signed with `secret`.
    pub async fn server_api(
        &self,
        area: &Area,
        app_key: &str,
        secret: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<Answer, String> {
        let nonce = rand::random::<u64>().to_string();
        let signed = meridian_client::server_api::signed_headers(app_key, secret, &nonce, 0);
        let mut headers: Vec<(&str, &str)> = signed.iter().map(|(n, v)| (*n, v.as_str())).collect();
        headers.push(("content-type", meridian_client::server_api::FORM));
        let url = format!("{}{path}", area.api.trim_end_matches('/'));
        let body = Bytes::from(meridian_client::server_api::form(form));
        let answer = self
            .http
            .request(Method::POST, &url, &headers, body, TIMEOUT)
            .await
            .map_err(|e| format!("the Server API of area {} did not answer: {e}", area.code))?;
        Ok(Answer {
            status: answer.status,
            body: serde_json::from_slice(&answer.body).unwrap_or(Value::Null),
        })
    }
}

/// `CODE=URL` (a `--area` or `--api` flag) read into its parts.
pub fn parse_flag(text: &str) -> Result<(AreaCode, String), String> {
    let (code, url) = text.split_once('=').ok_or_else(|| {
        format!("{text:?}: expected AREA=URL, e.g. SG=https://admin.sg.example.com")
    })?;
    let code: AreaCode = code.parse().map_err(|e| format!("{text:?}: {e}"))?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!(
            "{text:?}: the URL must start with http:// or https://"
        ));
    }
    Ok((code, url.trim_end_matches('/').to_string()))
}

/// The areas named by `--area CODE=ADMIN_URL` flags, each with the Server API URL its
/// `--api CODE=URL` flag names, else its admin URL (right when that is an edge's, whose
/// public listener serves both).
pub fn areas_from_flags(admin: &[String], api: &[String]) -> Result<Vec<Area>, String> {
    let apis = api
        .iter()
        .map(|flag| parse_flag(flag))
        .collect::<Result<Vec<_>, _>>()?;
    let mut areas: Vec<Area> = Vec::new();
    for flag in admin {
        let (code, admin) = parse_flag(flag)?;
        if areas.iter().any(|a| a.code == code) {
            return Err(format!("--area {code} is given twice"));
        }
        let api = apis
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, url)| url.clone())
            .unwrap_or_else(|| admin.clone());
        areas.push(Area { code, admin, api });
    }
    if let Some((code, _)) = apis
        .iter()
        .find(|(c, _)| !areas.iter().any(|a| a.code == *c))
    {
        return Err(format!(
            "--api {code} names an area without --area {code}=ADMIN_URL"
        ));
    }
    Ok(areas)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_area_gets_its_api_url_or_its_admin_url() {
        let flags = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let areas = areas_from_flags(
            &flags(&["SG=http://sg-edge:7002", "NA=https://na-admin"]),
            &flags(&["NA=https://na-api"]),
        )
        .unwrap();
        assert_eq!(areas[0].api, "http://sg-edge:7002");
        assert_eq!(
            (areas[1].admin.as_str(), areas[1].api.as_str()),
            ("https://na-admin", "https://na-api")
        );
        let twice = areas_from_flags(&flags(&["SG=http://a", "SG=http://b"]), &[]);
        assert!(twice.unwrap_err().contains("twice"));
        let stray = areas_from_flags(&flags(&["SG=http://a"]), &flags(&["NA=http://b"]));
        assert!(stray.unwrap_err().contains("--api NA"));
    }

    #[test]
    fn area_flags_name_a_known_area_and_a_url() {
        let (code, url) = parse_flag("SG=https://admin.sg.example.com/").unwrap();
        assert_eq!(
            (code.as_str(), url.as_str()),
            ("SG", "https://admin.sg.example.com")
        );
        assert!(parse_flag("SG").unwrap_err().contains("AREA=URL"));
        assert!(parse_flag("XX=http://a").is_err());
        assert!(parse_flag("SG=admin.example.com")
            .unwrap_err()
            .contains("http://"));
    }

    #[test]
    fn error_texts_are_the_apis_own() {
        let admin = Answer {
            status: 400,
            body: serde_json::json!({"code": "invalid", "error": "invalid offlineWindowDays: must be 1 to 7"}),
        };
        assert_eq!(admin.error(), "invalid offlineWindowDays: must be 1 to 7");
        let api = Answer {
            status: 200,
            body: serde_json::json!({"code": 1002, "errorMessage": "userId missing"}),
        };
        assert!(!api.api_ok());
        assert_eq!(api.error(), "userId missing");
        let bare = Answer {
            status: 502,
            body: Value::Null,
        };
        assert_eq!(bare.error(), "HTTP 502");
    }
}
