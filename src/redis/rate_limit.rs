//! [`RedisRateLimiter`] and its acquire future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::backend::{spawn_detached, Backend};
use super::{BackendError, OnBackendError};
use crate::time::timer::{self, Timer};
use crate::{NotUntil, RateLimitError, TryRateLimitError};

/// The longest burst span the script keeps exact: 2^52 µs, about 142 years (times are integer
/// microseconds in a Lua double, beside the current time's 2^51).
const MAX_SPAN_MICROS: u128 = 1 << 52;

/// A rate limit shared by every process that uses the same name on the same Redis server:
/// `rate` slots per `per`, in the order the bookings reach Redis.
///
/// The same GCRA as [`RateLimiter`](crate::RateLimiter), kept in Redis: each
/// [`acquire`](Self::acquire) runs one Lua script that reads Redis's clock (`TIME`, so the
/// hosts' clocks do not matter), books the next free slot and returns how long until it starts;
/// the caller then waits on one local timer. One round trip and one wake-up per grant, no
/// polling. In any window of length `t`, the processes together start at most
/// `burst + rate × t / per` slots (plus what one network round trip can shift a grant by: a
/// grant starts when its answer arrives plus the delay Redis gave, never earlier than Redis
/// scheduled it).
///
/// A handle is cheap to clone (two `Arc`s): clones and [`key`](Self::key) views share one
/// connection.
///
/// # Many keys
///
/// [`key(k)`](Self::key) is the same limit for one tenant, user or endpoint: every key has its
/// own schedule at the same rate, so a per-tenant limit needs one limiter, not one per tenant.
/// Keys that go idle expire from Redis once a full burst has refilled, so memory follows the
/// keys in use.
///
/// # Redis keys
///
/// A limit named `name` keeps its schedule in `taskgroup:{name}:slots` (and
/// `taskgroup:{name}:slots:<key>` per key) and a rate stored by [`set_rate`](Self::set_rate)
/// in `taskgroup:{name}:config`. The `{name}` hash tag keeps them in one Redis Cluster slot.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use taskgroup::RedisRateLimiter;
///
/// # async fn call_the_api() {}
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// // In every replica: together they start at most 20 calls per second.
/// let limiter = RedisRateLimiter::new("redis://127.0.0.1:6379", "geo-api", 20, Duration::from_secs(1))?
///     .with_burst(5)
///     .with_timeout(Duration::from_millis(200));
/// limiter.acquire().await?; // one round trip, then one timer
/// call_the_api().await;
///
/// // Per tenant, with the same limiter:
/// limiter.key("tenant-42").acquire().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisRateLimiter {
    backend: Arc<Backend>,
    keys: Arc<Keys>,
    /// This client's interval in microseconds, `per / rate` rounded up: used while no rate is
    /// stored with the limit (see `set_rate`).
    interval: u64,
    burst: u32,
    rate: (u32, Duration),
    timeout: Duration,
    on_error: OnBackendError,
}

struct Keys {
    name: Arc<str>,
    key: Option<Box<str>>,
    slots: Box<str>,
    config: Arc<str>,
}

/// One booking: the `(before, after)` the script returned, for giving it back.
#[derive(Debug, Clone, Copy)]
struct Booking {
    delay: Duration,
    before: i64,
    after: i64,
}

impl RedisRateLimiter {
    /// A limiter named `name` on the server at `url` (`redis://host:port/db`, with
    /// `redis://user:password@host:port` or `rediss://` where the server needs them), letting
    /// `rate` slots start per `per`, with a burst of 1. Every process that uses the same name on
    /// the same server shares the limit.
    ///
    /// Nothing is sent yet: the connection opens at the first acquire, so a server that is not
    /// up yet is an error of that acquire, not of this call.
    ///
    /// # Errors
    ///
    /// [`BackendError`] if `url` is not a Redis URL.
    ///
    /// # Panics
    ///
    /// If `rate` is 0, `per` is zero, one slot is longer than about 142 years, or `name` holds
    /// `{` or `}` (it is the keys' hash tag).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskgroup::RedisRateLimiter;
    ///
    /// let limiter = RedisRateLimiter::new("redis://127.0.0.1:6379", "api", 20, Duration::from_secs(1)).unwrap();
    /// assert_eq!(limiter.name(), "api");
    /// assert!(RedisRateLimiter::new("not a url", "api", 20, Duration::from_secs(1)).is_err());
    /// ```
    #[track_caller]
    pub fn new(url: &str, name: &str, rate: u32, per: Duration) -> Result<Self, BackendError> {
        assert!(
            !name.contains(['{', '}']),
            "RedisRateLimiter::new: the name {name:?} must not hold `{{` or `}}`: it is the \
             hash tag of the limit's keys"
        );
        let interval = interval_micros("new", rate, per);
        check_span("new", interval, 1);
        let backend = Backend::open(url, "rate limiter", include_str!("rate_limit.lua"))?;
        Ok(Self {
            backend: Arc::new(backend),
            keys: Arc::new(Keys {
                name: name.into(),
                key: None,
                slots: format!("taskgroup:{{{name}}}:slots").into(),
                config: format!("taskgroup:{{{name}}}:config").into(),
            }),
            interval,
            burst: 1,
            rate: (rate, per),
            timeout: Duration::from_secs(1),
            on_error: OnBackendError::FailClosed,
        })
    }

    /// Lets up to `burst` slots start at once after an idle spell (default 1). Requests for more
    /// fail with [`RateLimitError::TooLarge`] at once, without a round trip. Give every client of
    /// a limit the same burst (a rate stored by [`set_rate`](Self::set_rate) stores its burst
    /// too, and then wins).
    ///
    /// # Panics
    ///
    /// If `burst` is 0 or `burst` slots span more than about 142 years.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # use taskgroup::RedisRateLimiter;
    /// let limiter = RedisRateLimiter::new("redis://127.0.0.1:6379", "api", 20, Duration::from_secs(1))
    ///     .unwrap()
    ///     .with_burst(10);
    /// # drop(limiter);
    /// ```
    #[track_caller]
    pub fn with_burst(mut self, burst: u32) -> Self {
        assert!(
            burst > 0,
            "RedisRateLimiter::with_burst: the burst must be at least 1"
        );
        check_span("with_burst", self.interval, burst);
        self.burst = burst;
        self
    }

    /// How long an operation may take, connecting included, before it fails with a
    /// [`BackendError`] whose [`is_timeout`](BackendError::is_timeout) is true (default 1 s).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # use taskgroup::RedisRateLimiter;
    /// let limiter = RedisRateLimiter::new("redis://127.0.0.1:6379", "api", 20, Duration::from_secs(1))
    ///     .unwrap()
    ///     .with_timeout(Duration::from_millis(100)); // a local Redis, or fail fast
    /// # drop(limiter);
    /// ```
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// What acquires give while the server cannot be reached or answers late: an error (the
    /// default, [`OnBackendError::FailClosed`]) or a grant ([`OnBackendError::FailOpen`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskgroup::{OnBackendError, RedisRateLimiter};
    ///
    /// # futures::executor::block_on(async {
    /// // Nothing listens on port 1: every round trip fails at once.
    /// let limiter = RedisRateLimiter::new("redis://127.0.0.1:1", "api", 20, Duration::from_secs(1))
    ///     .unwrap()
    ///     .on_backend_error(OnBackendError::FailOpen);
    /// assert_eq!(limiter.acquire().await, Ok(())); // let through, unlimited
    /// # });
    /// ```
    pub fn on_backend_error(mut self, on_error: OnBackendError) -> Self {
        self.on_error = on_error;
        self
    }

    /// The same limit for one key (a tenant, a user, an endpoint): its own schedule at the same
    /// rate and burst, on the same connection. Cheap: one allocation for the key's name.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use taskgroup::RedisRateLimiter;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let per_tenant = RedisRateLimiter::new("redis://127.0.0.1:6379", "uploads", 2, Duration::from_secs(1))?;
    /// per_tenant.key("acme").acquire().await?; // acme's schedule
    /// per_tenant.key("initech").acquire().await?; // not delayed by acme's
    /// # Ok(()) }
    /// ```
    pub fn key(&self, key: &str) -> RedisRateLimiter {
        let name = &self.keys.name;
        Self {
            keys: Arc::new(Keys {
                name: name.clone(),
                key: Some(key.into()),
                slots: format!("taskgroup:{{{name}}}:slots:{key}").into(),
                config: self.keys.config.clone(),
            }),
            ..self.clone()
        }
    }

    /// The limit's name.
    pub fn name(&self) -> &str {
        &self.keys.name
    }

    /// Waits for one slot: books the next free one at the first poll (one round trip) and
    /// resolves at its start.
    ///
    /// # Errors
    ///
    /// [`RateLimitError::Backend`] if the server cannot be reached or does not answer within the
    /// timeout (unless the limiter fails open).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a future dropped while it waits gives its slot back if nobody booked after
    /// it (a compare-and-set in the script, sent from a detached task on the connection's
    /// runtime), and never delays those behind it. Dropped while its booking is in flight, the
    /// detached task waits for the answer and gives that booking back. Dropped before its first
    /// poll, it booked nothing.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// # use taskgroup::RedisRateLimiter;
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let limiter = RedisRateLimiter::new("redis://127.0.0.1:6379", "api", 100, Duration::from_secs(1))?;
    /// limiter.acquire().await?;
    /// limiter.acquire().await?; // about 10 ms later, whichever process booked in between
    /// # Ok(()) }
    /// ```
    pub fn acquire(&self) -> RedisAcquire {
        self.acquire_many(1)
    }

    /// Waits for `n` slots at once (a call that costs `n`). `n == 0` is ready at once.
    ///
    /// # Errors
    ///
    /// [`RateLimitError::TooLarge`] at once, without a round trip, if `n` exceeds the burst;
    /// otherwise as [`acquire`](Self::acquire).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskgroup::{RateLimitError, RedisRateLimiter};
    ///
    /// # futures::executor::block_on(async {
    /// let limiter = RedisRateLimiter::new("redis://127.0.0.1:1", "api", 10, Duration::from_secs(1))
    ///     .unwrap()
    ///     .with_burst(5);
    /// // Refused before any round trip (nothing listens on port 1).
    /// assert_eq!(
    ///     limiter.acquire_many(6).await,
    ///     Err(RateLimitError::TooLarge { requested: 6, burst: 5 })
    /// );
    /// # });
    /// ```
    pub fn acquire_many(&self, n: u32) -> RedisAcquire {
        RedisAcquire {
            limiter: self.clone(),
            n,
            state: State::Start,
        }
    }

    /// Takes one slot if one is free now and nobody is booked ahead; one round trip, never
    /// waits for a slot.
    ///
    /// # Errors
    ///
    /// [`TryRateLimitError::NotUntil`] if no slot is free now (its
    /// [`earliest`](NotUntil::earliest) is on this host's clock: the answer's arrival plus the
    /// wait Redis computed); [`TryRateLimitError::Backend`] as [`acquire`](Self::acquire).
    ///
    /// # Cancel safety
    ///
    /// A future dropped while its round trip is in flight may have taken the slot, which then
    /// stays unused.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use taskgroup::{RedisRateLimiter, TryRateLimitError};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let limiter = RedisRateLimiter::new("redis://127.0.0.1:6379", "api", 1, Duration::from_secs(60))?;
    /// match limiter.try_acquire().await {
    ///     Ok(()) => { /* call the API */ }
    ///     Err(TryRateLimitError::NotUntil(later)) => println!("busy, retry in {:?}", later.wait_time_from(std::time::Instant::now())),
    ///     Err(other) => return Err(other.into()),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn try_acquire(&self) -> Result<(), TryRateLimitError> {
        self.try_acquire_many(1).await
    }

    /// Takes `n` slots if they are free now and nobody is booked ahead. `n == 0` always
    /// succeeds, without a round trip.
    ///
    /// # Errors
    ///
    /// [`TryRateLimitError::TooLarge`] at once if `n` exceeds the burst; otherwise as
    /// [`try_acquire`](Self::try_acquire).
    ///
    /// # Cancel safety
    ///
    /// As [`try_acquire`](Self::try_acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskgroup::{RedisRateLimiter, TryRateLimitError};
    ///
    /// # futures::executor::block_on(async {
    /// let limiter = RedisRateLimiter::new("redis://127.0.0.1:1", "api", 10, Duration::from_secs(1)).unwrap();
    /// assert_eq!(limiter.try_acquire_many(0).await, Ok(()));
    /// assert!(matches!(limiter.try_acquire_many(2).await, Err(TryRateLimitError::TooLarge { .. })));
    /// assert!(matches!(limiter.try_acquire_many(1).await, Err(TryRateLimitError::Backend(_))));
    /// # });
    /// ```
    pub async fn try_acquire_many(&self, n: u32) -> Result<(), TryRateLimitError> {
        if n > self.burst {
            return Err(TryRateLimitError::TooLarge {
                requested: n,
                burst: self.burst,
            });
        }
        if n == 0 {
            return Ok(());
        }
        let reply: Result<(i64, i64), _> = self.run("try", n, 0, 0).await;
        match reply {
            Ok((1, _)) => Ok(()),
            Ok((_, wait)) => Err(TryRateLimitError::NotUntil(NotUntil::after(
                timer::now(),
                micros(wait),
            ))),
            Err(e) => match self.on_error {
                OnBackendError::FailOpen => Ok(()),
                _ => Err(TryRateLimitError::Backend(e)),
            },
        }
    }

    /// Changes the rate of the whole limit, for every client: stores `rate / per` and this
    /// client's burst with the limit in Redis, where every booking of every process (and every
    /// key) reads it from then on, in place of the rate each was created with. Slots already
    /// booked keep their start times. The stored rate stays until `set_rate` is called again
    /// (delete `taskgroup:{name}:config` to go back to each client's own).
    ///
    /// # Errors
    ///
    /// [`BackendError`] if the server cannot be reached or does not answer in time (whatever
    /// [`on_backend_error`](Self::on_backend_error) says: nothing was changed).
    ///
    /// # Cancel safety
    ///
    /// Dropped while its round trip is in flight, the new rate may or may not have been stored.
    ///
    /// # Panics
    ///
    /// At the call, if `rate` is 0, `per` is zero or the burst would span more than about 142
    /// years.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// # use taskgroup::RedisRateLimiter;
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let limiter = RedisRateLimiter::new("redis://127.0.0.1:6379", "api", 20, Duration::from_secs(1))?;
    /// // The API's owner raised our quota: every replica goes faster from its next booking.
    /// limiter.set_rate(50, Duration::from_secs(1)).await?;
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn set_rate(
        &self,
        rate: u32,
        per: Duration,
    ) -> impl Future<Output = Result<(), BackendError>> + Send + 'static {
        let interval = interval_micros("set_rate", rate, per);
        check_span("set_rate", interval, self.burst);
        let this = self.clone();
        async move {
            let _: i64 = this
                .backend
                .run(
                    this.timeout,
                    [&this.keys.slots, &this.keys.config],
                    "set",
                    [0, as_i64(interval), i64::from(this.burst), 0, 0],
                )
                .await?;
            Ok(())
        }
    }

    /// One script call for this limiter's key.
    async fn run<T: redis::FromRedisValue>(
        &self,
        op: &str,
        n: u32,
        before: i64,
        after: i64,
    ) -> Result<T, BackendError> {
        self.backend
            .run(
                self.timeout,
                [&self.keys.slots, &self.keys.config],
                op,
                [
                    i64::from(n),
                    as_i64(self.interval),
                    i64::from(self.burst),
                    before,
                    after,
                ],
            )
            .await
    }

    async fn book(&self, n: u32) -> Result<Booking, BackendError> {
        let (delay, before, after): (i64, i64, i64) = self.run("book", n, 0, 0).await?;
        Ok(Booking {
            delay: micros(delay),
            before,
            after,
        })
    }

    async fn give_back(&self, booking: Booking) {
        // Best effort: an error leaves the slot unused, which delays no one.
        let _: Result<i64, _> = self.run("back", 0, booking.before, booking.after).await;
    }
}

impl fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (rate, per) = self.rate;
        let mut d = f.debug_struct("RedisRateLimiter");
        d.field("address", &self.backend.address())
            .field("name", &self.keys.name);
        if let Some(key) = &self.keys.key {
            d.field("key", key);
        }
        d.field("rate", &rate)
            .field("per", &per)
            .field("burst", &self.burst)
            .field("timeout", &self.timeout)
            .field("on_backend_error", &self.on_error)
            .field(
                "round_trips",
                &self.backend.round_trips.load(Ordering::Relaxed),
            )
            .finish()
    }
}

type BookingFuture = Pin<Box<dyn Future<Output = Result<Booking, BackendError>> + Send>>;

enum State {
    /// Not polled yet: nothing booked.
    Start,
    /// The booking's round trip is in flight.
    Booking(BookingFuture),
    /// Booked; the timer fires at the slot's start.
    Waiting {
        booking: Booking,
        timer: Timer,
    },
    Done,
}

/// Future returned by [`RedisRateLimiter::acquire`] and [`RedisRateLimiter::acquire_many`]:
/// `'static` (it holds a handle to the limiter), so it can be stored or moved into a spawned
/// task.
///
/// It books its slots at its first poll, not when it is created.
///
/// # Cancel safety
///
/// Dropping it gives its booking back if nobody booked after it (see
/// [`RedisRateLimiter::acquire`]).
///
/// # Panics
///
/// If polled again after it returned `Ready` (it is not fused).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use taskgroup::futures::RedisAcquire;
/// use taskgroup::RedisRateLimiter;
///
/// let limiter = RedisRateLimiter::new("redis://127.0.0.1:6379", "api", 10, Duration::from_secs(1)).unwrap();
/// let pending: RedisAcquire = limiter.acquire(); // nothing sent yet
/// assert!(format!("{pending:?}").contains("not polled"));
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct RedisAcquire {
    limiter: RedisRateLimiter,
    n: u32,
    state: State,
}

impl Future for RedisAcquire {
    type Output = Result<(), RateLimitError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Start => {
                    let (n, burst) = (this.n, this.limiter.burst);
                    if n == 0 {
                        this.state = State::Done;
                        return Poll::Ready(Ok(()));
                    }
                    if n > burst {
                        this.state = State::Done;
                        return Poll::Ready(Err(RateLimitError::TooLarge {
                            requested: n,
                            burst,
                        }));
                    }
                    let limiter = this.limiter.clone();
                    this.state = State::Booking(Box::pin(async move { limiter.book(n).await }));
                }
                State::Booking(booking) => match std::task::ready!(booking.as_mut().poll(cx)) {
                    Ok(booking) if booking.delay.is_zero() => {
                        this.state = State::Done;
                        return Poll::Ready(Ok(()));
                    }
                    Ok(booking) => {
                        // From the answer's arrival: never before Redis scheduled the slot.
                        let timer = timer::now()
                            .checked_add(booking.delay)
                            .map_or_else(Timer::never, Timer::at);
                        this.state = State::Waiting { booking, timer };
                    }
                    Err(e) => {
                        this.state = State::Done;
                        return Poll::Ready(match this.limiter.on_error {
                            OnBackendError::FailOpen => Ok(()),
                            _ => Err(RateLimitError::Backend(e)),
                        });
                    }
                },
                State::Waiting { timer, .. } => {
                    std::task::ready!(timer.poll(cx));
                    this.state = State::Done;
                    return Poll::Ready(Ok(()));
                }
                State::Done => panic!("a RedisAcquire polled after it completed"),
            }
        }
    }
}

impl Drop for RedisAcquire {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Waiting { booking, .. } => {
                let limiter = self.limiter.clone();
                spawn_detached(async move { limiter.give_back(booking).await });
            }
            State::Booking(in_flight) => {
                let limiter = self.limiter.clone();
                spawn_detached(async move {
                    if let Ok(booking) = in_flight.await {
                        limiter.give_back(booking).await;
                    }
                });
            }
            State::Start | State::Done => {}
        }
    }
}

impl fmt::Debug for RedisAcquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Start => "not polled",
            State::Booking(_) => "booking",
            State::Waiting { .. } => "waiting",
            State::Done => "done",
        };
        f.debug_struct("RedisAcquire")
            .field("slots", &self.n)
            .field("state", &state)
            .field("limiter", &self.limiter.keys.name)
            .finish()
    }
}

/// Intervals are at most 2^52 µs (`check_span`).
fn as_i64(interval: u64) -> i64 {
    i64::try_from(interval).unwrap_or(i64::MAX)
}

fn micros(value: i64) -> Duration {
    Duration::from_micros(u64::try_from(value).unwrap_or(0))
}

/// `per / rate` in microseconds, rounded up (so the rate is never exceeded), at least 1.
#[track_caller]
fn interval_micros(what: &str, rate: u32, per: Duration) -> u64 {
    assert!(
        rate > 0,
        "RedisRateLimiter::{what}: the rate must be at least 1"
    );
    assert!(
        !per.is_zero(),
        "RedisRateLimiter::{what}: the period `per` must be longer than zero"
    );
    let micros = per.as_nanos().div_ceil(1000).div_ceil(u128::from(rate));
    u64::try_from(micros).unwrap_or(u64::MAX).max(1)
}

/// Refuses a burst that spans more than the script keeps exact.
#[track_caller]
fn check_span(what: &str, interval: u64, burst: u32) {
    let span = u128::from(interval) * u128::from(burst);
    assert!(
        span <= MAX_SPAN_MICROS,
        "RedisRateLimiter::{what}: a burst of {burst} slot(s) of {:?} each spans more than \
         about 142 years",
        Duration::from_micros(interval)
    );
}
