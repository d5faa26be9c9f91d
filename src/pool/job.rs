//! One job of a [`WorkerPool`](super::WorkerPool): the boxed task a worker polls
//! ([`JobTask`]), the state it shares with whoever waits for it ([`Control`], [`Cell`]), and
//! the public [`JobHandle`] and [`JobError`].

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use pin_project_lite::pin_project;

use crate::supervise::{drop_catching, poll_catching, Outcome, Payload};
use crate::sync::{lock, AtomicU8, Mutex, Ordering};

use super::Inner;

/// Not started yet: in the pool's queue (or a group's).
const QUEUED: u8 = 0;
/// Taken by a worker.
const RUNNING: u8 = 1;
/// Ended: its result is delivered (or it was aborted while queued).
const ENDED: u8 = 2;
/// The stage bits.
const STAGE: u8 = 3;
/// Bit: `abort()` (or an expired shutdown grace) asked the running job to stop.
const ABORT: u8 = 4;
/// Bit: the job holds a place in a bounded queue until it leaves the queue.
const ROOM: u8 = 8;
/// Bit: a group's job still in its group's own queue (not handed to the pool yet).
const IN_GROUP: u8 = 16;

/// How a job ended, for the pool's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ended {
    Succeeded,
    Failed,
    Panicked,
    Cancelled,
}

/// The part of a job that the pool and its handle both see: where it is in its life, and the
/// worker running it (so that an abort reaches a job that is pending).
pub(super) struct Control {
    state: AtomicU8,
    /// Set once, by the worker that starts the job, before the job is marked running.
    worker: OnceLock<Arc<WorkerWake>>,
}

/// A worker's waker, kept where an abort can reach it. The worker stores it when it changes
/// (it keeps its own copy to compare without the lock), before it looks for an abort; an abort
/// sets its bit before it reads the waker under the same lock, so either the abort finds the
/// waker the worker will be woken through, or the worker's look sees the bit.
#[derive(Default)]
pub(super) struct WorkerWake {
    waker: Mutex<Option<Waker>>,
}

impl WorkerWake {
    /// Stores the worker's new waker.
    pub(super) fn store(&self, waker: &Waker) {
        let old = lock(&self.waker).replace(waker.clone());
        drop(old);
    }

    /// Wakes the worker (after the lock).
    pub(super) fn wake(&self) {
        let waker = lock(&self.waker).clone();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Control {
    pub(super) fn new(room: bool) -> Self {
        Self {
            state: AtomicU8::new(if room { ROOM } else { QUEUED }),
            worker: OnceLock::new(),
        }
    }

    /// Moves a queued job to `to`; `false` if it is no longer queued.
    fn leave_queue(&self, to: u8) -> bool {
        let mut current = self.state.load(Ordering::Acquire);
        loop {
            if current & STAGE != QUEUED {
                return false;
            }
            match self.state.compare_exchange_weak(
                current,
                current & !STAGE | to,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => current = now,
            }
        }
    }

    /// `QUEUED` to `RUNNING` on `worker`; `false` if the job was aborted while queued. Called
    /// under the pool's lock, as the abort of a queued job is, so the two never race.
    pub(super) fn start(&self, worker: &Arc<WorkerWake>) -> bool {
        if !self.is_queued() {
            return false;
        }
        // Before the job is marked running: an abort that sees it running finds the worker.
        let _ = self.worker.set(worker.clone());
        self.leave_queue(RUNNING)
    }

    /// `QUEUED` to `ENDED`; `false` if the job already started. Under the pool's lock.
    pub(super) fn end_queued(&self) -> bool {
        self.leave_queue(ENDED)
    }

    /// A group's job, created in its group's queue.
    pub(super) fn new_in_group() -> Self {
        Self {
            state: AtomicU8::new(IN_GROUP),
            worker: OnceLock::new(),
        }
    }

    /// A group's job leaves its group's queue for the pool's.
    pub(super) fn hand_over(&self) {
        self.state.fetch_and(!IN_GROUP, Ordering::AcqRel);
    }

    /// Whether a group's job is still in its group's queue.
    pub(super) fn in_group(&self) -> bool {
        self.state.load(Ordering::Acquire) & IN_GROUP != 0
    }

    /// Whether the job holds a place in a bounded queue while it is queued.
    pub(super) fn holds_room(&self) -> bool {
        self.state.load(Ordering::Relaxed) & ROOM != 0
    }

    pub(super) fn abort_requested(&self) -> bool {
        self.state.load(Ordering::Acquire) & ABORT != 0
    }

    pub(super) fn is_ended(&self) -> bool {
        self.state.load(Ordering::Acquire) & STAGE == ENDED
    }

    pub(super) fn is_queued(&self) -> bool {
        self.state.load(Ordering::Acquire) & STAGE == QUEUED
    }

    /// Asks a running job to stop: its worker drops the future at its next poll, and is woken
    /// for it. Does nothing to a job that ended.
    pub(super) fn abort_running(&self) {
        let previous = self.state.fetch_or(ABORT, Ordering::AcqRel);
        if previous & STAGE != RUNNING {
            return;
        }
        if let Some(worker) = self.worker.get() {
            worker.wake();
        }
    }

    fn mark_ended(&self) {
        self.state.store(ENDED, Ordering::Release);
    }
}

/// Where a job's outcome goes: its [`JobHandle`]'s cell, or its group.
pub(super) trait Sink<O>: Send + 'static {
    fn control(&self) -> &Control;
    /// Takes the outcome (called exactly once per job) and says how to count it.
    fn finish(&self, outcome: Outcome<O>) -> Ended;
}

/// A job as the pool queues and runs it: the user's future, boxed once with where its outcome
/// goes.
pub(super) trait Job: Send {
    fn control(&self) -> &Control;
    /// Polls the job (its panics caught); dropping it instead once it is asked to stop.
    fn poll_job(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Ended>;
    /// Drops the job's future unfinished (its drop code's panic caught) and reports it.
    fn cancel(self: Pin<&mut Self>) -> Ended;
}

pub(super) type BoxJob = Pin<Box<dyn Job>>;

pin_project! {
    /// The user's future and its sink. Dropped unfinished (a queued job at shutdown, a worker
    /// dropped by its executor), it reports `Dropped`.
    pub(super) struct JobTask<F: Future, S: Sink<F::Output>> {
        #[pin]
        future: Option<F>,
        sink: S,
        done: bool,
    }

    impl<F: Future, S: Sink<F::Output>> PinnedDrop for JobTask<F, S> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if !*this.done {
                *this.done = true;
                let outcome = drop_catching(this.future);
                this.sink.finish(outcome);
            }
        }
    }
}

impl<F: Future, S: Sink<F::Output>> JobTask<F, S> {
    pub(super) fn new(future: F, sink: S) -> Self {
        Self {
            future: Some(future),
            sink,
            done: false,
        }
    }
}

impl<F, S> Job for JobTask<F, S>
where
    F: Future + Send,
    S: Sink<F::Output>,
{
    fn control(&self) -> &Control {
        self.sink.control()
    }

    fn poll_job(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Ended> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(Ended::Cancelled);
        }
        let outcome = if this.sink.control().abort_requested() {
            drop_catching(this.future.as_mut())
        } else {
            match poll_catching(this.future.as_mut(), cx) {
                Poll::Ready(outcome) => outcome,
                // The worker stores its waker and looks for an abort then.
                Poll::Pending => return Poll::Pending,
            }
        };
        *this.done = true;
        Poll::Ready(this.sink.finish(outcome))
    }

    fn cancel(self: Pin<&mut Self>) -> Ended {
        let this = self.project();
        if *this.done {
            return Ended::Cancelled;
        }
        *this.done = true;
        let outcome = drop_catching(this.future);
        this.sink.finish(outcome)
    }
}

/// The state a job shares with its [`JobHandle`].
pub(super) struct Cell<T> {
    control: Control,
    slot: Mutex<Slot<T>>,
}

struct Slot<T> {
    result: Option<Result<T, JobError>>,
    waker: Option<Waker>,
    taken: bool,
}

impl<T> Cell<T> {
    pub(super) fn new(room: bool) -> Self {
        Self {
            control: Control::new(room),
            slot: Mutex::new(Slot {
                result: None,
                waker: None,
                taken: false,
            }),
        }
    }

    /// A cell that already holds `error` (a job refused by a closed pool).
    pub(super) fn ended(error: JobError) -> Self {
        let cell = Self::new(false);
        cell.control.state.store(ENDED, Ordering::Relaxed);
        lock(&cell.slot).result = Some(Err(error));
        cell
    }

    /// Delivers the result (the first one only) and wakes the handle, after the locks.
    pub(super) fn deliver(&self, result: Result<T, JobError>) {
        let (waker, leftover) = {
            let mut slot = lock(&self.slot);
            if slot.result.is_some() || slot.taken {
                (None, Some(result))
            } else {
                slot.result = Some(result);
                self.control.mark_ended();
                (slot.waker.take(), None)
            }
        };
        // A late result (the job was aborted while queued) is dropped here, outside the lock.
        drop(leftover);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T: Send + 'static> Sink<T> for Arc<Cell<T>> {
    fn control(&self) -> &Control {
        &self.control
    }

    fn finish(&self, outcome: Outcome<T>) -> Ended {
        let (result, ended) = match outcome {
            Outcome::Done(value) => (Ok(value), Ended::Succeeded),
            Outcome::Panicked(payload) => (Err(JobError::Panicked(payload)), Ended::Panicked),
            Outcome::Dropped => (Err(JobError::Cancelled), Ended::Cancelled),
        };
        self.deliver(result);
        ended
    }
}

/// A handle to a job submitted to a [`WorkerPool`](super::WorkerPool): a future of its result,
/// tokio's `JoinHandle` for the pool.
///
/// Awaiting it gives `Ok(value)`, or a [`JobError`]: the job panicked, was cancelled
/// ([`abort`](Self::abort), or a [`shutdown`](super::WorkerPool::shutdown) whose grace ran
/// out), or was submitted to a closed pool. Dropping the handle **detaches** the job: it still
/// runs, and its output is dropped.
///
/// # Panics
///
/// Polling it again after it returned `Ready` panics.
///
/// # Cancel safety
///
/// Dropping the handle (or a future awaiting it) never cancels the job; use
/// [`abort`](Self::abort) for that.
///
/// # Examples
///
/// ```
/// use taskgroup::{JobError, WorkerPool};
///
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// # async fn main() {
/// let pool = WorkerPool::new(4, |job| {
///     tokio::spawn(job);
/// });
/// let answer = pool.submit(async { 6 * 7 }).await;
/// assert_eq!(answer.await.unwrap(), 42);
///
/// let stuck = pool.submit(std::future::pending::<()>()).await;
/// stuck.abort();
/// assert!(matches!(stuck.await, Err(JobError::Cancelled)));
/// # }
/// ```
pub struct JobHandle<T> {
    pub(super) cell: Arc<Cell<T>>,
    /// The pool, for aborting a queued job under its lock; `None` for a refused job.
    pub(super) pool: Option<Arc<Inner>>,
}

impl<T> JobHandle<T> {
    /// Cancels the job: a queued job never starts; a running one drops its future at its next
    /// poll (its worker is woken for it). The handle then yields [`JobError::Cancelled`]. Does
    /// nothing to a job that already finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::WorkerPool;
    ///
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = WorkerPool::new(1, |job| {
    ///     tokio::spawn(job);
    /// });
    /// pool.resize(0); // paused: jobs wait in the queue
    /// let queued = pool.submit(async { "never" }).await;
    /// queued.abort();
    /// assert!(queued.await.unwrap_err().is_cancelled());
    /// # }
    /// ```
    pub fn abort(&self) {
        let control = &self.cell.control;
        if control.is_queued() {
            if let Some(pool) = &self.pool {
                if pool.abort_queued(control) {
                    self.cell.deliver(Err(JobError::Cancelled));
                    return;
                }
            }
        }
        control.abort_running();
    }

    /// Whether the job has ended (its result is ready, or was already taken).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = taskgroup::WorkerPool::new(1, |job| {
    ///     tokio::spawn(job);
    /// });
    /// let job = pool.submit(async {}).await;
    /// pool.stop_and_wait().await;
    /// assert!(job.is_finished());
    /// # }
    /// ```
    pub fn is_finished(&self) -> bool {
        self.cell.control.is_ended()
    }
}

impl<T> Future for JobHandle<T> {
    type Output = Result<T, JobError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let old = {
            let mut slot = lock(&self.cell.slot);
            if let Some(result) = slot.result.take() {
                slot.taken = true;
                return Poll::Ready(result);
            }
            assert!(!slot.taken, "a JobHandle polled after it returned");
            match &mut slot.waker {
                Some(kept) if kept.will_wake(cx.waker()) => None,
                kept => kept.replace(cx.waker().clone()),
            }
        };
        drop(old);
        Poll::Pending
    }
}

impl<T> fmt::Debug for JobHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Why a [`JobHandle`] has no value.
///
/// # Examples
///
/// ```
/// use taskgroup::{JobError, WorkerPool};
///
/// # #[tokio::main]
/// # async fn main() {
/// let pool = WorkerPool::new(2, |job| {
///     tokio::spawn(job);
/// });
/// let job = pool.submit(async { panic!("bad input") }).await;
/// let error = job.await.unwrap_err();
/// assert!(error.is_panic());
/// assert_eq!(*error.into_panic().downcast::<&str>().unwrap(), "bad input");
///
/// pool.close();
/// let late = pool.submit(async {}).await;
/// assert!(matches!(late.await, Err(JobError::Closed)));
/// # }
/// ```
#[non_exhaustive]
pub enum JobError {
    /// The job panicked; the payload is the panic's (give it to
    /// `std::panic::resume_unwind` to carry on panicking).
    Panicked(Box<dyn Any + Send + 'static>),
    /// The job was cancelled before it finished: [`JobHandle::abort`], or a
    /// [`shutdown`](super::WorkerPool::shutdown) whose grace ran out.
    Cancelled,
    /// The job was submitted to a closed pool and never ran.
    Closed,
}

impl JobError {
    /// Whether the job panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, JobError::Panicked(_))
    }

    /// Whether the job was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, JobError::Cancelled)
    }

    /// Whether the job was refused by a closed pool.
    pub fn is_closed(&self) -> bool {
        matches!(self, JobError::Closed)
    }

    /// The panic's payload.
    ///
    /// # Panics
    ///
    /// If the error is not [`Panicked`](JobError::Panicked) (check with
    /// [`is_panic`](Self::is_panic), or use [`try_into_panic`](Self::try_into_panic)).
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        match self.try_into_panic() {
            Ok(payload) => payload,
            Err(other) => panic!("JobError::into_panic on an error that is not a panic: {other}"),
        }
    }

    /// The panic's payload, or the error itself if it is not a panic.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JobError> {
        match self {
            JobError::Panicked(payload) => Ok(payload),
            other => Err(other),
        }
    }
}

pub(super) fn panic_message(payload: &Payload) -> Option<&str> {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

impl fmt::Debug for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::Panicked(payload) => match panic_message(payload) {
                Some(message) => f.debug_tuple("Panicked").field(&message).finish(),
                None => f.debug_tuple("Panicked").field(&"..").finish(),
            },
            JobError::Cancelled => f.write_str("Cancelled"),
            JobError::Closed => f.write_str("Closed"),
        }
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::Panicked(payload) => match panic_message(payload) {
                Some(message) => write!(f, "the job panicked: {message}"),
                None => f.write_str("the job panicked"),
            },
            JobError::Cancelled => f.write_str("the job was cancelled"),
            JobError::Closed => f.write_str("the pool was closed: the job never ran"),
        }
    }
}

impl std::error::Error for JobError {}
