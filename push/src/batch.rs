//! Provider-side batching (PUSH-05): a vendor that takes many device tokens in one request
//! (Huawei Push Kit: up to 1,000) gets them together. Concurrent sends of one message
//! through one app's credentials share requests: the first goes at once; those that
//! arrive while it is in flight wait and go together in the next, and so on until none
//! waits. A broadcast's fan-out thus goes out in a few requests, and a lone push waits
//! for nothing.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::Outcome;

/// Sends waiting behind an earlier request of the same message, by batch key. A key is
/// present while a request of it is in flight.
#[derive(Default)]
pub(crate) struct Batches {
    groups: Mutex<HashMap<String, Vec<Waiter>>>,
}

struct Waiter {
    token: String,
    answer: oneshot::Sender<Outcome>,
}

impl Batches {
    /// Sends to `token` the message `key` stands for, with whatever sends of the same key
    /// wait; `send` makes one request for up to `max` tokens and answers one outcome per
    /// token, in order. The requests go from a task of their own, so a caller that stops
    /// waiting strands no one queued behind it.
    pub(crate) async fn send<S, F>(
        self: &Arc<Self>,
        key: String,
        token: String,
        max: usize,
        send: S,
    ) -> Outcome
    where
        S: Fn(Vec<String>) -> F + Send + Sync + 'static,
        F: Future<Output = Vec<Outcome>> + Send + 'static,
    {
        let (answer, outcome) = oneshot::channel();
        let first = {
            let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
            let waiter = Waiter { token, answer };
            match groups.get_mut(&key) {
                Some(queue) => {
                    queue.push(waiter);
                    false
                }
                None => {
                    groups.insert(key.clone(), vec![waiter]);
                    true
                }
            }
        };
        if first {
            let batches = self.clone();
            tokio::spawn(async move { batches.drain(&key, max, send).await });
        }
        outcome
            .await
            .unwrap_or_else(|_| Outcome::retry("the batch's sender stopped"))
    }

    /// Sends the waiting sends of `key`, `max` at a time, until none waits.
    async fn drain<S, F>(&self, key: &str, max: usize, send: S)
    where
        S: Fn(Vec<String>) -> F,
        F: Future<Output = Vec<Outcome>>,
    {
        loop {
            let batch: Vec<Waiter> = {
                let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
                let Some(queue) = groups.get_mut(key) else {
                    return;
                };
                if queue.is_empty() {
                    groups.remove(key);
                    return;
                }
                let n = queue.len().min(max);
                queue.drain(..n).collect()
            };
            let tokens = batch.iter().map(|w| w.token.clone()).collect();
            let outcomes = one_each(send(tokens).await, batch.len());
            for (waiter, outcome) in batch.into_iter().zip(outcomes) {
                let _ = waiter.answer.send(outcome);
            }
        }
    }
}

/// Exactly `n` outcomes: a sender that answered fewer is a bug, reported on the rest.
fn one_each(mut outcomes: Vec<Outcome>, n: usize) -> Vec<Outcome> {
    outcomes.resize_with(n, || Outcome::rejected("no outcome for this token"));
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn sends_arriving_while_one_is_in_flight_go_together_and_each_gets_its_own_outcome() {
        let batches = Arc::new(Batches::default());
        let requests = Arc::new(Mutex::new(Vec::<Vec<String>>::new()));
        let gate = Arc::new(tokio::sync::Notify::new());
        let in_flight = Arc::new(AtomicUsize::new(0));
        let sender = {
            let (requests, gate, in_flight) = (requests.clone(), gate.clone(), in_flight.clone());
            move |tokens: Vec<String>| {
                let (requests, gate, in_flight) =
                    (requests.clone(), gate.clone(), in_flight.clone());
                async move {
                    requests.lock().unwrap().push(tokens.clone());
                    // The first request waits until the test has queued the rest.
                    if in_flight.fetch_add(1, Ordering::SeqCst) == 0 {
                        gate.notified().await;
                    }
                    tokens
                        .iter()
                        .map(|t| match t.as_str() {
                            "gone" => Outcome::TokenGone,
                            _ => Outcome::Delivered,
                        })
                        .collect()
                }
            }
        };
        let send = |token: &str| {
            let (batches, sender, token) = (batches.clone(), sender.clone(), token.to_string());
            tokio::spawn(async move { batches.send("m".into(), token, 2, sender).await })
        };
        let first = send("t0");
        while requests.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let rest: Vec<_> = ["t1", "gone", "t3", "t4", "t5"]
            .map(send)
            .into_iter()
            .collect();
        while batches.groups.lock().unwrap()["m"].len() < 5 {
            tokio::task::yield_now().await;
        }
        gate.notify_one();
        assert_eq!(first.await.unwrap(), Outcome::Delivered);
        let mut outcomes = Vec::new();
        for send in rest {
            outcomes.push(send.await.unwrap());
        }
        assert_eq!(
            outcomes,
            [
                Outcome::Delivered,
                Outcome::TokenGone,
                Outcome::Delivered,
                Outcome::Delivered,
                Outcome::Delivered
            ]
        );
        assert_eq!(
            *requests.lock().unwrap(),
            [vec!["t0"], vec!["t1", "gone"], vec!["t3", "t4"], vec!["t5"]],
            "the first alone, then the waiting ones two at a time"
        );
        // Done: a later send goes at once again.
        while !batches.groups.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        assert_eq!(send("t6").await.unwrap(), Outcome::Delivered);
    }
}
