//! [`WorkerPool`]: Go's worker pool (N workers reading a jobs channel, alitto/pond's `Pool`) as
//! one type, on any executor.
//!
//! # How it works
//!
//! Jobs wait in one FIFO queue under the pool's lock. Up to `limit` workers, each one executor
//! task spawned through the user's spawn function, take jobs from the front and poll them one
//! at a time (with their panics caught, `crate::supervise`). A worker is started when a job
//! arrives and fewer than `limit` run; it takes the next job when its job ends, and exits when
//! the queue is empty or the pool shrank below the number of workers. So a job costs one box
//! (the future and where its outcome goes) and one shared cell (its handle's), never a spawn of
//! its own while the pool is busy: the Go shape, measured against one task per job in
//! `benches/pool.rs`.
//!
//! Every counter of [`PoolStats`] is written under the lock (plain loads and stores, no
//! read-modify-write) and read without it. A bounded queue is a [`Semaphore`] of places:
//! `submit` waits for a place (FIFO, cancel-safe), which comes back when the job leaves the
//! queue. No waker is woken and no user value dropped under the lock.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
#[cfg(not(loom))]
use std::time::Duration;

use pin_project_lite::pin_project;
use slab::Slab;

use crate::cancel::CancelToken;
use crate::notify::{Ticket, WakerList};
use crate::semaphore::{Acquire, Semaphore, TryAcquireError};
use crate::supervise::SpawnFn;
use crate::sync::{lock, AtomicBool, AtomicU64, AtomicUsize, Mutex, Ordering};

mod group;
mod job;

pub use group::{PoolGroup, PoolGroupWait, PoolGroupWaitAll};
pub use job::{JobError, JobHandle};

use job::{BoxJob, Cell, Control, Ended, JobTask, WorkerWake};

/// Go's worker pool as one type: at most `limit` jobs run at once, the rest wait in a FIFO
/// queue, on any executor (alitto/pond's `Pool`).
///
/// Jobs are any `Future + Send + 'static`, submitted from any task or thread; each gives a
/// [`JobHandle`] (a future of its result, with [`abort`](JobHandle::abort)). The pool is a
/// cheap `Clone + Send + Sync` handle. It grows and shrinks while it runs
/// ([`resize`](Self::resize)), counts what it did ([`stats`](Self::stats), cheap enough for a
/// progress bar), runs batches that fail together ([`group`](Self::group)), and stops
/// gracefully ([`stop_and_wait`](Self::stop_and_wait), [`shutdown`](Self::shutdown) with a
/// deadline). A job's panic is caught and counted; it never kills the pool or another job.
///
/// | Go (pond, or the jobs/results channel idiom) | taskgroup |
/// | --- | --- |
/// | `pond.NewPool(n)`, or `n` goroutines reading `jobs` | [`WorkerPool::new(n, spawn)`](Self::new) |
/// | `pond.WithQueueSize(q)`, `make(chan Job, q)` | [`with_queue_size(q)`](Self::with_queue_size) |
/// | `pond.WithContext(ctx)` | [`with_parent(&token)`](Self::with_parent) |
/// | `pool.Submit(f)`, `jobs <- job` | [`pool.submit(fut).await`](Self::submit) |
/// | `pool.TrySubmit(f)`, `select { case jobs <- job: default: }` | [`try_submit`](Self::try_submit) |
/// | `task.Wait()`, `<-results` | `handle.await` |
/// | `pool.NewGroup()`, `group.Wait()` | [`pool.group()`](Self::group), [`wait`](PoolGroup::wait) |
/// | `pool.Resize(n)` | [`resize(n)`](Self::resize) |
/// | `pool.RunningWorkers()`, `WaitingTasks()`, `SuccessfulTasks()` | [`stats()`](Self::stats) |
/// | `pool.StopAndWait()`, `close(jobs); wg.Wait()` | [`stop_and_wait().await`](Self::stop_and_wait) |
///
/// # Examples
///
/// Four at once over a hundred jobs, on tokio's multi-thread runtime:
///
/// ```
/// use taskgroup::WorkerPool;
///
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// # async fn main() {
/// let pool = WorkerPool::new(4, |job| {
///     tokio::spawn(job);
/// });
/// let mut handles = Vec::new();
/// for n in 0..100u64 {
///     handles.push(pool.submit(async move { n * n }).await);
/// }
/// let mut sum = 0;
/// for handle in handles {
///     sum += handle.await.unwrap();
/// }
/// assert_eq!(sum, 328_350);
/// pool.stop_and_wait().await;
/// assert_eq!(pool.stats().succeeded, 100);
/// # }
/// ```
///
/// The same under smol (any executor: pass its spawn):
///
/// ```
/// # smol::block_on(async {
/// let pool = taskgroup::WorkerPool::new(2, |job| smol::spawn(job).detach());
/// let job = pool.submit(async { "done" }).await;
/// assert_eq!(job.await.unwrap(), "done");
/// # });
/// ```
#[derive(Clone)]
pub struct WorkerPool {
    handle: Arc<Handle>,
}

/// What the pool's clones share; dropping the last one closes the pool.
struct Handle {
    inner: Arc<Inner>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        // Jobs already submitted still run; nothing new comes in.
        self.inner.close();
    }
}

/// The pool's state, shared by the handles, the workers, the job handles and the groups.
struct Inner {
    state: Mutex<State>,
    spawn: SpawnFn<'static>,
    /// The places of a bounded queue (`with_queue_size`).
    room: Option<Semaphore>,
    counters: Counters,
    /// A copy of `State::limit`, for `limit()`.
    limit: AtomicUsize,
    /// Set by `close()`, read without the lock by submits.
    closed: AtomicBool,
    /// A copy of `State::aborting`, read by the workers at every poll of their job.
    aborting: AtomicBool,
    /// `stop_and_wait` and `shutdown` wait here for the pool to be idle.
    idle: WakerList,
    token: CancelToken,
}

struct State {
    queue: VecDeque<BoxJob>,
    /// Workers started and not yet exited.
    workers: usize,
    limit: usize,
    /// The wakers of the workers, by the key each worker holds (what a shutdown wakes).
    wakes: Slab<Arc<WorkerWake>>,
    /// A shutdown's grace ran out: nothing is queued or started any more.
    aborting: bool,
    closed: bool,
    /// The outer token of `with_parent`, kept alive with the pool.
    parent: Option<CancelToken>,
}

/// The counters of [`PoolStats`], written under the state lock, read without it.
struct Counters {
    submitted: AtomicU64,
    /// Queued in the pool (not aborted) or in a group.
    waiting: AtomicUsize,
    running: AtomicUsize,
    succeeded: AtomicU64,
    failed: AtomicU64,
    panicked: AtomicU64,
    cancelled: AtomicU64,
}

/// Adds `n` to a counter that only the holder of the state lock writes: a load and a store,
/// cheaper than a read-modify-write, and readers still see whole values.
fn add64(counter: &AtomicU64, n: u64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(n),
        Ordering::Relaxed,
    );
}

fn add(counter: &AtomicUsize, n: usize) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(n),
        Ordering::Relaxed,
    );
}

fn sub(counter: &AtomicUsize, n: usize) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_sub(n),
        Ordering::Relaxed,
    );
}

impl Counters {
    fn count(&self, ended: Ended) {
        let counter = match ended {
            Ended::Succeeded => &self.succeeded,
            Ended::Failed => &self.failed,
            Ended::Panicked => &self.panicked,
            Ended::Cancelled => &self.cancelled,
        };
        add64(counter, 1);
    }
}

/// Where a job comes from, for the counters and the queue's places.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    /// `submit` or `try_submit`: counted in `submitted` now.
    Submit,
    /// A group's job leaving its group's queue: already counted in `submitted` and `waiting`.
    Group,
}

/// A new worker: its first job, its key among the workers, its waker's place.
type Started = (BoxJob, usize, Arc<WorkerWake>);

/// What a change under the lock leaves to do after it: workers to spawn, places to give back,
/// dead entries and controls to drop, waiters to wake.
#[derive(Default)]
struct After {
    spawn: Vec<Started>,
    /// The first worker to start, kept out of `spawn` to spare an allocation in the common case.
    first: Option<Started>,
    room: usize,
    drop_jobs: Vec<BoxJob>,
    idle: bool,
}

impl After {
    fn push_start(&mut self, started: Started) {
        if self.first.is_none() {
            self.first = Some(started);
        } else {
            self.spawn.push(started);
        }
    }
}

impl State {
    /// Whether nothing is queued or running, here or in a group.
    fn is_idle(&self, counters: &Counters) -> bool {
        self.queue.is_empty()
            && counters.waiting.load(Ordering::Relaxed) == 0
            && counters.running.load(Ordering::Relaxed) == 0
    }

    /// Takes the next live job from the queue and marks it running on `worker`; aborted
    /// entries met on the way go to `after` to be dropped.
    fn pop_live(
        &mut self,
        worker: &Arc<WorkerWake>,
        counters: &Counters,
        after: &mut After,
    ) -> Option<BoxJob> {
        while let Some(job) = self.queue.pop_front() {
            let control = job.control();
            let room = control.holds_room();
            if control.start(worker) {
                after.room += usize::from(room);
                sub(&counters.waiting, 1);
                add(&counters.running, 1);
                return Some(job);
            }
            // Aborted while queued: counted and its place given back by the abort.
            after.drop_jobs.push(job);
        }
        None
    }

    /// Starts workers for queued jobs while fewer than `limit` run.
    fn start_workers(&mut self, counters: &Counters, after: &mut After) {
        while self.workers < self.limit && !self.aborting {
            let wake = Arc::new(WorkerWake::default());
            match self.pop_live(&wake, counters, after) {
                Some(job) => {
                    self.workers += 1;
                    let key = self.wakes.insert(wake.clone());
                    after.push_start((job, key, wake));
                }
                None => break,
            }
        }
    }
}

impl Inner {
    /// Does what `after` says, with no lock held.
    fn finish(self: &Arc<Self>, after: After) {
        if after.room > 0 {
            if let Some(room) = &self.room {
                room.add_permits(after.room);
            }
        }
        if !after.drop_jobs.is_empty() {
            drop(after.drop_jobs);
        }
        // Every started job is in a worker before the first spawn call: if the user's spawn
        // function panics, the workers not handed over are dropped, and each counts its job
        // out (cancelled) rather than leaving the pool waiting for it forever.
        if let Some(first) = after.first {
            let first = self.worker(first);
            if after.spawn.is_empty() {
                (self.spawn)(Box::pin(first));
            } else {
                let more: Vec<Worker> = after.spawn.into_iter().map(|s| self.worker(s)).collect();
                (self.spawn)(Box::pin(first));
                for worker in more {
                    (self.spawn)(Box::pin(worker));
                }
            }
        }
        if after.idle {
            self.idle.wake_all();
        }
    }

    fn worker(self: &Arc<Self>, (job, key, wake): Started) -> Worker {
        Worker {
            inner: self.clone(),
            job: Some(job),
            key,
            wake,
            waker: None,
        }
    }

    /// Queues `job` and starts a worker for it if there is room; hands it back if a shutdown
    /// is dropping everything.
    fn enqueue(self: &Arc<Self>, job: BoxJob, source: Source) -> Result<(), BoxJob> {
        let mut after = After::default();
        {
            let mut state = lock(&self.state);
            if state.aborting {
                return Err(job);
            }
            let counters = &self.counters;
            if source == Source::Submit {
                add64(&counters.submitted, 1);
                add(&counters.waiting, 1);
            }
            state.queue.push_back(job);
            state.start_workers(counters, &mut after);
        }
        self.finish(after);
        Ok(())
    }

    /// Counts the end of a job of worker `key` and takes the next one for it; `None` if the
    /// worker is to exit.
    fn next(self: &Arc<Self>, key: usize, wake: &Arc<WorkerWake>, ended: Ended) -> Option<BoxJob> {
        let mut after = After::default();
        let mut removed = None;
        let next = {
            let mut state = lock(&self.state);
            let counters = &self.counters;
            sub(&counters.running, 1);
            counters.count(ended);
            let next = if state.workers > state.limit || state.aborting {
                None
            } else {
                state.pop_live(wake, counters, &mut after)
            };
            if next.is_none() {
                state.workers -= 1;
                removed = state.wakes.try_remove(key);
            }
            after.idle = state.is_idle(counters);
            next
        };
        // The worker's waker is dropped out of the lock.
        drop(removed);
        self.finish(after);
        next
    }

    /// A job that its worker's executor dropped: counted, and the worker gone.
    fn retire(self: &Arc<Self>, key: usize, ended: Ended) {
        let mut after = After::default();
        let removed = {
            let mut state = lock(&self.state);
            let counters = &self.counters;
            sub(&counters.running, 1);
            counters.count(ended);
            state.workers -= 1;
            after.idle = state.is_idle(counters);
            state.wakes.try_remove(key)
        };
        drop(removed);
        self.finish(after);
    }

    /// Aborts a job that is still queued; `false` if it already started.
    fn abort_queued(self: &Arc<Self>, control: &Control) -> bool {
        {
            let _state = lock(&self.state);
            if !control.end_queued() {
                return false;
            }
            sub(&self.counters.waiting, 1);
            add64(&self.counters.cancelled, 1);
        }
        if control.holds_room() {
            if let Some(room) = &self.room {
                room.add_permits(1);
            }
        }
        true
    }

    fn close(&self) {
        lock(&self.state).closed = true;
        self.closed.store(true, Ordering::Release);
        if let Some(room) = &self.room {
            room.close();
        }
    }

    fn is_idle(&self) -> bool {
        lock(&self.state).is_idle(&self.counters)
    }

    /// A shutdown's grace ran out: fire the token, drop the queued jobs, ask the running ones
    /// to stop.
    #[cfg_attr(loom, allow(dead_code))]
    fn abort_all(self: &Arc<Self>) {
        let (queued, workers) = {
            let mut state = lock(&self.state);
            state.aborting = true;
            state.closed = true;
            self.aborting.store(true, Ordering::Release);
            let queued: Vec<BoxJob> = state.queue.drain(..).collect();
            let workers: Vec<Arc<WorkerWake>> =
                state.wakes.iter().map(|(_, wake)| wake.clone()).collect();
            (queued, workers)
        };
        self.closed.store(true, Ordering::Release);
        self.token.cancel();
        if let Some(room) = &self.room {
            room.close();
        }
        // Each worker drops its job at its next poll (it reads `aborting` first).
        for worker in &workers {
            worker.wake();
        }
        drop(workers);
        // The queued jobs: those not aborted already are cancelled here, out of the lock.
        let mut ended = Vec::new();
        for mut job in queued {
            if job.control().is_queued() {
                ended.push(job.as_mut().cancel());
            }
            drop(job);
        }
        let mut after = After::default();
        {
            let state = lock(&self.state);
            sub(&self.counters.waiting, ended.len());
            for ended in ended {
                self.counters.count(ended);
            }
            after.idle = state.is_idle(&self.counters);
        }
        self.finish(after);
    }

    /// The group's jobs that never reached the pool's queue and were dropped (the group was
    /// cancelled, or the pool is shutting down): counted out of `waiting`.
    fn count_group_dropped(self: &Arc<Self>, ended: &[Ended]) {
        if ended.is_empty() {
            return;
        }
        let mut after = After::default();
        {
            let state = lock(&self.state);
            sub(&self.counters.waiting, ended.len());
            for ended in ended {
                self.counters.count(*ended);
            }
            after.idle = state.is_idle(&self.counters);
        }
        self.finish(after);
    }

    /// A group's job spawned: counted in `submitted` and `waiting` now (it waits in its group
    /// or the pool's queue); `false` if the pool no longer takes jobs.
    fn admit_group_job(&self) -> bool {
        let state = lock(&self.state);
        if state.closed || state.aborting {
            return false;
        }
        add64(&self.counters.submitted, 1);
        add(&self.counters.waiting, 1);
        true
    }
}

/// A worker: runs jobs one after another until the queue is empty.
struct Worker {
    inner: Arc<Inner>,
    job: Option<BoxJob>,
    /// Its key among the pool's workers.
    key: usize,
    /// Where an abort finds its waker.
    wake: Arc<WorkerWake>,
    /// The waker last stored in `wake`, to compare without its lock.
    waker: Option<Waker>,
}

/// Jobs a worker finishes in one poll before it yields to its executor.
const BUDGET: usize = 64;

impl Future for Worker {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let mut budget = BUDGET;
        loop {
            let Some(job) = &mut this.job else {
                return Poll::Ready(());
            };
            let polled = if this.inner.aborting.load(Ordering::Acquire) {
                Poll::Ready(job.as_mut().cancel())
            } else {
                job.as_mut().poll_job(cx)
            };
            let ended = match polled {
                Poll::Ready(ended) => ended,
                Poll::Pending => {
                    // Keep the waker where an abort finds it, then look for an abort (see
                    // `WorkerWake` for the race).
                    if !this.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        this.wake.store(cx.waker());
                        this.waker = Some(cx.waker().clone());
                    }
                    if !job.control().abort_requested()
                        && !this.inner.aborting.load(Ordering::Acquire)
                    {
                        return Poll::Pending;
                    }
                    job.as_mut().cancel()
                }
            };
            drop(this.job.take());
            this.job = this.inner.next(this.key, &this.wake, ended);
            budget -= 1;
            if budget == 0 && this.job.is_some() {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(mut job) = self.job.take() {
            // Dropped by its executor (a runtime shutting down) in the middle of a job, or never
            // handed to one (a spawn function that panicked).
            let ended = job.as_mut().cancel();
            drop(job);
            self.inner.retire(self.key, ended);
        }
    }
}

impl WorkerPool {
    /// A pool running at most `limit` jobs at once, as executor tasks started through `spawn`
    /// (the spawn function of [`ErrGroup::with_spawner`](crate::ErrGroup::with_spawner):
    /// `|job| { tokio::spawn(job); }`, `|job| smol::spawn(job).detach()`, ...). The queue is
    /// unbounded; [`with_queue_size`](Self::with_queue_size) bounds it.
    ///
    /// # Panics
    ///
    /// If `limit` is 0 (nothing could ever run; [`resize(0)`](Self::resize) pauses a running
    /// pool instead).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = taskgroup::WorkerPool::new(8, |job| {
    ///     tokio::spawn(job);
    /// });
    /// assert_eq!(pool.limit(), 8);
    /// ```
    #[track_caller]
    pub fn new<S>(limit: usize, spawn: S) -> Self
    where
        S: Fn(Pin<Box<dyn Future<Output = ()> + Send + 'static>>) + Send + Sync + 'static,
    {
        assert!(
            limit > 0,
            "WorkerPool::new: limit must be at least 1 (a limit of 0 would never run a job; \
             resize(0) pauses a running pool)"
        );
        let inner = Inner {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                workers: 0,
                limit,
                wakes: Slab::new(),
                aborting: false,
                closed: false,
                parent: None,
            }),
            spawn: Arc::new(spawn),
            room: None,
            counters: Counters {
                submitted: AtomicU64::new(0),
                waiting: AtomicUsize::new(0),
                running: AtomicUsize::new(0),
                succeeded: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                panicked: AtomicU64::new(0),
                cancelled: AtomicU64::new(0),
            },
            limit: AtomicUsize::new(limit),
            closed: AtomicBool::new(false),
            aborting: AtomicBool::new(false),
            idle: WakerList::new(),
            token: CancelToken::new(),
        };
        Self {
            handle: Arc::new(Handle {
                inner: Arc::new(inner),
            }),
        }
    }

    fn inner(&self) -> &Arc<Inner> {
        &self.handle.inner
    }

    /// Bounds the queue: at most `size` jobs wait beside those running. Past that,
    /// [`submit`](Self::submit) waits for a place (the backpressure of Go's buffered `jobs`
    /// channel) and [`try_submit`](Self::try_submit) fails with
    /// [`Full`](TrySubmitError::Full). Places go to waiting submitters in the order they asked.
    ///
    /// # Panics
    ///
    /// If `size` is 0, and if the pool was already cloned or used (call it right after
    /// [`new`](Self::new)).
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{TrySubmitError, WorkerPool};
    ///
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = WorkerPool::new(1, |job| {
    ///     tokio::spawn(job);
    /// })
    /// .with_queue_size(1);
    /// pool.resize(0); // paused, so that jobs stay queued
    /// let _queued = pool.try_submit(async {}).unwrap();
    /// assert!(matches!(pool.try_submit(async {}), Err(TrySubmitError::Full(_))));
    /// # }
    /// ```
    #[track_caller]
    pub fn with_queue_size(mut self, size: usize) -> Self {
        assert!(
            size > 0,
            "WorkerPool::with_queue_size: size must be at least 1 (the number of jobs that may \
             wait beside those running)"
        );
        assert!(
            size <= Semaphore::MAX_PERMITS,
            "WorkerPool::with_queue_size: size is larger than Semaphore::MAX_PERMITS"
        );
        let inner = Arc::get_mut(&mut self.handle)
            .and_then(|handle| Arc::get_mut(&mut handle.inner))
            .expect("WorkerPool::with_queue_size: call it right after new(), before cloning or using the pool");
        inner.room = Some(Semaphore::new(size));
        self
    }

    /// Makes the pool's [`cancel_token`](Self::cancel_token) a child of `parent` (pond's
    /// `WithContext`): when `parent` fires, the jobs watching the pool's token see it. That is
    /// cooperative: queued jobs still start, running ones decide how to wind down. The pool
    /// never fires `parent`.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{CancelToken, WorkerPool};
    ///
    /// let shutdown = CancelToken::new();
    /// let pool = WorkerPool::new(2, |job| {
    ///     tokio::spawn(job);
    /// })
    /// .with_parent(&shutdown);
    /// shutdown.cancel();
    /// assert!(pool.cancel_token().is_cancelled());
    /// ```
    pub fn with_parent(self, parent: &CancelToken) -> Self {
        self.inner().token.attach_to(parent);
        lock(&self.inner().state).parent = Some(parent.clone());
        self
    }

    /// The pool's token: it fires when a [`shutdown`](Self::shutdown)'s grace runs out (just
    /// before the jobs left are dropped) and with the [`with_parent`](Self::with_parent) token.
    /// Jobs watch it to wind down; firing it yourself is cooperative (nothing is dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = taskgroup::WorkerPool::new(2, |job| {
    ///     tokio::spawn(job);
    /// });
    /// let token = pool.cancel_token();
    /// let job = pool.submit(async move { token.cancelled().await; "wound down" }).await;
    /// pool.cancel_token().cancel();
    /// assert_eq!(job.await.unwrap(), "wound down");
    /// # }
    /// ```
    pub fn cancel_token(&self) -> CancelToken {
        self.inner().token.clone()
    }

    /// Submits a job, waiting for a place in a bounded queue (ready at once in an unbounded
    /// one). The job starts as soon as a slot is free, in submission order. On a closed pool
    /// the handle yields [`JobError::Closed`] and the future is dropped unrun.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future before it is ready submits nothing and gives up its
    /// place among waiting submitters; nobody else is delayed.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = taskgroup::WorkerPool::new(2, |job| {
    ///     tokio::spawn(job);
    /// });
    /// let handle = pool.submit(async { 1 + 1 }).await;
    /// assert_eq!(handle.await.unwrap(), 2);
    /// # }
    /// ```
    pub fn submit<F>(&self, future: F) -> Submit<'_, F>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Submit {
            pool: self,
            future: Some(future),
            room: None,
        }
    }

    /// Submits a job if there is a place for it now; hands the future back, untouched, if the
    /// bounded queue is full ([`Full`](TrySubmitError::Full)) or the pool is closed
    /// ([`Closed`](TrySubmitError::Closed)). It never takes a place from a submitter that is
    /// already waiting.
    ///
    /// # Errors
    ///
    /// [`TrySubmitError::Full`] or [`TrySubmitError::Closed`], with the future.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{TrySubmitError, WorkerPool};
    ///
    /// let pool = WorkerPool::new(1, |job| {
    ///     tokio::spawn(job);
    /// });
    /// pool.close();
    /// let refused = pool.try_submit(async { 7 }).unwrap_err();
    /// assert!(matches!(refused, TrySubmitError::Closed(_)));
    /// let future = refused.into_inner(); // handed back unrun
    /// # drop(future);
    /// ```
    pub fn try_submit<F>(&self, future: F) -> Result<JobHandle<F::Output>, TrySubmitError<F>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let inner = self.inner();
        if inner.closed.load(Ordering::Acquire) {
            return Err(TrySubmitError::Closed(future));
        }
        if let Some(room) = &inner.room {
            match room.try_acquire() {
                Ok(place) => place.forget(),
                Err(TryAcquireError::Closed) => return Err(TrySubmitError::Closed(future)),
                Err(_) => return Err(TrySubmitError::Full(future)),
            }
        }
        Ok(self.submit_now(future))
    }

    /// [`submit`](Self::submit) from a plain thread: parks the thread until there is a place.
    /// On a closed pool the handle yields [`JobError::Closed`].
    ///
    /// Do not call it from inside an async task (it would block the executor's thread).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = taskgroup::WorkerPool::new(2, |job| {
    ///     std::thread::spawn(move || futures::executor::block_on(job));
    /// });
    /// let job = pool.submit_blocking(async { "from a thread" });
    /// assert_eq!(futures::executor::block_on(job).unwrap(), "from a thread");
    /// ```
    pub fn submit_blocking<F>(&self, future: F) -> JobHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        crate::sync::block_on(self.submit(future))
    }

    /// Queues a job that holds a place (if the queue is bounded).
    fn submit_now<F>(&self, future: F) -> JobHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let inner = self.inner();
        let cell = Arc::new(Cell::new(inner.room.is_some()));
        let job: BoxJob = Box::pin(JobTask::new(future, cell.clone()));
        if let Err(mut job) = inner.enqueue(job, Source::Submit) {
            // A shutdown is dropping everything: the job never runs.
            cell.deliver(Err(JobError::Closed));
            job.as_mut().cancel();
            if inner.room.is_some() {
                if let Some(room) = &inner.room {
                    room.add_permits(1);
                }
            }
        }
        JobHandle {
            cell,
            pool: Some(inner.clone()),
        }
    }

    /// Sets the number of jobs that run at once, while the pool runs (pond's `Resize`, the
    /// seeds' dynamic scaling). Growing starts queued jobs at once; shrinking lets running jobs
    /// finish and starts no more until fewer than `limit` run. `resize(0)` pauses the pool:
    /// jobs queue up until it grows again.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = taskgroup::WorkerPool::new(4, |job| {
    ///     tokio::spawn(job);
    /// });
    /// pool.resize(0); // paused
    /// let job = pool.submit(async { "ran" }).await;
    /// assert_eq!(pool.stats().waiting, 1);
    /// pool.resize(16); // starts it at once
    /// assert_eq!(job.await.unwrap(), "ran");
    /// assert_eq!(pool.limit(), 16);
    /// # }
    /// ```
    pub fn resize(&self, limit: usize) {
        let inner = self.inner();
        let mut after = After::default();
        {
            let mut state = lock(&inner.state);
            state.limit = limit;
            inner.limit.store(limit, Ordering::Relaxed);
            state.start_workers(&inner.counters, &mut after);
        }
        inner.finish(after);
    }

    /// The number of jobs that may run at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = taskgroup::WorkerPool::new(3, |job| {
    ///     tokio::spawn(job);
    /// });
    /// assert_eq!(pool.limit(), 3);
    /// ```
    pub fn limit(&self) -> usize {
        self.inner().limit.load(Ordering::Relaxed)
    }

    /// A group of jobs that fail together, run on this pool's slots (pond's `NewGroup`); see
    /// [`PoolGroup`].
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
    /// for page in 1..=3 {
    ///     batch.spawn(async move { Ok::<_, String>(page * 10) });
    /// }
    /// assert_eq!(batch.wait().await, Ok(vec![10, 20, 30]));
    /// # }
    /// ```
    pub fn group<T, E>(&self) -> PoolGroup<T, E>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        PoolGroup::new(self.inner().clone())
    }

    /// What the pool did so far, read without a lock (cheap enough to poll for a progress
    /// bar). The fields are read one by one, so a snapshot taken while jobs run may be off by
    /// the jobs that moved meanwhile; once the pool is idle, `submitted == succeeded + failed +
    /// panicked + cancelled`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = taskgroup::WorkerPool::new(2, |job| {
    ///     tokio::spawn(job);
    /// });
    /// let _ = pool.submit(async { panic!("one bad job") }).await;
    /// pool.submit(async {}).await;
    /// pool.stop_and_wait().await;
    /// let stats = pool.stats();
    /// assert_eq!((stats.submitted, stats.succeeded, stats.panicked), (2, 1, 1));
    /// # }
    /// ```
    pub fn stats(&self) -> PoolStats {
        let counters = &self.inner().counters;
        PoolStats {
            submitted: counters.submitted.load(Ordering::Relaxed),
            waiting: counters.waiting.load(Ordering::Relaxed),
            running: counters.running.load(Ordering::Relaxed),
            succeeded: counters.succeeded.load(Ordering::Relaxed),
            failed: counters.failed.load(Ordering::Relaxed),
            panicked: counters.panicked.load(Ordering::Relaxed),
            cancelled: counters.cancelled.load(Ordering::Relaxed),
        }
    }

    /// Closes the pool: new submits yield [`JobError::Closed`] (`try_submit` fails with
    /// [`Closed`](TrySubmitError::Closed)), submitters waiting for a place too; queued and
    /// running jobs go on. Dropping the last clone of the pool closes it too.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = taskgroup::WorkerPool::new(1, |job| {
    ///     tokio::spawn(job);
    /// });
    /// pool.close();
    /// assert!(pool.is_closed());
    /// ```
    pub fn close(&self) {
        self.inner().close();
    }

    /// Whether the pool is closed.
    pub fn is_closed(&self) -> bool {
        self.inner().closed.load(Ordering::Acquire)
    }

    /// Closes the pool and waits until every queued and running job has ended (pond's
    /// `StopAndWait`). No job outlives it. A paused pool ([`resize(0)`](Self::resize)) waits
    /// until it is resized.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it stops the waiting, not the pool (which stays closed).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = taskgroup::WorkerPool::new(2, |job| {
    ///     tokio::spawn(job);
    /// });
    /// for _ in 0..10 {
    ///     pool.submit(tokio::task::yield_now()).await; // handles dropped: detached
    /// }
    /// pool.stop_and_wait().await;
    /// assert_eq!(pool.stats().succeeded, 10);
    /// # }
    /// ```
    pub async fn stop_and_wait(&self) {
        self.close();
        Idle::new(self.inner()).await;
    }

    /// Closes the pool, waits up to `grace` for the jobs to end, then fires the pool's
    /// [`cancel_token`](Self::cancel_token), drops the queued jobs and every running job at its
    /// next poll, and returns once every job is gone. No job outlives it.
    ///
    /// The counts cover this call: jobs that ended during it (panics included in
    /// `completed`), and the jobs it cancelled.
    ///
    /// # Cancel safety
    ///
    /// Dropping it before the grace ran out stops the waiting, not the pool (which stays
    /// closed); once the grace ran out the jobs are cancelled whether it is awaited or not.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # #[tokio::main]
    /// # async fn main() {
    /// let pool = taskgroup::WorkerPool::new(2, |job| {
    ///     tokio::spawn(job);
    /// });
    /// let stuck = pool.submit(std::future::pending::<()>()).await; // never ends by itself
    /// let report = pool.shutdown(Duration::from_millis(50)).await;
    /// assert_eq!(report.cancelled, 1);
    /// assert!(stuck.await.unwrap_err().is_cancelled());
    /// # }
    /// ```
    #[cfg(not(loom))]
    pub async fn shutdown(&self, grace: Duration) -> Shutdown {
        use crate::time::TimeoutExt;

        let inner = self.inner();
        let before = self.stats();
        self.close();
        if Idle::new(inner).timeout(grace).await.is_err() {
            inner.abort_all();
            Idle::new(inner).await;
        }
        let after = self.stats();
        let ended = |s: &PoolStats| s.succeeded + s.failed + s.panicked;
        Shutdown {
            completed: ended(&after) - ended(&before),
            cancelled: after.cancelled - before.cancelled,
        }
    }
}

/// Waits until the pool is idle.
struct Idle<'a> {
    inner: &'a Inner,
    ticket: Option<Ticket>,
}

impl<'a> Idle<'a> {
    fn new(inner: &'a Inner) -> Self {
        Self {
            inner,
            ticket: None,
        }
    }
}

impl Future for Idle<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if !this.inner.is_idle() {
            this.inner.idle.register(&mut this.ticket, cx.waker());
            if !this.inner.is_idle() {
                return Poll::Pending;
            }
        }
        this.inner.idle.unregister(&mut this.ticket);
        Poll::Ready(())
    }
}

impl Drop for Idle<'_> {
    fn drop(&mut self) {
        self.inner.idle.unregister(&mut self.ticket);
    }
}

pin_project! {
    /// The future returned by [`WorkerPool::submit`]: ready with the job's handle once the job
    /// is queued.
    ///
    /// # Cancel safety
    ///
    /// Dropping it before it is ready submits nothing and gives up its place among the
    /// submitters waiting for room.
    #[must_use = "a job is submitted only when the future returned by submit() is awaited"]
    pub struct Submit<'a, F> {
        pool: &'a WorkerPool,
        future: Option<F>,
        #[pin]
        room: Option<Acquire<'a>>,
    }
}

impl<F> Future for Submit<'_, F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    type Output = JobHandle<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let pool = *this.pool;
        assert!(this.future.is_some(), "Submit polled after it returned");
        if let Some(room) = &pool.inner().room {
            if this.room.is_none() {
                if pool.is_closed() {
                    this.future.take();
                    return Poll::Ready(closed_handle());
                }
                this.room.set(Some(room.acquire()));
            }
            let acquired = match this.room.as_mut().as_pin_mut() {
                Some(acquire) => match acquire.poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(acquired) => acquired,
                },
                None => unreachable!("set above"),
            };
            this.room.set(None);
            match acquired {
                Ok(place) => place.forget(),
                Err(_) => {
                    this.future.take();
                    return Poll::Ready(closed_handle());
                }
            }
        } else if pool.is_closed() {
            this.future.take();
            return Poll::Ready(closed_handle());
        }
        let future = this.future.take().expect("checked above");
        Poll::Ready(pool.submit_now(future))
    }
}

fn closed_handle<T>() -> JobHandle<T> {
    JobHandle {
        cell: Arc::new(Cell::ended(JobError::Closed)),
        pool: None,
    }
}

impl<F> fmt::Debug for Submit<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Submit")
            .field("waiting_for_room", &self.room.is_some())
            .finish()
    }
}

/// The error of [`WorkerPool::try_submit`], with the future handed back untouched.
///
/// # Examples
///
/// ```
/// use taskgroup::{TrySubmitError, WorkerPool};
///
/// let pool = WorkerPool::new(1, |job| {
///     tokio::spawn(job);
/// });
/// pool.close();
/// match pool.try_submit(async { 1 }) {
///     Err(TrySubmitError::Closed(future)) => drop(future),
///     _ => unreachable!(),
/// }
/// ```
#[non_exhaustive]
pub enum TrySubmitError<F> {
    /// The bounded queue has no place now (or submitters are already waiting for one).
    Full(F),
    /// The pool is closed.
    Closed(F),
}

impl<F> TrySubmitError<F> {
    /// The future that was not submitted.
    pub fn into_inner(self) -> F {
        match self {
            TrySubmitError::Full(future) | TrySubmitError::Closed(future) => future,
        }
    }
}

impl<F> fmt::Debug for TrySubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySubmitError::Full(_) => f.write_str("Full(..)"),
            TrySubmitError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<F> fmt::Display for TrySubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySubmitError::Full(_) => f.write_str("the pool's queue is full"),
            TrySubmitError::Closed(_) => f.write_str("the pool is closed"),
        }
    }
}

impl<F> std::error::Error for TrySubmitError<F> {}

/// A snapshot of a [`WorkerPool`]'s counters, from [`WorkerPool::stats`].
///
/// Once the pool is idle, `submitted == succeeded + failed + panicked + cancelled`.
///
/// # Examples
///
/// ```
/// let stats = taskgroup::PoolStats::default();
/// assert_eq!(stats.submitted, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct PoolStats {
    /// Jobs submitted (group jobs count when spawned).
    pub submitted: u64,
    /// Jobs queued, in the pool or in a group, not started yet.
    pub waiting: usize,
    /// Jobs running now.
    pub running: usize,
    /// Jobs that returned (a group job that returned `Err` counts as `failed`).
    pub succeeded: u64,
    /// Group jobs that returned `Err`.
    pub failed: u64,
    /// Jobs that panicked.
    pub panicked: u64,
    /// Jobs cancelled before they finished: aborted, dropped by a group's first error or by a
    /// shutdown.
    pub cancelled: u64,
}

impl PoolStats {
    /// Jobs that ended, however they ended.
    pub fn ended(&self) -> u64 {
        self.succeeded + self.failed + self.panicked + self.cancelled
    }
}

/// What [`WorkerPool::shutdown`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Shutdown {
    /// Jobs that ended during the call by themselves (returned or panicked).
    pub completed: u64,
    /// Jobs the call cancelled (queued or running when the grace ran out).
    pub cancelled: u64,
}

impl fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stats = self.stats();
        f.debug_struct("WorkerPool")
            .field("limit", &self.limit())
            .field("closed", &self.is_closed())
            .field("submitted", &stats.submitted)
            .field("waiting", &stats.waiting)
            .field("running", &stats.running)
            .field("succeeded", &stats.succeeded)
            .field("failed", &stats.failed)
            .field("panicked", &stats.panicked)
            .field("cancelled", &stats.cancelled)
            .finish()
    }
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}
