//! Property tests for `WorkerPool`: random submits (some to a full queue, left pending or
//! dropped), job releases, panics, aborts, dropped handles, resizes (to 0 too), group spawns,
//! closes and shutdowns, on a hand-stepped executor. Checked: no job runs twice, no accepted
//! job is lost, a dropped submit never runs, never more jobs run at once than the largest limit
//! set, every handle yields what its job did, and the stats add up once the pool is idle.
#![cfg(not(loom))]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::task::noop_waker_ref;
use proptest::prelude::*;
use taskgroup::{JobError, JobHandle, PoolGroup, Submit, WorkerPool};

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

#[derive(Debug, Clone)]
enum Op {
    /// Submit a job; `true`: it panics when released.
    Submit(bool),
    TrySubmit,
    DropSubmit(usize),
    Release(usize),
    Abort(usize),
    DropHandle(usize),
    Resize(usize),
    GroupSpawn(bool),
    /// Spawn into the fail-fast group: a job that waits for its release, then fails or not.
    FailFastSpawn(bool),
    /// Start waiting for the fail-fast group (its first error cancels its other jobs from now).
    FailFastWait,
    Step,
    Close,
    Shutdown,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => prop::bool::weighted(0.2).prop_map(Op::Submit),
        2 => Just(Op::TrySubmit),
        1 => (0..8usize).prop_map(Op::DropSubmit),
        5 => (0..16usize).prop_map(Op::Release),
        2 => (0..16usize).prop_map(Op::Abort),
        1 => (0..16usize).prop_map(Op::DropHandle),
        2 => (0..4usize).prop_map(Op::Resize),
        2 => any::<bool>().prop_map(Op::GroupSpawn),
        2 => prop::bool::weighted(0.3).prop_map(Op::FailFastSpawn),
        1 => Just(Op::FailFastWait),
        5 => Just(Op::Step),
        1 => Just(Op::Close),
        1 => Just(Op::Shutdown),
    ]
}

/// One job: released by the test, counts its starts and its ends.
#[derive(Default)]
struct JobState {
    released: AtomicBool,
    starts: AtomicUsize,
    ends: AtomicUsize,
}

async fn job(
    state: Arc<JobState>,
    panics: bool,
    running: Arc<AtomicUsize>,
    high: Arc<AtomicUsize>,
) -> usize {
    {
        state.starts.fetch_add(1, Ordering::SeqCst);
        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
        high.fetch_max(now, Ordering::SeqCst);
        struct Leave(Arc<AtomicUsize>);
        impl Drop for Leave {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let _leave = Leave(running);
        std::future::poll_fn(|_| {
            if state.released.load(Ordering::SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        state.ends.fetch_add(1, Ordering::SeqCst);
        if panics {
            panic!("a job that panics");
        }
        7
    }
}

struct Exec {
    tasks: Arc<Mutex<Vec<Task>>>,
}

impl Exec {
    fn step(&self) -> bool {
        let mut tasks = std::mem::take(&mut *self.tasks.lock().unwrap());
        let polled = !tasks.is_empty();
        let mut cx = Context::from_waker(noop_waker_ref());
        tasks.retain_mut(|task| task.as_mut().poll(&mut cx).is_pending());
        self.tasks.lock().unwrap().extend(tasks);
        polled
    }
}

fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(noop_waker_ref()))
}

struct Tracked {
    state: Arc<JobState>,
    panics: bool,
    handle: Option<JobHandle<usize>>,
    aborted_before_end: bool,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 1 } else { 256 }, ..ProptestConfig::default() })]

    #[test]
    fn nothing_lost_nothing_twice_stats_consistent(
        limit in 1..4usize,
        queue in prop::option::of(1..4usize),
        ops in prop::collection::vec(op(), 1..if cfg!(miri) { 24 } else { 60 }),
    ) {
        let tasks: Arc<Mutex<Vec<Task>>> = Arc::default();
        let exec = Exec { tasks: tasks.clone() };
        let spawner = tasks.clone();
        let mut pool = WorkerPool::new(limit, move |task| spawner.lock().unwrap().push(task));
        if let Some(size) = queue {
            pool = pool.with_queue_size(size);
        }
        let running = Arc::new(AtomicUsize::new(0));
        let high = Arc::new(AtomicUsize::new(0));
        let mut max_limit = limit;
        let mut jobs: Vec<Tracked> = Vec::new();
        #[allow(clippy::type_complexity)]
        let mut pending: Vec<(Pin<Box<Submit<'_, _>>>, Arc<JobState>, bool)> = Vec::new();
        let mut dropped_submits: Vec<Arc<JobState>> = Vec::new();
        let mut refused: Vec<Arc<JobState>> = Vec::new();
        let group: PoolGroup<usize, ()> = pool.group();
        let mut group_jobs: Vec<Arc<JobState>> = Vec::new();
        let mut fail_fast: Option<PoolGroup<usize, usize>> = Some(pool.group().with_limit(2));
        let mut fail_wait = None;
        let mut fail_jobs: Vec<(Arc<JobState>, bool)> = Vec::new();
        let mut closed = false;
        let mut shut_down = false;
        let mut refused_by_close = 0usize;

        let new_job = |panics: bool| {
            let state = Arc::new(JobState::default());
            let fut = job(state.clone(), panics, running.clone(), high.clone());
            (state, fut)
        };

        for op in ops {
            match op {
                Op::Submit(panics) => {
                    let (state, fut) = new_job(panics);
                    pending.push((Box::pin(pool.submit(fut)), state, panics));
                }
                Op::TrySubmit => {
                    let (state, fut) = new_job(false);
                    match pool.try_submit(fut) {
                        Ok(mut handle) => match poll_once(&mut handle) {
                            Poll::Ready(Err(JobError::Closed)) => {
                                prop_assert!(closed);
                                refused.push(state);
                            }
                            Poll::Ready(_) => prop_assert!(false, "a job ran before its worker was polled"),
                            Poll::Pending => jobs.push(Tracked { state, panics: false, handle: Some(handle), aborted_before_end: false }),
                        },
                        Err(_) => refused.push(state),
                    }
                }
                Op::DropSubmit(i) => {
                    if !pending.is_empty() {
                        let (_, state, _) = pending.remove(i % pending.len());
                        dropped_submits.push(state);
                    }
                }
                Op::Release(i) => {
                    if !jobs.is_empty() {
                        jobs[i % jobs.len()].state.released.store(true, Ordering::SeqCst);
                    }
                    if !fail_jobs.is_empty() {
                        fail_jobs[i % fail_jobs.len()].0.released.store(true, Ordering::SeqCst);
                    }
                }
                Op::Abort(i) => {
                    if !jobs.is_empty() {
                        let n = jobs.len();
                        let tracked = &mut jobs[i % n];
                        if let Some(handle) = &tracked.handle {
                            if tracked.state.ends.load(Ordering::SeqCst) == 0 {
                                tracked.aborted_before_end = true;
                            }
                            handle.abort();
                        }
                    }
                }
                Op::DropHandle(i) => {
                    if !jobs.is_empty() {
                        let n = jobs.len();
                        jobs[i % n].handle = None;
                    }
                }
                Op::Resize(n) => {
                    max_limit = max_limit.max(n);
                    pool.resize(n);
                }
                Op::GroupSpawn(fails) => {
                    if !closed {
                        let state = Arc::new(JobState::default());
                        let s = state.clone();
                        group.spawn(async move {
                            s.starts.fetch_add(1, Ordering::SeqCst);
                            s.ends.fetch_add(1, Ordering::SeqCst);
                            if fails { Err(()) } else { Ok(1) }
                        });
                        group_jobs.push(state);
                    }
                }
                Op::FailFastSpawn(fails) => {
                    if let (false, Some(group)) = (closed, &fail_fast) {
                        let state = Arc::new(JobState::default());
                        let s = state.clone();
                        let index = fail_jobs.len();
                        group.spawn(async move {
                            s.starts.fetch_add(1, Ordering::SeqCst);
                            std::future::poll_fn(|_| {
                                if s.released.load(Ordering::SeqCst) { Poll::Ready(()) } else { Poll::Pending }
                            })
                            .await;
                            s.ends.fetch_add(1, Ordering::SeqCst);
                            if fails { Err(index) } else { Ok(index) }
                        });
                        fail_jobs.push((state, fails));
                    }
                }
                Op::FailFastWait => {
                    if let Some(group) = fail_fast.take() {
                        fail_wait = Some(Box::pin(group.wait()));
                    }
                }
                Op::Step => {
                    exec.step();
                }
                Op::Close => {
                    pool.close();
                    closed = true;
                }
                Op::Shutdown => {
                    closed = true;
                    shut_down = true;
                    let mut shutdown = Box::pin(pool.shutdown(Duration::ZERO));
                    let mut rounds = 0;
                    loop {
                        exec.step();
                        if poll_once(&mut shutdown).is_ready() {
                            break;
                        }
                        rounds += 1;
                        prop_assert!(rounds < 10_000, "shutdown never returned");
                    }
                    prop_assert_eq!(running.load(Ordering::SeqCst), 0, "no job outlives shutdown");
                }
            }
            // Submits waiting for room: poll them (in order).
            let mut still = Vec::new();
            for (mut submit, state, panics) in pending.drain(..) {
                match poll_once(&mut submit) {
                    Poll::Ready(mut handle) => match poll_once(&mut handle) {
                        Poll::Ready(Err(JobError::Closed)) => {
                            prop_assert!(closed);
                            refused_by_close += 1;
                            refused.push(state);
                        }
                        Poll::Ready(_) => prop_assert!(false, "a job ran before its worker was polled"),
                        Poll::Pending => jobs.push(Tracked { state, panics, handle: Some(handle), aborted_before_end: false }),
                    },
                    Poll::Pending => still.push((submit, state, panics)),
                }
            }
            pending = still;
            prop_assert!(high.load(Ordering::SeqCst) <= max_limit, "never more than the largest limit");
        }

        // Wind down: room for everyone, every job released, until the pool is idle.
        pool.resize(4);
        for tracked in &jobs {
            tracked.state.released.store(true, Ordering::SeqCst);
        }
        for (state, _) in &fail_jobs {
            state.released.store(true, Ordering::SeqCst);
        }
        let mut fail_wait = fail_wait.unwrap_or_else(|| Box::pin(fail_fast.take().expect("not waited yet").wait()));
        let fail_result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loop {
            exec.step();
            if let Poll::Ready(result) = poll_once(&mut fail_wait) {
                break result;
            }
        }));
        match fail_result {
            Ok(Ok(values)) => {
                prop_assert_eq!(values, (0..fail_jobs.len()).collect::<Vec<_>>());
                prop_assert!(fail_jobs.iter().all(|(_, fails)| !fails));
            }
            Ok(Err(index)) => prop_assert!(fail_jobs[index].1, "the error is a failing job's"),
            Err(_) => prop_assert!(shut_down, "wait() panics only after a shutdown"),
        }
        for (state, _) in &fail_jobs {
            prop_assert!(state.starts.load(Ordering::SeqCst) <= 1);
        }
        let mut rounds = 0;
        loop {
            let mut still = Vec::new();
            for (mut submit, state, panics) in pending.drain(..) {
                state.released.store(true, Ordering::SeqCst);
                match poll_once(&mut submit) {
                    Poll::Ready(mut handle) => match poll_once(&mut handle) {
                        Poll::Ready(Err(JobError::Closed)) => {
                            prop_assert!(closed);
                            refused_by_close += 1;
                            refused.push(state);
                        }
                        Poll::Ready(_) => prop_assert!(false, "a job ran before its worker was polled"),
                        Poll::Pending => jobs.push(Tracked { state, panics, handle: Some(handle), aborted_before_end: false }),
                    },
                    Poll::Pending => still.push((submit, state, panics)),
                }
            }
            pending = still;
            exec.step();
            let stats = pool.stats();
            if pending.is_empty() && stats.waiting == 0 && stats.running == 0 && tasks.lock().unwrap().is_empty() {
                break;
            }
            rounds += 1;
            prop_assert!(rounds < 10_000, "the pool never became idle: {:?}", stats);
        }
        let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut wait = Box::pin(group.wait_all());
            loop {
                exec.step();
                if let Poll::Ready(outcomes) = poll_once(&mut wait) {
                    break outcomes;
                }
            }
        }));
        match waited {
            Ok(outcomes) => prop_assert_eq!(outcomes.len(), group_jobs.len()),
            // A group job dropped by the shutdown has no value: wait_all() says so.
            Err(_) => prop_assert!(shut_down, "wait_all() panics only after a shutdown"),
        }

        for state in dropped_submits.iter().chain(&refused) {
            prop_assert_eq!(state.starts.load(Ordering::SeqCst), 0, "a dropped or refused submit never runs");
        }
        for tracked in &mut jobs {
            let starts = tracked.state.starts.load(Ordering::SeqCst);
            let ends = tracked.state.ends.load(Ordering::SeqCst);
            prop_assert!(starts <= 1 && ends <= starts, "nothing runs twice");
            let Some(handle) = tracked.handle.as_mut() else { continue };
            let result = match poll_once(handle) {
                Poll::Ready(result) => result,
                Poll::Pending => return Err(TestCaseError::fail("a handle of an idle pool is ready")),
            };
            match result {
                Ok(value) => {
                    prop_assert_eq!(value, 7);
                    prop_assert_eq!(ends, 1);
                }
                Err(JobError::Panicked(_)) => prop_assert!(tracked.panics && ends == 1),
                Err(JobError::Cancelled) => {
                    prop_assert!(tracked.aborted_before_end || shut_down, "cancelled only by abort or shutdown");
                    prop_assert_eq!(ends, 0);
                }
                Err(other) => prop_assert!(false, "unexpected {:?}", other),
            }
        }
        let stats = pool.stats();
        prop_assert_eq!(stats.ended(), stats.submitted, "{:?}", stats);
        prop_assert_eq!(stats.submitted, (jobs.len() + group_jobs.len() + fail_jobs.len()) as u64, "{:?}", stats);
        let _ = refused_by_close;
    }
}
