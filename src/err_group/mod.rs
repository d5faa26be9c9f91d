//! [`ErrGroup`]: Go's `errgroup`, structured: the first error cancels the rest, and no task
//! outlives its group.
//!
//! # How it works
//!
//! Every spawned future is boxed once, in a wrapper that catches its panic and drops it as soon
//! as it finishes. The two forms differ in who polls it and who keeps the books:
//!
//! - Local form: the [`Driver`] inside `wait()` polls the jobs itself, on the crate's in-flight
//!   engine (`crate::in_flight`, the fan-out adapters' too), and records their outcomes in its
//!   own storage, so a job costs no lock and no reference count beyond its queue entry.
//! - Parallel form: each job is a [`Supervised`] task (`crate::supervise`, `fan_out_spawned`'s
//!   too) on the user's executor; it reports its outcome (a value, an error, a panic, or being
//!   dropped) exactly once into the shared [`State`], and drops its future at its next poll
//!   once the group is cancelled.
//!
//! Either way the first error or panic fires the token, then sets the abort flag and drops the
//! queued jobs. `unfinished` counts jobs spawned and not yet finished or dropped; the group is
//! done when it is zero.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
// `Waker::from` needs std's `Arc`; the wakers' shared state is on the loom switch.
use std::sync::Arc as StdArc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::cancel::CancelToken;
use crate::in_flight::{InFlight, Parent};
use crate::supervise::{poll_catching, Abort, Report, SpawnFn, Supervised, Task};
use crate::sync::{lock, Arc, AtomicUsize, Mutex, Ordering};

mod local;
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

/// What the group and its `wait()` future own; its `Drop` is the hard stop.
struct Core<'scope, T, E, L = LocalTask<'scope, T, E>> {
    shared: Arc<Shared<'scope, T, E, L>>,
}

/// The state shared by the group, its spawners and (parallel form) its jobs.
///
/// `L` is the boxed local job: `Send` for [`ErrGroup`], not for [`LocalErrGroup`].
struct Shared<'scope, T, E, L = LocalTask<'scope, T, E>> {
    state: Mutex<State<'scope, T, E, L>>,
    /// Jobs spawned and not yet finished or dropped, queued or running. Raised under the
    /// `state` lock (so a check of it under the lock is final); lowered under it by parallel
    /// jobs, and without it by the local driver, which is the only one that sees its jobs end.
    unfinished: AtomicUsize,
    /// Jobs that ran to completion (a value, an error or a panic); for `Debug`.
    finished: AtomicUsize,
    /// The group's token, handed out by `cancel_token()`.
    token: CancelToken,
    /// The group's own hard cancellation (first error, panic, drop): jobs drop their future at
    /// their next poll. Separate from `token`, whose firing by a user is cooperative.
    abort: Abort,
    /// Wakes the `wait()` future: the parent of the local jobs' in-flight set, notified by
    /// spawns and by the parallel jobs' reports.
    wake: StdArc<Parent>,
    /// `Some` in the parallel form.
    spawn: Option<SpawnFn<'scope>>,
}

struct State<'scope, T, E, L> {
    /// Spawned, not started: waiting for `wait()` or for room under the limit. In spawn order.
    queue: VecDeque<Queued<'scope, L>>,
    /// The spawn index of the next job.
    next_index: usize,
    limit: usize,
    /// `Some(true)` once `wait()` was called (fail fast), `Some(false)` for `wait_all()`.
    fail_fast: Option<bool>,
    /// Parallel form: what the jobs reported.
    results: Results<T, E>,
    /// The group's own cancellation happened: nothing starts any more.
    aborted: bool,
    /// Spawns are dropped from now on (finished, aborted or dropped).
    closed: bool,
    /// The outer token given to `with_parent`, kept alive with the group.
    parent: Option<CancelToken>,
}

/// A queued job of either form.
enum Queued<'scope, L> {
    /// Local form: the driver polls it and records its outcome under `index`.
    Local(usize, L),
    /// Parallel form: handed to the spawn function; reports itself.
    Spawned(Task<'scope>),
}

/// A local job: the user's future in its catching wrapper, boxed once.
type LocalTask<'scope, T, E> = Pin<Box<dyn Future<Output = Outcome<T, E>> + Send + 'scope>>;

/// A job of a [`LocalErrGroup`]: the same, not `Send`.
type UnsendTask<'scope, T, E> = Pin<Box<dyn Future<Output = Outcome<T, E>> + 'scope>>;

/// What a group's jobs came to: every outcome by spawn index, the first error (fail fast),
/// the first panic.
struct Results<T, E> {
    outcomes: Vec<Option<Result<T, E>>>,
    first_error: Option<E>,
    failure: Option<Failure>,
}

/// Why a group stops other than by an error.
enum Failure {
    /// A task panicked, with this payload.
    Panic(Box<dyn Any + Send>),
    /// The executor dropped a spawned task before it finished (parallel form only).
    Lost,
}

/// How a job ended.
type Outcome<T, E> = crate::supervise::Outcome<Result<T, E>>;

impl<T, E> Results<T, E> {
    fn new() -> Self {
        Self {
            outcomes: Vec::new(),
            first_error: None,
            failure: None,
        }
    }

    /// Records the outcome of job `index`; returns whether it fails the group (the first error
    /// under fail-fast, a panic, a lost job), and what was not kept (a later error, a later
    /// panic's payload), for the caller to drop once it holds no lock: user drop code runs
    /// there.
    fn record(
        &mut self,
        index: usize,
        outcome: Outcome<T, E>,
        fail_fast: bool,
    ) -> (bool, Option<Outcome<T, E>>) {
        match outcome {
            Outcome::Done(Err(error)) if fail_fast => {
                if self.first_error.is_none() && self.failure.is_none() {
                    self.first_error = Some(error);
                    (true, None)
                } else {
                    (false, Some(Outcome::Done(Err(error))))
                }
            }
            Outcome::Done(result) => {
                if index == self.outcomes.len() {
                    // Finished in spawn order (the common case of quick jobs): one push.
                    self.outcomes.push(Some(result));
                } else {
                    if self.outcomes.len() <= index {
                        self.outcomes.resize_with(index + 1, || None);
                    }
                    self.outcomes[index] = Some(result);
                }
                (false, None)
            }
            Outcome::Panicked(payload) => {
                // The first panic is kept, even after an error: a panic is never lost.
                if matches!(self.failure, Some(Failure::Panic(_))) {
                    (true, Some(Outcome::Panicked(payload)))
                } else {
                    self.failure = Some(Failure::Panic(payload));
                    (true, None)
                }
            }
            Outcome::Dropped => {
                if self.failure.is_none() {
                    self.failure = Some(Failure::Lost);
                }
                (true, None)
            }
        }
    }
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

impl<'scope, T, E> Shared<'scope, T, E>
where
    T: Send + 'scope,
    E: Send + 'scope,
{
    /// `push` for the group's own `&mut` handle: while nothing else holds the shared state (no
    /// spawner, no parallel job), it needs no lock.
    fn push_owned<F>(this: &mut Arc<Self>, future: F, limited: bool) -> Result<(), F>
    where
        F: Future<Output = Result<T, E>> + Send + 'scope,
    {
        if this.spawn.is_some() {
            return Self::push(this, future, limited);
        }
        Self::enqueue_owned(
            this,
            Box::new(LocalJob::new(future)),
            limited,
            |job, index| Queued::Local(index, Box::into_pin(job)),
        )
        .map_err(|mut job| job.take())
    }

    /// Queues `future` as a job. Hands it back if the group is closed, or if `limited` and the
    /// unfinished jobs reach the limit.
    fn push<F>(this: &Arc<Self>, future: F, limited: bool) -> Result<(), F>
    where
        F: Future<Output = Result<T, E>> + Send + 'scope,
    {
        // Boxed before the lock, to keep the critical section short; not pinned yet, so the
        // future can still be handed back untouched.
        let job = match this.spawn {
            None => Err(Box::new(LocalJob::new(future))),
            Some(_) => Ok(Box::new(Supervised::new(future, this.clone(), 0))),
        };
        Self::enqueue(this, job, limited, |job, index| match job {
            Err(local) => Queued::Local(index, Box::into_pin(local)),
            Ok(mut spawned) => {
                spawned.set_index(index);
                Queued::Spawned(Box::into_pin(spawned))
            }
        })
        .map_err(|job| match job {
            Err(mut local) => local.take(),
            // It never joined: nothing is reported for it.
            Ok(mut spawned) => spawned
                .take_unstarted()
                .expect("the future is still in its job"),
        })
    }
}

impl<'scope, T, E, L> Shared<'scope, T, E, L> {
    /// Queues `job` (a boxed job of either form, not yet pinned) under the next spawn index,
    /// which `queued` turns it into an entry with. Hands the job back, untouched, if the group
    /// is closed, or if `limited` and the unfinished jobs reach the limit.
    fn enqueue<J>(
        this: &Arc<Self>,
        job: J,
        limited: bool,
        queued: impl FnOnce(J, usize) -> Queued<'scope, L>,
    ) -> Result<(), J> {
        let mut state = lock(&this.state);
        if state.closed || (limited && this.unfinished.load(Ordering::Relaxed) >= state.limit) {
            drop(state);
            return Err(job);
        }
        let index = state.next_index;
        state.next_index += 1;
        this.unfinished.fetch_add(1, Ordering::Relaxed);
        state.queue.push_back(queued(job, index));
        let wake = state.fail_fast.is_some();
        drop(state);
        if wake {
            // `wait()` runs: let it start the new job.
            this.wake.notify();
        }
        Ok(())
    }

    /// `enqueue` for the group's own `&mut` handle: while nothing else holds the shared state
    /// (no spawner, no parallel job), it needs no lock.
    fn enqueue_owned<J>(
        this: &mut Arc<Self>,
        job: J,
        limited: bool,
        queued: impl FnOnce(J, usize) -> Queued<'scope, L>,
    ) -> Result<(), J> {
        if let Some(shared) = Arc::get_mut(this) {
            let state = shared
                .state
                .get_mut()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            // A load and a store rather than `get_mut`, which loom's atomics lack, and rather
            // than a read-modify-write: nobody else can touch the count here. The group is not
            // closed before `wait()`.
            let unfinished = shared.unfinished.load(Ordering::Relaxed);
            if limited && unfinished >= state.limit {
                return Err(job);
            }
            let index = state.next_index;
            state.next_index += 1;
            shared.unfinished.store(unfinished + 1, Ordering::Relaxed);
            state.queue.push_back(queued(job, index));
            return Ok(());
        }
        Self::enqueue(this, job, limited, queued)
    }
}

impl<'scope, T, E, L> Shared<'scope, T, E, L> {
    /// Sets the limit; a running `wait()` is woken to start what the new limit makes room for.
    #[track_caller]
    fn set_limit(&self, group: &str, limit: usize) {
        assert!(
            limit > 0,
            "{group} limit must be at least 1 (a limit of 0 would never run a task)"
        );
        let mut state = lock(&self.state);
        let wake = state.fail_fast.is_some() && limit > state.limit;
        state.limit = limit;
        drop(state);
        if wake {
            self.wake.notify();
        }
    }

    /// Moves the queued jobs that fit under the limit into `out`, in spawn order.
    fn take_startable(&self, out: &mut VecDeque<Queued<'scope, L>>) {
        let mut state = lock(&self.state);
        if state.aborted {
            return;
        }
        let running = self.unfinished.load(Ordering::Relaxed) - state.queue.len();
        let room = state.limit.saturating_sub(running).min(state.queue.len());
        if room == state.queue.len() && out.is_empty() {
            // All of it (no limit in the way): swap the buffers rather than move each job.
            std::mem::swap(&mut state.queue, out);
        } else {
            out.extend(state.queue.drain(..room));
        }
    }

    /// Records how parallel job `index` ended: called exactly once per such job.
    fn report(&self, index: usize, outcome: Outcome<T, E>) {
        let mut state = lock(&self.state);
        if !matches!(outcome, Outcome::Dropped) {
            self.finished.fetch_add(1, Ordering::Relaxed);
        }
        let (fail, leftover) = match outcome {
            // Dropped by the group itself (it aborted or closed): as intended.
            Outcome::Dropped if state.aborted || state.closed => (false, None),
            // A failure after the group stopped changes nothing but is still recorded (a panic
            // is never lost); anything else fails the group if it is the first failure.
            outcome => {
                let fail_fast = state.fail_fast == Some(true);
                let (fail, leftover) = state.results.record(index, outcome, fail_fast);
                (fail && !state.aborted, leftover)
            }
        };
        if fail {
            // Under the same lock as the failure: from here on nothing starts.
            state.aborted = true;
        }
        // Release: whoever sees the count reach zero also sees the job's future dropped.
        let unfinished = self.unfinished.fetch_sub(1, Ordering::Release) - 1;
        let wake = unfinished == 0
            || (!state.aborted
                && !state.queue.is_empty()
                && unfinished - state.queue.len() < state.limit);
        drop(state);
        drop(leftover);
        if fail {
            // No local jobs in the parallel form, so nothing comes back.
            let _ = self.abort();
        }
        if wake {
            self.wake.notify();
        }
    }

    /// The group's own cancellation: fire the token first (so the tasks' drop code sees it),
    /// then stop everything: nothing starts any more, spawned jobs drop their future at their
    /// next poll, queued jobs are dropped here.
    ///
    /// Returns the payloads of local jobs whose drop code panicked (a spawned job reports its
    /// own), for the caller to record.
    #[must_use]
    fn abort(&self) -> Vec<Box<dyn Any + Send>> {
        self.token.cancel();
        let queued = {
            let mut state = lock(&self.state);
            state.aborted = true;
            state.closed = true;
            std::mem::take(&mut state.queue)
        };
        self.abort.set();
        // Outside the lock: a spawned job's drop reports, and any future's drop code may spawn.
        let mut local = 0;
        let mut panics = Vec::new();
        for job in queued {
            local += matches!(job, Queued::Local(..)) as usize;
            panics.extend(drop_catching(job));
        }
        self.unfinished.fetch_sub(local, Ordering::Release);
        panics
    }
}

/// Drops `value`, catching a panic of its drop code: the books are kept however a task's
/// future goes.
fn drop_catching<X>(value: X) -> Option<Box<dyn Any + Send>> {
    catch_unwind(AssertUnwindSafe(move || drop(value))).err()
}

pin_project! {
    /// A local job: the user's future, polled by the driver.
    struct LocalJob<F> {
        #[pin]
        future: Option<F>,
    }
}

impl<F> LocalJob<F> {
    fn new(future: F) -> Self {
        Self {
            future: Some(future),
        }
    }

    /// The future back out of a job that was never queued.
    fn take(&mut self) -> F {
        self.future.take().expect("the future is still in its job")
    }
}

impl<F, T, E> Future for LocalJob<F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Outcome<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome<T, E>> {
        // Dropped as soon as it is done, inside the catch: its drop code runs before the group
        // records it, and a panic there is the task's.
        poll_catching(self.project().future, cx)
    }
}

/// The parallel jobs' owner: they find the abort signal and report through the shared state.
impl<'scope, T, E> Report<Result<T, E>> for Arc<Shared<'scope, T, E>> {
    fn abort_signal(&self) -> &Abort {
        &self.abort
    }

    fn report(&self, index: usize, outcome: Outcome<T, E>) {
        Shared::report(self, index, outcome);
    }
}

/// Runs the group: the engine behind [`ErrGroupWait`] and [`ErrGroupWaitAll`].
struct Driver<'scope, T, E, L = LocalTask<'scope, T, E>> {
    core: Core<'scope, T, E, L>,
    fail_fast: bool,
    /// Local form: the running jobs, polled here (tagged with their spawn index).
    local: InFlight<L, usize>,
    /// Local form: what the jobs came to.
    results: Results<T, E>,
    /// Jobs taken from the queue to start (a buffer kept between polls).
    starting: VecDeque<Queued<'scope, L>>,
    /// Local jobs that finished and are not yet counted out of `unfinished` (see `flush`).
    ended: usize,
    done: bool,
}

/// What ends a `wait()`: every outcome by spawn index (`None` for a task that never returned:
/// dropped by the group's cancellation), and the first error under fail-fast.
enum Finished<T, E> {
    Outcomes(Vec<Option<Result<T, E>>>),
    Error(E, Vec<Option<Result<T, E>>>),
}

impl<'scope, T, E, L> Driver<'scope, T, E, L> {
    fn new(core: Core<'scope, T, E, L>, fail_fast: bool) -> Self {
        // Room for the outcomes of the jobs spawned so far, at once, rather than one growth
        // after another (in the parallel form, each under the lock the reporting jobs wait on).
        // The local form records them here, the parallel one in the shared state.
        let mut results = Results::new();
        {
            let mut state = lock(&core.shared.state);
            state.fail_fast = Some(fail_fast);
            let spawned = state.next_index;
            if core.shared.spawn.is_none() {
                results.outcomes.reserve_exact(spawned);
            } else {
                state.results.outcomes.reserve_exact(spawned);
            }
        }
        let wake = core.shared.wake.clone();
        Self {
            core,
            fail_fast,
            local: InFlight::with_parent(wake),
            results,
            starting: VecDeque::new(),
            ended: 0,
            done: false,
        }
    }

    /// Records a local job's outcome; on a failure, cancels the group.
    fn record(&mut self, index: usize, outcome: Outcome<T, E>) {
        self.ended += 1;
        let (fail, leftover) = self.results.record(index, outcome, self.fail_fast);
        if let Some(payload) = leftover.and_then(drop_catching) {
            self.record_panic(payload);
        }
        if fail && !self.core.shared.abort.is_set() {
            for payload in self.core.shared.abort() {
                self.record_panic(payload);
            }
        }
    }

    /// Records a panic of a local job's drop code (the job itself was already counted).
    fn record_panic(&mut self, payload: Box<dyn Any + Send>) {
        let _ = self
            .results
            .record(0, Outcome::Panicked(payload), self.fail_fast);
    }

    /// Counts the local jobs that ended since the last call out of `unfinished` (two atomic
    /// operations per batch rather than per job). Called before anything reads the count.
    fn flush(&mut self) {
        if self.ended > 0 {
            let shared = &*self.core.shared;
            shared.finished.fetch_add(self.ended, Ordering::Relaxed);
            shared.unfinished.fetch_sub(self.ended, Ordering::Relaxed);
            self.ended = 0;
        }
    }

    /// Drops every local job still running (the group was cancelled).
    fn clear_local(&mut self) {
        self.flush();
        let (dropped, panics) = self.local.clear();
        self.core
            .shared
            .unfinished
            .fetch_sub(dropped, Ordering::Relaxed);
        for payload in panics {
            self.record_panic(payload);
        }
    }

    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<Finished<T, E>>
    where
        L: Future<Output = Outcome<T, E>> + Unpin,
    {
        assert!(!self.done, "an ErrGroup's wait() polled after it returned");
        // Polls of woken jobs in this call; past the budget, yield to the executor so that a
        // job that keeps waking itself cannot starve it.
        let mut budget = self.local.len().max(32);
        loop {
            let mut progress = self.core.shared.wake.take_notified();
            // The woken local jobs, until none is left (the set then registers our waker) or a
            // failure stops the group.
            while !self.core.shared.abort.is_set() {
                match self.local.poll_next(cx, &mut budget, &mut lost_none) {
                    Poll::Ready(Some((index, outcome))) => {
                        self.record(index, outcome);
                        progress = true;
                    }
                    Poll::Ready(None) | Poll::Pending => break,
                }
            }

            if !self.core.shared.abort.is_set() {
                self.flush();
                self.core.shared.take_startable(&mut self.starting);
                progress |= !self.starting.is_empty();
                let mut starting = std::mem::take(&mut self.starting);
                self.local.reserve(starting.len());
                for job in starting.drain(..) {
                    match job {
                        // A job started earlier in this loop may have failed: the rest are
                        // dropped unstarted.
                        Queued::Local(..) if self.core.shared.abort.is_set() => {
                            let panicked = drop_catching(job);
                            self.core.shared.unfinished.fetch_sub(1, Ordering::Relaxed);
                            if let Some(payload) = panicked {
                                self.record_panic(payload);
                            }
                        }
                        Queued::Local(index, task) => {
                            if let Some((index, outcome)) =
                                self.local.push(task, index, &mut lost_none)
                            {
                                self.record(index, outcome);
                            }
                        }
                        // Dropped unstarted, it reports itself.
                        Queued::Spawned(task) if self.core.shared.abort.is_set() => drop(task),
                        Queued::Spawned(task) => {
                            let spawn = self.core.shared.spawn.as_ref().expect("parallel form");
                            spawn(task);
                        }
                    }
                }
                self.starting = starting;
            }
            if self.core.shared.abort.is_set() {
                // The group's own cancellation: the token has fired; drop what runs here.
                self.clear_local();
            }

            self.flush();
            let shared = &*self.core.shared;
            let mut state = lock(&shared.state);
            // Acquire: pairs with the Release of every job that dropped its future and counted
            // itself out, so that everything they did happens-before `wait()` returns.
            if shared.unfinished.load(Ordering::Acquire) == 0 {
                state.closed = true;
                let results = if shared.spawn.is_some() {
                    std::mem::replace(&mut state.results, Results::new())
                } else {
                    std::mem::replace(&mut self.results, Results::new())
                };
                let spawned = state.next_index;
                drop(state);
                self.done = true;
                shared.token.cancel();
                return Poll::Ready(Self::finish(results, spawned));
            }
            drop(state);
            if !progress {
                // Register (the set did if it has jobs; not if it is empty), then look once
                // more for a notification: the look after registering is the one that counts.
                self.core.shared.wake.register(cx.waker());
                if self.core.shared.wake.take_notified() {
                    continue;
                }
                return Poll::Pending;
            }
            if budget == 0 {
                // Out of polls for this call: yield to the executor, so that a job that keeps
                // waking itself cannot starve it, and come back at once.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }

    fn finish(results: Results<T, E>, spawned: usize) -> Finished<T, E> {
        match results.failure {
            Some(Failure::Panic(payload)) => resume_unwind(payload),
            Some(Failure::Lost) => panic!(
                "an ErrGroup task was dropped by its executor before it finished \
                 (was the runtime shut down?)"
            ),
            None => {}
        }
        let mut outcomes = results.outcomes;
        outcomes.resize_with(spawned, || None);
        match results.first_error {
            Some(error) => Finished::Error(error, outcomes),
            None => Finished::Outcomes(outcomes),
        }
    }
}

impl<'scope, T, E, L> Core<'scope, T, E, L> {
    /// A group with no tasks: local (`spawn` is `None`) or parallel.
    fn new(spawn: Option<SpawnFn<'scope>>) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    next_index: 0,
                    limit: usize::MAX,
                    fail_fast: None,
                    results: Results::new(),
                    aborted: false,
                    closed: false,
                    parent: None,
                }),
                unfinished: AtomicUsize::new(0),
                finished: AtomicUsize::new(0),
                token: CancelToken::new(),
                abort: Abort::new(),
                wake: StdArc::new(Parent::new()),
                spawn,
            }),
        }
    }

    #[track_caller]
    fn set_limit(&self, group: &str, limit: usize) {
        self.shared.set_limit(group, limit);
    }

    fn attach_parent(&self, parent: &CancelToken) {
        let shared = &self.shared;
        // The token may already be out (`cancel_token()`), so it is hooked under the parent
        // rather than replaced. The group keeps the parent alive: a chain above it keeps
        // firing even if every other handle to the parent is dropped.
        shared.token.attach_to(parent);
        lock(&shared.state).parent = Some(parent.clone());
    }
}

impl<T, E> Finished<T, E> {
    /// What `wait()` returns: the values in spawn order, or the first error.
    fn into_values(self) -> Result<Vec<T>, E> {
        match self {
            Finished::Error(error, _) => Err(error),
            Finished::Outcomes(outcomes) => Ok(outcomes
                .into_iter()
                .map(|outcome| match outcome {
                    Some(Ok(value)) => value,
                    _ => unreachable!("every task of a successful group returned a value"),
                })
                .collect()),
        }
    }

    /// What `wait_partial()` returns: the values in spawn order, or the first error with the
    /// values of the tasks that returned one before the group stopped.
    fn into_partial(self) -> Result<Vec<T>, Partial<T, E>> {
        match self {
            Finished::Error(error, outcomes) => Err(Partial {
                error,
                values: outcomes
                    .into_iter()
                    .map(|outcome| outcome.and_then(Result::ok))
                    .collect(),
            }),
            finished => Ok(finished
                .into_values()
                .unwrap_or_else(|_| unreachable!("an error is `Finished::Error`"))),
        }
    }

    /// What `wait_all()` returns: every outcome in spawn order.
    fn into_outcomes(self) -> Vec<Result<T, E>> {
        match self {
            Finished::Error(..) => unreachable!("wait_all() keeps errors as outcomes"),
            Finished::Outcomes(outcomes) => outcomes
                .into_iter()
                .map(|outcome| outcome.expect("every task of a finished group has an outcome"))
                .collect(),
        }
    }
}

impl<'scope, T, E, L> Drop for Core<'scope, T, E, L> {
    fn drop(&mut self) {
        if !lock(&self.shared.state).closed {
            // The group dropped before `wait()`: the hard stop, token first. Panics of the
            // queued futures' drop code have nobody to go to.
            let _ = self.shared.abort();
        }
    }
}

impl<'scope, T, E, L> Drop for Driver<'scope, T, E, L> {
    fn drop(&mut self) {
        if !self.done {
            // `wait()` dropped: the hard stop. The token fires and nothing starts, then the
            // running local jobs are dropped; spawned ones drop at their next poll. Panics of
            // their drop code have nobody left to go to and are dropped with the group.
            let _ = self.core.shared.abort();
            self.starting.clear();
            self.clear_local();
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

/// A local job never panics out of its poll (its wrapper catches), so the in-flight set never
/// loses one.
fn lost_none(_index: usize) {
    unreachable!("a local job's wrapper catches its panics")
}

impl<'scope, T, E> fmt::Debug for ErrGroup<'scope, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.shared.fmt_counts("ErrGroup", f)
    }
}

impl<'scope, T, E, L> Shared<'scope, T, E, L> {
    fn fmt_counts(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        let unfinished = self.unfinished.load(Ordering::Relaxed);
        f.debug_struct(name)
            .field("queued", &state.queue.len())
            .field("running", &unfinished.saturating_sub(state.queue.len()))
            .field("finished", &self.finished.load(Ordering::Relaxed))
            .field("limit", &(state.limit != usize::MAX).then_some(state.limit))
            .field("parallel", &self.spawn.is_some())
            .field("cancelled", &self.token.is_cancelled())
            .finish()
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
