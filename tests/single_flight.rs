//! `SingleFlight` scenarios on every runtime, and wakers that fight back.
#![cfg(not(loom))]

mod common;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use common::{yield_now, Runtime};
use futures::channel::oneshot;
use futures::{poll, FutureExt};
use taskgroup::{AsyncWaitGroup, SingleFlight, TimeoutExt};

/// Counts a future's first poll in `joined` once that poll returned: from then on the call has
/// either led (its work is running) or joined the flight.
async fn counting_first_poll<F: Future>(fut: F, joined: &AtomicUsize) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut first = true;
    std::future::poll_fn(|cx| {
        let polled = fut.as_mut().poll(cx);
        if std::mem::take(&mut first) {
            joined.fetch_add(1, Ordering::SeqCst);
        }
        polled
    })
    .await
}

/// Yields until `counter` reaches `n`.
async fn until(counter: &AtomicUsize, n: usize) {
    while counter.load(Ordering::SeqCst) < n {
        yield_now().await;
    }
}

/// Spawns `fut` on `R` and returns a receiver of its output.
fn spawn<R: Runtime, T: Send + 'static>(
    fut: impl Future<Output = T> + Send + 'static,
) -> oneshot::Receiver<T> {
    let (tx, rx) = oneshot::channel();
    R::spawn(Box::pin(async move {
        let _ = tx.send(fut.await);
    }));
    rx
}

const CALLERS: usize = 32;

fn concurrent_callers_share_one_execution<R: Runtime>() {
    R::block_on(async {
        let group = Arc::new(SingleFlight::<&'static str, String>::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let joined = Arc::new(AtomicUsize::new(0));
        let answers: Vec<_> = (0..CALLERS)
            .map(|_| {
                let (group, runs, joined) = (group.clone(), runs.clone(), joined.clone());
                spawn::<R, _>(async move {
                    let call = group.run("user:7", || async {
                        runs.fetch_add(1, Ordering::SeqCst);
                        until(&joined, CALLERS).await; // every caller is in the flight
                        "profile".to_owned()
                    });
                    counting_first_poll(call, &joined).await
                })
            })
            .collect();
        for answer in answers {
            assert_eq!(answer.await.unwrap(), "profile");
        }
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "one execution for all callers"
        );
        assert_eq!(group.in_flight(), 0);
    });
}

fn distinct_keys_run_in_parallel<R: Runtime>() {
    R::block_on(async {
        const KEYS: usize = 8;
        let group = Arc::new(SingleFlight::new());
        // A barrier: each key's work finishes only once every key's work has started.
        let started = AsyncWaitGroup::new();
        started.add(KEYS);
        let answers: Vec<_> = (0..KEYS)
            .map(|key| {
                let (group, started) = (group.clone(), started.clone());
                spawn::<R, _>(async move {
                    group
                        .run(key, || async {
                            started.done();
                            started.wait().await;
                            key * 2
                        })
                        .await
                })
            })
            .collect();
        for (key, answer) in answers.into_iter().enumerate() {
            assert_eq!(answer.await.unwrap(), key * 2);
        }
        assert_eq!(group.in_flight(), 0);
    });
}

fn sequential_calls_run_again<R: Runtime>() {
    R::block_on(async {
        let group = SingleFlight::new();
        let runs = AtomicUsize::new(0);
        for round in 1..=3 {
            let got = group
                .run("k", || async { runs.fetch_add(1, Ordering::SeqCst) + 1 })
                .await;
            assert_eq!(got, round, "nothing is cached once a flight ended");
            assert_eq!(group.in_flight(), 0);
        }
    });
}

fn forget_starts_a_new_flight<R: Runtime>() {
    R::block_on(async {
        let group = SingleFlight::new();
        let (open, gate) = oneshot::channel::<()>();
        let mut old = Box::pin(group.run("token", || async {
            gate.await.unwrap();
            1
        }));
        let mut joined_old = Box::pin(group.run("token", || async { 0 }));
        assert!(poll!(old.as_mut()).is_pending());
        assert!(poll!(joined_old.as_mut()).is_pending());
        assert_eq!(group.in_flight(), 1);
        group.forget(&"token");
        assert_eq!(group.in_flight(), 0, "a forgotten flight no longer counts");
        // A later call leads a new flight instead of waiting for the old one.
        assert_eq!(group.run("token", || async { 2 }).await, 2);
        open.send(()).unwrap();
        assert_eq!(old.await, 1);
        assert_eq!(
            joined_old.await,
            1,
            "a caller already waiting keeps its flight"
        );
        assert_eq!(group.in_flight(), 0);
    });
}

fn leader_dropped_by_a_timeout_hands_the_work_over<R: Runtime>() {
    R::block_on(async {
        let group = Arc::new(SingleFlight::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let work = |value: u32| {
            let runs = runs.clone();
            move || async move {
                runs.fetch_add(1, Ordering::SeqCst);
                if value == 0 {
                    futures::future::pending::<()>().await; // a hung backend
                }
                value
            }
        };
        let mut leader = Box::pin(group.run("k", work(0)).timeout(Duration::from_millis(20)));
        assert!(poll!(leader.as_mut()).is_pending());
        let mut waiter = Box::pin(group.run("k", work(7)));
        assert!(poll!(waiter.as_mut()).is_pending());
        assert!(leader.await.is_err(), "the leader timed out");
        assert_eq!(waiter.await, 7, "the waiter took over with its own work");
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(group.in_flight(), 0);
    });
}

fn leader_dropped_by_hand_hands_the_work_to_the_longest_waiter<R: Runtime>() {
    R::block_on(async {
        let group = SingleFlight::new();
        let (open, gate) = oneshot::channel::<()>();
        let mut leader = Box::pin(group.run(1, futures::future::pending::<u32>));
        let mut first = Box::pin(group.run(1, || async {
            gate.await.unwrap();
            11
        }));
        let mut second = Box::pin(group.run(1, || async { 22 }));
        assert!(poll!(leader.as_mut()).is_pending());
        assert!(poll!(first.as_mut()).is_pending());
        assert!(poll!(second.as_mut()).is_pending());
        drop(leader);
        assert!(
            poll!(first.as_mut()).is_pending(),
            "took over, waits on its gate"
        );
        assert!(poll!(second.as_mut()).is_pending(), "waits for the first");
        assert_eq!(group.in_flight(), 1);
        open.send(()).unwrap();
        let (a, b) = futures::join!(first, second);
        assert_eq!((a, b), (11, 11));
        assert_eq!(group.in_flight(), 0);
    });
}

fn leader_panic_resumes_in_the_leader_and_a_waiter_takes_over<R: Runtime>() {
    R::block_on(async {
        let group = SingleFlight::new();
        let mut leader = Box::pin(
            AssertUnwindSafe(group.run(1, || async {
                yield_now().await;
                panic!("backend exploded");
            }))
            .catch_unwind(),
        );
        let mut waiter = Box::pin(group.run(1, || async { 5 }));
        assert!(poll!(leader.as_mut()).is_pending());
        assert!(poll!(waiter.as_mut()).is_pending());
        let payload = leader.await.expect_err("the panic resumes in the leader");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"backend exploded"));
        assert_eq!(waiter.await, 5, "a waiter took over; no made-up value");

        // A panic in `f` itself, in a waiter that took over: it resumes there, and the next
        // waiter takes over in turn.
        let mut leader = Box::pin(group.run(2, futures::future::pending::<u32>));
        let mut first = Box::pin(
            AssertUnwindSafe(group.run(2, || -> std::future::Ready<u32> { panic!("in f") }))
                .catch_unwind(),
        );
        let mut second = Box::pin(group.run(2, || async { 6 }));
        assert!(poll!(leader.as_mut()).is_pending());
        assert!(poll!(first.as_mut()).is_pending());
        assert!(poll!(second.as_mut()).is_pending());
        drop(leader);
        let payload = first
            .await
            .expect_err("f's panic resumes in the caller that ran it");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"in f"));
        assert_eq!(second.await, 6);
        assert_eq!(group.in_flight(), 0);
    });
}

fn result_outputs_are_shared<R: Runtime>() {
    R::block_on(async {
        let group = Arc::new(SingleFlight::<u8, Result<u32, Arc<String>>>::new());
        let joined = Arc::new(AtomicUsize::new(0));
        let calls: Vec<_> = (0..5)
            .map(|_| {
                let (group, joined) = (group.clone(), joined.clone());
                spawn::<R, _>(async move {
                    let call = group.run(0, || async {
                        until(&joined, 5).await;
                        Err(Arc::new("upstream 503".to_owned()))
                    });
                    counting_first_poll(call, &joined).await
                })
            })
            .collect();
        let mut errors = Vec::new();
        for call in calls {
            errors.push(call.await.unwrap().unwrap_err());
        }
        assert!(
            errors.iter().all(|e| Arc::ptr_eq(e, &errors[0])),
            "every caller got the one error the one execution produced"
        );
        assert_eq!(*errors[0], "upstream 503");
    });
}

fn dropped_waiters_lose_nothing<R: Runtime>() {
    R::block_on(async {
        let group = SingleFlight::new();
        let (open, gate) = oneshot::channel::<()>();
        let mut leader = Box::pin(group.run("k", || async {
            gate.await.unwrap();
            9
        }));
        assert!(poll!(leader.as_mut()).is_pending());
        let mut waiters: Vec<_> = (0..4)
            .map(|_| Box::pin(group.run("k", || async { unreachable!("the leader finishes") })))
            .collect();
        for w in &mut waiters {
            assert!(poll!(w.as_mut()).is_pending());
        }
        drop(waiters.remove(1));
        drop(waiters.remove(2));
        open.send(()).unwrap();
        assert_eq!(leader.await, 9);
        // A waiter dropped after the output came, without taking its copy.
        drop(waiters.pop());
        assert_eq!(waiters.pop().unwrap().await, 9);
        assert_eq!(group.in_flight(), 0);
    });
}

fn in_flight_goes_back_to_zero<R: Runtime>() {
    R::block_on(async {
        let group = SingleFlight::new();
        let mut calls: Vec<_> = (0..6u32)
            .map(|i| Box::pin(group.run(i % 3, futures::future::pending::<u32>)))
            .collect();
        for c in &mut calls {
            assert!(poll!(c.as_mut()).is_pending());
        }
        assert_eq!(group.in_flight(), 3);
        // Drop the leaders: the waiters take over, the keys stay in flight.
        for c in calls.drain(..3) {
            drop(c);
        }
        for c in &mut calls {
            assert!(poll!(c.as_mut()).is_pending());
        }
        assert_eq!(group.in_flight(), 3);
        calls.clear();
        assert_eq!(group.in_flight(), 0);
        assert_eq!(format!("{group:?}"), "SingleFlight { in_flight: 0 }");
    });
}

runtime_tests!(
    concurrent_callers_share_one_execution,
    distinct_keys_run_in_parallel,
    sequential_calls_run_again,
    forget_starts_a_new_flight,
    #[cfg_attr(miri, ignore)] // a timer
    leader_dropped_by_a_timeout_hands_the_work_over,
    leader_dropped_by_hand_hands_the_work_to_the_longest_waiter,
    leader_panic_resumes_in_the_leader_and_a_waiter_takes_over,
    result_outputs_are_shared,
    dropped_waiters_lose_nothing,
    in_flight_goes_back_to_zero,
);

// ---------------------------------------------------------------------------------------------
// Hostile wakers
// ---------------------------------------------------------------------------------------------

/// Runs `f` on its own thread and fails if it has not finished within 10 s (a deadlock).
fn no_deadlock(f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let body = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    let limit = Duration::from_secs(if cfg!(miri) { 3600 } else { 10 });
    match rx.recv_timeout(limit) {
        Ok(()) | Err(RecvTimeoutError::Disconnected) => {
            if let Err(payload) = body.join() {
                std::panic::resume_unwind(payload);
            }
        }
        Err(RecvTimeoutError::Timeout) => panic!("deadlocked"),
    }
}

type Call = Pin<Box<dyn Future<Output = u32> + Send>>;

/// A caller whose waker polls it inline (`Inline`) or drops it (`Drop`) when woken.
struct Hostile {
    call: Mutex<Option<Call>>,
    output: Mutex<Option<u32>>,
    drops_on_wake: bool,
    woken: AtomicUsize,
}

impl Hostile {
    fn new(call: Call, drops_on_wake: bool) -> Arc<Self> {
        Arc::new(Self {
            call: Mutex::new(Some(call)),
            output: Mutex::new(None),
            drops_on_wake,
            woken: AtomicUsize::new(0),
        })
    }

    fn poll(self: &Arc<Self>) {
        let waker = Waker::from(self.clone());
        let mut slot = self.call.lock().unwrap();
        if let Some(call) = slot.as_mut() {
            if let Poll::Ready(v) = call.as_mut().poll(&mut Context::from_waker(&waker)) {
                *slot = None;
                *self.output.lock().unwrap() = Some(v);
            }
        }
    }
}

impl Wake for Hostile {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.fetch_add(1, Ordering::SeqCst);
        if self.drops_on_wake {
            let call = self.call.lock().unwrap().take();
            drop(call); // re-enters the group: a waiter leaving, a promoted one handing over
        } else {
            self.poll(); // re-enters the group: takes the output, or takes over and leads
        }
    }
}

fn leaked_group() -> &'static SingleFlight<u32, u32> {
    Box::leak(Box::new(SingleFlight::new()))
}

#[test]
fn wakers_that_poll_inline_take_the_output_and_take_over_without_deadlock() {
    no_deadlock(|| {
        let group = leaked_group();
        let (open, gate) = oneshot::channel::<()>();
        let mut leader: Call = Box::pin(group.run(1, futures::future::pending));
        assert!(leader
            .as_mut()
            .poll(&mut Context::from_waker(futures::task::noop_waker_ref()))
            .is_pending());
        let first = Hostile::new(
            Box::pin(group.run(1, || async {
                gate.await.unwrap();
                11
            })),
            false,
        );
        let second = Hostile::new(Box::pin(group.run(1, || async { 22 })), false);
        first.poll();
        second.poll();
        drop(leader); // wakes `first`, which polls inline: takes over, waits on its gate
        assert_eq!(first.woken.load(Ordering::SeqCst), 1);
        open.send(()).unwrap(); // wakes `first`'s task: it finishes and wakes `second` inline
        assert_eq!(*first.output.lock().unwrap(), Some(11));
        assert_eq!(*second.output.lock().unwrap(), Some(11));
        assert_eq!(group.in_flight(), 0);
    });
}

#[test]
fn wakers_that_drop_their_call_pass_the_turn_on_without_deadlock() {
    no_deadlock(|| {
        let group = leaked_group();
        let mut leader: Call = Box::pin(group.run(1, futures::future::pending));
        assert!(leader
            .as_mut()
            .poll(&mut Context::from_waker(futures::task::noop_waker_ref()))
            .is_pending());
        let waiters: Vec<_> = (0..3)
            .map(|_| Hostile::new(Box::pin(group.run(1, || async { 1 })), true))
            .collect();
        for w in &waiters {
            w.poll();
        }
        // Each promoted waiter drops itself when woken, which promotes the next: a chain of
        // re-entrant hand-overs, ending with nobody left and the flight gone.
        drop(leader);
        for w in &waiters {
            assert_eq!(w.woken.load(Ordering::SeqCst), 1);
            assert!(w.call.lock().unwrap().is_none());
        }
        assert_eq!(group.in_flight(), 0);
    });
}

/// A waker whose drop re-enters the group.
struct ForgetsOnDrop(&'static SingleFlight<u32, u32>);

impl Wake for ForgetsOnDrop {
    fn wake(self: Arc<Self>) {}
}

impl Drop for ForgetsOnDrop {
    fn drop(&mut self) {
        self.0.forget(&1);
        let _ = self.0.in_flight();
    }
}

#[test]
fn a_replaced_or_dropped_waker_may_reenter_the_group() {
    no_deadlock(|| {
        let group = leaked_group();
        let noop = futures::task::noop_waker_ref();
        let mut cx = Context::from_waker(noop);
        let mut leader: Call = Box::pin(group.run(1, futures::future::pending));
        let mut waiter: Call = Box::pin(group.run(1, || async { 4 }));
        assert!(leader.as_mut().poll(&mut cx).is_pending());
        let hostile = Waker::from(Arc::new(ForgetsOnDrop(group)));
        assert!(waiter
            .as_mut()
            .poll(&mut Context::from_waker(&hostile))
            .is_pending());
        drop(hostile); // the flight holds the last clone
                       // Replaced: the old waker's drop forgets the key, after the flight's lock is released.
        assert!(waiter.as_mut().poll(&mut cx).is_pending());
        assert_eq!(group.in_flight(), 0);
        drop(leader); // hands over to `waiter`
        assert_eq!(waiter.as_mut().poll(&mut cx), Poll::Ready(4));

        // Woken (and so dropped) at the end of a flight: forgets after the locks are released.
        let (open, gate) = oneshot::channel::<()>();
        let mut leader: Call = Box::pin(group.run(1, || async {
            gate.await.unwrap();
            3
        }));
        let mut other: Call = Box::pin(group.run(1, || async { 5 }));
        assert!(leader.as_mut().poll(&mut cx).is_pending());
        let hostile = Waker::from(Arc::new(ForgetsOnDrop(group)));
        assert!(other
            .as_mut()
            .poll(&mut Context::from_waker(&hostile))
            .is_pending());
        drop(hostile);
        open.send(()).unwrap();
        assert_eq!(leader.as_mut().poll(&mut cx), Poll::Ready(3));
        assert_eq!(other.as_mut().poll(&mut cx), Poll::Ready(3));
        assert_eq!(group.in_flight(), 0);
    });
}
