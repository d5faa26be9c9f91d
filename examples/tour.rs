//! The guided tour: a worker pool over a batch of simulated jobs, every primitive of taskgroup
//! in its natural role, on the runtime of your choice.
//!
//! - `fan_out_with` runs the jobs, at most `--limit` at once, through a shared `Semaphore`
//!   that a scaler task `resize`s while the batch runs (grow, shrink, back);
//! - each attempt has a `.timeout()`; failed and hung attempts are retried with exponential
//!   backoff and jitter; jobs that never finished are named at the end;
//! - an `ErrGroup` runs the pipeline, the scaler and the progress display together;
//! - Ctrl-C (or `--shutdown-after <secs>`) fires the outer `CancelToken`: nothing new starts,
//!   running jobs finish their attempt, and the summary says what was left undone;
//! - results are written to an audit log by spawned tasks tracked by an `AsyncWaitGroup`,
//!   which the tour waits for, with a deadline, before it prints the summary.
//!
//! ```sh
//! cargo run --release --example tour
//! cargo run --release --example tour -- --runtime smol --jobs 5000 --limit 64
//! cargo run --release --example tour -- --shutdown-after 1
//! ```
//!
//! Offline, a few seconds, exits 0. When stdout is not a terminal, it prints plain lines.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::IsTerminal;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_io::Timer;
use clap::{Parser, ValueEnum};
use futures::{stream, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use taskgroup::{AsyncWaitGroup, CancelToken, ErrGroup, FanOutExt, Semaphore, TimeoutExt};

/// A worker pool over simulated jobs: retries, timeouts, live resizing, graceful shutdown.
#[derive(Parser, Debug, Clone)]
struct Args {
    /// How many jobs in the batch.
    #[arg(long, default_value_t = 3000)]
    jobs: usize,
    /// Jobs running at once (the scaler moves it between half and double while running).
    #[arg(long, default_value_t = 32)]
    limit: usize,
    /// Chance that an attempt fails.
    #[arg(long, default_value_t = 0.15)]
    fail_rate: f64,
    /// Chance that a job hangs on every attempt (it ends up in "never finished").
    #[arg(long, default_value_t = 0.005)]
    hang_rate: f64,
    /// Time limit of one attempt, in milliseconds.
    #[arg(long, default_value_t = 150)]
    timeout_ms: u64,
    /// Attempts per job before giving up.
    #[arg(long, default_value_t = 3)]
    attempts: u32,
    /// Fire the shutdown token after this many seconds, as Ctrl-C does.
    #[arg(long)]
    shutdown_after: Option<f64>,
    /// The executor to run on: the same code, unchanged, on each.
    #[arg(long, value_enum, default_value_t = Runtime::Tokio)]
    runtime: Runtime,
    /// Seed of the simulated batch.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Runtime {
    Tokio,
    Smol,
    AsyncStd,
}

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

fn main() {
    let args = Args::parse();
    let shutdown = CancelToken::new();
    {
        let shutdown = shutdown.clone();
        ctrlc::set_handler(move || shutdown.cancel()).expect("install the Ctrl-C handler");
    }
    if let Some(secs) = args.shutdown_after {
        let shutdown = shutdown.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs_f64(secs));
            shutdown.cancel();
        });
    }
    let summary = match args.runtime {
        Runtime::Tokio => tokio::runtime::Runtime::new()
            .expect("a tokio runtime")
            .block_on(tour(args.clone(), shutdown, |t| drop(tokio::spawn(t)))),
        Runtime::Smol => smol::block_on(tour(args.clone(), shutdown, |t| smol::spawn(t).detach())),
        Runtime::AsyncStd => async_std::task::block_on(tour(args.clone(), shutdown, |t| {
            drop(async_std::task::spawn(t))
        })),
    };
    summary.print(&args);
}

/// One simulated job: how long it works, and how it misbehaves.
#[derive(Clone, Debug)]
struct Job {
    id: usize,
    work: Duration,
    /// Attempts that fail before one succeeds.
    failures: u32,
    hangs: bool,
}

/// A small deterministic generator (xorshift), so a seed always gives the same batch.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn batch(args: &Args) -> Vec<Job> {
    let mut rng = Rng(args.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    (0..args.jobs)
        .map(|id| {
            let work = Duration::from_micros(1_000 + rng.next() % 19_000);
            let mut failures = 0;
            while failures < args.attempts && rng.unit() < args.fail_rate {
                failures += 1;
            }
            let hangs = rng.unit() < args.hang_rate;
            Job {
                id,
                work,
                failures,
                hangs,
            }
        })
        .collect()
}

/// How a job ended.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Done {
        attempts: u32,
    },
    GaveUp {
        last: String,
    },
    NeverFinished,
    /// Shut down between two attempts.
    Interrupted,
}

/// Live counters, read by the progress display.
#[derive(Default)]
struct Live {
    finished: AtomicUsize,
    running: AtomicUsize,
    retries: AtomicUsize,
}

/// Runs one job: attempts with a timeout each, exponential backoff with jitter between them.
async fn run_job(job: Job, args: Arc<Args>, live: Arc<Live>, shutdown: CancelToken) -> Outcome {
    let mut jitter = Rng(job.id as u64 * 2 + 1);
    let mut last = String::new();
    let mut all_timed_out = true;
    for attempt in 1..=args.attempts {
        if attempt > 1 {
            if shutdown.is_cancelled() {
                return Outcome::Interrupted;
            }
            live.retries.fetch_add(1, Ordering::Relaxed);
            let backoff = Duration::from_millis(5 << (attempt - 2)); // 5, 10, 20 ms ...
            let jitter = Duration::from_micros(jitter.next() % 5_000);
            Timer::after(backoff + jitter).await;
        }
        live.running.fetch_add(1, Ordering::Relaxed);
        let attempted = attempt_once(&job, attempt)
            .timeout(Duration::from_millis(args.timeout_ms))
            .await;
        live.running.fetch_sub(1, Ordering::Relaxed);
        match attempted {
            Ok(Ok(())) => return Outcome::Done { attempts: attempt },
            Ok(Err(error)) => {
                all_timed_out = false;
                last = error;
            }
            Err(elapsed) => last = format!("timed out after {:?}", elapsed.waited()),
        }
    }
    if all_timed_out {
        Outcome::NeverFinished
    } else {
        Outcome::GaveUp { last }
    }
}

/// One attempt: simulated I/O that may fail or hang.
async fn attempt_once(job: &Job, attempt: u32) -> Result<(), String> {
    if job.hangs {
        std::future::pending::<()>().await;
    }
    Timer::after(job.work).await;
    if attempt <= job.failures {
        Err(format!("job {}: upstream 503 on attempt {attempt}", job.id))
    } else {
        Ok(())
    }
}

/// What the tour prints at the end.
struct Summary {
    outcomes: BTreeMap<usize, Outcome>,
    not_started: usize,
    limits: Vec<usize>,
    audit_lines: usize,
    elapsed: Duration,
    shut_down: bool,
}

async fn tour(args: Args, shutdown: CancelToken, spawn: fn(Task)) -> Summary {
    let started = Instant::now();
    let args = Arc::new(args);
    let jobs = batch(&args);
    let total = jobs.len();
    let pool = Arc::new(Semaphore::new(args.limit));
    let live = Arc::new(Live::default());
    let outcomes = Mutex::new(BTreeMap::new());
    let limits = Mutex::new(vec![args.limit]);
    let audit = Arc::new(Mutex::new(Vec::new()));
    let writes = AsyncWaitGroup::new();
    let finished = CancelToken::new(); // the pipeline is done: the helpers stop

    // A live bar on a terminal, plain lines otherwise.
    let bar = std::io::stdout().is_terminal().then(|| {
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40.cyan/blue} {pos:>5}/{len} {msg}")
                .expect("a valid template"),
        );
        bar
    });
    let say = |line: String| match &bar {
        Some(bar) => bar.println(line),
        None => println!("{line}"),
    };
    say(format!(
        "{total} jobs on {:?}, limit {}, {} attempts of {} ms at most each",
        args.runtime, args.limit, args.attempts, args.timeout_ms
    ));

    let mut group = ErrGroup::new();
    // The pipeline: every job through the pool, until the batch is done or shutdown fires.
    group.spawn(async {
        let mut results = stream::iter(jobs)
            .take_until(shutdown.cancelled())
            .fan_out_with(pool.clone(), |job| {
                let id = job.id;
                let run = run_job(job, args.clone(), live.clone(), shutdown.clone());
                async move { (id, run.await) }
            });
        let mut announced = false;
        while let Some((id, outcome)) = results.next().await {
            if shutdown.is_cancelled() && !std::mem::replace(&mut announced, true) {
                say(format!(
                    "[{:>4.1}s] shutdown: no new jobs; {} running finish their attempt",
                    started.elapsed().as_secs_f64(),
                    live.running.load(Ordering::Relaxed)
                ));
            }
            live.finished.fetch_add(1, Ordering::Relaxed);
            // The audit log is written in the background; the wait group knows how many.
            let line = format!("{id}\t{outcome:?}");
            let audit = audit.clone();
            spawn(Box::pin(writes.track(async move {
                Timer::after(Duration::from_micros(200)).await;
                audit.lock().unwrap().push(line);
            })));
            outcomes.lock().unwrap().insert(id, outcome);
        }
        finished.cancel();
        Ok::<_, String>(())
    });
    // The scaler: grows the pool, shrinks it, puts it back, while jobs hold permits.
    group.spawn(async {
        let plan = [args.limit * 2, (args.limit / 2).max(1), args.limit];
        finished
            .run_until_cancelled(async {
                for limit in plan {
                    Timer::after(Duration::from_millis(400)).await;
                    let before = limits.lock().unwrap().last().copied().unwrap_or_default();
                    pool.resize(limit); // while jobs hold permits
                    limits.lock().unwrap().push(limit);
                    say(format!(
                        "[{:>4.1}s] scaler: limit {before} -> {limit}",
                        started.elapsed().as_secs_f64()
                    ));
                }
            })
            .await;
        Ok(())
    });
    // The progress display: a live bar on a terminal, plain lines otherwise.
    group.spawn(async {
        let mut tick = 0u32;
        let status = |live: &Live| {
            format!(
                "running {:>3}, retries {:>4}, limit {:>3}{}",
                live.running.load(Ordering::Relaxed),
                live.retries.load(Ordering::Relaxed),
                limits.lock().unwrap().last().copied().unwrap_or_default(),
                if shutdown.is_cancelled() {
                    ", shutting down"
                } else {
                    ""
                },
            )
        };
        finished
            .run_until_cancelled(async {
                loop {
                    Timer::after(Duration::from_millis(100)).await;
                    tick += 1;
                    let done = live.finished.load(Ordering::Relaxed);
                    match &bar {
                        Some(bar) => {
                            bar.set_position(done as u64);
                            bar.set_message(status(&live));
                        }
                        None if tick % 5 == 0 => println!(
                            "[{:>4.1}s] {done:>5}/{total} finished, {}",
                            started.elapsed().as_secs_f64(),
                            status(&live)
                        ),
                        None => {}
                    }
                }
            })
            .await;
        if let Some(bar) = &bar {
            bar.finish_with_message(status(&live));
        }
        Ok(())
    });
    group.wait().await.expect("no stage fails");

    // Let the audit writes land, but not forever.
    if writes.wait().timeout(Duration::from_secs(5)).await.is_err() {
        eprintln!("{} audit writes still pending", writes.count());
    }
    let outcomes = outcomes.into_inner().unwrap();
    let audit_lines = audit.lock().unwrap().len();
    Summary {
        not_started: total - outcomes.len(),
        outcomes,
        limits: limits.into_inner().unwrap(),
        audit_lines,
        elapsed: started.elapsed(),
        shut_down: shutdown.is_cancelled(),
    }
}

impl Summary {
    fn print(&self, args: &Args) {
        let count = |f: &dyn Fn(&Outcome) -> bool| self.outcomes.values().filter(|o| f(o)).count();
        let first_try = count(&|o| *o == Outcome::Done { attempts: 1 });
        let retried = count(&|o| matches!(o, Outcome::Done { attempts } if *attempts > 1));
        let gave_up = count(&|o| matches!(o, Outcome::GaveUp { .. }));
        let interrupted = count(&|o| *o == Outcome::Interrupted);
        let never: Vec<String> = self
            .outcomes
            .iter()
            .filter(|(_, o)| **o == Outcome::NeverFinished)
            .map(|(id, _)| format!("#{id}"))
            .collect();
        let limits: Vec<String> = self.limits.iter().map(usize::to_string).collect();

        println!();
        println!(
            "taskgroup tour on {:?}: {} jobs, limit {}",
            args.runtime, args.jobs, args.limit
        );
        println!("  {:<34} {:>6}", "outcome", "jobs");
        println!("  {:<34} {:>6}", "done at the first attempt", first_try);
        println!("  {:<34} {:>6}", "done after retries", retried);
        println!("  {:<34} {:>6}", "gave up (kept failing)", gave_up);
        println!("  {:<34} {:>6}", "never finished (timed out)", never.len());
        println!("  {:<34} {:>6}", "interrupted by shutdown", interrupted);
        println!("  {:<34} {:>6}", "not started (shutdown)", self.not_started);
        if !never.is_empty() {
            println!("  never finished: {}", never.join(", "));
        }
        if let Some((id, Outcome::GaveUp { last })) = self
            .outcomes
            .iter()
            .find(|(_, o)| matches!(o, Outcome::GaveUp { .. }))
        {
            println!("  e.g. job {id} gave up: {last}");
        }
        println!("  pool limit over time: {}", limits.join(" -> "));
        println!(
            "  {} audit lines written; {:.2} s, {:.0} jobs/s{}",
            self.audit_lines,
            self.elapsed.as_secs_f64(),
            self.outcomes.len() as f64 / self.elapsed.as_secs_f64(),
            if self.shut_down {
                "; shut down gracefully"
            } else {
                ""
            }
        );
        assert_eq!(
            self.outcomes.len() + self.not_started,
            args.jobs,
            "every job is accounted for"
        );
        assert_eq!(
            self.audit_lines,
            self.outcomes.len(),
            "every result is in the audit log"
        );
    }
}
