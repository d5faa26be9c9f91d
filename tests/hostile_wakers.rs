//! Regression tests for wakers that fight back: wakers that own permits or guards, wakers that
//! call back into the primitive that is waking them, futures polled after they finished, and a
//! few arithmetic edge cases. Every future is polled by hand with a purpose-built waker; a test
//! that could deadlock runs its body on a thread and fails after 10 s instead of hanging.
#![cfg(not(loom))]

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use futures::task::noop_waker_ref;
use taskgroup::{
    AcquireError, AsyncWaitGroup, CancelToken, OwnedSemaphorePermit, RateLimiter, Semaphore,
    TimeoutExt, TryAcquireError, WaitGroupGuard,
};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// How long a test body may take before it counts as deadlocked. Miri is far slower, and
/// reports a deadlock on its own.
const DEADLOCK_AFTER: Duration = Duration::from_secs(if cfg!(miri) { 3600 } else { 10 });

/// Runs `f` on its own thread and fails the test if it has not finished within
/// [`DEADLOCK_AFTER`]; a panic inside `f` is propagated with its original payload.
fn no_deadlock(name: &str, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let body = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            f();
            let _ = tx.send(());
        })
        .expect("spawn the test body");
    match rx.recv_timeout(DEADLOCK_AFTER) {
        Ok(()) | Err(RecvTimeoutError::Disconnected) => {
            if let Err(payload) = body.join() {
                std::panic::resume_unwind(payload);
            }
        }
        Err(RecvTimeoutError::Timeout) => {
            panic!("deadlocked: {name} did not finish within {DEADLOCK_AFTER:?}")
        }
    }
}

/// A waker that only counts its wake-ups.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl CountingWaker {
    fn wakes(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn poll_noop<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(noop_waker_ref()))
}

/// The message of a panic payload, whether it was a `&str` or a `String`.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("<non-string panic payload>")
}

/// What a [`Driver`] does with its future when it is woken.
#[derive(Clone, Copy)]
enum OnWake {
    /// Polls the future right there, inside `wake`, with the same waker (an inline executor).
    PollInline,
    /// Drops the future right there, inside `wake` (a task cancelled by its own wake-up).
    DropFuture,
}

/// A waker that owns the future it wakes and, inside `wake`, takes the future's lock-protected
/// slot and re-polls or drops it: the wake-up calls straight back into the primitive.
struct Driver<F> {
    slot: Mutex<Option<Pin<Box<F>>>>,
    on_wake: OnWake,
    wakes: AtomicUsize,
    completed_inline: AtomicBool,
}

impl<F: Future<Output = ()> + Send + 'static> Driver<F> {
    /// Polls `fut` once with the driver's waker (it must be pending) and parks it in the slot.
    fn start(fut: F, on_wake: OnWake) -> Arc<Self> {
        let driver = Arc::new(Self {
            slot: Mutex::new(Some(Box::pin(fut))),
            on_wake,
            wakes: AtomicUsize::new(0),
            completed_inline: AtomicBool::new(false),
        });
        let waker = Waker::from(driver.clone());
        let mut slot = driver.slot.lock().unwrap();
        let fut = slot.as_mut().expect("just stored");
        assert!(
            fut.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending(),
            "the future must wait before the hostile wake-up"
        );
        drop(slot);
        driver
    }

    fn wakes(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }

    /// The future was woken, and it completes: inside the wake-up, or at the next poll.
    fn assert_completes(&self) {
        assert!(self.wakes() >= 1, "the waiting future was never woken");
        if self.completed_inline.load(Ordering::SeqCst) {
            return;
        }
        let mut slot = self.slot.lock().unwrap();
        let fut = slot.as_mut().expect("only PollInline drivers complete");
        assert!(
            poll_noop(fut.as_mut()).is_ready(),
            "the future was woken but is not ready"
        );
    }

    /// The future was woken and dropped inside the wake-up.
    fn assert_dropped(&self) {
        assert!(self.wakes() >= 1, "the waiting future was never woken");
        assert!(
            self.slot.lock().unwrap().is_none(),
            "the waker did not drop the future"
        );
    }
}

impl<F: Future<Output = ()> + Send + 'static> Wake for Driver<F> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        let mut slot = self.slot.lock().unwrap();
        match self.on_wake {
            OnWake::PollInline => {
                let waker = Waker::from(self.clone());
                if let Some(fut) = slot.as_mut() {
                    if fut
                        .as_mut()
                        .poll(&mut Context::from_waker(&waker))
                        .is_ready()
                    {
                        *slot = None;
                        self.completed_inline.store(true, Ordering::SeqCst);
                    }
                }
            }
            OnWake::DropFuture => *slot = None,
        }
    }
}

/// A `'static` wait group, so that its `wait()` future can live inside a waker.
fn leaked_wait_group() -> &'static AsyncWaitGroup {
    Box::leak(Box::new(AsyncWaitGroup::new()))
}

/// A `'static` token, so that its `cancelled()` future can live inside a waker.
fn leaked_token(token: CancelToken) -> &'static CancelToken {
    Box::leak(Box::new(token))
}

// ---------------------------------------------------------------------------------------------
// 1. Semaphore: wakers dropped or woken around the queue lock
// ---------------------------------------------------------------------------------------------

/// A waker that does nothing when woken but gives back a permit when it is dropped.
struct HoldsPermit(#[allow(dead_code)] OwnedSemaphorePermit);

impl Wake for HoldsPermit {
    fn wake(self: Arc<Self>) {}
}

/// A waker that, when woken, calls back into the semaphore and gives back a permit it owns.
struct ReentersOnWake {
    sem: Arc<Semaphore>,
    owned: Mutex<Option<OwnedSemaphorePermit>>,
    wakes: AtomicUsize,
}

impl ReentersOnWake {
    /// Takes one of the semaphore's permits to hold until woken.
    fn new(sem: &Arc<Semaphore>) -> Arc<Self> {
        Arc::new(Self {
            sem: sem.clone(),
            owned: Mutex::new(Some(sem.clone().try_acquire_owned().unwrap())),
            wakes: AtomicUsize::new(0),
        })
    }
}

impl Wake for ReentersOnWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        let _ = self.sem.available_permits();
        self.sem.add_permits(0);
        drop(self.sem.try_acquire());
        let permit = self.owned.lock().unwrap().take();
        drop(permit);
    }
}

/// tokio #5429: re-registering a queued acquire drops the old waker under the queue lock; if
/// that waker owned a permit, its release took the same lock (deadlock).
#[test]
fn a_waker_dropped_while_re_registering_gives_its_permit_to_the_waiter() {
    no_deadlock(
        "a_waker_dropped_while_re_registering_gives_its_permit_to_the_waiter",
        || {
            let sem = Arc::new(Semaphore::new(1));
            let w = Waker::from(Arc::new(HoldsPermit(
                sem.clone().try_acquire_owned().unwrap(),
            )));
            let mut acq = Box::pin(sem.acquire());
            assert!(acq.as_mut().poll(&mut Context::from_waker(&w)).is_pending());
            drop(w); // the queue now holds the only handle to the permit-owning waker

            let new_waker = Arc::new(CountingWaker::default());
            let polled = acq
                .as_mut()
                .poll(&mut Context::from_waker(&Waker::from(new_waker.clone())));
            let permit = match polled {
                Poll::Ready(granted) => granted.expect("the returned permit is granted"),
                Poll::Pending => {
                    assert!(
                        new_waker.wakes() >= 1,
                        "the permit came back during the poll, but the waiter was not woken"
                    );
                    match poll_noop(acq.as_mut()) {
                        Poll::Ready(granted) => granted.expect("the returned permit is granted"),
                        Poll::Pending => panic!("woken, yet the permit was not granted"),
                    }
                }
            };
            assert_eq!(permit.num_permits(), 1);
            assert_eq!(sem.available_permits(), 0);
            drop(permit);
            assert_eq!(sem.available_permits(), 1);
        },
    );
}

/// tokio #5429, cancel path: dropping a queued acquire drops its waker under the queue lock; a
/// waker owning a permit deadlocked on its release.
#[test]
fn a_waker_dropped_with_its_cancelled_acquire_returns_its_permit() {
    no_deadlock(
        "a_waker_dropped_with_its_cancelled_acquire_returns_its_permit",
        || {
            let sem = Arc::new(Semaphore::new(1));
            let w = Waker::from(Arc::new(HoldsPermit(
                sem.clone().try_acquire_owned().unwrap(),
            )));
            let mut acq = Box::pin(sem.acquire());
            assert!(acq.as_mut().poll(&mut Context::from_waker(&w)).is_pending());
            drop(w);
            drop(acq);
            assert_eq!(sem.available_permits(), 1);
            drop(sem.try_acquire().expect("the permit is free again"));
        },
    );
}

/// A waker woken by a release that calls back into the semaphore (and returns a permit of its
/// own) must not find the queue lock still held.
#[test]
fn a_waker_that_re_enters_the_semaphore_when_woken_by_a_release_does_not_deadlock() {
    no_deadlock(
        "a_waker_that_re_enters_the_semaphore_when_woken_by_a_release_does_not_deadlock",
        || {
            let sem = Arc::new(Semaphore::new(2));
            let hostile = ReentersOnWake::new(&sem);
            let held = sem.try_acquire().unwrap();
            let mut acq = Box::pin(sem.acquire());
            let waker = Waker::from(hostile.clone());
            assert!(acq
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending());
            drop(waker);
            drop(held); // granted to `acq`, whose waker re-enters and returns its own permit
            assert_eq!(hostile.wakes.load(Ordering::SeqCst), 1);
            let permit = match poll_noop(acq.as_mut()) {
                Poll::Ready(granted) => granted.unwrap(),
                Poll::Pending => panic!("woken by the release, yet not granted"),
            };
            assert_eq!(sem.available_permits(), 1, "the waker's permit came back");
            drop(permit);
            assert_eq!(sem.available_permits(), 2);
        },
    );
}

/// A queued acquire failed by `close()` wakes a waker that re-enters the semaphore and returns
/// a permit: no deadlock, the acquire fails with `Closed`, and no permit is lost.
#[test]
fn a_waker_that_re_enters_the_semaphore_when_woken_by_close_does_not_deadlock() {
    no_deadlock(
        "a_waker_that_re_enters_the_semaphore_when_woken_by_close_does_not_deadlock",
        || {
            let sem = Arc::new(Semaphore::new(1));
            let hostile = ReentersOnWake::new(&sem); // holds the only permit
            let mut acq = Box::pin(sem.acquire());
            let waker = Waker::from(hostile.clone());
            assert!(acq
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending());
            drop(waker);
            sem.close();
            assert_eq!(hostile.wakes.load(Ordering::SeqCst), 1);
            assert!(matches!(
                poll_noop(acq.as_mut()),
                Poll::Ready(Err(AcquireError::Closed))
            ));
            assert_eq!(sem.available_permits(), 1, "the waker's permit came back");
        },
    );
}

/// A queued acquire refused by a shrink (`TooLarge`) wakes a waker that re-enters the semaphore
/// and returns a permit: no deadlock, the permit pays the shrink's debt.
#[test]
fn a_waker_that_re_enters_the_semaphore_when_refused_by_a_shrink_does_not_deadlock() {
    no_deadlock(
        "a_waker_that_re_enters_the_semaphore_when_refused_by_a_shrink_does_not_deadlock",
        || {
            let sem = Arc::new(Semaphore::new(3));
            let hostile = ReentersOnWake::new(&sem);
            let held = sem.try_acquire_many(2).unwrap();
            let mut acq = Box::pin(sem.acquire_many(3));
            let waker = Waker::from(hostile.clone());
            assert!(acq
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending());
            drop(waker);
            sem.resize(2);
            assert_eq!(hostile.wakes.load(Ordering::SeqCst), 1);
            assert!(matches!(
                poll_noop(acq.as_mut()),
                Poll::Ready(Err(AcquireError::TooLarge {
                    requested: 3,
                    total: 2
                }))
            ));
            assert_eq!(
                sem.available_permits(),
                0,
                "the waker's permit paid the debt"
            );
            drop(held);
            assert_eq!(sem.available_permits(), 2);
        },
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Wake-ups issued under the listener list's lock (AsyncWaitGroup, CancelToken)
// ---------------------------------------------------------------------------------------------

/// `done()` woke waiters under the listener list's lock; a waker that polls its task inline
/// (which unregisters the listener) took the same lock.
#[test]
fn a_wait_re_polled_inline_by_its_waker_completes_when_done_wakes_it() {
    no_deadlock(
        "a_wait_re_polled_inline_by_its_waker_completes_when_done_wakes_it",
        || {
            let wg = leaked_wait_group();
            wg.add(1);
            let driver = Driver::start(wg.wait(), OnWake::PollInline);
            wg.done();
            driver.assert_completes();
            assert_eq!(wg.count(), 0);
        },
    );
}

/// `done()` woke waiters under the listener list's lock; a waker that drops the `Wait` inline
/// (which removes its listener) took the same lock.
#[test]
fn a_wait_dropped_inline_by_its_waker_does_not_deadlock_done() {
    no_deadlock(
        "a_wait_dropped_inline_by_its_waker_does_not_deadlock_done",
        || {
            let wg = leaked_wait_group();
            wg.add(1);
            let driver = Driver::start(wg.wait(), OnWake::DropFuture);
            wg.done();
            driver.assert_dropped();
            assert_eq!(wg.count(), 0);
            assert!(poll_noop(std::pin::pin!(wg.wait())).is_ready());
        },
    );
}

/// A waker that owns a `WaitGroupGuard` and does nothing when woken.
struct DoneOnDrop(#[allow(dead_code)] WaitGroupGuard);

impl Wake for DoneOnDrop {
    fn wake(self: Arc<Self>) {}
}

/// Re-polling a `Wait` with a new waker replaced the old one under the listener list's lock;
/// an old waker whose drop calls `done()` (it owns a guard) notified under that same lock.
#[test]
fn a_replaced_waker_whose_drop_calls_done_does_not_deadlock_the_wait() {
    no_deadlock(
        "a_replaced_waker_whose_drop_calls_done_does_not_deadlock_the_wait",
        || {
            let wg = AsyncWaitGroup::new();
            let old = Waker::from(Arc::new(DoneOnDrop(wg.guard())));
            let mut wait = std::pin::pin!(wg.wait());
            assert!(wait
                .as_mut()
                .poll(&mut Context::from_waker(&old))
                .is_pending());
            drop(old); // the listener holds the last handle, and so the guard

            let new = Arc::new(CountingWaker::default());
            let new_waker = Waker::from(new.clone());
            let first = wait.as_mut().poll(&mut Context::from_waker(&new_waker));
            assert_eq!(wg.count(), 0, "the replaced waker's guard was dropped");
            assert!(
                first.is_ready() || new.wakes() >= 1,
                "the count reached zero, but the waiter was neither ready nor woken"
            );
            assert!(wait
                .as_mut()
                .poll(&mut Context::from_waker(&new_waker))
                .is_ready());
        },
    );
}

/// `cancel()` woke waiters under the listener list's lock; a waker that polls its
/// `cancelled()` future inline took the same lock.
#[test]
fn a_cancelled_future_re_polled_inline_by_its_waker_completes_on_cancel() {
    no_deadlock(
        "a_cancelled_future_re_polled_inline_by_its_waker_completes_on_cancel",
        || {
            let token = leaked_token(CancelToken::new());
            let driver = Driver::start(token.cancelled(), OnWake::PollInline);
            token.cancel();
            driver.assert_completes();
            assert!(token.is_cancelled());
        },
    );
}

/// `cancel()` woke waiters under the listener list's lock; a waker that drops its
/// `cancelled()` future inline took the same lock.
#[test]
fn a_cancelled_future_dropped_inline_by_its_waker_does_not_deadlock_cancel() {
    no_deadlock(
        "a_cancelled_future_dropped_inline_by_its_waker_does_not_deadlock_cancel",
        || {
            let token = leaked_token(CancelToken::new());
            let driver = Driver::start(token.cancelled(), OnWake::DropFuture);
            token.cancel();
            driver.assert_dropped();
            assert!(token.is_cancelled());
        },
    );
}

/// The same inline re-poll on a child token's `cancelled()`, fired through its parent.
#[test]
fn a_child_tokens_cancelled_future_re_polled_inline_completes_when_the_parent_is_cancelled() {
    no_deadlock(
        "a_child_tokens_cancelled_future_re_polled_inline_completes_when_the_parent_is_cancelled",
        || {
            let parent = CancelToken::new();
            let child = leaked_token(parent.child_token());
            let driver = Driver::start(child.cancelled(), OnWake::PollInline);
            parent.cancel();
            driver.assert_completes();
            assert!(child.is_cancelled());
        },
    );
}

/// The same inline drop on a child token's `cancelled()`, fired through its parent.
#[test]
fn a_child_tokens_cancelled_future_dropped_inline_does_not_deadlock_the_parents_cancel() {
    no_deadlock(
        "a_child_tokens_cancelled_future_dropped_inline_does_not_deadlock_the_parents_cancel",
        || {
            let parent = CancelToken::new();
            let child = leaked_token(parent.child_token());
            let driver = Driver::start(child.cancelled(), OnWake::DropFuture);
            parent.cancel();
            driver.assert_dropped();
            assert!(child.is_cancelled());
        },
    );
}

/// A waker that cancels a token when it is dropped, and does nothing when woken.
struct CancelsOnDrop(CancelToken);

impl Drop for CancelsOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl Wake for CancelsOnDrop {
    fn wake(self: Arc<Self>) {}
}

/// Re-polls `fut` (pending, registered with a `CancelsOnDrop` waker for `fires`) with a new
/// waker; the replaced waker's drop fires the token, which must not deadlock and must complete
/// `fut`.
fn replace_a_waker_that_cancels_on_drop(
    fires: &CancelToken,
    watched: &CancelToken,
    fut: Pin<&mut taskgroup::futures::Cancelled<'_>>,
) {
    let mut fut = fut;
    let old = Waker::from(Arc::new(CancelsOnDrop(fires.clone())));
    assert!(fut
        .as_mut()
        .poll(&mut Context::from_waker(&old))
        .is_pending());
    drop(old); // the listener holds the last handle

    let new = Arc::new(CountingWaker::default());
    let new_waker = Waker::from(new.clone());
    let first = fut.as_mut().poll(&mut Context::from_waker(&new_waker));
    assert!(watched.is_cancelled(), "the replaced waker's drop fired it");
    assert!(
        first.is_ready() || new.wakes() >= 1,
        "the token fired, but the waiter was neither ready nor woken"
    );
    assert!(fut
        .as_mut()
        .poll(&mut Context::from_waker(&new_waker))
        .is_ready());
}

/// Re-polling `cancelled()` with a new waker dropped the old one under the listener list's
/// lock; an old waker whose drop calls `cancel()` notified under that same lock.
#[test]
fn a_replaced_waker_whose_drop_cancels_the_token_does_not_deadlock_its_cancelled_future() {
    no_deadlock(
        "a_replaced_waker_whose_drop_cancels_the_token_does_not_deadlock_its_cancelled_future",
        || {
            let token = CancelToken::new();
            let fut = std::pin::pin!(token.cancelled());
            replace_a_waker_that_cancels_on_drop(&token, &token, fut);
        },
    );
}

/// As above, for a child token's `cancelled()` whose replaced waker cancels the parent.
#[test]
fn a_replaced_waker_whose_drop_cancels_the_parent_does_not_deadlock_a_childs_cancelled_future() {
    no_deadlock(
        "a_replaced_waker_whose_drop_cancels_the_parent_does_not_deadlock_a_childs_cancelled_future",
        || {
            let parent = CancelToken::new();
            let child = parent.child_token();
            let fut = std::pin::pin!(child.cancelled());
            replace_a_waker_that_cancels_on_drop(&parent, &child, fut);
        },
    );
}

// ---------------------------------------------------------------------------------------------
// 3. AsyncWaitGroup: racing extra `done()` calls
// ---------------------------------------------------------------------------------------------

/// The only test in this file that touches the (process-global) panic hook.
mod racing_done {
    use super::*;

    const CALLS_PER_THREAD: usize = 200_000;
    const EXPECTED: &str = "more times than add()";

    /// Silences the expected panics (and only those) while `f` runs, then restores the hook.
    fn with_expected_panics_silenced(f: impl FnOnce()) {
        let previous = Arc::new(std::panic::take_hook());
        let forward = previous.clone();
        std::panic::set_hook(Box::new(move |info| {
            if !panic_message(info.payload()).contains(EXPECTED) {
                forward(info);
            }
        }));
        let outcome = catch_unwind(AssertUnwindSafe(f));
        drop(std::panic::take_hook()); // ours, which holds `forward`
        match Arc::try_unwrap(previous) {
            Ok(previous) => std::panic::set_hook(previous),
            Err(previous) => std::panic::set_hook(Box::new(move |info| previous(info))),
        }
        if let Err(payload) = outcome {
            std::panic::resume_unwind(payload);
        }
    }

    /// Two threads calling `done()` on a zero count at once: the first one's transient
    /// decrement let the second one's call pass without a panic, corrupting the count for good.
    #[test]
    #[cfg_attr(miri, ignore)] // 400 000 caught panics take minutes under Miri
    fn racing_extra_done_calls_all_panic_and_leave_the_count_at_zero() {
        no_deadlock(
            "racing_extra_done_calls_all_panic_and_leave_the_count_at_zero",
            || {
                with_expected_panics_silenced(|| {
                    let wg = AsyncWaitGroup::new();
                    let (panicked, expected_message) = std::thread::scope(|s| {
                        let threads: Vec<_> = (0..2)
                            .map(|_| {
                                s.spawn(|| {
                                    let (mut panicked, mut expected_message) = (0, 0);
                                    for _ in 0..CALLS_PER_THREAD {
                                        if let Err(payload) =
                                            catch_unwind(AssertUnwindSafe(|| wg.done()))
                                        {
                                            panicked += 1;
                                            if panic_message(&*payload).contains(EXPECTED) {
                                                expected_message += 1;
                                            }
                                        }
                                    }
                                    (panicked, expected_message)
                                })
                            })
                            .collect();
                        threads
                            .into_iter()
                            .map(|t| t.join().unwrap())
                            .fold((0, 0), |(p, e), (tp, te)| (p + tp, e + te))
                    });
                    assert_eq!(
                        panicked,
                        2 * CALLS_PER_THREAD,
                        "every done() on a zero count must panic"
                    );
                    assert_eq!(expected_message, 2 * CALLS_PER_THREAD);
                    assert_eq!(wg.count(), 0);
                    wg.add(1);
                    wg.done();
                    futures::executor::block_on(wg.wait());
                });
            },
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Named futures polled after completion
// ---------------------------------------------------------------------------------------------

// ErrGroupWait says "polled after it returned", RateAcquire "polled after it completed": the
// texts differ, so these tests assert only that a second poll panics and has no effect.

/// A finished `acquire()` polled again granted a second permit.
#[test]
fn an_acquire_polled_again_after_it_granted_a_permit_panics_instead_of_granting_another() {
    let sem = Semaphore::new(2);
    let mut acq = Box::pin(sem.acquire());
    let first = match poll_noop(acq.as_mut()) {
        Poll::Ready(granted) => granted.unwrap(),
        Poll::Pending => panic!("a free permit is granted at once"),
    };
    let second = catch_unwind(AssertUnwindSafe(|| poll_noop(acq.as_mut())));
    assert_eq!(
        sem.available_permits(),
        1,
        "the second poll took another permit"
    );
    assert!(second.is_err(), "a second poll after Ready must panic");
    drop(second);
    drop(first);
    drop(acq);
    assert_eq!(sem.available_permits(), 2);
}

/// A finished `acquire_owned()` polled again granted a second permit.
#[test]
fn an_acquire_owned_polled_again_after_it_granted_a_permit_panics_instead_of_granting_another() {
    let sem = Arc::new(Semaphore::new(2));
    let mut acq = Box::pin(sem.clone().acquire_owned());
    let first = match poll_noop(acq.as_mut()) {
        Poll::Ready(granted) => granted.unwrap(),
        Poll::Pending => panic!("a free permit is granted at once"),
    };
    let second = catch_unwind(AssertUnwindSafe(|| poll_noop(acq.as_mut())));
    assert_eq!(
        sem.available_permits(),
        1,
        "the second poll took another permit"
    );
    assert!(second.is_err(), "a second poll after Ready must panic");
    drop(second);
    drop(first);
    drop(acq);
    assert_eq!(sem.available_permits(), 2);
}

/// A queued acquire that was granted and returned its permit, polled again, queued up a second
/// time (and would have taken a second permit once one came free).
#[test]
fn a_granted_queued_acquire_polled_again_panics_instead_of_queueing_again() {
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let mut acq = Box::pin(sem.acquire());
    assert!(poll_noop(acq.as_mut()).is_pending());
    drop(held);
    let first = match poll_noop(acq.as_mut()) {
        Poll::Ready(granted) => granted.unwrap(),
        Poll::Pending => panic!("granted by the release"),
    };
    let second = catch_unwind(AssertUnwindSafe(|| poll_noop(acq.as_mut())));
    assert!(second.is_err(), "a second poll after Ready must panic");
    drop(second);
    drop(first);
    assert_eq!(sem.available_permits(), 1);
    assert!(
        sem.try_acquire().is_ok(),
        "nobody is queued: the finished acquire did not queue up again"
    );
}

/// A `.timeout()` that returned `Err(Elapsed)` polled again polled its inner future again.
#[test]
fn a_timeout_polled_again_after_it_elapsed_panics_without_polling_the_inner_future() {
    let inner_polls = Arc::new(AtomicUsize::new(0));
    let counted = inner_polls.clone();
    let never = std::future::poll_fn(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        Poll::<()>::Pending
    });
    let mut timeout = Box::pin(never.timeout(Duration::ZERO));
    let elapsed = futures::executor::block_on(timeout.as_mut());
    assert!(elapsed.is_err(), "a pending future times out");
    let polls = inner_polls.load(Ordering::SeqCst);
    let second = catch_unwind(AssertUnwindSafe(|| poll_noop(timeout.as_mut())));
    assert_eq!(
        inner_polls.load(Ordering::SeqCst),
        polls,
        "the inner future was polled after the timeout completed"
    );
    assert!(second.is_err(), "a second poll after Ready must panic");
}

/// Documents the current contract: `wait()` is idempotent, so a finished `Wait` polled again
/// is simply ready again (no panic).
#[test]
fn a_finished_wait_polled_again_stays_ready() {
    let wg = AsyncWaitGroup::new();
    wg.add(1);
    let mut wait = Box::pin(wg.wait());
    assert!(poll_noop(wait.as_mut()).is_pending());
    wg.done();
    assert!(poll_noop(wait.as_mut()).is_ready());
    assert!(poll_noop(wait.as_mut()).is_ready());
}

// ---------------------------------------------------------------------------------------------
// 5. RateLimiter: huge periods
// ---------------------------------------------------------------------------------------------

const ABOUT_A_YEAR: Duration = Duration::from_secs(364 * 24 * 3600);

/// `RateLimiter::new(1, Duration::MAX)` withheld its burst: its first slot was 438 years away.
/// A span the limiter's clock cannot hold is now refused at the call, with a message.
#[test]
fn a_rate_limiter_whose_burst_spans_more_than_its_clock_holds_is_refused_with_a_message() {
    let message = |f: fn()| {
        let err = std::panic::catch_unwind(f).expect_err("refused with a panic");
        err.downcast_ref::<String>().cloned().unwrap_or_default()
    };
    let msg = message(|| {
        let _ = RateLimiter::new(1, Duration::MAX);
    });
    assert!(msg.contains("MAX_SPAN"), "{msg}");
    let msg = message(|| {
        let _ = RateLimiter::new(1, Duration::from_secs(u64::MAX / 4)).with_burst(3);
    });
    assert!(msg.contains("MAX_SPAN"), "{msg}");
}

/// A burst that the clock can hold, however long, is granted in full at once.
#[test]
fn a_rate_limiter_with_a_huge_period_starts_with_its_full_burst_of_three() {
    let limiter = RateLimiter::new(1, RateLimiter::MAX_SPAN / 3).with_burst(3);
    let asked = Instant::now();
    for slot in 0..3 {
        assert!(
            limiter.try_acquire().is_ok(),
            "slot {slot} of the initial burst of 3 was withheld"
        );
    }
    let err = limiter.try_acquire().expect_err("the burst of 3 is spent");
    assert!(
        err.earliest() > asked + ABOUT_A_YEAR,
        "the next slot is (practically) never: {err}"
    );
    assert!(err.wait_time_from(Instant::now()) > ABOUT_A_YEAR);
}

// ---------------------------------------------------------------------------------------------
// 6. Semaphore: forget while a shrink is owed
// ---------------------------------------------------------------------------------------------

/// A forgotten permit lowered the total although a shrink was still owed, so the total ended
/// below the one set: a forgotten permit must pay the shrink's debt first.
#[test]
fn a_forgotten_permit_pays_a_pending_shrinks_debt_first() {
    let sem = Semaphore::new(4);
    let mut permits: Vec<_> = (0..4).map(|_| sem.try_acquire().unwrap()).collect();
    sem.resize(2); // all 4 out: 2 owed
    permits.pop().unwrap().forget(); // pays 1 of the 2 owed
    drop(permits); // 3 back: 1 pays the rest, 2 are free
    assert_eq!(sem.available_permits(), 2);
    let two = sem.try_acquire_many(2).expect("the total is 2");
    assert_eq!(
        sem.try_acquire_many(3).unwrap_err(),
        TryAcquireError::TooLarge {
            requested: 3,
            total: 2
        }
    );
    drop(two);
    assert_eq!(sem.available_permits(), 2);
}
