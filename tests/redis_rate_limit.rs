//! `RedisRateLimiter` against a real `redis-server` (started per test on a free loopback port):
//! the window bound across clients and processes, FIFO, `set_rate` across clients, give-back,
//! key expiry, failures (wrong address, silent server, server killed and restarted) and round
//! trips per grant. Runs with `--features redis-tokio,redis-smol`; every runtime scenario runs
//! under tokio (current-thread, multi-thread: redis-rs's tokio integration) and smol, async-std
//! and `futures::executor` (its smol integration, whose executor needs no runtime of ours).

#![cfg(all(feature = "redis-tokio", feature = "redis-smol"))]

mod common;
mod redis_common;

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::process::Command;
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::Runtime;
use futures::channel::mpsc;
use futures::StreamExt;
use redis_common::{free_port, RedisServer};
use taskgroup::futures::RedisAcquire;
use taskgroup::{OnBackendError, RateLimitError, RedisRateLimiter, TryRateLimitError};

#[test]
fn handles_and_futures_can_move_between_threads() {
    fn send_sync<T: Send + Sync + Clone + 'static>() {}
    fn send_unpin<T: Send + Unpin + 'static>() {}
    send_sync::<RedisRateLimiter>();
    send_unpin::<RedisAcquire>();
    send_unpin::<taskgroup::TryRateLimited<futures::stream::Iter<std::vec::IntoIter<u32>>>>();
    let limiter =
        RedisRateLimiter::new("redis://127.0.0.1:1", "x", 1, Duration::from_secs(1)).unwrap();
    fn send<T: Send>(_: &T) {}
    send(&limiter.try_acquire());
    send(&limiter.set_rate(2, Duration::from_secs(1)));
}

fn limiter(server: &RedisServer, name: &str, rate: u32, per: Duration) -> RedisRateLimiter {
    RedisRateLimiter::new(&server.url(), name, rate, per)
        .unwrap()
        .with_timeout(Duration::from_secs(5))
}

/// Polls `acquire` until its booking is made (it waits for its slot) or it completes.
async fn booked(acquire: &mut RedisAcquire) -> Option<Result<(), RateLimitError>> {
    poll_fn(|cx| match Pin::new(&mut *acquire).poll(cx) {
        Poll::Ready(result) => Poll::Ready(Some(result)),
        Poll::Pending if format!("{acquire:?}").contains("waiting") => Poll::Ready(None),
        Poll::Pending => Poll::Pending, // the round trip wakes it
    })
    .await
}

/// How late a grant may be seen after Redis scheduled it, on a loaded 2-core machine (compiles
/// of other agents beside the test): a round trip plus the timer's and the scheduler's lateness.
/// A grant seen late bunches with later ones; a limit that is not shared fails by far more
/// (three clients at 100/s each start 60 calls in 200 ms, where at most 33 are allowed).
const SLACK: Duration = Duration::from_millis(100);

/// At most `burst + (window + slack) / interval` of the sorted `starts` in any window between
/// two of them: the GCRA bound, with `slack` for how late a grant can be seen after Redis
/// scheduled it (a round trip plus timer lateness, on a loaded 2-core machine).
fn assert_window_bound(starts: &mut [Duration], burst: u32, interval: Duration, slack: Duration) {
    starts.sort();
    for i in 0..starts.len() {
        for j in i..starts.len() {
            let window = starts[j] - starts[i];
            let allowed =
                f64::from(burst) + (window + slack).as_secs_f64() / interval.as_secs_f64();
            let count = (j - i + 1) as f64;
            assert!(
                count <= allowed,
                "{count} starts within {window:?}, at most {allowed:.1} allowed: {starts:?}"
            );
        }
    }
}

fn one_slot_at_a_time_in_order<R: Runtime>() {
    let server = RedisServer::start();
    let limiter = limiter(&server, "order", 50, Duration::from_secs(1)); // one per 20 ms
    R::block_on(async move {
        let started = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await.unwrap();
        }
        // Redis scheduled the 5th slot 80 ms after the first; a grant is never seen early.
        assert!(
            started.elapsed() >= Duration::from_millis(80),
            "{:?}",
            started.elapsed()
        );
    });
}

fn several_clients_share_one_limit<R: Runtime>() {
    let server = RedisServer::start();
    let (burst, interval) = (3, Duration::from_millis(10)); // 100 per second
    let clients: Vec<_> = (0..3)
        .map(|_| limiter(&server, "shared", 100, Duration::from_secs(1)).with_burst(burst))
        .collect();
    let starts = R::block_on(async move {
        let epoch = Instant::now();
        let (tx, rx) = mpsc::unbounded();
        for client in &clients {
            for _ in 0..2 {
                let (client, tx) = (client.clone(), tx.clone());
                R::spawn(Box::pin(async move {
                    for _ in 0..10 {
                        client.acquire().await.unwrap();
                        tx.unbounded_send(epoch.elapsed()).unwrap();
                    }
                }));
            }
        }
        drop(tx);
        rx.collect::<Vec<_>>().await
    });
    let mut starts = starts;
    assert_eq!(starts.len(), 60);
    // Without sharing, three clients would start 3 × 100 per second.
    assert_window_bound(&mut starts, burst, interval, SLACK);
    // (The window from the first grant to the last is one of those checked: 60 grants take at
    // least 470 ms.)
}

fn bookings_are_granted_in_the_order_they_reached_redis<R: Runtime>() {
    let server = RedisServer::start();
    // One per 200 ms: the next booking comes long before the slot after the free one.
    let a = limiter(&server, "fifo", 5, Duration::from_secs(1));
    let b = limiter(&server, "fifo", 5, Duration::from_secs(1));
    R::block_on(async move {
        a.acquire().await.unwrap(); // the free slot
        let mut waiting = Vec::new();
        for i in 0..6 {
            let client = if i % 2 == 0 { &a } else { &b };
            let mut acquire = client.acquire();
            assert!(booked(&mut acquire).await.is_none(), "slot {i} was free");
            waiting.push((i, acquire));
        }
        let (tx, rx) = mpsc::unbounded();
        for (i, acquire) in waiting {
            let tx = tx.clone();
            R::spawn(Box::pin(async move {
                acquire.await.unwrap();
                tx.unbounded_send(i).unwrap();
            }));
        }
        drop(tx);
        assert_eq!(rx.collect::<Vec<_>>().await, [0, 1, 2, 3, 4, 5]);
    });
}

fn try_acquire_says_when<R: Runtime>() {
    let server = RedisServer::start();
    let limiter = limiter(&server, "try", 1, Duration::from_secs(60));
    R::block_on(async move {
        assert_eq!(limiter.try_acquire().await, Ok(()));
        let asked = Instant::now();
        match limiter.try_acquire().await {
            Err(TryRateLimitError::NotUntil(later)) => {
                let wait = later.wait_time_from(asked);
                assert!(
                    wait > Duration::from_secs(58) && wait <= Duration::from_secs(61),
                    "{wait:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        // A waiter books the next slot; `try` does not barge past it.
        let mut waiter = limiter.acquire();
        assert!(booked(&mut waiter).await.is_none());
        assert!(matches!(
            limiter.try_acquire().await,
            Err(TryRateLimitError::NotUntil(_))
        ));
    });
}

fn too_large_fails_at_once_without_a_round_trip<R: Runtime>() {
    // Nothing listens there: a round trip would fail with `Backend`, not `TooLarge`.
    let url = format!("redis://127.0.0.1:{}", free_port());
    let limiter = RedisRateLimiter::new(&url, "big", 10, Duration::from_secs(1))
        .unwrap()
        .with_burst(4);
    R::block_on(async move {
        assert_eq!(
            limiter.acquire_many(5).await,
            Err(RateLimitError::TooLarge {
                requested: 5,
                burst: 4
            })
        );
        assert_eq!(
            limiter.try_acquire_many(5).await,
            Err(TryRateLimitError::TooLarge {
                requested: 5,
                burst: 4
            })
        );
        assert_eq!(limiter.acquire_many(0).await, Ok(()));
        let err = limiter.acquire_many(5).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "requested 5 slots at once from a rate limiter with a burst of 4"
        );
        assert!(
            format!("{limiter:?}").contains("round_trips: 0"),
            "{limiter:?}"
        );
    });
}

fn set_rate_is_seen_by_every_client<R: Runtime>() {
    let server = RedisServer::start();
    let slow = limiter(&server, "rate", 1, Duration::from_secs(3600));
    let other = limiter(&server, "rate", 1, Duration::from_secs(3600));
    R::block_on(async move {
        slow.acquire().await.unwrap(); // free; the next is an hour away
        assert!(matches!(
            slow.try_acquire().await,
            Err(TryRateLimitError::NotUntil(_))
        ));
        other.set_rate(1000, Duration::from_secs(1)).await.unwrap();
        // The next booking of either client is at the new rate: at most 1 ms after the last
        // booked slot, not an hour.
        let started = Instant::now();
        let outcome = slow.try_acquire().await;
        let answered = Instant::now();
        match outcome {
            Ok(()) => {}
            Err(TryRateLimitError::NotUntil(later)) => {
                assert!(
                    later.wait_time_from(answered) <= Duration::from_millis(1),
                    "{later}"
                )
            }
            Err(e) => panic!("{e}"),
        }
        slow.acquire().await.unwrap();
        slow.acquire().await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(60));
    });
}

fn a_dropped_waiter_gives_its_slot_back<R: Runtime>() {
    let server = RedisServer::start();
    let a = limiter(&server, "drop", 1, Duration::from_secs(3600));
    let b = limiter(&server, "drop", 1, Duration::from_secs(3600));
    let mut redis = server.connection();
    R::block_on(async move {
        a.acquire().await.unwrap();
        let mut waiter = b.acquire();
        assert!(booked(&mut waiter).await.is_none()); // booked an hour away
        drop(waiter); // gives it back from a detached task
                      // Until the give-back lands, the next slot is two hours away; then one again.
        next_slot_within(&a, Duration::from_secs(3600)).await;
        // Dropped while its booking is in flight: the detached task waits for the answer and
        // gives that booking back.
        // The server holds every command for 300 ms: the booking is surely in flight when
        // its future is dropped.
        let _: () = redis::cmd("CLIENT")
            .arg(&["PAUSE", "300", "ALL"])
            .query(&mut redis)
            .unwrap();
        let mut in_flight = b.acquire();
        poll_fn(|cx| {
            assert!(Pin::new(&mut in_flight).poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        assert!(
            format!("{in_flight:?}").contains("booking"),
            "{in_flight:?}"
        );
        drop(in_flight);
        next_slot_within(&a, Duration::from_secs(3600)).await;
        // Dropped before its first poll: nothing was booked.
        drop(b.acquire());
        next_slot_within(&a, Duration::from_secs(3600)).await;
    });
}

fn drops_give_back_only_the_latest_and_delay_no_one<R: Runtime>() {
    let server = RedisServer::start();
    let limiter = limiter(&server, "drops", 1, Duration::from_secs(3600));
    R::block_on(async move {
        limiter.acquire().await.unwrap(); // the free slot; the next is 1 h away
        let mut waiters = Vec::new();
        for _ in 0..3 {
            let mut waiter = limiter.acquire();
            assert!(booked(&mut waiter).await.is_none());
            waiters.push(waiter); // slots at 1 h, 2 h, 3 h
        }
        // The middle one first: not the latest, so its slot stays unused (nobody moves up).
        drop(waiters.remove(1));
        // Then the latest: its slot comes back, but not the middle one's.
        drop(waiters.pop());
        next_slot_within(&limiter, Duration::from_secs(3 * 3600)).await;
        // The first waiter keeps its slot, 1 h away: the drops delayed it no more than they
        // moved it up.
        let asked = Instant::now();
        match limiter.try_acquire().await {
            Err(TryRateLimitError::NotUntil(later)) => {
                let wait = later.wait_time_from(asked);
                assert!(wait > Duration::from_secs(2 * 3600), "{wait:?}");
            }
            other => panic!("{other:?}"),
        }
        // The first one now: the middle slot, never given back, stays booked after it.
        drop(waiters.pop());
        // Dropped in reverse booking order, every slot comes back, one by one.
        let chain = limiter.key("chain");
        chain.acquire().await.unwrap();
        let mut waiters = Vec::new();
        for _ in 0..3 {
            let mut waiter = chain.acquire();
            assert!(booked(&mut waiter).await.is_none());
            waiters.push(waiter);
        }
        for left in (0..3).rev() {
            drop(waiters.pop());
            next_slot_within(&chain, Duration::from_secs((left + 1) * 3600)).await;
        }
        // The middle slot of the first key still holds: its next slot is 3 h away.
        let asked = Instant::now();
        match limiter.try_acquire().await {
            Err(TryRateLimitError::NotUntil(later)) => {
                let wait = later.wait_time_from(asked);
                assert!(wait > Duration::from_secs(2 * 3600), "{wait:?}");
            }
            other => panic!("{other:?}"),
        }
    });
}

/// Waits (bounded) until `limiter`'s next slot is at most `limit` away.
async fn next_slot_within(limiter: &RedisRateLimiter, limit: Duration) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let asked = Instant::now();
        match limiter.try_acquire().await {
            Err(TryRateLimitError::NotUntil(later)) if later.wait_time_from(asked) <= limit => {
                return
            }
            Err(TryRateLimitError::NotUntil(_)) => {}
            other => panic!("{other:?}"),
        }
        assert!(
            Instant::now() < deadline,
            "a dropped waiter's slot never came back"
        );
        common::yield_now().await;
    }
}

fn keys_have_their_own_schedules_and_expire<R: Runtime>() {
    let server = RedisServer::start();
    // Burst 2 of 50 ms: a key is forgotten 100 ms after its last booked slot.
    let limiter = limiter(&server, "tenants", 20, Duration::from_secs(1)).with_burst(2);
    let mut redis = server.connection();
    R::block_on({
        let limiter = limiter.clone();
        async move {
            let acme = limiter.key("acme");
            acme.acquire_many(2).await.unwrap();
            assert!(matches!(
                acme.try_acquire().await,
                Err(TryRateLimitError::NotUntil(_))
            ));
            assert_eq!(limiter.key("initech").try_acquire_many(2).await, Ok(())); // untouched
            assert_eq!(limiter.try_acquire().await, Ok(())); // the limit's own key too
        }
    });
    let pttl: i64 = redis::cmd("PTTL")
        .arg("taskgroup:{tenants}:slots:acme")
        .query(&mut redis)
        .unwrap();
    assert!((1..=101).contains(&pttl), "pttl {pttl}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("taskgroup:*")
            .query(&mut redis)
            .unwrap();
        if keys.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "keys never expired: {keys:?}");
        std::thread::sleep(Duration::from_millis(10)); // waiting for Redis's expiry, bounded
    }
}

fn a_wrong_address_fails_fast_and_names_it<R: Runtime>() {
    let port = free_port();
    let limiter = RedisRateLimiter::new(
        &format!("redis://127.0.0.1:{port}"),
        "x",
        10,
        Duration::from_secs(1),
    )
    .unwrap()
    .with_timeout(Duration::from_millis(500));
    R::block_on(async move {
        let started = Instant::now();
        let err = limiter.acquire().await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{:?}",
            started.elapsed()
        );
        let RateLimitError::Backend(backend) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(backend.address(), format!("127.0.0.1:{port}"));
        assert!(!backend.is_timeout());
        let message = err.to_string();
        assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
        assert!(message.to_lowercase().contains("refused"), "{message}");
        // Failing open lets the call through instead.
        let open = limiter.clone().on_backend_error(OnBackendError::FailOpen);
        assert_eq!(open.acquire().await, Ok(()));
        assert_eq!(open.try_acquire().await, Ok(()));
    });
}

fn a_silent_server_times_out<R: Runtime>() {
    // Accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let limiter = RedisRateLimiter::new(
        &format!("redis://127.0.0.1:{port}"),
        "x",
        10,
        Duration::from_secs(1),
    )
    .unwrap()
    .with_timeout(Duration::from_millis(200));
    R::block_on(async move {
        let started = Instant::now();
        let err = limiter.acquire().await.unwrap_err();
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(200) && waited < Duration::from_millis(1200),
            "{waited:?}"
        );
        let RateLimitError::Backend(backend) = &err else {
            panic!("{err:?}")
        };
        assert!(backend.is_timeout(), "{err}");
        assert!(err.to_string().contains("no answer within 200ms"), "{err}");
    });
    drop(silent);
}

fn try_rate_limited_paces_stages_in_two_clients_by_one_limit<R: Runtime>() {
    use futures::TryStreamExt;
    use taskgroup::FanOutExt;
    let server = RedisServer::start();
    let (burst, interval) = (2, Duration::from_millis(10)); // 100 per second
    let clients: Vec<_> = (0..2)
        .map(|_| limiter(&server, "stages", 100, Duration::from_secs(1)).with_burst(burst))
        .collect();
    let (mut starts, outputs) = R::block_on(async move {
        let epoch = Instant::now();
        let (tx, rx) = mpsc::unbounded();
        let mut stages = Vec::new();
        for (c, client) in clients.into_iter().enumerate() {
            let tx = tx.clone();
            stages.push(
                futures::stream::iter(0..12u32)
                    .try_rate_limited(client)
                    .try_fan_out(3, move |item| {
                        let tx = tx.clone();
                        async move {
                            let item = item?;
                            tx.unbounded_send(epoch.elapsed()).unwrap();
                            Ok::<_, RateLimitError>((c, item))
                        }
                    })
                    .try_collect::<Vec<_>>(),
            );
        }
        drop(tx);
        let outputs = futures::future::try_join_all(stages).await.unwrap();
        (rx.collect::<Vec<_>>().await, outputs)
    });
    for mut output in outputs {
        output.sort_unstable();
        assert_eq!(
            output.iter().map(|(_, item)| *item).collect::<Vec<_>>(),
            (0..12).collect::<Vec<_>>()
        );
    }
    assert_eq!(starts.len(), 24);
    assert_window_bound(&mut starts, burst, interval, SLACK);
}

fn try_rate_limited_yields_a_failure_and_keeps_the_item<R: Runtime>() {
    use taskgroup::FanOutExt;
    let mut server = RedisServer::start();
    let limiter = limiter(&server, "outage", 1000, Duration::from_secs(1))
        .with_timeout(Duration::from_millis(500));
    let stream = futures::stream::iter(["a", "b"]).try_rate_limited(limiter);
    let mut stream = R::block_on(async move {
        let mut stream = stream;
        assert_eq!(stream.next().await, Some(Ok("a")));
        stream
    });
    server.kill();
    let stream = R::block_on(async move {
        // Redis is down: the booking fails, the item stays, and so on at every poll.
        for _ in 0..2 {
            match stream.next().await {
                Some(Err(RateLimitError::Backend(_))) => {}
                other => panic!("expected a Backend error, got {other:?}"),
            }
        }
        stream
    });
    server.restart();
    R::block_on(async move {
        let mut stream = stream;
        // Back up: the same item comes out, then the rest, then the end.
        assert_eq!(stream.next().await, Some(Ok("b")));
        assert_eq!(stream.next().await, None);
        assert_eq!(futures::Stream::size_hint(&stream), (0, Some(0)));
    });
}

runtime_tests!(
    one_slot_at_a_time_in_order,
    several_clients_share_one_limit,
    bookings_are_granted_in_the_order_they_reached_redis,
    try_acquire_says_when,
    too_large_fails_at_once_without_a_round_trip,
    set_rate_is_seen_by_every_client,
    a_dropped_waiter_gives_its_slot_back,
    drops_give_back_only_the_latest_and_delay_no_one,
    keys_have_their_own_schedules_and_expire,
    a_wrong_address_fails_fast_and_names_it,
    a_silent_server_times_out,
    try_rate_limited_paces_stages_in_two_clients_by_one_limit,
    try_rate_limited_yields_a_failure_and_keeps_the_item,
);

/// Kill the server mid-run: acquires fail with `Backend` within the timeout, then recover once
/// it is back on the same port, without a new limiter.
#[test]
fn a_killed_server_fails_acquires_then_they_recover() {
    let mut server = RedisServer::start();
    let timeout = Duration::from_millis(300);
    let limiter = limiter(&server, "restart", 1000, Duration::from_secs(1)).with_timeout(timeout);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for _ in 0..10 {
            limiter.acquire().await.unwrap();
        }
    });
    server.kill();
    rt.block_on(async {
        for _ in 0..5 {
            let started = Instant::now();
            let err = limiter.acquire().await.unwrap_err();
            assert!(
                started.elapsed() < timeout + Duration::from_millis(500),
                "{:?}",
                started.elapsed()
            );
            assert!(matches!(err, RateLimitError::Backend(_)), "{err:?}");
            println!("server down: {err} after {:?}", started.elapsed());
        }
    });
    server.restart();
    rt.block_on(async {
        // The first acquire after the restart may still meet the connection that died.
        let mut failures = 0;
        let mut granted = 0;
        while granted < 10 {
            match limiter.acquire().await {
                Ok(()) => granted += 1,
                Err(e) => {
                    failures += 1;
                    assert!(failures <= 2, "no recovery after a restart: {e}");
                }
            }
        }
        println!("server back: 10 grants after {failures} failure(s)");
    });
}

/// Freeze the server (SIGSTOP: connections stay open, nothing answers): acquires fail with a
/// timeout `Backend` error within the timeout; after SIGCONT they succeed again.
#[test]
fn a_frozen_server_times_out_then_recovers() {
    let server = RedisServer::start();
    let timeout = Duration::from_millis(200);
    let limiter = limiter(&server, "frozen", 1000, Duration::from_secs(1)).with_timeout(timeout);
    ::smol::block_on(async {
        limiter.acquire().await.unwrap();
        server.signal("STOP");
        for _ in 0..3 {
            let started = Instant::now();
            let err = limiter.acquire().await.unwrap_err();
            let waited = started.elapsed();
            let RateLimitError::Backend(backend) = &err else {
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
        while granted < 10 {
            match limiter.acquire().await {
                Ok(()) => granted += 1,
                Err(e) => {
                    failures += 1;
                    assert!(failures <= 2, "no recovery after SIGCONT: {e}");
                }
            }
        }
        println!("server thawed: 10 grants after {failures} failure(s)");
    });
}

/// One round trip per grant: `EVALSHA` once per acquire once the server knows the script, and
/// nothing else (counted by the server, `INFO commandstats`).
#[test]
fn one_round_trip_per_grant() {
    let server = RedisServer::start();
    let limiter = limiter(&server, "trips", 10_000, Duration::from_secs(1)).with_burst(100);
    futures::executor::block_on(async {
        limiter.acquire().await.unwrap(); // NOSCRIPT, then EVAL: the server learns the script
        server.reset_stats();
        for _ in 0..200 {
            limiter.acquire().await.unwrap();
        }
    });
    assert_eq!(server.calls("evalsha"), 200);
    assert_eq!(server.calls("eval"), 0);
    assert!(
        format!("{limiter:?}").contains("round_trips: 202"),
        "{limiter:?}"
    );
}

/// Two OS processes (this test binary, run again as workers) share one limit: together they
/// start at most `burst + rate × t` slots in any window.
#[test]
fn two_processes_share_one_limit() {
    let server = RedisServer::start();
    let exe = std::env::current_exe().unwrap();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "process_worker",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("TASKGROUP_REDIS_WORKER_URL", server.url())
                .output_async()
        })
        .collect();
    let mut starts = Vec::new();
    for worker in workers {
        let output = worker.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8(output.stdout).unwrap();
        let mine: Vec<Duration> = stdout
            .lines()
            // The first may share its line with the harness's "test process_worker ... ".
            .filter_map(|line| line.split_once("GRANT ").map(|(_, micros)| micros))
            .map(|micros| Duration::from_micros(micros.parse().unwrap()))
            .collect();
        assert_eq!(mine.len(), 30, "{stdout}");
        starts.extend(mine);
    }
    // Wall-clock times of one host: both processes read the same clock.
    // Two processes each alone at 50/s would start 60 in 600 ms, where 37 are allowed.
    assert_window_bound(&mut starts, 2, Duration::from_millis(20), SLACK);
}

/// The worker of `two_processes_share_one_limit`: 30 grants at 50 per second shared, printed as
/// wall-clock microseconds. A no-op when run as an ordinary test.
#[test]
fn process_worker() {
    let Ok(url) = std::env::var("TASKGROUP_REDIS_WORKER_URL") else {
        return;
    };
    let limiter = RedisRateLimiter::new(&url, "processes", 50, Duration::from_secs(1))
        .unwrap()
        .with_burst(2)
        .with_timeout(Duration::from_secs(5));
    ::smol::block_on(async {
        for _ in 0..30 {
            limiter.acquire().await.unwrap();
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
            println!("GRANT {}", now.as_micros());
        }
    });
}

trait OutputAsync {
    fn output_async(&mut self) -> std::process::Child;
}

impl OutputAsync for Command {
    /// Spawns with stdout and stderr piped, to collect with `wait_with_output`.
    fn output_async(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}
