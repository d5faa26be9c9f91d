//! The futures that the primitives' methods return.
//!
//! You rarely name them: `.await` them where they are made, as in
//! `wg.wait().await` or `sem.acquire().await`. Name one to keep it in a struct, to return it from
//! a function or to spell out its auto traits; each says which method makes it, and its cancel
//! safety. The crate root keeps the primitives, their guards, permits and errors (as async-lock
//! and tokio-util keep theirs apart). The streams of [`FanOutExt`](crate::FanOutExt) stay beside
//! the trait at the root.
//!
//! | future | made by |
//! | --- | --- |
//! | [`Wait`], [`Track`] | [`AsyncWaitGroup::wait`](crate::AsyncWaitGroup::wait), [`track`](crate::AsyncWaitGroup::track) |
//! | [`Acquire`], [`AcquireOwned`] | [`Semaphore::acquire`](crate::Semaphore::acquire) and its `_many` / `_owned` forms |
//! | [`ErrGroupWait`], [`ErrGroupWaitAll`], [`ErrGroupWaitPartial`] | [`ErrGroup::wait`](crate::ErrGroup::wait), [`wait_all`](crate::ErrGroup::wait_all), [`wait_partial`](crate::ErrGroup::wait_partial) |
//! | [`LocalErrGroupWait`], [`LocalErrGroupWaitAll`], [`LocalErrGroupWaitPartial`] | the same on a [`LocalErrGroup`](crate::LocalErrGroup) |
//! | [`Cancelled`], [`CancelledOwned`] | [`CancelToken::cancelled`](crate::CancelToken::cancelled), [`cancelled_owned`](crate::CancelToken::cancelled_owned) |
//! | [`RunUntilCancelled`], [`RunUntilCancelledOwned`] | [`CancelToken::run_until_cancelled`](crate::CancelToken::run_until_cancelled) and its owned form |
//! | [`RateAcquire`], [`RateAcquireOwned`] | [`RateLimiter::acquire`](crate::RateLimiter::acquire) and its `_many` / `_owned` forms |
//! | [`Timeout`] | [`TimeoutExt::timeout`](crate::TimeoutExt::timeout), [`timeout_at`](crate::TimeoutExt::timeout_at) |
//! | [`Run`] | [`SingleFlight::run`](crate::SingleFlight::run) |
//! | `RedisAcquire` (features `redis-tokio` / `redis-smol`) | `RedisRateLimiter::acquire` and its `_many` form |
//! | `RedisSemaphoreAcquire`, `RedisSemaphoreAcquireOwned` (same features) | `RedisSemaphore::acquire` and its `_many` / `_owned` forms |
//!
//! # Examples
//!
//! Keep a wait in a struct, to await it later:
//!
//! ```
//! use taskgroup::futures::Wait;
//! use taskgroup::AsyncWaitGroup;
//!
//! struct Drain<'a> {
//!     all_done: Wait<'a>,
//! }
//!
//! # futures::executor::block_on(async {
//! let wg = AsyncWaitGroup::new();
//! let job = wg.guard();
//! let drain = Drain { all_done: wg.wait() };
//! drop(job);
//! drain.all_done.await;
//! # });
//! ```

pub use crate::async_wait_group::{Track, Wait};
pub use crate::cancel::{Cancelled, CancelledOwned, RunUntilCancelled, RunUntilCancelledOwned};
pub use crate::err_group::{
    ErrGroupWait, ErrGroupWaitAll, ErrGroupWaitPartial, LocalErrGroupWait, LocalErrGroupWaitAll,
    LocalErrGroupWaitPartial,
};
#[cfg(not(loom))]
pub use crate::rate_limit::{RateAcquire, RateAcquireOwned};
#[cfg(all(any(feature = "redis-tokio", feature = "redis-smol"), not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use crate::redis::{RedisAcquire, RedisSemaphoreAcquire, RedisSemaphoreAcquireOwned};
pub use crate::semaphore::{Acquire, AcquireOwned};
pub use crate::single_flight::Run;
#[cfg(not(loom))]
pub use crate::time::Timeout;
