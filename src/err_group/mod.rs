//! [`ErrGroup`]: Go's `errgroup`, structured: the first error cancels the rest, and no task
//! outlives its group.
//!
//! The public front: the group, its spawner, its `wait()` futures. The engine underneath (the
//! shared state, the job queue, the driver) is in `driver.rs`, and its "how it works" with it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::cancel::CancelToken;
use crate::supervise::SpawnFn;
use crate::sync::Arc;
// A spawn function is std's `Arc` (see `SpawnFn`).
use std::sync::Arc as StdArc;

mod driver;
mod local;

use driver::{Core, Driver, Finished, Shared};
pub use local::{
    LocalErrGroup, LocalErrGroupSpawner, LocalErrGroupWait, LocalErrGroupWaitAll,
    LocalErrGroupWaitPartial,
};

/// A group of tasks that fail together: Go's `errgroup.Group`, structured and runtime-agnostic.
///
/// Tasks are futures yielding `Result<T, E>`, added with [`spawn`](Self::spawn).
/// [`wait`](Self::wait) runs them all and returns `Ok(values)` in spawn order, or the first
/// error; on that first error the group fires its [`CancelToken`], then drops every other task,
/// running or queued, and `wait()` returns only once they are all gone. No task outlives its
/// group. [`wait_all`](Self::wait_all) keeps going instead and returns every outcome.
///
/// Two forms with the same methods:
///
/// - [`ErrGroup::new`] (local): the group polls its tasks itself while its owner awaits
///   `wait()`, on whatever executor drives that. Nothing is spawned, and tasks may **borrow**
///   from the enclosing scope (`'scope`).
/// - [`ErrGroup::with_spawner`] (parallel): tasks are `'static` and each runs as its own
///   executor task, through a spawn function you pass (`|f| { tokio::spawn(f); }`,
///   `|f| smol::spawn(f).detach()`, ...), so they run on several cores. When the group is
///   cancelled, each drops its future at its next poll (it is woken for it).
///
/// Tasks are `Send`, so a group can be awaited inside a spawned task. For tasks that are not
/// (an `Rc`, smol's `LocalExecutor`, tokio's `LocalSet`), [`LocalErrGroup`] is the local form
/// with the same methods.
///
/// Both forms are lazy: nothing runs before `wait()` or `wait_all()` is first polled.
/// [`with_limit`](Self::with_limit) caps how many tasks run at once (Go's `SetLimit`); the
/// rest wait their turn in spawn order, so `spawn` never blocks and a limit cannot deadlock
/// with fail-fast. [`spawner`](Self::spawner) is a handle that tasks use to add tasks.
///
/// | Go | taskgroup |
/// | --- | --- |
/// | `g, ctx := errgroup.WithContext(ctx)` | `ErrGroup::new().with_parent(&ctx)`, `g.cancel_token()` |
/// | `g.Go(f)` | [`g.spawn(fut)`](Self::spawn) |
/// | `g.TryGo(f)` | [`g.try_spawn(fut)`](Self::try_spawn) |
/// | `g.SetLimit(n)` | [`g.set_limit(n)`](Self::set_limit) |
/// | `err := g.Wait()` | [`g.wait().await`](Self::wait) (with the values) |
/// | `errors.Join(...)` | [`g.wait_all().await`](Self::wait_all) |
///
/// # Many tasks of one type
///
/// Each task is boxed once, so that one group can hold different `async` blocks; for tiny
/// tasks the box is most of their cost. Tasks that all come from one closure over many items
/// can skip it: [`fan_out_ordered(limit, f)`](crate::FanOutExt::fan_out_ordered) followed by
/// `try_collect()` runs them on the same engine, returns the values in input order, and drops
/// the rest at the first error (10 000 tiny tasks: 2.2-3× faster than boxed in a group).
///
/// ```
/// use futures::{stream, TryStreamExt};
/// use taskgroup::FanOutExt;
///
/// # futures::executor::block_on(async {
/// let doubled: Result<Vec<u32>, String> = stream::iter(1..=4u32)
///     .fan_out_ordered(2, |n| async move { Ok(n * 2) })
///     .try_collect()
///     .await;
/// assert_eq!(doubled, Ok(vec![2, 4, 6, 8]));
/// # });
/// ```
///
/// # Panics
///
/// A panic in a task is caught; the group cancels the other tasks as for an error, and
/// `wait()` (or `wait_all()`) resumes the panic with its original payload.
///
/// # Examples
///
/// Tasks that borrow, driven by the awaiting task (any executor):
///
/// ```
/// use taskgroup::ErrGroup;
///
/// # futures::executor::block_on(async {
/// let urls = vec!["a", "bb", "ccc"];
/// let mut group = ErrGroup::new();
/// for url in &urls {
///     group.spawn(async move { Ok::<_, String>(url.len()) }); // borrows `urls`
/// }
/// assert_eq!(group.wait().await, Ok(vec![1, 2, 3])); // in spawn order
/// # });
/// ```
///
/// The first error cancels the rest:
///
/// ```
/// use taskgroup::ErrGroup;
///
/// # futures::executor::block_on(async {
/// let mut group = ErrGroup::new();
/// let token = group.cancel_token();
/// group.spawn(async { Err::<(), _>("model b is down") });
/// group.spawn(async move {
///     token.cancelled().await; // long work that watches the token
///     Ok(())
/// });
/// assert_eq!(group.wait().await, Err("model b is down"));
/// # });
/// ```
///
/// On several cores under tokio, at most 4 at once:
///
/// ```
/// use taskgroup::ErrGroup;
///
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// # async fn main() {
/// let mut group = ErrGroup::with_spawner(|f| {
///     tokio::spawn(f);
/// })
/// .with_limit(4);
/// for n in 0..100u64 {
///     group.spawn(async move { Ok::<_, std::io::Error>(n * n) });
/// }
/// let squares = group.wait().await.unwrap();
/// assert_eq!(squares[9], 81);
/// # }
/// ```
pub struct ErrGroup<'scope, T, E> {
    core: Core<'scope, T, E>,
}

/// A handle that adds tasks to its [`ErrGroup`], from inside the group's own tasks or from
/// anywhere else: `Clone + Send + Sync`, cheap to clone.
///
/// A task spawned through it joins the group like one spawned with [`ErrGroup::spawn`]: it
/// counts for `wait()`, takes its place in the spawn order (and in the results) and waits its
/// turn under the limit. A future spawned after the group finished (its `wait()` returned) or
/// was cancelled by its own failure or drop is dropped at once, without running; that is not an
/// error, since nobody is left to report to.
///
/// # Examples
///
/// A crawler whose tasks discover more work:
///
/// ```
/// use taskgroup::{ErrGroup, ErrGroupSpawner};
///
/// fn visit(page: u32, spawner: ErrGroupSpawner<'static, u32, String>)
///     -> impl std::future::Future<Output = Result<u32, String>> + Send + 'static
/// {
///     async move {
///         for link in [page * 2, page * 2 + 1] {
///             if link < 16 {
///                 spawner.spawn(visit(link, spawner.clone()));
///             }
///         }
///         Ok(page)
///     }
/// }
///
/// # futures::executor::block_on(async {
/// let mut group = ErrGroup::new().with_limit(4);
/// group.spawn(visit(1, group.spawner()));
/// let mut pages = group.wait().await.unwrap();
/// pages.sort();
/// assert_eq!(pages, (1..16).collect::<Vec<_>>());
/// # });
/// ```
pub struct ErrGroupSpawner<'scope, T, E> {
    shared: Arc<Shared<'scope, T, E>>,
}

impl<'scope, T, E> ErrGroup<'scope, T, E> {
    /// A local group: its tasks run inside the future returned by [`wait`](Self::wait) (or
    /// [`wait_all`](Self::wait_all)), concurrently with each other, on whatever executor polls
    /// it. Tasks may borrow from the enclosing scope.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let mut group = taskgroup::ErrGroup::new();
    /// group.spawn(async { Ok::<_, ()>(1) });
    /// assert_eq!(group.wait().await, Ok(vec![1]));
    /// # });
    /// ```
    pub fn new() -> Self {
        Self::build(None)
    }

    fn build(spawn: Option<SpawnFn<'scope>>) -> Self {
        Self {
            core: Core::new(spawn),
        }
    }

    /// Caps the number of tasks that run at once at `limit` (Go's `SetLimit`); builder form of
    /// [`set_limit`](Self::set_limit).
    ///
    /// # Panics
    ///
    /// If `limit` is 0 (nothing could ever run).
    ///
    /// # Examples
    ///
    /// ```
    /// let group = taskgroup::ErrGroup::<(), ()>::new().with_limit(8);
    /// assert!(format!("{group:?}").contains("limit: Some(8)"));
    /// ```
    #[track_caller]
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.set_limit(limit);
        self
    }

    /// Caps the number of tasks that run at once at `limit` (Go's `SetLimit`). Tasks over the
    /// limit wait their turn in spawn order; [`spawn`](Self::spawn) never blocks.
    ///
    /// # Panics
    ///
    /// If `limit` is 0 (nothing could ever run; Go's `SetLimit(0)` deadlocks instead).
    #[track_caller]
    pub fn set_limit(&mut self, limit: usize) {
        self.core.set_limit("ErrGroup", limit);
    }

    /// Makes the group's token a child of `parent` (Go's `errgroup.WithContext(ctx)`): when
    /// `parent` fires, the group's token fires too and the tasks see it. That is cooperative:
    /// the group keeps running its tasks, and `wait()` returns what they return. The group's
    /// own cancellation never fires `parent`.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{CancelToken, ErrGroup};
    ///
    /// # futures::executor::block_on(async {
    /// let shutdown = CancelToken::new();
    /// let mut group = ErrGroup::new().with_parent(&shutdown);
    /// let token = group.cancel_token();
    /// group.spawn(async move {
    ///     token.cancelled().await; // winds down when the server shuts down
    ///     Ok::<_, ()>("flushed")
    /// });
    /// shutdown.cancel();
    /// assert_eq!(group.wait().await, Ok(vec!["flushed"]));
    /// # });
    /// ```
    pub fn with_parent(self, parent: &CancelToken) -> Self {
        self.core.attach_parent(parent);
        self
    }

    /// Adds a task (Go's `g.Go`). It starts when `wait()` (or `wait_all()`) runs, at once if
    /// there is room under the limit, otherwise when its turn comes, in spawn order.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let mut group = taskgroup::ErrGroup::new();
    /// group.spawn(async { Ok::<_, ()>("a") });
    /// group.spawn(async { Ok("b") });
    /// assert_eq!(group.wait().await, Ok(vec!["a", "b"]));
    /// # });
    /// ```
    pub fn spawn<F>(&mut self, future: F)
    where
        F: Future<Output = Result<T, E>> + Send + 'scope,
        T: Send + 'scope,
        E: Send + 'scope,
    {
        // The group is not closed before `wait()`, so nothing is handed back.
        let _ = Shared::push_owned(&mut self.core.shared, future, false);
    }

    /// Adds a task unless spawned-but-unfinished tasks already reach the limit (Go's
    /// `g.TryGo`), in which case the future is handed back untouched. Without a limit it always
    /// succeeds.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut group = taskgroup::ErrGroup::new().with_limit(1);
    /// assert!(group.try_spawn(async { Ok::<_, ()>(1) }).is_ok());
    /// let second = group.try_spawn(async { Ok(2) });
    /// assert!(second.is_err()); // the future is handed back
    /// ```
    pub fn try_spawn<F>(&mut self, future: F) -> Result<(), F>
    where
        F: Future<Output = Result<T, E>> + Send + 'scope,
        T: Send + 'scope,
        E: Send + 'scope,
    {
        Shared::push_owned(&mut self.core.shared, future, true)
    }

    /// A handle that adds tasks to this group, also from inside its tasks.
    pub fn spawner(&self) -> ErrGroupSpawner<'scope, T, E> {
        ErrGroupSpawner {
            shared: self.core.shared.clone(),
        }
    }

    /// The group's token (Go's `ctx` from `errgroup.WithContext`). It fires on the first error
    /// or panic (before the other tasks are dropped, so their drop code sees it), when
    /// `wait()` or `wait_all()` returns, when the group or its `wait()` future is dropped, and
    /// with the parent given to [`with_parent`](Self::with_parent).
    ///
    /// Firing it yourself is a cooperative stop: tasks see it and wind down, and the group keeps
    /// running them. Dropping the `wait()` future is the hard stop.
    pub fn cancel_token(&self) -> CancelToken {
        self.core.shared.token.clone()
    }

    /// Runs the tasks and returns their values in spawn order, or the first error (Go's
    /// `g.Wait()`).
    ///
    /// On the first error, the group fires its token, drops every other running or queued task,
    /// and the future returns `Err(first)` once every task has finished or been dropped.
    /// Otherwise it returns `Ok` once every task, including those spawned while it ran, has
    /// finished. Either way the token fires before it returns.
    ///
    /// # Panics
    ///
    /// Resumes the panic of a task that panicked (after dropping the other tasks), with its
    /// original payload; a panic is never lost, even one that came after the first error, or
    /// one from a task's drop code while the group dropped it.
    /// In the parallel form, also panics if the executor dropped a task before it finished
    /// (for example, a runtime that was shut down).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future (for example under [`.timeout(d)`](crate::TimeoutExt)) is the hard
    /// stop: the token fires, and every task is dropped (in the parallel form, at its next
    /// poll, which it is woken for). Nothing keeps running.
    pub fn wait(self) -> ErrGroupWait<'scope, T, E> {
        ErrGroupWait {
            driver: Driver::new(self.core, true),
        }
    }

    /// As [`wait`](Self::wait), but an error keeps the values of the tasks that had already
    /// returned one (Go users write them into a slice; tokio users drain a `JoinSet`): the
    /// first error cancels the rest as in `wait()`, and comes back in a [`Partial`] with
    /// `values[i]` = `Some(value)` for each task `i` that returned `Ok` before the group
    /// stopped, `None` for the others (the failed one, and those cancelled or never started).
    ///
    /// # Panics
    ///
    /// As [`wait`](Self::wait): a task's panic is resumed here.
    ///
    /// # Cancel safety
    ///
    /// As [`wait`](Self::wait): dropping the future cancels and drops every task.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{ErrGroup, Partial};
    ///
    /// # futures::executor::block_on(async {
    /// let mut group = ErrGroup::new();
    /// group.spawn(async { Ok(1) });
    /// group.spawn(async { Ok(2) });
    /// group.spawn(async { Err("page 3 failed") });
    /// let Err(Partial { error, values, .. }) = group.wait_partial().await else {
    ///     unreachable!()
    /// };
    /// assert_eq!(error, "page 3 failed");
    /// assert_eq!(values, [Some(1), Some(2), None]); // what had succeeded is kept
    /// # });
    /// ```
    pub fn wait_partial(self) -> ErrGroupWaitPartial<'scope, T, E> {
        ErrGroupWaitPartial {
            driver: Driver::new(self.core, true),
        }
    }

    /// Runs every task to its end, errors included, and returns every outcome in spawn order
    /// (Go's `errors.Join` pattern; the index says which task). An error does not cancel
    /// anything; the token fires when it returns.
    ///
    /// # Panics
    ///
    /// As [`wait`](Self::wait): a task's panic cancels the others and is resumed here.
    ///
    /// # Cancel safety
    ///
    /// As [`wait`](Self::wait): dropping the future cancels and drops every task.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let mut group = taskgroup::ErrGroup::new();
    /// group.spawn(async { Ok(1) });
    /// group.spawn(async { Err("b failed") });
    /// group.spawn(async { Ok(3) });
    /// assert_eq!(group.wait_all().await, vec![Ok(1), Err("b failed"), Ok(3)]);
    /// # });
    /// ```
    pub fn wait_all(self) -> ErrGroupWaitAll<'scope, T, E> {
        ErrGroupWaitAll {
            driver: Driver::new(self.core, false),
        }
    }
}

impl<T, E> ErrGroup<'static, T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    /// A parallel group: each task runs as its own executor task, handed to `spawn`, so tasks
    /// run on several cores where the executor has them. Tasks must be `'static`.
    ///
    /// `spawn` receives a boxed future to run to completion, e.g. `|f| { tokio::spawn(f); }`,
    /// `|f| smol::spawn(f).detach()`, `|f| { async_std::task::spawn(f); }`. It is called when a
    /// task starts (inside `wait()`, within the limit). When the group is cancelled by its first
    /// error, a panic or a drop, each spawned task drops its future at its next poll (it is
    /// woken for that), and `wait()` returns only after all of them did.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::ErrGroup;
    ///
    /// # smol::block_on(async {
    /// let ex = std::sync::Arc::new(smol::Executor::new());
    /// let spawner = ex.clone();
    /// let mut group = ErrGroup::with_spawner(move |f| spawner.spawn(f).detach());
    /// for n in 0..10 {
    ///     group.spawn(async move { Ok::<_, ()>(n) });
    /// }
    /// let sum: i32 = ex.run(group.wait()).await.unwrap().iter().sum();
    /// assert_eq!(sum, 45);
    /// # });
    /// ```
    pub fn with_spawner<S>(spawn: S) -> Self
    where
        S: Fn(Pin<Box<dyn Future<Output = ()> + Send + 'static>>) + Send + Sync + 'static,
    {
        Self::build(Some(StdArc::new(spawn)))
    }
}

impl<'scope, T, E> Default for ErrGroup<'scope, T, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'scope, T, E> ErrGroupSpawner<'scope, T, E> {
    /// Adds a task to the group, as [`ErrGroup::spawn`] does. If the group already finished or
    /// was cancelled by its own failure or drop, `future` is dropped without running.
    pub fn spawn<F>(&self, future: F)
    where
        F: Future<Output = Result<T, E>> + Send + 'scope,
        T: Send + 'scope,
        E: Send + 'scope,
    {
        // Dropped here, outside every lock, if the group is closed.
        drop(Shared::push(&self.shared, future, false));
    }

    /// Adds a task unless spawned-but-unfinished tasks already reach the limit, as
    /// [`ErrGroup::try_spawn`] does; also hands the future back if the group already finished
    /// or was cancelled.
    pub fn try_spawn<F>(&self, future: F) -> Result<(), F>
    where
        F: Future<Output = Result<T, E>> + Send + 'scope,
        T: Send + 'scope,
        E: Send + 'scope,
    {
        Shared::push(&self.shared, future, true)
    }

    /// The group's token; see [`ErrGroup::cancel_token`].
    pub fn cancel_token(&self) -> CancelToken {
        self.shared.token.clone()
    }

    /// Changes the group's limit while it runs (Go's `SetLimit`, from anywhere that holds a
    /// spawner, including the group's own tasks). A higher limit starts queued tasks at once; a
    /// lower one lets running tasks finish and starts no more until they are under it.
    ///
    /// # Panics
    ///
    /// If `limit` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let mut group = taskgroup::ErrGroup::new().with_limit(1);
    /// let spawner = group.spawner();
    /// group.spawn(async move {
    ///     spawner.set_limit(4); // room for the rest as soon as this one is running
    ///     Ok::<_, ()>(0)
    /// });
    /// for i in 1..4 {
    ///     group.spawn(async move { Ok(i) });
    /// }
    /// assert_eq!(group.wait().await, Ok(vec![0, 1, 2, 3]));
    /// # });
    /// ```
    #[track_caller]
    pub fn set_limit(&self, limit: usize) {
        self.shared.set_limit("ErrGroup", limit);
    }
}

impl<T, E> Clone for ErrGroupSpawner<'_, T, E> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

pin_project! {
    /// The future returned by [`ErrGroup::wait`]: `Ok(values)` in spawn order, or the first
    /// error.
    ///
    /// # Cancel safety
    ///
    /// Dropping it cancels the group and drops every task (see [`ErrGroup::wait`]).
    #[must_use = "an ErrGroup runs nothing unless its wait() is polled"]
    pub struct ErrGroupWait<'scope, T, E> {
        driver: Driver<'scope, T, E>,
    }
}

impl<'scope, T, E> Future for ErrGroupWait<'scope, T, E> {
    type Output = Result<Vec<T>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .driver
            .poll_finish(cx)
            .map(Finished::into_values)
    }
}

pin_project! {
    /// The future returned by [`ErrGroup::wait_partial`]: `Ok(values)` in spawn order, or the
    /// first error with the values that had come back.
    ///
    /// # Cancel safety
    ///
    /// Dropping it cancels the group and drops every task (see [`ErrGroup::wait`]).
    #[must_use = "an ErrGroup runs nothing unless its wait_partial() is polled"]
    pub struct ErrGroupWaitPartial<'scope, T, E> {
        driver: Driver<'scope, T, E>,
    }
}

impl<'scope, T, E> Future for ErrGroupWaitPartial<'scope, T, E> {
    type Output = Result<Vec<T>, Partial<T, E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .driver
            .poll_finish(cx)
            .map(Finished::into_partial)
    }
}

/// The error of [`ErrGroup::wait_partial`] (and [`LocalErrGroup::wait_partial`]): the group's
/// first error, and the values of the tasks that returned one before the group stopped.
///
/// # Examples
///
/// ```
/// use taskgroup::{ErrGroup, Partial};
///
/// # futures::executor::block_on(async {
/// let mut group = ErrGroup::new();
/// group.spawn(async { Ok("a") });
/// group.spawn(async { Err("b failed") });
/// let partial: Partial<&str, &str> = group.wait_partial().await.unwrap_err();
/// assert_eq!(partial.to_string(), "b failed (1 of 2 tasks returned a value)");
/// assert_eq!(partial.into_inner(), "b failed");
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Partial<T, E> {
    /// The first error, as `wait()` returns it.
    pub error: E,
    /// One entry per task, in spawn order: `Some(value)` if it returned `Ok(value)`, `None` if
    /// it failed, was cancelled or never started.
    pub values: Vec<Option<T>>,
}

impl<T, E> Partial<T, E> {
    /// The error alone, as [`wait`](ErrGroup::wait) would have returned it.
    pub fn into_inner(self) -> E {
        self.error
    }
}

impl<T, E: fmt::Display> fmt::Display for Partial<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let done = self.values.iter().filter(|value| value.is_some()).count();
        write!(
            f,
            "{} ({done} of {} tasks returned a value)",
            self.error,
            self.values.len()
        )
    }
}

impl<T: fmt::Debug, E: std::error::Error + 'static> std::error::Error for Partial<T, E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

pin_project! {
    /// The future returned by [`ErrGroup::wait_all`]: every task's outcome, in spawn order.
    ///
    /// # Cancel safety
    ///
    /// Dropping it cancels the group and drops every task (see [`ErrGroup::wait`]).
    #[must_use = "an ErrGroup runs nothing unless its wait_all() is polled"]
    pub struct ErrGroupWaitAll<'scope, T, E> {
        driver: Driver<'scope, T, E>,
    }
}

impl<'scope, T, E> Future for ErrGroupWaitAll<'scope, T, E> {
    type Output = Vec<Result<T, E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .driver
            .poll_finish(cx)
            .map(Finished::into_outcomes)
    }
}

impl<'scope, T, E> fmt::Debug for ErrGroup<'scope, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.shared.fmt_counts("ErrGroup", f)
    }
}

impl<'scope, T, E> fmt::Debug for ErrGroupSpawner<'scope, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shared.fmt_counts("ErrGroupSpawner", f)
    }
}

impl<'scope, T, E> fmt::Debug for ErrGroupWait<'scope, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.driver.core.shared.fmt_counts("ErrGroupWait", f)
    }
}

impl<'scope, T, E> fmt::Debug for ErrGroupWaitPartial<'scope, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.driver.core.shared.fmt_counts("ErrGroupWaitPartial", f)
    }
}

impl<'scope, T, E> fmt::Debug for ErrGroupWaitAll<'scope, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.driver.core.shared.fmt_counts("ErrGroupWaitAll", f)
    }
}
