//! Coalescing of the delivery path's batched transactions across queue messages.
//!
//! Every message a worker handles takes its recipients (`claim_many`) and records those the
//! operators accepted (`mark_sent_many`) in transactions of its own. With small requests
//! (B3 in docs/BENCHMARKS.md: 10 recipients each) that is two commits and eight round trips
//! per message. A [`Coalescer`] runs one such operation for every caller queued while the
//! previous run was busy, as one call over all their inputs, and hands each caller the
//! outputs that belong to its inputs. Under light load a run is one caller and adds no wait.
//!
//! The operations are conditional updates on each row's current state, so merging callers
//! changes nothing about what each row may do: a row two callers ask for is taken (or
//! recorded) once and reported to one of them. When a run fails, every caller in it gets the
//! error and its message goes back to the queue, as a failure of its own transaction would.

use std::collections::HashMap;
use std::future::Future;

use tokio::sync::{mpsc, oneshot};

/// Queued calls before callers wait (back-pressure).
const QUEUE: usize = 1_024;

struct Call<I, O> {
    inputs: Vec<I>,
    reply: oneshot::Sender<Result<Vec<O>, sqlx::Error>>,
}

/// One batched operation, run for many callers at once; see the module documentation.
pub struct Coalescer<I, O> {
    queue: mpsc::Sender<Call<I, O>>,
}

impl<I, O> std::fmt::Debug for Coalescer<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coalescer").finish_non_exhaustive()
    }
}

impl<I: Send + 'static, O: Send + 'static> Coalescer<I, O> {
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
        F: Fn(Vec<I>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<O>, sqlx::Error>> + Send,
    {
        let (queue, mut calls) = mpsc::channel::<Call<I, O>>(QUEUE);
        tokio::spawn(async move {
            let mut carry: Option<Call<I, O>> = None;
            loop {
                let first = match carry.take() {
                    Some(call) => call,
                    None => match calls.recv().await {
                        Some(call) => call,
                        None => return,
                    },
                };
                let mut count = first.inputs.len();
                let mut batch = vec![first];
                while let Ok(call) = calls.try_recv() {
                    if count + call.inputs.len() > max_inputs {
                        carry = Some(call);
                        break;
                    }
                    count += call.inputs.len();
                    batch.push(call);
                }
                // A caller that went away gets nothing done for it.
                batch.retain(|call| !call.reply.is_closed());
                if batch.is_empty() {
                    continue;
                }
                let mut owner: HashMap<i64, usize> = HashMap::with_capacity(count);
                let mut inputs = Vec::with_capacity(count);
                for (index, call) in batch.iter_mut().enumerate() {
                    for input in call.inputs.drain(..) {
                        owner.insert(input_key(&input), index);
                        inputs.push(input);
                    }
                }
                match run(inputs).await {
                    Ok(outputs) => {
                        let mut split: Vec<Vec<O>> = batch.iter().map(|_| Vec::new()).collect();
                        for output in outputs {
                            if let Some(&index) = owner.get(&output_key(&output)) {
                                split[index].push(output);
                            }
                        }
                        for (call, outputs) in batch.into_iter().zip(split) {
                            let _ = call.reply.send(Ok(outputs));
                        }
                    }
                    Err(e) => {
                        let message = e.to_string();
                        for call in batch {
                            let _ = call.reply.send(Err(sqlx::Error::Protocol(message.clone())));
                        }
                    }
                }
            }
        });
        Self { queue }
    }

    /// Runs the operation over `inputs` (with whatever other callers are queued) and returns
    /// the outputs about them.
    pub async fn call(&self, inputs: Vec<I>) -> Result<Vec<O>, sqlx::Error> {
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Call { inputs, reply })
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        answer.await.map_err(|_| sqlx::Error::PoolClosed)?
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
        let coalescer = Arc::new(Coalescer::start(
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
    async fn a_failed_run_fails_every_caller_in_it() {
        let coalescer = Coalescer::<i64, i64>::start(
            64,
            |_| async { Err(sqlx::Error::Protocol("deadlock".into())) },
            |i| *i,
            |o| *o,
        );
        let e = coalescer.call(vec![1]).await.unwrap_err();
        assert!(e.to_string().contains("deadlock"), "{e}");
        assert!(coalescer.call(Vec::new()).await.unwrap().is_empty());
    }
}
