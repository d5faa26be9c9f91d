//! `RateLimiter` against `governor` and `leaky-bucket`.
//!
//! Run with `cargo bench --bench rate_limit` (add `-- uncontended` for the criterion part only).
//!
//! 1. `rate_uncontended_try_acquire` (criterion): one check on a limiter that always has room —
//!    taskgroup's `try_acquire`, governor's `check` (on its default TSC clock, and on std's
//!    `Instant` as taskgroup reads it), leaky-bucket's `try_acquire(1)`, and reading
//!    `Instant::now()` alone (the floor of any limiter on std's clock).
//! 2. `rate_64_tasks_acquire_await` (criterion): 64 tokio tasks awaiting grants from a limiter
//!    that is never the bottleneck (10^9 per second), against governor and leaky-bucket's unfair
//!    mode: the cost of a grant that needs no waiting, under contention.
//! 3. and 4. `schedule` (a plain timed run, printed as a table): 1 000 tasks share one limiter of
//!    10 000 calls per second (burst 10) for 10 000 grants (about one second), on tokio's
//!    multi-thread runtime (2 workers) and on a 2-thread smol executor. Per limiter: the achieved
//!    rate against the target, how far grants land from the ideal schedule (the k-th grant at
//!    `first + (k - burst + 1) / rate`), polls of the acquire futures per grant (one poll to book,
//!    one per wake-up: 2.0 is one wake-up per waiting grant) and the process's CPU time.
//!    taskgroup's `acquire`, governor's `until_ready` (futures-timer), leaky-bucket's
//!    `acquire_one` (tokio's timer, so tokio only).
//!
//! | crate | wait | order | timer |
//! | --- | --- | --- | --- |
//! | taskgroup | books a start time, one timer | FIFO | async-io |
//! | governor 0.10 | `check`, sleep until the earliest time, check again | none | futures-timer |
//! | leaky-bucket 1 | a queue; the head task refills on a timer | FIFO (fair) | tokio, 1 ms |

use std::future::Future;
use std::hint::black_box;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use criterion::Criterion;
use governor::{Quota, RateLimiter as Governor};

#[path = "common/interleaved.rs"]
mod interleaved;
use interleaved::{interleaved_group, Line};

type Gov = governor::DefaultDirectRateLimiter;

/// 2 and 3: tasks, grants, rate and burst.
const TASKS: usize = 1000;
const GRANTS: usize = 10_000;
const RATE: u32 = 10_000;
const BURST: u32 = 10;

fn uncontended_try_acquire(c: &mut Criterion) {
    let mut g = c.benchmark_group("rate_uncontended_try_acquire");
    // Rate 10^9 per second and a large burst: each check costs 1 ns of budget, so the limiter
    // never runs dry however long criterion runs.
    let ours =
        taskgroup::RateLimiter::new(1_000_000_000, Duration::from_secs(1)).with_burst(1_000_000);
    g.bench_function("taskgroup", |b| {
        b.iter(|| black_box(ours.try_acquire().is_ok()))
    });
    let gov: Gov = Governor::direct(
        Quota::per_second(NonZeroU32::new(1_000_000_000).unwrap())
            .allow_burst(NonZeroU32::new(1_000_000).unwrap()),
    );
    g.bench_function("governor", |b| b.iter(|| black_box(gov.check().is_ok())));
    // governor on std's clock, as taskgroup reads it: the two algorithms side by side.
    let gov_std = Governor::direct_with_clock(
        Quota::per_second(NonZeroU32::new(1_000_000_000).unwrap())
            .allow_burst(NonZeroU32::new(1_000_000).unwrap()),
        governor::clock::MonotonicClock,
    );
    g.bench_function("governor_std_clock", |b| {
        b.iter(|| black_box(gov_std.check().is_ok()))
    });
    let leaky = leaky_bucket::RateLimiter::builder()
        .max(1 << 40)
        .initial(1 << 40)
        .refill(1)
        .interval(Duration::from_millis(1))
        .build();
    g.bench_function("leaky_bucket", |b| {
        b.iter(|| black_box(leaky.try_acquire(1)))
    });
    // Unfair: no queue to respect, and no clock read while tokens are banked (a refill reads it).
    let leaky_unfair = leaky_bucket::RateLimiter::builder()
        .max(1 << 40)
        .initial(1 << 40)
        .refill(1)
        .interval(Duration::from_millis(1))
        .fair(false)
        .build();
    g.bench_function("leaky_bucket_unfair", |b| {
        b.iter(|| black_box(leaky_unfair.try_acquire(1)))
    });
    // The floor of any limiter on std's clock: reading it (governor reads quanta's TSC clock;
    // leaky-bucket's fast path reads no clock while tokens are banked).
    g.bench_function("floor_std_instant_now", |b| {
        b.iter(|| black_box(Instant::now()))
    });
    // The clock taskgroup's default build reads (and governor's): the CPU's time-stamp counter.
    g.bench_function("floor_quanta_now", |b| {
        b.iter(|| black_box(quanta::Instant::now()))
    });
    g.finish();
}

/// Tasks per run and acquires per task of `rate_64_tasks_acquire_await`.
const AWAIT_TASKS: usize = 64;
const AWAITS: usize = 100;

/// 64 tasks on tokio's multi-thread runtime (2 workers) each `acquire().await` 100 times from one
/// limiter of 10^9 slots per second with a burst of 10^6: the limiter is never the bottleneck,
/// so this is the cost of the await itself under contention (time per run of 6 400 acquires).
/// governor's `until_ready` and leaky-bucket's unfair `acquire_one` beside it.
fn contended_acquire_await(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    fn run<F, Fut>(rt: &tokio::runtime::Runtime, acquire: F)
    where
        F: Fn() -> Fut + Clone + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        rt.block_on(async {
            let tasks: Vec<_> = (0..AWAIT_TASKS)
                .map(|_| {
                    let acquire = acquire.clone();
                    tokio::spawn(async move {
                        for _ in 0..AWAITS {
                            acquire().await;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("no panic");
            }
        })
    }

    let ours = Arc::new(
        taskgroup::RateLimiter::new(1_000_000_000, Duration::from_secs(1)).with_burst(1_000_000),
    );
    let gov: Arc<Gov> = Arc::new(Governor::direct(
        Quota::per_second(NonZeroU32::new(1_000_000_000).unwrap())
            .allow_burst(NonZeroU32::new(1_000_000).unwrap()),
    ));
    let leaky = Arc::new(
        leaky_bucket::RateLimiter::builder()
            .max(1 << 40)
            .initial(1 << 40)
            .refill(1)
            .interval(Duration::from_millis(1))
            .fair(false)
            .build(),
    );
    let rt = &rt;
    let lines: Vec<Line<'_>> = vec![
        (
            "taskgroup",
            Box::new(move || {
                let ours = ours.clone();
                run(rt, move || {
                    let ours = ours.clone();
                    async move { ours.acquire().await.expect("within the burst") }
                })
            }),
        ),
        (
            "governor",
            Box::new(move || {
                let gov = gov.clone();
                run(rt, move || {
                    let gov = gov.clone();
                    async move { gov.until_ready().await }
                })
            }),
        ),
        (
            "leaky_bucket_unfair",
            Box::new(move || {
                let leaky = leaky.clone();
                run(rt, move || {
                    let leaky = leaky.clone();
                    async move { leaky.acquire_one().await }
                })
            }),
        ),
    ];
    // Interleaved rounds, as every multi-thread scenario here: one after the other, the lines
    // could fall in different phases of the VM.
    interleaved_group(c, "rate_64_tasks_acquire_await", lines);
}

pin_project_lite::pin_project! {
    /// Counts the polls of the future inside.
    struct Counted<F> {
        #[pin]
        inner: F,
        polls: Arc<AtomicU64>,
    }
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        this.polls.fetch_add(1, Ordering::Relaxed);
        this.inner.poll(cx)
    }
}

#[derive(Clone)]
enum Limiter {
    Taskgroup(Arc<taskgroup::RateLimiter>),
    Governor(Arc<Gov>),
    LeakyBucket(Arc<leaky_bucket::RateLimiter>),
}

impl Limiter {
    fn new(name: &str) -> Self {
        match name {
            "taskgroup" => Self::Taskgroup(Arc::new(
                taskgroup::RateLimiter::new(RATE, Duration::from_secs(1)).with_burst(BURST),
            )),
            "governor" => Self::Governor(Arc::new(Governor::direct(
                Quota::per_second(NonZeroU32::new(RATE).unwrap())
                    .allow_burst(NonZeroU32::new(BURST).unwrap()),
            ))),
            // Its interval is at least 1 ms: 10 tokens per ms, at most 10 banked.
            "leaky-bucket" => Self::LeakyBucket(Arc::new(
                leaky_bucket::RateLimiter::builder()
                    .max(BURST as usize)
                    .initial(BURST as usize)
                    .refill(BURST as usize)
                    .interval(Duration::from_millis(1))
                    .fair(true)
                    .build(),
            )),
            _ => unreachable!(),
        }
    }

    async fn acquire(&self, polls: &Arc<AtomicU64>) {
        match self {
            Self::Taskgroup(l) => Counted {
                inner: l.acquire(),
                polls: polls.clone(),
            }
            .await
            .unwrap(),
            Self::Governor(l) => {
                Counted {
                    inner: l.until_ready(),
                    polls: polls.clone(),
                }
                .await
            }
            Self::LeakyBucket(l) => {
                Counted {
                    inner: l.acquire_one(),
                    polls: polls.clone(),
                }
                .await
            }
        }
    }
}

/// One task: takes tickets until `GRANTS` are handed out, acquiring a slot for each; returns
/// the grant times.
async fn worker(
    limiter: Limiter,
    tickets: Arc<AtomicUsize>,
    polls: Arc<AtomicU64>,
) -> Vec<Instant> {
    let mut grants = Vec::new();
    while tickets.fetch_add(1, Ordering::Relaxed) < GRANTS {
        limiter.acquire(&polls).await;
        grants.push(Instant::now());
    }
    grants
}

/// User + system CPU time of the process so far (from /proc, 10 ms ticks; `None` elsewhere).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

struct Outcome {
    grants: Vec<Instant>,
    polls: u64,
    cpu: Option<Duration>,
}

fn run_tokio(name: &str) -> Outcome {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let limiter = Limiter::new(name);
    let (tickets, polls) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicU64::new(0)));
    let cpu = cpu_time();
    let grants = rt.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| tokio::spawn(worker(limiter.clone(), tickets.clone(), polls.clone())))
            .collect();
        let mut grants = Vec::new();
        for t in tasks {
            grants.extend(t.await.unwrap());
        }
        grants
    });
    let cpu = cpu.zip(cpu_time()).map(|(a, b)| b - a);
    Outcome {
        grants,
        polls: polls.load(Ordering::Relaxed),
        cpu,
    }
}

fn run_smol(name: &str) -> Outcome {
    let ex = Arc::new(smol::Executor::new());
    let (stop, stopped) = smol::channel::unbounded::<()>();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (ex, stopped) = (ex.clone(), stopped.clone());
            std::thread::spawn(move || {
                // Ends when `stop` is dropped.
                let _ = smol::block_on(ex.run(stopped.recv()));
            })
        })
        .collect();
    let limiter = Limiter::new(name);
    let (tickets, polls) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicU64::new(0)));
    let cpu = cpu_time();
    let grants = smol::block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| ex.spawn(worker(limiter.clone(), tickets.clone(), polls.clone())))
            .collect();
        let mut grants = Vec::new();
        for t in tasks {
            grants.extend(t.await);
        }
        grants
    });
    let cpu = cpu.zip(cpu_time()).map(|(a, b)| b - a);
    drop(stop);
    for t in threads {
        t.join().unwrap();
    }
    Outcome {
        grants,
        polls: polls.load(Ordering::Relaxed),
        cpu,
    }
}

fn report(runtime: &str, name: &str, mut outcome: Outcome) {
    let grants = &mut outcome.grants;
    grants.sort();
    assert_eq!(grants.len(), GRANTS);
    let first = grants[0];
    let span = *grants.last().unwrap() - first;
    let interval = Duration::from_secs(1) / RATE;
    // After the burst, one grant per interval: the achieved rate over that stretch.
    let achieved = (GRANTS - BURST as usize) as f64 / span.as_secs_f64();
    let mut deviation: Vec<f64> = grants
        .iter()
        .enumerate()
        .map(|(k, g)| {
            let ideal = first + interval * (k.saturating_sub(BURST as usize - 1)) as u32;
            (g.saturating_duration_since(ideal).as_secs_f64()
                - ideal.saturating_duration_since(*g).as_secs_f64())
                * 1e6
        })
        .collect();
    deviation.sort_by(f64::total_cmp);
    let pct = |p: f64| deviation[((deviation.len() - 1) as f64 * p) as usize];
    println!(
        "| {runtime} | {name} | {achieved:.0}/s ({:+.2} %) | {:.0} / {:.0} / {:.0} µs | {:.2} | {} |",
        (achieved / f64::from(RATE) - 1.0) * 100.0,
        pct(0.5),
        pct(0.99),
        deviation.last().unwrap(),
        outcome.polls as f64 / GRANTS as f64,
        outcome
            .cpu
            .map_or("n/a".into(), |c| format!("{} ms", c.as_millis())),
    );
}

fn schedules() {
    println!("\nschedule: {TASKS} tasks, {GRANTS} grants at {RATE}/s, burst {BURST}");
    println!("| runtime | limiter | achieved rate | grant - ideal p50 / p99 / max | polls per grant | CPU |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for name in ["taskgroup", "governor", "leaky-bucket"] {
        report("tokio mt", name, run_tokio(name));
    }
    for name in ["taskgroup", "governor"] {
        report("smol", name, run_smol(name));
    }
    println!("| smol | leaky-bucket | n/a: needs tokio's timer | | | |");
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    uncontended_try_acquire(&mut c);
    contended_acquire_await(&mut c);
    c.final_summary();
    // `cargo bench --bench rate_limit -- uncontended` runs the criterion part only.
    if !std::env::args().any(|a| a.contains("uncontended")) {
        schedules();
    }
}
