//! `AsyncWaitGroup` against the wait groups people reach for today.
//!
//! Run with `cargo bench --bench wait_group`; a criterion filter picks a scenario, e.g.
//! `cargo bench --bench wait_group -- wake_1000_waiters`.
//!
//! Every scenario is one criterion group with taskgroup and each peer side by side. Each peer
//! uses the API its crate offers closest to Go's `Add`/`Done`/`Wait`:
//!
//! | crate | add + done | wait |
//! | --- | --- | --- |
//! | taskgroup | `add(1)` + `done()`, or `guard()` + drop | `wait().await` (any number of waiters) |
//! | crossbeam-utils | `clone()` + drop | `wait(self)`, blocking, one waiter |
//! | awaitgroup | `worker()` + `done()` | `wait(&mut self).await`, one waker slot |
//! | wg (`WaitGroup`) | `add(1)` + `done()`, mutex + condvar | `wait(&self)`, blocking |
//! | wg (`future::WaitGroup`) | `add(1)` + `done()`, atomic + event-listener | `wait().await` (any number) |
//! | waitgroup | `worker()` + drop | `wait(self).await`, one waker slot |
//! | tokio-util | `TaskTracker::token()` + drop | `close()` + `wait().await` (any number) |
//!
//! wg's async group sits behind its `future` feature, which the dev-dependency enables.

use std::future::{poll_fn, ready, Future};
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use taskgroup::{AsyncWaitGroup, TimeoutExt};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::task::TaskTracker;

/// Tasks spawned per iteration of `spawn_10k_guards_tokio_mt`.
const TASKS: usize = 10_000;
/// Waiters per iteration of `wake_1000_waiters`.
const WAITERS: usize = 1_000;

/// The multi-thread runtime of the spawning scenarios: 2 workers, the size of the CI machine.
/// The benchmark body runs in `block_on` on the main thread, so the workers run the tasks.
fn multi_thread_runtime() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// One add + one done with nobody waiting: the cost every spawned task pays.
///
/// The floor is the two atomic read-modify-writes any counter needs. In the main lines every
/// group holds one other unit of outstanding work, so the pair goes 1 -> 2 -> 1, the state a
/// group is in while a batch runs (crossbeam's and waitgroup's handles count themselves, so they
/// are always there). The guard-style peers also clone and drop an `Arc` (two more RMWs) and are
/// best compared with taskgroup's `guard()` line. The `_to_zero` lines start from an empty group,
/// so every `done()` takes the zero path with no waiter: the price of the last `done()` of a
/// batch.
fn add_done_uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("add_done_uncontended");

    let atomic = AtomicUsize::new(0);
    g.bench_function("floor_atomic_add_sub", |b| {
        b.iter(|| {
            black_box(&atomic).fetch_add(1, Ordering::Relaxed);
            black_box(&atomic).fetch_sub(1, Ordering::Release);
        })
    });

    let wg = AsyncWaitGroup::new();
    let held = wg.guard();
    g.bench_function("taskgroup_add_done", |b| {
        b.iter(|| {
            black_box(&wg).add(1);
            black_box(&wg).done();
        })
    });
    g.bench_function("taskgroup_guard_drop", |b| {
        b.iter(|| drop(black_box(&wg).guard()))
    });
    drop(held);
    // A guard on an empty group is the first and the last: it also takes and gives back the
    // group's keep-alive (an `Arc` count), the price of the guard that ends a batch.
    g.bench_function("taskgroup_guard_drop_to_zero", |b| {
        b.iter(|| drop(black_box(&wg).guard()))
    });
    g.bench_function("taskgroup_add_done_to_zero", |b| {
        b.iter(|| {
            black_box(&wg).add(1);
            black_box(&wg).done();
        })
    });

    // Each clone counts one, each drop is its done; the group's own handle counts too.
    let cb = crossbeam_utils::sync::WaitGroup::new();
    g.bench_function("crossbeam_clone_drop", |b| {
        b.iter(|| drop(black_box(&cb).clone()))
    });

    let ag = awaitgroup::WaitGroup::new();
    let held = ag.worker();
    g.bench_function("awaitgroup_worker_done", |b| {
        b.iter(|| black_box(&ag).worker().done())
    });
    held.done();
    g.bench_function("awaitgroup_worker_done_to_zero", |b| {
        b.iter(|| black_box(&ag).worker().done())
    });

    // `add` returns a handle (an `Arc` clone) to move into the worker; `done` goes through the
    // handle, as wg's docs do.
    let wgs = wg::WaitGroup::new();
    let held = wgs.add(1);
    g.bench_function("wg_add_done", |b| b.iter(|| black_box(&wgs).add(1).done()));
    held.done();
    g.bench_function("wg_add_done_to_zero", |b| {
        b.iter(|| black_box(&wgs).add(1).done())
    });

    // The async group, same handle-returning `add`.
    let wgf = wg::future::WaitGroup::new();
    let held = wgf.add(1);
    g.bench_function("wg_future_add_done", |b| {
        b.iter(|| black_box(&wgf).add(1).done())
    });
    held.done();
    g.bench_function("wg_future_add_done_to_zero", |b| {
        b.iter(|| black_box(&wgf).add(1).done())
    });

    // A worker is an `Arc` clone; the group is done when the last one is dropped.
    let wgp = waitgroup::WaitGroup::new();
    g.bench_function("waitgroup_worker_drop", |b| {
        b.iter(|| drop(black_box(&wgp).worker()))
    });

    // An open tracker never notifies; a closed one notifies at every return to zero.
    let tracker = TaskTracker::new();
    let held = tracker.token();
    g.bench_function("tokio_util_token_drop", |b| {
        b.iter(|| drop(black_box(&tracker).token()))
    });
    drop(held);
    tracker.close();
    g.bench_function("tokio_util_token_drop_to_zero_closed", |b| {
        b.iter(|| drop(black_box(&tracker).token()))
    });

    g.finish();
}

/// The Go idiom at scale: spawn 10 000 trivial tasks, each counted in the group, then one waiter
/// waits for all of them. Spawning dominates, so this shows whether the group adds anything
/// measurable on top; every peer spawns the same tasks on the same runtime. The blocking groups
/// (crossbeam, wg) wait in `block_in_place` on the `block_on` thread, which is not a worker.
fn spawn_10k_guards_tokio_mt(c: &mut Criterion) {
    let rt = multi_thread_runtime();
    let mut g = c.benchmark_group("spawn_10k_guards_tokio_mt");
    g.sample_size(20);

    g.bench_function("taskgroup_guard", |b| {
        b.to_async(&rt).iter(|| async {
            let wg = AsyncWaitGroup::new();
            for i in 0..TASKS {
                let guard = wg.guard();
                tokio::spawn(async move {
                    black_box(i);
                    drop(guard);
                });
            }
            wg.wait().await;
        })
    });

    g.bench_function("tokio_util_task_tracker", |b| {
        b.to_async(&rt).iter(|| async {
            let tracker = TaskTracker::new();
            for i in 0..TASKS {
                tracker.spawn(async move {
                    black_box(i);
                });
            }
            tracker.close();
            tracker.wait().await;
        })
    });

    // No group at all: tokio's own structured set, joined one by one.
    g.bench_function("tokio_join_set", |b| {
        b.to_async(&rt).iter(|| async {
            let mut set = JoinSet::new();
            for i in 0..TASKS {
                set.spawn(async move {
                    black_box(i);
                });
            }
            while let Some(res) = set.join_next().await {
                res.expect("task panicked");
            }
        })
    });

    g.bench_function("awaitgroup_worker", |b| {
        b.to_async(&rt).iter(|| async {
            let mut wg = awaitgroup::WaitGroup::new();
            for i in 0..TASKS {
                let worker = wg.worker();
                tokio::spawn(async move {
                    black_box(i);
                    worker.done();
                });
            }
            wg.wait().await;
        })
    });

    g.bench_function("waitgroup_worker", |b| {
        b.to_async(&rt).iter(|| async {
            let wg = waitgroup::WaitGroup::new();
            for i in 0..TASKS {
                let worker = wg.worker();
                tokio::spawn(async move {
                    black_box(i);
                    drop(worker);
                });
            }
            wg.wait().await;
        })
    });

    g.bench_function("wg_future_wait", |b| {
        b.to_async(&rt).iter(|| async {
            let wg = wg::future::WaitGroup::new();
            for i in 0..TASKS {
                let handle = wg.add(1);
                tokio::spawn(async move {
                    black_box(i);
                    handle.done();
                });
            }
            wg.wait().await;
        })
    });

    g.bench_function("wg_blocking_wait", |b| {
        b.to_async(&rt).iter(|| async {
            let wg = wg::WaitGroup::new();
            for i in 0..TASKS {
                let handle = wg.add(1);
                tokio::spawn(async move {
                    black_box(i);
                    handle.done();
                });
            }
            tokio::task::block_in_place(|| wg.wait());
        })
    });

    g.bench_function("crossbeam_blocking_wait", |b| {
        b.to_async(&rt).iter(|| async {
            let wg = crossbeam_utils::sync::WaitGroup::new();
            for i in 0..TASKS {
                let member = wg.clone();
                tokio::spawn(async move {
                    black_box(i);
                    drop(member);
                });
            }
            tokio::task::block_in_place(|| wg.wait());
        })
    });

    g.finish();
}

/// The broadcast side: 1 000 tasks wait on one group, then the last `done()` wakes them all.
///
/// Timed from that last `done()` until every waiter has finished (joined through its
/// `JoinHandle`, the same for every line). Before the clock starts, each waiter reports through
/// [`Registered`] that its wait returned `Pending` once, so all 1 000 are registered and really
/// woken, with no sleeping. Spawning the waiters and waiting for their registration is untimed.
///
/// Left out, because their wait admits a single waiter: awaitgroup (`wait(&mut self)` and one
/// waker slot), waitgroup (`wait(self)` consumes the group, one `AtomicWaker`), crossbeam
/// (`wait(self)`, blocking), and wg's blocking group (1 000 blocked threads measure the thread
/// pool, not the group). `tokio_watch` is a broadcast with no counter: the floor of waking many.
fn wake_1000_waiters(c: &mut Criterion) {
    let rt = multi_thread_runtime();
    let mut g = c.benchmark_group("wake_1000_waiters");
    g.sample_size(30);

    g.bench_function("taskgroup", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            timed_wakes(iters, |reg| {
                let wg = AsyncWaitGroup::new();
                let work = wg.guard();
                let waiters = (0..WAITERS)
                    .map(|_| {
                        let (wg, reg) = (wg.clone(), reg.clone());
                        tokio::spawn(async move { reg.track(wg.wait()).await })
                    })
                    .collect();
                (move || drop(work), waiters)
            })
        })
    });

    g.bench_function("tokio_util_task_tracker", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            timed_wakes(iters, |reg| {
                let tracker = TaskTracker::new();
                let work = tracker.token();
                tracker.close();
                let waiters = (0..WAITERS)
                    .map(|_| {
                        let (tracker, reg) = (tracker.clone(), reg.clone());
                        tokio::spawn(async move { reg.track(tracker.wait()).await })
                    })
                    .collect();
                (move || drop(work), waiters)
            })
        })
    });

    g.bench_function("wg_future", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            timed_wakes(iters, |reg| {
                let wg = wg::future::WaitGroup::new();
                let work = wg.add(1);
                let waiters = (0..WAITERS)
                    .map(|_| {
                        let (wg, reg) = (wg.clone(), reg.clone());
                        tokio::spawn(async move { reg.track(wg.wait()).await })
                    })
                    .collect();
                (
                    move || {
                        work.done();
                    },
                    waiters,
                )
            })
        })
    });

    g.bench_function("tokio_watch", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            timed_wakes(iters, |reg| {
                let (tx, rx) = tokio::sync::watch::channel(1usize);
                let waiters = (0..WAITERS)
                    .map(|_| {
                        let (mut rx, reg) = (rx.clone(), reg.clone());
                        tokio::spawn(async move {
                            let zero = reg.track(rx.wait_for(|&n| n == 0)).await;
                            zero.expect("sender alive");
                        })
                    })
                    .collect();
                (move || tx.send(0).expect("waiters alive"), waiters)
            })
        })
    });

    g.finish();
}

/// Counts the waiters whose wait has returned `Pending` once, i.e. that are registered with
/// their group, and tells the benchmark when all of them are.
struct Registered {
    count: AtomicUsize,
    all: Notify,
}

impl Registered {
    /// Polls `wait` as usual, counting it the first time it is pending.
    async fn track<F: Future>(&self, wait: F) -> F::Output {
        let mut wait = pin!(wait);
        let mut counted = false;
        poll_fn(|cx| {
            let poll = wait.as_mut().poll(cx);
            if poll.is_pending() && !counted {
                counted = true;
                if self.count.fetch_add(1, Ordering::AcqRel) + 1 == WAITERS {
                    self.all.notify_one();
                }
            }
            poll
        })
        .await
    }
}

/// Runs `iters` cycles of: `setup` spawns the waiters and returns the last `done()`; once all
/// waiters are registered, time that `done()` and the join of every waiter.
async fn timed_wakes<D: FnOnce()>(
    iters: u64,
    mut setup: impl FnMut(Arc<Registered>) -> (D, Vec<JoinHandle<()>>),
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let reg = Arc::new(Registered {
            count: AtomicUsize::new(0),
            all: Notify::new(),
        });
        let (last_done, waiters) = setup(reg.clone());
        reg.all.notified().await;
        let start = Instant::now();
        last_done();
        for waiter in waiters {
            waiter.await.expect("waiter panicked");
        }
        total += start.elapsed();
    }
    total
}

/// A timeout around a future that is ready at once, the common case of `wg.wait().timeout(d)`
/// on a finished group. taskgroup polls the future first and arms no timer; tokio's `timeout`
/// reads the clock and fetches the runtime's timer handle when it is created. Both are awaited
/// the same way: many iterations inside one `block_on` of a current-thread runtime.
fn timeout_ready_future(c: &mut Criterion) {
    let rt = Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
    let mut g = c.benchmark_group("timeout_ready_future");
    let limit = Duration::from_secs(1);

    g.bench_function("floor_ready_await", |b| {
        b.to_async(&rt).iter(|| ready(black_box(1)))
    });
    // Criterion black-boxes each output; both are `Ok(1)`.
    g.bench_function("taskgroup_timeout", |b| {
        b.to_async(&rt)
            .iter(|| ready(black_box(1)).timeout(black_box(limit)))
    });
    g.bench_function("tokio_timeout", |b| {
        b.to_async(&rt)
            .iter(|| tokio::time::timeout(black_box(limit), ready(black_box(1))))
    });

    g.finish();
}

criterion_group!(
    benches,
    add_done_uncontended,
    spawn_10k_guards_tokio_mt,
    wake_1000_waiters,
    timeout_ready_future
);
criterion_main!(benches);
