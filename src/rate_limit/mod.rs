//! [`RateLimiter`]: calls per second beside calls at once, FIFO, on any executor.
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
//!
//! # Measurements
//!
//! `cargo bench --bench rate_limit` on the 2-core machine, one run: an uncontended `try_acquire`
//! takes 26.3 ns, governor's `check` 20.7 ns on its TSC clock (`quanta`) and 27.8 ns on std's
//! clock, leaky-bucket's `try_acquire` 32.6 ns; reading std's `Instant` alone is 16.8 ns of it.
//! 1 000 tasks sharing 10 000 slots/s, burst 10: 10 000/s achieved on tokio and on smol, the
//! sorted grants 41-56 µs (p50) and 111-883 µs (p99) from the ideal schedule, 2.00 polls per
//! grant (one to book, one wake-up); governor's `until_ready` 132-142 polls per grant and
//! 0.1-1.3 % under the rate; leaky-bucket (tokio only) 52 % under it. Most of our CPU time
//! (0.46-0.68 s per second of 10 000 grants) is async-io's reactor thread, which wakes once per
//! deadline and once per timer inserted.

use std::error::Error;
use std::fmt;
#[cfg(not(loom))]
use std::future::Future;
#[cfg(not(loom))]
use std::pin::Pin;
#[cfg(not(loom))]
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

#[cfg(not(loom))]
use async_io::Timer;

use crate::sync::{lock, AtomicU64, Mutex, Ordering};

/// The limiter's clock reads `ORIGIN` at its creation. Times are offset by it so that
/// `now - b·T` needs no sign for bursts lasting up to 146 years, and the initial `booked` of 0
/// means "long ago": a new limiter starts with a full burst.
const ORIGIN: u64 = 1 << 62;

/// Limits how often something may start: `rate` slots per `per`, in the order asked.
///
/// Go's `time.Tick(time.Second / 20)` or `rate.NewLimiter(20, 1)` beside a [`Semaphore`]:
/// the semaphore caps calls at once, the rate limiter calls per second.
///
/// Each [`acquire`](Self::acquire) books the next free slot (a start time) at its first poll and
/// then waits one timer until then: callers go in the order they asked, each wakes once, and
/// nobody retries or stampedes. [`try_acquire`](Self::try_acquire) takes a slot only if one is
/// free now and nobody is queued, and otherwise says when one will be.
///
/// # Burst
///
/// [`with_burst(b)`](Self::with_burst) (default 1) lets up to `b` slots go at once after an idle
/// spell; in any window of length `t`, at most `b + rate × t / per` slots start. A new limiter
/// starts with a full burst.
///
/// # Memory ordering
///
/// A rate limiter is a clock, not a lock: a grant promises no *happens-before* with earlier
/// grants. Use a channel, a mutex or a [`Semaphore`] to pass data between the callers.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use taskgroup::RateLimiter;
///
/// # futures::executor::block_on(async {
/// let api = RateLimiter::new(100, Duration::from_secs(1)); // 100 calls per second
/// let started = Instant::now();
/// for _ in 0..5 {
///     api.acquire().await.unwrap(); // one slot every 10 ms, in order
/// }
/// assert!(started.elapsed() >= Duration::from_millis(40)); // the first slot was free
/// # });
/// ```
///
/// [`Semaphore`]: crate::Semaphore
pub struct RateLimiter {
    /// The start of the latest booked slot, on the limiter's clock (see the module docs).
    booked: AtomicU64,
    /// `T`: nanoseconds per slot, `per / rate` rounded up. Written under `config`'s lock.
    interval: AtomicU64,
    burst: u32,
    /// `(rate, per)` as last set, for `Debug`; the hot paths read only `interval`.
    config: Mutex<(u32, Duration)>,
    /// The instant the clock reads [`ORIGIN`].
    epoch: Instant,
}

impl RateLimiter {
    /// The longest time a full burst may span (`burst × per / rate`): 2^62 ns, about 146 years.
    /// The limiter keeps time in nanoseconds from an origin that far back, so that a new limiter
    /// starts with a full burst; a longer span is refused with a panic rather than granting
    /// less than the burst (issue 14).
    pub const MAX_SPAN: Duration = Duration::from_nanos(ORIGIN);

    /// Creates a limiter that lets `rate` slots start per `per`, with a burst of 1: one slot
    /// every `per / rate`.
    ///
    /// # Panics
    ///
    /// If `rate` is 0 or `per` is zero, or if one slot (`per / rate`) is longer than
    /// [`MAX_SPAN`](Self::MAX_SPAN), about 146 years: such a limiter could not keep its first
    /// slot free (for a fixed budget that never refills, forget permits of a
    /// [`Semaphore`](crate::Semaphore) instead).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let limiter = taskgroup::RateLimiter::new(20, Duration::from_secs(1));
    /// assert!(limiter.try_acquire().is_ok());
    /// assert!(limiter.try_acquire().is_err()); // the next slot is 50 ms away
    /// ```
    #[track_caller]
    pub fn new(rate: u32, per: Duration) -> Self {
        let interval = interval("new", rate, per);
        check_span("new", interval, 1);
        Self {
            booked: AtomicU64::new(0),
            interval: AtomicU64::new(interval),
            burst: 1,
            config: Mutex::new((rate, per)),
            epoch: Instant::now(),
        }
    }

    /// Lets up to `burst` slots start at once after an idle spell (the default is 1). Requests
    /// for more than `burst` slots at once fail with [`RateLimitError::TooLarge`].
    ///
    /// # Panics
    ///
    /// If `burst` is 0, or if `burst` slots at the current rate span more than
    /// [`MAX_SPAN`](Self::MAX_SPAN).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let limiter = taskgroup::RateLimiter::new(1, Duration::from_secs(1)).with_burst(3);
    /// for _ in 0..3 {
    ///     assert!(limiter.try_acquire().is_ok()); // three at once
    /// }
    /// assert!(limiter.try_acquire().is_err()); // then one per second
    /// ```
    #[track_caller]
    pub fn with_burst(mut self, burst: u32) -> Self {
        assert!(
            burst > 0,
            "RateLimiter::with_burst: the burst must be at least 1"
        );
        check_span("with_burst", self.interval.load(Ordering::Relaxed), burst);
        self.burst = burst;
        self
    }

    /// Waits for one slot: books the next free one at the first poll and resolves at its start.
    ///
    /// # Errors
    ///
    /// Never for one slot (the burst is at least 1); the `Result` is shared with
    /// [`acquire_many`](Self::acquire_many).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a future dropped before its slot gives the slot back if nobody booked after
    /// it, and never delays those behind it. Dropped before its first poll, it booked nothing.
    ///
    /// A slot given up while others are booked behind it stays unused, as with Go's
    /// `Reservation.Cancel`: moving everyone behind it up would need a queue and a second
    /// wake-up per waiter. So a limiter whose waiters often give up runs below its rate
    /// (measured: with 55 % of waiters timing out, 2 000/s became about 1 150/s). Where callers
    /// have deadlines, ask first: [`try_acquire`](Self::try_acquire)'s [`NotUntil::earliest`]
    /// says when a slot would start, so a caller that would not wait that long books nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # futures::executor::block_on(async {
    /// let limiter = taskgroup::RateLimiter::new(1000, Duration::from_secs(1));
    /// limiter.acquire().await.unwrap(); // free at once
    /// limiter.acquire().await.unwrap(); // about 1 ms later
    /// # });
    /// ```
    #[cfg(not(loom))]
    pub fn acquire(&self) -> RateAcquire<'_> {
        self.acquire_many(1)
    }

    /// Waits for `n` slots at once (a call that costs `n`): books them at the first poll and
    /// resolves when they start. `n == 0` is ready at once.
    ///
    /// # Errors
    ///
    /// [`RateLimitError::TooLarge`] at once if `n` exceeds the burst: the request could never be
    /// granted.
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskgroup::{RateLimitError, RateLimiter};
    ///
    /// # futures::executor::block_on(async {
    /// let limiter = RateLimiter::new(100, Duration::from_secs(1)).with_burst(5);
    /// limiter.acquire_many(5).await.unwrap(); // the whole burst
    /// assert_eq!(
    ///     limiter.acquire_many(6).await,
    ///     Err(RateLimitError::TooLarge { requested: 6, burst: 5 })
    /// );
    /// # });
    /// ```
    #[cfg(not(loom))]
    pub fn acquire_many(&self, n: u32) -> RateAcquire<'_> {
        RateAcquire {
            limiter: self,
            waiting: Waiting::new(n),
        }
    }

    /// Like [`acquire`](Self::acquire), for an `Arc<RateLimiter>`: the future is `'static`, to
    /// store in a struct or move into a spawned task.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// # futures::executor::block_on(async {
    /// let limiter = Arc::new(taskgroup::RateLimiter::new(100, Duration::from_secs(1)));
    /// let slot = limiter.clone().acquire_owned(); // owns a handle to the limiter
    /// std::thread::spawn(move || futures::executor::block_on(slot))
    ///     .join()
    ///     .unwrap()
    ///     .unwrap();
    /// # });
    /// ```
    #[cfg(not(loom))]
    pub fn acquire_owned(self: std::sync::Arc<Self>) -> RateAcquireOwned {
        self.acquire_many_owned(1)
    }

    /// Like [`acquire_many`](Self::acquire_many), for an `Arc<RateLimiter>`.
    ///
    /// # Errors
    ///
    /// As [`acquire_many`](Self::acquire_many).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// # futures::executor::block_on(async {
    /// let limiter = Arc::new(taskgroup::RateLimiter::new(10, Duration::from_secs(1)).with_burst(4));
    /// limiter.clone().acquire_many_owned(4).await.unwrap();
    /// assert!(limiter.clone().acquire_many_owned(5).await.is_err()); // above the burst
    /// # });
    /// ```
    #[cfg(not(loom))]
    pub fn acquire_many_owned(self: std::sync::Arc<Self>, n: u32) -> RateAcquireOwned {
        RateAcquireOwned {
            limiter: self,
            waiting: Waiting::new(n),
        }
    }

    /// Blocks the current thread until a slot starts; for threads that are not async. Do not
    /// call it inside an async task.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let limiter = taskgroup::RateLimiter::new(1000, Duration::from_secs(1));
    /// for _ in 0..3 {
    ///     limiter.acquire_blocking().unwrap(); // one every millisecond
    /// }
    /// ```
    #[cfg(not(loom))]
    pub fn acquire_blocking(&self) -> Result<(), RateLimitError> {
        crate::sync::block_on(self.acquire())
    }

    /// Blocks the current thread until `n` slots start.
    ///
    /// # Errors
    ///
    /// As [`acquire_many`](Self::acquire_many).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let limiter = taskgroup::RateLimiter::new(1000, Duration::from_secs(1)).with_burst(2);
    /// limiter.acquire_many_blocking(2).unwrap();
    /// assert!(limiter.acquire_many_blocking(3).is_err());
    /// ```
    #[cfg(not(loom))]
    pub fn acquire_many_blocking(&self, n: u32) -> Result<(), RateLimitError> {
        crate::sync::block_on(self.acquire_many(n))
    }

    /// Takes one slot if one is free now and nobody is queued; never waits.
    ///
    /// # Errors
    ///
    /// [`NotUntil`] if no slot is free or a waiter has booked one ahead (no barging); it says
    /// when a slot would be free.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let limiter = taskgroup::RateLimiter::new(10, Duration::from_secs(1));
    /// assert!(limiter.try_acquire().is_ok());
    /// let not_until = limiter.try_acquire().unwrap_err();
    /// assert!(not_until.earliest() > Instant::now()); // about 100 ms from now
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Result<(), NotUntil> {
        match self.try_acquire_many(1) {
            Ok(()) => Ok(()),
            Err(TryRateLimitError::NotUntil(not_until)) => Err(not_until),
            Err(TryRateLimitError::TooLarge { .. }) => unreachable!("the burst is at least 1"),
        }
    }

    /// Takes `n` slots if they are free now and nobody is queued; never waits. `n == 0`
    /// always succeeds.
    ///
    /// # Errors
    ///
    /// [`TryRateLimitError::TooLarge`] if `n` exceeds the burst;
    /// [`TryRateLimitError::NotUntil`] if the slots are not free now or a waiter is queued.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskgroup::{RateLimiter, TryRateLimitError};
    ///
    /// let limiter = RateLimiter::new(1, Duration::from_secs(1)).with_burst(4);
    /// assert!(limiter.try_acquire_many(3).is_ok());
    /// assert!(matches!(limiter.try_acquire_many(2), Err(TryRateLimitError::NotUntil(_))));
    /// assert_eq!(
    ///     limiter.try_acquire_many(5),
    ///     Err(TryRateLimitError::TooLarge { requested: 5, burst: 4 })
    /// );
    /// ```
    #[inline]
    pub fn try_acquire_many(&self, n: u32) -> Result<(), TryRateLimitError> {
        let now = self.now();
        self.try_at(n, now).map_err(|e| match e {
            TryAt::TooLarge => TryRateLimitError::TooLarge {
                requested: n,
                burst: self.burst,
            },
            TryAt::NotUntil(at) => TryRateLimitError::NotUntil(NotUntil {
                // Past what an `Instant` holds: a year from now stands for "not in this run".
                earliest: self
                    .instant(at)
                    .unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 24 * 3600)),
                wait: Duration::from_nanos(at - now),
            }),
        })
    }

    /// Changes the rate while the limiter is in use, for slots not yet booked: slots already
    /// booked keep their start times, and later ones are spaced at the new interval after them.
    /// The burst stays.
    ///
    /// # Panics
    ///
    /// If `rate` is 0 or `per` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// # futures::executor::block_on(async {
    /// let limiter = taskgroup::RateLimiter::new(1, Duration::from_secs(3600));
    /// limiter.acquire().await.unwrap(); // free at once; the next slot is an hour away
    /// limiter.set_rate(1000, Duration::from_secs(1));
    /// let asked = Instant::now();
    /// limiter.acquire().await.unwrap(); // 1 ms after the last one, not an hour
    /// assert!(asked.elapsed() < Duration::from_secs(60));
    /// # });
    /// ```
    #[track_caller]
    pub fn set_rate(&self, rate: u32, per: Duration) {
        let interval = interval("set_rate", rate, per);
        check_span("set_rate", interval, self.burst);
        let mut config = lock(&self.config);
        // Relaxed: the interval publishes nothing but itself; bookings that race this call use
        // the old or the new one, either is "a slot not yet booked" or already booked. Stored
        // under the lock so that racing calls leave `interval` and `config` in agreement.
        self.interval.store(interval, Ordering::Relaxed);
        *config = (rate, per);
    }

    /// The limiter's clock: [`ORIGIN`] plus the time since it was created, in nanoseconds.
    #[inline]
    fn now(&self) -> u64 {
        virtual_time(self.epoch.elapsed())
    }

    /// The instant a time on the limiter's clock stands for; `None` past what an `Instant` holds
    /// (a slot centuries away, from an absurd rate).
    fn instant(&self, at: u64) -> Option<Instant> {
        self.epoch
            .checked_add(Duration::from_nanos(at.saturating_sub(ORIGIN)))
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
    fn reserve(&self, n: u32, now: u64) -> RateBooking {
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
    fn try_at(&self, n: u32, now: u64) -> Result<(), TryAt> {
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
    fn give_back(&self, booking: &RateBooking) -> bool {
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

// The clock-independent reservation core, for the property tests and loom models. Not part of
// the public API: no semver promise. Times are durations since the limiter was created, passed
// in rather than read from the clock; do not mix them with the real-time methods on one limiter.
impl RateLimiter {
    /// Books `n` slots at virtual time `now` (what the first poll of
    /// [`acquire_many`](Self::acquire_many) does).
    #[doc(hidden)]
    pub fn __reserve_at(&self, n: u32, now: Duration) -> Result<RateBooking, RateLimitError> {
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
    #[doc(hidden)]
    pub fn __try_acquire_at(&self, n: u32, now: Duration) -> Result<(), Option<Duration>> {
        self.try_at(n, virtual_time(now)).map_err(|e| match e {
            TryAt::TooLarge => None,
            TryAt::NotUntil(at) => Some(Duration::from_nanos(at - ORIGIN)),
        })
    }

    /// What dropping a waiting acquire does: gives the booking back if it is still the latest.
    #[doc(hidden)]
    pub fn __give_back(&self, booking: &RateBooking) -> bool {
        self.give_back(booking)
    }
}

/// A duration since the epoch on the limiter's clock (saturating after 146 years). Seconds and
/// nanoseconds apart, which is cheaper than `as_nanos`'s 128-bit product.
#[inline]
fn virtual_time(since: Duration) -> u64 {
    since
        .as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(since.subsec_nanos()))
        .saturating_add(ORIGIN)
}

/// One booking of the reservation core. Not part of the public API.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateBooking {
    /// When the slots start, on the limiter's clock.
    start: u64,
    /// `booked` before and after this booking: a give-back swaps `after` back to `before`.
    before: u64,
    after: u64,
}

impl RateBooking {
    /// When the slots start, as a duration since the limiter was created.
    #[doc(hidden)]
    pub fn start(&self) -> Duration {
        Duration::from_nanos(self.start - ORIGIN)
    }
}

enum TryAt {
    TooLarge,
    NotUntil(u64),
}

/// Refuses a burst of `burst` slots of `interval` ns that spans more than the clock's origin
/// leaves room for (`RateLimiter::MAX_SPAN`).
#[track_caller]
fn check_span(what: &str, interval: u64, burst: u32) {
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
fn interval(what: &str, rate: u32, per: Duration) -> u64 {
    assert!(rate > 0, "RateLimiter::{what}: the rate must be at least 1");
    assert!(
        !per.is_zero(),
        "RateLimiter::{what}: the period `per` must be longer than zero"
    );
    let nanos = per.as_nanos().div_ceil(u128::from(rate));
    u64::try_from(nanos).unwrap_or(u64::MAX).max(1)
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (rate, per) = *lock(&self.config);
        let now = self.now();
        let booked = self.booked.load(Ordering::Relaxed);
        f.debug_struct("RateLimiter")
            .field("rate", &rate)
            .field("per", &per)
            .field("burst", &self.burst)
            .field(
                "booked_ahead",
                &Duration::from_nanos(booked.saturating_sub(now)),
            )
            .finish()
    }
}

/// The state machine shared by [`RateAcquire`] and [`RateAcquireOwned`].
#[cfg(not(loom))]
struct Waiting {
    n: u32,
    state: State,
}

#[cfg(not(loom))]
enum State {
    /// Not polled yet: nothing booked.
    Start,
    /// Booked; the timer fires at the booking's start.
    Booked {
        booking: RateBooking,
        timer: Timer,
    },
    Done,
}

#[cfg(not(loom))]
impl Waiting {
    fn new(n: u32) -> Self {
        Self {
            n,
            state: State::Start,
        }
    }

    /// Books at the first poll (or fails, or is ready at once), then waits for the one timer.
    fn poll(
        &mut self,
        limiter: &RateLimiter,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), RateLimitError>> {
        if let State::Start = self.state {
            let n = self.n;
            if n == 0 {
                self.state = State::Done;
                return Poll::Ready(Ok(()));
            }
            if n > limiter.burst {
                self.state = State::Done;
                return Poll::Ready(Err(RateLimitError::TooLarge {
                    requested: n,
                    burst: limiter.burst,
                }));
            }
            let now = limiter.now();
            let booking = limiter.reserve(n, now);
            if booking.start <= now {
                self.state = State::Done;
                return Poll::Ready(Ok(()));
            }
            let timer = limiter
                .instant(booking.start)
                .map_or_else(Timer::never, Timer::at);
            self.state = State::Booked { booking, timer };
        }
        match &mut self.state {
            State::Booked { timer, .. } => match Pin::new(timer).poll(cx) {
                Poll::Ready(_) => {
                    self.state = State::Done;
                    Poll::Ready(Ok(()))
                }
                Poll::Pending => Poll::Pending,
            },
            State::Done => panic!("a rate-limiter acquire polled after it completed"),
            State::Start => unreachable!(),
        }
    }

    /// The future was dropped: give the booking back if it is still the latest.
    fn cancel(&mut self, limiter: &RateLimiter) {
        if let State::Booked { booking, .. } = &self.state {
            limiter.give_back(booking);
        }
    }

    fn debug(&self, name: &str, limiter: &RateLimiter, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Start => "not polled",
            State::Booked { .. } => "waiting",
            State::Done => "done",
        };
        let mut d = f.debug_struct(name);
        d.field("slots", &self.n).field("state", &state);
        if let State::Booked { booking, .. } = &self.state {
            let starts_in = booking.start.saturating_sub(limiter.now());
            d.field("starts_in", &Duration::from_nanos(starts_in));
        }
        d.finish()
    }
}

/// Future returned by [`RateLimiter::acquire`] and [`RateLimiter::acquire_many`].
///
/// It books its slot at its first poll, not when it is created.
///
/// # Cancel safety
///
/// Dropping it before its slot gives the slot back if nobody booked after it, and never delays
/// those behind it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use taskgroup::{RateAcquire, RateLimiter};
///
/// # futures::executor::block_on(async {
/// let limiter = RateLimiter::new(1, Duration::from_secs(3600));
/// let first: RateAcquire<'_> = limiter.acquire();
/// let second = limiter.acquire(); // nothing booked yet
/// drop(second);
/// first.await.unwrap(); // the free slot
/// assert!(format!("{limiter:?}").contains("burst: 1"));
/// # });
/// ```
#[cfg(not(loom))]
#[must_use = "futures do nothing unless polled"]
pub struct RateAcquire<'a> {
    limiter: &'a RateLimiter,
    waiting: Waiting,
}

#[cfg(not(loom))]
impl Future for RateAcquire<'_> {
    type Output = Result<(), RateLimitError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.waiting.poll(this.limiter, cx)
    }
}

#[cfg(not(loom))]
impl Drop for RateAcquire<'_> {
    fn drop(&mut self) {
        self.waiting.cancel(self.limiter);
    }
}

#[cfg(not(loom))]
impl fmt::Debug for RateAcquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.waiting.debug("RateAcquire", self.limiter, f)
    }
}

/// Future returned by [`RateLimiter::acquire_owned`] and [`RateLimiter::acquire_many_owned`]:
/// holds an `Arc<RateLimiter>`, so it is `'static` and can be stored or moved into a spawned
/// task.
///
/// # Cancel safety
///
/// As [`RateAcquire`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use taskgroup::{RateAcquireOwned, RateLimiter};
///
/// struct Client {
///     pending: Option<RateAcquireOwned>, // a struct can hold the owned form
/// }
///
/// # futures::executor::block_on(async {
/// let limiter = Arc::new(RateLimiter::new(100, Duration::from_secs(1)));
/// let mut client = Client { pending: Some(limiter.acquire_owned()) };
/// client.pending.take().unwrap().await.unwrap();
/// # });
/// ```
#[cfg(not(loom))]
#[must_use = "futures do nothing unless polled"]
pub struct RateAcquireOwned {
    limiter: std::sync::Arc<RateLimiter>,
    waiting: Waiting,
}

#[cfg(not(loom))]
impl Future for RateAcquireOwned {
    type Output = Result<(), RateLimitError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.waiting.poll(&this.limiter, cx)
    }
}

#[cfg(not(loom))]
impl Drop for RateAcquireOwned {
    fn drop(&mut self) {
        self.waiting.cancel(&self.limiter);
    }
}

#[cfg(not(loom))]
impl fmt::Debug for RateAcquireOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.waiting.debug("RateAcquireOwned", &self.limiter, f)
    }
}

/// Why an acquire from a [`RateLimiter`] failed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use taskgroup::{RateLimitError, RateLimiter};
///
/// # futures::executor::block_on(async {
/// let limiter = RateLimiter::new(10, Duration::from_secs(1)).with_burst(2);
/// let err = limiter.acquire_many(3).await.unwrap_err();
/// assert_eq!(err, RateLimitError::TooLarge { requested: 3, burst: 2 });
/// assert_eq!(err.to_string(), "requested 3 slots at once from a rate limiter with a burst of 2");
/// # });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateLimitError {
    /// More slots were requested at once than the burst: they could never be granted.
    TooLarge {
        /// Slots asked for.
        requested: u32,
        /// The limiter's burst.
        burst: u32,
    },
}

impl fmt::Display for RateLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { requested, burst } => too_large(f, *requested, *burst),
        }
    }
}

impl Error for RateLimitError {}

fn too_large(f: &mut fmt::Formatter<'_>, requested: u32, burst: u32) -> fmt::Result {
    write!(
        f,
        "requested {requested} slots at once from a rate limiter with a burst of {burst}"
    )
}

/// The error of [`RateLimiter::try_acquire`]: no slot is free now; one would be at
/// [`earliest`](Self::earliest).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// let limiter = taskgroup::RateLimiter::new(1, Duration::from_secs(60));
/// limiter.try_acquire().unwrap();
/// let err = limiter.try_acquire().unwrap_err();
/// assert!(err.earliest() > Instant::now() + Duration::from_secs(59));
/// assert!(err.to_string().starts_with("rate limited: next slot in"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotUntil {
    earliest: Instant,
    /// How far `earliest` was when the request was refused.
    wait: Duration,
}

impl NotUntil {
    /// When the slots asked for would be free, if nobody books them first.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let limiter = taskgroup::RateLimiter::new(2, Duration::from_secs(1));
    /// let asked = Instant::now();
    /// limiter.try_acquire().unwrap();
    /// let earliest = limiter.try_acquire().unwrap_err().earliest();
    /// assert!(earliest >= asked + Duration::from_millis(500)); // one interval later
    /// ```
    pub fn earliest(&self) -> Instant {
        self.earliest
    }

    /// How long from `now` until [`earliest`](Self::earliest), zero if it has passed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let limiter = taskgroup::RateLimiter::new(1, Duration::from_secs(60));
    /// limiter.try_acquire().unwrap();
    /// let err = limiter.try_acquire().unwrap_err();
    /// assert!(err.wait_time_from(Instant::now()) <= Duration::from_secs(60));
    /// assert_eq!(err.wait_time_from(err.earliest()), Duration::ZERO);
    /// ```
    pub fn wait_time_from(&self, now: Instant) -> Duration {
        self.earliest.saturating_duration_since(now)
    }
}

impl fmt::Display for NotUntil {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rate limited: next slot in {:?}", self.wait)
    }
}

impl Error for NotUntil {}

/// Why a [`RateLimiter::try_acquire_many`] failed.
///
/// [`try_acquire`](RateLimiter::try_acquire) (one slot, never too large) returns the bare
/// [`NotUntil`]; this converts from it, so `?` works across both.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use taskgroup::{RateLimiter, TryRateLimitError};
///
/// let limiter = RateLimiter::new(5, Duration::from_secs(1));
/// match limiter.try_acquire_many(2) {
///     Err(TryRateLimitError::TooLarge { requested, burst }) => assert_eq!((requested, burst), (2, 1)),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryRateLimitError {
    /// The slots are not free now, or a waiter is queued ahead.
    NotUntil(NotUntil),
    /// More slots were requested at once than the burst: they could never be granted.
    TooLarge {
        /// Slots asked for.
        requested: u32,
        /// The limiter's burst.
        burst: u32,
    },
}

impl fmt::Display for TryRateLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotUntil(not_until) => not_until.fmt(f),
            Self::TooLarge { requested, burst } => too_large(f, *requested, *burst),
        }
    }
}

impl Error for TryRateLimitError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::NotUntil(not_until) => Some(not_until),
            Self::TooLarge { .. } => None,
        }
    }
}

impl From<NotUntil> for TryRateLimitError {
    fn from(not_until: NotUntil) -> Self {
        Self::NotUntil(not_until)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use futures::task::noop_waker_ref;

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
            .map(|_| limiter.__reserve_at(1, at(0)).unwrap().start())
            .collect();
        assert_eq!(starts, [at(0), at(0), at(0), at(100), at(200), at(300)]);
    }

    #[test]
    fn an_idle_limiter_refills_up_to_one_burst() {
        let limiter = RateLimiter::new(10, Duration::from_secs(1)).with_burst(2);
        for _ in 0..2 {
            assert!(limiter.__try_acquire_at(1, at(0)).is_ok());
        }
        assert_eq!(limiter.__try_acquire_at(1, at(0)), Err(Some(at(100))));
        assert!(limiter.__try_acquire_at(1, at(100)).is_ok());
        // A long pause refills two, not more.
        assert!(limiter.__try_acquire_at(2, at(10_000)).is_ok());
        assert_eq!(
            limiter.__try_acquire_at(1, at(10_000)),
            Err(Some(at(10_100)))
        );
    }

    #[test]
    fn try_acquire_never_barges_past_a_booking() {
        let limiter = RateLimiter::new(10, Duration::from_secs(1)).with_burst(2);
        assert!(limiter.__try_acquire_at(1, at(0)).is_ok());
        let waiter = limiter.__reserve_at(2, at(0)).unwrap();
        assert_eq!(waiter.start(), at(100));
        assert_eq!(limiter.__try_acquire_at(1, at(50)), Err(Some(at(200))));
    }

    #[test]
    fn the_latest_booking_gives_its_slot_back_and_others_keep_theirs() {
        let limiter = RateLimiter::new(10, Duration::from_secs(1));
        let first = limiter.__reserve_at(1, at(0)).unwrap();
        let second = limiter.__reserve_at(1, at(0)).unwrap();
        let third = limiter.__reserve_at(1, at(0)).unwrap();
        assert!(!limiter.__give_back(&second), "not the latest");
        assert!(limiter.__give_back(&third));
        assert_eq!(limiter.__reserve_at(1, at(0)).unwrap().start(), at(200));
        assert_eq!(first.start(), at(0));
    }

    #[test]
    fn give_backs_in_reverse_order_unwind_every_booking() {
        let limiter = RateLimiter::new(10, Duration::from_secs(1));
        let a = limiter.__reserve_at(1, at(0)).unwrap();
        let b = limiter.__reserve_at(1, at(0)).unwrap();
        assert!(limiter.__give_back(&b));
        assert!(limiter.__give_back(&a));
        assert!(limiter.__try_acquire_at(1, at(0)).is_ok());
    }

    #[test]
    fn set_rate_spaces_new_slots_after_the_booked_ones() {
        let limiter = RateLimiter::new(10, Duration::from_secs(1)).with_burst(3);
        for _ in 0..4 {
            limiter.__reserve_at(1, at(0)).unwrap(); // 0, 0, 0, 100
        }
        limiter.set_rate(1, Duration::from_secs(1)); // slower: the burst tolerance grows
        assert_eq!(limiter.__reserve_at(1, at(0)).unwrap().start(), at(1100));
        limiter.set_rate(100, Duration::from_secs(1)); // faster
        assert_eq!(limiter.__reserve_at(1, at(0)).unwrap().start(), at(1110));
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
        assert!(limiter.__reserve_at(1, at(0)).unwrap().start() >= CENTURY);
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
}
