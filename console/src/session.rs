//! Who is signed in: sessions kept in memory (a random id in an HttpOnly, SameSite=Strict
//! cookie), the CSRF token every form carries, and the scope check that keeps a developer
//! to the apps they signed in with.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use http::header::COOKIE;
use http::HeaderMap;
use subtle::ConstantTimeEq;
use tokio::time::Instant;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "meridian_console";

/// A session unused this long is forgotten.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(2 * 3600);

/// An app a developer signed in to: its area and the App Secret they proved (used to
/// sign the Server API calls their pages make).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevApp {
    pub area: String,
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Not signed in yet: holds only the sign-in form's CSRF token.
    Visitor,
    /// The operator token: every area and app.
    Operator,
    /// App Key + Secret: these apps (by App Key) only.
    Developer(BTreeMap<String, DevApp>),
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub role: Role,
    pub csrf: String,
    /// A message for the next page (after a redirect-after-post).
    pub flash: Option<String>,
    last_seen: Instant,
}

/// What a page of an app may do for this session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Operator,
    Developer(DevApp),
}

/// Why a page is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// Not signed in: go to the sign-in page.
    SignedOut,
    /// Signed in, but this is not theirs: 403.
    Forbidden,
}

impl Session {
    pub fn is_operator(&self) -> bool {
        self.role == Role::Operator
    }

    /// Whether this session may see `app_key`'s pages (and how).
    pub fn scope(&self, app_key: &str) -> Result<Scope, Denied> {
        match &self.role {
            Role::Visitor => Err(Denied::SignedOut),
            Role::Operator => Ok(Scope::Operator),
            Role::Developer(apps) => apps
                .get(app_key)
                .cloned()
                .map(Scope::Developer)
                .ok_or(Denied::Forbidden),
        }
    }

    /// Operator-only pages (create, import, the area catalog).
    pub fn operator(&self) -> Result<(), Denied> {
        match self.role {
            Role::Visitor => Err(Denied::SignedOut),
            Role::Operator => Ok(()),
            Role::Developer(_) => Err(Denied::Forbidden),
        }
    }

    /// Whether a form's CSRF token is this session's (compared in constant time).
    pub fn csrf_ok(&self, submitted: Option<&str>) -> bool {
        submitted.is_some_and(|token| same_secret(token, &self.csrf))
    }
}

/// Compares secrets without telling where they first differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn random_token() -> String {
    let bytes: [u8; 24] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// The session named by the request's cookie, if it exists and is fresh; its idle
    /// time starts again.
    pub fn get(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers, COOKIE_NAME)?;
        let mut by_id = self.lock();
        let now = Instant::now();
        by_id.retain(|_, s| now.duration_since(s.last_seen) < IDLE_TIMEOUT);
        let session = by_id.get_mut(&id)?;
        session.last_seen = now;
        Some(session.clone())
    }

    /// A new session with a fresh id and CSRF token (a sign-in always gets a new id, so
    /// an id seen before signing in is worth nothing after).
    pub fn create(&self, role: Role) -> Session {
        let session = Session {
            id: random_token(),
            role,
            csrf: random_token(),
            flash: None,
            last_seen: Instant::now(),
        };
        self.lock().insert(session.id.clone(), session.clone());
        session
    }

    /// Replaces the session `old` by a new one with `role` (sign-in).
    pub fn replace(&self, old: Option<&Session>, role: Role) -> Session {
        if let Some(old) = old {
            self.remove(&old.id);
        }
        self.create(role)
    }

    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Sets the message the session's next page shows.
    pub fn flash(&self, id: &str, message: String) {
        if let Some(session) = self.lock().get_mut(id) {
            session.flash = Some(message);
        }
    }

    /// Takes the flash message (shown once).
    pub fn take_flash(&self, id: &str) -> Option<String> {
        self.lock().get_mut(id)?.flash.take()
    }

    /// Keeps a developer's new secret after they rotated it.
    pub fn update_secret(&self, id: &str, app_key: &str, secret: &str) {
        if let Some(Session {
            role: Role::Developer(apps),
            ..
        }) = self.lock().get_mut(id)
        {
            if let Some(app) = apps.get_mut(app_key) {
                app.secret = secret.to_string();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.by_id
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The `Set-Cookie` value naming `session`.
pub fn set_cookie(session: &Session) -> String {
    format!(
        "{COOKIE_NAME}={}; Path=/; HttpOnly; SameSite=Strict",
        session.id
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// A cookie's value from the request's `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, value.parse().unwrap());
        headers
    }

    fn developer_of(key: &str) -> Role {
        Role::Developer(BTreeMap::from([(
            key.to_string(),
            DevApp {
                area: "SG".into(),
                secret: "secretA".into(),
            },
        )]))
    }

    #[test]
    fn a_developer_sees_only_their_apps_and_an_operator_every_app() {
        let sessions = Sessions::default();
        let developer = sessions.create(developer_of("appkeyA"));
        assert_eq!(
            developer.scope("appkeyA"),
            Ok(Scope::Developer(DevApp {
                area: "SG".into(),
                secret: "secretA".into()
            }))
        );
        assert_eq!(developer.scope("appkeyB"), Err(Denied::Forbidden));
        assert_eq!(developer.operator(), Err(Denied::Forbidden));

        let operator = sessions.create(Role::Operator);
        assert_eq!(operator.scope("appkeyB"), Ok(Scope::Operator));
        assert_eq!(operator.operator(), Ok(()));

        let visitor = sessions.create(Role::Visitor);
        assert_eq!(visitor.scope("appkeyA"), Err(Denied::SignedOut));
        assert_eq!(visitor.operator(), Err(Denied::SignedOut));
    }

    #[test]
    fn a_session_is_found_by_its_cookie_only_and_its_csrf_token_is_checked() {
        let sessions = Sessions::default();
        let session = sessions.create(Role::Operator);
        let found = sessions
            .get(&with_cookie(&format!(
                "other=1; {COOKIE_NAME}={}",
                session.id
            )))
            .expect("the session by its cookie");
        assert_eq!(found.id, session.id);
        assert!(sessions
            .get(&with_cookie(&format!("{COOKIE_NAME}=guessed")))
            .is_none());
        assert!(sessions.get(&HeaderMap::new()).is_none());

        assert!(found.csrf_ok(Some(&session.csrf)));
        assert!(!found.csrf_ok(None));
        assert!(!found.csrf_ok(Some("")));
        assert!(!found.csrf_ok(Some(&session.csrf[1..])));
        let other = sessions.create(Role::Operator);
        assert!(!found.csrf_ok(Some(&other.csrf)), "another session's token");

        let cookie = set_cookie(&session);
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    }

    #[test]
    fn signing_in_replaces_the_id_and_signing_out_forgets_it() {
        let sessions = Sessions::default();
        let visitor = sessions.create(Role::Visitor);
        let signed_in = sessions.replace(Some(&visitor), Role::Operator);
        assert_ne!(signed_in.id, visitor.id);
        let cookie = |s: &Session| with_cookie(&format!("{COOKIE_NAME}={}", s.id));
        assert!(sessions.get(&cookie(&visitor)).is_none());
        assert!(sessions.get(&cookie(&signed_in)).is_some());
        sessions.remove(&signed_in.id);
        assert!(sessions.get(&cookie(&signed_in)).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_session_expires() {
        let sessions = Sessions::default();
        let session = sessions.create(Role::Operator);
        let cookie = with_cookie(&format!("{COOKIE_NAME}={}", session.id));
        tokio::time::advance(IDLE_TIMEOUT - Duration::from_secs(1)).await;
        assert!(sessions.get(&cookie).is_some(), "used in time: kept");
        tokio::time::advance(IDLE_TIMEOUT - Duration::from_secs(1)).await;
        assert!(
            sessions.get(&cookie).is_some(),
            "the last use restarted its time"
        );
        tokio::time::advance(IDLE_TIMEOUT).await;
        assert!(sessions.get(&cookie).is_none());
    }

    #[test]
    fn a_flash_message_is_shown_once() {
        let sessions = Sessions::default();
        let session = sessions.create(Role::Operator);
        sessions.flash(&session.id, "saved".into());
        assert_eq!(sessions.take_flash(&session.id).as_deref(), Some("saved"));
        assert_eq!(sessions.take_flash(&session.id), None);
    }
}
