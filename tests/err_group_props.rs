//! Property tests for `ErrGroup` (local form, stepped by hand): random task outcomes (a value,
//! an error, a panic, pending forever, after a random number of yields), random limits, both
//! `wait()` and `wait_all()`, and a random point at which the caller gives up and drops the
//! future. The outcome is always the first failure in completion order or every value in spawn
//! order; the limit always holds; every task's future is dropped by the time `wait()` returns
//! or is dropped. Plus a two-thread stress test of the parallel form.
#![cfg(not(loom))]

use std::cell::RefCell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use proptest::prelude::*;
use taskgroup::ErrGroup;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Value,
    Error,
    Panic,
    Forever,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        6 => Just(Kind::Value),
        2 => Just(Kind::Error),
        1 => Just(Kind::Panic),
        1 => Just(Kind::Forever),
    ]
}

/// What the tasks record, shared with the test (tasks are `Send`, so behind a mutex).
#[derive(Default)]
struct Log {
    /// Task ids in the order they finished (returned or panicked).
    finished: Vec<(usize, Kind)>,
    running: usize,
    peak: usize,
    dropped: usize,
}

/// Lives inside a task's future: counts it as running from its first poll, and as dropped
/// when the future goes, however it goes.
struct Probe {
    log: Arc<Mutex<Log>>,
    started: bool,
    finished: bool,
}

impl Probe {
    fn start(&mut self) {
        let mut log = self.log.lock().unwrap();
        log.running += 1;
        log.peak = log.peak.max(log.running);
        self.started = true;
    }

    fn finish(&mut self, id: usize, kind: Kind) {
        let mut log = self.log.lock().unwrap();
        log.running -= 1;
        log.finished.push((id, kind));
        self.finished = true;
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        if self.started && !self.finished {
            log.running -= 1;
        }
        log.dropped += 1;
    }
}

/// Pending once, waking itself.
async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

fn task(
    id: usize,
    kind: Kind,
    yields: usize,
    log: Arc<Mutex<Log>>,
) -> impl Future<Output = Result<usize, usize>> + Send {
    let mut probe = Probe {
        log,
        started: false,
        finished: false,
    };
    async move {
        probe.start();
        for _ in 0..yields {
            yield_now().await;
        }
        match kind {
            Kind::Value => {
                probe.finish(id, kind);
                Ok(id)
            }
            Kind::Error => {
                probe.finish(id, kind);
                Err(id)
            }
            Kind::Panic => {
                probe.finish(id, kind);
                std::panic::panic_any(id)
            }
            Kind::Forever => std::future::pending().await,
        }
    }
}

#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// How a run ended.
#[derive(Debug, PartialEq)]
enum Ended {
    Values(Vec<usize>),
    Outcomes(Vec<Result<usize, usize>>),
    Error(usize),
    Panic(usize),
    GaveUp,
}

/// Polls `fut` until it is ready or `polls` polls were spent (then drops it), catching a panic.
fn drive<F: Future>(fut: F, polls: usize, map: impl FnOnce(F::Output) -> Ended) -> Ended {
    let waker = Arc::new(CountingWaker::default());
    let waker = Waker::from(waker);
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    for _ in 0..polls {
        match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx))) {
            Ok(Poll::Ready(out)) => return map(out),
            Ok(Poll::Pending) => {}
            Err(payload) => return Ended::Panic(*payload.downcast::<usize>().unwrap()),
        }
    }
    Ended::GaveUp
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 8 } else { 512 }, ..ProptestConfig::default() })]

    #[test]
    fn outcome_limit_and_drops(
        tasks in prop::collection::vec((kind(), 0..4usize), 0..12),
        limit in prop::option::of(1..5usize),
        all in any::<bool>(),
        polls in 1..60usize,
    ) {
        // Panics are expected here; keep their messages out of the output.
        std::panic::set_hook(Box::new(|_| {}));
        let log = Arc::new(Mutex::new(Log::default()));
        let mut group = ErrGroup::new();
        if let Some(limit) = limit {
            group.set_limit(limit);
        }
        for (id, &(kind, yields)) in tasks.iter().enumerate() {
            group.spawn(task(id, kind, yields, log.clone()));
        }
        let ended = if all {
            drive(group.wait_all(), polls, Ended::Outcomes)
        } else {
            drive(group.wait(), polls, |r| match r {
                Ok(values) => Ended::Values(values),
                Err(e) => Ended::Error(e),
            })
        };
        let _ = std::panic::take_hook();

        let log = log.lock().unwrap();
        // Every task's future is gone, whatever happened.
        prop_assert_eq!(log.dropped, tasks.len());
        prop_assert_eq!(log.running, 0);
        if let Some(limit) = limit {
            prop_assert!(log.peak <= limit, "peak {} over limit {}", log.peak, limit);
        }
        // The outcome follows from the completion order.
        let first_failure = log.finished.iter().find(|(_, kind)| {
            *kind == Kind::Panic || (!all && *kind == Kind::Error)
        });
        match (&ended, first_failure) {
            (Ended::GaveUp, None) => {
                // Only possible if something was still pending when we gave up.
                prop_assert!(log.finished.len() < tasks.len());
            }
            (Ended::GaveUp, Some(_)) => prop_assert!(false, "a failure did not end the group"),
            (Ended::Panic(id), Some(&(first, Kind::Panic))) => prop_assert_eq!(*id, first),
            (Ended::Error(id), Some(&(first, Kind::Error))) => prop_assert_eq!(*id, first),
            (Ended::Values(values), None) => {
                prop_assert_eq!(values, &(0..tasks.len()).collect::<Vec<_>>());
            }
            (Ended::Outcomes(outcomes), None) => {
                let expected: Vec<_> = tasks
                    .iter()
                    .enumerate()
                    .map(|(id, (kind, _))| if *kind == Kind::Error { Err(id) } else { Ok(id) })
                    .collect();
                prop_assert_eq!(outcomes, &expected);
            }
            (ended, first) => prop_assert!(false, "ended {:?}, first failure {:?}", ended, first),
        }
        // A failure stops the group at once: nothing finishes after it (the local form drops
        // the rest in the same poll).
        if let Some(first) = first_failure {
            prop_assert_eq!(log.finished.last(), Some(first));
        }
    }
}

/// The parallel form on two threads, many rounds: an error racing completions and spawns.
/// Every run returns the error, and every future is dropped by the time `wait()` returns.
#[cfg_attr(miri, ignore)]
#[test]
fn parallel_error_racing_completions_on_two_threads() {
    let pool = futures::executor::ThreadPool::builder()
        .pool_size(2)
        .create()
        .unwrap();
    let dropped = Rc::new(RefCell::new(0)); // touched only on this thread
    for round in 0..500 {
        let log = Arc::new(Mutex::new(Log::default()));
        let spawn_pool = pool.clone();
        let mut group = ErrGroup::with_spawner(move |f| spawn_pool.spawn_ok(f));
        let failing = round % 16;
        for id in 0..16 {
            let kind = if id == failing {
                Kind::Error
            } else if id % 3 == 0 {
                Kind::Forever
            } else {
                Kind::Value
            };
            group.spawn(task(id, kind, id % 3, log.clone()));
        }
        let result = futures::executor::block_on(group.wait());
        assert_eq!(result, Err(failing));
        let log = log.lock().unwrap();
        assert_eq!(log.dropped, 16, "round {round}: a task outlived wait()");
        *dropped.borrow_mut() += log.dropped;
    }
    assert_eq!(*dropped.borrow(), 500 * 16);
}
