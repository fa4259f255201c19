//! Linearizability of Server API writes and reads under the run's faults: a few
//! app-server clients set and read user names (`/user/refresh.json`, `/user/info.json`)
//! and group memberships (`/group/join.json`, `/group/quit.json`,
//! `/group/user/query.json`) through every edge, each call timed from its send to its
//! answer. After the run, each name and each (group, user) membership is a register
//! whose history must be linearizable ([`crate::linearizability`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use meridian_client::server_api::{form, post_form, post_form_answer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::linearizability::{is_linearizable, Access, Operation};

/// App-server clients calling at once.
const CLIENTS: usize = 4;
/// Users whose names are registers.
const NAMED: [&str; 2] = ["reg-n0", "reg-n1"];
/// Users whose membership of [`GROUP`] is a register.
const MEMBERS: [&str; 2] = ["reg-m0", "reg-m1"];
/// Stays in [`GROUP`], so the group outlives its registers' quits.
const ANCHOR: &str = "reg-anchor";
const GROUP: &str = "reg-g";
const FIRST_NAME: &str = "first";
const IN: &str = "in";
const OUT: &str = "out";

/// The registers' findings, part of the harness's last output line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RegisterVerdict {
    /// Operations answered (reads and writes) or left open (writes).
    pub operations: u64,
    /// Writes that got no definite answer: they may or may not have taken effect.
    pub open_writes: u64,
    /// Registers whose history is not linearizable.
    pub not_linearizable: Vec<String>,
}

impl RegisterVerdict {
    pub fn clean(&self) -> bool {
        self.not_linearizable.is_empty()
    }
}

/// The register clients while they run, and the history they record.
pub struct Registers {
    tasks: Vec<JoinHandle<()>>,
    history: Arc<History>,
}

/// Every register's operations, times in microseconds from the run's start.
#[derive(Default)]
struct History {
    by_register: Mutex<BTreeMap<String, Vec<Operation<String>>>>,
}

impl History {
    fn record(&self, register: String, operation: Operation<String>) {
        self.by_register
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(register)
            .or_default()
            .push(operation);
    }
}

/// Where and as whom the clients call.
#[derive(Clone)]
pub struct ApiAccess {
    pub bases: Vec<String>,
    pub app_key: String,
    pub app_secret: String,
}

impl Registers {
    /// Creates the registers' users and group, with every register at its first value.
    pub async fn set_up(access: &ApiAccess) -> anyhow::Result<()> {
        let call = |path: &'static str, body: String| async move {
            post_form(
                &access.bases[0],
                &access.app_key,
                &access.app_secret,
                path,
                &body,
            )
            .await
            .with_context(|| path.to_string())
        };
        for &user in NAMED.iter().chain(&MEMBERS).chain(&[ANCHOR]) {
            call("/user/getToken.json", form(&[("userId", user)])).await?;
        }
        for user in NAMED {
            let body = form(&[("userId", user), ("name", FIRST_NAME)]);
            call("/user/refresh.json", body).await?;
        }
        let body = form(&[("userId", ANCHOR), ("groupId", GROUP), ("groupName", GROUP)]);
        call("/group/create.json", body).await?;
        Ok(())
    }

    /// Starts the clients; they stop once `sending` turns false.
    pub fn start(
        access: ApiAccess,
        started: Instant,
        sending: watch::Receiver<bool>,
        seed: u64,
    ) -> Self {
        let history = Arc::new(History::default());
        let tasks = (0..CLIENTS)
            .map(|id| {
                let client = Client {
                    id,
                    access: access.clone(),
                    started,
                    history: history.clone(),
                };
                let seed = seed.wrapping_add(0x4e67_0000 + id as u64);
                tokio::spawn(client.run(sending.clone(), seed))
            })
            .collect();
        Self { tasks, history }
    }

    /// Waits for the clients to stop, then checks every register's history.
    pub async fn verify(self) -> RegisterVerdict {
        for task in self.tasks {
            let _ = task.await;
        }
        let by_register = std::mem::take(
            &mut *self
                .history
                .by_register
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        let mut verdict = RegisterVerdict::default();
        for (register, history) in by_register {
            verdict.operations += history.len() as u64;
            verdict.open_writes += history.iter().filter(|op| op.answer.is_none()).count() as u64;
            let initial = if register.starts_with("name:") {
                FIRST_NAME
            } else {
                OUT
            };
            if !is_linearizable(&initial.to_string(), &history) {
                eprintln!("chaos: violation: register {register} is not linearizable: {history:?}");
                verdict.not_linearizable.push(register);
            }
        }
        verdict
    }
}

struct Client {
    id: usize,
    access: ApiAccess,
    started: Instant,
    history: Arc<History>,
}

/// What one call came to.
enum Answered {
    /// A 200, with its body.
    Done(serde_json::Value),
    /// Refused with a definite answer: it changed nothing.
    Refused,
    /// No answer, or one that leaves the outcome open (a 5xx).
    Open,
}

impl Client {
    async fn run(self, sending: watch::Receiver<bool>, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut writes = 0u64;
        while *sending.borrow() {
            let base = &self.access.bases[rng.random_range(0..self.access.bases.len())];
            match rng.random_range(0..4) {
                0 => {
                    let user = NAMED[rng.random_range(0..NAMED.len())];
                    writes += 1;
                    let name = format!("c{}-{writes}", self.id);
                    let body = form(&[("userId", user), ("name", &name)]);
                    self.write(base, "/user/refresh.json", &body, name_of(user), name)
                        .await;
                }
                1 => {
                    let user = NAMED[rng.random_range(0..NAMED.len())];
                    let body = form(&[("userId", user)]);
                    let (call, answered, answer) = self.call(base, "/user/info.json", &body).await;
                    if let Answered::Done(body) = answered {
                        if let Some(name) = body["userName"].as_str() {
                            let read = Access::Read(name.to_string());
                            self.record(name_of(user), call, Some(answer), read);
                        }
                    }
                }
                2 => {
                    let user = MEMBERS[rng.random_range(0..MEMBERS.len())];
                    let (path, value) = if rng.random_bool(0.5) {
                        ("/group/join.json", IN)
                    } else {
                        ("/group/quit.json", OUT)
                    };
                    let body = form(&[("userId", user), ("groupId", GROUP)]);
                    self.write(base, path, &body, membership_of(user), value.into())
                        .await;
                }
                _ => {
                    let body = form(&[("groupId", GROUP)]);
                    let (call, answered, answer) =
                        self.call(base, "/group/user/query.json", &body).await;
                    if let Answered::Done(body) = answered {
                        if let Some(users) = body["users"].as_array() {
                            for user in MEMBERS {
                                let member = users.iter().any(|u| u["id"] == user);
                                let read = if member { IN } else { OUT };
                                let read = Access::Read(read.to_string());
                                self.record(membership_of(user), call, Some(answer), read);
                            }
                        }
                    }
                }
            }
            // About ten calls a second per client: a fraction of the run's other traffic.
            tokio::time::sleep(Duration::from_millis(rng.random_range(50..150))).await;
        }
    }

    /// A write of `value` to `register`: recorded unless refused, open unless answered.
    async fn write(&self, base: &str, path: &str, body: &str, register: String, value: String) {
        let (call, answered, answer) = self.call(base, path, body).await;
        let answer = match answered {
            Answered::Done(_) => Some(answer),
            Answered::Refused => return,
            Answered::Open => None,
        };
        self.record(register, call, answer, Access::Write(value));
    }

    /// Calls `path`; answers when it was called and answered (µs from the run's start).
    async fn call(&self, base: &str, path: &str, body: &str) -> (u64, Answered, u64) {
        let access = &self.access;
        let call = self.now_us();
        let answer =
            post_form_answer(base, &access.app_key, &access.app_secret, path, body, 0).await;
        let answered = match answer {
            Ok(answer) if answer.status == 200 => {
                serde_json::from_str(&answer.body).map_or(Answered::Open, Answered::Done)
            }
            Ok(answer) if (400..500).contains(&answer.status) => Answered::Refused,
            Ok(_) | Err(_) => Answered::Open,
        };
        (call, answered, self.now_us())
    }

    fn record(&self, register: String, call: u64, answer: Option<u64>, kind: Access<String>) {
        self.history
            .record(register, Operation { call, answer, kind });
    }

    fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }
}

fn name_of(user: &str) -> String {
    format!("name:{user}")
}

fn membership_of(user: &str) -> String {
    format!("member:{GROUP}:{user}")
}
