//! Property tests for `RateLimiter` (moved here from `tests/` because the reservation core they
//! drive on virtual time is private to the crate).
//!
//! - On virtual time, through the clock-independent reservation core: random arrivals (one or
//!   more slots, booked or tried), random drops of waiting bookings and random pauses. The window
//!   bound holds exactly (at most `burst + len / interval` slots start in any window of length
//!   `len`), grants come in booking order, `try_*` never succeeds past a booking, and a dropped
//!   booking that was the latest leaves the limiter as if it had never been made.
//! - The same with random `set_rate` calls: order and no-barging still hold.
//! - On real time, with hand-polled `acquire_many` futures and a counting waker: random
//!   acquires, polls and drops; grants in order, each waiting grant woken exactly once, and the
//!   window bound with generous slack for late wake-ups.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use super::gcra::RateBooking;
use super::{RateAcquire, RateLimiter};

/// Failure seeds go to `props.proptest-regressions` beside this file (proptest's default for a
/// file under `src/` is a `proptest-regressions/` tree at the crate root).
fn regressions() -> Option<Box<dyn proptest::test_runner::FailurePersistence>> {
    Some(Box::new(FileFailurePersistence::WithSource(
        "proptest-regressions",
    )))
}

#[derive(Debug, Clone)]
enum Op {
    /// After `pause` µs, book `n` slots (what an acquire's first poll does).
    Reserve { n: u32, pause: u64 },
    /// After `pause` µs, try to take `n` slots.
    Try { n: u32, pause: u64 },
    /// Drop the `i`-th waiting booking (modulo how many there are).
    Drop(usize),
    /// Let `pause` µs pass.
    Wait(u64),
    /// Set the rate to `rate` per second (only in the `set_rate` property).
    SetRate(u32),
}

fn op(with_set_rate: bool) -> impl Strategy<Value = Op> {
    let pause = prop_oneof![3 => Just(0u64), 2 => 0..3_000u64, 1 => 0..40_000u64];
    let set_rate = if with_set_rate { 1 } else { 0 };
    prop_oneof![
        6 => (1..4u32, pause.clone()).prop_map(|(n, pause)| Op::Reserve { n, pause }),
        3 => (0..4u32, pause.clone()).prop_map(|(n, pause)| Op::Try { n, pause }),
        2 => (0..8usize).prop_map(Op::Drop),
        2 => pause.prop_map(Op::Wait),
        set_rate => (1..2_000u32).prop_map(Op::SetRate),
    ]
}

/// A booking not yet dropped, in booking order.
struct Booked {
    id: usize,
    booking: RateBooking,
    n: u32,
}

/// What last changed the limiter's horizon: a booking (by id) or a successful `try_*`. A
/// give-back undoes the top one, so it succeeds exactly when the top is that booking.
#[derive(Debug, PartialEq)]
enum Change {
    Booking(usize),
    Try,
}

/// Runs `ops` on virtual time; returns the grants `(start, slots)`, sorted by start.
fn simulate(
    limiter: &RateLimiter,
    burst: u32,
    ops: &[Op],
) -> Result<Vec<(Duration, u32)>, TestCaseError> {
    let mut now = Duration::ZERO;
    let mut booked: Vec<Booked> = Vec::new(); // live bookings, in booking order
    let mut tried: Vec<(Duration, u32)> = Vec::new(); // successful tries
    let mut changes: Vec<Change> = Vec::new();
    let mut next_id = 0;
    for op in ops {
        // The latest start among live bookings and tries: nothing may be granted before it.
        let latest_start = booked
            .iter()
            .map(|b| b.booking.start())
            .chain(tried.iter().map(|t| t.0))
            .max()
            .unwrap_or(Duration::ZERO);
        match *op {
            Op::Reserve { n, pause } => {
                now += Duration::from_micros(pause);
                if n > burst {
                    prop_assert!(limiter.reserve_at(n, now).is_err());
                    continue;
                }
                let booking = limiter.reserve_at(n, now).unwrap();
                prop_assert!(booking.start() >= now, "a slot in the past");
                prop_assert!(
                    booking.start() >= latest_start,
                    "booked ahead of an earlier booking"
                );
                booked.push(Booked {
                    id: next_id,
                    booking,
                    n,
                });
                changes.push(Change::Booking(next_id));
                next_id += 1;
            }
            Op::Try { n, pause } => {
                now += Duration::from_micros(pause);
                let waiting = booked.iter().any(|b| b.booking.start() > now);
                match limiter.try_acquire_at(n, now) {
                    Ok(()) => {
                        prop_assert!(n <= burst);
                        if n > 0 {
                            prop_assert!(!waiting, "try_acquire barged past a waiter");
                            prop_assert!(latest_start <= now);
                            tried.push((now, n));
                            changes.push(Change::Try);
                        }
                    }
                    Err(None) => prop_assert!(n > burst),
                    Err(Some(earliest)) => {
                        prop_assert!(n > 0 && n <= burst);
                        prop_assert!(earliest > now);
                        // The slots it names are free then: a booking made at that time goes
                        // at once (probed by booking and giving back).
                        let probe = limiter.reserve_at(n, earliest).unwrap();
                        prop_assert_eq!(probe.start(), earliest);
                        prop_assert!(limiter.give_back(&probe));
                    }
                }
            }
            Op::Drop(i) => {
                let waiting: Vec<usize> = (0..booked.len())
                    .filter(|&k| booked[k].booking.start() > now)
                    .collect();
                if waiting.is_empty() {
                    continue;
                }
                let dropped = booked.remove(waiting[i % waiting.len()]);
                let latest = changes.last() == Some(&Change::Booking(dropped.id));
                // Only the latest change can be undone.
                prop_assert_eq!(limiter.give_back(&dropped.booking), latest);
                if latest {
                    changes.pop();
                }
            }
            Op::Wait(pause) => now += Duration::from_micros(pause),
            Op::SetRate(rate) => limiter.set_rate(rate, Duration::from_secs(1)),
        }
    }
    // Every remaining booking's slot comes (a perfect timer fires at its start).
    let mut all = tried;
    all.extend(booked.iter().map(|b| (b.booking.start(), b.n)));
    all.sort_by_key(|g| g.0);
    Ok(all)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 2 } else { 1024 },
        failure_persistence: regressions(),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_window_bound_holds_exactly_on_virtual_time(
        rate in 100..5_000u32,
        burst in 1..5u32,
        ops in prop::collection::vec(op(false), 1..80),
    ) {
        let limiter = RateLimiter::new(rate, Duration::from_secs(1)).with_burst(burst);
        let interval = Duration::from_secs(1).as_nanos().div_ceil(u128::from(rate));
        let grants = simulate(&limiter, burst, &ops)?;
        for i in 0..grants.len() {
            let mut slots = 0;
            for g in &grants[i..] {
                slots += g.1;
                let len = (g.0 - grants[i].0).as_nanos();
                let allowed = burst + (len / interval) as u32;
                prop_assert!(slots <= allowed, "{} slots within {}ns, allowed {}", slots, len, allowed);
            }
        }
    }

    #[test]
    fn order_and_no_barging_hold_across_set_rate(
        rate in 1..5_000u32,
        burst in 1..5u32,
        ops in prop::collection::vec(op(true), 1..80),
    ) {
        let limiter = RateLimiter::new(rate, Duration::from_secs(1)).with_burst(burst);
        simulate(&limiter, burst, &ops)?;
    }
}

#[derive(Default)]
struct CountingWaker {
    wakes: AtomicUsize,
    /// The test thread, parked while it waits for the limiter's timers.
    thread: std::sync::OnceLock<std::thread::Thread>,
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }
}

struct Waiting<'a> {
    id: usize,
    n: u32,
    fut: RateAcquire<'a>,
    waker: Arc<CountingWaker>,
    polled_pending: bool,
}

#[derive(Debug, Clone)]
enum RealOp {
    Acquire(u32),
    PollAll,
    Drop(usize),
}

fn real_op() -> impl Strategy<Value = RealOp> {
    prop_oneof![
        5 => (0..4u32).prop_map(RealOp::Acquire),
        2 => Just(RealOp::PollAll),
        1 => (0..8usize).prop_map(RealOp::Drop),
    ]
}

/// Polls every waiter once, oldest first (a future books at its first poll, so this is also
/// the booking order); records grants as `(id, when, slots)`. Checks that a waiting grant was
/// woken at most once (its timer), and that whenever a later booking is granted, every earlier
/// one's slot has come too (polled again, it is ready): FIFO, whatever the thread's delays
/// between two polls.
fn poll_all(
    waiting: &mut Vec<Waiting<'_>>,
    grants: &mut Vec<(usize, Instant, u32)>,
) -> Result<(), TestCaseError> {
    fn poll_one(w: &mut Waiting<'_>) -> Result<bool, TestCaseError> {
        let waker = Waker::from(w.waker.clone());
        let wakes_before = w.waker.wakes.load(Ordering::SeqCst);
        match Pin::new(&mut w.fut).poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(Ok(())) => {
                prop_assert!(wakes_before <= 1, "{} wake-ups for one grant", wakes_before);
                if !w.polled_pending {
                    prop_assert_eq!(wakes_before, 0);
                }
                Ok(true)
            }
            Poll::Ready(Err(e)) => Err(TestCaseError::fail(format!("unexpected {e}"))),
            Poll::Pending => {
                prop_assert_eq!(wakes_before, 0, "woken before its slot");
                w.polled_pending = true;
                Ok(false)
            }
        }
    }
    let mut still: Vec<Waiting<'_>> = Vec::new();
    for mut w in std::mem::take(waiting) {
        if !poll_one(&mut w)? {
            still.push(w);
            continue;
        }
        if w.n > 0 {
            // Every earlier booking still pending must be ready now: its slot came first.
            let mut kept = Vec::new();
            for mut earlier in still.drain(..) {
                if earlier.n == 0 {
                    kept.push(earlier);
                    continue;
                }
                prop_assert!(
                    poll_one(&mut earlier)?,
                    "granted ahead of an earlier booking"
                );
                grants.push((earlier.id, Instant::now(), earlier.n));
            }
            still = kept;
        }
        grants.push((w.id, Instant::now(), w.n));
    }
    *waiting = still;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 2 } else { 24 },
        failure_persistence: regressions(),
        ..ProptestConfig::default()
    })]

    #[test]
    #[cfg_attr(miri, ignore)] // async-io's timer needs epoll and timerfd
    fn hand_polled_acquires_are_granted_in_order_and_woken_once(
        burst in 1..4u32,
        ops in prop::collection::vec(real_op(), 1..30),
    ) {
        let interval = Duration::from_millis(1);
        let limiter = RateLimiter::new(1000, Duration::from_secs(1)).with_burst(burst);
        let mut waiting: Vec<Waiting<'_>> = Vec::new();
        let mut grants = Vec::new();
        let mut next_id = 0;
        for op in ops {
            match op {
                RealOp::Acquire(n) => {
                    let n = n.min(burst);
                    let waker = Arc::new(CountingWaker::default());
                    waker.thread.set(std::thread::current()).unwrap();
                    waiting.push(Waiting { id: next_id, n, fut: limiter.acquire_many(n), waker, polled_pending: false });
                    next_id += 1;
                }
                RealOp::PollAll => poll_all(&mut waiting, &mut grants)?,
                RealOp::Drop(i) => if !waiting.is_empty() {
                    let i = i % waiting.len();
                    waiting.remove(i);
                },
            }
        }
        // Book what was never polled, then wait for the limiter's timers, parked between wakes.
        poll_all(&mut waiting, &mut grants)?;
        // The head's timer fires first; a wake-up that never came fails the case.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !waiting.is_empty() {
            while waiting[0].waker.wakes.load(Ordering::SeqCst) == 0 {
                prop_assert!(Instant::now() < deadline, "the head's wake-up never came");
                std::thread::park_timeout(Duration::from_millis(500));
            }
            poll_all(&mut waiting, &mut grants)?;
        }
        // The window bound, with 20 ms of slack for wake-ups that came late.
        let slack = Duration::from_millis(20);
        for i in 0..grants.len() {
            let mut slots = 0;
            for g in &grants[i..] {
                slots += g.2;
                let len = g.1 - grants[i].1 + slack;
                let allowed = burst + (len.as_nanos() / interval.as_nanos()) as u32;
                prop_assert!(slots <= allowed, "{} slots in {:?}", slots, g.1 - grants[i].1);
            }
        }
    }
}
