//! The timer behind `.timeout()`: how late candidate timers fire, and what a timeout that never
//! fires costs. These are the measurements `src/time.rs` cites for choosing `async_io::Timer`.
//!
//! `cargo bench --bench timer` first prints the accuracy table (about 45 s), then runs the
//! criterion group `timeout_that_never_fires`. `TIMER_ACCURACY=0` skips the table, e.g. when
//! filtering criterion benchmarks; under `--test` (or `cargo test --benches`) the table is a
//! 3-sample smoke run, and under `--list` it is skipped.

use std::future::{pending, Future};
use std::hint::black_box;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use criterion::Criterion;
use futures::task::noop_waker_ref;
use taskgroup::TimeoutExt;
use tokio::runtime::{Builder, Runtime};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let skip = std::env::var("TIMER_ACCURACY").is_ok_and(|v| v == "0") || has("--list");
    // Criterion benchmarks only under `--bench` without `--test`; anything else is a smoke run.
    let full = has("--bench") && !has("--test") && !has("--profile-time");
    if !skip {
        accuracy_table(if full { 100 } else { 3 });
    }

    let mut c = Criterion::default().configure_from_args();
    timeout_that_never_fires(&mut c);
    c.final_summary();
}

fn current_thread_runtime() -> Runtime {
    Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime")
}

// ---------------------------------------------------------------------------------------------
// (a) Accuracy: lateness = elapsed - requested, per timer and duration.
// ---------------------------------------------------------------------------------------------

const CANDIDATES: [&str; 4] = [
    "async_io::Timer::after",
    "futures_timer::Delay::new",
    "taskgroup pending().timeout(d)",
    "tokio::time::sleep (reference)",
];

/// Sleeps once for `d` on candidate `which` and returns the time it took. The runtime-agnostic
/// timers run under `futures::executor::block_on`, tokio's in its own current-thread runtime.
fn sleep_once(which: usize, d: Duration, rt: &Runtime) -> Duration {
    match which {
        0 => futures::executor::block_on(async {
            let start = Instant::now();
            async_io::Timer::after(d).await;
            start.elapsed()
        }),
        1 => futures::executor::block_on(async {
            let start = Instant::now();
            futures_timer::Delay::new(d).await;
            start.elapsed()
        }),
        2 => futures::executor::block_on(async {
            let start = Instant::now();
            let res = pending::<()>().timeout(d).await;
            assert!(res.is_err(), "pending() cannot finish");
            start.elapsed()
        }),
        _ => rt.block_on(async {
            let start = Instant::now();
            tokio::time::sleep(d).await;
            start.elapsed()
        }),
    }
}

fn accuracy_table(samples: usize) {
    let rt = current_thread_runtime();
    // Start each timer's machinery (async-io's reactor thread, futures-timer's helper thread)
    // before measuring.
    for which in 0..CANDIDATES.len() {
        sleep_once(which, Duration::from_millis(1), &rt);
    }

    println!("timer accuracy: lateness = elapsed - requested, {samples} samples per cell,");
    println!("candidates interleaved sample by sample so machine noise hits all alike");
    println!(
        "{:<32} {:>9} {:>13} {:>13} {:>13}",
        "timer", "requested", "median µs", "p90 µs", "worst µs"
    );
    for d in [1, 10, 100].map(Duration::from_millis) {
        let mut late: Vec<Vec<u128>> = vec![Vec::with_capacity(samples); CANDIDATES.len()];
        for _ in 0..samples {
            for (which, late) in late.iter_mut().enumerate() {
                let took = sleep_once(which, d, &rt);
                // A timer never fires early; saturate in case one ever did.
                late.push(took.saturating_sub(d).as_micros());
            }
        }
        for (name, mut late) in CANDIDATES.iter().zip(late) {
            late.sort_unstable();
            let at = |q: f64| late[((late.len() - 1) as f64 * q).round() as usize];
            println!(
                "{:<32} {:>7?} {:>13} {:>13} {:>13}",
                name,
                d,
                at(0.5),
                at(0.9),
                late[late.len() - 1]
            );
        }
    }
    println!();
}

// ---------------------------------------------------------------------------------------------
// (b) The cost of a timeout that is armed and never fires.
// ---------------------------------------------------------------------------------------------

/// Pending on its first poll (after waking itself), ready on its second: the shortest life of a
/// future that makes a timeout arm its timer, and then drop it unfired.
#[derive(Default)]
struct YieldOnce {
    polled: bool,
}

impl Future for YieldOnce {
    type Output = u32;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if self.polled {
            Poll::Ready(1)
        } else {
            self.polled = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// A timeout built on `futures_timer::Delay` by hand, shaped like taskgroup's: the inner future
/// is polled first and the delay is created only once it is pending.
fn futures_timer_timeout<F: Future + Unpin>(
    mut fut: F,
    limit: Duration,
) -> impl Future<Output = Result<F::Output, ()>> {
    let mut delay: Option<futures_timer::Delay> = None;
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(out) = Pin::new(&mut fut).poll(cx) {
            return Poll::Ready(Ok(out));
        }
        let delay = delay.get_or_insert_with(|| futures_timer::Delay::new(limit));
        Pin::new(delay).poll(cx).map(Err)
    })
}

/// A timeout built on async-io's own `Timer` by hand, the same way: the floor of what our
/// default (no `tokio` feature) timeout can cost, since it runs on that timer.
fn async_io_timeout<F: Future + Unpin>(
    mut fut: F,
    limit: Duration,
) -> impl Future<Output = Result<F::Output, ()>> {
    let mut timer: Option<async_io::Timer> = None;
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(out) = Pin::new(&mut fut).poll(cx) {
            return Poll::Ready(Ok(out));
        }
        let timer = timer.get_or_insert_with(|| async_io::Timer::after(limit));
        Pin::new(timer).poll(cx).map(|_| Err(()))
    })
}

/// Polls `fut` exactly twice with a noop waker: pending, then ready. All lines go through this,
/// so they differ only in the timeout around `YieldOnce`.
fn pending_then_ready<F: Future>(fut: F) -> F::Output {
    let mut cx = Context::from_waker(noop_waker_ref());
    let mut fut = pin!(fut);
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    match fut.poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("YieldOnce is ready on its second poll"),
    }
}

/// Every timeout here registers a timer on the first poll and deregisters it on drop, unfired.
/// async-io queues both operations for its reactor thread (and notifies it on insert),
/// futures-timer hands both to its helper thread, tokio inserts into and removes from its
/// wheel under the driver's lock (polled inside the runtime's context, which it requires).
fn timeout_that_never_fires(c: &mut Criterion) {
    let rt = current_thread_runtime();
    let mut g = c.benchmark_group("timeout_that_never_fires");
    let limit = Duration::from_secs(1);

    g.bench_function("floor_no_timeout", |b| {
        b.iter(|| pending_then_ready(black_box(YieldOnce::default())))
    });
    g.bench_function("taskgroup_timeout", |b| {
        b.iter(|| {
            pending_then_ready(YieldOnce::default().timeout(black_box(limit))).expect("in time")
        })
    });
    // The same timeout polled inside a tokio runtime's context: tokio's wheel with the `tokio`
    // feature, async-io's timer without it (issue 21 compares it with `tokio_timeout`).
    g.bench_function("taskgroup_timeout_in_tokio", |b| {
        let _context = rt.enter();
        b.iter(|| {
            pending_then_ready(YieldOnce::default().timeout(black_box(limit))).expect("in time")
        })
    });
    g.bench_function("async_io_timer_race", |b| {
        b.iter(|| {
            pending_then_ready(async_io_timeout(YieldOnce::default(), black_box(limit)))
                .expect("in time")
        })
    });
    g.bench_function("futures_timer_delay_race", |b| {
        b.iter(|| {
            pending_then_ready(futures_timer_timeout(
                YieldOnce::default(),
                black_box(limit),
            ))
            .expect("in time")
        })
    });
    g.bench_function("tokio_timeout", |b| {
        let _context = rt.enter();
        b.iter(|| {
            pending_then_ready(tokio::time::timeout(black_box(limit), YieldOnce::default()))
                .expect("in time")
        })
    });

    g.finish();
}
