//! A four-stage stream pipeline over 10 000 generated records, each stage a fan-out with its
//! own kind of limit: Go's pipelines of worker pools, as one chain of stream adapters.
//!
//! 1. fetch: simulated I/O of a few hundred µs per record, at most 64 at once (`fan_out`);
//! 2. enrich: a call to a third-party API whose budget (16 calls at once) is shared with an
//!    audit job running beside the pipeline (`fan_out_with` on one `Arc<Semaphore>`);
//! 3. score: CPU-heavy work, spread over every core as tokio tasks (`fan_out_spawned`);
//! 4. write: append to a simulated log, several writes in flight, acknowledged in log order
//!    (`fan_out_ordered`), so the committed offset only ever moves forward.
//!
//! The stages run at the same time: each pulls from the one before as it has room, so the
//! whole pipeline holds O(sum of the limits) records, never the data set. At the end it prints
//! each stage's throughput and peak concurrency and checks that every record went through once.
//!
//! Run with `cargo run --example pipeline` (`-- --quick` for 2 000 records). Offline, a few
//! seconds, exits 0.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use taskgroup::{FanOutExt, Semaphore};

/// Records in a full run, and with `--quick`.
const RECORDS: usize = 10_000;
const QUICK_RECORDS: usize = 2_000;
/// Fetches in flight at once.
const FETCH_LIMIT: usize = 64;
/// Calls to the enrichment API in flight at once, for the pipeline and the audit together.
const API_BUDGET: usize = 16;
/// Audit lookups that share the API budget with the pipeline, per 10 records.
const AUDITS_PER_10: usize = 2;
/// Log writes in flight at once.
const WRITE_LIMIT: usize = 16;
/// Rounds of the scoring hash: some 80 µs of CPU per record in a release build, enough that
/// one core could not keep up with the API stage.
const SCORE_ROUNDS: u32 = 50_000;

/// A tiny deterministic generator, so every run sees the same data.
fn pseudo_random(seed: u64) -> u64 {
    let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// Simulated I/O: `base` plus up to `spread` µs, picked by `seed`. async-io's timer, which runs
/// beside any executor and is precise to the microsecond (tokio's rounds up to a millisecond).
async fn io(seed: u64, base: u64, spread: u64) {
    async_io::Timer::after(Duration::from_micros(base + pseudo_random(seed) % spread)).await;
}

/// What one stage did: records through it, items in flight now and at most, their total time in
/// the stage, and when its last record finished.
///
/// An item's time in a local stage (`fan_out`, `fan_out_with`, `fan_out_ordered`) runs from its
/// future's first poll to its last, and a stage polls its futures only when the next stage
/// pulls: when the next stage is full, finished work waits there. That is the backpressure
/// that keeps the pipeline's memory bounded, and it shows as a time in stage longer than the
/// simulated I/O.
struct Stage {
    name: &'static str,
    limit: String,
    done: AtomicUsize,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    busy_micros: AtomicU64,
    last_done: Mutex<Option<Instant>>,
}

impl Stage {
    fn new(name: &'static str, limit: impl Into<String>) -> Self {
        Self {
            name,
            limit: limit.into(),
            done: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            busy_micros: AtomicU64::new(0),
            last_done: Mutex::new(None),
        }
    }

    /// Counts one item in for the time `work` runs.
    async fn track<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        let started = Instant::now();
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        let output = work.await;
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.busy_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        self.done.fetch_add(1, Ordering::Relaxed);
        *self.last_done.lock().unwrap() = Some(Instant::now());
        output
    }

    fn report(&self, started: Instant) {
        let done = self.done.load(Ordering::Relaxed);
        let last = self.last_done.lock().unwrap().expect("the stage ran");
        let elapsed = last.duration_since(started).as_secs_f64();
        let mean = self.busy_micros.load(Ordering::Relaxed) as f64 / done.max(1) as f64;
        println!(
            "  {:8} {:>6} records  done at {:5.2} s  {:>7.0} records/s  {:6.0} µs in stage  \
             peak {:>2} in flight (limit {})",
            self.name,
            done,
            elapsed,
            done as f64 / elapsed,
            mean,
            self.peak.load(Ordering::Relaxed),
            self.limit,
        );
    }
}

struct Raw {
    id: usize,
    body: [u64; 8],
}

struct Enriched {
    id: usize,
    body: [u64; 8],
    region: u8,
}

struct Scored {
    id: usize,
    score: u64,
}

async fn fetch(id: usize, stage: &Stage) -> Raw {
    stage
        .track(async {
            io(id as u64, 200, 400).await;
            let mut body = [0; 8];
            for (i, word) in body.iter_mut().enumerate() {
                *word = pseudo_random((id * 8 + i) as u64);
            }
            Raw { id, body }
        })
        .await
}

/// One call to the enrichment API, counted in its stage and in `api`, which both users of
/// the budget share.
async fn enrich(raw: Raw, stage: &Stage, api: &Stage) -> Enriched {
    let call = async {
        io(raw.id as u64 + 1_000_000, 300, 600).await;
        Enriched {
            region: (raw.body[0] % 5) as u8,
            id: raw.id,
            body: raw.body,
        }
    };
    stage.track(api.track(call)).await
}

/// The CPU-heavy part: dependent hashing, some 80 µs per record in a release build.
fn score(record: &Enriched) -> u64 {
    let mut h = record
        .body
        .iter()
        .fold(u64::from(record.region), |h, w| h.rotate_left(5) ^ w);
    for _ in 0..SCORE_ROUNDS {
        h = (h ^ (h >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    }
    h
}

/// Appends a scored record at `offset` of the log; returns the offset once it is durable.
async fn write(offset: usize, record: Scored, stage: &Stage) -> (usize, Scored) {
    stage
        .track(async {
            io(offset as u64 + 2_000_000, 100, 300).await;
            (offset, record)
        })
        .await
}

/// The audit job: lookups on the same API, through the same budget, while the pipeline runs.
async fn audit(lookups: usize, budget: Arc<Semaphore>, stage: &Stage, api: &Stage) -> usize {
    stream::iter(0..lookups)
        .fan_out_with(budget, |n| {
            stage.track(api.track(async move { io(n as u64 + 3_000_000, 300, 600).await }))
        })
        .count()
        .await
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let records = if quick { QUICK_RECORDS } else { RECORDS };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let score_limit = 2 * cores; // one running and one queued per core
    let audits = records / 10 * AUDITS_PER_10;
    println!(
        "pipeline: {records} records; fetch ≤ {FETCH_LIMIT}, enrich + audit ≤ {API_BUDGET} \
         (one budget), score ≤ {score_limit} on {cores} cores, write ≤ {WRITE_LIMIT}"
    );

    let fetching = Stage::new("fetch", FETCH_LIMIT.to_string());
    let enriching = Stage::new("enrich", format!("{API_BUDGET}, shared"));
    let auditing = Stage::new("audit", format!("{API_BUDGET}, shared"));
    let api_calls = Stage::new("  = api", API_BUDGET.to_string());
    let scoring = Arc::new(Stage::new("score", score_limit.to_string()));
    let writing = Stage::new("write", WRITE_LIMIT.to_string());
    let budget = Arc::new(Semaphore::new(API_BUDGET));
    let started = Instant::now();

    // The threads the scoring ran on, to show it was spread over the cores.
    let score_threads = Arc::new(Mutex::new(HashSet::new()));
    let (scoring_in_tasks, threads_in_tasks) = (scoring.clone(), score_threads.clone());
    let mut acks = stream::iter(0..records)
        .fan_out(FETCH_LIMIT, |id| fetch(id, &fetching))
        .fan_out_with(budget.clone(), |raw| enrich(raw, &enriching, &api_calls))
        .fan_out_spawned(
            score_limit,
            |task| {
                tokio::spawn(task);
            },
            move |record| {
                let (stage, threads) = (scoring_in_tasks.clone(), threads_in_tasks.clone());
                async move {
                    stage
                        .track(async move {
                            threads.lock().unwrap().insert(std::thread::current().id());
                            Scored {
                                id: record.id,
                                score: score(&record),
                            }
                        })
                        .await
                }
            },
        )
        .enumerate()
        .fan_out_ordered(WRITE_LIMIT, |(offset, record)| {
            write(offset, record, &writing)
        });

    // The consumer: commits the log as the acknowledgements come, in offset order.
    let commit = async {
        let mut committed = 0;
        let mut seen = vec![false; records];
        let mut checksum = 0u64;
        while let Some((offset, record)) = acks.next().await {
            assert_eq!(offset, committed, "acknowledged out of log order");
            assert!(
                !std::mem::replace(&mut seen[record.id], true),
                "a record twice"
            );
            checksum = checksum.wrapping_add(record.score);
            committed += 1;
        }
        (committed, checksum)
    };
    let ((committed, checksum), audited) =
        futures::join!(commit, audit(audits, budget.clone(), &auditing, &api_calls));
    let elapsed = started.elapsed();

    println!("stages (running at the same time):");
    for stage in [
        &fetching, &enriching, &auditing, &api_calls, &*scoring, &writing,
    ] {
        stage.report(started);
    }
    println!(
        "  scoring ran on {} worker threads",
        score_threads.lock().unwrap().len()
    );
    println!(
        "total: {committed} records committed in log order in {:.2} s ({:.0} records/s), \
         {audited} audits beside them; checksum {checksum:016x}",
        elapsed.as_secs_f64(),
        committed as f64 / elapsed.as_secs_f64()
    );

    assert_eq!(committed, records, "every record committed");
    assert_eq!(audited, audits, "every audit done");
    assert!(
        api_calls.peak.load(Ordering::Relaxed) <= API_BUDGET,
        "the pipeline and the audit together stayed within the API budget"
    );
    assert_eq!(budget.available_permits(), API_BUDGET, "every permit back");
    assert!(fetching.peak.load(Ordering::Relaxed) <= FETCH_LIMIT);
    assert!(scoring.peak.load(Ordering::Relaxed) <= score_limit);
    assert!(writing.peak.load(Ordering::Relaxed) <= WRITE_LIMIT);
}
