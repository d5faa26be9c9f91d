//! Property test of `RedisRateLimiter`'s give-back against a real `redis-server`: waiters book
//! slots, a random subset is dropped in a random order, and the limit's next free slot must be
//! where a model of the compare-and-set says (a dropped booking comes back only while it is the
//! latest; the others stay unused and move nobody). Each give-back is sent from a detached task;
//! the test waits until the server has run it (`INFO commandstats`) before the next drop, so
//! the order in which they land is the drop order.

#![cfg(all(feature = "redis-tokio", feature = "redis-smol"))]

mod redis_common;

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use redis_common::RedisServer;
use taskgroup::{RedisRateLimiter, TryRateLimitError};

const HOUR: Duration = Duration::from_secs(3600);

/// Waits (bounded) until the server has run `count` scripts since the last reset.
fn wait_for_scripts(server: &RedisServer, count: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ran = server.calls("evalsha") + server.calls("eval");
        assert!(ran <= count, "{ran} scripts run, {count} expected");
        if ran == count {
            return;
        }
        assert!(Instant::now() < deadline, "{ran} of {count} scripts ran");
        std::thread::yield_now();
    }
}

fn check(server: &RedisServer, waiters: usize, dropped: Vec<usize>) {
    static CASE: AtomicU32 = AtomicU32::new(0);
    let name = format!("props-{}", CASE.fetch_add(1, Ordering::Relaxed));
    let limiter = RedisRateLimiter::new(&server.url(), &name, 1, HOUR)
        .unwrap()
        .with_timeout(Duration::from_secs(5));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    server.reset_stats();
    let mut scripts = 0;
    // Slot 0 is free; waiter i (1-based) books slot i.
    rt.block_on(limiter.acquire()).unwrap();
    scripts += 1;
    let mut pending: Vec<_> = (0..waiters)
        .map(|_| {
            let mut waiter = limiter.acquire();
            rt.block_on(poll_fn(|cx| {
                assert!(Pin::new(&mut waiter).poll(cx).is_pending());
                if format!("{waiter:?}").contains("waiting") {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }));
            scripts += 1;
            Some(waiter)
        })
        .collect();
    // The model: the latest booked slot.
    let mut latest = waiters;
    for i in dropped {
        let _enter = rt.enter(); // the give-back task runs on this runtime
        drop(pending[i - 1].take().unwrap());
        scripts += 1;
        wait_for_scripts(server, scripts);
        // One compare-and-set at the drop: back only if it is the latest booking, and then
        // the latest is the one booked before it (even if that one was dropped earlier, when
        // it could not come back: it stays unused).
        if latest == i {
            latest = i - 1;
        }
    }
    // The next free slot is the one after `latest`.
    let asked = Instant::now();
    match rt.block_on(limiter.try_acquire()) {
        Err(TryRateLimitError::NotUntil(later)) => {
            let wait = later.wait_time_from(asked);
            let expected = HOUR * (latest as u32 + 1);
            assert!(
                // A second of leeway: the wait is from the answer's arrival, the check
                // from before the request.
                wait <= expected + Duration::from_secs(1) && wait > expected - HOUR,
                "next slot in {wait:?}, model says slot {}",
                latest + 1
            );
        }
        other => panic!("{other:?}"),
    }
    // The waiters not dropped still wait for their slots.
    for waiter in pending.iter().flatten() {
        assert!(format!("{waiter:?}").contains("waiting"), "{waiter:?}");
    }
    scripts += 1; // the try
                  // Drop the rest and let their give-backs land before the next case resets the counts.
    let left = pending.iter().flatten().count() as u64;
    let _enter = rt.enter();
    drop(pending);
    wait_for_scripts(server, scripts + left);
}

/// `waiters` bookings and a drop order over a subset of them (1-based slot numbers).
fn case() -> impl Strategy<Value = (usize, Vec<usize>)> {
    (1..=5usize).prop_flat_map(|waiters| {
        let order = Just((1..=waiters).collect::<Vec<_>>()).prop_shuffle();
        (Just(waiters), order, 0..=waiters)
            .prop_map(|(waiters, order, n)| (waiters, order[..n].to_vec()))
    })
}

#[test]
fn dropped_bookings_come_back_exactly_as_the_compare_and_set_model_says() {
    let server = RedisServer::start();
    // The server learns the script now (`NOSCRIPT`, then `EVAL`): the cases count one
    // `EVALSHA` per script run.
    let warm = RedisRateLimiter::new(&server.url(), "warm", 1, HOUR).unwrap();
    futures::executor::block_on(warm.acquire()).unwrap();
    let config = ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |((waiters, dropped) in case())| {
        check(&server, waiters, dropped);
    });
}
