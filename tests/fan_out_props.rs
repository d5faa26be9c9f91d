//! Property tests of the fan-out adapters, stepped by hand: random completion orders, random
//! drop points, a consumer that polls only when woken. After every step: outputs are a
//! permutation (or, ordered, the sequence) of the inputs, the pull-ahead bound holds, and no
//! wake-up is lost; after the drop, every future and every permit is accounted for.
#![cfg(not(loom))]

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use futures::stream::{self, Stream, StreamExt};
use proptest::prelude::*;
use taskgroup::{FanOutExt, Semaphore};

/// The items' futures: each waits until the test releases it.
#[derive(Default)]
struct Board {
    released: Mutex<HashSet<usize>>,
    wakers: Mutex<Vec<(usize, Waker)>>,
    created: AtomicUsize,
    dropped: AtomicUsize,
    pulled: AtomicUsize,
}

impl Board {
    fn release(&self, id: usize) {
        self.released.lock().unwrap().insert(id);
        let woken: Vec<_> = {
            let mut wakers = self.wakers.lock().unwrap();
            let (mine, rest) = wakers.drain(..).partition(|(i, _)| *i == id);
            *wakers = rest;
            mine
        };
        for (_, waker) in woken {
            waker.wake();
        }
    }

    /// Started items not yet released.
    fn waiting(&self) -> Vec<usize> {
        let released = self.released.lock().unwrap();
        let mut ids: Vec<usize> = self
            .wakers
            .lock()
            .unwrap()
            .iter()
            .map(|(i, _)| *i)
            .filter(|i| !released.contains(i))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

struct Gate {
    id: usize,
    board: Arc<Board>,
    /// Wake itself once, spuriously, before waiting for real.
    spurious: bool,
}

impl Gate {
    fn new(id: usize, board: &Arc<Board>, spurious: bool) -> Self {
        board.created.fetch_add(1, Ordering::SeqCst);
        Self {
            id,
            board: board.clone(),
            spurious,
        }
    }
}

impl Future for Gate {
    type Output = usize;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        if self.board.released.lock().unwrap().contains(&self.id) {
            return Poll::Ready(self.id);
        }
        if std::mem::take(&mut self.spurious) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.board
            .wakers
            .lock()
            .unwrap()
            .push((self.id, cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.board.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// The consumer's waker: remembers that it was woken.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A tiny hand-stepped executor for the spawned form.
#[derive(Default)]
struct Exec {
    tasks: Mutex<Vec<Option<Task>>>,
    ready: Mutex<VecDeque<usize>>,
}

struct TaskWaker {
    id: usize,
    exec: Arc<Exec>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.exec.ready.lock().unwrap().push_back(self.id);
    }
}

impl Exec {
    fn spawn(self: &Arc<Self>, task: Task) {
        let mut tasks = self.tasks.lock().unwrap();
        tasks.push(Some(task));
        self.ready.lock().unwrap().push_back(tasks.len() - 1);
    }

    /// Polls every task that is ready; returns whether any was.
    fn run(self: &Arc<Self>) -> bool {
        let mut any = false;
        loop {
            let Some(id) = self.ready.lock().unwrap().pop_front() else {
                return any;
            };
            any = true;
            let task = self.tasks.lock().unwrap()[id].take();
            if let Some(mut task) = task {
                let waker = Waker::from(Arc::new(TaskWaker {
                    id,
                    exec: self.clone(),
                }));
                if task
                    .as_mut()
                    .poll(&mut Context::from_waker(&waker))
                    .is_pending()
                {
                    self.tasks.lock().unwrap()[id] = Some(task);
                }
            }
        }
    }

    fn live(&self) -> usize {
        self.tasks.lock().unwrap().iter().flatten().count()
    }
}

#[derive(Clone, Copy, Debug)]
enum Adapter {
    Unordered,
    Ordered,
    Try,
    With,
    Spawned,
}

#[derive(Clone, Debug)]
struct Case {
    adapter: Adapter,
    items: usize,
    limit: usize,
    /// Per item: ready at its first poll, and whether it wakes itself once spuriously.
    instant: Vec<bool>,
    spurious: Vec<bool>,
    /// The item that fails (try_fan_out), if any.
    failing: Option<usize>,
    /// Each step releases the waiting item at this position (modulo), or polls.
    steps: Vec<usize>,
    /// Drop the stream after this many steps.
    drop_after: usize,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![
            Just(Adapter::Unordered),
            Just(Adapter::Ordered),
            Just(Adapter::Try),
            Just(Adapter::With),
            Just(Adapter::Spawned),
        ],
        0usize..30,
        1usize..6,
    )
        .prop_flat_map(|(adapter, items, limit)| {
            (
                Just(adapter),
                Just(items),
                Just(limit),
                prop::collection::vec(prop::bool::weighted(0.2), items),
                prop::collection::vec(prop::bool::weighted(0.2), items),
                prop::option::weighted(0.3, 0..items.max(1)),
                prop::collection::vec(0usize..8, 0..200),
                0usize..150,
            )
        })
        .prop_map(
            |(adapter, items, limit, instant, spurious, failing, steps, drop_after)| Case {
                adapter,
                items,
                limit,
                instant,
                spurious,
                failing,
                steps,
                drop_after,
            },
        )
}

type Boxed = Pin<Box<dyn Stream<Item = Result<usize, usize>> + Send>>;

fn build(case: &Case, board: &Arc<Board>, sem: &Arc<Semaphore>, exec: &Arc<Exec>) -> Boxed {
    let source = {
        let board = board.clone();
        stream::iter(0..case.items).inspect(move |_| {
            board.pulled.fetch_add(1, Ordering::SeqCst);
        })
    };
    let gate = {
        let board = board.clone();
        let instant = case.instant.clone();
        let spurious = case.spurious.clone();
        move |i: usize| {
            if instant[i] {
                board.released.lock().unwrap().insert(i);
            }
            Gate::new(i, &board, spurious[i])
        }
    };
    let failing = case.failing;
    match case.adapter {
        Adapter::Unordered => Box::pin(source.fan_out(case.limit, gate).map(Ok)),
        Adapter::Ordered => Box::pin(source.fan_out_ordered(case.limit, gate).map(Ok)),
        Adapter::Try => Box::pin(source.try_fan_out(case.limit, move |i| {
            let gate = gate(i);
            async move {
                let i = gate.await;
                if Some(i) == failing {
                    Err(i)
                } else {
                    Ok(i)
                }
            }
        })),
        Adapter::With => Box::pin(source.fan_out_with(sem.clone(), gate).map(Ok)),
        Adapter::Spawned => {
            let exec = exec.clone();
            Box::pin(
                source
                    .fan_out_spawned(case.limit, move |task| exec.spawn(task), gate)
                    .map(Ok),
            )
        }
    }
}

fn run(case: Case) -> Result<(), TestCaseError> {
    let board = Arc::new(Board::default());
    let sem = Arc::new(Semaphore::new(case.limit));
    let exec = Arc::new(Exec::default());
    let flag = Arc::new(Flag::default());
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);

    let mut stream = Some(build(&case, &board, &sem, &exec));
    let mut outputs = Vec::new();
    let mut ended = false;
    let mut error = None;
    // The pull-ahead bound: `fan_out_with` also holds one item waiting for a permit.
    let bound = match case.adapter {
        Adapter::With => case.limit + 1,
        _ => case.limit,
    };
    flag.0.store(true, Ordering::SeqCst); // the first poll
    let mut steps = case.steps.iter().copied().chain(std::iter::repeat(0));
    for step in 0.. {
        if step == case.drop_after || ended {
            break;
        }
        exec.run();
        let action = steps.next().unwrap();
        let waiting = board.waiting();
        if flag.0.load(Ordering::SeqCst) && (action < 4 || waiting.is_empty()) {
            flag.0.store(false, Ordering::SeqCst);
            let s = stream.as_mut().unwrap();
            match s.as_mut().poll_next(&mut cx) {
                Poll::Ready(Some(Ok(i))) => {
                    outputs.push(i);
                    flag.0.store(true, Ordering::SeqCst); // a consumer polls on after an item
                }
                Poll::Ready(Some(Err(i))) => {
                    flag.0.store(true, Ordering::SeqCst);
                    error = Some(i);
                    // Nothing runs past the error.
                    prop_assert_eq!(
                        board.created.load(Ordering::SeqCst),
                        board.dropped.load(Ordering::SeqCst)
                    );
                }
                Poll::Ready(None) => ended = true,
                Poll::Pending => {}
            }
            let pulled = board.pulled.load(Ordering::SeqCst);
            let yielded = outputs.len() + usize::from(error.is_some());
            prop_assert!(
                pulled <= yielded + bound,
                "{} pulled, {} yielded",
                pulled,
                yielded
            );
        } else if let Some(&id) = waiting.get(action % waiting.len().max(1)) {
            board.release(id);
        } else if !exec.run() && !flag.0.load(Ordering::SeqCst) {
            // Nothing to release, nothing to run, and the consumer was not woken: the
            // stream must be done waiting for nothing... or a wake-up was lost.
            prop_assert!(false, "lost wake-up: stuck after {:?}", outputs);
        }
    }

    // Outputs: no duplicates; ordered ones in input order; all of them if the stream ended.
    let unique: HashSet<_> = outputs.iter().collect();
    prop_assert_eq!(unique.len(), outputs.len());
    prop_assert!(outputs.iter().all(|&i| i < case.items));
    if let Adapter::Ordered = case.adapter {
        prop_assert_eq!(&outputs, &(0..outputs.len()).collect::<Vec<_>>());
    }
    if ended {
        let expected = match error {
            Some(_) => outputs.len(),
            None => case.items,
        };
        prop_assert_eq!(outputs.len(), expected);
    }

    // Drop: every future goes (the spawned ones at their next poll), every permit comes back.
    drop(stream.take());
    exec.run();
    prop_assert_eq!(exec.live(), 0, "a spawned item outlived the stream");
    prop_assert_eq!(
        board.created.load(Ordering::SeqCst),
        board.dropped.load(Ordering::SeqCst)
    );
    prop_assert_eq!(sem.available_permits(), case.limit);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 8 } else { 4096 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn fan_out_loses_nothing_at_any_drop_point(case in case()) {
        run(case)?;
    }
}
