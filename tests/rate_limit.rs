//! `RateLimiter` scenarios, each run on tokio (current-thread and multi-thread), async-std, smol
//! and `futures::executor`. The limiter's own timers are the thing under test, so the timing
//! bounds are generous and one-sided where they can be: a slot never starts early, while a late
//! wake-up is the executor's business.
#![cfg(not(loom))]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Runtime;
use futures::channel::{mpsc, oneshot};
use futures::StreamExt;
use taskgroup::{AsyncWaitGroup, RateLimitError, RateLimiter, TimeoutExt, TryRateLimitError};

/// Long enough that a test which would otherwise hang fails instead.
const HANG: Duration = Duration::from_secs(60);

runtime_tests!(
    #[cfg_attr(miri, ignore)]
    grants_come_in_the_order_asked,
    #[cfg_attr(miri, ignore)]
    no_window_holds_more_than_burst_plus_rate_times_its_length,
    #[cfg_attr(miri, ignore)]
    dropped_waiters_delay_no_one_and_the_last_gives_its_slot_back,
    #[cfg_attr(miri, ignore)]
    try_acquire_never_barges_past_a_queued_waiter,
    #[cfg_attr(miri, ignore)]
    set_rate_speeds_up_slots_not_yet_booked,
    #[cfg_attr(miri, ignore)]
    set_rate_slows_down_slots_not_yet_booked,
    too_large_fails_at_once_and_zero_is_ready_at_once,
    #[cfg_attr(miri, ignore)]
    owned_acquires_in_tasks_and_blocking_ones_on_threads_share_one_schedule,
);

/// Spawns a task that books `n` slots, reports that it has booked, and sends `id` on `granted`
/// once its slot comes; returns when the booking is made.
async fn book<R: Runtime>(
    limiter: &Arc<RateLimiter>,
    id: usize,
    n: u32,
    granted: &mpsc::UnboundedSender<(usize, Instant)>,
) {
    let (booked_tx, booked_rx) = oneshot::channel();
    let (limiter, granted) = (limiter.clone(), granted.clone());
    R::spawn(Box::pin(async move {
        let mut acquire = limiter.acquire_many(n);
        // The first poll books; it may already be granted if this task ran late.
        let first = futures::poll!(&mut acquire);
        booked_tx.send(()).unwrap();
        match first {
            std::task::Poll::Ready(granted) => granted.unwrap(),
            std::task::Poll::Pending => acquire.await.unwrap(),
        }
        granted.unbounded_send((id, Instant::now())).unwrap();
    }));
    booked_rx.await.unwrap();
}

fn grants_come_in_the_order_asked<R: Runtime>() {
    R::block_on(async {
        // Slots 25 ms apart: a reordering would need a task woken 25 ms late.
        let limiter = Arc::new(RateLimiter::new(40, Duration::from_secs(1)));
        limiter.try_acquire().unwrap(); // the free slot, so every task waits
        let (tx, rx) = mpsc::unbounded();
        for id in 0..6 {
            book::<R>(&limiter, id, 1, &tx).await;
        }
        drop(tx);
        let order: Vec<usize> = rx.map(|(id, _)| id).collect().timeout(HANG).await.unwrap();
        assert_eq!(order, (0..6).collect::<Vec<_>>());
    });
}

/// At most `burst + len / interval` slots start in any window of length `len`, with `slack`
/// added to every window for wake-ups that came late.
fn assert_window_bound(
    grants: &mut [(Instant, u32)],
    burst: u32,
    interval: Duration,
    slack: Duration,
) {
    grants.sort();
    for i in 0..grants.len() {
        let mut slots = 0;
        for j in i..grants.len() {
            slots += grants[j].1;
            let len = grants[j].0 - grants[i].0 + slack;
            let allowed = burst + (len.as_nanos() / interval.as_nanos()) as u32;
            assert!(
                slots <= allowed,
                "{slots} slots within {:?} (allowed {allowed})",
                grants[j].0 - grants[i].0
            );
        }
    }
}

fn no_window_holds_more_than_burst_plus_rate_times_its_length<R: Runtime>() {
    R::block_on(async {
        const TASKS: usize = 16;
        const ROUNDS: usize = 4;
        let interval = Duration::from_millis(4); // 250 slots per second
        let created = Instant::now();
        let limiter = Arc::new(RateLimiter::new(250, Duration::from_secs(1)).with_burst(3));
        let grants = Arc::new(Mutex::new(Vec::new()));
        let wg = AsyncWaitGroup::new();
        for task in 0..TASKS {
            let (limiter, grants) = (limiter.clone(), grants.clone());
            R::spawn(Box::pin(wg.track(async move {
                for round in 0..ROUNDS {
                    let n = 1 + ((task + round) % 2) as u32; // one or two slots
                    limiter.acquire_many(n).await.unwrap();
                    grants.lock().unwrap().push((Instant::now(), n));
                }
            })));
        }
        wg.wait().timeout(HANG).await.unwrap();
        let mut grants = std::mem::take(&mut *grants.lock().unwrap());
        let total: u32 = grants.iter().map(|g| g.1).sum();
        assert_eq!(grants.len(), TASKS * ROUNDS);
        // Never early: the last slot cannot start before (total - burst) intervals.
        let last = grants.iter().map(|g| g.0).max().unwrap();
        assert!(
            last - created >= interval * (total - 3),
            "{:?} for {total} slots",
            last - created
        );
        // 25 slots of slack: a wake-up may be late, a whole group of them even.
        assert_window_bound(&mut grants, 3, interval, Duration::from_millis(100));
    });
}

fn dropped_waiters_delay_no_one_and_the_last_gives_its_slot_back<R: Runtime>() {
    R::block_on(async {
        let interval = Duration::from_millis(100);
        let created = Instant::now();
        let limiter = RateLimiter::new(10, Duration::from_secs(1));
        limiter.try_acquire().unwrap(); // slot 0
        let mut waiters: Vec<_> = (0..5).map(|_| limiter.acquire()).collect();
        for w in &mut waiters {
            assert!(futures::poll!(w).is_pending()); // slots 1 to 5, in order
        }
        let mut waiters = waiters.into_iter().map(Some).collect::<Vec<_>>();
        // Drop the last two (their slots come back) and one in the middle (its slot is lost,
        // and nobody behind it is delayed).
        waiters[4] = None;
        waiters[3] = None;
        waiters[1] = None;
        // The next free slot is slot 4: right after the one still booked last (slot 3).
        let next = limiter.try_acquire().unwrap_err().earliest();
        assert!(next >= created + interval * 4);
        assert!(
            next < created + interval * 4 + interval / 2,
            "slot 4 came back"
        );
        let newcomer = limiter.acquire();
        for w in waiters.into_iter().flatten() {
            w.timeout(HANG).await.unwrap().unwrap();
        }
        newcomer.timeout(HANG).await.unwrap().unwrap();
        assert!(created.elapsed() >= interval * 4);
    });
}

fn try_acquire_never_barges_past_a_queued_waiter<R: Runtime>() {
    R::block_on(async {
        let limiter = Arc::new(RateLimiter::new(20, Duration::from_secs(1)).with_burst(3));
        let before = Instant::now();
        limiter.try_acquire().unwrap(); // two of the burst left
        let (tx, mut rx) = mpsc::unbounded();
        // A waiter for the whole burst: it must wait one interval, and blocks smaller requests.
        book::<R>(&limiter, 0, 3, &tx).await;
        let refused = limiter.try_acquire().unwrap_err();
        match limiter.try_acquire_many(2) {
            Err(TryRateLimitError::NotUntil(_)) => {}
            other => panic!("barged past the queue: {other:?}"),
        }
        // Without the waiter a slot would be free now; with it, one interval after its slot, which
        // is one interval after the first `try_acquire`.
        let interval = Duration::from_millis(50);
        assert!(refused.earliest() >= before + interval * 2 - Duration::from_micros(1));
        rx.next().timeout(HANG).await.unwrap().unwrap();
    });
}

fn set_rate_speeds_up_slots_not_yet_booked<R: Runtime>() {
    R::block_on(async {
        let limiter = RateLimiter::new(1, Duration::from_secs(3600));
        let before = Instant::now();
        limiter.acquire().await.unwrap(); // the next slot would be an hour away
        limiter.set_rate(50, Duration::from_secs(1));
        for _ in 0..5 {
            limiter.acquire().timeout(HANG).await.unwrap().unwrap();
        }
        // 20 ms apart after the slot booked at the old rate: not an hour, and never early.
        assert!(before.elapsed() >= Duration::from_millis(100));
        assert!(format!("{limiter:?}").starts_with("RateLimiter { rate: 50, per: 1s"));
    });
}

fn set_rate_slows_down_slots_not_yet_booked<R: Runtime>() {
    R::block_on(async {
        let limiter = Arc::new(RateLimiter::new(1000, Duration::from_secs(1)));
        for _ in 0..3 {
            limiter.acquire().timeout(HANG).await.unwrap().unwrap();
        }
        // A waiter booked at the fast rate keeps its slot.
        let (tx, mut rx) = mpsc::unbounded();
        let before = Instant::now();
        book::<R>(&limiter, 0, 1, &tx).await;
        limiter.set_rate(10, Duration::from_secs(1));
        rx.next().timeout(HANG).await.unwrap().unwrap();
        for _ in 0..3 {
            limiter.acquire().timeout(HANG).await.unwrap().unwrap();
        }
        // 100 ms apart after the fast waiter's slot, which came after `before`.
        assert!(
            before.elapsed() >= Duration::from_millis(300),
            "{:?}",
            before.elapsed()
        );
    });
}

fn too_large_fails_at_once_and_zero_is_ready_at_once<R: Runtime>() {
    R::block_on(async {
        let limiter = RateLimiter::new(1, Duration::from_secs(3600)).with_burst(2);
        let err = limiter.acquire_many(3).await.unwrap_err();
        assert_eq!(
            err,
            RateLimitError::TooLarge {
                requested: 3,
                burst: 2
            }
        );
        assert!(
            err.to_string().contains('3') && err.to_string().contains('2'),
            "{err}"
        );
        assert_eq!(
            limiter.try_acquire_many(3),
            Err(TryRateLimitError::TooLarge {
                requested: 3,
                burst: 2
            })
        );
        limiter.acquire_many(2).await.unwrap(); // the burst, at once
        limiter.acquire_many(0).await.unwrap(); // nothing to wait for, though the next is an hour away
        assert_eq!(limiter.try_acquire_many(0), Ok(()));
        assert!(limiter.try_acquire().is_err());
    });
}

fn owned_acquires_in_tasks_and_blocking_ones_on_threads_share_one_schedule<R: Runtime>() {
    R::block_on(async {
        let interval = Duration::from_millis(5); // 200 slots per second
        let created = Instant::now();
        let limiter = Arc::new(RateLimiter::new(200, Duration::from_secs(1)).with_burst(2));
        let grants = Arc::new(Mutex::new(Vec::new()));
        let wg = AsyncWaitGroup::new();
        for _ in 0..8 {
            // `acquire_owned` is 'static: it moves into the task before the task runs.
            let (acquire, grants) = (limiter.clone().acquire_owned(), grants.clone());
            R::spawn(Box::pin(wg.track(async move {
                acquire.await.unwrap();
                grants.lock().unwrap().push((Instant::now(), 1));
            })));
        }
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (limiter, grants) = (limiter.clone(), grants.clone());
                std::thread::spawn(move || {
                    for _ in 0..4 {
                        limiter.acquire_blocking().unwrap();
                        grants.lock().unwrap().push((Instant::now(), 1));
                    }
                })
            })
            .collect();
        wg.wait().timeout(HANG).await.unwrap();
        for t in threads {
            t.join().unwrap();
        }
        let mut grants = std::mem::take(&mut *grants.lock().unwrap());
        assert_eq!(grants.len(), 16);
        let last = grants.iter().map(|g| g.0).max().unwrap();
        assert!(
            last - created >= interval * 14,
            "16 slots with a burst of 2"
        );
        assert_window_bound(&mut grants, 2, interval, Duration::from_millis(100));
    });
}
