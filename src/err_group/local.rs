//! [`LocalErrGroup`]: the local form of [`ErrGroup`](super::ErrGroup) for tasks that are not
//! `Send`, on the same engine.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::driver::{Core, Driver, Finished, LocalJob, Queued, Shared, UnsendTask};
use super::Partial;
use crate::cancel::CancelToken;
use crate::sync::Arc;

/// A group of tasks that fail together, for tasks that are not `Send`: the local form of
/// [`ErrGroup`](super::ErrGroup), with its methods and semantics.
///
/// Tasks may hold an `Rc`, a `RefCell` borrow or anything else that must stay on one thread, and
/// may borrow from the enclosing scope. They run inside [`wait`](Self::wait) (or
/// [`wait_all`](Self::wait_all)), which is polled on one thread, so it works under smol's
/// `LocalExecutor`, tokio's `LocalSet` or `futures::executor::block_on`. The group, its
/// spawner and its `wait()` future are `!Send` themselves (they hold the tasks). Everything
/// else is as in `ErrGroup`: nothing runs before `wait()` is first polled; the first error fires
/// the [`cancel_token`](Self::cancel_token) and drops every other task; `wait()` returns the
/// values in spawn order; a panic resumes from `wait()` with its payload; dropping `wait()`
/// drops every task. There is no parallel form: for tasks on several threads they must be
/// `Send`, and `ErrGroup::with_spawner` is the form for that.
///
/// # Panics
///
/// A panic in a task is caught; the group cancels the other tasks as for an error, and
/// `wait()` (or `wait_all()`) resumes the panic with its original payload.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use taskgroup::LocalErrGroup;
///
/// # futures::executor::block_on(async {
/// let log = Rc::new(RefCell::new(Vec::new())); // not Send
/// let mut group = LocalErrGroup::new().with_limit(2);
/// for id in 0..4 {
///     let log = log.clone();
///     group.spawn(async move {
///         log.borrow_mut().push(id);
///         Ok::<_, String>(id * 10)
///     });
/// }
/// assert_eq!(group.wait().await, Ok(vec![0, 10, 20, 30]));
/// assert_eq!(*log.borrow(), [0, 1, 2, 3]);
/// # });
/// ```
pub struct LocalErrGroup<'scope, T, E> {
    core: Core<'scope, T, E, UnsendTask<'scope, T, E>>,
}

/// A handle that adds tasks to its [`LocalErrGroup`], from inside its tasks or from anywhere
/// else on the same thread: `Clone`, not `Send`. As [`ErrGroupSpawner`](super::ErrGroupSpawner)
/// for an `ErrGroup`.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use taskgroup::LocalErrGroup;
///
/// # futures::executor::block_on(async {
/// let mut group = LocalErrGroup::<u32, ()>::new();
/// let spawner = group.spawner();
/// let shared = Rc::new(5);
/// group.spawn(async move {
///     spawner.spawn(async move { Ok(*shared + 1) }); // a task that adds a task
///     Ok(1)
/// });
/// assert_eq!(group.wait().await, Ok(vec![1, 6]));
/// # });
/// ```
pub struct LocalErrGroupSpawner<'scope, T, E> {
    shared: LocalShared<'scope, T, E>,
}

impl<'scope, T: 'scope, E: 'scope> LocalErrGroup<'scope, T, E> {
    /// Creates an empty group, without a limit.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = taskgroup::LocalErrGroup::<(), ()>::new();
    /// # drop(group);
    /// ```
    pub fn new() -> Self {
        Self {
            core: Core::new(None),
        }
    }

    /// Caps the number of tasks that run at once at `limit`; builder form of
    /// [`set_limit`](Self::set_limit).
    ///
    /// # Panics
    ///
    /// If `limit` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = taskgroup::LocalErrGroup::<(), ()>::new().with_limit(8);
    /// assert!(format!("{group:?}").contains("limit: Some(8)"));
    /// ```
    #[track_caller]
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.set_limit(limit);
        self
    }

    /// Caps the number of tasks that run at once at `limit` (Go's `SetLimit`); the rest wait
    /// their turn in spawn order, and [`spawn`](Self::spawn) never blocks.
    ///
    /// # Panics
    ///
    /// If `limit` is 0 (nothing could ever run).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut group = taskgroup::LocalErrGroup::<(), ()>::new();
    /// group.set_limit(2);
    /// ```
    #[track_caller]
    pub fn set_limit(&mut self, limit: usize) {
        self.core.set_limit("LocalErrGroup", limit);
    }

    /// Makes the group's token a child of `parent`, as
    /// [`ErrGroup::with_parent`](super::ErrGroup::with_parent) does: firing `parent` is
    /// cooperative, and the group's own cancellation never fires `parent`.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{CancelToken, LocalErrGroup};
    ///
    /// let shutdown = CancelToken::new();
    /// let group = LocalErrGroup::<(), ()>::new().with_parent(&shutdown);
    /// shutdown.cancel();
    /// assert!(group.cancel_token().is_cancelled());
    /// ```
    pub fn with_parent(self, parent: &CancelToken) -> Self {
        self.core.attach_parent(parent);
        self
    }

    /// Adds a task (Go's `g.Go`); it need not be `Send`. It starts when `wait()` runs, at once
    /// if there is room under the limit, otherwise when its turn comes, in spawn order.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let mut group = taskgroup::LocalErrGroup::new();
    /// let local = std::rc::Rc::new(2);
    /// group.spawn(async move { Ok::<_, ()>(*local * 21) });
    /// assert_eq!(group.wait().await, Ok(vec![42]));
    /// # });
    /// ```
    pub fn spawn<F>(&mut self, future: F)
    where
        F: Future<Output = Result<T, E>> + 'scope,
    {
        // The group is not closed before `wait()`, so nothing is handed back.
        let _ = push(Some(&mut self.core.shared), None, future, false);
    }

    /// Adds a task unless the unfinished tasks already reach the limit (Go's `g.TryGo`): then
    /// the future is handed back untouched.
    ///
    /// # Errors
    ///
    /// `Err(future)` when the group is at its limit.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut group = taskgroup::LocalErrGroup::new().with_limit(1);
    /// assert!(group.try_spawn(async { Ok::<_, ()>(1) }).is_ok());
    /// assert!(group.try_spawn(async { Ok(2) }).is_err());
    /// ```
    pub fn try_spawn<F>(&mut self, future: F) -> Result<(), F>
    where
        F: Future<Output = Result<T, E>> + 'scope,
    {
        push(Some(&mut self.core.shared), None, future, true)
    }

    /// A handle that tasks (on this thread) use to add tasks to this group.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = taskgroup::LocalErrGroup::<(), ()>::new();
    /// let spawner = group.spawner();
    /// spawner.spawn(async { Ok(()) });
    /// # drop(group);
    /// ```
    pub fn spawner(&self) -> LocalErrGroupSpawner<'scope, T, E> {
        LocalErrGroupSpawner {
            shared: self.core.shared.clone(),
        }
    }

    /// The group's [`CancelToken`]: it fires on the first error, when `wait()` returns, and
    /// when the group or its `wait()` future is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let mut group = taskgroup::LocalErrGroup::<(), &str>::new();
    /// let token = group.cancel_token();
    /// group.spawn(async { Err("failed") });
    /// assert_eq!(group.wait().await, Err("failed"));
    /// assert!(token.is_cancelled());
    /// # });
    /// ```
    pub fn cancel_token(&self) -> CancelToken {
        self.core.shared.token.clone()
    }

    /// Runs the tasks; `Ok(values)` in spawn order, or the first error (the other tasks are
    /// dropped first), as [`ErrGroup::wait`](super::ErrGroup::wait).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the group: the token fires and every task is dropped.
    ///
    /// # Panics
    ///
    /// Resumes the panic of a task, with its payload.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let mut group = taskgroup::LocalErrGroup::new();
    /// group.spawn(async { Ok::<_, ()>(1) });
    /// assert_eq!(group.wait().await, Ok(vec![1]));
    /// # });
    /// ```
    pub fn wait(self) -> LocalErrGroupWait<'scope, T, E> {
        LocalErrGroupWait {
            driver: Driver::new(self.core, true),
        }
    }

    /// As [`wait`](Self::wait), but an error keeps the values of the tasks that had already
    /// returned one, as [`ErrGroup::wait_partial`](super::ErrGroup::wait_partial).
    ///
    /// # Cancel safety
    ///
    /// As [`wait`](Self::wait).
    ///
    /// # Panics
    ///
    /// Resumes the panic of a task, with its payload.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let mut group = taskgroup::LocalErrGroup::new();
    /// group.spawn(async { Ok(1) });
    /// group.spawn(async { Err("no") });
    /// let partial = group.wait_partial().await.unwrap_err();
    /// assert_eq!((partial.error, partial.values), ("no", vec![Some(1), None]));
    /// # });
    /// ```
    pub fn wait_partial(self) -> LocalErrGroupWaitPartial<'scope, T, E> {
        LocalErrGroupWaitPartial {
            driver: Driver::new(self.core, true),
        }
    }

    /// Runs every task to its end and returns every outcome in spawn order, as
    /// [`ErrGroup::wait_all`](super::ErrGroup::wait_all).
    ///
    /// # Cancel safety
    ///
    /// As [`wait`](Self::wait).
    ///
    /// # Panics
    ///
    /// Resumes the panic of a task, with its payload.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let mut group = taskgroup::LocalErrGroup::new();
    /// group.spawn(async { Ok(1) });
    /// group.spawn(async { Err("no") });
    /// assert_eq!(group.wait_all().await, vec![Ok(1), Err("no")]);
    /// # });
    /// ```
    pub fn wait_all(self) -> LocalErrGroupWaitAll<'scope, T, E> {
        LocalErrGroupWaitAll {
            driver: Driver::new(self.core, false),
        }
    }
}

impl<'scope, T: 'scope, E: 'scope> Default for LocalErrGroup<'scope, T, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'scope, T: 'scope, E: 'scope> LocalErrGroupSpawner<'scope, T, E> {
    /// Adds a task to the group; dropped at once, unrun, if the group already finished or was
    /// cancelled by its own failure or drop.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let mut group = taskgroup::LocalErrGroup::new();
    /// group.spawner().spawn(async { Ok::<_, ()>(7) });
    /// assert_eq!(group.wait().await, Ok(vec![7]));
    /// # });
    /// ```
    pub fn spawn<F>(&self, future: F)
    where
        F: Future<Output = Result<T, E>> + 'scope,
    {
        // Dropped here, outside every lock, if the group is closed.
        drop(push(None, Some(&self.shared), future, false));
    }

    /// Adds a task unless the group is at its limit or closed; then the future is handed back.
    ///
    /// # Errors
    ///
    /// `Err(future)` when the group is at its limit or closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = taskgroup::LocalErrGroup::<u32, ()>::new().with_limit(1);
    /// let spawner = group.spawner();
    /// assert!(spawner.try_spawn(async { Ok(1) }).is_ok());
    /// assert!(spawner.try_spawn(async { Ok(2) }).is_err());
    /// # drop(group);
    /// ```
    pub fn try_spawn<F>(&self, future: F) -> Result<(), F>
    where
        F: Future<Output = Result<T, E>> + 'scope,
    {
        push(None, Some(&self.shared), future, true)
    }

    /// The group's [`CancelToken`].
    pub fn cancel_token(&self) -> CancelToken {
        self.shared.token.clone()
    }

    /// Changes the group's limit while it runs, as
    /// [`ErrGroupSpawner::set_limit`](super::ErrGroupSpawner::set_limit).
    ///
    /// # Panics
    ///
    /// If `limit` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let mut group = taskgroup::LocalErrGroup::new().with_limit(1);
    /// let spawner = group.spawner();
    /// group.spawn(async move {
    ///     spawner.set_limit(2);
    ///     Ok::<_, ()>(0)
    /// });
    /// group.spawn(async { Ok(1) });
    /// assert_eq!(group.wait().await, Ok(vec![0, 1]));
    /// # });
    /// ```
    #[track_caller]
    pub fn set_limit(&self, limit: usize) {
        self.shared.set_limit("LocalErrGroup", limit);
    }
}

impl<T, E> Clone for LocalErrGroupSpawner<'_, T, E> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

/// The state a local group shares with its spawners.
type LocalShared<'scope, T, E> = Arc<Shared<'scope, T, E, UnsendTask<'scope, T, E>>>;

/// Queues `future` through the group's own handle (`owned`, no lock while nothing else holds the
/// state) or a spawner's (`shared`).
fn push<'scope, T: 'scope, E: 'scope, F>(
    owned: Option<&mut LocalShared<'scope, T, E>>,
    shared: Option<&LocalShared<'scope, T, E>>,
    future: F,
    limited: bool,
) -> Result<(), F>
where
    F: Future<Output = Result<T, E>> + 'scope,
{
    let job = Box::new(LocalJob::new(future));
    let queued = |job: Box<LocalJob<F>>, index| {
        let task: UnsendTask<'scope, T, E> = Box::into_pin(job);
        Queued::Local(index, task)
    };
    let pushed = match (owned, shared) {
        (Some(owned), _) => Shared::enqueue_owned(owned, job, limited, queued),
        (None, Some(shared)) => Shared::enqueue(shared, job, limited, queued),
        (None, None) => unreachable!("a handle to push through"),
    };
    pushed.map_err(|mut job| job.take())
}

pin_project! {
    /// The future returned by [`LocalErrGroup::wait`]: `Ok(values)` in spawn order, or the
    /// first error.
    ///
    /// # Cancel safety
    ///
    /// Dropping it cancels the group and drops every task.
    #[must_use = "a LocalErrGroup runs nothing unless its wait() is polled"]
    pub struct LocalErrGroupWait<'scope, T, E> {
        driver: Driver<'scope, T, E, UnsendTask<'scope, T, E>>,
    }
}

impl<'scope, T, E> Future for LocalErrGroupWait<'scope, T, E> {
    type Output = Result<Vec<T>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .driver
            .poll_finish(cx)
            .map(Finished::into_values)
    }
}

pin_project! {
    /// The future returned by [`LocalErrGroup::wait_partial`]: `Ok(values)` in spawn order, or
    /// the first error with the values that had come back.
    ///
    /// # Cancel safety
    ///
    /// Dropping it cancels the group and drops every task.
    #[must_use = "a LocalErrGroup runs nothing unless its wait_partial() is polled"]
    pub struct LocalErrGroupWaitPartial<'scope, T, E> {
        driver: Driver<'scope, T, E, UnsendTask<'scope, T, E>>,
    }
}

impl<'scope, T, E> Future for LocalErrGroupWaitPartial<'scope, T, E> {
    type Output = Result<Vec<T>, Partial<T, E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .driver
            .poll_finish(cx)
            .map(Finished::into_partial)
    }
}

impl<T, E> fmt::Debug for LocalErrGroupWaitPartial<'_, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.driver
            .core
            .shared
            .fmt_counts("LocalErrGroupWaitPartial", f)
    }
}

pin_project! {
    /// The future returned by [`LocalErrGroup::wait_all`]: every task's outcome, in spawn
    /// order.
    ///
    /// # Cancel safety
    ///
    /// Dropping it cancels the group and drops every task.
    #[must_use = "a LocalErrGroup runs nothing unless its wait_all() is polled"]
    pub struct LocalErrGroupWaitAll<'scope, T, E> {
        driver: Driver<'scope, T, E, UnsendTask<'scope, T, E>>,
    }
}

impl<'scope, T, E> Future for LocalErrGroupWaitAll<'scope, T, E> {
    type Output = Vec<Result<T, E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .driver
            .poll_finish(cx)
            .map(Finished::into_outcomes)
    }
}

impl<T, E> fmt::Debug for LocalErrGroup<'_, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.shared.fmt_counts("LocalErrGroup", f)
    }
}

impl<T, E> fmt::Debug for LocalErrGroupSpawner<'_, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shared.fmt_counts("LocalErrGroupSpawner", f)
    }
}

impl<T, E> fmt::Debug for LocalErrGroupWait<'_, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.driver.core.shared.fmt_counts("LocalErrGroupWait", f)
    }
}

impl<T, E> fmt::Debug for LocalErrGroupWaitAll<'_, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.driver
            .core
            .shared
            .fmt_counts("LocalErrGroupWaitAll", f)
    }
}
