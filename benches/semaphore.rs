//! `Semaphore` against tokio's and async-lock's.
//!
//! Run with `cargo bench --bench semaphore`; a criterion filter picks a scenario, e.g.
//! `cargo bench --bench semaphore -- contended_tokio_mt_64x4`.
//!
//! Every scenario is one criterion group with taskgroup and each peer side by side:
//!
//! | crate | try | await | weighted | order |
//! | --- | --- | --- | --- | --- |
//! | taskgroup | `try_acquire` | `acquire`, `acquire_owned` | `acquire_many(usize)` | FIFO, no barging |
//! | tokio | `try_acquire` | `acquire`, `acquire_owned` | `acquire_many(u32)` | FIFO |
//! | async-lock 3 | `try_acquire` | `acquire`, `acquire_arc` | none | none: a free permit goes to whoever polls first |
//!
//! The floor of the uncontended scenarios is the least any counting semaphore does: a
//! compare-and-swap loop that takes one permit if there is one, and a `fetch_add` that gives it
//! back.
//!
//! The `queued_*` scenarios keep N acquires queued on a semaphore with no permits (N = 1 000 and
//! 100 000) and time one operation on a waiter in the middle of that queue: re-polling it with
//! another waker, or dropping it and queueing a new acquire at the back. Both are O(1) whatever
//! the queue's length for a queue that finds a waiter by its key (taskgroup since issue 14,
//! tokio's intrusive list, async-lock's event-listener list), O(N) for one that searches for it.

use std::future::Future;
use std::hint::black_box;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use futures::task::noop_waker_ref;
use tokio::runtime::{Builder, Runtime};

#[path = "common/interleaved.rs"]
mod interleaved;
use interleaved::{interleaved_group, Line};

/// Permits of the semaphores in the uncontended scenarios: several free, so no line ever waits.
const FREE_PERMITS: usize = 8;
/// Tasks per batch in the contended scenarios.
const TASKS: usize = 64;
/// Acquire / yield / release rounds per task.
const ROUNDS: usize = 100;
/// Permits of the semaphore in the unweighted contended scenarios.
const PERMITS: usize = 4;
/// Permits of the semaphore in the weighted scenario, where each acquire asks for 1 to 3.
const WEIGHTED_PERMITS: usize = 8;

/// The floor: a bare counter with the orderings a semaphore needs.
struct Floor(AtomicUsize);

impl Floor {
    #[inline]
    fn try_acquire(&self) -> bool {
        let mut n = self.0.load(Ordering::Relaxed);
        loop {
            if n == 0 {
                return false;
            }
            match self
                .0
                .compare_exchange_weak(n, n - 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => n = actual,
            }
        }
    }

    #[inline]
    fn release(&self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

/// The driver of `uncontended_acquire_await`, the same for every line: create the future, pin it
/// on the stack, poll it once with a no-op waker, and expect it ready.
#[inline]
fn poll_once<F: Future>(fut: F) -> F::Output {
    let fut = pin!(fut);
    match fut.poll(&mut Context::from_waker(noop_waker_ref())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a semaphore with free permits made an acquire wait"),
    }
}

/// `try_acquire()` and drop the permit, on a semaphore with permits free and nobody queued.
fn uncontended_try_acquire(c: &mut Criterion) {
    let mut g = c.benchmark_group("uncontended_try_acquire");

    let floor = Floor(AtomicUsize::new(FREE_PERMITS));
    g.bench_function("floor_atomic_cas_add", |b| {
        b.iter(|| {
            assert!(black_box(&floor).try_acquire());
            black_box(&floor).release();
        })
    });

    let sem = taskgroup::Semaphore::new(FREE_PERMITS);
    g.bench_function("taskgroup", |b| {
        b.iter(|| drop(black_box(&sem).try_acquire().expect("free permits")))
    });

    let sem = tokio::sync::Semaphore::new(FREE_PERMITS);
    g.bench_function("tokio", |b| {
        b.iter(|| drop(black_box(&sem).try_acquire().expect("free permits")))
    });

    let sem = async_lock::Semaphore::new(FREE_PERMITS);
    g.bench_function("async_lock", |b| {
        b.iter(|| drop(black_box(&sem).try_acquire().expect("free permits")))
    });

    // The owned forms: an `Arc` clone and drop on top, two more read-modify-writes.
    let sem = Arc::new(taskgroup::Semaphore::new(FREE_PERMITS));
    g.bench_function("taskgroup_owned", |b| {
        b.iter(|| drop(black_box(&sem).clone().try_acquire_owned().expect("free")))
    });

    let sem = Arc::new(tokio::sync::Semaphore::new(FREE_PERMITS));
    g.bench_function("tokio_owned", |b| {
        b.iter(|| drop(black_box(&sem).clone().try_acquire_owned().expect("free")))
    });

    let sem = Arc::new(async_lock::Semaphore::new(FREE_PERMITS));
    g.bench_function("async_lock_arc", |b| {
        b.iter(|| drop(black_box(&sem).try_acquire_arc().expect("free")))
    });

    g.finish();
}

/// `acquire().await` and drop the permit, on a semaphore with permits free: the fast path of the
/// future, driven by [`poll_once`] for every line.
fn uncontended_acquire_await(c: &mut Criterion) {
    let mut g = c.benchmark_group("uncontended_acquire_await");

    let floor = Floor(AtomicUsize::new(FREE_PERMITS));
    g.bench_function("floor_atomic_cas_add", |b| {
        b.iter(|| {
            assert!(black_box(&floor).try_acquire());
            black_box(&floor).release();
        })
    });

    let sem = taskgroup::Semaphore::new(FREE_PERMITS);
    g.bench_function("taskgroup", |b| {
        b.iter(|| drop(poll_once(black_box(&sem).acquire()).expect("open")))
    });

    // tokio's acquire also consults the runtime's cooperative budget (a thread-local; there is
    // no runtime here, so it never runs out).
    let sem = tokio::sync::Semaphore::new(FREE_PERMITS);
    g.bench_function("tokio", |b| {
        b.iter(|| drop(poll_once(black_box(&sem).acquire()).expect("open")))
    });

    let sem = async_lock::Semaphore::new(FREE_PERMITS);
    g.bench_function("async_lock", |b| {
        b.iter(|| drop(poll_once(black_box(&sem).acquire())))
    });

    // The owned forms: `sem.clone().acquire_owned()` polled once and the permit dropped. The
    // floor adds the `Arc` clone and drop a user pays to the CAS and `fetch_add`.
    let floor = Arc::new(Floor(AtomicUsize::new(FREE_PERMITS)));
    g.bench_function("floor_owned_cas_add_arc", |b| {
        b.iter(|| {
            let owned = black_box(&floor).clone();
            assert!(owned.try_acquire());
            owned.release();
            drop(black_box(owned));
        })
    });

    let sem = Arc::new(taskgroup::Semaphore::new(FREE_PERMITS));
    g.bench_function("taskgroup_owned", |b| {
        b.iter(|| drop(poll_once(black_box(&sem).clone().acquire_owned()).expect("open")))
    });

    let sem = Arc::new(tokio::sync::Semaphore::new(FREE_PERMITS));
    g.bench_function("tokio_owned", |b| {
        b.iter(|| drop(poll_once(black_box(&sem).clone().acquire_owned()).expect("open")))
    });

    let sem = Arc::new(async_lock::Semaphore::new(FREE_PERMITS));
    g.bench_function("async_lock_arc", |b| {
        b.iter(|| drop(poll_once(black_box(&sem).acquire_arc())))
    });

    g.finish();
}

/// The multi-thread runtime of the contended scenarios: 2 workers, the size of the CI machine.
/// The benchmark body runs in `block_on` on the main thread, so the workers run the tasks.
fn multi_thread_runtime() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn join_tokio(handles: Vec<tokio::task::JoinHandle<()>>) {
    for handle in handles {
        handle.await.expect("task panicked");
    }
}

/// Spawns `TASKS` tasks on the current tokio runtime, each running `task(i)`, and joins them all.
async fn tokio_batch<F, Fut>(task: F)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    join_tokio((0..TASKS).map(|i| tokio::spawn(task(i))).collect()).await;
}

/// One line of the unweighted contended scenarios: a batch of `TASKS` tasks on a fresh semaphore
/// made by `$new` (shared by an `Arc`), each doing `ROUNDS` rounds of `$acquire` (with its `Arc`
/// as `$sem`), `$yield_now().await` while holding the permit, and the drop; `$run` runs the
/// tasks (`$batch`, a `Fn(usize) -> impl Future`) on tokio's runtime or the smol pool.
macro_rules! contended_line {
    ($name:literal, $new:expr, |$sem:ident| $acquire:expr, $yield_now:expr, |$batch:ident| $run:expr) => {
        (
            $name,
            Box::new(move || {
                let shared = Arc::new($new);
                let $batch = |_: usize| {
                    let $sem = shared.clone();
                    async move {
                        for _ in 0..ROUNDS {
                            let permit = $acquire;
                            $yield_now().await;
                            drop(permit);
                        }
                    }
                };
                $run;
            }) as Box<dyn FnMut() + '_>,
        )
    };
}

/// 64 tasks share 4 permits; each takes a permit 100 times, yields once while holding it (so the
/// others queue up), and gives it back. One iteration is the whole batch: create the semaphore,
/// spawn the 64 tasks, join them (6 400 acquires, most of which wait).
fn contended_tokio_mt_64x4(c: &mut Criterion) {
    let rt = multi_thread_runtime();
    let rt = &rt;
    let yield_now = tokio::task::yield_now;
    let lines: Vec<Line<'_>> = vec![
        contended_line!(
            "taskgroup",
            taskgroup::Semaphore::new(PERMITS),
            |sem| sem.acquire().await.expect("open"),
            yield_now,
            |batch| rt.block_on(tokio_batch(batch))
        ),
        contended_line!(
            "tokio",
            tokio::sync::Semaphore::new(PERMITS),
            |sem| sem.acquire().await.expect("open"),
            yield_now,
            |batch| rt.block_on(tokio_batch(batch))
        ),
        contended_line!(
            "async_lock",
            async_lock::Semaphore::new(PERMITS),
            |sem| sem.acquire().await,
            yield_now,
            |batch| rt.block_on(tokio_batch(batch))
        ),
        // The owned forms, as a task that moves its permit elsewhere would use them.
        contended_line!(
            "taskgroup_owned",
            taskgroup::Semaphore::new(PERMITS),
            |sem| sem.clone().acquire_owned().await.expect("open"),
            yield_now,
            |batch| rt.block_on(tokio_batch(batch))
        ),
        contended_line!(
            "tokio_owned",
            tokio::sync::Semaphore::new(PERMITS),
            |sem| sem.clone().acquire_owned().await.expect("open"),
            yield_now,
            |batch| rt.block_on(tokio_batch(batch))
        ),
        contended_line!(
            "async_lock_arc",
            async_lock::Semaphore::new(PERMITS),
            |sem| sem.acquire_arc().await,
            yield_now,
            |batch| rt.block_on(tokio_batch(batch))
        ),
    ];
    interleaved_group(c, "contended_tokio_mt_64x4", lines);
}

/// A deterministic xorshift32 step; `state` must not be zero.
fn xorshift(state: &mut u32) -> u32 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    x
}

/// A non-zero seed per task, so every run draws the same requests.
fn seed(task: usize) -> u32 {
    (task as u32 + 1).wrapping_mul(0x9E37_79B9) | 1
}

/// `contended_tokio_mt_64x4` with weights: 64 tasks share 8 permits, each acquire asks for 1 to 3
/// of them (xorshift, seeded per task), so a large request at the head holds up smaller ones
/// behind it. async-lock is absent: its `Semaphore` has no weighted acquire.
fn weighted_tokio_mt(c: &mut Criterion) {
    let rt = multi_thread_runtime();
    let rt = &rt;
    let lines: Vec<Line<'_>> = vec![
        (
            "taskgroup",
            Box::new(move || {
                rt.block_on(async {
                    let sem = Arc::new(taskgroup::Semaphore::new(WEIGHTED_PERMITS));
                    tokio_batch(|i| {
                        let sem = sem.clone();
                        async move {
                            let mut rng = seed(i);
                            for _ in 0..ROUNDS {
                                let k = 1 + xorshift(&mut rng) % 3;
                                let permit = sem.acquire_many(k as usize).await.expect("open");
                                tokio::task::yield_now().await;
                                drop(permit);
                            }
                        }
                    })
                    .await;
                })
            }),
        ),
        (
            "tokio",
            Box::new(move || {
                rt.block_on(async {
                    let sem = Arc::new(tokio::sync::Semaphore::new(WEIGHTED_PERMITS));
                    tokio_batch(|i| {
                        let sem = sem.clone();
                        async move {
                            let mut rng = seed(i);
                            for _ in 0..ROUNDS {
                                let k = 1 + xorshift(&mut rng) % 3;
                                let permit = sem.acquire_many(k).await.expect("open");
                                tokio::task::yield_now().await;
                                drop(permit);
                            }
                        }
                    })
                    .await;
                })
            }),
        ),
    ];
    interleaved_group(c, "weighted_tokio_mt", lines);
}

/// A smol `Executor` run by 2 threads, the counterpart of the 2-worker tokio runtime; stopped
/// and joined on drop.
struct SmolPool {
    ex: Arc<smol::Executor<'static>>,
    stop: Option<smol::channel::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl SmolPool {
    fn new(threads: usize) -> Self {
        let ex = Arc::new(smol::Executor::new());
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        let threads = (0..threads)
            .map(|_| {
                let ex = ex.clone();
                let stopped = stopped.clone();
                std::thread::spawn(move || {
                    // Runs until the sender is dropped.
                    let _ = smol::block_on(ex.run(stopped.recv()));
                })
            })
            .collect();
        Self {
            ex,
            stop: Some(stop),
            threads,
        }
    }

    /// Spawns `TASKS` tasks on the pool, each running `task(i)`, and waits for them all from
    /// the calling thread, which is not one of the pool's.
    fn batch<F, Fut>(&self, task: F)
    where
        F: Fn(usize) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let tasks: Vec<_> = (0..TASKS).map(|i| self.ex.spawn(task(i))).collect();
        smol::block_on(async {
            for task in tasks {
                task.await;
            }
        });
    }
}

impl Drop for SmolPool {
    fn drop(&mut self) {
        drop(self.stop.take());
        for thread in self.threads.drain(..) {
            thread.join().expect("executor thread panicked");
        }
    }
}

/// `contended_tokio_mt_64x4` on smol: the same 64 tasks × 100 rounds on 4 permits, yielding with
/// `smol::future::yield_now`. tokio's semaphore needs no tokio runtime (its cooperative budget
/// is unlimited outside one), so it runs here too.
fn contended_smol(c: &mut Criterion) {
    let pool = SmolPool::new(2);
    let pool = &pool;
    let yield_now = smol::future::yield_now;
    let lines: Vec<Line<'_>> = vec![
        contended_line!(
            "taskgroup",
            taskgroup::Semaphore::new(PERMITS),
            |sem| sem.acquire().await.expect("open"),
            yield_now,
            |batch| pool.batch(batch)
        ),
        contended_line!(
            "async_lock",
            async_lock::Semaphore::new(PERMITS),
            |sem| sem.acquire().await,
            yield_now,
            |batch| pool.batch(batch)
        ),
        contended_line!(
            "tokio",
            tokio::sync::Semaphore::new(PERMITS),
            |sem| sem.acquire().await.expect("open"),
            yield_now,
            |batch| pool.batch(batch)
        ),
    ];
    interleaved_group(c, "contended_smol", lines);
}

/// A waker that does nothing. Each `Arc` of it is a waker of its own: two of them are not
/// `will_wake` of each other, so polling a queued acquire with one and then the other really
/// replaces the waker its queue holds.
struct NoopWake;

impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}

    fn wake_by_ref(self: &Arc<Self>) {}
}

/// N acquires queued on a semaphore with no permits, boxed and pinned, in queue order: the
/// future in slot `i` is the `i`-th in the semaphore's queue.
struct QueuedAcquires<F, M> {
    futures: Vec<Pin<Box<F>>>,
    make: M,
    /// The two wakers the queued futures are polled with, in turn.
    wakers: [Waker; 2],
    /// Which of `wakers` the next poll uses.
    turn: usize,
    /// The next slot `drop_requeue` replaces, in `from..N`.
    next: usize,
}

impl<F, M> QueuedAcquires<F, M>
where
    F: Future,
    M: FnMut() -> F,
{
    /// Queues `n` acquires made by `make`, each polled once with the first waker.
    fn new(n: usize, mut make: M) -> Self {
        let wakers = [
            Waker::from(Arc::new(NoopWake)),
            Waker::from(Arc::new(NoopWake)),
        ];
        let mut futures: Vec<_> = (0..n).map(|_| Box::pin(make())).collect();
        let cx = &mut Context::from_waker(&wakers[0]);
        for fut in &mut futures {
            assert!(fut.as_mut().poll(cx).is_pending(), "no permits, yet ready");
        }
        Self {
            futures,
            make,
            wakers,
            turn: 0,
            next: 0,
        }
    }

    /// Polls the acquire in `slot` again, with the other waker than last time.
    #[inline]
    fn repoll(&mut self, slot: usize) {
        self.turn ^= 1;
        let cx = &mut Context::from_waker(&self.wakers[self.turn]);
        let fut = black_box(&mut self.futures[slot]).as_mut();
        assert!(fut.poll(cx).is_pending(), "no permits, yet ready");
    }

    /// Drops the acquire at queue position `from` and queues a new one at the back, so the
    /// queue keeps its length. The slots `from..N` are cycled through oldest first: the slots
    /// before `from` are never touched, so the oldest of the rest is always `from`-th in the
    /// queue, and its replacement goes last.
    #[inline]
    fn drop_requeue(&mut self, from: usize) {
        if self.next < from || self.next >= self.futures.len() {
            self.next = from;
        }
        let fut = &mut self.futures[self.next];
        self.next += 1;
        // In place: the old future is dropped (leaving the queue), then the new one is written
        // and polled (joining it at the back); no allocation.
        fut.set((self.make)());
        let cx = &mut Context::from_waker(&self.wakers[0]);
        assert!(fut.as_mut().poll(cx).is_pending(), "no permits, yet ready");
    }
}

/// One line of a `queued_repoll_*` group: `n` acquires queued by `make`, and each iteration
/// re-polls the one in the middle of the queue with the other of two wakers. The queue is built
/// once (on the first run, so a filtered-out line builds nothing) and kept across iterations.
fn repoll_line<F, M>(g: &mut BenchmarkGroup<'_, WallTime>, name: &str, n: usize, make: M)
where
    F: Future,
    M: FnMut() -> F,
{
    let mut make = Some(make);
    let mut queue = None;
    g.bench_function(name, |b| {
        let queue =
            queue.get_or_insert_with(|| QueuedAcquires::new(n, make.take().expect("built once")));
        b.iter(|| queue.repoll(n / 2))
    });
}

/// One line of a `queued_drop_requeue_*` group: `n` acquires queued by `make`, and each
/// iteration drops the one at queue position `from` and queues a new one at the back.
fn drop_requeue_line<F, M>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    n: usize,
    from: usize,
    make: M,
) where
    F: Future,
    M: FnMut() -> F,
{
    let mut make = Some(make);
    let mut queue = None;
    g.bench_function(name, |b| {
        let queue =
            queue.get_or_insert_with(|| QueuedAcquires::new(n, make.take().expect("built once")));
        b.iter(|| queue.drop_requeue(from))
    });
}

/// `n` acquires queued on `Semaphore::new(0)`; each iteration re-polls the one in the middle of
/// the queue (position n / 2) with a different waker than its last poll, so the stored waker is
/// replaced every time. A queue that finds the waiter by its key does this in O(1); one that
/// searches for it walks n / 2 entries.
fn queued_repoll(c: &mut Criterion, group: &str, n: usize) {
    let mut g = c.benchmark_group(group);

    let sem = taskgroup::Semaphore::new(0);
    repoll_line(&mut g, "taskgroup", n, || sem.acquire());

    let sem = tokio::sync::Semaphore::new(0);
    repoll_line(&mut g, "tokio", n, || sem.acquire());

    let sem = async_lock::Semaphore::new(0);
    repoll_line(&mut g, "async_lock", n, || sem.acquire());

    g.finish();
}

/// `n` acquires queued on `Semaphore::new(0)`; each iteration drops the one in the middle of the
/// queue (position n / 2) and queues a new acquire at the back, so the queue stays n long.
///
/// The `_front` lines drop the head of the queue instead, which no implementation has to search
/// for: their time is the fixed cost of a drop and a re-queue, to subtract from the line
/// without the suffix to see what finding and unlinking a waiter in the middle costs.
fn queued_drop_requeue(c: &mut Criterion, group: &str, n: usize) {
    let mut g = c.benchmark_group(group);

    let sem = taskgroup::Semaphore::new(0);
    drop_requeue_line(&mut g, "taskgroup", n, n / 2, || sem.acquire());
    drop_requeue_line(&mut g, "taskgroup_front", n, 0, || sem.acquire());

    let sem = tokio::sync::Semaphore::new(0);
    drop_requeue_line(&mut g, "tokio", n, n / 2, || sem.acquire());
    drop_requeue_line(&mut g, "tokio_front", n, 0, || sem.acquire());

    let sem = async_lock::Semaphore::new(0);
    drop_requeue_line(&mut g, "async_lock", n, n / 2, || sem.acquire());
    drop_requeue_line(&mut g, "async_lock_front", n, 0, || sem.acquire());

    g.finish();
}

fn queued_repoll_1k(c: &mut Criterion) {
    queued_repoll(c, "queued_repoll_1k", 1_000);
}

fn queued_repoll_100k(c: &mut Criterion) {
    queued_repoll(c, "queued_repoll_100k", 100_000);
}

fn queued_drop_requeue_1k(c: &mut Criterion) {
    queued_drop_requeue(c, "queued_drop_requeue_1k", 1_000);
}

fn queued_drop_requeue_100k(c: &mut Criterion) {
    queued_drop_requeue(c, "queued_drop_requeue_100k", 100_000);
}

criterion_group!(
    benches,
    uncontended_try_acquire,
    uncontended_acquire_await,
    contended_tokio_mt_64x4,
    weighted_tokio_mt,
    contended_smol,
    queued_repoll_1k,
    queued_repoll_100k,
    queued_drop_requeue_1k,
    queued_drop_requeue_100k
);
criterion_main!(benches);
