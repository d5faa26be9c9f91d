//! `RedisSemaphore` against the local `Semaphore` and the common hand-rolled Redis counting
//! semaphore, on one local `redis-server` that the bench starts (Debian: `apt-get install
//! redis-server`).
//!
//! Run with `cargo bench -p taskgroup-benches --features redis --bench redis_semaphore`.
//!
//! The peer, `incr_decr_peer` below, is the approach most services write by hand: `INCRBY key
//! n`; if the answer is above the total, `DECRBY key n`, sleep 1 ms and try again; release with
//! `DECRBY key n`. One round trip per acquire when there is room, two per release-and-acquire;
//! no order among waiters (a large request can starve), no lease (a crashed holder's permits
//! are lost for good), and waiting is polling.
//!
//! 1. `redis_semaphore_acquire_release` (criterion): one caller, permits always free: one
//!    acquire and its release. Ours releases from a background task (the caller does not wait
//!    for it); the peer awaits its `DECRBY`, as hand-rolled code does.
//! 2. `contended` (a timed run, printed): 2 clients × 16 tasks share 4 permits for 4 000
//!    acquisitions (tokio, 2 workers), each holding its permit for 100 µs: acquisitions per
//!    second, Redis commands per acquisition (counted by the server), the wait for a permit
//!    (p50/p99), and the most permits held at once (must be 4).

#[path = "common/redis_server.rs"]
mod redis_server;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use redis_server::Server;
use taskgroup::{RedisSemaphore, Semaphore};

/// The hand-rolled counting semaphore.
struct Peer {
    conn: redis::aio::MultiplexedConnection,
    key: String,
    total: i64,
}

impl Peer {
    async fn acquire(&self, n: i64) {
        let mut conn = self.conn.clone();
        loop {
            let now: i64 = redis::cmd("INCRBY")
                .arg(&self.key)
                .arg(n)
                .query_async(&mut conn)
                .await
                .unwrap();
            if now <= self.total {
                return;
            }
            let _: i64 = redis::cmd("DECRBY")
                .arg(&self.key)
                .arg(n)
                .query_async(&mut conn)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    async fn release(&self, n: i64) {
        let _: i64 = redis::cmd("DECRBY")
            .arg(&self.key)
            .arg(n)
            .query_async(&mut self.conn.clone())
            .await
            .unwrap();
    }
}

impl Server {
    async fn peer(&self, key: &str, total: i64) -> Peer {
        let _: () = redis::cmd("DEL").arg(key).query(&mut self.sync()).unwrap();
        let client = redis::Client::open(self.url.as_str()).unwrap();
        Peer {
            conn: client.get_multiplexed_async_connection().await.unwrap(),
            key: key.to_owned(),
            total,
        }
    }
}

fn acquire_release(c: &mut Criterion, server: &Server) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("redis_semaphore_acquire_release");
    let ours = RedisSemaphore::new(&server.url, "latency", 1_000_000).unwrap();
    g.bench_function("taskgroup_redis", |b| {
        b.to_async(&rt)
            .iter(|| async { drop(ours.acquire().await.unwrap()) })
    });
    let peer = rt.block_on(server.peer("peer-latency", 1_000_000));
    g.bench_function("incr_decr_peer", |b| {
        b.to_async(&rt).iter(|| async {
            peer.acquire(1).await;
            peer.release(1).await;
        })
    });
    let local = Semaphore::new(1_000_000);
    g.bench_function("taskgroup_local", |b| {
        b.to_async(&rt)
            .iter(|| async { drop(local.acquire().await.unwrap()) })
    });
    g.finish();
}

const TOTAL: usize = 4;
const CLIENTS: usize = 2;
const TASKS: usize = 16;
const ACQUISITIONS: usize = 4_000;
const HOLD: Duration = Duration::from_micros(100);

/// The gauge of permits held, and the waits.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Gauge {
    fn enter(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
    }
    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `CLIENTS × TASKS` tasks, `ACQUISITIONS` in all; `acquire(client)` returns a guard that
/// releases when dropped (or a future that releases, for the peer). Returns the waits, the
/// run's duration and the gauge's peak.
async fn run<F, Fut, G>(acquire: F) -> (Vec<Duration>, Duration, usize)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = G> + Send,
    G: Release + Send,
{
    let acquire = Arc::new(acquire);
    let gauge = Arc::new(Gauge::default());
    let start = Instant::now();
    let mut handles = Vec::new();
    for i in 0..CLIENTS * TASKS {
        let (acquire, gauge) = (acquire.clone(), gauge.clone());
        let mine = ACQUISITIONS / (CLIENTS * TASKS);
        handles.push(tokio::spawn(async move {
            let mut waits = Vec::with_capacity(mine);
            for _ in 0..mine {
                let asked = Instant::now();
                let guard = acquire(i % CLIENTS).await;
                waits.push(asked.elapsed());
                gauge.enter();
                tokio::time::sleep(HOLD).await;
                gauge.leave();
                guard.release().await;
            }
            waits
        }));
    }
    let mut waits = Vec::new();
    for handle in handles {
        waits.extend(handle.await.unwrap());
    }
    let took = start.elapsed();
    waits.sort();
    (waits, took, gauge.peak.load(Ordering::SeqCst))
}

trait Release {
    fn release(self) -> impl std::future::Future<Output = ()> + Send;
}

impl Release for taskgroup::OwnedRedisSemaphorePermit {
    async fn release(self) {
        drop(self); // one script call from a background task
    }
}

impl Release for taskgroup::OwnedSemaphorePermit {
    async fn release(self) {
        drop(self);
    }
}

struct PeerPermit(Arc<Peer>);

impl Release for PeerPermit {
    async fn release(self) {
        self.0.release(1).await;
    }
}

fn contended(server: &Server) {
    println!(
        "\ncontended: {CLIENTS} clients × {TASKS} tasks share {TOTAL} permits for \
         {ACQUISITIONS} acquisitions, each held {HOLD:?} (tokio, 2 workers)"
    );
    println!("  semaphore         acquires/s  commands/acquire  wait p50   wait p99  peak held");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| Arc::new(RedisSemaphore::new(&server.url, "contended", TOTAL).unwrap()))
        .collect();
    // Warm the script cache, then count only the run.
    rt.block_on(async { drop(clients[0].acquire().await.unwrap()) });
    rt.block_on(async {
        // The warm-up's release lands before the run starts.
        while clients[0].available_permits().await.unwrap() < TOTAL {
            tokio::task::yield_now().await;
        }
    });
    server.reset_stats();
    let result = rt.block_on(run(move |i| clients[i].clone().acquire_owned_unwrap()));
    report(
        "taskgroup_redis",
        result,
        server.calls(&["evalsha", "eval"]),
    );

    let peer = Arc::new(rt.block_on(server.peer("peer-contended", TOTAL as i64)));
    server.reset_stats();
    let result = rt.block_on(run(move |_| {
        let peer = peer.clone();
        async move {
            peer.acquire(1).await;
            PeerPermit(peer)
        }
    }));
    report(
        "incr_decr_peer",
        result,
        server.calls(&["incrby", "decrby"]),
    );

    let local = Arc::new(Semaphore::new(TOTAL));
    let result = rt.block_on(run(move |_| {
        let local = local.clone();
        async move { local.acquire_owned().await.unwrap() }
    }));
    report("taskgroup_local", result, 0);
}

trait AcquireUnwrap {
    fn acquire_owned_unwrap(
        self,
    ) -> impl std::future::Future<Output = taskgroup::OwnedRedisSemaphorePermit> + Send;
}

impl AcquireUnwrap for Arc<RedisSemaphore> {
    async fn acquire_owned_unwrap(self) -> taskgroup::OwnedRedisSemaphorePermit {
        self.acquire_owned().await.unwrap()
    }
}

fn report(name: &str, (waits, took, peak): (Vec<Duration>, Duration, usize), commands: u64) {
    let pct = |p: f64| waits[((waits.len() as f64 * p) as usize).min(waits.len() - 1)];
    println!(
        "  {name:<16} {:>11.0}  {:>16.2}  {:>8.2?}  {:>8.2?}  {peak:>9}",
        waits.len() as f64 / took.as_secs_f64(),
        commands as f64 / waits.len() as f64,
        pct(0.5),
        pct(0.99),
    );
}

fn main() {
    let server = Server::start();
    let mut c = Criterion::default().configure_from_args();
    acquire_release(&mut c, &server);
    c.final_summary();
    // `cargo test --benches` runs benches once with `--test`: criterion's part only.
    let smoke = std::env::args().any(|a| a == "--test" || a == "--list");
    if !smoke {
        contended(&server);
    }
}
