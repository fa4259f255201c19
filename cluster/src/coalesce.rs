//! Merging concurrent requests into rounds: while `max_in_flight` rounds are under way,
//! newly submitted jobs wait in a queue and then go out together as one round of at most
//! `max_items` items. Used on the leader (commands per Raft entry) and by clients
//! (commands per RPC), so a burst of small writes costs a few large operations.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Semaphore};

struct Job<T, R, E> {
    items: Vec<T>,
    reply: oneshot::Sender<Result<Vec<R>, E>>,
}

/// Why a job got no answer from its round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected<E> {
    /// More items than one round may carry.
    TooLarge { limit: usize },
    /// The coalescer's task has stopped (shutdown).
    Closed,
    /// The round failed; every job in it gets the same error.
    Failed(E),
}

pub struct Coalescer<T, R, E> {
    queue: mpsc::Sender<Job<T, R, E>>,
    max_items: usize,
}

impl<T, R, E> Clone for Coalescer<T, R, E> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
            max_items: self.max_items,
        }
    }
}

impl<T, R, E> Coalescer<T, R, E>
where
    T: Send + 'static,
    R: Send + 'static,
    E: Clone + Send + 'static,
{
    /// `round` performs one round and answers one result per item, in order.
    pub fn start<F, Fut>(
        max_items: usize,
        max_in_flight: usize,
        queue_depth: usize,
        round: F,
    ) -> Self
    where
        F: Fn(Vec<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<R>, E>> + Send + 'static,
    {
        let (queue, jobs) = mpsc::channel(queue_depth);
        tokio::spawn(drive(jobs, max_items, max_in_flight, Arc::new(round)));
        Self { queue, max_items }
    }

    pub async fn submit(&self, items: Vec<T>) -> Result<Vec<R>, Rejected<E>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        if items.len() > self.max_items {
            return Err(Rejected::TooLarge {
                limit: self.max_items,
            });
        }
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { items, reply })
            .await
            .map_err(|_| Rejected::Closed)?;
        match answer.await {
            Ok(result) => result.map_err(Rejected::Failed),
            Err(_) => Err(Rejected::Closed),
        }
    }
}

async fn drive<T, R, E, F, Fut>(
    mut jobs: mpsc::Receiver<Job<T, R, E>>,
    max_items: usize,
    max_in_flight: usize,
    round: Arc<F>,
) where
    T: Send + 'static,
    R: Send + 'static,
    E: Clone + Send + 'static,
    F: Fn(Vec<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<R>, E>> + Send + 'static,
{
    let in_flight = Arc::new(Semaphore::new(max_in_flight));
    // A job that did not fit the previous round leads the next one.
    let mut carried: Option<Job<T, R, E>> = None;
    loop {
        let first = match carried.take() {
            Some(job) => job,
            None => match jobs.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        // Waiting for a slot is what lets the queue fill up behind `first`.
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let mut size = first.items.len();
        let mut batch = vec![first];
        while size < max_items {
            match jobs.try_recv() {
                Ok(job) if size + job.items.len() <= max_items => {
                    size += job.items.len();
                    batch.push(job);
                }
                Ok(job) => {
                    carried = Some(job);
                    break;
                }
                Err(_) => break,
            }
        }
        let round = round.clone();
        tokio::spawn(async move {
            let mut sizes = Vec::with_capacity(batch.len());
            let mut replies = Vec::with_capacity(batch.len());
            let mut items = Vec::with_capacity(size);
            for job in batch {
                sizes.push(job.items.len());
                replies.push(job.reply);
                items.extend(job.items);
            }
            let result = round(items).await;
            drop(permit);
            match result {
                Ok(results) => {
                    let mut results = results.into_iter();
                    for (reply, size) in replies.into_iter().zip(sizes) {
                        let _ = reply.send(Ok(results.by_ref().take(size).collect()));
                    }
                }
                Err(error) => {
                    for reply in replies {
                        let _ = reply.send(Err(error.clone()));
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_jobs_share_rounds_and_get_their_own_results_in_order() {
        let rounds = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let coalescer = Coalescer::start(100, 1, 1000, {
            let (rounds, gate) = (rounds.clone(), gate.clone());
            move |items: Vec<u32>| {
                let (rounds, gate) = (rounds.clone(), gate.clone());
                async move {
                    // The first round blocks until released, so later jobs queue up.
                    if rounds.fetch_add(1, Ordering::SeqCst) == 0 {
                        gate.notified().await;
                    }
                    Ok::<_, String>(items.into_iter().map(|i| i * 10).collect())
                }
            }
        });
        let first = tokio::spawn({
            let c = coalescer.clone();
            async move { c.submit(vec![1]).await }
        });
        // Wait until the first round is running, then queue 20 more jobs: the driver takes
        // one and waits for a slot, 19 stay queued.
        while rounds.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let mut later = Vec::new();
        for i in 0..20u32 {
            let c = coalescer.clone();
            later.push(tokio::spawn(
                async move { c.submit(vec![i, i + 100]).await },
            ));
        }
        while coalescer.queue.capacity() > 1000 - 19 {
            tokio::task::yield_now().await;
        }
        gate.notify_one();
        assert_eq!(first.await.unwrap(), Ok(vec![10]));
        for (i, job) in later.into_iter().enumerate() {
            let i = i as u32;
            assert_eq!(job.await.unwrap(), Ok(vec![i * 10, (i + 100) * 10]));
        }
        // 1 round for the first job, 1 for the 20 queued ones (40 items ≤ 100).
        assert_eq!(rounds.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_round_fails_each_of_its_jobs_and_oversized_jobs_are_refused() {
        let coalescer = Coalescer::start(3, 4, 10, |_items: Vec<u8>| async {
            Err::<Vec<u8>, _>("boom".to_string())
        });
        assert_eq!(
            coalescer.submit(vec![1]).await,
            Err(Rejected::Failed("boom".to_string()))
        );
        assert_eq!(
            coalescer.submit(vec![1, 2, 3, 4]).await,
            Err(Rejected::TooLarge { limit: 3 })
        );
        assert_eq!(coalescer.submit(vec![]).await, Ok(vec![]));
    }
}
