//! `RedisSemaphore` against a real `redis-server` (started per test on a free loopback port):
//! the bound across clients and OS processes (a gauge in a simulated API), FIFO across clients,
//! weighted no-starvation and no barging, bad input without a round trip, resize across
//! clients, randomized drops that must lose nothing, lease expiry of a `kill -9`ed holder and of
//! a killed waiter at the head of the line, renewal of a slow holder, and a killed server.
//! Runs with `--features redis-tokio,redis-smol`; the runtime scenarios run under tokio
//! (current-thread, multi-thread), smol, async-std and `futures::executor`.

#![cfg(all(feature = "redis-tokio", feature = "redis-smol"))]

mod common;
mod redis_common;

use std::future::{poll_fn, Future};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use common::Runtime;
use futures::channel::mpsc;
use futures::StreamExt;
use redis_common::{free_port, RedisServer};
use taskgroup::futures::RedisSemaphoreAcquire;
use taskgroup::{
    AcquireError, OnBackendError, OwnedRedisSemaphorePermit, RedisSemaphore, RedisSemaphorePermit,
    TryAcquireError,
};

fn sem(server: &RedisServer, name: &str, total: usize) -> RedisSemaphore {
    RedisSemaphore::new(&server.url(), name, total)
        .unwrap()
        .with_timeout(Duration::from_secs(5))
}

#[test]
fn handles_futures_and_permits_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<RedisSemaphore>();
    send_sync::<OwnedRedisSemaphorePermit>();
    send_sync::<RedisSemaphorePermit<'static>>();
    let sem = Arc::new(RedisSemaphore::new("redis://127.0.0.1:1", "x", 1).unwrap());
    send(&sem.acquire());
    send(&sem.try_acquire());
    send(&sem.resize(2));
    send(&sem.clone().acquire_owned());
    send(&sem.clone().try_acquire_owned());
    fn is_static<T: 'static>(_: &T) {}
    is_static(&sem.clone().acquire_many_owned(2));
}

/// Polls `acquire` until its ticket is queued in Redis, or it completes.
async fn queued<'a>(
    acquire: &mut RedisSemaphoreAcquire<'a>,
) -> Option<Result<RedisSemaphorePermit<'a>, AcquireError>> {
    poll_fn(|cx| match Pin::new(&mut *acquire).poll(cx) {
        Poll::Ready(result) => Poll::Ready(Some(result)),
        Poll::Pending if format!("{acquire:?}").contains("waiting") => Poll::Ready(None),
        Poll::Pending => Poll::Pending, // the round trip wakes it
    })
    .await
}

/// Waits (bounded) until `sem` has `n` permits free as Redis counts them; returns how many
/// times it asked.
async fn available_becomes(sem: &RedisSemaphore, n: usize) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut asked = 0;
    loop {
        let free = sem.available_permits().await.unwrap();
        asked += 1;
        if free == n {
            return asked;
        }
        assert!(
            Instant::now() < deadline,
            "{free} permits free, {n} expected"
        );
        common::yield_now().await;
    }
}

/// A gauge of calls in flight: `enter` returns the count after entering, `peak` the most seen.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
    calls: AtomicUsize,
}

impl Gauge {
    fn enter(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

fn clients_never_hold_more_than_the_total<R: Runtime>() {
    let server = RedisServer::start();
    let clients: Vec<_> = (0..3).map(|_| Arc::new(sem(&server, "gauge", 3))).collect();
    let gauge = Arc::new(Gauge::default());
    let (calls, peak) = R::block_on({
        let gauge = gauge.clone();
        async move {
            let (tx, mut rx) = mpsc::unbounded::<()>();
            for (i, client) in clients.iter().enumerate() {
                for task in 0..3 {
                    let (client, gauge, tx) = (client.clone(), gauge.clone(), tx.clone());
                    R::spawn(Box::pin(async move {
                        for call in 0..8 {
                            let n = 1 + (i + task + call) % 2; // weighted: 1 or 2
                            let permit = client.clone().acquire_many_owned(n).await.unwrap();
                            for _ in 0..n {
                                gauge.enter();
                            }
                            for _ in 0..(call % 3) {
                                common::yield_now().await;
                            }
                            for _ in 0..n {
                                gauge.leave();
                            }
                            drop(permit);
                        }
                        drop(tx);
                    }));
                }
            }
            drop(tx);
            assert!(rx.next().await.is_none());
            available_becomes(&clients[0], 3).await;
            (
                gauge.calls.load(Ordering::SeqCst),
                gauge.peak.load(Ordering::SeqCst),
            )
        }
    });
    assert!(calls >= 72, "{calls}");
    assert!(peak <= 3, "{peak} permits held at once, the total is 3");
}

fn waiters_are_granted_in_ticket_order_across_clients<R: Runtime>() {
    let server = RedisServer::start();
    let a = sem(&server, "fifo", 1);
    let b = sem(&server, "fifo", 1);
    R::block_on(async move {
        let holder = a.acquire().await.unwrap();
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for i in 0..6 {
            let client = if i % 2 == 0 { &a } else { &b };
            let mut acquire = client.acquire();
            assert!(
                queued(&mut acquire).await.is_none(),
                "waiter {i} was granted"
            );
            waiting.push((i, acquire));
        }
        drop(holder);
        // Each granted waiter records itself and releases, which grants the next.
        let all = futures::future::join_all(waiting.into_iter().map(|(i, acquire)| {
            let order = order.clone();
            async move {
                let permit = acquire.await.unwrap();
                order.lock().unwrap().push(i);
                drop(permit);
            }
        }));
        all.await;
        assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4, 5]);
    });
}

fn a_large_waiter_is_not_starved_and_try_does_not_barge<R: Runtime>() {
    let server = RedisServer::start();
    let a = sem(&server, "weights", 4);
    let b = sem(&server, "weights", 4);
    R::block_on(async move {
        let three = a.acquire_many(3).await.unwrap();
        let mut big = b.acquire_many(4);
        assert!(queued(&mut big).await.is_none());
        // One permit is free, but the big waiter is ahead: nobody barges past it.
        assert_eq!(
            a.try_acquire().await.unwrap_err(),
            TryAcquireError::NoPermits
        );
        let mut small = a.acquire();
        assert!(queued(&mut small).await.is_none(), "a small one barged");
        drop(three);
        let big = big.await.unwrap();
        assert_eq!(big.num_permits(), 4);
        assert_eq!(b.available_permits().await.unwrap(), 0);
        drop(big);
        let small = small.await.unwrap();
        assert_eq!(small.num_permits(), 1);
        assert_eq!(a.try_acquire_many(3).await.unwrap().num_permits(), 3);
    });
}

fn bad_input_fails_at_once_without_a_round_trip<R: Runtime>() {
    // Nothing listens there: a round trip would fail with `Backend`.
    let url = format!("redis://127.0.0.1:{}", free_port());
    let sem = RedisSemaphore::new(&url, "bad", 4).unwrap();
    R::block_on(async move {
        assert_eq!(
            sem.acquire_many(5).await.unwrap_err(),
            AcquireError::TooLarge {
                requested: 5,
                total: 4
            }
        );
        assert_eq!(
            sem.try_acquire_many(5).await.unwrap_err(),
            TryAcquireError::TooLarge {
                requested: 5,
                total: 4
            }
        );
        assert_eq!(sem.acquire_many(0).await.unwrap().num_permits(), 0);
        assert_eq!(sem.try_acquire_many(0).await.unwrap().num_permits(), 0);
        assert!(format!("{sem:?}").contains("round_trips: 0"), "{sem:?}");
        let err = sem.acquire().await.unwrap_err();
        let AcquireError::Backend(backend) = &err else {
            panic!("{err:?}")
        };
        assert!(!backend.is_timeout());
        assert!(
            err.to_string()
                .starts_with("semaphore's Redis at 127.0.0.1:"),
            "{err}"
        );
        let open = RedisSemaphore::new(&url, "bad", 4)
            .unwrap()
            .on_backend_error(OnBackendError::FailOpen);
        assert_eq!(open.acquire().await.unwrap().num_permits(), 1);
        assert_eq!(open.try_acquire_many(2).await.unwrap().num_permits(), 2);
        sem.close();
        assert_eq!(sem.acquire().await.unwrap_err(), AcquireError::Closed);
        assert_eq!(sem.acquire_many(0).await.unwrap_err(), AcquireError::Closed);
        assert_eq!(
            sem.try_acquire().await.unwrap_err(),
            TryAcquireError::Closed
        );
    });
}

fn close_fails_this_objects_waiters_only<R: Runtime>() {
    let server = RedisServer::start();
    let a = sem(&server, "close", 1);
    let b = sem(&server, "close", 1);
    R::block_on(async move {
        let held = a.acquire().await.unwrap();
        let mut mine = a.acquire();
        assert!(queued(&mut mine).await.is_none());
        let mut theirs = b.acquire();
        assert!(queued(&mut theirs).await.is_none());
        a.close();
        assert_eq!(mine.await.unwrap_err(), AcquireError::Closed);
        assert!(a.is_closed() && !b.is_closed());
        drop(held); // still valid until dropped; then b's waiter gets it
        let theirs = theirs.await.unwrap();
        assert_eq!(theirs.num_permits(), 1);
    });
}

fn resize_is_seen_by_every_client<R: Runtime>() {
    let server = RedisServer::start();
    let a = sem(&server, "resize", 2);
    let b = sem(&server, "resize", 2);
    R::block_on(async move {
        let two = a.acquire_many(2).await.unwrap();
        let mut waiter = b.acquire_many(2);
        assert!(queued(&mut waiter).await.is_none());
        let mut one = b.acquire();
        assert!(queued(&mut one).await.is_none());
        // Growing grants the head at once (held 2 + 2 of 4); the one behind still waits.
        a.resize(4).await.unwrap();
        let granted = waiter.await.unwrap();
        assert_eq!(b.available_permits().await.unwrap(), 0);
        // Shrinking to 1 fails the queued requests above it... none here (`one` needs 1).
        b.resize(1).await.unwrap();
        drop(two);
        drop(granted);
        let one = one.await.unwrap(); // waited until held (4) came back below the total
                                      // A request above the new total fails at once, from what this client learned.
        assert!(matches!(
            a.acquire_many(2).await,
            Err(AcquireError::TooLarge {
                requested: 2,
                total: 1
            })
        ));
        // A queued waiter above a shrunk total fails with TooLarge, through its listener.
        drop(one);
        b.resize(3).await.unwrap();
        let held = a.acquire_many(3).await.unwrap();
        let mut three = b.acquire_many(3);
        assert!(queued(&mut three).await.is_none());
        a.resize(2).await.unwrap();
        assert_eq!(
            three.await.unwrap_err(),
            AcquireError::TooLarge {
                requested: 3,
                total: 2
            }
        );
        drop(held);
        available_becomes(&a, 2).await;
    });
}

/// A small deterministic generator for the randomized drop test.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn randomized_drops_lose_nothing<R: Runtime>() {
    let server = RedisServer::start();
    let clients: Vec<_> = (0..2).map(|_| sem(&server, "drops", 3)).collect();
    R::block_on(async move {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..12 {
            let holder = clients[0].acquire_many(3).await.unwrap();
            let mut waiters = Vec::new();
            for i in 0..6 {
                let client = &clients[(rng.below(2)) as usize];
                let mut acquire = client.acquire_many(1 + rng.below(3) as usize);
                match rng.below(3) {
                    0 => {} // never polled: took no ticket
                    1 => {
                        // Polled once, then dropped with its round trip in flight (kept
                        // unpolled instead, it could hold its client's connect lock).
                        poll_fn(|cx| {
                            assert!(Pin::new(&mut acquire).poll(cx).is_pending());
                            Poll::Ready(())
                        })
                        .await;
                        drop(acquire);
                        continue;
                    }
                    _ => {
                        let early = queued(&mut acquire).await;
                        assert!(early.is_none(), "{round}/{i}: {early:?}");
                    }
                }
                waiters.push(acquire);
            }
            // Release the holder now or later: granted-but-not-taken waiters get dropped too.
            let release_first = rng.below(2) == 0;
            let mut holder = Some(holder);
            if release_first {
                drop(holder.take());
            }
            // `try_acquire` dropped with its round trip in flight: if it was granted, the
            // permits are released once the answer is in.
            for _ in 0..rng.below(3) {
                let client = &clients[(rng.below(2)) as usize];
                let mut attempt = Box::pin(client.try_acquire_many(1 + rng.below(2) as usize));
                poll_fn(|cx| {
                    assert!(attempt.as_mut().poll(cx).is_pending());
                    Poll::Ready(())
                })
                .await;
                drop(attempt);
            }
            while !waiters.is_empty() {
                let i = rng.below(waiters.len() as u64) as usize;
                drop(waiters.swap_remove(i));
            }
            drop(holder);
            // Every permit comes back and the line empties (the removals of waiters dropped in
            // flight land once their answer is in): a try for all of them succeeds.
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match clients[1].try_acquire_many(3).await {
                    Ok(all) => break assert_eq!(all.num_permits(), 3),
                    Err(TryAcquireError::NoPermits) => {}
                    Err(e) => panic!("{e}"),
                }
                assert!(Instant::now() < deadline, "round {round}: permits lost");
                common::yield_now().await;
            }
        }
    });
}

fn one_round_trip_per_free_acquire_and_per_release<R: Runtime>() {
    let server = RedisServer::start();
    // Room for all 20 even if no release has landed yet (they run in the background): every
    // acquire is free, none queues.
    let sem = sem(&server, "trips", 20);
    R::block_on(async move {
        drop(sem.acquire().await.unwrap()); // the server learns the script
        available_becomes(&sem, 20).await;
        server.reset_stats();
        for _ in 0..20 {
            drop(sem.acquire().await.unwrap());
        }
        let asked = available_becomes(&sem, 20).await;
        // 20 acquires, 20 releases (each landed before the count of free permits reached 20
        // again), and the polls of `available_becomes`.
        assert_eq!(server.calls("evalsha"), 40 + asked);
        drop(server);
    });
}

runtime_tests!(
    clients_never_hold_more_than_the_total,
    waiters_are_granted_in_ticket_order_across_clients,
    a_large_waiter_is_not_starved_and_try_does_not_barge,
    bad_input_fails_at_once_without_a_round_trip,
    close_fails_this_objects_waiters_only,
    resize_is_seen_by_every_client,
    randomized_drops_lose_nothing,
    one_round_trip_per_free_acquire_and_per_release,
);

fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A holder that stays longer than several leases keeps its permits: renewals every ttl / 3.
#[test]
fn renewal_keeps_a_slow_holders_permits() {
    let server = RedisServer::start();
    // Renewals every 167 ms, each allowed 150 ms: a loaded machine may miss one, not three.
    let ttl = Duration::from_millis(500);
    let holder = sem(&server, "slow", 1)
        .with_lease(ttl)
        .with_timeout(Duration::from_millis(150));
    let other = sem(&server, "slow", 1);
    tokio().block_on(async {
        let permit = holder.acquire().await.unwrap();
        let started = Instant::now();
        while started.elapsed() < ttl * 5 {
            // The slow work: five leases long. The permit must stay held throughout.
            tokio::time::sleep(ttl / 4).await;
            assert_eq!(
                other.try_acquire().await.unwrap_err(),
                TryAcquireError::NoPermits,
                "lost after {:?}",
                started.elapsed()
            );
        }
        assert!(!permit.is_lost());
        drop(permit);
        available_becomes(&other, 1).await;
    });
}

/// A child process (this test binary, run as `semaphore_worker`) that holds or queues for
/// permits, says so on stdout, and then waits to be killed.
fn spawn_worker(server: &RedisServer, name: &str, role: &str) -> std::process::Child {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "semaphore_worker",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            "TASKGROUP_SEM_WORKER",
            format!("{} {name} {role}", server.url()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    // Bounded by the child's own timeouts: it prints READY or panics (EOF).
    loop {
        match lines.next() {
            Some(Ok(line)) if line.contains("READY") => return child,
            Some(Ok(_)) => {}
            other => panic!("worker {role} ended before READY: {other:?}"),
        }
    }
}

/// The child of the kill tests: `hold` takes both permits, `queue` queues for one (behind a
/// holder), then prints READY and waits to be killed. A no-op when run as an ordinary test.
#[test]
fn semaphore_worker() {
    let Ok(spec) = std::env::var("TASKGROUP_SEM_WORKER") else {
        return;
    };
    let mut words = spec.split(' ');
    let (url, name, role) = (
        words.next().unwrap(),
        words.next().unwrap(),
        words.next().unwrap(),
    );
    let sem = RedisSemaphore::new(url, name, 2)
        .unwrap()
        .with_lease(Duration::from_millis(600))
        .with_timeout(Duration::from_secs(2));
    tokio().block_on(async {
        let _kept = match role {
            "hold" => Some(sem.acquire_many(2).await.unwrap()),
            _ => {
                let mut waiter = sem.acquire();
                assert!(queued(&mut waiter).await.is_none());
                std::mem::forget(waiter); // stays queued until this process is killed
                None
            }
        };
        println!("READY");
        std::future::pending::<()>().await;
    });
}

/// A holder killed with `kill -9` loses its permits when its lease runs out; the others proceed.
#[test]
fn a_killed_holder_loses_its_permits_after_the_lease() {
    let server = RedisServer::start();
    let mut child = spawn_worker(&server, "killed-holder", "hold");
    let sem = sem(&server, "killed-holder", 2).with_lease(Duration::from_millis(600));
    tokio().block_on(async {
        assert_eq!(
            sem.try_acquire().await.unwrap_err(),
            TryAcquireError::NoPermits
        );
        child.kill().unwrap(); // SIGKILL: no release, no goodbye
        child.wait().unwrap();
        let killed = Instant::now();
        let both = sem.acquire_many(2).await.unwrap();
        let waited = killed.elapsed();
        println!("killed holder: its permits came back after {waited:?} (lease 600 ms)");
        assert_eq!(both.num_permits(), 2);
        // At most the lease plus one renewal period of ours (200 ms), with slack for a loaded
        // machine.
        assert!(waited < Duration::from_millis(2500), "{waited:?}");
    });
}

/// A waiter killed while at the head of the line does not block the ones behind it.
#[test]
fn a_killed_waiter_at_the_head_does_not_block_the_line() {
    let server = RedisServer::start();
    let sem = sem(&server, "killed-waiter", 2).with_lease(Duration::from_millis(600));
    let rt = tokio();
    let holder = rt.block_on(sem.acquire_many(2)).unwrap();
    let mut child = spawn_worker(&server, "killed-waiter", "queue"); // head of the line
    rt.block_on(async {
        let mut behind = sem.acquire_many(2);
        assert!(queued(&mut behind).await.is_none());
        child.kill().unwrap();
        child.wait().unwrap();
        let killed = Instant::now();
        drop(holder);
        // The dead head needs 1 of the 2 free permits; only its expiry lets `behind` (2) in.
        let both = behind.await.unwrap();
        let waited = killed.elapsed();
        println!("killed waiter: the line moved after {waited:?} (lease 600 ms)");
        assert_eq!(both.num_permits(), 2);
        assert!(waited < Duration::from_millis(2500), "{waited:?}");
    });
}

/// Kill the server mid-run: a queued waiter and new acquires fail with `Backend` within the
/// timeout; after a restart on the same port, acquires succeed again with the same object.
#[test]
fn a_killed_server_fails_acquires_then_they_recover() {
    let mut server = RedisServer::start();
    let timeout = Duration::from_millis(300);
    let sem = Arc::new(sem(&server, "restart", 1).with_timeout(timeout));
    let rt = tokio();
    let (held, waiter) = rt.block_on(async {
        let held = sem.clone().acquire_owned().await.unwrap();
        let mut waiter = Box::pin(sem.clone().acquire_owned());
        poll_fn(|cx| {
            // Until it is queued (its Debug says so), keep polling.
            if let Poll::Ready(r) = waiter.as_mut().poll(cx) {
                panic!("granted: {r:?}");
            }
            if format!("{waiter:?}").contains("waiting") {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        (held, waiter)
    });
    server.kill();
    let killed = Instant::now();
    rt.block_on(async {
        // The subscriber's connection drops: the check fails, and so does the waiter.
        let err = waiter.await.unwrap_err();
        assert!(matches!(err, AcquireError::Backend(_)), "{err:?}");
        println!(
            "server down: a queued waiter failed after {:?}: {err}",
            killed.elapsed()
        );
        assert!(killed.elapsed() < timeout + Duration::from_millis(1500));
        for _ in 0..3 {
            let started = Instant::now();
            let err = sem.acquire().await.unwrap_err();
            assert!(matches!(err, AcquireError::Backend(_)), "{err:?}");
            assert!(started.elapsed() < timeout + Duration::from_millis(500));
        }
    });
    drop(held); // its release fails; the restarted server does not know it anyway
    server.restart();
    rt.block_on(async {
        let mut failures = 0;
        let mut granted = 0;
        while granted < 5 {
            match sem.acquire().await {
                Ok(permit) => {
                    granted += 1;
                    drop(permit);
                }
                Err(e) => {
                    failures += 1;
                    assert!(failures <= 2, "no recovery after a restart: {e}");
                }
            }
        }
        println!("server back: 5 grants after {failures} failure(s)");
        available_becomes(&sem, 1).await;
    });
}

/// The simulated API of the two-process test: each call is `START` (answered with the number
/// of calls in flight, this one included) and `END` (answered `OK` before the caller releases
/// its permit, so the gauge never counts a release late).
struct Api {
    addr: String,
    peak: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
}

impl Api {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let calls = Arc::new(AtomicUsize::new(0));
        let (p, c) = (peak.clone(), calls.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (now, peak, calls) = (now.clone(), p.clone(), c.clone());
                std::thread::spawn(move || {
                    let mut writer = stream.try_clone().unwrap();
                    for line in BufReader::new(stream).lines() {
                        let Ok(line) = line else { return };
                        let reply = if line == "START" {
                            calls.fetch_add(1, Ordering::SeqCst);
                            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(n, Ordering::SeqCst);
                            n.to_string()
                        } else {
                            now.fetch_sub(1, Ordering::SeqCst);
                            "OK".to_string()
                        };
                        if writeln!(writer, "{reply}").is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self { addr, peak, calls }
    }
}

fn call_api(api: &str) -> (usize, impl FnOnce()) {
    let stream = TcpStream::connect(api).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    writeln!(writer, "START").unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let n = line.trim().parse().unwrap();
    (n, move || {
        writeln!(writer, "END").unwrap();
        let mut ok = String::new();
        reader.read_line(&mut ok).unwrap();
        assert_eq!(ok.trim(), "OK");
    })
}

/// Two OS processes (this binary as `api_worker`) and two clients here share 3 permits: the
/// simulated API never sees more than 3 calls at once.
#[test]
fn two_processes_and_clients_never_exceed_the_total() {
    let server = RedisServer::start();
    let api = Api::start();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "api_worker", "--nocapture", "--test-threads=1"])
                .env(
                    "TASKGROUP_SEM_API",
                    format!("{} {}", server.url(), api.addr),
                )
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    run_api_calls(&server.url(), &api.addr, 2);
    for worker in workers {
        let output = worker.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let (peak, calls) = (
        api.peak.load(Ordering::SeqCst),
        api.calls.load(Ordering::SeqCst),
    );
    println!("two processes + 2 clients: {calls} calls, at most {peak} at once (total 3)");
    assert_eq!(calls, 4 * 2 * 15);
    assert!(peak <= 3, "{peak} calls at once, the total is 3");
}

/// `clients` semaphore objects with 2 tasks each, 15 calls per task, on blocking threads.
fn run_api_calls(url: &str, api: &str, clients: usize) {
    let rt = tokio();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let sem = Arc::new(
                RedisSemaphore::new(url, "processes", 3)
                    .unwrap()
                    .with_timeout(Duration::from_secs(5)),
            );
            for _ in 0..2 {
                let (sem, api) = (sem.clone(), api.to_string());
                tasks.push(tokio::spawn(async move {
                    for call in 0..15 {
                        let permit = sem.clone().acquire_many_owned(1 + call % 2).await.unwrap();
                        let api = api.clone();
                        tokio::task::spawn_blocking(move || {
                            let (_, end) = call_api(&api);
                            std::thread::sleep(Duration::from_millis(2)); // the call's work
                            end();
                        })
                        .await
                        .unwrap();
                        drop(permit);
                    }
                }));
            }
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
}

/// The worker of `two_processes_and_clients_never_exceed_the_total`. A no-op as a test.
#[test]
fn api_worker() {
    let Ok(spec) = std::env::var("TASKGROUP_SEM_API") else {
        return;
    };
    let (url, api) = spec.split_once(' ').unwrap();
    run_api_calls(url, api, 1);
}

/// The renewer runs on the runtime of the acquire that started it; when that runtime shuts
/// down, the next ticket (here on another runtime) starts a new one, which renews every lease of
/// the object, the first runtime's permit included.
#[test]
fn renewal_survives_the_runtime_that_started_it() {
    let server = RedisServer::start();
    let ttl = Duration::from_millis(500);
    let holder = sem(&server, "runtimes", 2)
        .with_lease(ttl)
        .with_timeout(Duration::from_millis(150));
    let other = sem(&server, "runtimes", 2);
    let first = tokio().block_on(holder.acquire()).unwrap(); // that runtime is gone now
    tokio().block_on(async {
        // The connection ran on the first runtime too: the first round trip meets it closed
        // ("broken pipe") and the next opens a new one.
        let second = match holder.acquire().await {
            Ok(permit) => permit,
            Err(AcquireError::Backend(_)) => holder.acquire().await.unwrap(),
            Err(e) => panic!("{e}"),
        };
        let started = Instant::now();
        while started.elapsed() < ttl * 5 {
            tokio::time::sleep(ttl / 4).await;
            assert_eq!(
                other.try_acquire().await.unwrap_err(),
                TryAcquireError::NoPermits,
                "a lease lapsed after {:?}",
                started.elapsed()
            );
        }
        assert!(!first.is_lost() && !second.is_lost());
        drop((first, second));
        available_becomes(&other, 2).await;
    });
}

/// Freeze the server (SIGSTOP: connections stay open, nothing answers): acquires fail with a
/// timeout `Backend` error within the timeout; after SIGCONT they succeed again.
#[test]
fn a_frozen_server_times_out_then_recovers() {
    let server = RedisServer::start();
    let timeout = Duration::from_millis(200);
    let sem = sem(&server, "frozen", 2)
        .with_timeout(timeout)
        .with_lease(Duration::from_millis(600));
    ::smol::block_on(async {
        drop(sem.acquire().await.unwrap());
        server.signal("STOP");
        for _ in 0..3 {
            let started = Instant::now();
            let err = sem.acquire().await.unwrap_err();
            let waited = started.elapsed();
            let AcquireError::Backend(backend) = &err else {
                panic!("{err:?}")
            };
            assert!(backend.is_timeout(), "{err}");
            assert!(
                waited >= timeout && waited < timeout + Duration::from_millis(500),
                "{waited:?}"
            );
            println!("server frozen: {err} after {waited:?}");
        }
        server.signal("CONT");
        let mut failures = 0;
        let mut granted = 0;
        while granted < 5 {
            match sem.acquire().await {
                Ok(permit) => {
                    granted += 1;
                    drop(permit);
                }
                Err(e) => {
                    failures += 1;
                    assert!(failures <= 2, "no recovery after SIGCONT: {e}");
                }
            }
        }
        // The acquires that timed out ran once the server thawed, after their removal (sent
        // on a new connection, which timed out too): nobody renews those tickets, and their
        // leases give the permits back.
        available_becomes(&sem, 2).await;
    });
}

/// A server that restarts without its data forgets the permits held: the holder's next renewal
/// finds its lease gone and `is_lost()` says so; new acquires are granted.
#[test]
fn a_lease_lost_to_a_restart_is_reported() {
    let mut server = RedisServer::start();
    let sem = sem(&server, "lost", 1)
        .with_lease(Duration::from_millis(300))
        .with_timeout(Duration::from_millis(90));
    let rt = tokio();
    let permit = rt.block_on(sem.acquire()).unwrap();
    assert!(!permit.is_lost());
    server.kill();
    server.restart(); // empty: no persistence
    rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !permit.is_lost() {
            assert!(Instant::now() < deadline, "the renewal never noticed");
            tokio::time::sleep(Duration::from_millis(20)).await; // the renewer's next tick
        }
        // The restarted server grants the permit again (the first call may meet the dead
        // connection).
        let again = match sem.try_acquire().await {
            Ok(permit) => permit,
            Err(TryAcquireError::Backend(_)) => sem.try_acquire().await.unwrap(),
            Err(e) => panic!("{e}"),
        };
        assert_eq!(again.num_permits(), 1);
    });
}
