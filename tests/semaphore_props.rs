//! Property tests for `Semaphore`: random acquires, polls, drops of pending futures, releases,
//! `forget`, `resize`, `add_permits` and `close`, stepped by hand. After every step: strict FIFO,
//! no waiter left pending that could be served, every grant woken; after everything is dropped,
//! the permit count is exactly what the operations imply. Plus a two-thread stress test.
#![cfg(not(loom))]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use proptest::prelude::*;
use taskgroup::futures::AcquireOwned;
use taskgroup::{AcquireError, OwnedSemaphorePermit, Semaphore};

#[derive(Debug, Clone)]
enum Op {
    Acquire(usize),
    PollAll,
    DropWaiter(usize),
    Release(usize),
    Forget(usize),
    Resize(usize),
    AddPermits(usize),
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..5usize).prop_map(Op::Acquire),
        3 => Just(Op::PollAll),
        2 => (0..8usize).prop_map(Op::DropWaiter),
        3 => (0..8usize).prop_map(Op::Release),
        1 => (0..8usize).prop_map(Op::Forget),
        1 => (0..7usize).prop_map(Op::Resize),
        1 => (0..3usize).prop_map(Op::AddPermits),
        1 => Just(Op::Close),
    ]
}

#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct Pending {
    fut: AcquireOwned,
    n: usize,
    waker: Arc<CountingWaker>,
    /// Wake-ups seen at the last poll that returned `Pending` (`None`: never polled).
    wakes_at_last_poll: Option<usize>,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 4 } else { 512 }, ..ProptestConfig::default() })]

    #[test]
    fn no_permit_is_lost_and_the_queue_is_fifo(
        initial in 0..5usize,
        ops in prop::collection::vec(op(), 1..60),
    ) {
        let sem = Arc::new(Semaphore::new(initial));
        let mut total = initial;
        let mut closed = false;
        let mut pending: Vec<Pending> = Vec::new(); // in queueing order
        let mut held: Vec<OwnedSemaphorePermit> = Vec::new();

        for op in ops {
            match op {
                Op::Acquire(n) => pending.push(Pending {
                    fut: sem.clone().acquire_many_owned(n),
                    n,
                    waker: Arc::default(),
                    wakes_at_last_poll: None,
                }),
                Op::PollAll => {}
                Op::DropWaiter(i) => if !pending.is_empty() {
                    let i = i % pending.len();
                    pending.remove(i);
                },
                Op::Release(i) => if !held.is_empty() {
                    let i = i % held.len();
                    drop(held.remove(i));
                },
                Op::Forget(i) => if !held.is_empty() {
                    let i = i % held.len();
                    // A forgotten permit pays a shrink's debt first (the permits out above the
                    // total), then lowers the total.
                    let out: usize = held.iter().map(|p| p.num_permits()).sum();
                    let debt = out.saturating_sub(total);
                    let p = held.remove(i);
                    total -= p.num_permits() - p.num_permits().min(debt);
                    p.forget();
                },
                Op::Resize(t) => { sem.resize(t); total = t; }
                Op::AddPermits(k) => { sem.add_permits(k); total += k; }
                Op::Close => { sem.close(); closed = true; }
            }

            // Poll every waiter, oldest first.
            let mut still = Vec::new();
            let mut blocked_behind: Option<usize> = None; // an older waiter still pending
            for mut p in pending.drain(..) {
                let waker = Waker::from(p.waker.clone());
                let poll = Pin::new(&mut p.fut).poll(&mut Context::from_waker(&waker));
                match poll {
                    Poll::Ready(Ok(permit)) => {
                        prop_assert_eq!(permit.num_permits(), p.n);
                        if p.n > 0 {
                            prop_assert!(blocked_behind.is_none(),
                                "granted {} while an older waiter for {:?} is pending", p.n, blocked_behind);
                        }
                        if let Some(seen) = p.wakes_at_last_poll {
                            prop_assert!(p.waker.0.load(Ordering::SeqCst) > seen, "granted without a wake-up");
                        }
                        held.push(permit);
                    }
                    Poll::Ready(Err(AcquireError::Closed)) => prop_assert!(closed),
                    Poll::Ready(Err(AcquireError::TooLarge { requested, total: t })) => {
                        prop_assert_eq!(requested, p.n);
                        prop_assert!(t != 0 && t < p.n);
                    }
                    Poll::Ready(Err(e)) => prop_assert!(false, "unexpected {e}"),
                    Poll::Pending => {
                        prop_assert!(!closed);
                        p.wakes_at_last_poll = Some(p.waker.0.load(Ordering::SeqCst));
                        blocked_behind.get_or_insert(p.n);
                        still.push(p);
                    }
                }
            }
            pending = still;
            // No lost wake-up: the head of the queue cannot be served with what is free.
            if let Some(head) = pending.first() {
                prop_assert!(head.n > sem.available_permits(),
                    "head wants {} but {} are free", head.n, sem.available_permits());
            }
        }
        drop(pending);
        drop(held);
        prop_assert_eq!(sem.available_permits(), total, "every permit is back");
    }
}

/// Two threads acquire random weights (blocking, and async with `block_on`) from 4 permits;
/// never more than 4 in use, and all 4 back at the end.
#[test]
fn two_threads_with_random_weights_never_exceed_the_total() {
    let rounds = if cfg!(miri) { 50 } else { 20_000 };
    let sem = Arc::new(Semaphore::new(4));
    let in_use = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..2u64)
        .map(|seed| {
            let (sem, in_use) = (sem.clone(), in_use.clone());
            std::thread::spawn(move || {
                let mut x = seed * 7919 + 1;
                for round in 0..rounds {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let n = 1 + (x % 4) as usize;
                    let permit = if round % 2 == 0 {
                        sem.acquire_many_blocking(n).unwrap()
                    } else {
                        futures::executor::block_on(sem.acquire_many(n)).unwrap()
                    };
                    let now = in_use.fetch_add(n, Ordering::SeqCst) + n;
                    assert!(now <= 4, "{now} permits in use");
                    in_use.fetch_sub(n, Ordering::SeqCst);
                    drop(permit);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(sem.available_permits(), 4);
}
