//! Coalescing of the delivery path's batched transactions across queue messages.
//!
//! Every message a worker handles takes its recipients (`claim_many`) and records those the
//! operators accepted (`mark_sent_many`) in transactions of its own; with small requests that
//! is two commits per message. A [`Coalescer`] runs one such operation for every caller
//! queued while the previous run was busy (on the shared [`crate::batching`] executor), as
//! one call over all their inputs, and hands each caller the outputs that belong to its
//! inputs. Under light load a run is one caller and adds no wait (docs/DESIGN.md).
//!
//! The operations are conditional updates on each row's current state, so merging callers
//! changes nothing about what each row may do: a row two callers ask for is taken (or
//! recorded) once and reported to one of them. When a run fails, every caller in it gets the
//! error and its message goes back to the queue, as a failure of its own transaction would.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use crate::batching::{BatchError, Call, Executor, Limits};

/// Queued calls before callers wait (back-pressure).
const QUEUE: usize = 1_024;

/// One batched operation, run for many callers at once; see the module documentation. A
/// failed run's error `E` is shared (`Arc`) by every caller of that run.
pub struct Coalescer<I, O, E> {
    executor: Executor<Vec<I>, Vec<O>, Arc<E>>,
}

impl<I, O, E> std::fmt::Debug for Coalescer<I, O, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coalescer").finish_non_exhaustive()
    }
}

impl<I: Send + 'static, O: Send + 'static, E: Send + Sync + 'static> Coalescer<I, O, E> {
    /// Starts the executor on the current tokio runtime. A run carries at most `max_inputs`
    /// inputs (a larger single call runs alone). `input_key` and `output_key` give the row
    /// an input asks about and an output is about.
    pub fn start<F, Fut>(
        max_inputs: usize,
        run: F,
        input_key: fn(&I) -> i64,
        output_key: fn(&O) -> i64,
    ) -> Self
    where
        F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<O>, E>> + Send,
    {
        let limits = Limits {
            queue: QUEUE,
            max_calls: usize::MAX,
            max_weight: max_inputs,
            power_of_two: false,
        };
        let run = Arc::new(run);
        let executor = Executor::start(
            limits,
            Vec::len,
            move |calls: Vec<Call<Vec<I>, Vec<O>, Arc<E>>>| {
                let run = run.clone();
                async move {
                    let count = calls.iter().map(|c| c.input.len()).sum();
                    let mut owner: HashMap<i64, usize> = HashMap::with_capacity(count);
                    let mut inputs = Vec::with_capacity(count);
                    let mut replies = Vec::with_capacity(calls.len());
                    for (index, call) in calls.into_iter().enumerate() {
                        for input in call.input {
                            owner.insert(input_key(&input), index);
                            inputs.push(input);
                        }
                        replies.push(call.reply);
                    }
                    match run(inputs).await {
                        Ok(outputs) => {
                            let mut split: Vec<Vec<O>> =
                                replies.iter().map(|_| Vec::new()).collect();
                            for output in outputs {
                                if let Some(&index) = owner.get(&output_key(&output)) {
                                    split[index].push(output);
                                }
                            }
                            for (reply, outputs) in replies.into_iter().zip(split) {
                                reply.send(Ok(outputs));
                            }
                        }
                        Err(e) => {
                            let e = Arc::new(e);
                            for reply in replies {
                                reply.send(Err(e.clone()));
                            }
                        }
                    }
                }
            },
        );
        Self { executor }
    }

    /// Runs the operation over `inputs` (with whatever other callers are queued) and returns
    /// the outputs about them.
    pub async fn call(&self, inputs: Vec<I>) -> Result<Vec<O>, BatchError<Arc<E>>> {
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        self.executor.call(inputs).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_callers_share_runs_and_get_their_own_outputs() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = runs.clone();
        // Doubles each input; inputs above 1,000 "moved on" and are left out.
        let coalescer = Arc::new(Coalescer::<_, _, sqlx::Error>::start(
            64,
            move |inputs: Vec<i64>| {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    Ok(inputs
                        .into_iter()
                        .filter(|i| *i <= 1_000)
                        .map(|i| (i, i * 2))
                        .collect())
                }
            },
            |i| *i,
            |(i, _)| *i,
        ));
        let mut tasks = tokio::task::JoinSet::new();
        for caller in 0..40i64 {
            let coalescer = coalescer.clone();
            tasks.spawn(async move {
                let inputs = vec![caller * 10, caller * 10 + 1, 5_000 + caller];
                (caller, coalescer.call(inputs).await.unwrap())
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (caller, outputs) = done.unwrap();
            assert_eq!(
                outputs,
                vec![
                    (caller * 10, caller * 20),
                    (caller * 10 + 1, caller * 20 + 2)
                ]
            );
        }
        let runs = runs.load(Ordering::SeqCst);
        assert!(
            runs < 40,
            "{runs} runs for 40 callers: nothing was coalesced"
        );
        assert!(runs >= 2, "a run carries at most 64 inputs (120 queued)");
    }

    #[tokio::test]
    async fn a_failed_run_fails_every_caller_in_it_with_its_own_error() {
        let coalescer = Coalescer::<i64, i64, sqlx::Error>::start(
            64,
            |_| async { Err(sqlx::Error::Protocol("deadlock".into())) },
            |i| *i,
            |o| *o,
        );
        let e = coalescer.call(vec![1]).await.unwrap_err();
        assert!(e.to_string().contains("deadlock"), "{e}");
        assert!(coalescer.call(Vec::new()).await.unwrap().is_empty());

        // The error is the run's, not a copy of its text: its variant (and a database
        // error's code) survives.
        let coalescer = Coalescer::<i64, i64, sqlx::Error>::start(
            64,
            |_| async { Err(sqlx::Error::PoolTimedOut) },
            |i| *i,
            |o| *o,
        );
        match coalescer.call(vec![1]).await {
            Err(BatchError::Failed(e)) => assert!(matches!(*e, sqlx::Error::PoolTimedOut), "{e}"),
            other => panic!("{other:?}"),
        }
    }
}
