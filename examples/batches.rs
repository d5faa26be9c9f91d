//! Batches on one worker pool: each batch is a `PoolGroup` (its own limit, its own outcomes),
//! all batches share the pool's slots, progress is shown per batch, and a batch in which more
//! than half the jobs failed is retried as a whole (the upstream it hit was down).
//!
//! ```sh
//! cargo run --example batches
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use taskgroup::WorkerPool;

const BATCHES: usize = 5;
const JOBS_PER_BATCH: u32 = 20;

/// How far a batch got: jobs ended in its current attempt, and which attempt that is.
#[derive(Default)]
struct Progress {
    ended: AtomicUsize,
    attempt: AtomicUsize,
}

/// One simulated call. Batch 2's upstream is down during its first attempt (most calls fail);
/// elsewhere one call in ten fails.
async fn call(batch: usize, attempt: usize, job: u32) -> Result<u32, String> {
    tokio::time::sleep(Duration::from_millis(5 + u64::from(job % 7) * 3)).await;
    let upstream_down = batch == 2 && attempt == 1;
    if (upstream_down && job % 4 != 0) || (job + batch as u32) % 10 == 9 {
        Err(format!("batch {batch} job {job}: upstream 503"))
    } else {
        Ok(job * 10)
    }
}

/// Runs a batch as a group, at most 4 of its jobs at once; retries the whole batch while more
/// than half its jobs fail. Returns the values and the failures of the last attempt.
async fn run_batch(
    pool: WorkerPool,
    batch: usize,
    progress: Arc<Progress>,
) -> (Vec<u32>, Vec<String>) {
    for attempt in 1.. {
        progress.attempt.store(attempt, Ordering::Relaxed);
        progress.ended.store(0, Ordering::Relaxed);
        let group = pool.group().with_limit(4);
        for job in 0..JOBS_PER_BATCH {
            let progress = progress.clone();
            group.spawn(async move {
                let result = call(batch, attempt, job).await;
                progress.ended.fetch_add(1, Ordering::Relaxed);
                result
            });
        }
        let outcomes = group.wait_all().await; // every outcome, in spawn order
        let (values, errors): (Vec<_>, Vec<_>) = outcomes.into_iter().partition(Result::is_ok);
        let values: Vec<u32> = values.into_iter().map(Result::unwrap).collect();
        let errors: Vec<String> = errors.into_iter().map(Result::unwrap_err).collect();
        if errors.len() * 2 <= JOBS_PER_BATCH as usize || attempt == 3 {
            return (values, errors);
        }
        println!(
            "batch {batch}: {} of {JOBS_PER_BATCH} jobs failed in attempt {attempt}, retrying the batch",
            errors.len()
        );
    }
    unreachable!("the loop returns at the third attempt")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let pool = WorkerPool::new(8, |job| {
        tokio::spawn(job);
    });
    let progress: Vec<Arc<Progress>> = (0..BATCHES).map(|_| Arc::default()).collect();
    let batches: Vec<_> = (0..BATCHES)
        .map(|batch| tokio::spawn(run_batch(pool.clone(), batch, progress[batch].clone())))
        .collect();

    // Per-batch progress, until every batch is back.
    let show = || {
        let cells: Vec<String> = progress
            .iter()
            .enumerate()
            .map(|(batch, p)| {
                let (ended, attempt) = (
                    p.ended.load(Ordering::Relaxed),
                    p.attempt.load(Ordering::Relaxed),
                );
                format!("b{batch}#{attempt} {ended:>2}/{JOBS_PER_BATCH}")
            })
            .collect();
        let stats = pool.stats();
        println!(
            "{}  | pool: running {}, queued {}",
            cells.join("  "),
            stats.running,
            stats.waiting
        );
    };
    while !batches.iter().all(|batch| batch.is_finished()) {
        show();
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    show();

    let mut total_failed = 0;
    for (batch, handle) in batches.into_iter().enumerate() {
        let (values, errors) = handle.await.expect("a batch task does not panic");
        let attempts = progress[batch].attempt.load(Ordering::Relaxed);
        println!(
            "batch {batch}: {} ok, {} failed, after {attempts} attempt(s){}",
            values.len(),
            errors.len(),
            errors
                .first()
                .map(|e| format!("; e.g. {e}"))
                .unwrap_or_default()
        );
        assert_eq!(values.len() + errors.len(), JOBS_PER_BATCH as usize);
        total_failed += errors.len();
    }
    pool.stop_and_wait().await;
    let stats = pool.stats();
    println!("pool: {stats:?}");
    assert_eq!(stats.ended(), stats.submitted, "every job is accounted for");
    assert!(
        progress[2].attempt.load(Ordering::Relaxed) > 1,
        "batch 2 was retried"
    );
    assert!(total_failed < BATCHES * JOBS_PER_BATCH as usize / 2);
}
