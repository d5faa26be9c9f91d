//! Property test: callers of a `SingleFlight` stepped by hand with counting wakers, their work
//! released, and leaders and waiters dropped at random points. Checked: at most one execution
//! at a time per key; every caller that returns got the value of an execution of its key that
//! ran to the end; once all work is released, every caller left finishes by following its
//! wake-ups alone (no lost wake-up, nobody stuck).
#![cfg(not(loom))]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use proptest::prelude::*;
use taskgroup::SingleFlight;

const KEYS: u8 = 2;

#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Exec {
    Running,
    Finished,
    Dropped,
}

#[derive(Default)]
struct World {
    /// Per execution: its key, its state, whether the test released it.
    execs: Vec<(u8, Exec, bool)>,
    wakers: Vec<Option<Waker>>,
    running: [usize; KEYS as usize],
}

/// The work of one execution: pending until released, then yields its execution id.
struct Work {
    id: usize,
    world: Arc<Mutex<World>>,
}

fn start(world: &Arc<Mutex<World>>, key: u8) -> Work {
    let mut w = world.lock().unwrap();
    w.running[key as usize] += 1;
    assert_eq!(
        w.running[key as usize], 1,
        "two executions at once for key {key}"
    );
    w.execs.push((key, Exec::Running, false));
    w.wakers.push(None);
    Work {
        id: w.execs.len() - 1,
        world: world.clone(),
    }
}

impl Future for Work {
    type Output = usize;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let mut w = self.world.lock().unwrap();
        let (key, state, released) = w.execs[self.id];
        assert_eq!(state, Exec::Running, "work polled after it ended");
        if released {
            w.execs[self.id].1 = Exec::Finished;
            w.running[key as usize] -= 1;
            Poll::Ready(self.id)
        } else {
            w.wakers[self.id] = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        let mut w = self.world.lock().unwrap();
        let (key, state, _) = w.execs[self.id];
        if state == Exec::Running {
            w.execs[self.id].1 = Exec::Dropped;
            w.running[key as usize] -= 1;
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Call(u8),
    Poll(usize),
    Drop(usize),
    Release(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..KEYS).prop_map(Op::Call),
        4 => any::<usize>().prop_map(Op::Poll),
        2 => any::<usize>().prop_map(Op::Drop),
        2 => any::<usize>().prop_map(Op::Release),
    ]
}

type Call<'a> = Pin<Box<dyn Future<Output = usize> + 'a>>;

struct Caller<'a> {
    key: u8,
    call: Option<Call<'a>>,
    waker: Arc<CountingWaker>,
    seen_wakes: usize,
    polled: bool,
    output: Option<usize>,
}

fn poll_caller(c: &mut Caller<'_>, world: &Arc<Mutex<World>>) {
    let Some(call) = c.call.as_mut() else { return };
    c.seen_wakes = c.waker.0.load(Ordering::SeqCst);
    c.polled = true;
    let waker = Waker::from(c.waker.clone());
    if let Poll::Ready(id) = call.as_mut().poll(&mut Context::from_waker(&waker)) {
        c.call = None;
        let w = world.lock().unwrap();
        let (key, state, _) = w.execs[id];
        assert_eq!(key, c.key, "a value of another key");
        assert_eq!(
            state,
            Exec::Finished,
            "a value of an execution that did not finish"
        );
        c.output = Some(id);
    }
}

fn release(world: &Arc<Mutex<World>>, id: usize) {
    let waker = {
        let mut w = world.lock().unwrap();
        if w.execs[id].2 {
            return;
        }
        w.execs[id].2 = true;
        w.wakers[id].take()
    };
    if let Some(waker) = waker {
        waker.wake();
    }
}

fn check(ops: Vec<Op>) {
    let world = Arc::new(Mutex::new(World::default()));
    let group: SingleFlight<u8, usize> = SingleFlight::new();
    let mut callers: Vec<Caller<'_>> = Vec::new();
    for op in ops {
        match op {
            Op::Call(key) => {
                let world = world.clone();
                callers.push(Caller {
                    key,
                    call: Some(Box::pin(group.run(key, move || start(&world, key)))),
                    waker: Arc::default(),
                    seen_wakes: 0,
                    polled: false,
                    output: None,
                });
            }
            Op::Poll(i) if !callers.is_empty() => {
                let i = i % callers.len();
                poll_caller(&mut callers[i], &world);
            }
            Op::Drop(i) if !callers.is_empty() => {
                let i = i % callers.len();
                callers[i].call = None;
            }
            Op::Release(i) => {
                let n = world.lock().unwrap().execs.len();
                if n > 0 {
                    release(&world, i % n);
                }
            }
            _ => {}
        }
    }
    // Every caller never polled is polled once (a new future needs its first poll); from then
    // on, only a caller that was woken is polled again, as an executor would. All work is
    // released as it starts. Everyone must finish.
    for c in &mut callers {
        if !c.polled {
            poll_caller(c, &world);
        }
    }
    loop {
        let n = world.lock().unwrap().execs.len();
        for id in 0..n {
            release(&world, id);
        }
        let mut progressed = false;
        for c in &mut callers {
            if c.call.is_some() && c.waker.0.load(Ordering::SeqCst) != c.seen_wakes {
                poll_caller(c, &world);
                progressed = true;
            }
        }
        if !progressed && world.lock().unwrap().execs.len() == n {
            break;
        }
    }
    for c in &callers {
        assert!(c.call.is_none(), "a caller is stuck: nothing will wake it");
    }
    assert_eq!(group.in_flight(), 0);
    let w = world.lock().unwrap();
    assert_eq!(w.running, [0; KEYS as usize]);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 4 } else { 2000 },
        ..ProptestConfig::default()
    })]

    #[test]
    fn drops_at_random_points_lose_no_caller_and_never_overlap_executions(
        ops in prop::collection::vec(op(), 1..40)
    ) {
        check(ops);
    }
}

#[test]
fn a_dropped_leader_and_a_dropped_promoted_waiter_in_a_row() {
    check(vec![
        Op::Call(0),
        Op::Call(0),
        Op::Call(0),
        Op::Poll(0),
        Op::Poll(1),
        Op::Poll(2),
        Op::Drop(0),
        Op::Drop(1),
    ]);
}
