//! The error group's engine: the state its handles share, the queue of spawned jobs, and the
//! driver that runs them behind `wait()`. `mod.rs` is the public front over it.
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
// The driver's wake-ups go through std's `Arc` (see `in_flight`).
use std::sync::Arc as StdArc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::cancel::CancelToken;
use crate::in_flight::{InFlight, Parent};
use crate::supervise::{poll_catching, Abort, Report, SpawnFn, Supervised, Task};
use crate::sync::{lock, Arc, AtomicUsize, Mutex, Ordering};

use super::Partial;

/// What the group and its `wait()` future own; its `Drop` is the hard stop.
pub(super) struct Core<'scope, T, E, L = LocalTask<'scope, T, E>> {
    pub(super) shared: Arc<Shared<'scope, T, E, L>>,
}

/// The state shared by the group, its spawners and (parallel form) its jobs.
///
/// `L` is the boxed local job: `Send` for [`ErrGroup`], not for [`LocalErrGroup`].
pub(super) struct Shared<'scope, T, E, L = LocalTask<'scope, T, E>> {
    state: Mutex<State<'scope, T, E, L>>,
    /// Jobs spawned and not yet finished or dropped, queued or running. Raised under the
    /// `state` lock (so a check of it under the lock is final); lowered under it by parallel
    /// jobs, and without it by the local driver, which is the only one that sees its jobs end.
    unfinished: AtomicUsize,
    /// Jobs that ran to completion (a value, an error or a panic); for `Debug`.
    finished: AtomicUsize,
    /// The group's token, handed out by `cancel_token()`.
    pub(super) token: CancelToken,
    /// The group's own hard cancellation (first error, panic, drop): jobs drop their future at
    /// their next poll. Separate from `token`, whose firing by a user is cooperative.
    abort: Abort,
    /// Wakes the `wait()` future: the parent of the local jobs' in-flight set, notified by
    /// spawns and by the parallel jobs' reports.
    wake: StdArc<Parent>,
    /// `Some` in the parallel form.
    spawn: Option<SpawnFn<'scope>>,
}

pub(super) struct State<'scope, T, E, L> {
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
pub(super) enum Queued<'scope, L> {
    /// Local form: the driver polls it and records its outcome under `index`.
    Local(usize, L),
    /// Parallel form: handed to the spawn function; reports itself.
    Spawned(Task<'scope>),
}

/// A local job: the user's future in its catching wrapper, boxed once.
pub(super) type LocalTask<'scope, T, E> =
    Pin<Box<dyn Future<Output = Outcome<T, E>> + Send + 'scope>>;

/// A job of a [`LocalErrGroup`]: the same, not `Send`.
pub(super) type UnsendTask<'scope, T, E> = Pin<Box<dyn Future<Output = Outcome<T, E>> + 'scope>>;

/// What a group's jobs came to: every outcome by spawn index, the first error (fail fast),
/// the first panic.
pub(super) struct Results<T, E> {
    outcomes: Vec<Option<Result<T, E>>>,
    first_error: Option<E>,
    failure: Option<Failure>,
}

/// Why a group stops other than by an error.
pub(super) enum Failure {
    /// A task panicked, with this payload.
    Panic(Box<dyn Any + Send>),
    /// The executor dropped a spawned task before it finished (parallel form only).
    Lost,
}

/// How a job ended.
pub(super) type Outcome<T, E> = crate::supervise::Outcome<Result<T, E>>;

impl<T, E> Results<T, E> {
    pub(super) fn new() -> Self {
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
    pub(super) fn record(
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

impl<'scope, T, E> Shared<'scope, T, E>
where
    T: Send + 'scope,
    E: Send + 'scope,
{
    /// `push` for the group's own `&mut` handle: while nothing else holds the shared state (no
    /// spawner, no parallel job), it needs no lock.
    pub(super) fn push_owned<F>(this: &mut Arc<Self>, future: F, limited: bool) -> Result<(), F>
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
    pub(super) fn push<F>(this: &Arc<Self>, future: F, limited: bool) -> Result<(), F>
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
    pub(super) fn enqueue<J>(
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
    pub(super) fn enqueue_owned<J>(
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
    pub(super) fn set_limit(&self, group: &str, limit: usize) {
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
    pub(super) fn take_startable(&self, out: &mut VecDeque<Queued<'scope, L>>) {
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
    pub(super) fn report(&self, index: usize, outcome: Outcome<T, E>) {
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
    pub(super) fn abort(&self) -> Vec<Box<dyn Any + Send>> {
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
pub(super) fn drop_catching<X>(value: X) -> Option<Box<dyn Any + Send>> {
    catch_unwind(AssertUnwindSafe(move || drop(value))).err()
}

pin_project! {
    /// A local job: the user's future, polled by the driver.
    pub(super) struct LocalJob<F> {
        #[pin]
        future: Option<F>,
    }
}

impl<F> LocalJob<F> {
    pub(super) fn new(future: F) -> Self {
        Self {
            future: Some(future),
        }
    }

    /// The future back out of a job that was never queued.
    pub(super) fn take(&mut self) -> F {
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
pub(super) struct Driver<'scope, T, E, L = LocalTask<'scope, T, E>> {
    pub(super) core: Core<'scope, T, E, L>,
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
pub(super) enum Finished<T, E> {
    Outcomes(Vec<Option<Result<T, E>>>),
    Error(E, Vec<Option<Result<T, E>>>),
}

impl<'scope, T, E, L> Driver<'scope, T, E, L> {
    pub(super) fn new(core: Core<'scope, T, E, L>, fail_fast: bool) -> Self {
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
    pub(super) fn record(&mut self, index: usize, outcome: Outcome<T, E>) {
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
    pub(super) fn record_panic(&mut self, payload: Box<dyn Any + Send>) {
        let _ = self
            .results
            .record(0, Outcome::Panicked(payload), self.fail_fast);
    }

    /// Counts the local jobs that ended since the last call out of `unfinished` (two atomic
    /// operations per batch rather than per job). Called before anything reads the count.
    pub(super) fn flush(&mut self) {
        if self.ended > 0 {
            let shared = &*self.core.shared;
            shared.finished.fetch_add(self.ended, Ordering::Relaxed);
            shared.unfinished.fetch_sub(self.ended, Ordering::Relaxed);
            self.ended = 0;
        }
    }

    /// Drops every local job still running (the group was cancelled).
    pub(super) fn clear_local(&mut self) {
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

    pub(super) fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<Finished<T, E>>
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

    pub(super) fn finish(results: Results<T, E>, spawned: usize) -> Finished<T, E> {
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
    pub(super) fn new(spawn: Option<SpawnFn<'scope>>) -> Self {
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
    pub(super) fn set_limit(&self, group: &str, limit: usize) {
        self.shared.set_limit(group, limit);
    }

    pub(super) fn attach_parent(&self, parent: &CancelToken) {
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
    pub(super) fn into_values(self) -> Result<Vec<T>, E> {
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
    pub(super) fn into_partial(self) -> Result<Vec<T>, Partial<T, E>> {
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
    pub(super) fn into_outcomes(self) -> Vec<Result<T, E>> {
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

/// A local job never panics out of its poll (its wrapper catches), so the in-flight set never
/// loses one.
pub(super) fn lost_none(_index: usize) {
    unreachable!("a local job's wrapper catches its panics")
}
impl<'scope, T, E, L> Shared<'scope, T, E, L> {
    pub(super) fn fmt_counts(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
