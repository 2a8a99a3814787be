//! Group commit: ingest handlers hand their readings to one writer task, which commits
//! whatever has queued up in one transaction and only then answers each handler. Under
//! load a commit carries thousands of readings; when idle, a reading is written at once.
//!
//! Backpressure: the queue is bounded in *readings* (a permit per reading). A handler that
//! cannot get its permits at once answers 503 with `Retry-After` rather than wait or grow
//! memory without bound.
//!
//! Pipelined: while one batch commits (its fsync included) on another task, the next one
//! gathers, and begins as soon as that one is durable (worked out on top of it while it
//! commits when it fills up first). One batch is in flight at a time, so a failed one is
//! undone (and written again) before the next begins.
//!
//! The task owns the [`Pipeline`], which keeps rollups and latest statuses in memory and
//! writes them behind (see `sunfleet_app::telemetry::write`): at most every
//! [`FLUSH_EVERY`] under load, and at once whenever the queue runs empty, so a lone
//! reading's status is written before it is acknowledged (in the same transaction as the
//! reading when nothing else waits to be flushed). The same task runs the offline
//! sweep, so a device's status is never written by two hands at once.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use sunfleet_app::db::Db;
use sunfleet_app::devices::snapshot::FleetCache;
use sunfleet_app::error::{AppError, Result};
use sunfleet_app::telemetry::write::{Delivery, Flush, Pending, Pipeline, Written};
use tokio::task::JoinHandle;

/// Readings that may wait for the writer (about 2 s of work at full speed).
pub const QUEUE_READINGS: usize = 20_000;
/// Readings in one transaction at most.
pub const MAX_BATCH: usize = 4_000;
/// How long a batch waits for more readings after its first one arrives when no other batch
/// commits (one that does is waited for instead). Under load the next batch gathers while
/// this one commits anyway; a longer wait only idles the writer.
/// Measured with wrk as in `bench/ingest.sh` (64 connections, after one pass over the
/// fleet): 2 ms gave 8,300–10,600 readings/s, 500 µs 11,200–15,200/s; no wait at all made
/// batches of a few readings and no more throughput than 500 µs.
pub const LINGER: Duration = Duration::from_micros(500);
/// How often silent devices are looked for.
pub const SWEEP_EVERY: Duration = Duration::from_secs(15);
/// Longest time rollups and statuses wait in memory under load. Long enough that a busy
/// device's many readings share one write of its rows (each row written costs ~40–90 µs).
pub const FLUSH_EVERY: Duration = Duration::from_secs(10);
/// A batch of at most this many deliveries with nothing queued behind it is written
/// through at once.
const LONE_BATCH: usize = 4;
/// A flush of at most this many rows takes milliseconds: a lone caller waits for it.
const SMALL_FLUSH: usize = 1_000;
/// Above this many readings a second the writer is under load: a lone batch does not
/// start a big flush early, rows wait for [`FLUSH_EVERY`]. Under load small batches come
/// and go all the time, and each one used to start a flush of every dirty row: with wrk at
/// 64 connections a flush of the whole fleet's 15,000 rows every ~3.5 s instead of every
/// 10 s (the debug line "flushed rollups and statuses"), while flushes were a third of the
/// server's CPU. A fleet of 5,000 devices posting once a minute is 83 readings a second.
const BUSY_READINGS_PER_S: usize = 500;

struct Job {
    delivery: Delivery,
    done: oneshot::Sender<Result<Written>>,
    _permit: OwnedSemaphorePermit,
}

enum Message {
    Write(Job),
    /// Write rollups and statuses now (then answer).
    Flush(oneshot::Sender<Result<()>>),
}

#[derive(Clone)]
pub struct Writer {
    tx: mpsc::UnboundedSender<Message>,
    permits: Arc<Semaphore>,
}

impl Writer {
    /// Starts the writer task on the current runtime.
    pub fn spawn(db: Db) -> Self {
        Self::spawn_with(db, QUEUE_READINGS, Default::default())
    }

    /// `fleet` is told whenever statuses change, so lists show them at once.
    pub fn spawn_with(db: Db, queue_readings: usize, fleet: Arc<FleetCache>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(db, rx, fleet));
        Writer {
            tx,
            permits: Arc::new(Semaphore::new(queue_readings)),
        }
    }

    /// Writes the rollups and statuses held in memory now.
    pub async fn flush(&self) -> Result<()> {
        let (done, answer) = oneshot::channel();
        self.tx
            .send(Message::Flush(done))
            .map_err(|_| AppError::internal("ingest writer", "writer task has stopped"))?;
        answer
            .await
            .map_err(|_| AppError::internal("ingest writer", "writer dropped a flush"))?
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
            .send(Message::Write(Job {
                delivery,
                done,
                _permit: permit,
            }))
            .map_err(|_| AppError::internal("ingest writer", "writer task has stopped"))?;
        answer
            .await
            .map_err(|_| AppError::internal("ingest writer", "writer dropped a job"))?
    }
}

/// A batch being committed on another task while the next one gathers and is prepared.
struct InFlight {
    pending: Pending,
    commit: JoinHandle<Result<()>>,
    jobs: Vec<Job>,
}

/// The writer's loop and the state it carries between batches.
struct Writing {
    pipeline: Pipeline,
    fleet: Arc<FleetCache>,
    batch: Option<InFlight>,
    /// At most one flush runs beside the batches; under load that is where flushes happen.
    flush: Option<JoinHandle<(Flush, Result<()>)>>,
    flush_rows: usize,
    last_flush: tokio::time::Instant,
    /// The last batch had nothing queued behind it.
    idle: bool,
    load: Load,
}

/// Readings handed to the writer in the current and the previous second.
struct Load {
    since: tokio::time::Instant,
    count: usize,
    last: usize,
}

impl Load {
    fn new() -> Self {
        Load {
            since: tokio::time::Instant::now(),
            count: 0,
            last: 0,
        }
    }

    fn add(&mut self, readings: usize) {
        let second = Duration::from_secs(1);
        let elapsed = self.since.elapsed();
        if elapsed >= second {
            // A quiet second in between means no load a second ago.
            self.last = if elapsed < 2 * second { self.count } else { 0 };
            self.count = 0;
            self.since = tokio::time::Instant::now();
        }
        self.count += readings;
    }

    fn busy(&self) -> bool {
        self.count.max(self.last) > BUSY_READINGS_PER_S
    }
}

async fn run(db: Db, mut rx: mpsc::UnboundedReceiver<Message>, fleet: Arc<FleetCache>) {
    let mut pipeline = Pipeline::new(db);
    let started = std::time::Instant::now();
    match pipeline.recover().await {
        Ok(n) => {
            // The statuses it wrote went around the fleet snapshot, which a page may have
            // loaded meanwhile (requests are served while the writer catches up).
            if n > 0 {
                fleet.invalidate();
            }
            tracing::info!(
                readings = n,
                ms = started.elapsed().as_millis() as u64,
                "caught up rollups and statuses with the readings a stop left out"
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "catching up rollups and statuses failed; it is tried again at the next start")
        }
    }
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut w = Writing {
        pipeline,
        fleet,
        batch: None,
        flush: None,
        flush_rows: 0,
        last_flush: tokio::time::Instant::now(),
        idle: true,
        load: Load::new(),
    };
    loop {
        let first = tokio::select! {
            message = rx.recv() => match message {
                Some(Message::Write(job)) => job,
                Some(Message::Flush(done)) => {
                    w.land(&rx, false).await;
                    let _ = done.send(w.flush_all().await);
                    continue;
                }
                None => {
                    w.land(&rx, false).await;
                    w.finish().await;
                    flush_logged(&mut w.pipeline).await;
                    return;
                }
            },
            done = committed(&mut w.batch), if w.batch.is_some() => {
                let landed = w.batch.take().expect("BUG: guarded");
                w.landed(landed, done, &rx, false).await;
                continue;
            }
            done = flushed(&mut w.flush), if w.flush.is_some() => {
                w.flush = None;
                settle(&mut w.pipeline, done, &w.fleet);
                continue;
            }
            _ = tick.tick() => {
                if w.batch.is_none() {
                    w.start();
                }
                continue;
            }
            _ = sweep.tick() => {
                match w.pipeline.sweep(Utc::now()).await {
                    Ok(0) => {}
                    // The fleet snapshot is left as it is: lists tell online from offline
                    // by the time of last contact, which already says offline for these;
                    // dropping the snapshot would make the next page wait for a reload,
                    // and in a big fleet some device falls silent at nearly every sweep.
                    Ok(n) => tracing::info!(devices = n, "marked silent devices offline"),
                    Err(e) => tracing::warn!(error = %e, "offline sweep failed"),
                }
                continue;
            }
        };
        let mut readings = first.delivery.readings.len();
        let mut batch = vec![first];
        let mut flushes = Vec::new();
        let deadline = tokio::time::Instant::now() + LINGER;
        while readings < MAX_BATCH {
            let next = match rx.try_recv() {
                Ok(message) => Some(message),
                // A batch commits: this one gathers until that one is durable, and begins
                // right after. A fixed wait here ended up to 1.5 ms after the commit did
                // (tokio's timers tick in milliseconds) with the commit chain idle, a
                // quarter of the time under load: `bench/ingest.sh`'s load at 64
                // connections went from 12,300–12,700 to 14,800–15,500 readings/s.
                Err(mpsc::error::TryRecvError::Empty) if w.batch.is_some() => {
                    tokio::select! {
                        message = rx.recv() => message,
                        done = committed(&mut w.batch) => {
                            let landed = w.batch.take().expect("BUG: guarded");
                            w.landed(landed, done, &rx, true).await;
                            break;
                        }
                    }
                }
                Err(mpsc::error::TryRecvError::Empty) => {
                    tokio::time::timeout_at(deadline, rx.recv())
                        .await
                        .ok()
                        .flatten()
                }
                Err(mpsc::error::TryRecvError::Disconnected) => None,
            };
            match next {
                Some(Message::Write(job)) => {
                    readings += job.delivery.readings.len();
                    batch.push(job);
                }
                Some(Message::Flush(done)) => flushes.push(done),
                None => break,
            }
        }
        w.load.add(readings);
        let deliveries: Vec<Delivery> = batch.iter().map(|j| j.delivery.clone()).collect();
        // A lone batch with nothing waiting to be flushed is written through, with its
        // derived rows: one commit instead of a commit and a flush. That is most batches
        // of a fleet posting once a minute. Lone means the previous batch found nothing
        // queued behind it too: under load small batches come and go (this one drained
        // the queue), and their rows are cheaper coalesced into the next flush.
        let through = w.idle
            && batch.len() <= LONE_BATCH
            && rx.is_empty()
            && flushes.is_empty()
            && w.batch.is_none()
            && w.flush.is_none()
            && !w.pipeline.has_unflushed();
        if through {
            let answers = write_through(&mut w.pipeline, &deliveries, &w.fleet).await;
            w.answered(batch, answers, flushes, &rx, false).await;
            continue;
        }
        // Pipelined: a batch that filled up while the one before commits is worked out
        // meanwhile, then begins once that one is durable. Readings that may repeat the
        // batch in flight wait, and so does a batch to be flushed at once.
        if !flushes.is_empty() || w.pipeline.must_wait(&deliveries) {
            w.land(&rx, true).await;
        }
        let prepared = match flushes.is_empty() {
            true => Some(w.pipeline.prepare_batch(&deliveries, Utc::now()).await),
            false => None,
        };
        let before_ok = w.land(&rx, true).await;
        match prepared {
            Some(Ok(mut pending)) if before_ok => {
                if w.last_flush.elapsed() >= FLUSH_EVERY {
                    w.start();
                }
                w.pipeline.begin(&mut pending);
                let db = w.pipeline.db();
                let commit = pending.commit();
                w.batch = Some(InFlight {
                    pending,
                    commit: tokio::spawn(async move { commit.run(&db).await }),
                    jobs: batch,
                });
            }
            // Prepared on top of a batch that failed, or to be flushed at once: worked out
            // again, and written here and now.
            _ => {
                let answers = commit(&mut w.pipeline, &deliveries).await;
                w.answered(batch, answers, flushes, &rx, false).await;
            }
        }
    }
}

/// The end of the batch in flight (there is one).
async fn committed(batch: &mut Option<InFlight>) -> Result<Result<()>, tokio::task::JoinError> {
    (&mut batch.as_mut().expect("BUG: guarded").commit).await
}

/// The end of the flush running (there is one).
async fn flushed(
    flush: &mut Option<JoinHandle<(Flush, Result<()>)>>,
) -> Result<(Flush, Result<()>), tokio::task::JoinError> {
    flush.as_mut().expect("BUG: guarded").await
}

impl Writing {
    /// Waits for the batch in flight, if any, and answers it; whether it (or nothing) was
    /// in flight and committed. `behind`: another batch waits to begin.
    async fn land(&mut self, rx: &mpsc::UnboundedReceiver<Message>, behind: bool) -> bool {
        match self.batch.take() {
            Some(mut in_flight) => {
                let done = (&mut in_flight.commit).await;
                self.landed(in_flight, done, rx, behind).await
            }
            None => true,
        }
    }

    /// Settles a batch whose commit ended and answers its requests; a batch that failed
    /// is written again as usual (one by one if need be). Whether it committed.
    async fn landed(
        &mut self,
        mut in_flight: InFlight,
        done: Result<Result<()>, tokio::task::JoinError>,
        rx: &mpsc::UnboundedReceiver<Message>,
        behind: bool,
    ) -> bool {
        let result = done.unwrap_or_else(|e| Err(AppError::internal("ingest writer", e)));
        self.pipeline.settle(&mut in_flight.pending, &result);
        let answers = match &result {
            Ok(()) => in_flight
                .pending
                .written()
                .iter()
                .copied()
                .map(Ok)
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "a batch failed; writing it again");
                let deliveries: Vec<Delivery> =
                    in_flight.jobs.iter().map(|j| j.delivery.clone()).collect();
                commit(&mut self.pipeline, &deliveries).await
            }
        };
        self.answered(in_flight.jobs, answers, Vec::new(), rx, behind)
            .await;
        result.is_ok()
    }

    /// Answers a written batch, after writing the derived rows first where its callers
    /// should read their own writes.
    async fn answered(
        &mut self,
        jobs: Vec<Job>,
        answers: Vec<Result<Written>>,
        flushes: Vec<oneshot::Sender<Result<()>>>,
        rx: &mpsc::UnboundedReceiver<Message>,
        behind: bool,
    ) {
        // A lone caller (small batch, nothing queued behind it) gets the derived rows
        // written before its answer, so it reads its own writes; under load they are
        // written beside the next batches, which is what makes them cheap.
        // A big flush (running, or due after a burst) is not waited for: its rows take
        // seconds; the lone caller's rows go out with it, in the background.
        let lone = jobs.len() <= LONE_BATCH && rx.is_empty() && !behind;
        self.idle = lone;
        // Counting the dirty rows walks every device in memory (1 % of the CPU under
        // load when done for every batch): only for a lone batch, the one it decides.
        let big = || {
            (self.flush.is_some() && self.flush_rows > SMALL_FLUSH)
                || self.pipeline.dirty_rows() > SMALL_FLUSH
        };
        if lone && flushes.is_empty() && big() {
            if !self.load.busy() || self.last_flush.elapsed() >= FLUSH_EVERY {
                self.start();
            }
        } else if lone || !flushes.is_empty() {
            let result = self.flush_all().await;
            if let Err(e) = &result {
                tracing::warn!(error = %e, "writing rollups and statuses failed; retrying");
            }
            for done in flushes {
                let _ = done.send(result.clone());
            }
        } else if self.last_flush.elapsed() >= FLUSH_EVERY {
            self.start();
        }
        for (job, answer) in jobs.into_iter().zip(answers) {
            let _ = job.done.send(answer);
        }
    }

    /// Starts writing the changed derived rows on another task, unless a flush is running.
    fn start(&mut self) {
        start(&mut self.pipeline, &mut self.flush, &mut self.flush_rows);
        self.last_flush = tokio::time::Instant::now();
    }

    /// Waits for the running flush, if any.
    async fn finish(&mut self) {
        finish(&mut self.pipeline, &mut self.flush, &self.fleet).await;
    }

    /// Writes every derived row held in memory, here and now (no batch is in flight).
    async fn flush_all(&mut self) -> Result<()> {
        self.finish().await;
        let result = flush_now(&mut self.pipeline, &self.fleet).await;
        self.last_flush = tokio::time::Instant::now();
        result
    }
}

/// Starts writing the changed derived rows on another task, unless a flush is running.
fn start(
    pipeline: &mut Pipeline,
    in_flight: &mut Option<JoinHandle<(Flush, Result<()>)>>,
    rows: &mut usize,
) {
    if in_flight.is_some() {
        return;
    }
    if let Some(flush) = pipeline.take_flush() {
        *rows = flush.rows();
        let db = pipeline.db();
        // Tens of thousands of rows: on the storage runtime, beside the requests.
        *in_flight = Some(sunfleet_app::db::spawn_background(async move {
            let result = flush.write(&db).await;
            (flush, result)
        }));
    }
}

/// Waits for the running flush, if any.
async fn finish(
    pipeline: &mut Pipeline,
    in_flight: &mut Option<JoinHandle<(Flush, Result<()>)>>,
    fleet: &FleetCache,
) {
    if let Some(handle) = in_flight.take() {
        settle(pipeline, handle.await, fleet);
    }
}

/// Writes the changed derived rows here and now.
async fn flush_now(pipeline: &mut Pipeline, fleet: &FleetCache) -> Result<()> {
    let Some(flush) = pipeline.take_flush() else {
        return Ok(());
    };
    let result = flush.write(&pipeline.db()).await;
    taken_back(pipeline, flush, &result, fleet);
    result
}

/// Hands a written flush back to the pipeline and its statuses to the fleet snapshot.
fn taken_back(pipeline: &mut Pipeline, flush: Flush, result: &Result<()>, fleet: &FleetCache) {
    if result.is_ok() {
        fleet.statuses_written(&flush.statuses());
    }
    pipeline.flushed(flush, result);
}

fn settle(
    pipeline: &mut Pipeline,
    done: Result<(Flush, Result<()>), tokio::task::JoinError>,
    fleet: &FleetCache,
) {
    match done {
        Ok((flush, result)) => {
            if let Err(e) = &result {
                tracing::warn!(error = %e, "writing rollups and statuses failed; retrying");
            }
            taken_back(pipeline, flush, &result, fleet);
        }
        Err(e) => {
            tracing::error!(error = %e, "the flush task failed; its rows are written at the next start")
        }
    }
}

async fn flush_logged(pipeline: &mut Pipeline) {
    if let Err(e) = pipeline.flush().await {
        tracing::warn!(error = %e, "writing rollups and statuses failed; retrying");
    }
}

/// Writes a lone batch through (see `Pipeline::write_through`), or as usual if that fails.
async fn write_through(
    pipeline: &mut Pipeline,
    deliveries: &[Delivery],
    fleet: &FleetCache,
) -> Vec<Result<Written>> {
    match pipeline.write_through(deliveries, Utc::now()).await {
        Ok((written, statuses)) => {
            fleet.statuses_written(&statuses);
            written.into_iter().map(Ok).collect()
        }
        Err(e) => {
            tracing::debug!(error = %e, "writing through failed; writing as usual");
            commit(pipeline, deliveries).await
        }
    }
}

/// Writes a batch; if the batch as a whole fails, each delivery is tried alone so that one
/// bad delivery cannot fail the others.
async fn commit(pipeline: &mut Pipeline, deliveries: &[Delivery]) -> Vec<Result<Written>> {
    match pipeline.write(deliveries, Utc::now()).await {
        Ok(written) => written.into_iter().map(Ok).collect(),
        Err(e) if deliveries.len() > 1 => {
            tracing::warn!(error = %e, size = deliveries.len(), "batch failed; writing its deliveries one by one");
            let mut answers = Vec::with_capacity(deliveries.len());
            for d in deliveries {
                answers.push(
                    pipeline
                        .write(std::slice::from_ref(d), Utc::now())
                        .await
                        .map(|w| w[0]),
                );
            }
            answers
        }
        Err(e) => vec![Err(e)],
    }
}
