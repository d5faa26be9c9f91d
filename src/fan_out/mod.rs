//! Fan-out / fan-in: [`FanOutExt`] runs a future per stream item, several at once, and
//! streams their outputs back.
//!
//! `stream.fan_out(n, f)` is `stream.map(f).buffer_unordered(n)` with the defects of the latter
//! fixed: a finished slot is refilled (and its new future polled) in the same poll that yields
//! the output, so a slow consumer does not leave the pipeline idle; `limit == 0` panics instead
//! of hanging; and a spawned form keeps items running on other cores while the consumer is
//! busy. Every adapter pulls nothing before its first poll, and after each output it yields
//! holds at most `limit` items pulled beyond those yielded (memory `O(limit)`).
//!
//! | adapter | in flight | outputs |
//! | --- | --- | --- |
//! | [`fan_out(limit, f)`](FanOutExt::fan_out) | `limit` | completion order |
//! | [`fan_out_ordered(limit, f)`](FanOutExt::fan_out_ordered) | `limit` | input order |
//! | [`try_fan_out(limit, f)`](FanOutExt::try_fan_out) | `limit` | completion order, ends at the first error |
//! | [`fan_out_with(&SEMAPHORE, f)`](FanOutExt::fan_out_with) | one per permit of a shared [`Semaphore`] (a `static` or an `Arc`) | completion order |
//! | [`fan_out_spawned(limit, spawn, f)`](FanOutExt::fan_out_spawned) | `limit`, each an executor task | completion order |
//!
//! [`rate_limited(limiter)`](FanOutExt::rate_limited) paces a source by a [`RateLimiter`], so
//! that "at most 5 at once and 20 per second" is `source.rate_limited(per_second).fan_out(5, f)`.
//! With a `redis-*` feature, `try_rate_limited(redis_limiter)` does the same with a limit shared
//! by every process through Redis, and yields its failures as `Err` items.
//!
//! # How it works
//!
//! The local adapters keep their futures in a slab (`src/in_flight.rs`, the crate's one local
//! engine): each future pinned in its slot, the slot reused for every future it runs, and a
//! waker per slot (no allocation of its own) that sets the slot's bit in a ready bitmap. A
//! wake-up is one atomic `fetch_or`; the stream polls only the futures whose bit is set, and
//! registers its own waker only when it is about to return `Pending`.

use std::future::Future;
use std::pin::Pin;

use futures_core::Stream;

#[cfg(not(loom))]
use crate::RateLimiter;
use crate::{Semaphore, Shared};

mod ordered;
#[cfg(not(loom))]
mod rate_limited;
mod spawned;
#[cfg(all(any(feature = "redis-tokio", feature = "redis-smol"), not(loom)))]
mod try_rate_limited;
mod try_unordered;
mod unordered;
mod with;

pub use ordered::FanOutOrdered;
#[cfg(not(loom))]
pub use rate_limited::RateLimited;
pub use spawned::FanOutSpawned;
#[cfg(all(any(feature = "redis-tokio", feature = "redis-smol"), not(loom)))]
pub use try_rate_limited::TryRateLimited;
pub use try_unordered::TryFanOut;
pub use unordered::FanOut;
pub use with::FanOutWith;

/// Runs a future per item of a stream, several at once: fan-out / fan-in.
///
/// Implemented for every [`Stream`]. Each method takes the closure that turns an item into a
/// future, so `stream.fan_out(8, fetch)` reads like Go's worker pool: at most 8 `fetch`es at
/// once, results as they come.
///
/// For all adapters:
///
/// - Nothing is pulled from the source before the stream is first polled, and after each
///   output it yields, at most `limit` items have been pulled beyond those yielded.
/// - A slot that finishes is refilled from the source, and its new future polled once, in the
///   same poll that yields the output: the consumer's time is the pipeline's time.
/// - They end without a spurious `Pending` once the source and the futures in flight are done,
///   implement [`FusedStream`](futures_core::stream::FusedStream), and are `Send` when the
///   source, the closure, the futures and their outputs are.
/// - Dropping the stream drops every future in flight (the spawned form: each at its next
///   poll).
///
/// # Examples
///
/// ```
/// use futures::{stream, StreamExt};
/// use taskgroup::FanOutExt;
///
/// # futures::executor::block_on(async {
/// let lengths: Vec<usize> = stream::iter(["a", "bb", "ccc"])
///     .fan_out_ordered(2, |word| async move { word.len() }) // at most 2 at once
///     .collect()
///     .await;
/// assert_eq!(lengths, [1, 2, 3]);
/// # });
/// ```
///
/// Under tokio, with spawned work on every core:
///
/// ```
/// use futures::{stream, StreamExt};
/// use taskgroup::FanOutExt;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let squares: u64 = stream::iter(1..=100u64)
///     .fan_out_spawned(4, |f| { tokio::spawn(f); }, |n| async move { n * n })
///     .fold(0, |sum, square| async move { sum + square })
///     .await;
/// assert_eq!(squares, 338_350);
/// # });
/// ```
pub trait FanOutExt: Stream + Sized {
    /// Runs `f(item)` for the items of the stream, at most `limit` at once, and yields the
    /// outputs in the order the futures finish.
    ///
    /// `stream.map(f).buffer_unordered(limit)`, with the refill fix (see the trait docs).
    ///
    /// # Panics
    ///
    /// At once if `limit` is 0 (a stream that could never run anything). A panic in `f` or in
    /// one of its futures propagates from `poll_next`; the future that panicked is dropped, and
    /// a stream polled again (after `catch_unwind`) goes on without it.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{stream, StreamExt};
    /// use taskgroup::FanOutExt;
    ///
    /// # futures::executor::block_on(async {
    /// let mut sizes: Vec<usize> = stream::iter(["/a", "/bb", "/ccc"])
    ///     .fan_out(2, |path| async move { path.len() }) // e.g. an HTTP fetch
    ///     .collect()
    ///     .await;
    /// sizes.sort();
    /// assert_eq!(sizes, [2, 3, 4]);
    /// # });
    /// ```
    #[track_caller]
    fn fan_out<F, Fut>(self, limit: usize, f: F) -> FanOut<Self, F, Fut>
    where
        F: FnMut(Self::Item) -> Fut,
        Fut: Future,
    {
        FanOut::new(self, limit, f)
    }

    /// Runs `f(item)` for the items of the stream, at most `limit` at once, and yields the
    /// outputs in input order.
    ///
    /// `stream.map(f).buffered(limit)`, with the refill fix. Memory stays bounded by `limit`:
    /// outputs that finish ahead of a slow one are kept, and count toward the limit, so a slow
    /// item holds back the pulls rather than growing a buffer.
    ///
    /// # Panics
    ///
    /// As [`fan_out`](Self::fan_out).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{stream, StreamExt};
    /// use taskgroup::FanOutExt;
    ///
    /// # futures::executor::block_on(async {
    /// let rows: Vec<String> = stream::iter(1..=3)
    ///     .fan_out_ordered(3, |id| async move { format!("row {id}") })
    ///     .collect()
    ///     .await;
    /// assert_eq!(rows, ["row 1", "row 2", "row 3"]); // written in order
    /// # });
    /// ```
    #[track_caller]
    fn fan_out_ordered<F, Fut>(self, limit: usize, f: F) -> FanOutOrdered<Self, F, Fut>
    where
        F: FnMut(Self::Item) -> Fut,
        Fut: Future,
    {
        FanOutOrdered::new(self, limit, f)
    }

    /// Runs fallible `f(item)`s, at most `limit` at once, and yields their `Ok` values in the
    /// order they finish, until the first error.
    ///
    /// The first `Err` ends the stream: every future still in flight is dropped, and so are the
    /// source (it is not pulled again) and `f`, *before* the error is yielded; then the stream
    /// yields `None`. Go's errgroup with `SetLimit`, as a stream.
    ///
    /// # Panics
    ///
    /// As [`fan_out`](Self::fan_out).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{stream, StreamExt};
    /// use taskgroup::FanOutExt;
    ///
    /// # futures::executor::block_on(async {
    /// let mut pages = stream::iter(1..=100)
    ///     .try_fan_out(4, |n| async move { if n == 3 { Err("page 3: 404") } else { Ok(n) } });
    /// let mut ok = 0;
    /// while let Some(page) = pages.next().await {
    ///     match page {
    ///         Ok(_) => ok += 1,
    ///         Err(e) => assert_eq!(e, "page 3: 404"),
    ///     }
    /// }
    /// assert!(ok < 4); // nothing was started after the error
    /// # });
    /// ```
    #[track_caller]
    fn try_fan_out<F, Fut, T, E>(self, limit: usize, f: F) -> TryFanOut<Self, F, Fut>
    where
        F: FnMut(Self::Item) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        TryFanOut::new(self, limit, f)
    }

    /// Runs `f(item)` for the items of the stream while `semaphore` gives permits, one permit
    /// per future in flight, and yields the outputs in the order they finish.
    ///
    /// Several streams (or stages of one pipeline) given the same semaphore share one budget:
    /// "at most 10 calls to this API, whoever makes them". Permits come in the semaphore's FIFO
    /// order, and [`Semaphore::resize`] scales the stage while it runs. Each future's permit is
    /// given back as soon as it finishes, before its output is yielded.
    ///
    /// The stream keeps the semaphore, so `semaphore` is a `&'static Semaphore` (`&API` for a
    /// `static API: Semaphore`, Go's package-level semaphore) or an `Arc<Semaphore>`
    /// (`api.clone()`): anything [`Into<Shared<Semaphore>>`](Shared).
    ///
    /// The stream holds at most one pulled item waiting for a permit. Dropping it gives back
    /// every permit it holds and leaves the semaphore's queue.
    ///
    /// If the semaphore is [closed](Semaphore::close), the stream pulls nothing more: the item
    /// waiting for a permit is dropped unstarted, the futures in flight finish, and the stream
    /// ends.
    ///
    /// # Sharing between stages
    ///
    /// Share one semaphore between streams that are polled independently: joined (as below),
    /// run in separate tasks, or fed by a [`fan_out_spawned`](Self::fan_out_spawned) stage.
    /// Do not give it to two local stages *chained* in one pipeline
    /// (`s.fan_out_with(&API, a).fan_out_with(&API, b)`): the downstream stage, waiting for a
    /// permit, stops polling the upstream one, whose futures hold the permits and only make
    /// progress when polled, so both wait forever. Give chained stages a semaphore each.
    ///
    /// # Panics
    ///
    /// A panic in `f` or in one of its futures propagates from `poll_next`; the future that
    /// panicked is dropped with its permit, and a stream polled again goes on without it.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{stream, StreamExt};
    /// use taskgroup::{FanOutExt, Semaphore};
    ///
    /// static API: Semaphore = Semaphore::new(3); // one budget for the whole program
    ///
    /// # futures::executor::block_on(async {
    /// let users = stream::iter(0..10).fan_out_with(&API, |id| async move { id });
    /// let orders = stream::iter(0..10).fan_out_with(&API, |id| async move { id * 10 });
    /// let (users, orders): (Vec<_>, Vec<_>) = futures::join!(users.collect(), orders.collect());
    /// assert_eq!((users.len(), orders.len()), (10, 10));
    /// assert_eq!(API.available_permits(), 3); // every permit back
    /// # });
    /// ```
    ///
    /// A semaphore made at run time goes in an `Arc`:
    ///
    /// ```
    /// use std::sync::Arc;
    /// use futures::{stream, StreamExt};
    /// use taskgroup::{FanOutExt, Semaphore};
    ///
    /// # futures::executor::block_on(async {
    /// let budget = Arc::new(Semaphore::new(2)); // e.g. from a config file
    /// let squares: Vec<u64> = stream::iter(1..=4u64)
    ///     .fan_out_with(budget.clone(), |n| async move { n * n })
    ///     .collect()
    ///     .await;
    /// assert_eq!(squares.iter().sum::<u64>(), 30);
    /// assert_eq!(budget.available_permits(), 2);
    /// # });
    /// ```
    fn fan_out_with<F, Fut>(
        self,
        semaphore: impl Into<Shared<Semaphore>>,
        f: F,
    ) -> FanOutWith<Self, F, Fut>
    where
        F: FnMut(Self::Item) -> Fut,
        Fut: Future,
    {
        FanOutWith::new(self, semaphore.into(), f)
    }

    /// Runs `f(item)` for the items of the stream as executor tasks, at most `limit` at once,
    /// and yields the outputs in the order they finish: fan-out over several cores.
    ///
    /// `spawn` receives each item's future, boxed, to run to completion: the same kind of
    /// function as [`ErrGroup::with_spawner`](crate::ErrGroup::with_spawner) takes, e.g.
    /// `|f| { tokio::spawn(f); }`, `|f| smol::spawn(f).detach()`. Items keep running while the
    /// consumer is busy; their outputs come back through a queue (completion order), and each
    /// yielded output frees a place for the next item. Results that arrive count toward
    /// `limit` until they are yielded.
    ///
    /// Dropping the stream cancels every spawned item: each drops its future at its next poll
    /// (it is woken for that), without needing a join handle.
    ///
    /// # Panics
    ///
    /// At once if `limit` is 0. A panic in an item's future is caught on its executor and
    /// resumes from the stream's `poll_next` with its original payload. If the executor drops
    /// an item before it finishes (a runtime shutting down), `poll_next` panics saying so,
    /// rather than waiting forever for its output.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{stream, StreamExt};
    /// use taskgroup::FanOutExt;
    ///
    /// # smol::block_on(async {
    /// let mut checksums: Vec<u32> = stream::iter(0..8u32)
    ///     .fan_out_spawned(2, |f| smol::spawn(f).detach(), |block| async move {
    ///         (0..1000u32).fold(block, |sum, x| sum.wrapping_mul(31).wrapping_add(x))
    ///     })
    ///     .collect()
    ///     .await;
    /// checksums.sort();
    /// assert_eq!(checksums.len(), 8);
    /// # });
    /// ```
    #[track_caller]
    fn fan_out_spawned<S, F, Fut>(
        self,
        limit: usize,
        spawn: S,
        f: F,
    ) -> FanOutSpawned<Self, F, Fut::Output>
    where
        S: Fn(Pin<Box<dyn Future<Output = ()> + Send + 'static>>) + Send + Sync + 'static,
        F: FnMut(Self::Item) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        FanOutSpawned::new(self, limit, spawn, f)
    }

    /// Yields the items of the stream no faster than `limiter` allows: each item waits for a
    /// slot (booked in the limiter's FIFO order) before it is handed on.
    ///
    /// Put it in front of a fan-out stage to bound how often calls *start*, beside how many
    /// run at once: `urls.rate_limited(per_second).fan_out(5, fetch)` is "at most 5 at once and
    /// 20 per second". A slot is booked only when the next stage asks for an item and the
    /// source has one, so a full stage books nothing ahead, and the item starts the moment its
    /// slot comes (the fan-out polls its future in the same poll). Several stages or streams
    /// given the same limiter share its rate, like [`fan_out_with`](Self::fan_out_with) shares
    /// a semaphore.
    ///
    /// The stream keeps the limiter, so `limiter` is a `&'static RateLimiter` (from a
    /// `static` [`OnceLock`](std::sync::OnceLock), or `Box::leak`) or an `Arc<RateLimiter>`:
    /// anything [`Into<Shared<RateLimiter>>`](Shared).
    ///
    /// The stream holds at most one pulled item waiting for its slot; dropping it gives the
    /// slot back when that is possible (see [`RateLimiter::acquire`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::OnceLock;
    /// use std::time::{Duration, Instant};
    /// use futures::{stream, StreamExt};
    /// use taskgroup::{FanOutExt, RateLimiter};
    ///
    /// // One rate for the whole program (`RateLimiter::new` reads the clock, so not a `const`).
    /// static PER_SECOND: OnceLock<RateLimiter> = OnceLock::new();
    ///
    /// # futures::executor::block_on(async {
    /// let per_second = PER_SECOND.get_or_init(|| RateLimiter::new(100, Duration::from_secs(1)));
    /// let started = Instant::now();
    /// let pages: Vec<usize> = stream::iter(0..5)
    ///     .rate_limited(per_second) // at most 100 starts per second (one every 10 ms)
    ///     .fan_out(2, |page| async move { page }) // at most 2 at once
    ///     .collect()
    ///     .await;
    /// assert_eq!(pages.len(), 5);
    /// assert!(started.elapsed() >= Duration::from_millis(40)); // 5 slots, 10 ms apart
    /// # });
    /// ```
    ///
    /// A limiter made at run time goes in an `Arc`:
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use futures::{stream, StreamExt};
    /// use taskgroup::{FanOutExt, RateLimiter};
    ///
    /// # futures::executor::block_on(async {
    /// let per_second = Arc::new(RateLimiter::new(1000, Duration::from_secs(1)).with_burst(3));
    /// let n = stream::iter(0..3).rate_limited(per_second.clone()).count().await;
    /// assert_eq!(n, 3); // the burst: no wait
    /// assert!(per_second.try_acquire().is_err()); // the stream took them from this limiter
    /// # });
    /// ```
    #[cfg(not(loom))]
    fn rate_limited(self, limiter: impl Into<Shared<RateLimiter>>) -> RateLimited<Self> {
        RateLimited::new(self, limiter.into())
    }

    /// Paces the source by a [`RedisRateLimiter`](crate::RedisRateLimiter): a limit shared by
    /// every process through Redis, as [`rate_limited`](Self::rate_limited) does with a local
    /// one. Items come out as `Ok(item)`, each once its slot starts (one booking per item, made
    /// when the stage asks for it, so a full stage books nothing ahead).
    ///
    /// A booking that fails (Redis unreachable or late, under
    /// [`OnBackendError::FailClosed`](crate::OnBackendError), the default) comes out as
    /// `Err(RateLimitError::Backend(..))`, so a failing Redis is never a hang nor an unlimited
    /// stream. The item stays in the stream: polled again, it books again, and comes out once a
    /// booking succeeds. [`try_fan_out`](Self::try_fan_out) stops at the first error (the
    /// closure gets the `Result` and returns it), and a stage that should ride out an outage
    /// just goes on polling.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use futures::{stream, TryStreamExt};
    /// use taskgroup::{FanOutExt, RateLimitError, RedisRateLimiter};
    ///
    /// # async fn fetch(page: u32) -> Result<u32, RateLimitError> { Ok(page) }
    /// # async fn run() -> Result<(), RateLimitError> {
    /// // 20 calls per second to the API, across every replica of the service.
    /// let api = RedisRateLimiter::new("redis://127.0.0.1/", "api", 20, Duration::from_secs(1))
    ///     .unwrap();
    /// let pages: Vec<u32> = stream::iter(0..100)
    ///     .try_rate_limited(api)
    ///     .try_fan_out(5, |page| async move { fetch(page?).await })
    ///     .try_collect()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(all(any(feature = "redis-tokio", feature = "redis-smol"), not(loom)))]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    fn try_rate_limited(self, limiter: crate::RedisRateLimiter) -> TryRateLimited<Self> {
        TryRateLimited::new(self, limiter)
    }
}

impl<St: Stream> FanOutExt for St {}

/// Refuses a zero limit at construction, with the adapter's name.
#[track_caller]
fn check_limit(adapter: &str, limit: usize) {
    assert!(
        limit > 0,
        "{adapter}: limit must be at least 1 (a limit of 0 would never run anything)"
    );
}

/// The size hint of an adapter with `queued` outputs to come besides the source's items.
fn queued_size_hint<St: Stream>(
    queued: usize,
    source_done: bool,
    source: &St,
) -> (usize, Option<usize>) {
    if source_done {
        return (queued, Some(queued));
    }
    let (low, high) = source.size_hint();
    (
        low.saturating_add(queued),
        high.and_then(|high| high.checked_add(queued)),
    )
}
