//! `Semaphore` scenarios, each run on tokio (current-thread and multi-thread), async-std, smol
//! and `futures::executor`.
#![cfg(not(loom))]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{yield_now, Runtime};
use futures::channel::{mpsc, oneshot};
use futures::StreamExt;
use taskgroup::{AcquireError, AsyncWaitGroup, Semaphore, TimeoutExt, TryAcquireError};

const TASKS: usize = if cfg!(miri) { 6 } else { 64 };

runtime_tests!(
    at_most_the_limit_run_at_once,
    waiters_are_granted_in_the_order_they_queued,
    a_large_waiter_at_the_head_is_served_before_later_small_ones,
    closing_fails_every_queued_waiter,
    growing_while_permits_are_out_wakes_waiters,
    shrinking_takes_effect_as_permits_come_back,
    owned_permits_move_into_spawned_tasks,
    blocking_acquire_on_a_thread_gets_permits_released_by_tasks,
    #[cfg_attr(miri, ignore)]
    timed_out_waiters_lose_no_permits,
);

fn at_most_the_limit_run_at_once<R: Runtime>() {
    R::block_on(async {
        let sem = Arc::new(Semaphore::new(4));
        let wg = AsyncWaitGroup::new();
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        for i in 0..TASKS {
            let (sem, running, peak) = (sem.clone(), running.clone(), peak.clone());
            R::spawn(Box::pin(wg.track(async move {
                let _permit = sem.acquire_many(1 + i % 2).await.unwrap();
                let now = running.fetch_add(1 + i % 2, Ordering::SeqCst) + 1 + i % 2;
                peak.fetch_max(now, Ordering::SeqCst);
                yield_now().await;
                running.fetch_sub(1 + i % 2, Ordering::SeqCst);
            })));
        }
        wg.wait().await;
        assert!(
            peak.load(Ordering::SeqCst) <= 4,
            "peak {}",
            peak.load(Ordering::SeqCst)
        );
        assert!(peak.load(Ordering::SeqCst) >= 2);
        assert_eq!(sem.available_permits(), 4);
    });
}

/// Spawns a task that queues for `n` permits, waits until it is queued, and reports its id on
/// `order` once granted, then gives the permits back.
async fn queue_up<R: Runtime>(
    sem: &Arc<Semaphore>,
    id: usize,
    n: usize,
    order: &mpsc::UnboundedSender<usize>,
) {
    let (queued_tx, queued_rx) = oneshot::channel();
    let (sem, order) = (sem.clone(), order.clone());
    R::spawn(Box::pin(async move {
        let mut acquire = sem.acquire_many(n);
        assert!(futures::poll!(&mut acquire).is_pending());
        queued_tx.send(()).unwrap();
        let permit = acquire.await.unwrap();
        order.unbounded_send(id).unwrap();
        drop(permit);
    }));
    queued_rx.await.unwrap();
}

fn waiters_are_granted_in_the_order_they_queued<R: Runtime>() {
    R::block_on(async {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire().unwrap();
        let (order_tx, order_rx) = mpsc::unbounded();
        for id in 0..TASKS {
            queue_up::<R>(&sem, id, 1, &order_tx).await;
        }
        drop(order_tx);
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        drop(held);
        let order: Vec<usize> = order_rx.collect().await;
        assert_eq!(order, (0..TASKS).collect::<Vec<_>>());
    });
}

fn a_large_waiter_at_the_head_is_served_before_later_small_ones<R: Runtime>() {
    R::block_on(async {
        let sem = Arc::new(Semaphore::new(3));
        let one = sem.clone().try_acquire_owned().unwrap();
        let (order_tx, order_rx) = mpsc::unbounded();
        queue_up::<R>(&sem, 100, 3, &order_tx).await; // needs all three
        for id in 0..3 {
            queue_up::<R>(&sem, id, 1, &order_tx).await; // two are free, yet they wait
        }
        drop(order_tx);
        assert_eq!(sem.available_permits(), 2);
        drop(one);
        let order: Vec<usize> = order_rx.collect().await;
        assert_eq!(order[0], 100);
        assert_eq!(order.len(), 4);
    });
}

fn closing_fails_every_queued_waiter<R: Runtime>() {
    R::block_on(async {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.clone().try_acquire_owned().unwrap();
        let (err_tx, err_rx) = mpsc::unbounded();
        for _ in 0..TASKS.min(8) {
            let (queued_tx, queued_rx) = oneshot::channel();
            let (sem, err_tx) = (sem.clone(), err_tx.clone());
            R::spawn(Box::pin(async move {
                let mut acquire = sem.acquire();
                assert!(futures::poll!(&mut acquire).is_pending());
                queued_tx.send(()).unwrap();
                err_tx.unbounded_send(acquire.await.unwrap_err()).unwrap();
            }));
            queued_rx.await.unwrap();
        }
        drop(err_tx);
        sem.close();
        let errs: Vec<AcquireError> = err_rx.collect().await;
        assert_eq!(errs, vec![AcquireError::Closed; TASKS.min(8)]);
        drop(held); // still valid after close
        assert_eq!(sem.available_permits(), 1);
    });
}

fn growing_while_permits_are_out_wakes_waiters<R: Runtime>() {
    R::block_on(async {
        let sem = Arc::new(Semaphore::new(2));
        let held = sem.clone().try_acquire_many_owned(2).unwrap();
        let (order_tx, order_rx) = mpsc::unbounded();
        queue_up::<R>(&sem, 0, 2, &order_tx).await;
        queue_up::<R>(&sem, 1, 1, &order_tx).await;
        drop(order_tx);
        sem.resize(5); // 3 new permits, while 2 are still out
                       // Both are granted by the resize; they may report in either order.
        let mut granted: Vec<usize> = order_rx.collect().await;
        granted.sort_unstable();
        assert_eq!(granted, vec![0, 1]);
        drop(held);
        assert_eq!(sem.available_permits(), 5);
    });
}

fn shrinking_takes_effect_as_permits_come_back<R: Runtime>() {
    R::block_on(async {
        let sem = Arc::new(Semaphore::new(6));
        let held: Vec<_> = (0..6)
            .map(|_| sem.clone().try_acquire_owned().unwrap())
            .collect();
        sem.resize(2);
        assert_eq!(sem.available_permits(), 0);
        let returned = Arc::new(Mutex::new(held));
        // Give back 4 from other tasks: they pay the debt, nothing becomes free.
        let wg = AsyncWaitGroup::new();
        for _ in 0..4 {
            let returned = returned.clone();
            R::spawn(Box::pin(wg.track(async move {
                drop(returned.lock().unwrap().pop());
            })));
        }
        wg.wait().await;
        assert_eq!(sem.available_permits(), 0);
        returned.lock().unwrap().clear();
        assert_eq!(sem.available_permits(), 2);
        assert_eq!(
            sem.try_acquire_many(3).unwrap_err(),
            TryAcquireError::TooLarge {
                requested: 3,
                total: 2
            }
        );
    });
}

fn owned_permits_move_into_spawned_tasks<R: Runtime>() {
    R::block_on(async {
        let sem = Arc::new(Semaphore::new(3));
        let wg = AsyncWaitGroup::new();
        let done = Arc::new(AtomicUsize::new(0));
        for _ in 0..TASKS {
            let permit = sem.clone().acquire_owned().await.unwrap();
            let done = done.clone();
            R::spawn(Box::pin(wg.track(async move {
                yield_now().await;
                done.fetch_add(1, Ordering::SeqCst);
                drop(permit);
            })));
        }
        wg.wait().await;
        assert_eq!(done.load(Ordering::SeqCst), TASKS);
        assert_eq!(sem.available_permits(), 3);
    });
}

fn blocking_acquire_on_a_thread_gets_permits_released_by_tasks<R: Runtime>() {
    R::block_on(async {
        let sem = Arc::new(Semaphore::new(2));
        let held = sem.clone().try_acquire_many_owned(2).unwrap();
        let (got_tx, got_rx) = oneshot::channel();
        let thread = {
            let sem = sem.clone();
            std::thread::spawn(move || {
                let permit = sem.acquire_many_blocking(2).unwrap();
                got_tx.send(permit.num_permits()).unwrap();
            })
        };
        R::spawn(Box::pin(async move { drop(held) }));
        assert_eq!(got_rx.await.unwrap(), 2);
        let (joined_tx, joined_rx) = oneshot::channel();
        std::thread::spawn(move || joined_tx.send(thread.join().is_ok()).unwrap());
        assert!(joined_rx.await.unwrap());
        assert_eq!(sem.available_permits(), 2);
    });
}

fn timed_out_waiters_lose_no_permits<R: Runtime>() {
    R::block_on(async {
        let sem = Arc::new(Semaphore::new(2));
        let held = sem.clone().try_acquire_many_owned(2).unwrap();
        for n in [1, 2, 1] {
            let r = sem.acquire_many(n).timeout(Duration::from_millis(2)).await;
            assert!(r.is_err(), "timed out");
        }
        drop(held);
        assert_eq!(sem.available_permits(), 2);
        let both = sem.acquire_many(2).await.unwrap();
        assert_eq!(both.num_permits(), 2);
    });
}
