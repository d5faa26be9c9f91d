//! `FanOutExt` against the stream adapters people use for the same job today.
//!
//! Run with `cargo bench --bench fan_out`; a criterion filter picks a scenario, e.g.
//! `cargo bench --bench fan_out -- unordered_100k_yield_once`.
//!
//! Every scenario is one criterion group with taskgroup and each peer side by side, on the same
//! input, the same closure and the same consumer. One iteration is the whole stream: build it,
//! consume every output, check the result.
//!
//! | crate | unordered | ordered | spawned | refill of a finished slot |
//! | --- | --- | --- | --- | --- |
//! | taskgroup | `fan_out(n, f)` | `fan_out_ordered(n, f)` | `fan_out_spawned(n, spawn, f)` | in the poll that yields its output |
//! | futures | `map(f).buffer_unordered(n)` | `map(f).buffered(n)` | none | at the consumer's next poll |
//! | futures-buffered 0.2 | `map(f).buffered_unordered(n)` | `map(f).buffered_ordered(n)` | none | at the consumer's next poll |
//! | tokio | none | none | `JoinSet`, refilled by hand after each `join_next` | by hand |
//!
//! Scenarios:
//!
//! 1. `unordered_100k_yield_once`: 100 000 items, limit 64, each future yields once (a
//!    hand-written yield, no runtime involved) and returns its item; the consumer sums. The
//!    per-item overhead of the adapters, under `futures::executor::block_on` and inside a tokio
//!    current-thread runtime.
//! 2. `ordered_100k_yield_once`: the same, in input order (the consumer folds an order-sensitive
//!    hash, checked against the expected one).
//! 3. `spawned_cpu_20us`: 2 000 CPU-bound items of about 20 µs each (a calibrated busy loop),
//!    limit 64, on a 2-worker tokio runtime: the spawned form against `buffer_unordered` (which
//!    runs everything on the thread that polls it) and a hand-written `JoinSet` fan-out, with
//!    the consumer on the main thread and in a worker task.
//! 4. `slow_consumer_*`: 200 items, each an async-io timer started at the item's first poll,
//!    and a consumer that blocks its thread for 1 ms after each output. What this measures is
//!    the refill: taskgroup starts the next item before it yields an output, so `limit` items
//!    run while the consumer works; the peers start it only after the consumer's next poll,
//!    and behind every output already done. See [`slow_consumer`] for the arithmetic.

use std::future::Future;
use std::hint::black_box;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use futures::executor::block_on;
use futures::stream::{self, Stream, StreamExt};
use futures_buffered::BufferedStreamExt;
use taskgroup::FanOutExt;
use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinSet;

#[path = "common/interleaved.rs"]
mod interleaved;
use interleaved::interleaved_group;

/// Items per iteration of the yield-once scenarios.
const ITEMS: u64 = 100_000;
/// The concurrency limit of the yield-once and spawned scenarios.
const LIMIT: usize = 64;
/// Items per iteration of `spawned_cpu_20us`.
const CPU_ITEMS: u64 = 2_000;
/// The target duration of one CPU-bound item.
const CPU_ITEM_TIME: Duration = Duration::from_micros(20);
/// Items per iteration of the slow-consumer scenarios.
const SLOW_ITEMS: u64 = 200;
/// What the slow consumer spends on each output.
const CONSUMER_TIME: Duration = Duration::from_millis(1);

/// Returns `Pending` once, after waking its own waker, then its value: one trip through whatever
/// polls it, with no runtime involved (unlike `tokio::task::yield_now`, which defers its wake-up
/// to the runtime).
struct YieldOnce {
    value: u64,
    yielded: bool,
}

impl Future for YieldOnce {
    type Output = u64;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        if self.yielded {
            return Poll::Ready(self.value);
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The closure of the yield-once scenarios, the same for every line.
fn yield_once(value: u64) -> YieldOnce {
    YieldOnce {
        value,
        yielded: false,
    }
}

/// The runtime of the local scenarios run on tokio: one thread, which polls the stream.
fn current_thread_runtime() -> Runtime {
    Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The runtime of the spawned scenario: 2 workers, the size of the CI machine. The benchmark
/// body runs in `block_on` on the main thread, so the stream is polled there and the spawned
/// items run on the workers.
fn multi_thread_runtime() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The consumer of the unordered scenarios: a sum, the same whatever the completion order.
async fn sum(outputs: impl Stream<Item = u64>) -> u64 {
    outputs.fold(0, |sum, x| async move { sum + x }).await
}

/// The consumer of the ordered scenarios: a hash that changes if two outputs swap places.
async fn ordered_hash(outputs: impl Stream<Item = u64>) -> u64 {
    outputs
        .fold(0, |hash: u64, x| async move {
            hash.wrapping_mul(31).wrapping_add(x)
        })
        .await
}

const EXPECTED_SUM: u64 = ITEMS * (ITEMS - 1) / 2;

fn expected_ordered_hash() -> u64 {
    (0..ITEMS).fold(0, |hash: u64, x| hash.wrapping_mul(31).wrapping_add(x))
}

async fn unordered_taskgroup_fan_out() -> u64 {
    sum(stream::iter(0..ITEMS).fan_out(LIMIT, yield_once)).await
}

async fn unordered_futures_buffer_unordered() -> u64 {
    sum(stream::iter(0..ITEMS)
        .map(yield_once)
        .buffer_unordered(LIMIT))
    .await
}

async fn unordered_futures_buffered_unordered() -> u64 {
    sum(stream::iter(0..ITEMS)
        .map(yield_once)
        .buffered_unordered(LIMIT))
    .await
}

async fn ordered_taskgroup_fan_out_ordered() -> u64 {
    ordered_hash(stream::iter(0..ITEMS).fan_out_ordered(LIMIT, yield_once)).await
}

async fn ordered_futures_buffered() -> u64 {
    ordered_hash(stream::iter(0..ITEMS).map(yield_once).buffered(LIMIT)).await
}

async fn ordered_futures_buffered_ordered() -> u64 {
    ordered_hash(
        stream::iter(0..ITEMS)
            .map(yield_once)
            .buffered_ordered(LIMIT),
    )
    .await
}

/// One line of a yield-once scenario: its name and the future that runs the whole stream.
type Line = (&'static str, fn() -> Pin<Box<dyn Future<Output = u64>>>);

/// Runs the lines of a yield-once group under both drivers, `block_on` first, each line checked
/// once against `expected` before it is timed. The boxing of the whole-stream future (one
/// allocation per iteration, the same for every line) keeps the lines in one table.
fn yield_once_group(c: &mut Criterion, name: &str, lines: &[Line], expected: u64) {
    let rt = current_thread_runtime();
    for &(line, run) in lines {
        assert_eq!(block_on(run()), expected, "{name}/{line} under block_on");
        assert_eq!(rt.block_on(run()), expected, "{name}/{line} under tokio");
    }

    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(ITEMS));
    for &(line, run) in lines {
        g.bench_function(BenchmarkId::new(line, "block_on"), |b| {
            b.iter(|| block_on(run()))
        });
    }
    for &(line, run) in lines {
        g.bench_function(BenchmarkId::new(line, "tokio_current_thread"), |b| {
            b.to_async(&rt).iter(run)
        });
    }
    g.finish();
}

/// Scenario 1: 100 000 yield-once futures, at most 64 at once, outputs in completion order.
fn unordered_100k_yield_once(c: &mut Criterion) {
    yield_once_group(
        c,
        "unordered_100k_yield_once",
        &[
            ("taskgroup_fan_out", || {
                Box::pin(unordered_taskgroup_fan_out())
            }),
            ("futures_buffer_unordered", || {
                Box::pin(unordered_futures_buffer_unordered())
            }),
            ("futures_buffered_buffered_unordered", || {
                Box::pin(unordered_futures_buffered_unordered())
            }),
        ],
        EXPECTED_SUM,
    );
}

/// Scenario 2: the same, outputs in input order.
fn ordered_100k_yield_once(c: &mut Criterion) {
    yield_once_group(
        c,
        "ordered_100k_yield_once",
        &[
            ("taskgroup_fan_out_ordered", || {
                Box::pin(ordered_taskgroup_fan_out_ordered())
            }),
            ("futures_buffered", || Box::pin(ordered_futures_buffered())),
            ("futures_buffered_buffered_ordered", || {
                Box::pin(ordered_futures_buffered_ordered())
            }),
        ],
        expected_ordered_hash(),
    );
}

/// A chain of `rounds` dependent multiply-adds seeded by `item`: deterministic CPU work that
/// the optimizer cannot fold.
#[inline(never)]
fn busy(item: u64, rounds: u32) -> u64 {
    let mut x = black_box(item);
    for _ in 0..rounds {
        x = black_box(
            x.wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407),
        );
    }
    x
}

/// The rounds of [`busy`] that take [`CPU_ITEM_TIME`] on this machine, measured once: the
/// fastest of a few runs of 100 000 rounds.
fn cpu_rounds() -> u32 {
    static ROUNDS: OnceLock<u32> = OnceLock::new();
    *ROUNDS.get_or_init(|| {
        const PROBE: u32 = 100_000;
        let fastest = (0..5)
            .map(|i| {
                let started = Instant::now();
                black_box(busy(i, PROBE));
                started.elapsed()
            })
            .min()
            .expect("five runs");
        let rounds = (CPU_ITEM_TIME.as_secs_f64() / fastest.as_secs_f64() * f64::from(PROBE))
            .round()
            .max(1.0) as u32;
        let check = Instant::now();
        black_box(busy(0, rounds));
        eprintln!(
            "spawned_cpu_20us: {rounds} rounds per item (one item: {:?})",
            check.elapsed()
        );
        rounds
    })
}

async fn spawned_taskgroup_fan_out_spawned(rounds: u32) -> u64 {
    stream::iter(0..CPU_ITEMS)
        .fan_out_spawned(
            LIMIT,
            |f| {
                tokio::spawn(f);
            },
            move |i| async move { busy(i, rounds) },
        )
        .fold(0, |sum: u64, x| async move { sum.wrapping_add(x) })
        .await
}

async fn spawned_futures_buffer_unordered(rounds: u32) -> u64 {
    stream::iter(0..CPU_ITEMS)
        .map(move |i| async move { busy(i, rounds) })
        .buffer_unordered(LIMIT)
        .fold(0, |sum: u64, x| async move { sum.wrapping_add(x) })
        .await
}

/// What one writes by hand with tokio: spawn the first `LIMIT`, then one more after each
/// `join_next`.
async fn spawned_tokio_join_set(rounds: u32) -> u64 {
    let mut items = 0..CPU_ITEMS;
    let mut set = JoinSet::new();
    for i in items.by_ref().take(LIMIT) {
        set.spawn(async move { busy(i, rounds) });
    }
    let mut sum: u64 = 0;
    while let Some(joined) = set.join_next().await {
        sum = sum.wrapping_add(joined.expect("item panicked"));
        if let Some(i) = items.next() {
            set.spawn(async move { busy(i, rounds) });
        }
    }
    sum
}

/// Scenario 3: 2 000 items of about 20 µs of CPU each, at most 64 at once, on 2 workers.
///
/// Each line runs twice: with the stream polled by the benchmark's `block_on` on the main
/// thread (`block_on`), as `#[tokio::main]` code does, and with the whole consumer spawned as a
/// task on the runtime (`worker_task`). On a 2-core machine the first has three busy threads
/// for two cores: each wake-up of the consumer preempts a worker, which caps every parallel
/// line well below 2×. The second keeps two threads for two cores.
fn spawned_cpu_20us(c: &mut Criterion) {
    type Run = fn(u32) -> Pin<Box<dyn Future<Output = u64> + Send>>;
    let lines: [(&str, Run); 3] = [
        ("taskgroup_fan_out_spawned", |rounds| {
            Box::pin(spawned_taskgroup_fan_out_spawned(rounds))
        }),
        ("futures_buffer_unordered", |rounds| {
            Box::pin(spawned_futures_buffer_unordered(rounds))
        }),
        ("tokio_join_set", |rounds| {
            Box::pin(spawned_tokio_join_set(rounds))
        }),
    ];
    let rt = multi_thread_runtime();
    let rounds = cpu_rounds();
    let expected = (0..CPU_ITEMS).fold(0u64, |sum, i| sum.wrapping_add(busy(i, rounds)));
    for (line, run) in lines {
        assert_eq!(rt.block_on(run(rounds)), expected, "{line}");
        let in_task = rt.block_on(rt.spawn(run(rounds))).expect("no panic");
        assert_eq!(in_task, expected, "{line} in a task");
    }

    let mut g = c.benchmark_group("spawned_cpu_20us");
    g.sample_size(20);
    g.throughput(Throughput::Elements(CPU_ITEMS));
    for (line, run) in lines {
        g.bench_function(BenchmarkId::new(line, "block_on"), |b| {
            b.to_async(&rt).iter(|| run(rounds))
        });
    }
    for (line, run) in lines {
        g.bench_function(BenchmarkId::new(line, "worker_task"), |b| {
            b.to_async(&rt)
                .iter(|| async move { tokio::spawn(run(rounds)).await.expect("no panic") })
        });
    }
    g.finish();
}

/// Scenario 4: 100 000 items that yield once, at most 64 at once, each a task on the 2-worker
/// runtime: what spawning and reporting one item costs (issue 21's row). Beside it,
/// futures-buffered's `buffered_unordered` over `tokio::spawn`'s handles (the fastest way to
/// write it by hand), futures' `buffer_unordered` over the same, a `JoinSet` refilled after
/// each `join_next`, and, as references, detached tasks reporting into one tokio channel (the
/// shape `fan_out_spawned` has, written by hand) and the same with each task's handle awaited.
/// Measured in interleaved rounds (`common/interleaved.rs`), as the results swung with the
/// VM's phases, twice: with the stream polled by `block_on` on the main thread
/// (three threads on two cores, as in `#[tokio::main]` code), and with the consumer spawned as a
/// task on the runtime (`_worker_task`).
fn spawned_100k_yield_once(c: &mut Criterion) {
    let rt = multi_thread_runtime();
    interleaved_group(c, "spawned_100k_yield_once", spawned_lines(&rt, false));
    interleaved_group(
        c,
        "spawned_100k_yield_once_worker_task",
        spawned_lines(&rt, true),
    );
}

/// The consumers of scenario 4, each run to completion on `rt` by `block_on` or, `in_task`, as a
/// task of the runtime.
fn spawned_lines(rt: &Runtime, in_task: bool) -> Vec<interleaved::Line<'_>> {
    type Consumer = fn() -> Pin<Box<dyn Future<Output = u64> + Send>>;
    async fn item(i: u64) -> u64 {
        tokio::task::yield_now().await;
        i
    }
    let consumers: [(&'static str, Consumer); 6] = [
        ("taskgroup_fan_out_spawned", || {
            Box::pin(sum(stream::iter(0..ITEMS).fan_out_spawned(
                LIMIT,
                |f| {
                    tokio::spawn(f);
                },
                item,
            )))
        }),
        ("futures_buffered_spawn_handles", || {
            let handles = stream::iter(0..ITEMS).map(|i| tokio::spawn(item(i)));
            Box::pin(sum(BufferedStreamExt::buffered_unordered(handles, LIMIT)
                .map(|joined| joined.expect("no panic"))))
        }),
        ("futures_buffer_unordered_spawn_handles", || {
            let handles = stream::iter(0..ITEMS).map(|i| tokio::spawn(item(i)));
            Box::pin(sum(
                StreamExt::buffer_unordered(handles, LIMIT).map(|joined| joined.expect("no panic"))
            ))
        }),
        // The shape `fan_out_spawned` has, written by hand: detached tasks (their handles
        // dropped) that send their outputs into one channel. Not a peer to beat but a reference:
        // issue 21's note measured this shape, ours and this one alike, at several times the
        // context switches of awaiting each handle (on `block_on`, 35 000-64 000 against
        // 1 000-12 000 per million items).
        ("tokio_detached_tasks_mpsc", || {
            Box::pin(async {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let mut items = 0..ITEMS;
                let mut spawn = |i| {
                    let tx = tx.clone();
                    tokio::spawn(async move { tx.send(item(i).await).expect("receiver alive") });
                };
                items.by_ref().take(LIMIT).for_each(&mut spawn);
                let mut total = 0;
                for _ in 0..ITEMS {
                    total += rx.recv().await.expect("senders alive");
                    if let Some(i) = items.next() {
                        spawn(i);
                    }
                }
                total
            })
        }),
        // The same detached-style reporting through one channel, but each task's
        // `JoinHandle<()>` is awaited (`buffer_unordered(64)`), one output taken per finished
        // handle: what a spawn function that handed back its handle would let
        // `fan_out_spawned` do. Issue 21's note: on `block_on`, the handles, not the channel,
        // keep the consumer from sleeping; as a worker task they did not help.
        ("tokio_mpsc_handles_awaited", || {
            Box::pin(async {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let handles = stream::iter(0..ITEMS).map(move |i| {
                    let tx = tx.clone();
                    tokio::spawn(async move { tx.send(item(i).await).expect("receiver alive") })
                });
                let mut handles = pin!(StreamExt::buffer_unordered(handles, LIMIT));
                let mut total = 0;
                while let Some(joined) = handles.next().await {
                    joined.expect("no panic");
                    // Sent before its task finished, so ready at once.
                    total += rx.recv().await.expect("senders alive");
                }
                total
            })
        }),
        ("tokio_join_set", || {
            Box::pin(async {
                let mut items = 0..ITEMS;
                let mut set = JoinSet::new();
                for i in items.by_ref().take(LIMIT) {
                    set.spawn(item(i));
                }
                let mut total = 0;
                while let Some(joined) = set.join_next().await {
                    total += joined.expect("no panic");
                    if let Some(i) = items.next() {
                        set.spawn(item(i));
                    }
                }
                total
            })
        }),
    ];
    consumers
        .into_iter()
        .map(|(name, consumer)| {
            let batch = move || {
                let total = if in_task {
                    rt.block_on(rt.spawn(consumer())).expect("no panic")
                } else {
                    rt.block_on(consumer())
                };
                assert_eq!(total, EXPECTED_SUM, "{name}");
            };
            (name, Box::new(batch) as Box<dyn FnMut() + '_>)
        })
        .collect()
}

/// The slow consumer's work on one output: it blocks the thread, and so the task that polls
/// the stream, as real per-item work would. A sleep rather than a spin, so that on a shared
/// machine the line does not compete for a core (it overshoots by the timer slack, some 50 µs,
/// the same for every line).
fn work_on(_output: u64) {
    std::thread::sleep(CONSUMER_TIME);
}

/// Items of the slow-consumer scenarios started and not yet finished: what the consumer's work
/// overlaps with.
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// The item of the slow-consumer scenarios: an async-io timer that starts at the future's
/// first poll (a request sent when the future first runs, answered `delay` later whatever the
/// consumer does).
fn timed_item(delay: Duration) -> impl FnMut(u64) -> Pin<Box<dyn Future<Output = u64>>> {
    move |i| {
        Box::pin(async move {
            RUNNING.fetch_add(1, Ordering::Relaxed);
            async_io::Timer::after(delay).await;
            RUNNING.fetch_sub(1, Ordering::Relaxed);
            i
        })
    }
}

/// The lines of the slow-consumer scenarios, each built on the same source and items.
const SLOW_LINES: [&str; 3] = [
    "taskgroup_fan_out",
    "futures_buffer_unordered",
    "futures_buffered_buffered_unordered",
];

/// The stream of `line`; boxed so the lines share one consumer (one virtual call per output,
/// nothing at this scale).
fn slow_outputs(line: &str, limit: usize, delay: Duration) -> Pin<Box<dyn Stream<Item = u64>>> {
    let source = stream::iter(0..SLOW_ITEMS);
    match line {
        "taskgroup_fan_out" => Box::pin(source.fan_out(limit, timed_item(delay))),
        "futures_buffer_unordered" => {
            Box::pin(source.map(timed_item(delay)).buffer_unordered(limit))
        }
        "futures_buffered_buffered_unordered" => {
            Box::pin(source.map(timed_item(delay)).buffered_unordered(limit))
        }
        _ => unreachable!("unknown line {line}"),
    }
}

/// The slow consumer: works on each output for [`CONSUMER_TIME`], sums the outputs. Also
/// returns the mean number of items running while it worked (the refill measurement).
async fn consume_slowly(mut outputs: Pin<Box<dyn Stream<Item = u64>>>) -> (u64, f64) {
    let (mut sum, mut running) = (0, 0);
    while let Some(x) = outputs.next().await {
        running += RUNNING.load(Ordering::Relaxed);
        work_on(x);
        sum += x;
    }
    (sum, running as f64 / SLOW_ITEMS as f64)
}

/// Scenario 4: 200 timer items, at most `limit` at once, and a consumer that blocks for 1 ms
/// after each output, under `async_io::block_on` (the timers' own reactor, no other runtime).
///
/// taskgroup refills a slot and polls its new future (which starts its timer) before it yields
/// the output, so `limit` timers run while the consumer works: `min(limit / delay, 1 /
/// CONSUMER_TIME)` items per second. The peers pull the refill only at the consumer's next
/// poll, and then queue the new future *behind* the futures already woken (both keep a FIFO
/// ready queue and return at the first output), so it is first polled only once every output
/// that was already done has been yielded, one consumer turn each. The `limit` timers thus
/// run in lock-step batches: started together, done together after `delay`, then drained one
/// per consumer turn while none run: `limit / (delay + limit × CONSUMER_TIME)` items per
/// second. Expected, in items/s:
///
/// | configuration | taskgroup | peers |
/// | --- | --- | --- |
/// | limit 1, item 1 ms | `1 / max(1, 1) ms` = 1000 | `1 / (1 + 1) ms` = 500 |
/// | limit 8, item 8 ms | `min(8 / 8, 1 / 1) ms` = 1000 | `8 / (8 + 8) ms` = 500 |
/// | limit 8, item 1 ms | `min(8 / 1, 1 / 1) ms` = 1000 | `8 / (1 + 8) ms` = 889 |
///
/// Where the two sides are balanced (`delay = limit × CONSUMER_TIME`) that is a factor 2 at
/// any limit. The consumer's sleep overshoots by some 50-100 µs, and timer wake-ups add latency,
/// the same for every line.
///
/// Before timing, each line runs once and prints the mean number of items running (timer
/// started, output not yet taken) when the consumer starts on an output: about `limit` for
/// taskgroup, about `(limit - 1) / 2` for the peers (each batch drains from `limit - 1` to 0).
fn slow_consumer(c: &mut Criterion, limit: usize, delay: Duration) {
    let name = format!(
        "slow_consumer_limit{limit}_item{}ms_consumer{}ms",
        delay.as_millis(),
        CONSUMER_TIME.as_millis()
    );
    let expected = SLOW_ITEMS * (SLOW_ITEMS - 1) / 2;

    let mut g = c.benchmark_group(&name);
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.throughput(Throughput::Elements(SLOW_ITEMS));
    for line in SLOW_LINES {
        // Checked and reported in the closure, which criterion calls only for the lines its
        // filter selects: a run filtered to another scenario does not pay for these seconds.
        let mut checked = false;
        g.bench_function(line, |b| {
            if !std::mem::replace(&mut checked, true) {
                let run = consume_slowly(slow_outputs(line, limit, delay));
                let (sum, running) = async_io::block_on(run);
                assert_eq!(sum, expected, "{name}/{line}");
                eprintln!("{name}/{line}: {running:.2} items running while the consumer works");
            }
            b.iter(|| async_io::block_on(consume_slowly(slow_outputs(line, limit, delay))))
        });
    }
    g.finish();
}

fn slow_consumer_limit1_item1ms(c: &mut Criterion) {
    slow_consumer(c, 1, Duration::from_millis(1));
}

fn slow_consumer_limit8_item8ms(c: &mut Criterion) {
    slow_consumer(c, 8, Duration::from_millis(8));
}

fn slow_consumer_limit8_item1ms(c: &mut Criterion) {
    slow_consumer(c, 8, Duration::from_millis(1));
}

criterion_group!(
    benches,
    unordered_100k_yield_once,
    ordered_100k_yield_once,
    spawned_cpu_20us,
    spawned_100k_yield_once,
    slow_consumer_limit1_item1ms,
    slow_consumer_limit8_item8ms,
    slow_consumer_limit8_item1ms
);
criterion_main!(benches);
