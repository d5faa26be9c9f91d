//! Property tests: random sequences of `add`, `done`, new waiters, polls and drops of waiters,
//! stepped by hand; every waiter that should wake is woken, none completes early, and the count
//! is always what the operations imply. Plus a two-thread stress test.
#![cfg(not(loom))]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Wake, Waker};

use proptest::prelude::*;
use taskgroup::futures::Wait;
use taskgroup::AsyncWaitGroup;

#[derive(Debug, Clone)]
enum Op {
    Add(usize),
    Done,
    NewWaiter,
    Poll(usize),
    Drop(usize),
    Guard,
    DropGuard,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (1..4usize).prop_map(Op::Add),
        3 => Just(Op::Done),
        1 => Just(Op::NewWaiter),
        3 => (0..8usize).prop_map(Op::Poll),
        1 => (0..8usize).prop_map(Op::Drop),
        1 => Just(Op::Guard),
        1 => Just(Op::DropGuard),
    ]
}

/// Counts its wake-ups.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct Waiter<'a> {
    wait: Wait<'a>,
    waker: Arc<CountingWaker>,
    /// Polled and pending, so it must be woken at the next zero.
    registered: bool,
    /// Wake-ups seen when it registered.
    wakes_at_registration: usize,
}

impl Waiter<'_> {
    fn poll(&mut self) -> Poll<()> {
        let waker = Waker::from(self.waker.clone());
        let poll = Pin::new(&mut self.wait).poll(&mut Context::from_waker(&waker));
        self.registered = poll.is_pending();
        self.wakes_at_registration = self.waker.0.load(Ordering::SeqCst);
        poll
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 4 } else { 512 }, ..ProptestConfig::default() })]

    #[test]
    fn every_waiter_that_should_wake_does(ops in prop::collection::vec(op(), 1..80)) {
        let wg = AsyncWaitGroup::new();
        let mut count = 0usize;
        let mut guards = Vec::new();
        let mut waiters: Vec<Waiter<'_>> = Vec::new();
        for op in ops {
            match op {
                Op::Add(n) => { wg.add(n); count += n; }
                Op::Guard => { guards.push(wg.guard()); count += 1; }
                Op::DropGuard => if guards.pop().is_some() { count -= 1 },
                Op::Done => if count > guards.len() {
                    // Only the counts that are not held by guards may be done by hand.
                    wg.done();
                    count -= 1;
                },
                Op::NewWaiter => waiters.push(Waiter {
                    wait: wg.wait(),
                    waker: Arc::default(),
                    registered: false,
                    wakes_at_registration: 0,
                }),
                Op::Poll(i) => if !waiters.is_empty() {
                    let i = i % waiters.len();
                    let poll = waiters[i].poll();
                    prop_assert_eq!(poll.is_ready(), count == 0, "ready exactly at zero");
                    if poll.is_ready() { waiters.remove(i); }
                },
                Op::Drop(i) => if !waiters.is_empty() {
                    let i = i % waiters.len();
                    waiters.remove(i);
                },
            }
            prop_assert_eq!(wg.count(), count);
            if count == 0 {
                // Every registered waiter has been woken since it registered, and completes.
                for mut w in waiters.drain(..) {
                    if w.registered {
                        prop_assert!(w.waker.0.load(Ordering::SeqCst) > w.wakes_at_registration,
                            "a registered waiter was not woken at zero");
                    }
                    prop_assert!(w.poll().is_ready());
                }
            }
        }
        let held = guards.len();
        drop(guards);
        prop_assert_eq!(wg.count(), count - held);
    }
}

/// Two threads finish work in every round while the main thread waits, alternately async and
/// blocking: a lost wake-up hangs the test, a missing happens-before shows as a wrong sum.
#[test]
fn two_threads_finishing_rounds_never_lose_a_wakeup() {
    let rounds = if cfg!(miri) { 20 } else { 20_000 };
    let wg = AsyncWaitGroup::new();
    let sums = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let start = Arc::new(Barrier::new(3));
    let workers: Vec<_> = (0..2)
        .map(|i| {
            let (wg, sums, start) = (wg.clone(), sums.clone(), start.clone());
            std::thread::spawn(move || {
                for _ in 0..rounds {
                    start.wait();
                    // Relaxed on purpose: the wait group must carry the happens-before.
                    let s = sums[i].load(Ordering::Relaxed);
                    sums[i].store(s + 1, Ordering::Relaxed);
                    wg.done();
                }
            })
        })
        .collect();
    for round in 1..=rounds {
        wg.add(2);
        start.wait();
        if round % 2 == 0 {
            wg.wait_blocking();
        } else {
            futures::executor::block_on(wg.wait());
        }
        assert_eq!(sums[0].load(Ordering::Relaxed), round);
        assert_eq!(sums[1].load(Ordering::Relaxed), round);
    }
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(wg.count(), 0);
}
