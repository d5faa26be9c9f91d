//! The rate limiter's engine: the GCRA reservation core over one atomic word, and the
//! limiter's clock, private to the [`RateLimiter`] whose public front is the parent module.
//!
//! # The engine
//!
//! A generic cell rate algorithm (GCRA) in its virtual-scheduling form, over one atomic word.
//! Time is a `u64` of nanoseconds on the limiter's own clock: [`ORIGIN`] plus the time since the
//! limiter was created. The word, `booked`, is the start of the latest booked slot (once the
//! bucket is in debt); every request of `n` slots, with `T = per / rate` and burst `b`, does
//!
//! ```text
//! before = max(booked, now - b·T)   // an idle limiter refills, up to a full burst
//! after  = before + n·T             // the new value of `booked`
//! start  = max(after, now)          // when this request may go
//! ```
//!
//! in one compare-and-swap. A request is booked in the order of those CASes (the order in which
//! callers first polled), and its start never comes before an earlier booking's, so a thousand
//! waiters cost one timer each and wake one at a time, at their own slot. Any run of grants
//! `i..=k` whose starts fall in a window of length `L` has `booked` grow by their total cost from
//! at least `start_i - b·T + n_i·T` to at most `start_k`, so they hold at most `b + L / T` slots:
//! the window bound.
//!
//! Because `booked` holds a start time and not a count of tokens, a change of rate needs no
//! conversion: slots already booked keep their times, and the next booking is spaced at the new
//! interval after them (FIFO holds across [`RateLimiter::set_rate`]).
//!
//! A waiter that is dropped before its slot swaps `booked` back from its `after` to its `before`,
//! which succeeds only if nobody booked after it; otherwise its slot stays unused and those behind
//! it keep theirs.

use std::time::{Duration, Instant};

#[cfg(test)]
use super::RateLimitError;
use super::RateLimiter;
use crate::sync::Ordering;

/// The limiter's clock reads `ORIGIN` at its creation. Times are offset by it so that
/// `now - b·T` needs no sign for bursts lasting up to 146 years, and the initial `booked` of 0
/// means "long ago": a new limiter starts with a full burst.
pub(super) const ORIGIN: u64 = 1 << 62;

impl RateLimiter {
    /// The limiter's clock: [`ORIGIN`] plus the time since it was created, in nanoseconds.
    #[inline]
    pub(super) fn now(&self) -> u64 {
        self.epoch.elapsed().saturating_add(ORIGIN)
    }

    /// The instant, on the crate's clock (the timers'), that a time `at` on the limiter's clock
    /// stands for, given that the limiter's clock read `now` a moment ago; `None` past what an
    /// `Instant` holds (a slot centuries away, from an absurd rate). Relative to the present, so
    /// that a slot's timer waits `at - now` whatever the limiter's clock has drifted from the
    /// timers' since the limiter was created (TSC against `CLOCK_MONOTONIC`: tens of ppm).
    pub(super) fn instant(&self, at: u64, now: u64) -> Option<Instant> {
        timer_now().checked_add(Duration::from_nanos(at.saturating_sub(now)))
    }

    /// `b·T` and `n·T` for the current interval.
    #[inline]
    fn costs(&self, n: u32) -> (u64, u64) {
        // Relaxed: see `set_rate`.
        let interval = self.interval.load(Ordering::Relaxed);
        (
            interval.saturating_mul(u64::from(self.burst)),
            interval.saturating_mul(u64::from(n)),
        )
    }

    /// Books `n` slots (`0 < n <= burst`) at `now`: one CAS loop, never waits.
    #[cfg_attr(all(loom, not(test)), allow(dead_code))] // used by the futures and the models
    pub(super) fn reserve(&self, n: u32, now: u64) -> RateBooking {
        let (tolerance, cost) = self.costs(n);
        let full = now.saturating_sub(tolerance);
        // Relaxed throughout: `booked` is the only shared state and every update is a CAS on it,
        // so all bookings are ordered by its modification order alone; nothing else is published.
        let mut booked = self.booked.load(Ordering::Relaxed);
        loop {
            let before = booked.max(full);
            let after = before.saturating_add(cost);
            match self.booked.compare_exchange_weak(
                booked,
                after,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return RateBooking {
                        start: after.max(now),
                        before,
                        after,
                    }
                }
                Err(actual) => booked = actual,
            }
        }
    }

    /// Takes `n` slots at `now` if they start by `now`; otherwise says when they would.
    #[inline]
    pub(super) fn try_at(&self, n: u32, now: u64) -> Result<(), TryAt> {
        if n > self.burst {
            return Err(TryAt::TooLarge);
        }
        if n == 0 {
            return Ok(()); // nothing to wait for, even behind a queue
        }
        let (tolerance, cost) = self.costs(n);
        let full = now.saturating_sub(tolerance);
        // Relaxed: as in `reserve`.
        let mut booked = self.booked.load(Ordering::Relaxed);
        loop {
            let after = booked.max(full).saturating_add(cost);
            if after > now {
                // A slot booked ahead (a queued waiter) or a spent burst: no barging.
                return Err(TryAt::NotUntil(after));
            }
            match self.booked.compare_exchange_weak(
                booked,
                after,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => booked = actual,
            }
        }
    }

    /// Gives a booking back if it is still the latest; returns whether it was.
    #[cfg_attr(all(loom, not(test)), allow(dead_code))] // used by the futures and the models
    pub(super) fn give_back(&self, booking: &RateBooking) -> bool {
        // Relaxed: as in `reserve`. `booked` only returns to a booking's `after` by undoing, in
        // reverse order, the bookings made on top of it, so a success means nobody holds a slot
        // after this one.
        self.booked
            .compare_exchange(
                booking.after,
                booking.before,
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok()
    }
}

// The clock-independent reservation core, for the unit and property tests and the loom models.
// Times are durations since the limiter was created, passed in rather than read from the clock;
// do not mix them with the real-time methods on one limiter. What dropping a waiting acquire
// does is `give_back`, above.
#[cfg(test)]
impl RateLimiter {
    /// Books `n` slots at virtual time `now` (what the first poll of
    /// [`acquire_many`](Self::acquire_many) does).
    pub(super) fn reserve_at(&self, n: u32, now: Duration) -> Result<RateBooking, RateLimitError> {
        if n > self.burst {
            return Err(RateLimitError::TooLarge {
                requested: n,
                burst: self.burst,
            });
        }
        Ok(self.reserve(n, virtual_time(now)))
    }

    /// [`try_acquire_many`](Self::try_acquire_many) at virtual time `now`; `Err(Some(t))` says
    /// when the slots would be free, `Err(None)` that `n` exceeds the burst.
    pub(super) fn try_acquire_at(&self, n: u32, now: Duration) -> Result<(), Option<Duration>> {
        self.try_at(n, virtual_time(now)).map_err(|e| match e {
            TryAt::TooLarge => None,
            TryAt::NotUntil(at) => Some(Duration::from_nanos(at - ORIGIN)),
        })
    }
}

/// The limiter's clock, read on every grant (issue 21): the time since the limiter was created,
/// in nanoseconds.
///
/// - By default `quanta`'s: the CPU's time-stamp counter (`rdtsc`, or the ARM system counter)
///   scaled to nanoseconds, calibrated once per process against the monotonic clock (0.6 ms on
///   the 2-core machine, the first time any limiter is created), or std's clock where the CPU
///   has no usable counter. A read costs 9.6 ns against 23-25 ns for std's `Instant::now()` on
///   the 2-core machine, whose `clock_gettime` was most of an uncontended `try_acquire`. It
///   drifts from the timers' clock by the calibration's error (tens of ppm), which
///   [`RateLimiter::instant`] keeps out of the timers' deadlines.
/// - Under the `tokio` feature, the crate's clock: tokio's (std's, unless tokio's `test-util`
///   paused the current runtime's clock), so that a paused clock drives the grants.
/// - std's under Miri (no `rdtsc`) and loom (no timer).
///
/// # Why every grant reads the clock
///
/// A grant could skip the clock while capacity counted at an earlier reading remains
/// (leaky-bucket's unfair mode: about 4 ns against our 9.7). That breaks the window bound.
/// Grants taken from a count read at `c` are spent at a later real time as if at `c`. The next
/// reading then refills `min(b, accrued)` on top of them, so the old count and a full burst go
/// out together, where a reading taken at grant time allows `min(b, old + accrued)`.
///
/// A probe on the 2-core machine: a full bucket of 10 at 10/s (leaky-bucket 1.1, unfair), idle
/// for 2 s, grants 20 within 5 µs (10 counted, then 10 refilled). After one grant and then the
/// idle spell, the same shortcut grants 9 + 10 = 19. So a grant has to know it happened within
/// a burst of *now*, and every grant reads the clock. The test
/// `an_idle_limiter_grants_one_burst_at_once_however_long_it_idled` (tests/tokio_timer.rs)
/// fails with 19 when the shortcut is patched into `try_acquire_many`.
#[derive(Debug)]
pub(super) struct Epoch {
    #[cfg(not(any(feature = "tokio", miri, loom)))]
    raw: u64,
    #[cfg(any(feature = "tokio", miri, loom))]
    at: Instant,
}

/// The process's one calibrated TSC clock.
#[cfg(not(any(feature = "tokio", miri, loom)))]
#[inline]
fn tsc() -> &'static quanta::Clock {
    static CLOCK: std::sync::OnceLock<quanta::Clock> = std::sync::OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

impl Epoch {
    /// Now, on the limiter's clock.
    pub(super) fn now() -> Self {
        #[cfg(not(any(feature = "tokio", miri, loom)))]
        {
            Self { raw: tsc().raw() }
        }
        #[cfg(any(feature = "tokio", miri, loom))]
        {
            Self { at: clock_now() }
        }
    }

    /// Nanoseconds since this epoch (0 if the clock reads earlier, as it may across cores).
    #[inline]
    fn elapsed(&self) -> u64 {
        #[cfg(not(any(feature = "tokio", miri, loom)))]
        {
            let clock = tsc();
            clock.delta_as_nanos(self.raw, clock.raw())
        }
        #[cfg(any(feature = "tokio", miri, loom))]
        {
            let since = clock_now().saturating_duration_since(self.at);
            // Seconds and nanoseconds apart, cheaper than `as_nanos`'s 128-bit product.
            since
                .as_secs()
                .saturating_mul(1_000_000_000)
                .saturating_add(u64::from(since.subsec_nanos()))
        }
    }
}

/// The crate's clock: tokio's under the `tokio` feature, std's otherwise and under loom.
#[cfg(all(any(feature = "tokio", miri), not(loom)))]
#[inline]
fn clock_now() -> Instant {
    crate::time::timer::now()
}

/// The crate's clock: tokio's under the `tokio` feature, std's otherwise and under loom.
#[cfg(loom)]
#[inline]
fn clock_now() -> Instant {
    Instant::now()
}

/// The clock the timers take their deadlines on ([`crate::time::timer::now`]); std's under
/// loom, where no timer runs.
#[inline]
fn timer_now() -> Instant {
    #[cfg(not(loom))]
    {
        crate::time::timer::now()
    }
    #[cfg(loom)]
    {
        Instant::now()
    }
}

/// A duration since the epoch on the limiter's clock (saturating after 146 years), for the
/// clock-free tests.
#[cfg(test)]
fn virtual_time(since: Duration) -> u64 {
    since
        .as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(since.subsec_nanos()))
        .saturating_add(ORIGIN)
}

/// One booking of the reservation core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(all(loom, not(test)), allow(dead_code))] // used by the futures and the models
pub(super) struct RateBooking {
    /// When the slots start, on the limiter's clock.
    pub(super) start: u64,
    /// `booked` before and after this booking: a give-back swaps `after` back to `before`.
    before: u64,
    after: u64,
}

impl RateBooking {
    /// When the slots start, as a duration since the limiter was created.
    #[cfg(test)]
    pub(super) fn start(&self) -> Duration {
        Duration::from_nanos(self.start - ORIGIN)
    }
}

pub(super) enum TryAt {
    TooLarge,
    NotUntil(u64),
}

/// Refuses a burst of `burst` slots of `interval` ns that spans more than the clock's origin
/// leaves room for (`RateLimiter::MAX_SPAN`).
#[track_caller]
pub(super) fn check_span(what: &str, interval: u64, burst: u32) {
    let span = u128::from(interval) * u128::from(burst);
    assert!(
        span <= u128::from(ORIGIN),
        "RateLimiter::{what}: a burst of {burst} slot(s) of {:?} each spans more than \
         RateLimiter::MAX_SPAN (about 146 years); for a budget that never refills, use a \
         Semaphore and forget its permits",
        Duration::from_nanos(interval)
    );
}

/// `per / rate` in nanoseconds, rounded up (so the rate is never exceeded), at least 1.
#[track_caller]
pub(super) fn interval(what: &str, rate: u32, per: Duration) -> u64 {
    assert!(rate > 0, "RateLimiter::{what}: the rate must be at least 1");
    assert!(
        !per.is_zero(),
        "RateLimiter::{what}: the period `per` must be longer than zero"
    );
    let nanos = per.as_nanos().div_ceil(u128::from(rate));
    u64::try_from(nanos).unwrap_or(u64::MAX).max(1)
}
