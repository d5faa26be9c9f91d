//! Multi-thread scenarios measured in interleaved rounds, so that every contestant meets the
//! same phases of the 2-core VM (see `interleaved_group`): the contended semaphore groups, the
//! spawned fan-out, the parallel error-group groups, the worker pool and the 64 tasks awaiting
//! the rate limiter. Included by each bench with `#[path]`, so it is not a bench of its own.

use std::time::{Duration, Instant};

use criterion::Criterion;

/// One contestant of a contended scenario: its name and one batch.
pub type Line<'a> = (&'static str, Box<dyn FnMut() + 'a>);

/// Rounds of a contended scenario: each runs one batch of every contestant.
pub const INTERLEAVED_ROUNDS: usize = 60;

/// Measures a contended scenario in interleaved rounds and hands the batch times to criterion.
///
/// This 2-core VM has phases: for seconds to minutes at a time every contended batch takes 2-3×
/// as long, and not by the same factor for every contestant (cross-thread wake-ups get dearer,
/// which hurts a strictly FIFO hand-off more than async-lock's barging). Measured one
/// contestant after the other, as criterion does, two lines of one group could fall in
/// different phases: that is how the semaphore bench once showed taskgroup at 3.91× tokio (6.64 ms in a
/// slow phase against 1.70 ms in a fast one) while an outside harness saw 0.97×. So each round
/// here runs one batch of every contestant, in an order that rotates from round to round, and
/// every line's samples are its own batch times from those rounds, replayed to criterion in
/// turn (criterion then reports their mean, over the same rounds for every line, after a
/// fraction of a second of replay). The median of the per-round ratios to the first line is
/// printed too: it is the comparison that no phase can skew.
pub fn interleaved_group(c: &mut Criterion, group: &str, mut lines: Vec<Line<'_>>) {
    let n = lines.len();
    for (_, batch) in &mut lines {
        batch(); // warm-up
    }
    let mut times = vec![Vec::with_capacity(INTERLEAVED_ROUNDS); n];
    for round in 0..INTERLEAVED_ROUNDS {
        for k in 0..n {
            let i = (k + round) % n;
            let started = Instant::now();
            (lines[i].1)();
            times[i].push(started.elapsed());
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    println!(
        "{group}: {INTERLEAVED_ROUNDS} interleaved rounds; ratios to {}",
        lines[0].0
    );
    for i in 0..n {
        let ratios = (0..INTERLEAVED_ROUNDS)
            .map(|r| times[i][r].as_secs_f64() / times[0][r].as_secs_f64())
            .collect();
        let med = median(times[i].iter().map(|t| t.as_secs_f64() * 1e6).collect());
        let mean = times[i].iter().sum::<Duration>() / INTERLEAVED_ROUNDS as u32;
        println!(
            "  {:16} median {med:7.0} µs  mean {:7.0} µs  per-round ratio (median) {:.2}",
            lines[i].0,
            mean.as_secs_f64() * 1e6,
            median(ratios)
        );
    }
    let mut g = c.benchmark_group(group);
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(10))
        .measurement_time(Duration::from_millis(100));
    for (i, (name, _)) in lines.iter().enumerate() {
        let recorded = &times[i];
        let mut next = 0;
        g.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        next += 1;
                        recorded[next % recorded.len()]
                    })
                    .sum()
            })
        });
    }
    g.finish();
}
