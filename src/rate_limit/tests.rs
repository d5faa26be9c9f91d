//! The rate limiter's unit tests: the reservation core on virtual time, the futures' edge cases,
//! bad input and the errors.

use super::*;
use futures::task::noop_waker_ref;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

const MS: Duration = Duration::from_millis(1);

fn poll<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(noop_waker_ref()))
}

fn at(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

#[test]
fn bookings_are_spaced_one_interval_apart_after_the_burst() {
    let limiter = RateLimiter::new(10, Duration::from_secs(1)).with_burst(3);
    let starts: Vec<_> = (0..6)
        .map(|_| limiter.reserve_at(1, at(0)).unwrap().start())
        .collect();
    assert_eq!(starts, [at(0), at(0), at(0), at(100), at(200), at(300)]);
}

#[test]
fn an_idle_limiter_refills_up_to_one_burst() {
    let limiter = RateLimiter::new(10, Duration::from_secs(1)).with_burst(2);
    for _ in 0..2 {
        assert!(limiter.try_acquire_at(1, at(0)).is_ok());
    }
    assert_eq!(limiter.try_acquire_at(1, at(0)), Err(Some(at(100))));
    assert!(limiter.try_acquire_at(1, at(100)).is_ok());
    // A long pause refills two, not more.
    assert!(limiter.try_acquire_at(2, at(10_000)).is_ok());
    assert_eq!(limiter.try_acquire_at(1, at(10_000)), Err(Some(at(10_100))));
}

#[test]
fn try_acquire_never_barges_past_a_booking() {
    let limiter = RateLimiter::new(10, Duration::from_secs(1)).with_burst(2);
    assert!(limiter.try_acquire_at(1, at(0)).is_ok());
    let waiter = limiter.reserve_at(2, at(0)).unwrap();
    assert_eq!(waiter.start(), at(100));
    assert_eq!(limiter.try_acquire_at(1, at(50)), Err(Some(at(200))));
}

#[test]
fn the_latest_booking_gives_its_slot_back_and_others_keep_theirs() {
    let limiter = RateLimiter::new(10, Duration::from_secs(1));
    let first = limiter.reserve_at(1, at(0)).unwrap();
    let second = limiter.reserve_at(1, at(0)).unwrap();
    let third = limiter.reserve_at(1, at(0)).unwrap();
    assert!(!limiter.give_back(&second), "not the latest");
    assert!(limiter.give_back(&third));
    assert_eq!(limiter.reserve_at(1, at(0)).unwrap().start(), at(200));
    assert_eq!(first.start(), at(0));
}

#[test]
fn give_backs_in_reverse_order_unwind_every_booking() {
    let limiter = RateLimiter::new(10, Duration::from_secs(1));
    let a = limiter.reserve_at(1, at(0)).unwrap();
    let b = limiter.reserve_at(1, at(0)).unwrap();
    assert!(limiter.give_back(&b));
    assert!(limiter.give_back(&a));
    assert!(limiter.try_acquire_at(1, at(0)).is_ok());
}

#[test]
fn set_rate_spaces_new_slots_after_the_booked_ones() {
    let limiter = RateLimiter::new(10, Duration::from_secs(1)).with_burst(3);
    for _ in 0..4 {
        limiter.reserve_at(1, at(0)).unwrap(); // 0, 0, 0, 100
    }
    limiter.set_rate(1, Duration::from_secs(1)); // slower: the burst tolerance grows
    assert_eq!(limiter.reserve_at(1, at(0)).unwrap().start(), at(1100));
    limiter.set_rate(100, Duration::from_secs(1)); // faster
    assert_eq!(limiter.reserve_at(1, at(0)).unwrap().start(), at(1110));
}

#[test]
fn too_large_and_zero_requests() {
    let limiter = RateLimiter::new(10, Duration::from_secs(1)).with_burst(2);
    assert_eq!(
        poll(&mut limiter.acquire_many(3)),
        Poll::Ready(Err(RateLimitError::TooLarge {
            requested: 3,
            burst: 2
        }))
    );
    assert_eq!(
        limiter.try_acquire_many(3),
        Err(TryRateLimitError::TooLarge {
            requested: 3,
            burst: 2
        })
    );
    for _ in 0..2 {
        limiter.try_acquire().unwrap();
    }
    assert_eq!(poll(&mut limiter.acquire_many(0)), Poll::Ready(Ok(())));
    assert_eq!(limiter.try_acquire_many(0), Ok(()));
}

#[test]
#[cfg_attr(miri, ignore)] // async-io's timer needs epoll and timerfd
fn a_dropped_waiter_that_was_last_gives_its_slot_back() {
    let limiter = RateLimiter::new(1, Duration::from_secs(3600));
    assert_eq!(poll(&mut limiter.acquire()), Poll::Ready(Ok(())));
    let mut waiter = limiter.acquire();
    assert!(poll(&mut waiter).is_pending());
    assert!(format!("{limiter:?}").contains("booked_ahead: 3599"));
    drop(waiter);
    assert!(
        format!("{limiter:?}").contains("booked_ahead: 0ns"),
        "{limiter:?}"
    );
}

#[test]
fn an_acquire_dropped_before_its_first_poll_books_nothing() {
    let limiter = RateLimiter::new(1, Duration::from_secs(3600));
    drop(limiter.acquire());
    assert!(limiter.try_acquire().is_ok());
}

#[test]
fn intervals_round_up_and_bad_input_panics_with_a_message() {
    assert_eq!(interval("new", 3, Duration::from_secs(1)), 333_333_334);
    assert_eq!(interval("new", u32::MAX, Duration::from_nanos(1)), 1);
    let msg = |r: std::thread::Result<RateLimiter>| {
        let e = r.unwrap_err();
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap()
    };
    assert!(msg(std::panic::catch_unwind(|| RateLimiter::new(0, MS))).contains("rate must"));
    assert!(msg(std::panic::catch_unwind(|| RateLimiter::new(
        1,
        Duration::ZERO
    )))
    .contains("`per` must"));
    assert!(msg(std::panic::catch_unwind(
        || RateLimiter::new(1, MS).with_burst(0)
    ))
    .contains("burst must"));
    let limiter = RateLimiter::new(1, MS);
    assert!(std::panic::catch_unwind(|| limiter.set_rate(0, MS)).is_err());
}

#[test]
fn a_burst_spanning_more_than_146_years_is_refused_and_one_within_is_granted_in_full() {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    // Within the span: the whole burst at once, then a slot a century away.
    let limiter = RateLimiter::new(1, CENTURY);
    assert!(limiter.try_acquire().is_ok());
    let err = limiter.try_acquire().unwrap_err();
    assert!(err.earliest() > Instant::now() + CENTURY / 2);
    assert!(limiter.reserve_at(1, at(0)).unwrap().start() >= CENTURY);
    let limiter = RateLimiter::new(1, RateLimiter::MAX_SPAN / 3).with_burst(3);
    for _ in 0..3 {
        assert!(
            limiter.try_acquire().is_ok(),
            "a new limiter has its full burst"
        );
    }
    assert!(limiter.try_acquire().is_err());

    // Beyond it: a clear panic at the call, never a burst silently withheld.
    let message = |f: fn()| {
        let err = std::panic::catch_unwind(f).unwrap_err();
        err.downcast_ref::<String>().cloned().unwrap_or_default()
    };
    let msg = message(|| {
        let _ = RateLimiter::new(1, Duration::MAX);
    });
    assert!(
        msg.contains("RateLimiter::new") && msg.contains("MAX_SPAN"),
        "{msg}"
    );
    let msg = message(|| {
        let _ = RateLimiter::new(1, CENTURY).with_burst(2);
    });
    assert!(
        msg.contains("with_burst") && msg.contains("a burst of 2"),
        "{msg}"
    );
    let msg = message(|| RateLimiter::new(1, CENTURY).set_rate(1, 2 * CENTURY));
    assert!(msg.contains("set_rate"), "{msg}");
}

#[test]
fn debug_shows_rate_per_burst_and_how_far_ahead_it_is_booked() {
    let limiter = RateLimiter::new(20, Duration::from_secs(1)).with_burst(4);
    assert_eq!(
        format!("{limiter:?}"),
        "RateLimiter { rate: 20, per: 1s, burst: 4, booked_ahead: 0ns }"
    );
}

#[test]
fn errors_display_in_lowercase_without_a_period() {
    let e = RateLimitError::TooLarge {
        requested: 9,
        burst: 4,
    };
    assert_eq!(
        e.to_string(),
        "requested 9 slots at once from a rate limiter with a burst of 4"
    );
    let limiter = RateLimiter::new(1, Duration::from_secs(10));
    limiter.try_acquire().unwrap();
    let e = TryRateLimitError::from(limiter.try_acquire().unwrap_err());
    assert!(
        e.to_string().starts_with("rate limited: next slot in 9."),
        "{e}"
    );
    assert!(e.source().is_some());
}
