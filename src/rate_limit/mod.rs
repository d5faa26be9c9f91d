//! [`RateLimiter`]: calls per second beside calls at once, FIFO, on any executor.
//!
//! The public front: the API and its documentation. The GCRA core and the clock are in
//! [`gcra`], the acquire futures and their state machine in [`acquire`].
//!
//! # Measurements
//!
//! `cargo bench --bench rate_limit` on the 2-core machine, one run: an uncontended `try_acquire`
//! takes 11.5 ns on the TSC clock (`quanta`, 9.6 ns a read; it took 26-30 ns on std's
//! `Instant`, 23.6 ns a read), governor's `check` 13.4 ns on the same clock and 34.4 ns on std's,
//! leaky-bucket's `try_acquire` 33.1 ns fair and 4.0 ns unfair (no clock read while tokens are
//! banked, which can let a second burst through after an idle spell; this limiter's window
//! bound does not allow that).
//! 1 000 tasks sharing 10 000 slots/s, burst 10: 10 000/s achieved on tokio and on smol, the
//! sorted grants 41-56 µs (p50) and 111-883 µs (p99) from the ideal schedule, 2.00 polls per
//! grant (one to book, one wake-up); governor's `until_ready` 132-142 polls per grant and
//! 0.1-1.3 % under the rate; leaky-bucket (tokio only) 52 % under it. Most of our CPU time
//! (0.46-0.68 s per second of 10 000 grants) is async-io's reactor thread, which wakes once per
//! deadline and once per timer inserted.

use std::error::Error;
use std::fmt;
use std::time::{Duration, Instant};

use crate::sync::{lock, AtomicU64, Mutex, Ordering};

use gcra::{check_span, interval, Epoch, TryAt, ORIGIN};

#[cfg(not(loom))]
mod acquire;
mod gcra;
#[cfg(all(test, loom))]
mod loom_models;
#[cfg(all(test, not(loom)))]
mod props;
#[cfg(all(test, not(loom)))]
mod tests;

#[cfg(not(loom))]
pub use acquire::{RateAcquire, RateAcquireOwned};

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
/// # Which timer and clock
///
/// A waiting [`acquire`](Self::acquire) sleeps on the same timer as
/// [`.timeout()`](crate::TimeoutExt#which-timer): with the `tokio` feature, tokio's timer wheel
/// when a tokio runtime is current as it starts waiting (no thread started); otherwise
/// `async-io`'s timer, whose reactor smol and async-std already drive and which elsewhere starts
/// one background thread for the process. `try_acquire` and an acquire whose slot is free at
/// once use no timer.
///
/// The limiter reads the CPU's time-stamp counter through `quanta` (as governor does), 2-3×
/// cheaper than std's `Instant::now()`, calibrated once per process against the monotonic clock
/// when the first limiter is created (0.6 ms on the 2-core machine; `quanta` caps it at 200 ms).
/// With the `tokio` feature, the limiter reads tokio's clock instead, which is std's unless
/// tokio's `test-util` has paused it: under `#[tokio::test(start_paused = true)]` a
/// limiter created and used inside the runtime grants its slots on the paused clock, one every
/// `per / rate` of virtual time, in no real time. ([`NotUntil::earliest`] is then on that clock
/// too, as `tokio::time::Instant::into_std` is.)
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
    /// The start of the latest booked slot, on the limiter's clock (see the module docs of
    /// [`gcra`]).
    booked: AtomicU64,
    /// `T`: nanoseconds per slot, `per / rate` rounded up. Written under `config`'s lock.
    interval: AtomicU64,
    burst: u32,
    /// `(rate, per)` as last set, for `Debug`; the hot paths read only `interval`.
    config: Mutex<(u32, Duration)>,
    /// The instant the limiter's clock reads [`ORIGIN`].
    epoch: Epoch,
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
            epoch: Epoch::now(),
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
    /// Never, for this limiter: one slot always fits the burst (at least 1), so
    /// `limiter.acquire().await.expect("one slot fits the burst")` cannot panic. The `Result` is
    /// there because the same call is the one way every limiter of this crate is awaited:
    /// [`acquire_many`](Self::acquire_many) can ask for more than the burst, and a limiter
    /// kept elsewhere (a shared store over the network) can fail for one slot too. In a
    /// function that returns a `Result`, `?` (with a `From<RateLimitError>` for your error)
    /// keeps a call site that works unchanged with such a limiter; [`RateLimitError`] is
    /// `#[non_exhaustive]` for the same reason.
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
        RateAcquire::new(self, n)
    }

    /// Like [`acquire`](Self::acquire), for an `Arc<RateLimiter>`: the future is `'static`, to
    /// store in a struct or move into a spawned task.
    ///
    /// A `&'static RateLimiter` (from a `static` `OnceLock`, or leaked) needs no owned form: its
    /// [`acquire`](Self::acquire) already returns a `RateAcquire<'static>`.
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
        RateAcquireOwned::new(self.into(), n)
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
            Err(_) => unreachable!("the burst is at least 1, and a local limiter has no backend"),
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
                    .instant(at, now)
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
///
/// Not `Copy`: the `Backend` variant (feature `redis`) carries the server's address and the
/// cause.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateLimitError {
    /// More slots were requested at once than the burst: they could never be granted.
    TooLarge {
        /// Slots asked for.
        requested: u32,
        /// The limiter's burst.
        burst: u32,
    },
    /// A [`RedisRateLimiter`](crate::RedisRateLimiter)'s server could not be reached or did not
    /// answer within its timeout (and the limiter fails closed, the default).
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    Backend(crate::BackendError),
}

impl fmt::Display for RateLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { requested, burst } => too_large(f, *requested, *burst),
            #[cfg(feature = "redis")]
            Self::Backend(backend) => backend.fmt(f),
        }
    }
}

impl Error for RateLimitError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::TooLarge { .. } => None,
            #[cfg(feature = "redis")]
            Self::Backend(backend) => Some(backend),
        }
    }
}

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
    /// A refusal `wait` from `now` (the Redis limiter's, whose clock is the server's).
    #[cfg(feature = "redis")]
    pub(crate) fn after(now: Instant, wait: Duration) -> Self {
        Self {
            earliest: now
                .checked_add(wait)
                .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600)),
            wait,
        }
    }

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
///
/// Not `Copy`: the `Backend` variant (feature `redis`) carries the server's address and the
/// cause.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// A [`RedisRateLimiter`](crate::RedisRateLimiter)'s server could not be reached or did not
    /// answer within its timeout (and the limiter fails closed, the default).
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    Backend(crate::BackendError),
}

impl fmt::Display for TryRateLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotUntil(not_until) => not_until.fmt(f),
            Self::TooLarge { requested, burst } => too_large(f, *requested, *burst),
            #[cfg(feature = "redis")]
            Self::Backend(backend) => backend.fmt(f),
        }
    }
}

impl Error for TryRateLimitError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::NotUntil(not_until) => Some(not_until),
            Self::TooLarge { .. } => None,
            #[cfg(feature = "redis")]
            Self::Backend(backend) => Some(backend),
        }
    }
}

impl From<NotUntil> for TryRateLimitError {
    fn from(not_until: NotUntil) -> Self {
        Self::NotUntil(not_until)
    }
}
