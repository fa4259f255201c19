//! Provider credentials as stored in per-app settings and set through the operator admin
//! JSON API. Debug output never shows a private key.

use serde::{Deserialize, Serialize};

pub const APNS_PRODUCTION_ENDPOINT: &str = "https://api.push.apple.com";
pub const APNS_SANDBOX_ENDPOINT: &str = "https://api.sandbox.push.apple.com";
pub const FCM_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
pub const FCM_ENDPOINT: &str = "https://fcm.googleapis.com";
pub const HUAWEI_TOKEN_URI: &str = "https://oauth-login.cloud.huawei.com/oauth2/v3/token";
pub const HUAWEI_ENDPOINT: &str = "https://push-api.cloud.huawei.com";
/// Mainland China; devices elsewhere are reached through the regional hosts Xiaomi lists
/// (e.g. `https://sgp-api.xmpush.global.xiaomi.com`).
pub const XIAOMI_ENDPOINT: &str = "https://api.xmpush.xiaomi.com";
/// Mainland China; `https://api-intl.push.oppomobile.com` reaches devices elsewhere.
pub const OPPO_ENDPOINT: &str = "https://api.push.oppomobile.com";
pub const VIVO_ENDPOINT: &str = "https://api-push.vivo.com.cn";
pub const MEIZU_ENDPOINT: &str = "https://api-push.meizu.com";
pub const HONOR_TOKEN_URI: &str =
    "https://iam.developer.hihonor.com/auth/realms/developer/protocol/openid-connect/token";
pub const HONOR_ENDPOINT: &str = "https://push-api.cloud.hihonor.com";

const REDACTED: &str = "<redacted>";

/// An APNs token-based (.p8) signing key and the app it pushes to.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApnsCredentials {
    /// The 10-character Apple Developer team id (the JWT's `iss`).
    pub team_id: String,
    /// The 10-character key id (the JWT's `kid`).
    pub key_id: String,
    /// The .p8 file's contents: a PKCS#8 PEM P-256 private key.
    pub private_key_pem: String,
    /// The app's bundle id, sent as `apns-topic`.
    pub bundle_id: String,
    /// `https://api.push.apple.com` (production) or the sandbox host.
    #[serde(default = "default_apns_endpoint")]
    pub endpoint: String,
}

/// The fields of a Firebase service account (its JSON key file) that FCM HTTP v1 needs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FcmCredentials {
    pub project_id: String,
    /// The service account's e-mail (the assertion's `iss`).
    pub client_email: String,
    /// The service account's `private_key`: a PKCS#8 PEM RSA private key.
    pub private_key_pem: String,
    /// Google's OAuth2 token endpoint (the assertion's `aud`).
    #[serde(default = "default_fcm_token_uri")]
    pub token_uri: String,
    #[serde(default = "default_fcm_endpoint")]
    pub endpoint: String,
}

/// A Huawei Push Kit app (AppGallery Connect: the app's OAuth 2.0 client id and secret).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HuaweiCredentials {
    /// The numeric app id: the OAuth2 `client_id` and the `{appId}` of `messages:send`.
    pub app_id: String,
    pub app_secret: String,
    #[serde(default = "default_huawei_token_uri")]
    pub token_uri: String,
    #[serde(default = "default_huawei_endpoint")]
    pub endpoint: String,
}

/// A Xiaomi MiPush app: the AppSecret authorises sends, which are restricted to the
/// app's package.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct XiaomiCredentials {
    pub app_secret: String,
    /// The Android package name, sent as `restricted_package_name`.
    pub package_name: String,
    #[serde(default = "default_xiaomi_endpoint")]
    pub endpoint: String,
}

/// An OPPO PUSH app: its AppKey and MasterSecret sign the requests for an auth token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OppoCredentials {
    pub app_key: String,
    pub master_secret: String,
    #[serde(default = "default_oppo_endpoint")]
    pub endpoint: String,
}

/// A vivo push app: AppId, AppKey and AppSecret sign the requests for an auth token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VivoCredentials {
    pub app_id: String,
    pub app_key: String,
    pub app_secret: String,
    #[serde(default = "default_vivo_endpoint")]
    pub endpoint: String,
}

/// A Meizu (Flyme) push app: every request is signed with its AppSecret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeizuCredentials {
    pub app_id: String,
    pub app_secret: String,
    #[serde(default = "default_meizu_endpoint")]
    pub endpoint: String,
}

/// A Honor push app: its app id, and the OAuth 2.0 client Honor issued for it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HonorCredentials {
    /// The numeric app id, the `{appId}` of `sendMessage`.
    pub app_id: String,
    pub client_id: String,
    pub client_secret: String,
    #[serde(default = "default_honor_token_uri")]
    pub token_uri: String,
    #[serde(default = "default_honor_endpoint")]
    pub endpoint: String,
}

/// A generic webhook that receives each notification as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookTarget {
    pub url: String,
}

fn default_apns_endpoint() -> String {
    APNS_PRODUCTION_ENDPOINT.to_string()
}

fn default_fcm_token_uri() -> String {
    FCM_TOKEN_URI.to_string()
}

fn default_fcm_endpoint() -> String {
    FCM_ENDPOINT.to_string()
}

fn default_huawei_token_uri() -> String {
    HUAWEI_TOKEN_URI.to_string()
}

fn default_huawei_endpoint() -> String {
    HUAWEI_ENDPOINT.to_string()
}

fn default_xiaomi_endpoint() -> String {
    XIAOMI_ENDPOINT.to_string()
}

fn default_oppo_endpoint() -> String {
    OPPO_ENDPOINT.to_string()
}

fn default_vivo_endpoint() -> String {
    VIVO_ENDPOINT.to_string()
}

fn default_meizu_endpoint() -> String {
    MEIZU_ENDPOINT.to_string()
}

fn default_honor_token_uri() -> String {
    HONOR_TOKEN_URI.to_string()
}

fn default_honor_endpoint() -> String {
    HONOR_ENDPOINT.to_string()
}

impl ApnsCredentials {
    pub fn validate(&self) -> Result<(), String> {
        apple_id("teamId", &self.team_id)?;
        apple_id("keyId", &self.key_id)?;
        crate::jwt::p256_key(&self.private_key_pem).map_err(|e| format!("privateKeyPem: {e}"))?;
        if self.bundle_id.is_empty() || !self.bundle_id.chars().all(is_header_safe) {
            return Err("bundleId: must be a non-empty bundle identifier".into());
        }
        http_url("endpoint", &self.endpoint)
    }
}

impl FcmCredentials {
    pub fn validate(&self) -> Result<(), String> {
        // Firebase project ids are lowercase letters, digits and hyphens; they go into a
        // URL path, so nothing else is let through.
        let project_ok = !self.project_id.is_empty()
            && self
                .project_id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !project_ok {
            return Err("projectId: lowercase letters, digits and '-' only".into());
        }
        if !self.client_email.contains('@') {
            return Err("clientEmail: must be the service account's e-mail".into());
        }
        crate::jwt::rsa_key(&self.private_key_pem).map_err(|e| format!("privateKeyPem: {e}"))?;
        http_url("tokenUri", &self.token_uri)?;
        http_url("endpoint", &self.endpoint)
    }
}

impl HuaweiCredentials {
    pub fn validate(&self) -> Result<(), String> {
        // It goes into the URL path.
        if self.app_id.is_empty() || !self.app_id.chars().all(|c| c.is_ascii_digit()) {
            return Err("appId: digits only".into());
        }
        secret("appSecret", &self.app_secret)?;
        http_url("tokenUri", &self.token_uri)?;
        http_url("endpoint", &self.endpoint)
    }
}

impl XiaomiCredentials {
    pub fn validate(&self) -> Result<(), String> {
        secret("appSecret", &self.app_secret)?;
        android_package("packageName", &self.package_name)?;
        http_url("endpoint", &self.endpoint)
    }
}

impl OppoCredentials {
    pub fn validate(&self) -> Result<(), String> {
        secret("appKey", &self.app_key)?;
        secret("masterSecret", &self.master_secret)?;
        http_url("endpoint", &self.endpoint)
    }
}

impl VivoCredentials {
    pub fn validate(&self) -> Result<(), String> {
        secret("appId", &self.app_id)?;
        secret("appKey", &self.app_key)?;
        secret("appSecret", &self.app_secret)?;
        http_url("endpoint", &self.endpoint)
    }
}

impl MeizuCredentials {
    pub fn validate(&self) -> Result<(), String> {
        secret("appId", &self.app_id)?;
        secret("appSecret", &self.app_secret)?;
        http_url("endpoint", &self.endpoint)
    }
}

impl HonorCredentials {
    pub fn validate(&self) -> Result<(), String> {
        // It goes into the URL path.
        if self.app_id.is_empty() || !self.app_id.chars().all(|c| c.is_ascii_digit()) {
            return Err("appId: digits only".into());
        }
        secret("clientId", &self.client_id)?;
        secret("clientSecret", &self.client_secret)?;
        http_url("tokenUri", &self.token_uri)?;
        http_url("endpoint", &self.endpoint)
    }
}

impl WebhookTarget {
    pub fn validate(&self) -> Result<(), String> {
        http_url("url", &self.url)
    }
}

fn apple_id(field: &str, value: &str) -> Result<(), String> {
    if value.len() == 10 && value.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(format!("{field}: must be 10 letters or digits"))
    }
}

/// Secrets travel in headers and forms: printable ASCII, no spaces.
fn secret(field: &str, value: &str) -> Result<(), String> {
    if value.is_empty() || !value.chars().all(is_header_safe) {
        return Err(format!(
            "{field}: must be non-empty printable ASCII without spaces"
        ));
    }
    Ok(())
}

/// An Android applicationId: two or more dot-separated segments, each a letter then
/// letters, digits or '_'.
fn android_package(field: &str, value: &str) -> Result<(), String> {
    let segment_ok = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if value.split('.').count() < 2 || !value.split('.').all(segment_ok) {
        return Err(format!(
            "{field}: must be an Android package name such as com.example.app"
        ));
    }
    Ok(())
}

fn is_header_safe(c: char) -> bool {
    c.is_ascii_graphic()
}

fn http_url(field: &str, value: &str) -> Result<(), String> {
    let uri: http::Uri = value
        .parse()
        .map_err(|e| format!("{field}: not a URL: {e}"))?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.host().is_none_or(str::is_empty) {
        return Err(format!("{field}: must be an http(s) URL with a host"));
    }
    Ok(())
}

impl std::fmt::Debug for ApnsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApnsCredentials")
            .field("team_id", &self.team_id)
            .field("key_id", &self.key_id)
            .field("private_key_pem", &REDACTED)
            .field("bundle_id", &self.bundle_id)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl std::fmt::Debug for FcmCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FcmCredentials")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .field("private_key_pem", &REDACTED)
            .field("token_uri", &self.token_uri)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl std::fmt::Debug for HuaweiCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HuaweiCredentials")
            .field("app_id", &self.app_id)
            .field("app_secret", &REDACTED)
            .field("token_uri", &self.token_uri)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl std::fmt::Debug for XiaomiCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XiaomiCredentials")
            .field("app_secret", &REDACTED)
            .field("package_name", &self.package_name)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl std::fmt::Debug for OppoCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OppoCredentials")
            .field("app_key", &self.app_key)
            .field("master_secret", &REDACTED)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl std::fmt::Debug for VivoCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VivoCredentials")
            .field("app_id", &self.app_id)
            .field("app_key", &self.app_key)
            .field("app_secret", &REDACTED)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl std::fmt::Debug for MeizuCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeizuCredentials")
            .field("app_id", &self.app_id)
            .field("app_secret", &REDACTED)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl std::fmt::Debug for HonorCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HonorCredentials")
            .field("app_id", &self.app_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &REDACTED)
            .field("token_uri", &self.token_uri)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_RSA_PEM: &str = include_str!("testdata/TEST_ONLY_fcm_service_account_rsa.pem");

    fn apns() -> ApnsCredentials {
        ApnsCredentials {
            team_id: "TEAM012345".into(),
            key_id: "KEY0123456".into(),
            private_key_pem: rcgen::KeyPair::generate().unwrap().serialize_pem(),
            bundle_id: "com.example.app".into(),
            endpoint: APNS_PRODUCTION_ENDPOINT.into(),
        }
    }

    fn fcm() -> FcmCredentials {
        FcmCredentials {
            project_id: "example-app".into(),
            client_email: "push@example-app.iam.gserviceaccount.com".into(),
            private_key_pem: TEST_RSA_PEM.into(),
            token_uri: FCM_TOKEN_URI.into(),
            endpoint: FCM_ENDPOINT.into(),
        }
    }

    // covers: PUSH-02
    #[test]
    fn validate_checks_key_types_ids_and_urls() {
        assert_eq!(apns().validate(), Ok(()));
        assert_eq!(fcm().validate(), Ok(()));
        assert_eq!(
            WebhookTarget {
                url: "https://hooks.example.com/push?sig=1".into()
            }
            .validate(),
            Ok(())
        );

        let rsa_for_apns = ApnsCredentials {
            private_key_pem: TEST_RSA_PEM.into(),
            ..apns()
        };
        assert!(rsa_for_apns
            .validate()
            .unwrap_err()
            .starts_with("privateKeyPem"));
        let short_key_id = ApnsCredentials {
            key_id: "KEY".into(),
            ..apns()
        };
        assert!(short_key_id.validate().unwrap_err().starts_with("keyId"));
        let short_team = ApnsCredentials {
            team_id: "T".into(),
            ..apns()
        };
        assert!(short_team.validate().unwrap_err().starts_with("teamId"));
        let ftp = ApnsCredentials {
            endpoint: "ftp://api.push.apple.com".into(),
            ..apns()
        };
        assert!(ftp.validate().unwrap_err().starts_with("endpoint"));

        let p256_for_fcm = FcmCredentials {
            private_key_pem: apns().private_key_pem,
            ..fcm()
        };
        assert!(p256_for_fcm
            .validate()
            .unwrap_err()
            .starts_with("privateKeyPem"));
        let no_project = FcmCredentials {
            project_id: String::new(),
            ..fcm()
        };
        assert!(no_project.validate().is_err());
        assert!(WebhookTarget {
            url: "/relative".into()
        }
        .validate()
        .is_err());
    }

    // covers: PUSH-02
    #[test]
    fn json_is_camel_case_with_default_endpoints_and_no_unknown_fields() {
        let json = serde_json::json!({
            "teamId": "TEAM012345", "keyId": "KEY0123456",
            "privateKeyPem": "pem", "bundleId": "com.example.app"
        });
        let creds: ApnsCredentials = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(creds.endpoint, APNS_PRODUCTION_ENDPOINT);
        let mut unknown = json;
        unknown["extra"] = 1.into();
        assert!(serde_json::from_value::<ApnsCredentials>(unknown).is_err());

        let fcm: FcmCredentials = serde_json::from_value(serde_json::json!({
            "projectId": "p", "clientEmail": "a@b", "privateKeyPem": "pem"
        }))
        .unwrap();
        assert_eq!(fcm.token_uri, FCM_TOKEN_URI);
        assert_eq!(fcm.endpoint, FCM_ENDPOINT);
        let back = serde_json::to_value(&fcm).unwrap();
        assert_eq!(back["clientEmail"], "a@b");
    }

    // covers: PUSH-02
    #[test]
    fn debug_never_prints_private_keys() {
        let apns = apns();
        let text = format!("{apns:?}");
        assert!(text.contains("<redacted>") && text.contains("TEAM012345"));
        assert!(!text.contains("PRIVATE KEY"));
        let text = format!("{:?}", fcm());
        assert!(text.contains("<redacted>") && !text.contains("PRIVATE KEY"));
    }

    fn huawei() -> HuaweiCredentials {
        serde_json::from_value(serde_json::json!({"appId": "104123456", "appSecret": "s3cr3t"}))
            .unwrap()
    }

    fn xiaomi() -> XiaomiCredentials {
        serde_json::from_value(
            serde_json::json!({"appSecret": "mi-s3cr3t", "packageName": "com.example.chat"}),
        )
        .unwrap()
    }

    // covers: PUSH-05
    #[test]
    fn vendor_credentials_default_to_production_and_validate() {
        let huawei = huawei();
        assert_eq!(huawei.token_uri, HUAWEI_TOKEN_URI);
        assert_eq!(huawei.endpoint, HUAWEI_ENDPOINT);
        assert_eq!(huawei.validate(), Ok(()));
        let xiaomi = xiaomi();
        assert_eq!(xiaomi.endpoint, XIAOMI_ENDPOINT);
        assert_eq!(xiaomi.validate(), Ok(()));

        let path = HuaweiCredentials {
            app_id: "1/../2".into(),
            ..huawei.clone()
        };
        assert!(path.validate().unwrap_err().starts_with("appId"));
        let spaced = HuaweiCredentials {
            app_secret: "a b".into(),
            ..huawei
        };
        assert!(spaced.validate().unwrap_err().starts_with("appSecret"));
        for package in ["chat", "com..chat", "com.9chat", ""] {
            let bad = XiaomiCredentials {
                package_name: package.into(),
                ..xiaomi.clone()
            };
            assert!(
                bad.validate().unwrap_err().starts_with("packageName"),
                "{package:?}"
            );
        }
        let unknown = serde_json::json!({"appSecret": "s", "packageName": "a.b", "appId": "1"});
        assert!(serde_json::from_value::<XiaomiCredentials>(unknown).is_err());
    }

    fn oppo() -> OppoCredentials {
        serde_json::from_value(serde_json::json!({"appKey": "oppo-key", "masterSecret": "s3cr3t"}))
            .unwrap()
    }

    // covers: PUSH-05
    #[test]
    fn oppo_credentials_default_to_production_and_validate() {
        let oppo = oppo();
        assert_eq!(oppo.endpoint, OPPO_ENDPOINT);
        assert_eq!(oppo.validate(), Ok(()));
        let empty = OppoCredentials {
            master_secret: String::new(),
            ..oppo
        };
        assert!(empty.validate().unwrap_err().starts_with("masterSecret"));
    }

    fn vivo() -> VivoCredentials {
        serde_json::from_value(
            serde_json::json!({"appId": "10001", "appKey": "vivo-key", "appSecret": "s3cr3t"}),
        )
        .unwrap()
    }

    // covers: PUSH-05
    #[test]
    fn vivo_credentials_default_to_production_and_validate() {
        let vivo = vivo();
        assert_eq!(vivo.endpoint, VIVO_ENDPOINT);
        assert_eq!(vivo.validate(), Ok(()));
        let spaced = VivoCredentials {
            app_key: "a key".into(),
            ..vivo
        };
        assert!(spaced.validate().unwrap_err().starts_with("appKey"));
    }

    fn meizu() -> MeizuCredentials {
        serde_json::from_value(serde_json::json!({"appId": "110000", "appSecret": "s3cr3t"}))
            .unwrap()
    }

    // covers: PUSH-05
    #[test]
    fn meizu_credentials_default_to_production_and_validate() {
        let meizu = meizu();
        assert_eq!(meizu.endpoint, MEIZU_ENDPOINT);
        assert_eq!(meizu.validate(), Ok(()));
        let no_id = MeizuCredentials {
            app_id: String::new(),
            ..meizu
        };
        assert!(no_id.validate().unwrap_err().starts_with("appId"));
    }

    fn honor() -> HonorCredentials {
        serde_json::from_value(serde_json::json!(
            {"appId": "104412345", "clientId": "client", "clientSecret": "s3cr3t"}
        ))
        .unwrap()
    }

    // covers: PUSH-05
    #[test]
    fn honor_credentials_default_to_production_and_validate() {
        let honor = honor();
        assert_eq!(
            (honor.token_uri.as_str(), honor.endpoint.as_str()),
            (HONOR_TOKEN_URI, HONOR_ENDPOINT)
        );
        assert_eq!(honor.validate(), Ok(()));
        let path = HonorCredentials {
            app_id: "1/2".into(),
            ..honor
        };
        assert!(path.validate().unwrap_err().starts_with("appId"));
    }

    // covers: PUSH-05
    #[test]
    fn vendor_debug_never_prints_secrets() {
        let text = format!(
            "{:?} {:?} {:?} {:?} {:?} {:?}",
            huawei(),
            xiaomi(),
            oppo(),
            vivo(),
            meizu(),
            honor()
        );
        assert!(text.contains("104123456") && text.contains("com.example.chat"));
        assert!(!text.contains("s3cr3t"), "{text}");
    }
}
