//! Reconcile simulated payment records against a "bank API" that allows at most 5 calls at
//! once: a shared `static` semaphore caps the calls, the limit is scaled up to 10 halfway
//! (`resize`), and the semaphore is closed on shutdown so late calls fail cleanly.
//!
//! Run with `cargo run --example reconcile`. Offline, a few seconds, exits 0.
//!
//! With `--shared redis://host:port` (and `--features redis-tokio`), the limit of 5 is a
//! `RedisSemaphore` shared by every copy of the program that runs against that Redis: start
//! several at once and the bank still sees at most 5 calls, counted in Redis across all copies
//! (the local `Semaphore::new(5)` would let 5 per copy through). Each copy reconciles 500
//! records; the shared total stays 5 (a `resize` would change it for every copy at once).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[cfg(feature = "redis-tokio")]
use taskgroup::RedisSemaphore;
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
    /// `--shared`: the most calls in flight across every copy, as the gauge in Redis saw them.
    peak_shared: AtomicUsize,
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

/// Where the permit for a bank call comes from: the local `static`, or Redis (`--shared`).
enum Bank {
    Local,
    #[cfg(feature = "redis-tokio")]
    Shared {
        sem: RedisSemaphore,
        /// A plain connection for the gauge: calls in flight across every copy.
        gauge: redis::aio::MultiplexedConnection,
    },
}

#[cfg(feature = "redis-tokio")]
const GAUGE: &str = "taskgroup-example:{reconcile}:in-flight";

async fn reconcile(
    bank: &Bank,
    record: usize,
    scaled: bool,
    totals: &Totals,
) -> Result<(), AcquireError> {
    match bank {
        Bank::Local => {
            let _call = BANK_API.acquire().await?; // waits its turn, FIFO
            call_bank(record, scaled, totals).await;
        }
        #[cfg(feature = "redis-tokio")]
        Bank::Shared { sem, gauge } => {
            let _call = sem.acquire().await?; // FIFO across every copy
            let mut gauge = gauge.clone();
            let everywhere: usize = redis::cmd("INCR")
                .arg(GAUGE)
                .query_async(&mut gauge)
                .await
                .unwrap();
            totals.peak_shared.fetch_max(everywhere, Ordering::SeqCst);
            call_bank(record, scaled, totals).await;
            let _: i64 = redis::cmd("DECR")
                .arg(GAUGE)
                .query_async(&mut gauge)
                .await
                .unwrap();
        }
    }
    Ok(())
}

async fn call_bank(record: usize, scaled: bool, totals: &Totals) {
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
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bank = match args.iter().position(|a| a == "--shared") {
        None => Bank::Local,
        Some(i) => shared_bank(args.get(i + 1).expect("--shared needs a redis:// URL")).await,
    };
    let shared = !matches!(bank, Bank::Local);
    let records = if shared { 500 } else { RECORDS };
    let bank = Arc::new(bank);
    let totals = Arc::new(Totals::default());
    let started = Instant::now();
    println!(
        "reconciling {records} records, at most 5 bank calls at once{}",
        if shared {
            " across every copy (--shared)"
        } else {
            ""
        }
    );

    let run_half = |range: std::ops::Range<usize>, scaled: bool| {
        let wg = AsyncWaitGroup::new();
        for record in range {
            let (bank, totals) = (bank.clone(), totals.clone());
            tokio::spawn(wg.track(async move {
                reconcile(&bank, record, scaled, &totals)
                    .await
                    .expect("open");
            }));
        }
        wg
    };

    if shared {
        run_half(0..records, false).wait().await;
        finish_shared(&bank, &totals, records, started).await;
        return;
    }

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
    let late = reconcile(&bank, RECORDS, true, &totals).await;
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

#[cfg(feature = "redis-tokio")]
async fn shared_bank(url: &str) -> Bank {
    let sem = RedisSemaphore::new(url, "reconcile-bank", 5)
        .expect("a redis:// URL")
        .with_lease(Duration::from_secs(6)); // a crashed copy's permits come back within 6 s
    let gauge = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("Redis reachable");
    Bank::Shared { sem, gauge }
}

#[cfg(not(feature = "redis-tokio"))]
async fn shared_bank(_url: &str) -> Bank {
    eprintln!("--shared needs `cargo run --example reconcile --features redis-tokio -- --shared redis://...`");
    std::process::exit(2);
}

async fn finish_shared(bank: &Bank, totals: &Totals, records: usize, started: Instant) {
    let (m, mm, f) = (
        totals.matched.load(Ordering::Relaxed),
        totals.mismatched.load(Ordering::Relaxed),
        totals.failed.load(Ordering::Relaxed),
    );
    let here = totals.peak_before.load(Ordering::SeqCst);
    let everywhere = totals.peak_shared.load(Ordering::SeqCst);
    println!(
        "  matched {m}, mismatched {mm}, failed {f} in {:.2?}",
        started.elapsed()
    );
    println!("  peak {here} calls at once in this copy, {everywhere} across every copy (limit 5)");
    assert_eq!(m + mm + f, records);
    assert!(
        everywhere <= 5,
        "{everywhere} calls at once across the copies"
    );
    #[cfg(feature = "redis-tokio")]
    if let Bank::Shared { sem, .. } = bank {
        sem.close(); // this copy's later calls fail; the other copies go on
        assert_eq!(sem.acquire().await.unwrap_err(), AcquireError::Closed);
    }
    let _ = bank;
}
