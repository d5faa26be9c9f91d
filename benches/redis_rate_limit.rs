//! `RedisRateLimiter` against the local `RateLimiter` and go-redis/redis_rate's approach, on one
//! local `redis-server` that the bench starts (Debian: `apt-get install redis-server`).
//!
//! Run with `cargo bench -p taskgroup-benches --features redis --bench redis_rate_limit`.
//!
//! The peer, `redis_rate` below, is go-redis/redis_rate's published approach rewritten here: a
//! Lua GCRA script that *checks* (`Allow`: allowed, or "retry after" seconds) with times as
//! float seconds, called in a loop by the client, which sleeps for the retry-after and asks
//! again when refused. taskgroup's script *books* instead (the delay comes back with the
//! booking), so a waiting caller makes one round trip and wakes once.
//!
//! 1. `redis_acquire_latency` (criterion): one caller, a limit that always has room: the time
//!    of one grant (one round trip for both Redis limiters) and the local limiter's.
//! 2. `throughput` (a timed run, printed): 64 tasks on tokio's multi-thread runtime (2 workers)
//!    take 20 000 grants from a limit that always has room: grants per second.
//! 3. `schedule` (a timed run, printed): 200 tasks share 2 000 grants per second (burst 10) for
//!    4 000 grants: achieved rate, round trips per grant (counted by the server, `INFO
//!    commandstats`), and how late grants land against the ideal schedule (p50/p99).

#[path = "common/redis_server.rs"]
mod redis_server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use redis_server::Server;
use taskgroup::{RateLimiter, RedisRateLimiter};

/// go-redis/redis_rate's GCRA "allow" (our rewrite): float seconds since 2017, a `tat` per key.
const PEER_SCRIPT: &str = r#"
local key, burst, rate, period = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local interval = period / rate
local t = redis.call('TIME')
local now = (t[1] - 1483228800) + t[2] / 1000000
local tat = tonumber(redis.call('GET', key) or now)
if tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - interval * burst
if now >= allow_at then
  redis.call('SET', key, new_tat, 'EX', math.ceil(new_tat - now))
  return {1, '0'}
end
return {0, tostring(allow_at - now)}
"#;

struct Peer {
    conn: redis::aio::MultiplexedConnection,
    script: redis::Script,
    key: String,
    args: (u32, u32, f64),
}

impl Peer {
    /// redis_rate's `Allow` in a loop: refused, sleep for the retry-after, ask again.
    async fn acquire(&self) {
        loop {
            let (allowed, retry_after): (i64, String) = self
                .script
                .key(&self.key)
                .arg(self.args.0)
                .arg(self.args.1)
                .arg(self.args.2)
                .arg(1)
                .invoke_async(&mut self.conn.clone())
                .await
                .unwrap();
            if allowed == 1 {
                return;
            }
            let wait = retry_after.parse::<f64>().unwrap();
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
    }
}

impl Server {
    async fn peer(&self, key: &str, rate: u32, burst: u32) -> Peer {
        let client = redis::Client::open(self.url.as_str()).unwrap();
        let _: () = redis::cmd("DEL").arg(key).query(&mut self.sync()).unwrap();
        Peer {
            conn: client.get_multiplexed_async_connection().await.unwrap(),
            script: redis::Script::new(PEER_SCRIPT),
            key: key.to_owned(),
            args: (burst, rate, 1.0),
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn latency(c: &mut Criterion, server: &Server) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("redis_acquire_latency");
    let ours = RedisRateLimiter::new(&server.url, "latency", 1_000_000, Duration::from_secs(1))
        .unwrap()
        .with_burst(1_000_000);
    g.bench_function("taskgroup_redis", |b| {
        b.to_async(&rt)
            .iter(|| async { ours.acquire().await.unwrap() })
    });
    let peer = rt.block_on(server.peer("peer-latency", 1_000_000, 1_000_000));
    g.bench_function("redis_rate_peer", |b| {
        b.to_async(&rt).iter(|| peer.acquire())
    });
    let local = RateLimiter::new(1_000_000_000, Duration::from_secs(1)).with_burst(1_000_000);
    g.bench_function("taskgroup_local", |b| {
        b.to_async(&rt)
            .iter(|| async { local.acquire().await.unwrap() })
    });
    g.finish();
}

/// How `tasks` tasks take `grants` grants in all from `acquire`: the grants' times since the
/// start.
async fn run<F, Fut>(tasks: usize, grants: usize, acquire: F) -> Vec<Duration>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let acquire = Arc::new(acquire);
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            let acquire = acquire.clone();
            let mine = grants / tasks + usize::from(i < grants % tasks);
            tokio::spawn(async move {
                let mut times = Vec::with_capacity(mine);
                for _ in 0..mine {
                    acquire().await;
                    times.push(start.elapsed());
                }
                times
            })
        })
        .collect();
    let mut times = Vec::with_capacity(grants);
    for handle in handles {
        times.extend(handle.await.unwrap());
    }
    times.sort();
    times
}

fn throughput(server: &Server) {
    println!("\nthroughput: 64 tasks, 20 000 grants from a limit that always has room");
    let rt = runtime();
    let (tasks, grants) = (64, 20_000);
    let ours = RedisRateLimiter::new(&server.url, "throughput", 1_000_000, Duration::from_secs(1))
        .unwrap()
        .with_burst(1_000_000);
    let times = rt.block_on(run(tasks, grants, move || {
        let ours = ours.clone();
        async move { ours.acquire().await.unwrap() }
    }));
    report_throughput("taskgroup_redis", &times);
    let peer = Arc::new(rt.block_on(server.peer("peer-throughput", 1_000_000, 1_000_000)));
    let times = rt.block_on(run(tasks, grants, move || {
        let peer = peer.clone();
        async move { peer.acquire().await }
    }));
    report_throughput("redis_rate_peer", &times);
    let local =
        Arc::new(RateLimiter::new(1_000_000_000, Duration::from_secs(1)).with_burst(1_000_000));
    let times = rt.block_on(run(tasks, grants, move || {
        let local = local.clone();
        async move { local.acquire().await.unwrap() }
    }));
    report_throughput("taskgroup_local", &times);
}

fn report_throughput(name: &str, times: &[Duration]) {
    let total = times.last().unwrap().as_secs_f64();
    println!(
        "  {name:<16} {:>10.0} grants/s  ({:.1} µs per grant)",
        times.len() as f64 / total,
        total * 1e6 / times.len() as f64
    );
}

fn schedule(server: &Server) {
    const RATE: u32 = 2_000;
    const BURST: u32 = 10;
    const TASKS: usize = 200;
    const GRANTS: usize = 4_000;
    println!(
        "\nschedule: {TASKS} tasks share {RATE}/s (burst {BURST}) for {GRANTS} grants (tokio, 2 workers)"
    );
    println!("  limiter           achieved/s  round trips/grant  late p50   late p99");
    let rt = runtime();
    let ours = RedisRateLimiter::new(&server.url, "schedule", RATE, Duration::from_secs(1))
        .unwrap()
        .with_burst(BURST);
    // Warm the script cache, then count only the run.
    rt.block_on(async {
        let warm = RedisRateLimiter::new(&server.url, "warm", 1, Duration::from_secs(1)).unwrap();
        warm.acquire().await.unwrap();
    });
    server.reset_stats();
    let times = rt.block_on(run(TASKS, GRANTS, move || {
        let ours = ours.clone();
        async move { ours.acquire().await.unwrap() }
    }));
    report_schedule(
        "taskgroup_redis",
        &times,
        RATE,
        BURST,
        server.calls(&["evalsha", "eval"]),
    );
    let peer = Arc::new(rt.block_on(server.peer("peer-schedule", RATE, BURST)));
    rt.block_on(async { peer.acquire().await }); // loads the peer's script; one extra grant
    server.reset_stats();
    let times = rt.block_on(run(TASKS, GRANTS, move || {
        let peer = peer.clone();
        async move { peer.acquire().await }
    }));
    report_schedule(
        "redis_rate_peer",
        &times,
        RATE,
        BURST,
        server.calls(&["evalsha", "eval"]),
    );
    let local = Arc::new(RateLimiter::new(RATE, Duration::from_secs(1)).with_burst(BURST));
    let times = rt.block_on(run(TASKS, GRANTS, move || {
        let local = local.clone();
        async move { local.acquire().await.unwrap() }
    }));
    report_schedule("taskgroup_local", &times, RATE, BURST, 0);
}

/// Achieved rate after the burst, round trips per grant, and lateness against the ideal
/// schedule (the k-th grant at `first + (k - burst + 1) / rate`).
fn report_schedule(name: &str, times: &[Duration], rate: u32, burst: u32, calls: u64) {
    let first = times[0];
    let span = (*times.last().unwrap() - first).as_secs_f64();
    let achieved = (times.len() - burst as usize) as f64 / span;
    let mut late: Vec<Duration> = times
        .iter()
        .enumerate()
        .map(|(k, t)| {
            let ideal = first
                + Duration::from_secs_f64(
                    (k as f64 - f64::from(burst) + 1.0).max(0.0) / f64::from(rate),
                );
            t.saturating_sub(ideal)
        })
        .collect();
    late.sort();
    let pct = |p: f64| late[((late.len() as f64 * p) as usize).min(late.len() - 1)];
    println!(
        "  {name:<16} {achieved:>10.0}  {:>17.2}  {:>8.0?}  {:>8.0?}",
        calls as f64 / times.len() as f64,
        pct(0.5),
        pct(0.99)
    );
}

fn main() {
    let server = Server::start();
    let mut c = Criterion::default().configure_from_args();
    latency(&mut c, &server);
    c.final_summary();
    // `cargo test --benches` runs benches once with `--test`: criterion's part only.
    let smoke = std::env::args().any(|a| a == "--test" || a == "--list");
    if !smoke {
        throughput(&server);
        schedule(&server);
    }
}
