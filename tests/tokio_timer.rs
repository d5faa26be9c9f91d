//! The `tokio` feature: under a tokio runtime, timeouts and rate-limiter grants run on tokio's
//! timer, so its paused test clock (`start_paused`, `time::advance`) drives them as it drives
//! `tokio::time::timeout`. Real time is measured with std's `Instant`, virtual time with
//! tokio's.
#![cfg(all(feature = "tokio", not(loom)))]

use std::future::{pending, Future};
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::task::noop_waker_ref;
use taskgroup::{RateLimiter, TimeoutExt};

/// Polls once with a noop waker: the `time::advance` tests drive the future by hand.
fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(noop_waker_ref()))
}

#[tokio::test(start_paused = true)]
async fn a_60_s_timeout_fires_on_the_paused_clock_at_once() {
    let real = Instant::now();
    let virtual_start = tokio::time::Instant::now();

    let err = pending::<()>()
        .timeout(Duration::from_secs(60))
        .await
        .unwrap_err();

    let real = real.elapsed();
    let advanced = virtual_start.elapsed();
    println!("60 s timeout: {real:?} of real time, {advanced:?} on the paused clock");
    assert!(real < Duration::from_secs(1), "took {real:?} of real time");
    assert!(advanced >= Duration::from_secs(60), "{advanced:?}");
    // Measured on the clock that fired: the virtual minute, not the microseconds of real time.
    assert!(err.waited() >= Duration::from_secs(60), "{err}");
    assert!(err.waited() < Duration::from_secs(61), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_timeout_at_a_std_deadline_keeps_its_remaining_time_on_the_paused_clock() {
    let real = Instant::now();
    let virtual_start = tokio::time::Instant::now();

    let deadline = Instant::now() + Duration::from_secs(45);
    let err = pending::<()>().timeout_at(deadline).await.unwrap_err();

    let advanced = virtual_start.elapsed();
    println!(
        "45 s timeout_at: {:?} of real time, {advanced:?} on the paused clock",
        real.elapsed()
    );
    assert!(real.elapsed() < Duration::from_secs(1));
    assert!(advanced >= Duration::from_secs(44), "{advanced:?}");
    assert!(advanced < Duration::from_secs(46), "{advanced:?}");
    assert!(err.waited() >= Duration::from_secs(44), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_slow_rate_limiter_grants_on_the_paused_clock() {
    let real = Instant::now();
    let virtual_start = tokio::time::Instant::now();
    let limiter = RateLimiter::new(1, Duration::from_secs(30));

    limiter.acquire().await.unwrap(); // the free slot
    limiter.acquire().await.unwrap(); // 30 s later, on the paused clock

    let real = real.elapsed();
    let advanced = virtual_start.elapsed();
    println!("second grant at 1 per 30 s: {real:?} of real time, {advanced:?} on the paused clock");
    assert!(real < Duration::from_secs(1), "took {real:?} of real time");
    assert!(advanced >= Duration::from_secs(30), "{advanced:?}");
    assert!(advanced < Duration::from_secs(31), "{advanced:?}");
}

#[tokio::test(start_paused = true)]
async fn an_idle_limiter_grants_one_burst_at_once_however_long_it_idled() {
    // Every grant reads the clock, so time that passed while the bucket was already full is not
    // counted twice. The shortcut of granting from capacity "known to have accrued" without a
    // clock read (leaky-bucket's unfair mode) fails this: it grants the 9 slots it knew of, then
    // reads the clock and refills a full 10 (on real time, a full leaky-bucket of 10 grants 20 at
    // once after 2 s idle; see `src/rate_limit/gcra.rs`, "Why every grant reads the clock").
    let limiter = RateLimiter::new(10, Duration::from_secs(1)).with_burst(10);
    limiter.try_acquire().unwrap(); // the clock was read with 9 slots left
    tokio::time::advance(Duration::from_secs(2)).await;
    let mut granted = 0;
    while limiter.try_acquire().is_ok() {
        granted += 1;
    }
    assert_eq!(granted, 10, "one burst, however long the limiter idled");
    tokio::time::advance(Duration::from_secs(2)).await;
    granted = 0;
    while limiter.try_acquire().is_ok() {
        granted += 1;
    }
    assert_eq!(granted, 10, "a full bucket again, not two");
    tokio::time::advance(Duration::from_millis(100)).await;
    assert!(
        limiter.try_acquire().is_ok(),
        "one slot a tenth of a second later"
    );
    assert!(limiter.try_acquire().is_err(), "and only one");
}

#[tokio::test(start_paused = true)]
async fn rate_limiter_grants_keep_their_spacing_on_the_paused_clock() {
    // The limiter reads the paused clock too: grant k comes at k × 30 s of virtual time, not
    // later and later as it would if the limiter kept std's clock while tokio's jumped ahead.
    let start = tokio::time::Instant::now();
    let limiter = RateLimiter::new(1, Duration::from_secs(30));
    let mut at = Vec::new();
    for _ in 0..5 {
        limiter.acquire().await.unwrap();
        at.push(start.elapsed().as_secs());
    }
    assert_eq!(at, [0, 30, 60, 90, 120]);
}

#[tokio::test(start_paused = true)]
async fn a_10_s_timeout_fires_after_10_s_of_advance_not_9() {
    let mut t = pin!(pending::<()>().timeout(Duration::from_secs(10)));
    assert!(poll_once(t.as_mut()).is_pending()); // armed: the clock starts here

    tokio::time::advance(Duration::from_secs(9)).await;
    assert!(poll_once(t.as_mut()).is_pending(), "fired after 9 s");

    tokio::time::advance(Duration::from_secs(1)).await;
    match poll_once(t.as_mut()) {
        Poll::Ready(Err(elapsed)) => assert_eq!(elapsed.waited(), Duration::from_secs(10)),
        other => panic!("not fired after 10 s: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_rate_limiter_grant_waits_for_advance_on_the_paused_clock() {
    let limiter = RateLimiter::new(1, Duration::from_secs(10));
    limiter.try_acquire().unwrap();
    let mut next = pin!(limiter.acquire());
    assert!(poll_once(next.as_mut()).is_pending()); // booked 10 s from now

    tokio::time::advance(Duration::from_secs(9)).await;
    assert!(poll_once(next.as_mut()).is_pending(), "granted after 9 s");

    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(matches!(poll_once(next.as_mut()), Poll::Ready(Ok(()))));
}

#[tokio::test(start_paused = true)]
async fn a_ready_future_wins_and_arms_no_timer_under_tokio() {
    let start = tokio::time::Instant::now();
    assert_eq!(async { 7 }.timeout(Duration::ZERO).await, Ok(7));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[test]
fn without_a_runtime_the_feature_build_keeps_async_io() {
    // No tokio runtime current: async-io's timer on std's clock, as without the feature.
    let real = Instant::now();
    let err = futures::executor::block_on(pending::<()>().timeout(Duration::from_millis(20)))
        .unwrap_err();
    assert!(err.waited() >= Duration::from_millis(20), "{err}");
    assert!(real.elapsed() >= Duration::from_millis(20));

    let limiter = RateLimiter::new(1, Duration::from_millis(20));
    let real = Instant::now();
    futures::executor::block_on(async {
        limiter.acquire().await.unwrap();
        limiter.acquire().await.unwrap();
    });
    assert!(real.elapsed() >= Duration::from_millis(19));
}

#[test]
fn a_runtime_without_a_paused_clock_fires_on_real_time() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let real = Instant::now();
    let err = rt
        .block_on(pending::<()>().timeout(Duration::from_millis(20)))
        .unwrap_err();
    assert!(real.elapsed() >= Duration::from_millis(20));
    assert!(err.waited() >= Duration::from_millis(20), "{err}");
}
