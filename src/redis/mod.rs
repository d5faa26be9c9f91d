//! Limits shared by many processes through a Redis (or Valkey) server: [`RedisRateLimiter`]
//! and [`RedisSemaphore`].
//!
//! A [`RateLimiter`](crate::RateLimiter) in each of 10 replicas lets ten times its rate through.
//! A `RedisRateLimiter` keeps one schedule for every process that uses the same limit name, in
//! the Redis server such services already run, with the local limiter's semantics where a
//! network allows them (GCRA, FIFO bookings, one round trip and one wake-up per grant).
//!
//! Likewise a [`Semaphore`](crate::Semaphore)`::new(5)` in each of 10 replicas lets 50 calls
//! run at once. A `RedisSemaphore` holds one set of permits for every process that uses its
//! name: weighted, FIFO by ticket across processes, each permit a lease that its holder renews
//! in the background, so a crashed process gives its permits back (see its
//! [guarantees](RedisSemaphore#leases)).
//!
//! # Turning it on
//!
//! redis-rs runs one task per connection, on a runtime it must be told about, so the feature
//! comes in two forms (both need Rust 1.88, redis-rs's minimum):
//!
//! - tokio: `taskgroup = { version = "0.1", features = ["redis-tokio"] }`; the connection's task
//!   is a tokio task, so acquire inside a tokio runtime.
//! - smol, async-std, `futures::executor` or any other executor:
//!   `features = ["redis-smol"]`; the connection's task runs on smol's global executor and its
//!   socket on async-io's reactor, which need no runtime of yours.
//!
//! With both on, the connection runs on tokio when a tokio runtime is current as it is opened,
//! on smol's executor otherwise. `redis` alone is the common part and does not compile without
//! one of them.
//!
//! # Examples
//!
//! On tokio (`features = ["redis-tokio"]`):
//!
//! ```no_run
//! use std::time::Duration;
//! use taskgroup::RedisRateLimiter;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let url = std::env::var("REDIS_URL").unwrap_or("redis://127.0.0.1:6379".into());
//!     // Every replica runs this: together they start at most 20 calls per second.
//!     let limiter = RedisRateLimiter::new(&url, "geo-api", 20, Duration::from_secs(1))?;
//!     for _ in 0..3 {
//!         limiter.acquire().await?;
//!         // ... call the API ...
//!     }
//!     Ok(())
//! }
//! ```
//!
//! On smol, async-std or a plain `block_on` (`features = ["redis-smol"]`), the same code:
//!
//! ```no_run
//! use std::time::Duration;
//! use taskgroup::RedisRateLimiter;
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let limiter = RedisRateLimiter::new("redis://127.0.0.1:6379", "geo-api", 20, Duration::from_secs(1))?;
//!     futures::executor::block_on(async {
//!         limiter.key("tenant-42").acquire().await // per tenant
//!     })?;
//!     Ok(())
//! }
//! ```
//!
//! # Failures
//!
//! A server that cannot be reached, or answers later than
//! [`with_timeout`](RedisRateLimiter::with_timeout) (default 1 s, connecting included), fails the
//! acquire with [`RateLimitError::Backend`](crate::RateLimitError::Backend), whose
//! [`BackendError`] names the server's address and the cause: never a hang, never a silent
//! grant. [`on_backend_error(OnBackendError::FailOpen)`](RedisRateLimiter::on_backend_error)
//! lets calls through unlimited instead. A connection that failed or timed out is dropped, and
//! the next acquire opens a new one: a server that restarts is used again without a restart of
//! the client.
//!
//! # Measurements
//!
//! `cargo bench -p taskgroup-benches --features redis --bench redis_rate_limit`, one run on the 2-core machine
//! against a local `redis-server`, beside go-redis/redis_rate's approach (a GCRA script that
//! only checks, called again after each refusal's retry-after): one grant with room takes
//! 35.6 µs (the peer 31.8 µs, the local limiter 43 ns; over five runs on the machine shared
//! with other builds, 0.7× to 1.8× the peer's time, the noise of a loaded 2-core machine);
//! 64 tasks take 62 700 grants/s (the peer 73 500; 0.80× to 0.85× over three runs: the script
//! also reads the stored rate). 200 tasks sharing 2 000/s: both reach the rate, with 1.00 round trips per grant
//! (the peer 31.2: every refused caller asks again) and grants 0.3 ms late at the median, 3 ms
//! at p99 (the peer 22 ms and 31 ms).
//!
//! Tested with Redis 7.0 (Debian 12's `redis-server` 7.0.15); the script uses `EVALSHA`,
//! `TIME`, `GET`/`SET PX`, `HSET`/`HMGET`, which Redis has had since 3.2 and Valkey keeps.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

#[cfg(not(any(feature = "redis-tokio", feature = "redis-smol")))]
compile_error!(
    "taskgroup's `redis` feature needs a runtime for its connection: enable `redis-tokio` \
     (on tokio) or `redis-smol` (on smol, async-std or any other executor) instead"
);

// Without a runtime feature, the error above is the only one.
#[cfg(any(feature = "redis-tokio", feature = "redis-smol"))]
mod backend;
#[cfg(any(feature = "redis-tokio", feature = "redis-smol"))]
mod rate_limit;
#[cfg(any(feature = "redis-tokio", feature = "redis-smol"))]
mod semaphore;

#[cfg(any(feature = "redis-tokio", feature = "redis-smol"))]
pub use rate_limit::{RedisAcquire, RedisRateLimiter};
#[cfg(any(feature = "redis-tokio", feature = "redis-smol"))]
pub use semaphore::{
    OwnedRedisSemaphorePermit, RedisSemaphore, RedisSemaphoreAcquire, RedisSemaphoreAcquireOwned,
    RedisSemaphorePermit,
};

/// What a [`RedisRateLimiter`]'s or [`RedisSemaphore`]'s callers get while its server cannot be
/// reached or answers late.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use taskgroup::{OnBackendError, RedisRateLimiter};
///
/// # fn main() -> Result<(), taskgroup::BackendError> {
/// // Better to send a few calls too many than none while Redis is down:
/// let limiter = RedisRateLimiter::new("redis://127.0.0.1:6379", "search", 50, Duration::from_secs(1))?
///     .on_backend_error(OnBackendError::FailOpen);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnBackendError {
    /// The acquire fails with [`RateLimitError::Backend`](crate::RateLimitError::Backend): no
    /// call goes through unlimited. The default.
    #[default]
    FailClosed,
    /// The acquire succeeds at once: calls go through unlimited while the server is away.
    FailOpen,
}

/// The server behind a [`RedisRateLimiter`] or a [`RedisSemaphore`] could not be reached,
/// failed, or did not answer in time. Its message names which of them, the server's address
/// (never its password) and the cause.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use taskgroup::RedisRateLimiter;
///
/// let err = RedisRateLimiter::new("http://nowhere", "api", 10, Duration::from_secs(1)).unwrap_err();
/// assert!(err.to_string().starts_with("rate limiter's Redis"), "{err}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendError {
    user: &'static str,
    address: Arc<str>,
    cause: Arc<str>,
    timed_out: bool,
}

impl BackendError {
    pub(crate) fn new(
        user: &'static str,
        address: Arc<str>,
        cause: impl fmt::Display,
        timed_out: bool,
    ) -> Self {
        Self {
            user,
            address,
            cause: cause.to_string().into(),
            timed_out,
        }
    }

    /// The server's address, as `host:port` (or the socket path).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Whether the server did not answer within its timeout (rather than failing).
    pub fn is_timeout(&self) -> bool {
        self.timed_out
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}'s Redis at {}: {}",
            self.user, self.address, self.cause
        )
    }
}

impl Error for BackendError {}
