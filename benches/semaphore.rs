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

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use criterion::{criterion_group, criterion_main, Criterion};
use futures::task::noop_waker_ref;
use tokio::runtime::{Builder, Runtime};

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

/// 64 tasks share 4 permits; each takes a permit 100 times, yields once while holding it (so the
/// others queue up), and gives it back. One iteration is the whole batch: create the semaphore,
/// spawn the 64 tasks, join them (6 400 acquires, most of which wait).
fn contended_tokio_mt_64x4(c: &mut Criterion) {
    let rt = multi_thread_runtime();
    let mut g = c.benchmark_group("contended_tokio_mt_64x4");
    g.sample_size(20);

    g.bench_function("taskgroup", |b| {
        b.to_async(&rt).iter(|| async {
            let sem = Arc::new(taskgroup::Semaphore::new(PERMITS));
            tokio_batch(|_| {
                let sem = sem.clone();
                async move {
                    for _ in 0..ROUNDS {
                        let permit = sem.acquire().await.expect("open");
                        tokio::task::yield_now().await;
                        drop(permit);
                    }
                }
            })
            .await;
        })
    });

    g.bench_function("tokio", |b| {
        b.to_async(&rt).iter(|| async {
            let sem = Arc::new(tokio::sync::Semaphore::new(PERMITS));
            tokio_batch(|_| {
                let sem = sem.clone();
                async move {
                    for _ in 0..ROUNDS {
                        let permit = sem.acquire().await.expect("open");
                        tokio::task::yield_now().await;
                        drop(permit);
                    }
                }
            })
            .await;
        })
    });

    g.bench_function("async_lock", |b| {
        b.to_async(&rt).iter(|| async {
            let sem = Arc::new(async_lock::Semaphore::new(PERMITS));
            tokio_batch(|_| {
                let sem = sem.clone();
                async move {
                    for _ in 0..ROUNDS {
                        let permit = sem.acquire().await;
                        tokio::task::yield_now().await;
                        drop(permit);
                    }
                }
            })
            .await;
        })
    });

    // The owned forms, as a task that moves its permit elsewhere would use them.
    g.bench_function("taskgroup_owned", |b| {
        b.to_async(&rt).iter(|| async {
            let sem = Arc::new(taskgroup::Semaphore::new(PERMITS));
            tokio_batch(|_| {
                let sem = sem.clone();
                async move {
                    for _ in 0..ROUNDS {
                        let permit = sem.clone().acquire_owned().await.expect("open");
                        tokio::task::yield_now().await;
                        drop(permit);
                    }
                }
            })
            .await;
        })
    });

    g.bench_function("tokio_owned", |b| {
        b.to_async(&rt).iter(|| async {
            let sem = Arc::new(tokio::sync::Semaphore::new(PERMITS));
            tokio_batch(|_| {
                let sem = sem.clone();
                async move {
                    for _ in 0..ROUNDS {
                        let permit = sem.clone().acquire_owned().await.expect("open");
                        tokio::task::yield_now().await;
                        drop(permit);
                    }
                }
            })
            .await;
        })
    });

    g.bench_function("async_lock_arc", |b| {
        b.to_async(&rt).iter(|| async {
            let sem = Arc::new(async_lock::Semaphore::new(PERMITS));
            tokio_batch(|_| {
                let sem = sem.clone();
                async move {
                    for _ in 0..ROUNDS {
                        let permit = sem.acquire_arc().await;
                        tokio::task::yield_now().await;
                        drop(permit);
                    }
                }
            })
            .await;
        })
    });

    g.finish();
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
    let mut g = c.benchmark_group("weighted_tokio_mt");
    g.sample_size(20);

    g.bench_function("taskgroup", |b| {
        b.to_async(&rt).iter(|| async {
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
    });

    g.bench_function("tokio", |b| {
        b.to_async(&rt).iter(|| async {
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
    });

    g.finish();
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
    let mut g = c.benchmark_group("contended_smol");
    g.sample_size(20);

    g.bench_function("taskgroup", |b| {
        b.iter(|| {
            let sem = Arc::new(taskgroup::Semaphore::new(PERMITS));
            pool.batch(|_| {
                let sem = sem.clone();
                async move {
                    for _ in 0..ROUNDS {
                        let permit = sem.acquire().await.expect("open");
                        smol::future::yield_now().await;
                        drop(permit);
                    }
                }
            });
        })
    });

    g.bench_function("async_lock", |b| {
        b.iter(|| {
            let sem = Arc::new(async_lock::Semaphore::new(PERMITS));
            pool.batch(|_| {
                let sem = sem.clone();
                async move {
                    for _ in 0..ROUNDS {
                        let permit = sem.acquire().await;
                        smol::future::yield_now().await;
                        drop(permit);
                    }
                }
            });
        })
    });

    g.bench_function("tokio", |b| {
        b.iter(|| {
            let sem = Arc::new(tokio::sync::Semaphore::new(PERMITS));
            pool.batch(|_| {
                let sem = sem.clone();
                async move {
                    for _ in 0..ROUNDS {
                        let permit = sem.acquire().await.expect("open");
                        smol::future::yield_now().await;
                        drop(permit);
                    }
                }
            });
        })
    });

    g.finish();
    drop(pool);
}

criterion_group!(
    benches,
    uncontended_try_acquire,
    uncontended_acquire_await,
    contended_tokio_mt_64x4,
    weighted_tokio_mt,
    contended_smol
);
criterion_main!(benches);
