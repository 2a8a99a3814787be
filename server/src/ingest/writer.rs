//! Group commit: ingest handlers hand their readings to one writer task, which commits
//! whatever has queued up in one transaction and only then answers each handler. Under
//! load a commit carries thousands of readings; when idle, a reading is written at once.
//!
//! Backpressure: the queue is bounded in *readings* (a permit per reading). A handler that
//! cannot get its permits at once answers 503 with `Retry-After` rather than wait or grow
//! memory without bound.
//!
//! The same task runs the offline sweep between batches, so a device's status is never
//! written by two hands at once.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use sunfleet_app::db::Db;
use sunfleet_app::error::{AppError, Result};
use sunfleet_app::telemetry::write::{self, Delivery, Written};

/// Readings that may wait for the writer (about 2 s of work at full speed).
pub const QUEUE_READINGS: usize = 20_000;
/// Readings in one transaction at most.
pub const MAX_BATCH: usize = 4_000;
/// How long a batch waits for more readings after its first one arrives.
pub const LINGER: Duration = Duration::from_millis(2);
/// How often silent devices are looked for.
pub const SWEEP_EVERY: Duration = Duration::from_secs(15);

struct Job {
    delivery: Delivery,
    done: oneshot::Sender<Result<Written>>,
    _permit: OwnedSemaphorePermit,
}

#[derive(Clone)]
pub struct Writer {
    tx: mpsc::UnboundedSender<Job>,
    permits: Arc<Semaphore>,
}

impl Writer {
    /// Starts the writer task on the current runtime.
    pub fn spawn(db: Db) -> Self {
        Self::spawn_with(db, QUEUE_READINGS)
    }

    pub fn spawn_with(db: Db, queue_readings: usize) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(db, rx));
        Writer {
            tx,
            permits: Arc::new(Semaphore::new(queue_readings)),
        }
    }

    /// Queues a delivery and waits until it is durable.
    pub async fn write(&self, delivery: Delivery) -> Result<Written> {
        let n = delivery.readings.len().max(1) as u32;
        let permit = self
            .permits
            .clone()
            .try_acquire_many_owned(n)
            .map_err(|_| AppError::Unavailable { retry_after_s: 1 })?;
        let (done, answer) = oneshot::channel();
        self.tx
            .send(Job {
                delivery,
                done,
                _permit: permit,
            })
            .map_err(|_| AppError::internal("ingest writer", "writer task has stopped"))?;
        answer
            .await
            .map_err(|_| AppError::internal("ingest writer", "writer dropped a job"))?
    }
}

async fn run(db: Db, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let first = tokio::select! {
            job = rx.recv() => match job {
                Some(job) => job,
                None => return,
            },
            _ = sweep.tick() => {
                match write::sweep_offline(&db, Utc::now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(devices = n, "marked silent devices offline"),
                    Err(e) => tracing::warn!(error = %e, "offline sweep failed"),
                }
                continue;
            }
        };
        let mut readings = first.delivery.readings.len();
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + LINGER;
        while readings < MAX_BATCH {
            let next = match rx.try_recv() {
                Ok(job) => Some(job),
                Err(mpsc::error::TryRecvError::Empty) => {
                    tokio::time::timeout_at(deadline, rx.recv())
                        .await
                        .ok()
                        .flatten()
                }
                Err(mpsc::error::TryRecvError::Disconnected) => None,
            };
            let Some(job) = next else { break };
            readings += job.delivery.readings.len();
            batch.push(job);
        }
        commit(&db, batch).await;
    }
}

/// Writes a batch; if the batch as a whole fails, each delivery is tried alone so that one
/// bad delivery cannot fail the others.
async fn commit(db: &Db, batch: Vec<Job>) {
    let deliveries: Vec<Delivery> = batch.iter().map(|j| j.delivery.clone()).collect();
    match write::write_batch(db, &deliveries, Utc::now()).await {
        Ok(written) => {
            for (job, w) in batch.into_iter().zip(written) {
                let _ = job.done.send(Ok(w));
            }
        }
        Err(e) if batch.len() > 1 => {
            tracing::warn!(error = %e, size = batch.len(), "batch failed; writing its deliveries one by one");
            for job in batch {
                let result =
                    write::write_batch(db, std::slice::from_ref(&job.delivery), Utc::now())
                        .await
                        .map(|w| w[0]);
                let _ = job.done.send(result);
            }
        }
        Err(e) => {
            for job in batch {
                let _ = job.done.send(Err(e.clone()));
            }
        }
    }
}
