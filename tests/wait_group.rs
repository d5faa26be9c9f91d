//! `AsyncWaitGroup` and `.timeout()` scenarios, each run on tokio (current-thread and
//! multi-thread), async-std, smol and `futures::executor`.
#![cfg(not(loom))]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Runtime;
use futures::channel::{mpsc, oneshot};
use futures::StreamExt;
use taskgroup::{AsyncWaitGroup, TimeoutExt};

/// Smaller batches under Miri, which is slow, same scenario otherwise.
const TASKS: usize = if cfg!(miri) { 8 } else { 200 };

runtime_tests!(
    wait_sees_every_write_of_every_task,
    tracked_tasks_are_counted_until_they_finish,
    every_waiter_wakes_at_the_last_done,
    #[cfg_attr(miri, ignore)]
    batch_with_hung_jobs_times_out_and_reports_the_outstanding,
    #[cfg_attr(miri, ignore)]
    timeout_is_ok_when_every_job_finishes_in_time,
    group_is_reusable_after_reaching_zero,
    blocking_waiter_on_a_thread_sees_async_tasks_finish,
    #[cfg_attr(miri, ignore)]
    timeout_returns_the_output_of_a_future_completed_by_another_task,
    #[cfg_attr(miri, ignore)]
    timeout_drops_the_inner_future_when_it_fires,
);

fn wait_sees_every_write_of_every_task<R: Runtime>() {
    R::block_on(async {
        let wg = AsyncWaitGroup::new();
        let seen = Arc::new(Mutex::new(Vec::new()));
        for id in 0..TASKS {
            let guard = wg.guard();
            let seen = seen.clone();
            R::spawn(Box::pin(async move {
                seen.lock().unwrap().push(id);
                drop(guard);
            }));
        }
        wg.wait().await;
        assert_eq!(wg.count(), 0);
        let mut seen = seen.lock().unwrap().clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..TASKS).collect::<Vec<_>>());
    });
}

fn tracked_tasks_are_counted_until_they_finish<R: Runtime>() {
    R::block_on(async {
        let wg = AsyncWaitGroup::new();
        let (release, released) = oneshot::channel::<()>();
        let finished = Arc::new(AtomicUsize::new(0));
        let gate = wg.track(async move {
            released.await.unwrap();
        });
        R::spawn(Box::pin(gate));
        for _ in 0..TASKS {
            let finished = finished.clone();
            R::spawn(Box::pin(wg.track(async move {
                finished.fetch_add(1, Ordering::Relaxed);
            })));
        }
        assert!(wg.count() >= 1, "the gated task is still outstanding");
        release.send(()).unwrap();
        wg.wait().await;
        assert_eq!(finished.load(Ordering::Relaxed), TASKS);
        assert_eq!(wg.count(), 0);
    });
}

fn every_waiter_wakes_at_the_last_done<R: Runtime>() {
    R::block_on(async {
        let wg = AsyncWaitGroup::new();
        let guard = wg.guard();
        let (ready_tx, mut ready_rx) = mpsc::unbounded::<()>();
        let (woke_tx, woke_rx) = mpsc::unbounded::<usize>();
        let waiters = 16;
        for id in 0..waiters {
            let wg = wg.clone();
            let ready_tx = ready_tx.clone();
            let woke_tx = woke_tx.clone();
            R::spawn(Box::pin(async move {
                let mut wait = wg.wait();
                // Register before saying ready: poll once by hand.
                assert!(futures::poll!(&mut wait).is_pending());
                ready_tx.unbounded_send(()).unwrap();
                wait.await;
                woke_tx.unbounded_send(id).unwrap();
            }));
        }
        drop(woke_tx);
        for _ in 0..waiters {
            ready_rx.next().await.unwrap();
        }
        assert_eq!(
            format!("{wg:?}"),
            "AsyncWaitGroup { count: 1, waiters: 16 }"
        );
        drop(guard);
        let mut woke: Vec<usize> = woke_rx.collect().await;
        woke.sort_unstable();
        assert_eq!(woke, (0..waiters).collect::<Vec<_>>());
    });
}

/// The seed's batch: submit jobs, wait with a timeout, report the ones still pending.
fn batch_with_hung_jobs_times_out_and_reports_the_outstanding<R: Runtime>() {
    R::block_on(async {
        let wg = AsyncWaitGroup::new();
        let hung = 3;
        let mut releases = Vec::new();
        for job in 0..TASKS {
            let guard = wg.guard();
            if job % (TASKS / hung) == 0 && releases.len() < hung {
                let (release, released) = oneshot::channel::<()>();
                releases.push(release);
                R::spawn(Box::pin(async move {
                    let _ = released.await;
                    drop(guard);
                }));
            } else {
                R::spawn(Box::pin(async move { drop(guard) }));
            }
        }
        let limit = Duration::from_millis(30);
        let elapsed = wg.wait().timeout(limit).await.unwrap_err();
        assert!(elapsed.waited() >= limit, "{elapsed}");
        assert_eq!(wg.count(), hung, "the hung jobs are the outstanding ones");

        // Unblock them: the same group then reaches zero.
        for release in releases {
            release.send(()).unwrap();
        }
        wg.wait()
            .timeout(Duration::from_secs(10))
            .await
            .expect("the released jobs finish");
        assert_eq!(wg.count(), 0);
    });
}

fn timeout_is_ok_when_every_job_finishes_in_time<R: Runtime>() {
    R::block_on(async {
        let wg = AsyncWaitGroup::new();
        for _ in 0..TASKS {
            R::spawn(Box::pin(wg.track(async {})));
        }
        assert_eq!(wg.wait().timeout(Duration::from_secs(10)).await, Ok(()));
    });
}

fn group_is_reusable_after_reaching_zero<R: Runtime>() {
    R::block_on(async {
        let wg = AsyncWaitGroup::new();
        let total = Arc::new(AtomicUsize::new(0));
        for round in 1..=3 {
            for _ in 0..TASKS {
                let total = total.clone();
                R::spawn(Box::pin(wg.track(async move {
                    total.fetch_add(1, Ordering::Relaxed);
                })));
            }
            wg.wait().await;
            assert_eq!(total.load(Ordering::Relaxed), round * TASKS);
        }
    });
}

fn blocking_waiter_on_a_thread_sees_async_tasks_finish<R: Runtime>() {
    R::block_on(async {
        let wg = AsyncWaitGroup::new();
        let (release, released) = oneshot::channel::<()>();
        R::spawn(Box::pin(wg.track(async move {
            released.await.unwrap();
        })));
        let waiter = {
            let wg = wg.clone();
            std::thread::spawn(move || {
                wg.wait_blocking();
                wg.count()
            })
        };
        release.send(()).unwrap();
        // Join through a channel so the runtime thread is not blocked.
        let (done_tx, done_rx) = oneshot::channel();
        std::thread::spawn(move || done_tx.send(waiter.join().unwrap()).unwrap());
        assert_eq!(done_rx.await.unwrap(), 0);
    });
}

fn timeout_returns_the_output_of_a_future_completed_by_another_task<R: Runtime>() {
    R::block_on(async {
        let (tx, rx) = oneshot::channel::<&'static str>();
        R::spawn(Box::pin(async move { tx.send("payload").unwrap() }));
        let got = rx.timeout(Duration::from_secs(10)).await;
        assert_eq!(got, Ok(Ok("payload")));
    });
}

fn timeout_drops_the_inner_future_when_it_fires<R: Runtime>() {
    struct DropFlag(Arc<AtomicUsize>);
    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    R::block_on(async {
        let dropped = Arc::new(AtomicUsize::new(0));
        let flag = DropFlag(dropped.clone());
        let never = async move {
            let _flag = flag;
            std::future::pending::<()>().await;
        };
        let timeout = never.timeout(Duration::from_millis(5));
        assert!(timeout.await.is_err());
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
    });
}
