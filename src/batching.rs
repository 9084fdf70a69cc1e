//! The one batching executor: callers queue calls, one task takes whatever is queued (within
//! [`Limits`]) as one batch and hands it to a run function, which answers every call of it.
//! Under light load a batch is one call and adds no wait; under load, the next batch forms
//! while the current one runs.
//!
//! Generic over the input, the output and the error of a call, so it knows nothing of the
//! database: the error a run gives a call reaches that caller as it is (inside
//! [`BatchError::Failed`]), and an executor that is gone is [`BatchError::Stopped`], never
//! mistaken for an error of the run. Used by intake's group commit and the delivery
//! coalescer (docs/DESIGN.md explains both).

use std::collections::VecDeque;
use std::future::Future;

use tokio::sync::{mpsc, oneshot};

/// What a caller gets besides its output.
#[derive(Debug, thiserror::Error)]
pub enum BatchError<E> {
    /// The run answered this call with an error (the database's, when it came from there:
    /// see [`std::error::Error::source`]).
    #[error(transparent)]
    Failed(E),
    /// The executor's task has ended (the runtime is shutting down, or a run panicked):
    /// nothing was run for this call.
    #[error("the batch executor has stopped")]
    Stopped,
}

/// How large a batch may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Calls queued before callers wait (back-pressure).
    pub queue: usize,
    /// Calls per batch.
    pub max_calls: usize,
    /// Total [`Executor::start`] weight per batch; a single heavier call forms a batch alone.
    pub max_weight: usize,
    /// Cut each batch to the largest power of two of calls it holds (the rest goes first into
    /// the next batch), so its multi-row statements keep a bounded set of texts (`db::batch`).
    pub power_of_two: bool,
}

/// One queued call: its input and the way to answer it.
#[derive(Debug)]
pub struct Call<I, O, E> {
    pub input: I,
    pub reply: Reply<O, E>,
}

/// The answer channel of a [`Call`].
#[derive(Debug)]
pub struct Reply<O, E>(oneshot::Sender<Result<O, E>>);

impl<O, E> Reply<O, E> {
    /// The caller has gone away (its future was dropped): nothing needs doing for it.
    pub fn is_abandoned(&self) -> bool {
        self.0.is_closed()
    }

    /// Answers the call (a caller that has gone away is not told).
    pub fn send(self, result: Result<O, E>) {
        let _ = self.0.send(result);
    }
}

/// A running executor. Cheap to share through an `Arc`; its task ends when it is dropped.
pub struct Executor<I, O, E> {
    queue: mpsc::Sender<Call<I, O, E>>,
}

impl<I, O, E> std::fmt::Debug for Executor<I, O, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor").finish_non_exhaustive()
    }
}

impl<I, O, E> Executor<I, O, E>
where
    I: Send + 'static,
    O: Send + 'static,
    E: Send + 'static,
{
    /// Starts the executor's task on the current tokio runtime. `weight` is what a call counts
    /// against [`Limits::max_weight`]; `run` gets each batch (calls whose callers went away
    /// are left out) and must answer every call in it.
    pub fn start<F, Fut>(limits: Limits, weight: fn(&I) -> usize, mut run: F) -> Self
    where
        F: FnMut(Vec<Call<I, O, E>>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let (queue, mut calls) = mpsc::channel::<Call<I, O, E>>(limits.queue.max(1));
        tokio::spawn(async move {
            let mut carry: VecDeque<Call<I, O, E>> = VecDeque::new();
            loop {
                let first = match carry.pop_front() {
                    Some(call) => call,
                    None => match calls.recv().await {
                        Some(call) => call,
                        None => return,
                    },
                };
                let mut total = weight(&first.input);
                let mut batch = vec![first];
                while batch.len() < limits.max_calls {
                    let next = match carry.pop_front() {
                        Some(call) => call,
                        None => match calls.try_recv() {
                            Ok(call) => call,
                            Err(_) => break,
                        },
                    };
                    let w = weight(&next.input);
                    if total + w > limits.max_weight {
                        carry.push_front(next);
                        break;
                    }
                    total += w;
                    batch.push(next);
                }
                if limits.power_of_two {
                    let keep = 1 << batch.len().ilog2();
                    for call in batch.drain(keep..).rev() {
                        carry.push_front(call);
                    }
                }
                batch.retain(|call| !call.reply.is_abandoned());
                if !batch.is_empty() {
                    run(batch).await;
                }
            }
        });
        Self { queue }
    }

    /// Queues `input` and waits for its answer.
    pub async fn call(&self, input: I) -> Result<O, BatchError<E>> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Call {
                input,
                reply: Reply(reply),
            })
            .await
            .map_err(|_| BatchError::Stopped)?;
        answer
            .await
            .map_err(|_| BatchError::Stopped)?
            .map_err(BatchError::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    const LIMITS: Limits = Limits {
        queue: 1_024,
        max_calls: 8,
        max_weight: 100,
        power_of_two: true,
    };

    /// The batches an executor ran, by their inputs.
    type Seen = Arc<Mutex<Vec<Vec<usize>>>>;

    /// An executor recording its batches' inputs and answering each call with its input,
    /// after a pause that lets the queue fill.
    fn recording(limits: Limits) -> (Arc<Executor<usize, usize, String>>, Seen) {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let seen = batches.clone();
        let executor = Executor::start(
            limits,
            |w: &usize| *w,
            move |calls: Vec<Call<usize, usize, String>>| {
                seen.lock()
                    .unwrap()
                    .push(calls.iter().map(|c| c.input).collect());
                async move {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    for call in calls {
                        let answer = call.input;
                        call.reply.send(Ok(answer));
                    }
                }
            },
        );
        (Arc::new(executor), batches)
    }

    #[tokio::test]
    async fn batches_respect_every_limit_and_each_caller_gets_its_answer() {
        let (executor, batches) = recording(LIMITS);
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..60usize {
            let executor = executor.clone();
            // Weights 1..=30, and one heavier than a whole batch.
            let weight = if i == 59 { 500 } else { i % 30 + 1 };
            tasks.spawn(async move { (weight, executor.call(weight).await.unwrap()) });
        }
        while let Some(done) = tasks.join_next().await {
            let (sent, got) = done.unwrap();
            assert_eq!(sent, got);
        }
        let batches = batches.lock().unwrap();
        assert!(batches.len() < 60, "nothing was batched: {batches:?}");
        for batch in batches.iter() {
            assert!(
                batch.len().is_power_of_two() && batch.len() <= 8,
                "{batch:?}"
            );
            assert!(
                batch.len() == 1 || batch.iter().sum::<usize>() <= 100,
                "{batch:?}"
            );
        }
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 60);
    }

    #[tokio::test]
    async fn a_run_error_reaches_the_caller_as_it_is_and_a_dead_executor_is_stopped() {
        let executor = Executor::<u8, u8, std::io::Error>::start(
            LIMITS,
            |_| 1,
            |calls| async move {
                for call in calls {
                    call.reply.send(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "slow",
                    )));
                }
            },
        );
        match executor.call(1).await {
            Err(BatchError::Failed(e)) => assert_eq!(e.kind(), std::io::ErrorKind::TimedOut),
            other => panic!("{other:?}"),
        }
        // A run that drops its calls unanswered (as a panicking one does).
        let executor = Executor::<u8, u8, String>::start(
            LIMITS,
            |_| 1,
            |calls| {
                drop(calls);
                async {}
            },
        );
        assert!(matches!(executor.call(1).await, Err(BatchError::Stopped)));
    }
}
