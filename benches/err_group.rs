//! `ErrGroup` against the ways people run a batch of fallible futures today.
//!
//! Run with `cargo bench --bench err_group`; a criterion filter picks a scenario, e.g.
//! `cargo bench --bench err_group -- limit8_10k`.
//!
//! Every scenario is one criterion group with taskgroup and each peer side by side, on the same
//! input and the same driver. One iteration is the whole batch: build the group (or the
//! collection of futures, or spawn the tasks), then await the result; construction is timed for
//! every line.
//!
//! | crate | form | order of the values | first error | limit |
//! | --- | --- | --- | --- | --- |
//! | taskgroup | `ErrGroup::new()` (local) / `with_spawner` (parallel) + `wait()` | spawn order | drops (local) or aborts (parallel) the rest, returns once all are gone | `with_limit(n)` |
//! | futures | `try_join_all` | input order | returns at once; the rest drop with it | none |
//! | futures | `FuturesUnordered` + `TryStreamExt::try_collect` | completion order | as `try_join_all` | none |
//! | futures | `stream::iter(..).buffer_unordered(n)` / `buffered(n)` | completion / input order | as `try_join_all` | `n` |
//! | futures-buffered | `try_join_all` | input order | as `try_join_all` | none |
//! | futures-buffered | `stream::iter(..).buffered_ordered(n)` + `try_collect` | input order | as `try_join_all` | `n` |
//! | futures-buffered | `join_all` over `tokio::spawn` handles (parallel) | input order | none: waits for every task (dropping it detaches them) | none |
//! | tokio | `JoinSet` + `join_next` loop, put back by index | by index (hand-written) | hand-written `abort_all()` + drain | none |
//! | tokio | `Vec<JoinHandle>` + futures' `try_join_all` (parallel) | input order | none: waits for every task (dropping it detaches them) | none |
//!
//! futures-buffered is here because it is the fastest of these combinators a user can pick (one
//! allocation for the whole batch instead of one per future; issue 15): taskgroup is compared
//! with the fastest peers, not only the famous ones. Line names: `futures_*` is the futures
//! crate, `futures_buffered_*` the futures-buffered crate; `futures_buffered` alone (in the limit
//! scenarios) is the futures crate's `buffered`.
//!
//! | scenario | tasks | driver | lines |
//! | --- | --- | --- | --- |
//! | `ready_10k_local` | 10 000 `async move { Ok(i) }` | tokio current-thread | taskgroup, futures `try_join_all`, futures-buffered `try_join_all`, `FuturesUnordered` |
//! | `yield_once_10k_local` | 10 000 × yield once, `Ok(i)` | `futures::executor::block_on` | taskgroup, futures `try_join_all`, futures-buffered `try_join_all`, `FuturesUnordered` |
//! | `limit8_10k` | 10 000 × yield once, `Ok(i)`, 8 at a time | tokio current-thread | taskgroup `with_limit(8)`, futures `buffer_unordered` / `buffered` |
//! | `limit64_yield_once_10k_local` | 10 000 × yield once, `Ok(i)`, 64 at a time | `futures::executor::block_on` | taskgroup `with_limit(64)`, futures `buffered`, futures-buffered `buffered_ordered` |
//! | `small_10k_parallel_mt` | 10 000 × [`small_work`] | tokio, 2 workers | taskgroup `with_spawner`, `JoinSet` by index, handles + futures `try_join_all`, handles + futures-buffered `join_all` |
//! | `cancel_10k_pending_local` | 10 000 pending + 1 failing | tokio current-thread | taskgroup, futures `try_join_all`, `FuturesUnordered` |
//! | `cancel_10k_pending_mt` | 10 000 pending + 1 failing | tokio, 2 workers | taskgroup `with_spawner`, `JoinSet` + `abort_all()`, `Vec<JoinHandle>` + `abort()` each |
//!
//! The local scenarios run on a tokio current-thread runtime (`b.to_async`), which polls the
//! whole batch as one future, as `futures::executor::block_on` would; the two yield-once
//! scenarios added for issue 15 (`yield_once_10k_local`, `limit64_yield_once_10k_local`) run
//! under `futures::executor::block_on` itself, so that no runtime stands between the batch and
//! its self-waking tasks (a wake-up there only sets a flag of the blocked thread).
//! The parallel scenarios run on a 2-worker multi-thread runtime; the benchmark body runs in
//! `block_on` on the main thread, so it spawns and waits while the workers run the tasks.

use std::future::{pending, Future};
use std::hint::black_box;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use criterion::{criterion_group, criterion_main, Criterion};
use futures::executor::block_on;
use futures::future::try_join_all;
use futures::stream::{self, FuturesUnordered, StreamExt, TryStreamExt};
use futures_buffered::BufferedStreamExt;
use taskgroup::{ErrGroup, FanOutExt};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::Notify;
use tokio::task::JoinSet;

#[path = "common/interleaved.rs"]
mod interleaved;
use interleaved::{interleaved_group, Line};

/// Tasks per iteration in every scenario.
const TASKS: usize = 10_000;
/// Rounds of the LCG in [`small_work`]: a few dozen nanoseconds of dependent arithmetic.
const WORK_ROUNDS: usize = 32;
/// The concurrency cap of `limit8_10k`.
const LIMIT: usize = 8;
/// The concurrency cap of `limit64_yield_once_10k_local`.
const LIMIT_64: usize = 64;

/// The crate's typed path for tasks of one type: `fan_out_ordered(limit, f).try_collect()`, on
/// the same engine as the local `ErrGroup` but with no box per task (values in input order, the
/// first error drops the rest). The `taskgroup_fan_out_ordered` lines.
async fn fan_out_ordered_try_collect<F, Fut>(limit: usize, f: F) -> Result<Vec<u64>, ()>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<u64, ()>>,
{
    stream::iter(0..TASKS as u64)
        .fan_out_ordered(limit, f)
        .try_collect()
        .await
}

/// A task boxed as a heterogeneous group holds it: what a user of futures-buffered writes to
/// await different async blocks together (the `_boxed` lines), the like-for-like peer of
/// `ErrGroup`, whose `spawn` boxes each task for the same reason.
type BoxedTask = Pin<Box<dyn Future<Output = Result<u64, ()>> + Send>>;

/// The error of the failing task in `cancel_10k_pending_*`.
#[derive(Debug, PartialEq)]
struct Failed;

/// The runtime of the local scenarios: one thread, which polls the batch future.
fn current_thread_runtime() -> Runtime {
    Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The runtime of the parallel scenarios: 2 workers, the size of the CI machine.
fn multi_thread_runtime() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Returns `Pending` once, after waking its own waker, then `Ready`: one trip through whatever
/// polls it, with no runtime involved (unlike `tokio::task::yield_now`, which defers its wake-up
/// to the runtime).
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn yield_once() -> YieldOnce {
    YieldOnce(false)
}

/// The task of `yield_once_10k_local` and `limit64_yield_once_10k_local`, the same for every
/// line: yield once, then `Ok(i)`.
async fn yield_once_ok(i: u64) -> Result<u64, ()> {
    yield_once().await;
    Ok(i)
}

/// The body of the small tasks of `small_10k_parallel_mt`: a chain of dependent multiply-adds.
#[inline(never)]
fn small_work(i: usize) -> u64 {
    let mut x = black_box(i as u64);
    for _ in 0..WORK_ROUNDS {
        x = black_box(
            x.wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407),
        );
    }
    x
}

/// Checks a batch's values: `0..TASKS` in input order, or in any order when `ordered` is false.
fn check_values(mut values: Vec<u64>, ordered: bool) {
    if !ordered {
        values.sort_unstable();
    }
    assert!(
        values.iter().copied().eq(0..TASKS as u64),
        "wrong values (ordered: {ordered})"
    );
}

/// 10 000 futures that are ready at their first poll, `async move { Ok(i) }`: the pure
/// per-task overhead of the local form (a box, a slot, a report) against the futures crate's
/// combinators. Every line returns all 10 000 values; `FuturesUnordered` returns them in
/// completion order, which here is input order too, but the type does not promise it.
fn ready_10k_local(c: &mut Criterion) {
    let rt = current_thread_runtime();
    let mut g = c.benchmark_group("ready_10k_local");
    g.sample_size(20);

    async fn taskgroup() -> Result<Vec<u64>, ()> {
        let mut group = ErrGroup::new();
        for i in 0..TASKS as u64 {
            group.spawn(async move { Ok::<_, ()>(i) });
        }
        group.wait().await
    }
    async fn taskgroup_fan_out_ordered() -> Result<Vec<u64>, ()> {
        fan_out_ordered_try_collect(TASKS, |i| async move { Ok::<_, ()>(i) }).await
    }
    async fn futures_try_join_all() -> Result<Vec<u64>, ()> {
        try_join_all((0..TASKS as u64).map(|i| async move { Ok::<_, ()>(i) })).await
    }
    async fn futures_buffered_try_join_all() -> Result<Vec<u64>, ()> {
        futures_buffered::try_join_all((0..TASKS as u64).map(|i| async move { Ok::<_, ()>(i) }))
            .await
    }
    async fn futures_buffered_try_join_all_boxed() -> Result<Vec<u64>, ()> {
        futures_buffered::try_join_all(
            (0..TASKS as u64).map(|i| Box::pin(async move { Ok::<_, ()>(i) }) as BoxedTask),
        )
        .await
    }
    async fn futures_unordered_try_collect() -> Result<Vec<u64>, ()> {
        (0..TASKS as u64)
            .map(|i| async move { Ok::<_, ()>(i) })
            .collect::<FuturesUnordered<_>>()
            .try_collect()
            .await
    }

    check_values(rt.block_on(taskgroup()).expect("ok"), true);
    check_values(rt.block_on(taskgroup_fan_out_ordered()).expect("ok"), true);
    check_values(rt.block_on(futures_try_join_all()).expect("ok"), true);
    check_values(
        rt.block_on(futures_buffered_try_join_all()).expect("ok"),
        true,
    );
    check_values(
        rt.block_on(futures_buffered_try_join_all_boxed())
            .expect("ok"),
        true,
    );
    check_values(
        rt.block_on(futures_unordered_try_collect()).expect("ok"),
        false,
    );

    g.bench_function("taskgroup", |b| b.to_async(&rt).iter(taskgroup));
    g.bench_function("taskgroup_fan_out_ordered", |b| {
        b.to_async(&rt).iter(taskgroup_fan_out_ordered)
    });
    g.bench_function("futures_try_join_all", |b| {
        b.to_async(&rt).iter(futures_try_join_all)
    });
    g.bench_function("futures_buffered_try_join_all", |b| {
        b.to_async(&rt).iter(futures_buffered_try_join_all)
    });
    g.bench_function("futures_buffered_try_join_all_boxed", |b| {
        b.to_async(&rt).iter(futures_buffered_try_join_all_boxed)
    });
    g.bench_function("futures_unordered_try_collect", |b| {
        b.to_async(&rt).iter(futures_unordered_try_collect)
    });

    g.finish();
}

/// 10 000 tasks that each yield once ([`yield_once_ok`]) and then return `Ok(i)`, polled by the
/// batch future under `futures::executor::block_on`: the per-task overhead of the local form
/// when every task is polled twice, against the futures crate's combinators and futures-buffered's
/// `try_join_all`. Every line returns all 10 000 values; all but `FuturesUnordered` promise input
/// order.
fn yield_once_10k_local(c: &mut Criterion) {
    let mut g = c.benchmark_group("yield_once_10k_local");
    g.sample_size(20);

    async fn taskgroup() -> Result<Vec<u64>, ()> {
        let mut group = ErrGroup::new();
        for i in 0..TASKS as u64 {
            group.spawn(yield_once_ok(i));
        }
        group.wait().await
    }
    async fn taskgroup_fan_out_ordered() -> Result<Vec<u64>, ()> {
        fan_out_ordered_try_collect(TASKS, yield_once_ok).await
    }
    async fn futures_try_join_all() -> Result<Vec<u64>, ()> {
        try_join_all((0..TASKS as u64).map(yield_once_ok)).await
    }
    async fn futures_buffered_try_join_all() -> Result<Vec<u64>, ()> {
        futures_buffered::try_join_all((0..TASKS as u64).map(yield_once_ok)).await
    }
    async fn futures_buffered_try_join_all_boxed() -> Result<Vec<u64>, ()> {
        futures_buffered::try_join_all(
            (0..TASKS as u64).map(|i| Box::pin(yield_once_ok(i)) as BoxedTask),
        )
        .await
    }
    async fn futures_unordered_try_collect() -> Result<Vec<u64>, ()> {
        (0..TASKS as u64)
            .map(yield_once_ok)
            .collect::<FuturesUnordered<_>>()
            .try_collect()
            .await
    }

    check_values(block_on(taskgroup()).expect("ok"), true);
    check_values(block_on(taskgroup_fan_out_ordered()).expect("ok"), true);
    check_values(block_on(futures_try_join_all()).expect("ok"), true);
    check_values(block_on(futures_buffered_try_join_all()).expect("ok"), true);
    check_values(
        block_on(futures_buffered_try_join_all_boxed()).expect("ok"),
        true,
    );
    check_values(
        block_on(futures_unordered_try_collect()).expect("ok"),
        false,
    );

    g.bench_function("taskgroup", |b| b.iter(|| block_on(taskgroup())));
    g.bench_function("taskgroup_fan_out_ordered", |b| {
        b.iter(|| block_on(taskgroup_fan_out_ordered()))
    });
    g.bench_function("futures_try_join_all", |b| {
        b.iter(|| block_on(futures_try_join_all()))
    });
    g.bench_function("futures_buffered_try_join_all", |b| {
        b.iter(|| block_on(futures_buffered_try_join_all()))
    });
    g.bench_function("futures_buffered_try_join_all_boxed", |b| {
        b.iter(|| block_on(futures_buffered_try_join_all_boxed()))
    });
    g.bench_function("futures_unordered_try_collect", |b| {
        b.iter(|| block_on(futures_unordered_try_collect()))
    });

    g.finish();
}

/// 10 000 small tasks ([`small_work`], then `Ok(value)`) spread over 2 workers, with the values
/// wanted in spawn order. taskgroup spawns each task through `tokio::spawn`; the `JoinSet` line
/// is what one writes by hand for the same result: each task returns its index with its value,
/// a `join_next` loop writes the values into a preallocated `Vec` and would `abort_all()` on an
/// error. `tokio_spawn_handles_in_order` awaits a `Vec<JoinHandle>` with `try_join_all`: in
/// order, but with no cancellation at all (an error does not stop the others, and dropping it
/// detaches them); it is the floor of spawning and joining, not an equivalent.
/// `futures_buffered_join_all_handles` is the same with futures-buffered's `join_all`, which
/// keeps the handles in one slab instead of a `FuturesOrdered`.
///
/// Measured in interleaved rounds (benches/common/interleaved.rs): measured one line after the
/// other, this multi-thread group swung with the VM's phases (`JoinSet` 3.9 ms in one run and
/// 5.9 ms in the next, with nothing changed).
fn small_10k_parallel_mt(c: &mut Criterion) {
    let rt = multi_thread_runtime();

    async fn taskgroup() -> Result<Vec<u64>, ()> {
        let mut group = ErrGroup::with_spawner(|f| {
            tokio::spawn(f);
        });
        for i in 0..TASKS {
            group.spawn(async move { Ok::<_, ()>(small_work(i)) });
        }
        group.wait().await
    }
    async fn tokio_join_set_by_index() -> Result<Vec<u64>, ()> {
        let mut set = JoinSet::new();
        for i in 0..TASKS {
            set.spawn(async move { (i, Ok::<_, ()>(small_work(i))) });
        }
        let mut values = vec![0; TASKS];
        while let Some(joined) = set.join_next().await {
            match joined.expect("task panicked") {
                (i, Ok(value)) => values[i] = value,
                (_, Err(error)) => {
                    set.abort_all();
                    while set.join_next().await.is_some() {}
                    return Err(error);
                }
            }
        }
        Ok(values)
    }
    async fn tokio_spawn_handles_in_order() -> Result<Vec<u64>, ()> {
        let handles = (0..TASKS).map(|i| tokio::spawn(async move { Ok::<_, ()>(small_work(i)) }));
        let results = try_join_all(handles).await.expect("task panicked");
        results.into_iter().collect()
    }
    async fn futures_buffered_join_all_handles() -> Result<Vec<u64>, ()> {
        let handles = (0..TASKS).map(|i| tokio::spawn(async move { Ok::<_, ()>(small_work(i)) }));
        futures_buffered::join_all(handles)
            .await
            .into_iter()
            .map(|joined| joined.expect("task panicked"))
            .collect()
    }

    let expected: Vec<u64> = (0..TASKS).map(small_work).collect();
    assert_eq!(rt.block_on(taskgroup()), Ok(expected.clone()));
    assert_eq!(rt.block_on(tokio_join_set_by_index()), Ok(expected.clone()));
    assert_eq!(
        rt.block_on(tokio_spawn_handles_in_order()),
        Ok(expected.clone())
    );
    assert_eq!(
        rt.block_on(futures_buffered_join_all_handles()),
        Ok(expected)
    );

    let lines: Vec<Line<'_>> = vec![
        (
            "taskgroup",
            Box::new(|| drop(black_box(rt.block_on(taskgroup())))),
        ),
        (
            "tokio_join_set_by_index",
            Box::new(|| drop(black_box(rt.block_on(tokio_join_set_by_index())))),
        ),
        (
            "tokio_spawn_handles_in_order",
            Box::new(|| drop(black_box(rt.block_on(tokio_spawn_handles_in_order())))),
        ),
        (
            "futures_buffered_join_all_handles",
            Box::new(|| drop(black_box(rt.block_on(futures_buffered_join_all_handles())))),
        ),
    ];
    interleaved_group(c, "small_10k_parallel_mt", lines);
}

/// 10 000 tasks that never finish (`std::future::pending()`) and one that fails, polled by the
/// batch future itself. The failing task comes first and yields once before it returns `Err`,
/// so every pending task has been polled once (each driver here polls in input order) when the
/// error comes.
///
/// It comes first because `try_join_all` over more than 30 futures collects a `FuturesOrdered`
/// and so only sees results in input order: an error behind a future that never finishes is
/// never seen, and with the failing task last it hangs. taskgroup and `FuturesUnordered` stop at
/// the first error wherever it is.
///
/// Timed: building the batch, polling all 10 001 futures, the error, and dropping the 10 000
/// pending futures; every line has dropped them all when its future returns (taskgroup inside
/// `wait()`, the futures combinators when the awaited future is dropped at the end of the
/// `.await`).
fn cancel_10k_pending_local(c: &mut Criterion) {
    let rt = current_thread_runtime();
    let mut g = c.benchmark_group("cancel_10k_pending_local");
    g.sample_size(20);

    async fn fail_after_yield() -> Result<u64, Failed> {
        yield_once().await;
        Err(Failed)
    }
    async fn taskgroup() -> Result<Vec<u64>, Failed> {
        let mut group = ErrGroup::new();
        group.spawn(fail_after_yield());
        for _ in 0..TASKS {
            group.spawn(pending());
        }
        group.wait().await
    }
    /// The same tasks as one type, for the homogeneous collections of the futures crate.
    async fn task(i: usize) -> Result<u64, Failed> {
        if i == 0 {
            fail_after_yield().await
        } else {
            pending().await
        }
    }
    async fn futures_try_join_all() -> Result<Vec<u64>, Failed> {
        try_join_all((0..=TASKS).map(task)).await
    }
    async fn futures_unordered_try_collect() -> Result<Vec<u64>, Failed> {
        (0..=TASKS)
            .map(task)
            .collect::<FuturesUnordered<_>>()
            .try_collect()
            .await
    }

    assert_eq!(rt.block_on(taskgroup()), Err(Failed));
    assert_eq!(rt.block_on(futures_try_join_all()), Err(Failed));
    assert_eq!(rt.block_on(futures_unordered_try_collect()), Err(Failed));

    g.bench_function("taskgroup", |b| b.to_async(&rt).iter(taskgroup));
    g.bench_function("futures_try_join_all", |b| {
        b.to_async(&rt).iter(futures_try_join_all)
    });
    g.bench_function("futures_unordered_try_collect", |b| {
        b.to_async(&rt).iter(futures_unordered_try_collect)
    });

    g.finish();
}

/// Counts the pending tasks of `cancel_10k_pending_mt` that have started, and lets the failing
/// task through once all of them have.
struct Started {
    count: AtomicUsize,
    all: Notify,
}

impl Started {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            count: AtomicUsize::new(0),
            all: Notify::new(),
        })
    }

    /// A task that counts itself as started at its first poll, then never finishes.
    async fn pending_task(self: Arc<Self>) -> Result<u64, Failed> {
        if self.count.fetch_add(1, Ordering::AcqRel) + 1 == TASKS {
            self.all.notify_one();
        }
        drop(self);
        pending().await
    }

    /// A task that fails once every pending task has started.
    async fn failing_task(self: Arc<Self>) -> Result<u64, Failed> {
        self.all.notified().await;
        Err(Failed)
    }
}

/// The parallel form of `cancel_10k_pending_local`: 10 000 pending tasks and one failing task
/// on 2 workers, against a `JoinSet` whose `join_next` loop calls `abort_all()` at the first
/// error and then drains the set, and a `Vec<JoinHandle>` whose handles are aborted one by
/// one. The failing task is spawned first, as in the local scenario. On several workers,
/// yielding once would not make it wait for the others, so here it waits until all 10 000 have
/// been polled once (a counter and a `Notify`, the same for every line).
///
/// Timed: spawning the 10 001 tasks, their first polls, the error, and the cancellation of the
/// 10 000 pending tasks; every line returns only once every task is gone (taskgroup's `wait()`
/// by design, the `JoinSet` by its drain, the `Vec` by awaiting each aborted handle).
fn cancel_10k_pending_mt(c: &mut Criterion) {
    let rt = multi_thread_runtime();

    async fn taskgroup() -> Result<Vec<u64>, Failed> {
        let started = Started::new();
        let mut group = ErrGroup::with_spawner(|f| {
            tokio::spawn(f);
        });
        group.spawn(started.clone().failing_task());
        for _ in 0..TASKS {
            group.spawn(started.clone().pending_task());
        }
        group.wait().await
    }
    async fn tokio_join_set_abort_all() -> Result<Vec<u64>, Failed> {
        let started = Started::new();
        let mut set = JoinSet::new();
        set.spawn(started.clone().failing_task());
        for _ in 0..TASKS {
            set.spawn(started.clone().pending_task());
        }
        // The pending tasks never finish, so the first task to join is the failing one.
        let error = match set.join_next().await {
            Some(Ok(Err(error))) => error,
            Some(Ok(Ok(_))) => unreachable!("no task succeeds"),
            Some(Err(error)) => panic!("task failed to join: {error}"),
            None => unreachable!("a task fails"),
        };
        set.abort_all();
        while let Some(joined) = set.join_next().await {
            assert!(joined.expect_err("aborted").is_cancelled());
        }
        Err(error)
    }

    // The leanest hand-written form: a `Vec<JoinHandle>` awaited in order (the failing task is
    // the first), then every other handle aborted and awaited, so that it too returns only once
    // every task is gone.
    async fn vec_join_handle_abort() -> Result<Vec<u64>, Failed> {
        let started = Started::new();
        let mut handles = Vec::with_capacity(TASKS + 1);
        handles.push(tokio::spawn(started.clone().failing_task()));
        for _ in 0..TASKS {
            handles.push(tokio::spawn(started.clone().pending_task()));
        }
        let mut handles = handles.into_iter();
        let first = handles.next().expect("the failing task");
        let error = first.await.expect("no panic").expect_err("it fails");
        let rest: Vec<_> = handles.inspect(|handle| handle.abort()).collect();
        for handle in rest {
            assert!(handle.await.expect_err("aborted").is_cancelled());
        }
        Err(error)
    }

    assert_eq!(rt.block_on(taskgroup()), Err(Failed));
    assert_eq!(rt.block_on(tokio_join_set_abort_all()), Err(Failed));
    assert_eq!(rt.block_on(vec_join_handle_abort()), Err(Failed));

    // Interleaved rounds, as `small_10k_parallel_mt` (it swung as much: 0.55x to 1.09x).
    let lines: Vec<Line<'_>> = vec![
        (
            "taskgroup",
            Box::new(|| drop(black_box(rt.block_on(taskgroup())))),
        ),
        (
            "tokio_join_set_abort_all",
            Box::new(|| drop(black_box(rt.block_on(tokio_join_set_abort_all())))),
        ),
        (
            "vec_join_handle_abort",
            Box::new(|| drop(black_box(rt.block_on(vec_join_handle_abort())))),
        ),
    ];
    interleaved_group(c, "cancel_10k_pending_mt", lines);
}

/// 10 000 tasks that each yield once, at most 8 at a time (Go's `SetLimit(8)`), polled by the
/// batch future. taskgroup queues all 10 000 (boxed) up front and starts the next in spawn order
/// as one finishes; the futures lines create each future lazily from the iterator when there is
/// room. `buffered` keeps input order like taskgroup, `buffer_unordered` does not.
fn limit8_10k(c: &mut Criterion) {
    let rt = current_thread_runtime();
    let mut g = c.benchmark_group("limit8_10k");
    g.sample_size(20);

    async fn task(i: u64) -> Result<u64, ()> {
        yield_once().await;
        Ok(i)
    }
    async fn taskgroup() -> Result<Vec<u64>, ()> {
        let mut group = ErrGroup::new().with_limit(LIMIT);
        for i in 0..TASKS as u64 {
            group.spawn(task(i));
        }
        group.wait().await
    }
    async fn futures_buffer_unordered() -> Result<Vec<u64>, ()> {
        stream::iter(0..TASKS as u64)
            .map(task)
            .buffer_unordered(LIMIT)
            .try_collect()
            .await
    }
    async fn futures_buffered() -> Result<Vec<u64>, ()> {
        stream::iter(0..TASKS as u64)
            .map(task)
            .buffered(LIMIT)
            .try_collect()
            .await
    }

    check_values(rt.block_on(taskgroup()).expect("ok"), true);
    check_values(rt.block_on(futures_buffer_unordered()).expect("ok"), false);
    check_values(rt.block_on(futures_buffered()).expect("ok"), true);

    g.bench_function("taskgroup", |b| b.to_async(&rt).iter(taskgroup));
    g.bench_function("futures_buffer_unordered", |b| {
        b.to_async(&rt).iter(futures_buffer_unordered)
    });
    g.bench_function("futures_buffered", |b| {
        b.to_async(&rt).iter(futures_buffered)
    });

    g.finish();
}

/// 10 000 tasks that each yield once ([`yield_once_ok`]), at most 64 at a time, polled by the
/// batch future under `futures::executor::block_on`, values in input order on every line.
/// taskgroup queues all 10 000 (boxed) up front; the stream lines create each future lazily
/// from the iterator when there is room: the futures crate's `buffered(64)` (a
/// `FuturesOrdered`, one allocation per future) and futures-buffered's `buffered_ordered(64)`
/// (a bounded slab of 64 slots, allocated once).
fn limit64_yield_once_10k_local(c: &mut Criterion) {
    let mut g = c.benchmark_group("limit64_yield_once_10k_local");
    g.sample_size(20);

    async fn taskgroup() -> Result<Vec<u64>, ()> {
        let mut group = ErrGroup::new().with_limit(LIMIT_64);
        for i in 0..TASKS as u64 {
            group.spawn(yield_once_ok(i));
        }
        group.wait().await
    }
    async fn taskgroup_fan_out_ordered() -> Result<Vec<u64>, ()> {
        fan_out_ordered_try_collect(LIMIT_64, yield_once_ok).await
    }
    async fn futures_buffered() -> Result<Vec<u64>, ()> {
        stream::iter(0..TASKS as u64)
            .map(yield_once_ok)
            .buffered(LIMIT_64)
            .try_collect()
            .await
    }
    async fn futures_buffered_buffered_ordered() -> Result<Vec<u64>, ()> {
        stream::iter(0..TASKS as u64)
            .map(yield_once_ok)
            .buffered_ordered(LIMIT_64)
            .try_collect()
            .await
    }
    async fn futures_buffered_buffered_ordered_boxed() -> Result<Vec<u64>, ()> {
        stream::iter(0..TASKS as u64)
            .map(|i| Box::pin(yield_once_ok(i)) as BoxedTask)
            .buffered_ordered(LIMIT_64)
            .try_collect()
            .await
    }

    check_values(block_on(taskgroup()).expect("ok"), true);
    check_values(block_on(taskgroup_fan_out_ordered()).expect("ok"), true);
    check_values(block_on(futures_buffered()).expect("ok"), true);
    check_values(
        block_on(futures_buffered_buffered_ordered()).expect("ok"),
        true,
    );
    check_values(
        block_on(futures_buffered_buffered_ordered_boxed()).expect("ok"),
        true,
    );

    g.bench_function("taskgroup", |b| b.iter(|| block_on(taskgroup())));
    g.bench_function("taskgroup_fan_out_ordered", |b| {
        b.iter(|| block_on(taskgroup_fan_out_ordered()))
    });
    g.bench_function("futures_buffered", |b| {
        b.iter(|| block_on(futures_buffered()))
    });
    g.bench_function("futures_buffered_buffered_ordered", |b| {
        b.iter(|| block_on(futures_buffered_buffered_ordered()))
    });
    g.bench_function("futures_buffered_buffered_ordered_boxed", |b| {
        b.iter(|| block_on(futures_buffered_buffered_ordered_boxed()))
    });

    g.finish();
}

criterion_group!(
    benches,
    ready_10k_local,
    yield_once_10k_local,
    small_10k_parallel_mt,
    cancel_10k_pending_local,
    cancel_10k_pending_mt,
    limit8_10k,
    limit64_yield_once_10k_local
);
criterion_main!(benches);
