//! The guided tour: a worker pool over a batch of simulated jobs, on the runtime of your
//! choice, built on taskgroup's `WorkerPool`.
//!
//! - the jobs go through a `WorkerPool` of `--limit` slots with a bounded queue: `submit`
//!   waits for room (backpressure), and a scaler `resize`s the pool while it runs;
//! - each attempt has a `.timeout()`; failed and hung attempts are retried with exponential
//!   backoff and jitter; jobs that never finished are named at the end;
//! - the progress bar is fed by `pool.stats()` (no counters of our own);
//! - Ctrl-C (or `--shutdown-after <secs>`) stops the feeding, and `pool.shutdown(grace)` lets
//!   running jobs finish their attempt, cancels what is left at the deadline, and says so.
//!   The tour then exits with status 130, as a program stopped by Ctrl-C does.
//!
//! ```sh
//! cargo run --release --example tour
//! cargo run --release --example tour -- --runtime smol --jobs 5000 --limit 64
//! cargo run --release --example tour -- --shutdown-after 1
//! ```
//!
//! Offline, a few seconds. When stdout is not a terminal, it prints plain lines.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_io::Timer;
use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use taskgroup::{CancelToken, Shutdown, TimeoutExt, WorkerPool};

/// A worker pool over simulated jobs: retries, timeouts, live resizing, graceful shutdown.
#[derive(Parser, Debug, Clone)]
struct Args {
    /// How many jobs in the batch.
    #[arg(long, default_value_t = 3000, allow_negative_numbers = true, value_parser = count)]
    jobs: usize,
    /// Jobs running at once (the scaler moves it between half and double while running).
    #[arg(long, default_value_t = 32, allow_negative_numbers = true, value_parser = limit)]
    limit: usize,
    /// Chance that an attempt fails, from 0 to 1.
    #[arg(long, default_value_t = 0.15, allow_negative_numbers = true, value_parser = chance)]
    fail_rate: f64,
    /// Chance that a job hangs on every attempt (it ends up in "never finished"), from 0 to 1.
    #[arg(long, default_value_t = 0.005, allow_negative_numbers = true, value_parser = chance)]
    hang_rate: f64,
    /// Time limit of one attempt, in milliseconds.
    #[arg(long, default_value_t = 150)]
    timeout_ms: u64,
    /// Attempts per job before giving up.
    #[arg(long, default_value_t = 3)]
    attempts: u32,
    /// Shut down after this many seconds, as Ctrl-C does.
    #[arg(long)]
    shutdown_after: Option<f64>,
    /// How long running jobs get to finish once shutdown starts, in milliseconds.
    #[arg(long, default_value_t = 500)]
    grace_ms: u64,
    /// The executor to run on: the same code, unchanged, on each.
    #[arg(long, value_enum, default_value_t = Runtime::Tokio)]
    runtime: Runtime,
    /// Seed of the simulated batch.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

fn count(text: &str) -> Result<usize, String> {
    let n: i64 = text
        .parse()
        .map_err(|_| format!("expected a whole number, got {text:?}"))?;
    usize::try_from(n).map_err(|_| format!("a number of jobs is 0 or more, not {n}"))
}

fn limit(text: &str) -> Result<usize, String> {
    match count(text)? {
        0 => Err("the limit must be at least 1 (with 0 no job could ever run)".to_owned()),
        n => Ok(n),
    }
}

fn chance(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        Ok(p) => Err(format!("a chance is between 0 and 1, not {p}")),
        Err(_) => Err(format!("expected a number between 0 and 1, got {text:?}")),
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Runtime {
    Tokio,
    Smol,
    AsyncStd,
}

type Spawn = fn(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>);

fn main() {
    let args = Args::parse();
    let shutdown = CancelToken::new();
    let on_signal = shutdown.clone();
    ctrlc::set_handler(move || on_signal.cancel()).expect("install the Ctrl-C handler");
    if let Some(secs) = args.shutdown_after {
        let shutdown = shutdown.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs_f64(secs.max(0.0)));
            shutdown.cancel();
        });
    }
    let run = |spawn: Spawn| run_tour(args.clone(), shutdown.clone(), spawn);
    let summary = match args.runtime {
        Runtime::Tokio => tokio::runtime::Runtime::new()
            .expect("a tokio runtime")
            .block_on(run(|job| drop(tokio::spawn(job)))),
        Runtime::Smol => smol::block_on(run(|job| smol::spawn(job).detach())),
        Runtime::AsyncStd => {
            async_std::task::block_on(run(|job| drop(async_std::task::spawn(job))))
        }
    };
    summary.print(&args);
    if summary.shutdown.is_some() {
        std::process::exit(130); // stopped by Ctrl-C (or --shutdown-after), as a shell expects
    }
}

/// One simulated job: how long it works, and how it misbehaves.
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
#[derive(Debug, PartialEq)]
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

/// Runs one job: attempts with a timeout each, exponential backoff with jitter between them.
async fn run_job(
    job: Job,
    args: Arc<Args>,
    retries: Arc<AtomicUsize>,
    token: CancelToken,
) -> Outcome {
    let mut jitter = Rng(job.id as u64 * 2 + 1);
    let mut last = String::new();
    let mut all_timed_out = true;
    for attempt in 1..=args.attempts {
        if attempt > 1 {
            if token.is_cancelled() {
                return Outcome::Interrupted;
            }
            retries.fetch_add(1, Ordering::Relaxed);
            let backoff = Duration::from_millis(5 << (attempt - 2)); // 5, 10, 20 ms ...
            Timer::after(backoff + Duration::from_micros(jitter.next() % 5_000)).await;
        }
        match attempt_once(&job, attempt)
            .timeout(Duration::from_millis(args.timeout_ms))
            .await
        {
            Ok(Ok(())) => return Outcome::Done { attempts: attempt },
            Ok(Err(error)) => (all_timed_out, last) = (false, error),
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
    submitted: u64,
    elapsed: Duration,
    /// `Some` if the batch was cut short.
    shutdown: Option<Shutdown>,
}

async fn run_tour(args: Args, shutdown: CancelToken, spawn: Spawn) -> Summary {
    let started = Instant::now();
    let args = Arc::new(args);
    let jobs = batch(&args);
    let total = jobs.len();
    // The pool: `limit` at once, a queue of twice that, its token a child of Ctrl-C's.
    let pool = WorkerPool::new(args.limit, spawn)
        .with_queue_size(args.limit.saturating_mul(2).min(1 << 20))
        .with_parent(&shutdown);
    let outcomes = Arc::new(Mutex::new(BTreeMap::new()));
    let retries = Arc::new(AtomicUsize::new(0));
    let fed = CancelToken::new(); // the feeder is done: the helpers stop

    let bar = std::io::stdout().is_terminal().then(|| {
        let bar = ProgressBar::new(total as u64);
        let style = ProgressStyle::with_template("{bar:40.cyan/blue} {pos:>5}/{len} {msg}");
        bar.set_style(style.expect("a valid template"));
        bar
    });
    let say = |line: String| match &bar {
        Some(bar) => bar.println(line),
        None => println!("{line}"),
    };
    let at = || format!("[{:>4.1}s]", started.elapsed().as_secs_f64());
    say(format!(
        "{total} jobs on {:?}, limit {}, {} attempts of {} ms at most each",
        args.runtime, args.limit, args.attempts, args.timeout_ms
    ));

    // The feeder: every job into the pool (waiting for room), until Ctrl-C; then the pool
    // winds down, gracefully or at the deadline.
    let feeder = async {
        for job in jobs {
            let (id, outcomes) = (job.id, outcomes.clone());
            let run = run_job(job, args.clone(), retries.clone(), pool.cancel_token());
            let submit = pool.submit(async move {
                let outcome = run.await;
                outcomes.lock().unwrap().insert(id, outcome);
            });
            match shutdown.run_until_cancelled(submit).await {
                Some(handle) => drop(handle), // detached: the job records its own outcome
                None => break,
            }
        }
        let report = if shutdown.is_cancelled() {
            say(format!(
                "{} shutdown: no new jobs; {} running get {} ms",
                at(),
                pool.stats().running,
                args.grace_ms
            ));
            Some(pool.shutdown(Duration::from_millis(args.grace_ms)).await)
        } else {
            pool.stop_and_wait().await;
            None
        };
        fed.cancel();
        report
    };
    // The scaler: grows the pool, shrinks it, puts it back, while jobs run.
    let scaler = fed.run_until_cancelled(async {
        for limit in [
            args.limit.saturating_mul(2),
            (args.limit / 2).max(1),
            args.limit,
        ] {
            Timer::after(Duration::from_millis(400)).await;
            say(format!(
                "{} scaler: limit {} -> {limit}",
                at(),
                pool.limit()
            ));
            pool.resize(limit); // while jobs run
        }
    });
    // The progress display, from the pool's own counters.
    let status = || {
        let (stats, retries) = (pool.stats(), retries.load(Ordering::Relaxed));
        let stopping = if shutdown.is_cancelled() {
            ", shutting down"
        } else {
            ""
        };
        let (running, queued, limit) = (stats.running, stats.waiting, pool.limit());
        let message = format!("running {running:>3}, queued {queued:>3}, retries {retries:>4}, limit {limit:>3}{stopping}");
        (stats.ended(), message)
    };
    let progress = fed.run_until_cancelled(async {
        for tick in 1.. {
            Timer::after(Duration::from_millis(100)).await;
            let (ended, message) = status();
            match &bar {
                Some(bar) => {
                    bar.set_position(ended);
                    bar.set_message(message);
                }
                None if tick % 5 == 0 => println!("{} {ended:>5}/{total} ended, {message}", at()),
                None => {}
            }
        }
    });
    let (report, _, _) = futures::join!(feeder, scaler, progress);
    if let Some(bar) = &bar {
        let (ended, message) = status();
        bar.set_position(ended); // what really ran, not the total
        bar.abandon_with_message(message);
    }
    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    Summary {
        outcomes,
        submitted: pool.stats().submitted,
        elapsed: started.elapsed(),
        shutdown: report,
    }
}

impl Outcome {
    const LABELS: [&'static str; 5] = [
        "done at the first attempt",
        "done after retries",
        "gave up (kept failing)",
        "never finished (timed out)",
        "interrupted by shutdown",
    ];
    fn label(&self) -> &'static str {
        let row = match self {
            Outcome::Done { attempts: 1 } => 0,
            Outcome::Done { .. } => 1,
            Outcome::GaveUp { .. } => 2,
            Outcome::NeverFinished => 3,
            Outcome::Interrupted => 4,
        };
        Self::LABELS[row]
    }
}

impl Summary {
    fn print(&self, args: &Args) {
        let cancelled = self.shutdown.map_or(0, |report| report.cancelled as usize);
        let not_submitted = args.jobs - self.submitted as usize;
        println!(
            "\ntaskgroup tour on {:?}: {} jobs, limit {}",
            args.runtime, args.jobs, args.limit
        );
        for label in Outcome::LABELS {
            let jobs = self
                .outcomes
                .values()
                .filter(|o| o.label() == label)
                .count();
            println!("  {label:<34} {jobs:>6}");
        }
        println!("  {:<34} {cancelled:>6}", "cancelled at the deadline");
        println!("  {:<34} {not_submitted:>6}", "never submitted (shutdown)");
        let never = self
            .outcomes
            .iter()
            .filter(|(_, o)| **o == Outcome::NeverFinished);
        let never: Vec<String> = never.map(|(id, _)| format!("#{id}")).collect();
        if !never.is_empty() {
            println!("  never finished: {}", never.join(", "));
        }
        let gave_up = self.outcomes.iter().find_map(|(id, o)| match o {
            Outcome::GaveUp { last } => Some((id, last)),
            _ => None,
        });
        if let Some((id, last)) = gave_up {
            println!("  e.g. job {id} gave up: {last}");
        }
        let seconds = self.elapsed.as_secs_f64();
        let rate = self.outcomes.len() as f64 / seconds;
        let stopped = if self.shutdown.is_some() {
            "; shut down (exit status 130)"
        } else {
            ""
        };
        println!("  {seconds:.2} s, {rate:.0} jobs/s{stopped}");
        let accounted = self.outcomes.len() + cancelled + not_submitted;
        assert_eq!(accounted, args.jobs, "every job is accounted for");
    }
}
