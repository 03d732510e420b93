//! Dynamic batching: each model has one worker thread and a bounded queue.
//! The worker takes the oldest request, gathers the requests waiting behind
//! it that can be computed with it (up to the batch size in texts), runs
//! them as one batch on the model and hands each request its own answer.
//!
//! While a batch is computed new requests queue up, so under load batches
//! grow by themselves (the continuous batching of Triton's and TGI's
//! servers); after a batch of several requests the worker also waits up to
//! `batch_wait` for stragglers, until as many requests as the last batch
//! had are in. A single client never waits: its batches are of one. The queue is bounded: a full queue answers 503 at once
//! instead of growing.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::error::ApiError;
use super::limits::Limits;
use super::metrics::{Metrics, ModelMetrics};

/// A model behind a queue: how requests batch and how a batch is computed.
pub trait Engine: Send + 'static {
    /// One request's work.
    type Input: Send + 'static;
    /// One request's answer.
    type Output: Send + 'static;

    /// Batch slots (texts) the input takes.
    fn size(input: &Self::Input) -> usize;

    /// Whether two inputs may be computed in one call (same decoding settings).
    fn joins(a: &Self::Input, b: &Self::Input) -> bool;

    /// Computes `inputs` together: one answer per input, in order.
    fn run(&mut self, inputs: Vec<Self::Input>) -> Vec<Result<Self::Output, ApiError>>;
}

struct Job<E: Engine> {
    input: E::Input,
    reply: oneshot::Sender<Result<E::Output, ApiError>>,
}

/// The sending side of a model's queue (cheap to clone).
pub struct Queue<E: Engine> {
    name: String,
    tx: SyncSender<Job<E>>,
    metrics: ModelMetrics,
    timeout: Duration,
}

impl<E: Engine> Clone for Queue<E> {
    fn clone(&self) -> Self {
        Queue {
            name: self.name.clone(),
            tx: self.tx.clone(),
            metrics: self.metrics.clone(),
            timeout: self.timeout,
        }
    }
}

impl<E: Engine> Queue<E> {
    /// Starts `engine`'s worker thread (named after the model); it ends when
    /// every `Queue` of it is dropped and its queue is empty.
    pub fn spawn(
        name: &str,
        engine: E,
        limits: &Limits,
        metrics: &Metrics,
    ) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel(limits.queue);
        let metrics = metrics.model(name);
        let worker = Worker {
            engine,
            rx,
            metrics: metrics.clone(),
            batch_size: limits.batch_size,
            batch_wait: limits.batch_wait,
        };
        std::thread::Builder::new()
            .name(format!("model {name}"))
            .spawn(move || worker.serve())?;
        Ok(Queue {
            name: name.to_string(),
            tx,
            metrics,
            timeout: limits.timeout,
        })
    }

    /// Queues `input` and waits for its answer: 503 with `Retry-After` when
    /// the queue is full or the answer takes longer than the timeout (a
    /// request that gave up is skipped by the worker if not started yet).
    pub async fn call(&self, input: E::Input) -> Result<E::Output, ApiError> {
        let (reply, answer) = oneshot::channel();
        // Counted before it is sent, so the worker never takes one off first.
        self.metrics.queued();
        if let Err(e) = self.tx.try_send(Job { input, reply }) {
            self.metrics.dequeued();
            return Err(match e {
                TrySendError::Full(_) => ApiError::busy(
                    format!("model `{}` has a full queue: retry shortly", self.name),
                    1,
                ),
                TrySendError::Disconnected(_) => {
                    ApiError::busy(format!("model `{}` is shutting down", self.name), 5)
                }
            });
        }
        match tokio::time::timeout(self.timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ApiError::internal(format!(
                "model `{}` dropped the request",
                self.name
            ))),
            Err(_) => Err(ApiError::busy(
                format!(
                    "model `{}` did not answer within {:.1} s",
                    self.name,
                    self.timeout.as_secs_f64()
                ),
                1,
            )),
        }
    }
}

struct Worker<E: Engine> {
    engine: E,
    rx: Receiver<Job<E>>,
    metrics: ModelMetrics,
    batch_size: usize,
    batch_wait: Duration,
}

impl<E: Engine> Worker<E> {
    fn serve(mut self) {
        // A job that did not join the batch before it waits for the next one.
        let mut held: Option<Job<E>> = None;
        // Requests in the previous batch: about how many clients are waiting.
        let mut clients = 1;
        loop {
            let first = match held.take() {
                Some(job) => job,
                None => match self.rx.recv() {
                    Ok(job) => self.took(job),
                    Err(_) => return,
                },
            };
            let mut size = E::size(&first.input);
            let mut jobs = vec![first];
            let wait = if clients > 1 {
                self.batch_wait
            } else {
                Duration::ZERO
            };
            let deadline = Instant::now() + wait;
            while size < self.batch_size {
                let next = match self.rx.try_recv() {
                    Ok(job) => job,
                    Err(_) => {
                        // Waiting is worth it only for the clients of the
                        // last batch that have not come back yet.
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() || jobs.len() >= clients {
                            break;
                        }
                        match self.rx.recv_timeout(left) {
                            Ok(job) => job,
                            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                                break;
                            }
                        }
                    }
                };
                let next = self.took(next);
                let n = E::size(&next.input);
                if size + n > self.batch_size || !E::joins(&jobs[0].input, &next.input) {
                    held = Some(next);
                    break;
                }
                size += n;
                jobs.push(next);
            }
            clients = jobs.len();
            self.run(jobs);
        }
    }

    fn took(&self, job: Job<E>) -> Job<E> {
        self.metrics.dequeued();
        job
    }

    fn run(&mut self, jobs: Vec<Job<E>>) {
        // Requests whose client gave up (timed out, disconnected) cost nothing.
        let (inputs, replies): (Vec<_>, Vec<_>) = jobs
            .into_iter()
            .filter(|j| !j.reply.is_closed())
            .map(|j| (j.input, j.reply))
            .unzip();
        if inputs.is_empty() {
            return;
        }
        self.metrics.batch(inputs.iter().map(E::size).sum());
        let n = inputs.len();
        let engine = &mut self.engine;
        let answers = catch_unwind(AssertUnwindSafe(|| engine.run(inputs))).unwrap_or_else(|_| {
            (0..n)
                .map(|_| Err(ApiError::internal("the model failed on this batch")))
                .collect()
        });
        let mut answers = answers.into_iter();
        for reply in replies {
            let answer = answers
                .next()
                .unwrap_or_else(|| Err(ApiError::internal("the model gave no answer")));
            // The client may have gone since: nothing to tell it.
            let _ = reply.send(answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Doubles numbers; records each batch; panics on a negative number.
    struct Doubler(Arc<Mutex<Vec<Vec<i64>>>>);

    impl Engine for Doubler {
        type Input = i64;
        type Output = i64;
        fn size(_: &i64) -> usize {
            1
        }
        fn joins(a: &i64, b: &i64) -> bool {
            (a % 2) == (b % 2)
        }
        fn run(&mut self, inputs: Vec<i64>) -> Vec<Result<i64, ApiError>> {
            std::thread::sleep(Duration::from_millis(20));
            assert!(inputs.iter().all(|&x| x >= 0), "negative");
            self.0.lock().unwrap().push(inputs.clone());
            inputs.into_iter().map(|x| Ok(2 * x)).collect()
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn waiting_requests_are_batched_and_answered_in_their_own_order() {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let limits = Limits {
            batch_size: 8,
            ..Limits::default()
        };
        let q = Queue::spawn("d", Doubler(batches.clone()), &limits, &Metrics::default()).unwrap();
        let answers = runtime().block_on(async {
            let calls = (0..20).map(|i| {
                let q = q.clone();
                tokio::spawn(async move { q.call(i * 2).await })
            });
            let mut out = Vec::new();
            for c in calls.collect::<Vec<_>>() {
                out.push(c.await.unwrap().unwrap());
            }
            out
        });
        assert_eq!(answers, (0..20).map(|i| i * 4).collect::<Vec<_>>());
        let batches = batches.lock().unwrap();
        assert!(batches.iter().all(|b| b.len() <= 8), "{batches:?}");
        assert!(batches.len() < 20, "no batching: {batches:?}");
    }

    #[test]
    fn a_full_queue_answers_503_and_a_panic_is_a_500() {
        let limits = Limits {
            queue: 1,
            batch_size: 1,
            ..Limits::default()
        };
        let q = Queue::spawn("d", Doubler(Arc::default()), &limits, &Metrics::default()).unwrap();
        let statuses = runtime().block_on(async {
            let calls: Vec<_> = (0..10)
                .map(|i| {
                    let q = q.clone();
                    tokio::spawn(async move { q.call(i).await })
                })
                .collect();
            let mut s = Vec::new();
            for c in calls {
                s.push(c.await.unwrap().map_err(|e| e.status.as_u16()));
            }
            s
        });
        assert!(statuses.contains(&Err(503)), "{statuses:?}");
        assert!(statuses.iter().any(|s| s.is_ok()), "{statuses:?}");
        let after = runtime().block_on(q.call(-1)).unwrap_err();
        assert_eq!(after.status.as_u16(), 500);
        // The worker lives on.
        assert_eq!(runtime().block_on(q.call(3)).unwrap(), 6);
    }

    #[test]
    fn incompatible_requests_are_not_joined() {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let q = Queue::spawn(
            "d",
            Doubler(batches.clone()),
            &Limits::default(),
            &Metrics::default(),
        )
        .unwrap();
        runtime().block_on(async {
            let calls: Vec<_> = (0..12)
                .map(|i| {
                    let q = q.clone();
                    tokio::spawn(async move { q.call(i).await })
                })
                .collect();
            for c in calls {
                c.await.unwrap().unwrap();
            }
        });
        for b in batches.lock().unwrap().iter() {
            assert!(b.iter().all(|x| x % 2 == b[0] % 2), "{b:?}");
        }
    }
}
