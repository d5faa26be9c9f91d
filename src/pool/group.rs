//! [`PoolGroup`]: a batch of a [`WorkerPool`](super::WorkerPool)'s jobs that fail together
//! (pond's `NewGroup`), with `ErrGroup`'s words.
//!
//! A group keeps its own FIFO queue; at most `limit` of its jobs are handed to the pool at
//! once, and each one that ends hands over the next. A job's outcome goes into the group's
//! results by spawn index. The first error (under `wait()`) or a panic fires the group's
//! token, then asks each of its jobs to stop (the pool drops it at its next poll), its queued jobs
//! are dropped; the pool and other groups are untouched.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::resume_unwind;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use pin_project_lite::pin_project;

use crate::cancel::CancelToken;
use crate::supervise::{Outcome, Payload};
use crate::sync::{lock, AtomicUsize, Mutex, Ordering};

use super::job::{BoxJob, Control, Ended, JobTask, Sink};
use super::{Inner, Source};

/// A batch of jobs on a [`WorkerPool`](super::WorkerPool)'s slots that fail together: pond's
/// `NewGroup`, with [`ErrGroup`](crate::ErrGroup)'s words. Made by
/// [`WorkerPool::group`](super::WorkerPool::group).
///
/// Jobs yield `Result<T, E>`. [`spawn`](Self::spawn) never waits: the job starts at once if
/// the group's [limit](Self::with_limit) allows (then it takes a pool slot like any job),
/// otherwise it waits in the group's own queue (not against the pool's `with_queue_size`). It
/// counts in the pool's `submitted` when spawned.
///
/// [`wait`](Self::wait) returns `Ok(values)` in spawn order, or the first error: that error
/// fires the group's [`cancel_token`](Self::cancel_token), then the group's other jobs, running
/// or queued, are dropped (not the pool's, not another group's), and `wait()` returns once they
/// are gone. An error that happens before `wait()` is called is acted on when it is called.
/// [`wait_all`](Self::wait_all) keeps going and returns every outcome. Dropping the group or
/// its `wait()` future before it returned is the hard stop: its jobs are dropped.
///
/// # Panics
///
/// A job's panic cancels the group like an error, and `wait()` (or `wait_all()`) resumes it
/// with its original payload. `wait()` also panics if a job was dropped by the pool itself
/// (a [`shutdown`](super::WorkerPool::shutdown) whose grace ran out, or a spawn on a closed
/// pool): there is no value to return for it.
///
/// # Examples
///
/// A batch of pages, two at once, failing on the first error:
///
/// ```
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// # async fn main() {
/// let pool = taskgroup::WorkerPool::new(8, |job| {
///     tokio::spawn(job);
/// });
/// let batch = pool.group().with_limit(2);
/// for page in 0..10u32 {
///     batch.spawn(async move {
///         if page == 7 {
///             Err(format!("page {page} is missing"))
///         } else {
///             Ok(page)
///         }
///     });
/// }
/// assert_eq!(batch.wait().await, Err("page 7 is missing".to_owned()));
///
/// let every = pool.group();
/// every.spawn(async { Ok::<_, String>(1) });
/// every.spawn(async { Err("two".to_owned()) });
/// assert_eq!(every.wait_all().await, vec![Ok(1), Err("two".to_owned())]);
/// # }
/// ```
pub struct PoolGroup<T, E> {
    shared: Arc<GroupShared<T, E>>,
}

struct GroupShared<T, E> {
    pool: Arc<Inner>,
    state: Mutex<GroupState<T, E>>,
    /// The next spawn index.
    next_index: AtomicUsize,
    /// A child of the pool's token.
    token: CancelToken,
}

struct GroupState<T, E> {
    /// Spawned, not handed to the pool yet: over the group's limit.
    queue: VecDeque<BoxJob>,
    limit: usize,
    /// Jobs handed to the pool and not ended.
    handed: usize,
    /// The controls of the jobs not ended, by spawn index: what the group's abort stops.
    controls: Vec<Option<Arc<Control>>>,
    /// Jobs spawned and not ended.
    unfinished: usize,
    outcomes: Vec<Option<Result<T, E>>>,
    /// The index of the first error.
    first_error: Option<usize>,
    panic: Option<Payload>,
    /// A job was dropped by the pool (shutdown, closed pool) rather than by the group.
    lost: bool,
    /// `Some(true)` once `wait()` was called, `Some(false)` for `wait_all()`.
    fail_fast: Option<bool>,
    aborted: bool,
    /// `wait()` returned (or the group was dropped): later spawns are dropped.
    done: bool,
    waker: Option<Waker>,
}

/// What a change under the group's lock leaves to do.
struct Todo {
    abort: bool,
    /// The group's jobs handed to the pool, to stop at their next poll.
    stop: Vec<Arc<Control>>,
    start: Vec<BoxJob>,
    drop_queued: VecDeque<BoxJob>,
    waker: Option<Waker>,
}

impl<T: Send + 'static, E: Send + 'static> GroupShared<T, E> {
    /// Records how job `index` ended; returns how the pool counts it.
    fn record(
        self: &Arc<Self>,
        index: usize,
        outcome: Outcome<Result<T, E>>,
        control: &Control,
    ) -> Ended {
        let was_handed = !control.in_group();
        let mut leftover = None;
        let (ended, todo) = {
            let mut state = lock(&self.state);
            state.unfinished -= 1;
            if let Some(slot) = state.controls.get_mut(index) {
                *slot = None;
            }
            if was_handed {
                state.handed -= 1;
            }
            let mut fail = false;
            let ended = match outcome {
                Outcome::Done(result) => {
                    let ended = if result.is_ok() {
                        Ended::Succeeded
                    } else {
                        if state.first_error.is_none() {
                            state.first_error = Some(index);
                            fail = state.fail_fast == Some(true);
                        }
                        Ended::Failed
                    };
                    if state.outcomes.len() <= index {
                        state.outcomes.resize_with(index + 1, || None);
                    }
                    state.outcomes[index] = Some(result);
                    ended
                }
                Outcome::Panicked(payload) => {
                    if state.panic.is_none() {
                        state.panic = Some(payload);
                    } else {
                        leftover = Some(payload);
                    }
                    fail = true;
                    Ended::Panicked
                }
                Outcome::Dropped => {
                    if !state.aborted {
                        state.lost = true;
                        fail = true;
                    }
                    Ended::Cancelled
                }
            };
            (ended, self.settle(&mut state, fail))
        };
        drop(leftover);
        self.carry_out(todo);
        ended
    }

    /// After a change: abort if `fail`, else hand queued jobs to the pool while under the
    /// limit; wake `wait()` if nothing is left.
    fn settle(&self, state: &mut GroupState<T, E>, fail: bool) -> Todo {
        let mut todo = Todo {
            abort: false,
            stop: Vec::new(),
            start: Vec::new(),
            drop_queued: VecDeque::new(),
            waker: None,
        };
        if fail && !state.aborted {
            state.aborted = true;
            todo.abort = true;
            todo.stop = state.controls.iter().flatten().cloned().collect();
            // They end now (dropped below, each recording itself), without reaching the pool.
            todo.drop_queued = std::mem::take(&mut state.queue);
        }
        if !state.aborted {
            while state.handed < state.limit {
                let Some(job) = state.queue.pop_front() else {
                    break;
                };
                job.control().hand_over();
                state.handed += 1;
                todo.start.push(job);
            }
        }
        if state.unfinished == 0 {
            todo.waker = state.waker.take();
        }
        todo
    }

    /// Does what `settle` decided, with no lock held.
    fn carry_out(self: &Arc<Self>, todo: Todo) {
        if todo.abort {
            // The token first, so that the jobs' drop code sees it.
            self.token.cancel();
            for control in &todo.stop {
                control.abort_running();
            }
        }
        if !todo.drop_queued.is_empty() {
            let mut ended = Vec::with_capacity(todo.drop_queued.len());
            for mut job in todo.drop_queued {
                ended.push(job.as_mut().cancel());
            }
            self.pool.count_group_dropped(&ended);
        }
        for job in todo.start {
            if let Err(mut job) = self.pool.enqueue(job, Source::Group) {
                // The pool is shutting down: the job never runs (recorded as lost).
                let ended = job.as_mut().cancel();
                drop(job);
                self.pool.count_group_dropped(&[ended]);
            }
        }
        if let Some(waker) = todo.waker {
            waker.wake();
        }
    }
}

/// Where a group's job reports.
struct GroupSink<T, E> {
    shared: Arc<GroupShared<T, E>>,
    index: usize,
    control: Arc<Control>,
}

impl<T: Send + 'static, E: Send + 'static> Sink<Result<T, E>> for GroupSink<T, E> {
    fn control(&self) -> &Control {
        &self.control
    }

    fn finish(&self, outcome: Outcome<Result<T, E>>) -> Ended {
        self.shared.record(self.index, outcome, &self.control)
    }
}

impl<T, E> PoolGroup<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    pub(super) fn new(pool: Arc<Inner>) -> Self {
        let token = pool.token.child_token();
        Self {
            shared: Arc::new(GroupShared {
                pool,
                state: Mutex::new(GroupState {
                    queue: VecDeque::new(),
                    limit: usize::MAX,
                    handed: 0,
                    controls: Vec::new(),
                    unfinished: 0,
                    outcomes: Vec::new(),
                    first_error: None,
                    panic: None,
                    lost: false,
                    fail_fast: None,
                    aborted: false,
                    done: false,
                    waker: None,
                }),
                next_index: AtomicUsize::new(0),
                token,
            }),
        }
    }

    /// At most `limit` of the group's jobs run at once (on the pool's slots); the rest wait
    /// in the group's queue, in spawn order. Applies to jobs started after it.
    ///
    /// # Panics
    ///
    /// If `limit` is 0 (nothing could ever run).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = taskgroup::WorkerPool::new(8, |job| {
    ///     tokio::spawn(job);
    /// });
    /// let batch = pool.group::<u8, ()>().with_limit(2);
    /// batch.spawn(async { Ok(1) });
    /// assert_eq!(batch.wait().await, Ok(vec![1]));
    /// # }
    /// ```
    #[track_caller]
    pub fn with_limit(self, limit: usize) -> Self {
        assert!(
            limit > 0,
            "PoolGroup::with_limit: limit must be at least 1 (a limit of 0 would never run a job)"
        );
        let todo = {
            let mut state = lock(&self.shared.state);
            state.limit = limit;
            self.shared.settle(&mut state, false)
        };
        self.shared.carry_out(todo);
        self
    }

    /// The group's token: it fires on the group's first error (under `wait()`), on a panic,
    /// when `wait()` or `wait_all()` returns, when the group is dropped unwaited, and with the
    /// pool's token. Jobs watch it to wind down; firing it yourself is cooperative.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = taskgroup::WorkerPool::new(4, |job| {
    ///     tokio::spawn(job);
    /// });
    /// let batch = pool.group();
    /// let token = batch.cancel_token();
    /// batch.spawn(async move {
    ///     token.cancelled().await; // long work that watches the token
    ///     Ok(())
    /// });
    /// batch.spawn(async { Err("bad row") });
    /// assert_eq!(batch.wait().await, Err("bad row"));
    /// # }
    /// ```
    pub fn cancel_token(&self) -> CancelToken {
        self.shared.token.clone()
    }

    /// Adds a job to the group; never waits. It starts at once if the group's limit allows,
    /// else waits its turn in the group's queue. On a closed pool, or once the group was
    /// cancelled, the future is dropped unrun (on a closed pool `wait()` then panics: the job
    /// has no value).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = taskgroup::WorkerPool::new(4, |job| {
    ///     tokio::spawn(job);
    /// });
    /// let batch = pool.group::<usize, ()>();
    /// batch.spawn(async { Ok(1) });
    /// assert_eq!(batch.wait().await, Ok(vec![1]));
    /// # }
    /// ```
    pub fn spawn<F>(&self, future: F)
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        let shared = &self.shared;
        let index = shared.next_index.fetch_add(1, Ordering::Relaxed);
        let control = Arc::new(Control::new_in_group());
        let registered = control.clone();
        let job: BoxJob = Box::pin(JobTask::new(
            future,
            GroupSink {
                shared: shared.clone(),
                index,
                control,
            },
        ));
        let admitted = shared.pool.admit_group_job();
        let todo = {
            let mut state = lock(&shared.state);
            state.unfinished += 1;
            if state.controls.len() <= index {
                state.controls.resize_with(index + 1, || None);
            }
            state.controls[index] = Some(registered);
            if admitted && !state.aborted && !state.done {
                state.queue.push_back(job);
                Ok(shared.settle(&mut state, false))
            } else {
                Err(job)
            }
        };
        match todo {
            Ok(todo) => shared.carry_out(todo),
            Err(mut job) => {
                // Cancelled group (dropped unrun) or closed pool (recorded as lost).
                let ended = job.as_mut().cancel();
                drop(job);
                if admitted {
                    shared.pool.count_group_dropped(&[ended]);
                }
            }
        }
    }

    /// Waits for every job: `Ok(values)` in spawn order, or the first error (which cancels
    /// the group's other jobs). The group's token fires when it returns.
    ///
    /// # Panics
    ///
    /// Resumes a job's panic; panics if a job was dropped by the pool (see [`PoolGroup`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = taskgroup::WorkerPool::new(4, |job| {
    ///     tokio::spawn(job);
    /// });
    /// let batch = pool.group::<_, ()>();
    /// batch.spawn(async { Ok("a") });
    /// batch.spawn(async { Ok("b") });
    /// assert_eq!(batch.wait().await, Ok(vec!["a", "b"]));
    /// # }
    /// ```
    pub fn wait(self) -> PoolGroupWait<T, E> {
        self.set_mode(true);
        PoolGroupWait {
            group: Waiting::new(self),
        }
    }

    /// Waits for every job and returns every outcome, in spawn order; an error cancels
    /// nothing. The group's token fires when it returns.
    ///
    /// # Panics
    ///
    /// As [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = taskgroup::WorkerPool::new(4, |job| {
    ///     tokio::spawn(job);
    /// });
    /// let batch = pool.group();
    /// batch.spawn(async { Ok(1) });
    /// batch.spawn(async { Err("no") });
    /// assert_eq!(batch.wait_all().await, vec![Ok(1), Err("no")]);
    /// # }
    /// ```
    pub fn wait_all(self) -> PoolGroupWaitAll<T, E> {
        self.set_mode(false);
        PoolGroupWaitAll {
            group: Waiting::new(self),
        }
    }

    fn set_mode(&self, fail_fast: bool) {
        let todo = {
            let mut state = lock(&self.shared.state);
            state.fail_fast = Some(fail_fast);
            let fail = fail_fast && state.first_error.is_some();
            self.shared.settle(&mut state, fail)
        };
        self.shared.carry_out(todo);
    }
}

impl<T, E> Drop for PoolGroup<T, E> {
    fn drop(&mut self) {
        let shared = &self.shared;
        let todo = {
            let mut state = lock(&shared.state);
            if state.done || state.fail_fast.is_some() {
                // Waited (the wait future owns the stop), or already stopped.
                return;
            }
            state.done = true;
            drop_settle(&mut state)
        };
        shared.hard_stop(todo);
    }
}

/// Takes the queued jobs of a group being dropped (type-erased helper for `Drop`).
fn drop_settle<T, E>(state: &mut GroupState<T, E>) -> HardStop {
    let first = !state.aborted;
    state.aborted = true;
    HardStop {
        stop: if first {
            state.controls.iter().flatten().cloned().collect()
        } else {
            Vec::new()
        },
        first,
        queued: std::mem::take(&mut state.queue),
    }
}

/// What a hard stop does once the group's lock is released.
struct HardStop {
    first: bool,
    stop: Vec<Arc<Control>>,
    queued: VecDeque<BoxJob>,
}

impl<T, E> GroupShared<T, E> {
    fn hard_stop(
        &self,
        HardStop {
            first,
            stop,
            queued,
        }: HardStop,
    ) {
        if first {
            self.token.cancel();
            for control in &stop {
                control.abort_running();
            }
        }
        if !queued.is_empty() {
            let mut ended = Vec::with_capacity(queued.len());
            for mut job in queued {
                ended.push(job.as_mut().cancel());
            }
            self.pool.count_group_dropped(&ended);
        }
    }
}

/// A group being waited for: the group, and whether `wait()` returned.
struct Waiting<T, E> {
    group: PoolGroup<T, E>,
    finished: bool,
}

/// What the jobs came to.
enum Finished<T, E> {
    Values(Vec<Option<Result<T, E>>>),
    Error(E),
}

impl<T, E> Waiting<T, E> {
    fn new(group: PoolGroup<T, E>) -> Self {
        Self {
            group,
            finished: false,
        }
    }

    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<Finished<T, E>> {
        assert!(
            !self.finished,
            "a PoolGroup's wait() polled after it returned"
        );
        let shared = &self.group.shared;
        let (result, old) = {
            let mut state = lock(&shared.state);
            if state.unfinished > 0 {
                let old = match &mut state.waker {
                    Some(kept) if kept.will_wake(cx.waker()) => None,
                    kept => kept.replace(cx.waker().clone()),
                };
                (None, old)
            } else {
                state.done = true;
                let outcomes = std::mem::take(&mut state.outcomes);
                let first_error = state.first_error;
                let panic = state.panic.take();
                let lost = state.lost;
                let fail_fast = state.fail_fast == Some(true);
                (Some((outcomes, first_error, panic, lost, fail_fast)), None)
            }
        };
        drop(old);
        let Some((mut outcomes, first_error, panic, lost, fail_fast)) = result else {
            return Poll::Pending;
        };
        self.finished = true;
        shared.token.cancel();
        if let Some(payload) = panic {
            drop(outcomes);
            resume_unwind(payload);
        }
        if lost {
            drop(outcomes);
            panic!(
                "a PoolGroup job was dropped by its pool before it finished (the pool was \
                 closed or shut down), so the group has no value for it"
            );
        }
        if fail_fast {
            if let Some(index) = first_error {
                if let Some(Err(error)) = outcomes[index].take() {
                    return Poll::Ready(Finished::Error(error));
                }
            }
        }
        let spawned = shared.next_index.load(Ordering::Relaxed);
        outcomes.resize_with(spawned, || None);
        Poll::Ready(Finished::Values(outcomes))
    }
}

impl<T, E> Drop for Waiting<T, E> {
    fn drop(&mut self) {
        if !self.finished {
            // `wait()` dropped: the hard stop.
            let shared = &self.group.shared;
            let todo = {
                let mut state = lock(&shared.state);
                state.done = true;
                drop_settle(&mut state)
            };
            shared.hard_stop(todo);
        }
    }
}

pin_project! {
    /// The future returned by [`PoolGroup::wait`]: `Ok(values)` in spawn order, or the first
    /// error.
    ///
    /// # Cancel safety
    ///
    /// Dropping it cancels the group: its jobs are dropped (running ones at their next poll).
    #[must_use = "futures do nothing unless polled"]
    pub struct PoolGroupWait<T, E> {
        group: Waiting<T, E>,
    }
}

impl<T, E> Future for PoolGroupWait<T, E> {
    type Output = Result<Vec<T>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .group
            .poll_finish(cx)
            .map(|finished| match finished {
                Finished::Error(error) => Err(error),
                Finished::Values(outcomes) => Ok(outcomes
                    .into_iter()
                    .map(|outcome| match outcome {
                        Some(Ok(value)) => value,
                        _ => unreachable!("every job of a successful group returned a value"),
                    })
                    .collect()),
            })
    }
}

pin_project! {
    /// The future returned by [`PoolGroup::wait_all`]: every outcome, in spawn order.
    ///
    /// # Cancel safety
    ///
    /// As [`PoolGroupWait`].
    #[must_use = "futures do nothing unless polled"]
    pub struct PoolGroupWaitAll<T, E> {
        group: Waiting<T, E>,
    }
}

impl<T, E> Future for PoolGroupWaitAll<T, E> {
    type Output = Vec<Result<T, E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .group
            .poll_finish(cx)
            .map(|finished| match finished {
                Finished::Error(_) => unreachable!("wait_all() keeps errors as outcomes"),
                Finished::Values(outcomes) => outcomes
                    .into_iter()
                    .map(|outcome| outcome.expect("every job of a finished group has an outcome"))
                    .collect(),
            })
    }
}

impl<T, E> fmt::Debug for PoolGroup<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.shared.state);
        f.debug_struct("PoolGroup")
            .field("queued", &state.queue.len())
            .field("handed", &state.handed)
            .field("unfinished", &state.unfinished)
            .field("limit", &(state.limit != usize::MAX).then_some(state.limit))
            .field("cancelled", &self.shared.token.is_cancelled())
            .finish()
    }
}

impl<T, E> fmt::Debug for PoolGroupWait<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PoolGroupWait")
            .field(&self.group.group)
            .finish()
    }
}

impl<T, E> fmt::Debug for PoolGroupWaitAll<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PoolGroupWaitAll")
            .field(&self.group.group)
            .finish()
    }
}
