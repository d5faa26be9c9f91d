//! Reconcile simulated payment records against a "bank API" that allows at most 5 calls at
//! once: a shared `static` semaphore caps the calls, the limit is scaled up to 10 halfway
//! (`resize`), and the semaphore is closed on shutdown so late calls fail cleanly.
//!
//! Run with `cargo run --example reconcile`. Offline, a few seconds, exits 0.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use taskgroup::{AcquireError, AsyncWaitGroup, Semaphore};

/// The bank allows 5 concurrent calls to start with.
static BANK_API: Semaphore = Semaphore::new(5);

const RECORDS: usize = 2_000;

#[derive(Default)]
struct Totals {
    matched: AtomicUsize,
    mismatched: AtomicUsize,
    failed: AtomicUsize,
    in_flight: AtomicUsize,
    peak_before: AtomicUsize,
    peak_after: AtomicUsize,
}

fn pseudo_random(seed: usize) -> u64 {
    let mut x = seed as u64 ^ 0x2545_F491_4F6C_DD1D;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// One call to the bank: a few milliseconds; 2 % of records disagree, 1 % of calls fail.
async fn bank_lookup(record: usize) -> Result<bool, &'static str> {
    let r = pseudo_random(record);
    tokio::time::sleep(Duration::from_micros(2_000 + r % 6_000)).await;
    match r % 100 {
        0 => Err("bank: 503 service unavailable"),
        1 | 2 => Ok(false),
        _ => Ok(true),
    }
}

async fn reconcile(record: usize, scaled: bool, totals: &Totals) -> Result<(), AcquireError> {
    let _call = BANK_API.acquire().await?; // waits its turn, FIFO
    let now = totals.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let peak = if scaled {
        &totals.peak_after
    } else {
        &totals.peak_before
    };
    peak.fetch_max(now, Ordering::SeqCst);
    let outcome = bank_lookup(record).await;
    totals.in_flight.fetch_sub(1, Ordering::SeqCst);
    match outcome {
        Ok(true) => totals.matched.fetch_add(1, Ordering::Relaxed),
        Ok(false) => totals.mismatched.fetch_add(1, Ordering::Relaxed),
        Err(_) => totals.failed.fetch_add(1, Ordering::Relaxed),
    };
    Ok(())
}

#[tokio::main]
async fn main() {
    let totals = Arc::new(Totals::default());
    let started = Instant::now();
    println!("reconciling {RECORDS} records, at most 5 bank calls at once");

    let run_half = |range: std::ops::Range<usize>, scaled: bool| {
        let wg = AsyncWaitGroup::new();
        for record in range {
            let totals = totals.clone();
            tokio::spawn(wg.track(async move {
                reconcile(record, scaled, &totals).await.expect("open");
            }));
        }
        wg
    };

    run_half(0..RECORDS / 2, false).wait().await;
    println!(
        "  first half done in {:.2?}, peak {} calls at once",
        started.elapsed(),
        totals.peak_before.load(Ordering::SeqCst)
    );

    BANK_API.resize(10); // the bank raised our quota
    let halfway = Instant::now();
    run_half(RECORDS / 2..RECORDS, true).wait().await;
    println!(
        "  second half done in {:.2?}, peak {} calls at once (limit now 10)",
        halfway.elapsed(),
        totals.peak_after.load(Ordering::SeqCst)
    );

    // Shutdown: later calls fail instead of waiting for a bank we no longer talk to.
    BANK_API.close();
    let late = reconcile(RECORDS, true, &totals).await;
    assert_eq!(late, Err(AcquireError::Closed));

    let (m, mm, f) = (
        totals.matched.load(Ordering::Relaxed),
        totals.mismatched.load(Ordering::Relaxed),
        totals.failed.load(Ordering::Relaxed),
    );
    println!();
    println!("  matched     {m:>5}");
    println!("  mismatched  {mm:>5}");
    println!("  failed      {f:>5}   (retry these)");
    println!(
        "  total       {:>5}   in {:.2?}",
        m + mm + f,
        started.elapsed()
    );
    println!("  a call after close: {}", late.unwrap_err());
    assert_eq!(m + mm + f, RECORDS);
    assert!(totals.peak_before.load(Ordering::SeqCst) <= 5);
    assert!(totals.peak_after.load(Ordering::SeqCst) <= 10);
}
