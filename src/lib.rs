//! Go's task-coordination idioms for async Rust, on any executor.
//!
//! taskgroup brings `sync.WaitGroup`, `semaphore.Weighted`, `errgroup`, `singleflight`,
//! worker pools (pond's), fan-out/fan-in, `rate.Limiter` and context-style cancellation and timeouts to async
//! Rust without tying your code to a runtime: waiting and waking go through plain wakers, each
//! woken only after every lock is released (so an executor's waker may call straight back in),
//! and the same primitives work under tokio, async-std, smol, `futures::executor` or a
//! hand-rolled executor, and from plain threads where that makes sense.
//!
//! # Which tool for which job
//!
//! | you need to… | use |
//! | --- | --- |
//! | wait until a set of tasks (spawned anywhere, even on threads) has finished | [`AsyncWaitGroup`] |
//! | run fallible tasks together: all results in order, or the first error cancels the rest | [`ErrGroup`] ([`LocalErrGroup`] for `!Send` tasks) |
//! | cap how many operations run at once, weighted and first-come first-served | [`Semaphore`] |
//! | cap how many operations start per second | [`RateLimiter`] |
//! | run a function over a stream of items, `n` at a time, results as a stream | [`FanOutExt`] (`fan_out`, `fan_out_ordered`, `try_fan_out`, …) |
//! | let concurrent callers asking for the same key share one call | [`SingleFlight`] |
//! | tell running work to stop, and wait for that signal | [`CancelToken`] |
//! | give up on any future after a deadline | [`TimeoutExt::timeout`] |
//!
//! The futures these methods return (`Wait`, `Acquire`, `Timeout`, …) are in [`futures`]; you
//! need their names only to store one or spell out its type.
//!
//! # Coming from Go
//!
//! | coming from Go | taskgroup |
//! | --- | --- |
//! | `var wg sync.WaitGroup` | [`AsyncWaitGroup::new()`] |
//! | `wg.Add(1)` + `go func() { defer wg.Done() … }()` | `spawn(wg.track(fut))` or a [`WaitGroupGuard`] |
//! | `wg.Go(f)` (Go 1.25) | [`AsyncWaitGroup::track`] |
//! | `wg.Wait()` | `wg.wait().await`, or [`wait_blocking`](AsyncWaitGroup::wait_blocking) from a thread |
//! | `select { case <-done: case <-time.After(d): }` | `wg.wait().timeout(d).await` ([`TimeoutExt`]) |
//! | `semaphore.NewWeighted(n)` | [`Semaphore::new(n)`](Semaphore::new) (a `const fn`) |
//! | `sem.Acquire(ctx, n)` / `sem.Release(n)` | `sem.acquire_many(n).await?`, dropping the permit |
//! | `sem.TryAcquire(n)` | [`Semaphore::try_acquire_many`] |
//! | buffered channel `make(chan struct{}, n)` as a limit | `static SEM: Semaphore = Semaphore::new(n);` |
//! | `g, ctx := errgroup.WithContext(ctx)` | [`ErrGroup::new()`]`.with_parent(&ctx)`, [`g.cancel_token()`](ErrGroup::cancel_token) |
//! | `g.Go(f)`, `g.TryGo(f)`, `g.SetLimit(n)` | [`spawn`](ErrGroup::spawn), [`try_spawn`](ErrGroup::try_spawn), [`set_limit`](ErrGroup::set_limit) |
//! | `err := g.Wait()` | [`g.wait().await`](ErrGroup::wait) (`Result<Vec<T>, E>`, values in spawn order) |
//! | `<-ctx.Done()`, `ctx.Err() != nil` | [`token.cancelled().await`](CancelToken::cancelled), [`token.is_cancelled()`](CancelToken::is_cancelled) |
//! | `n` worker goroutines reading a jobs channel, results on another | [`WorkerPool::new(n, spawn)`](WorkerPool::new), [`pool.submit(job).await`](WorkerPool::submit) (a [`JobHandle`] per result); for a stream, [`stream.fan_out(n, f)`](FanOutExt::fan_out) |
//! | pond: `NewPool(n)`, `Submit`, `TrySubmit`, `NewGroup`, `Resize`, `StopAndWait` | [`WorkerPool`]: [`submit`](WorkerPool::submit), [`try_submit`](WorkerPool::try_submit), [`group`](WorkerPool::group), [`resize`](WorkerPool::resize), [`stop_and_wait`](WorkerPool::stop_and_wait) |
//! | pond: `RunningWorkers()`, `WaitingTasks()`, `SuccessfulTasks()` | [`pool.stats()`](WorkerPool::stats) |
//! | the same, stopping at the first error | [`stream.try_fan_out(n, f)`](FanOutExt::try_fan_out) |
//! | one semaphore shared by several pools | [`stream.fan_out_with(&SEM, f)`](FanOutExt::fan_out_with) (a `static` or an `Arc`, see [`Shared`]) |
//! | `time.Tick(time.Second / 20)`, `rate.NewLimiter(20, b)` + `lim.Wait(ctx)` | [`RateLimiter::new(20, Duration::from_secs(1))`](RateLimiter::new)[`.with_burst(b)`](RateLimiter::with_burst), [`limiter.acquire().await`](RateLimiter::acquire) |
//! | `lim.Allow()` / `lim.Reserve().Delay()` | [`try_acquire`](RateLimiter::try_acquire) / its [`NotUntil::earliest`] |
//! | `lim.SetLimit(r)` | [`set_rate`](RateLimiter::set_rate) |
//! | a `time.Tick` before each job of a worker pool | [`jobs.rate_limited(limiter).fan_out(n, f)`](FanOutExt::rate_limited) |
//! | `var g singleflight.Group`; `v, err, _ := g.Do(key, fn)` | [`SingleFlight::new()`]; [`group.run(key, f).await`](SingleFlight::run) (`T = Result<V, E>` for `err`) |
//! | `g.Forget(key)` | [`group.forget(&key)`](SingleFlight::forget) |
//!
//! # Coming from tokio or futures
//!
//! | you use | taskgroup | what changes |
//! | --- | --- | --- |
//! | `JoinSet` + `Semaphore` to cap a batch | [`ErrGroup::new().with_limit(n)`](ErrGroup::with_limit) | tasks may borrow; results in spawn order; the first error cancels the rest |
//! | `JoinSet` + `CancellationToken` + `abort_all()` | [`ErrGroup::with_spawner(spawn)`](ErrGroup::with_spawner) | the same on every core; `wait()` returns only when every task is gone |
//! | `futures::future::try_join_all` | [`ErrGroup::new()`] | a limit, a cancel token, and [`wait_all`](ErrGroup::wait_all) for every outcome |
//! | `spawn_local` on a `LocalSet` | [`LocalErrGroup`] | `!Send` tasks, run inside `wait()`, on any executor |
//! | `.map(f).buffer_unordered(n)` / `.buffered(n)` | [`.fan_out(n, f)`](FanOutExt::fan_out) / [`.fan_out_ordered(n, f)`](FanOutExt::fan_out_ordered) | a finished slot is refilled at once; `n == 0` is refused |
//! | `FuturesUnordered` fed by hand from a stream | [`.fan_out(n, f)`](FanOutExt::fan_out) or [`.fan_out_spawned(n, spawn, f)`](FanOutExt::fan_out_spawned) | the refill is done for you; the spawned form runs on every core |
//! | `tokio_util::sync::CancellationToken` | [`CancelToken`] | the same methods, no tokio |
//! | `tokio_util::task::TaskTracker` | [`AsyncWaitGroup`] | Go's counter (`add`/`done`, reusable), no `close()`; [`wait_blocking`](AsyncWaitGroup::wait_blocking) for threads |
//! | `tokio::sync::Semaphore` | [`Semaphore`] | [`resize`](Semaphore::resize) while permits are out; `TooLarge` instead of a hang |
//! | `tokio::time::timeout(d, fut)` | [`fut.timeout(d)`](TimeoutExt::timeout) | any executor; [`Elapsed::waited`] |
//! | `governor` / `leaky-bucket` | [`RateLimiter`] | FIFO; one wake-up per grant; any executor |
//! | a `HashMap` of `Shared` futures | [`SingleFlight`] | a caller that gives up hands the work to the next |
//!
//! # A tour
//!
//! Wait for a batch of jobs, but not forever:
//!
//! ```
//! use std::time::Duration;
//! use taskgroup::{AsyncWaitGroup, TimeoutExt};
//!
//! # futures::executor::block_on(async {
//! let wg = AsyncWaitGroup::new();
//! let mut pending = Vec::new();
//! for job in 0..8 {
//!     let guard = wg.guard(); // counts one now, done when dropped
//!     if job == 7 {
//!         pending.push(guard); // a job that hangs
//!     } else {
//!         std::thread::spawn(move || drop(guard)); // finishes at once
//!     }
//! }
//! match wg.wait().timeout(Duration::from_millis(50)).await {
//!     Ok(()) => unreachable!("job 7 never finishes"),
//!     Err(elapsed) => {
//!         assert_eq!(wg.count(), 1); // one job still outstanding
//!         assert!(elapsed.waited() >= Duration::from_millis(50));
//!     }
//! }
//! # });
//! ```
//!
//! Cap concurrency, FIFO and weighted, with a semaphore the whole program shares:
//!
//! ```
//! use taskgroup::Semaphore;
//!
//! static API: Semaphore = Semaphore::new(5); // at most 5 calls at once
//!
//! # futures::executor::block_on(async {
//! let call = API.acquire().await.unwrap(); // waits its turn, in order
//! let batch = API.acquire_many(3).await.unwrap(); // a weighted request
//! assert_eq!(API.available_permits(), 1);
//! API.resize(10); // scale up while permits are out
//! assert_eq!(API.available_permits(), 6);
//! # drop((call, batch));
//! # });
//! ```
//!
//! Run tasks that fail together; the first error cancels the rest, and no task outlives the
//! group:
//!
//! ```
//! use taskgroup::ErrGroup;
//!
//! # futures::executor::block_on(async {
//! let pages = ["/a", "/b", "/c"];
//! let mut group = ErrGroup::new().with_limit(2); // tasks may borrow `pages`
//! for page in &pages {
//!     group.spawn(async move { Ok::<_, String>(page.len()) });
//! }
//! assert_eq!(group.wait().await, Ok(vec![2, 2, 2])); // in spawn order
//! # });
//! ```
//!
//! Tasks that are not `Send` (an `Rc`, smol's `LocalExecutor`, tokio's `LocalSet`) go in a
//! [`LocalErrGroup`], the same group for one thread.
//!
//! Tell work to stop, from anywhere: a [`CancelToken`] is Go's `ctx.Done()`, with child tokens
//! for a request's share of a server's shutdown:
//!
//! ```
//! use taskgroup::CancelToken;
//!
//! # futures::executor::block_on(async {
//! let shutdown = CancelToken::new();
//! let request = shutdown.child_token(); // fires with `shutdown`, or on its own
//! let worker = std::thread::spawn({
//!     let request = request.clone();
//!     move || {
//!         // The work, cut short when the token fires; `None` says it was.
//!         futures::executor::block_on(request.run_until_cancelled(std::future::pending::<u32>()))
//!     }
//! });
//! shutdown.cancel(); // Ctrl-C, say
//! assert_eq!(worker.join().unwrap(), None);
//! request.cancelled().await; // ready: the child fired with its parent
//! assert!(request.is_cancelled());
//! # });
//! ```
//!
//! Fan a stream out to a pool of futures and back in, `buffer_unordered` with its defects
//! fixed (a finished slot is refilled at once, `limit == 0` is refused, a spawned form runs on
//! every core):
//!
//! ```
//! use futures::{stream, StreamExt};
//! use taskgroup::FanOutExt;
//!
//! # futures::executor::block_on(async {
//! let pages: Vec<String> = stream::iter(1..=5)
//!     .fan_out_ordered(2, |n| async move { format!("page {n}") }) // 2 at once, in order
//!     .collect()
//!     .await;
//! assert_eq!(pages[4], "page 5");
//! # });
//! ```
//!
//! Limit how often calls start, beside how many run at once: at most 5 at once and 20 per
//! second, in the order asked, each waiter woken once at its slot. A stream stage keeps the
//! primitives it is given, as a `&'static` or an `Arc` ([`Shared`]), whichever you have:
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use futures::{stream, StreamExt};
//! use taskgroup::{FanOutExt, RateLimiter, Semaphore};
//!
//! static AT_ONCE: Semaphore = Semaphore::new(5);
//!
//! # futures::executor::block_on(async {
//! let per_second = Arc::new(RateLimiter::new(20, Duration::from_secs(1)));
//! for _ in 0..2 {
//!     let _call = AT_ONCE.acquire().await.unwrap(); // the permit first,
//!     per_second.acquire().await.unwrap(); // then the slot: one every 50 ms
//!     // ... call the API ...
//! }
//! // The same limits as a pipeline:
//! let calls = stream::iter(0..2)
//!     .rate_limited(per_second.clone())
//!     .fan_out_with(&AT_ONCE, |job| async move { job /* call the API */ })
//!     .count()
//!     .await;
//! assert_eq!(calls, 2);
//! # });
//! ```

//! Go's worker pool as one type: a bounded queue that pushes back, live resizing, counters for
//! a progress bar, batches that fail alone, and a graceful stop:
//!
//! ```
//! use taskgroup::WorkerPool;
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() {
//! let pool = WorkerPool::new(4, |job| {
//!     tokio::spawn(job);
//! })
//! .with_queue_size(64); // submit() waits for room past 64 queued jobs
//! let handle = pool.submit(async { 6 * 7 }).await;
//! pool.resize(8); // while it runs
//! assert_eq!(handle.await.unwrap(), 42);
//!
//! let batch = pool.group().with_limit(2); // a batch that fails alone
//! for page in 0..4 {
//!     batch.spawn(async move { Ok::<_, String>(page) });
//! }
//! assert_eq!(batch.wait().await, Ok(vec![0, 1, 2, 3]));
//! pool.stop_and_wait().await;
//! assert_eq!(pool.stats().succeeded, 5);
//! # }
//! ```
//!
//! Let N requests for the same key make one upstream call, and survive the caller that made it
//! giving up (the longest-waiting request takes the work over):
//!
//! ```
//! use taskgroup::SingleFlight;
//!
//! # futures::executor::block_on(async {
//! let tokens: SingleFlight<&str, String> = SingleFlight::new();
//! let token = tokens.run("api", || async { "fresh token".to_owned() }).await;
//! assert_eq!(token, "fresh token");
//! assert_eq!(tokens.in_flight(), 0); // nothing is kept once the call ended
//! # });
//! ```
//! # Many machines
//!
//! A [`RateLimiter`] in each of 10 replicas lets 10 times its rate through. With the
//! `redis-tokio` or `redis-smol` feature, `RedisRateLimiter` shares one limit between every
//! process that uses its name, through a Redis (or Valkey) server: the same GCRA, one round
//! trip and one timer per grant, failures as errors within a timeout you set, and a limit per
//! tenant from one limiter (`limiter.key("tenant-42")`). See the `redis` module.
//!
//! # Cargo features
//!
//! - `tokio` (off by default): under a tokio runtime, timeouts ([`TimeoutExt`]) and rate-limiter
//!   grants ([`RateLimiter`]) run on tokio's own timer wheel and clock, so no second timer thread
//!   is started and tokio's paused test clock (`start_paused`, `time::advance`) drives them.
//!   Elsewhere, and without the feature, they run on `async-io`'s runtime-agnostic timer. The
//!   runtime needs tokio's time driver (`enable_time`), as `tokio::time` does. The default build
//!   depends on no runtime.
//! - `redis-tokio`, `redis-smol` (off by default): `RedisRateLimiter` and the `redis` module,
//!   on redis-rs with its tokio or its smol integration (the latter also serves async-std,
//!   `futures::executor` and any other executor). `redis-tokio` turns on `tokio` too. `redis`
//!   is their common part and does not build alone. Needs Rust 1.88 (redis-rs's minimum).

#![deny(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// `cfg(loom)` only swaps the sync primitives for loom's in the models: no badge for it on docs.rs.
#![cfg_attr(docsrs, doc(auto_cfg(hide(loom))))]

// `unsafe` lives in two places, each covered by loom models and Miri: this module (a guard is
// a pointer kept alive by the group; issue 21, see `WaitGroupGuard`) and `in_flight` (a
// slot's waker points into its page of the ready bitmap, and a slot's future is pinned in a
// chunk that never moves; issue 15).
#[allow(unsafe_code)]
mod async_wait_group;
mod cancel;
mod err_group;
mod fan_out;
pub mod futures;
mod in_flight;
mod notify;
mod pool;
mod rate_limit;
#[cfg(all(feature = "redis", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
mod semaphore;
mod shared;
mod single_flight;
mod supervise;
mod sync;
#[cfg(not(loom))]
mod time;

pub use async_wait_group::{AsyncWaitGroup, WaitGroupGuard};
pub use cancel::{CancelToken, DropGuard};
pub use err_group::{ErrGroup, ErrGroupSpawner, LocalErrGroup, LocalErrGroupSpawner, Partial};
#[cfg(not(loom))]
pub use fan_out::RateLimited;
#[cfg(all(any(feature = "redis-tokio", feature = "redis-smol"), not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use fan_out::TryRateLimited;
pub use fan_out::{FanOut, FanOutExt, FanOutOrdered, FanOutSpawned, FanOutWith, TryFanOut};
#[cfg(not(loom))]
pub use pool::Shutdown;
pub use pool::{
    JobError, JobHandle, PoolGroup, PoolGroupWait, PoolGroupWaitAll, PoolStats, Submit,
    TrySubmitError, WorkerPool,
};
pub use rate_limit::{NotUntil, RateLimitError, RateLimiter, TryRateLimitError};
#[cfg(all(feature = "redis", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::{BackendError, OnBackendError};
#[cfg(all(any(feature = "redis-tokio", feature = "redis-smol"), not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::{
    OwnedRedisSemaphorePermit, RedisRateLimiter, RedisSemaphore, RedisSemaphorePermit,
};
pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};
pub use shared::Shared;
pub use single_flight::{SingleFlight, Work};
#[cfg(not(loom))]
pub use time::{Elapsed, TimeoutExt};

/// The README's examples, compiled and run as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
