//! WorkerPool scenarios, each on tokio (current-thread and multi-thread), async-std, smol and
//! `futures::executor`. Gates are `CancelToken`s and channels; nothing sleeps to synchronise.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use common::Runtime;
use futures::channel::mpsc;
use futures::{FutureExt, StreamExt};
use taskgroup::{CancelToken, JobError, TrySubmitError, WorkerPool};

fn new_pool<R: Runtime + 'static>(limit: usize) -> WorkerPool {
    WorkerPool::new(limit, R::spawn)
}

/// Counts jobs inside a section and keeps the highest count seen.
#[derive(Clone, Default)]
struct Gauge {
    now: Arc<AtomicUsize>,
    high: Arc<AtomicUsize>,
}

impl Gauge {
    fn enter(&self) -> GaugeGuard {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.high.fetch_max(now, Ordering::SeqCst);
        GaugeGuard(self.now.clone())
    }
    fn high(&self) -> usize {
        self.high.load(Ordering::SeqCst)
    }
}

struct GaugeGuard(Arc<AtomicUsize>);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Sets its flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn the_limit_is_reached_and_never_exceeded<R: Runtime + 'static>() {
    R::block_on(async {
        let pool = new_pool::<R>(3);
        let gauge = Gauge::default();
        let gate = CancelToken::new();
        let (started, mut starts) = mpsc::unbounded();
        let mut handles = Vec::new();
        for n in 0..20u32 {
            let (gauge, gate, started) = (gauge.clone(), gate.clone(), started.clone());
            handles.push(
                pool.submit(async move {
                    let _inside = gauge.enter();
                    started.unbounded_send(n).unwrap();
                    gate.cancelled().await;
                    n
                })
                .await,
            );
        }
        for _ in 0..3 {
            starts.next().await.unwrap();
        }
        let stats = pool.stats();
        assert_eq!((stats.running, stats.waiting), (3, 17));
        assert_eq!(gauge.high(), 3);
        gate.cancel();
        let mut sum = 0;
        for handle in handles {
            sum += handle.await.unwrap();
        }
        assert_eq!(sum, (0..20).sum::<u32>());
        assert_eq!(gauge.high(), 3, "never more than the limit");
        pool.stop_and_wait().await;
        let stats = pool.stats();
        assert_eq!((stats.submitted, stats.succeeded), (20, 20));
        assert_eq!((stats.running, stats.waiting), (0, 0));
    });
}

fn jobs_start_in_submission_order<R: Runtime + 'static>() {
    R::block_on(async {
        let pool = new_pool::<R>(1);
        let order = Arc::new(Mutex::new(Vec::new()));
        for n in 0..50 {
            let order = order.clone();
            pool.submit(async move {
                order.lock().unwrap().push(n);
                common::yield_now().await;
            })
            .await;
        }
        pool.stop_and_wait().await;
        assert_eq!(*order.lock().unwrap(), (0..50).collect::<Vec<_>>());
    });
}

fn a_bounded_queue_pushes_back_in_order_and_a_dropped_submit_keeps_no_place<
    R: Runtime + 'static,
>() {
    R::block_on(async {
        let pool = new_pool::<R>(1).with_queue_size(1);
        pool.resize(0); // paused: jobs stay queued
        let first = pool.submit(async { 1 }).await;
        assert!(matches!(
            pool.try_submit(async { 0 }),
            Err(TrySubmitError::Full(_))
        ));
        let mut a = Box::pin(pool.submit(async { 2 }));
        let mut b = Box::pin(pool.submit(async { 3 }));
        let mut c = Box::pin(pool.submit(async { 4 }));
        assert!(futures::poll!(a.as_mut()).is_pending());
        assert!(futures::poll!(b.as_mut()).is_pending());
        assert!(futures::poll!(c.as_mut()).is_pending());
        // Nobody barges past waiting submitters.
        assert!(matches!(
            pool.try_submit(async { 0 }),
            Err(TrySubmitError::Full(_))
        ));
        first.abort(); // its place goes to `a`, the first to ask
        assert!(futures::poll!(b.as_mut()).is_pending());
        let a = match futures::poll!(a.as_mut()) {
            Poll::Ready(handle) => handle,
            Poll::Pending => panic!("the first submitter gets the place"),
        };
        drop(b); // gives up its place in line: `c` is next
        a.abort();
        let c = c.await;
        pool.resize(1);
        assert_eq!(c.await.unwrap(), 4);
        assert!(first.await.unwrap_err().is_cancelled());
        assert!(a.await.unwrap_err().is_cancelled());
        pool.stop_and_wait().await;
        let stats = pool.stats();
        assert_eq!(
            (stats.submitted, stats.succeeded, stats.cancelled),
            (3, 1, 2)
        );
    });
}

fn resize_grows_at_once_shrinks_gently_and_zero_pauses<R: Runtime + 'static>() {
    R::block_on(async {
        let pool = new_pool::<R>(1);
        pool.resize(0);
        let gauge = Gauge::default();
        let gate = CancelToken::new();
        let (started, mut starts) = mpsc::unbounded();
        for n in 0..8u32 {
            let (gauge, gate, started) = (gauge.clone(), gate.clone(), started.clone());
            pool.submit(async move {
                let _inside = gauge.enter();
                started.unbounded_send(n).unwrap();
                gate.cancelled().await;
            })
            .await;
        }
        assert_eq!(pool.stats().waiting, 8);
        assert_eq!(pool.stats().running, 0);
        pool.resize(2);
        let mut first = [starts.next().await.unwrap(), starts.next().await.unwrap()];
        first.sort();
        assert_eq!(first, [0, 1], "the first two in submission order");
        pool.resize(4); // starts two more at once
        let mut next = [starts.next().await.unwrap(), starts.next().await.unwrap()];
        next.sort();
        assert_eq!(next, [2, 3]);
        assert_eq!(pool.stats().running, 4);
        assert_eq!(pool.limit(), 4);
        pool.resize(1); // running jobs finish; then one at a time
        gate.cancel();
        pool.stop_and_wait().await;
        assert_eq!(gauge.high(), 4);
        assert_eq!(pool.stats().succeeded, 8);

        // After the shrink, one at a time.
        let pool2 = new_pool::<R>(4);
        pool2.resize(1);
        let gauge = Gauge::default();
        for _ in 0..10 {
            let gauge = gauge.clone();
            pool2
                .submit(async move {
                    let _inside = gauge.enter();
                    common::yield_now().await;
                })
                .await;
        }
        pool2.stop_and_wait().await;
        assert_eq!(gauge.high(), 1);
    });
}

fn a_panic_is_caught_counted_and_the_pool_goes_on<R: Runtime + 'static>() {
    R::block_on(async {
        let pool = new_pool::<R>(1);
        let bad = pool.submit(async { panic!("bad job") }).await;
        let good = pool.submit(async { "fine" }).await;
        let error = bad.await.unwrap_err();
        assert!(error.is_panic());
        assert!(error.to_string().contains("bad job"));
        assert_eq!(*error.into_panic().downcast::<&str>().unwrap(), "bad job");
        assert_eq!(good.await.unwrap(), "fine");
        pool.stop_and_wait().await;
        let stats = pool.stats();
        assert_eq!((stats.panicked, stats.succeeded), (1, 1));
    });
}

fn abort_drops_a_running_job_and_skips_a_queued_one<R: Runtime + 'static>() {
    R::block_on(async {
        let pool = new_pool::<R>(1);
        let dropped = Arc::new(AtomicBool::new(false));
        let (started, mut starts) = mpsc::unbounded();
        let running = {
            let flag = DropFlag(dropped.clone());
            pool.submit(async move {
                let _flag = flag;
                started.unbounded_send(()).unwrap();
                std::future::pending::<()>().await;
            })
            .await
        };
        let ran = Arc::new(AtomicBool::new(false));
        let queued = {
            let ran = ran.clone();
            pool.submit(async move { ran.store(true, Ordering::SeqCst) })
                .await
        };
        starts.next().await.unwrap();
        assert!(!running.is_finished());
        queued.abort();
        running.abort();
        assert!(matches!(running.await, Err(JobError::Cancelled)));
        assert!(matches!(queued.await, Err(JobError::Cancelled)));
        pool.stop_and_wait().await;
        assert!(
            dropped.load(Ordering::SeqCst),
            "the running job's future was dropped"
        );
        assert!(
            !ran.load(Ordering::SeqCst),
            "the aborted queued job never ran"
        );
        let stats = pool.stats();
        assert_eq!((stats.submitted, stats.cancelled), (2, 2));
        // Aborting a finished job does nothing.
        let done = new_pool::<R>(1);
        let job = done.submit(async { 5 }).await;
        done.stop_and_wait().await;
        job.abort();
        assert_eq!(job.await.unwrap(), 5);
    });
}

fn a_dropped_handle_detaches_the_job<R: Runtime + 'static>() {
    R::block_on(async {
        let pool = new_pool::<R>(2);
        let (tx, mut rx) = mpsc::unbounded();
        for n in 0..5 {
            let tx = tx.clone();
            drop(
                pool.submit(async move { tx.unbounded_send(n).unwrap() })
                    .await,
            );
        }
        let mut got: Vec<i32> = Vec::new();
        for _ in 0..5 {
            got.push(rx.next().await.unwrap());
        }
        got.sort();
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
        pool.stop_and_wait().await;
        assert_eq!(pool.stats().succeeded, 5);
    });
}

fn a_groups_first_error_cancels_only_its_own_jobs<R: Runtime + 'static>() {
    R::block_on(async {
        let pool = new_pool::<R>(8);
        let failing = pool.group::<u32, String>();
        let healthy = pool.group::<u32, String>();
        let dropped = Arc::new(AtomicBool::new(false));
        let saw_token = Arc::new(AtomicBool::new(false));
        {
            /// Records, when dropped, whether the group's token had fired.
            struct SeesToken(CancelToken, Arc<AtomicBool>);
            impl Drop for SeesToken {
                fn drop(&mut self) {
                    self.1.store(self.0.is_cancelled(), Ordering::SeqCst);
                }
            }
            let sees = SeesToken(failing.cancel_token(), saw_token.clone());
            let flag = DropFlag(dropped.clone());
            failing.spawn(async move {
                let _flag = flag;
                let _sees = sees;
                std::future::pending::<()>().await;
                Ok(0)
            });
        }
        let gate = CancelToken::new();
        for n in 0..6 {
            let gate = gate.clone();
            healthy.spawn(async move {
                gate.cancelled().await;
                Ok(n)
            });
        }
        failing.spawn(async { Err("row 7 is bad".to_owned()) });
        assert_eq!(failing.wait().await, Err("row 7 is bad".to_owned()));
        assert!(dropped.load(Ordering::SeqCst));
        assert!(
            saw_token.load(Ordering::SeqCst),
            "the token fired before the job was dropped"
        );
        assert!(!healthy.cancel_token().is_cancelled());
        assert!(!pool.cancel_token().is_cancelled());
        gate.cancel();
        assert_eq!(healthy.wait().await, Ok(vec![0, 1, 2, 3, 4, 5]));
        pool.stop_and_wait().await;
        let stats = pool.stats();
        assert_eq!(stats.submitted, 8);
        assert_eq!((stats.succeeded, stats.failed, stats.cancelled), (6, 1, 1));
    });
}

fn a_group_limit_is_kept_and_wait_all_returns_everything<R: Runtime + 'static>() {
    R::block_on(async {
        let pool = new_pool::<R>(8);
        let group = pool.group().with_limit(2);
        let gauge = Gauge::default();
        for n in 0..12u32 {
            let gauge = gauge.clone();
            group.spawn(async move {
                let _inside = gauge.enter();
                common::yield_now().await;
                if n % 3 == 0 {
                    Err(n)
                } else {
                    Ok(n)
                }
            });
        }
        let all = group.wait_all().await;
        assert_eq!(all.len(), 12);
        for (n, outcome) in all.into_iter().enumerate() {
            let n = n as u32;
            assert_eq!(outcome, if n % 3 == 0 { Err(n) } else { Ok(n) });
        }
        assert!(gauge.high() <= 2);
        pool.stop_and_wait().await;
        let stats = pool.stats();
        assert_eq!((stats.succeeded, stats.failed), (8, 4));
    });
}

fn a_group_panic_resumes_from_wait<R: Runtime + 'static>() {
    R::block_on(async {
        let pool = new_pool::<R>(2);
        let group = pool.group::<(), ()>();
        group.spawn(async { panic!("boom in a batch") });
        let caught = std::panic::AssertUnwindSafe(group.wait())
            .catch_unwind()
            .await
            .unwrap_err();
        assert_eq!(*caught.downcast::<&str>().unwrap(), "boom in a batch");
        // The pool is fine.
        assert_eq!(pool.submit(async { 1 }).await.await.unwrap(), 1);
        pool.stop_and_wait().await;
        assert_eq!(pool.stats().panicked, 1);
    });
}

fn stats_add_up_when_idle<R: Runtime + 'static>() {
    R::block_on(async {
        let pool = new_pool::<R>(3);
        let mut handles = Vec::new();
        for n in 0..30u32 {
            handles.push(
                pool.submit(async move {
                    common::yield_now().await;
                    if n % 10 == 0 {
                        panic!("every tenth");
                    }
                    if n % 7 == 0 {
                        std::future::pending::<()>().await;
                    }
                })
                .await,
            );
        }
        for (n, handle) in handles.iter().enumerate() {
            if n % 7 == 0 && n % 10 != 0 {
                handle.abort();
            }
        }
        let group = pool.group::<(), ()>();
        group.spawn(async { Err(()) });
        group.spawn(async { Ok(()) });
        let _ = group.wait_all().await;
        pool.stop_and_wait().await;
        let stats = pool.stats();
        assert_eq!(stats.submitted, 32);
        assert_eq!(stats.ended(), stats.submitted);
        assert_eq!(
            (
                stats.panicked,
                stats.cancelled,
                stats.failed,
                stats.succeeded
            ),
            (3, 4, 1, 24)
        );
        assert_eq!((stats.running, stats.waiting), (0, 0));
    });
}

fn close_refuses_new_jobs_and_runs_the_queued_ones<R: Runtime + 'static>() {
    R::block_on(async {
        let pool = new_pool::<R>(1);
        pool.resize(0);
        let queued = pool.submit(async { "queued" }).await;
        pool.close();
        assert!(pool.is_closed());
        let late = pool.submit(async { "late" }).await;
        assert!(matches!(late.await, Err(JobError::Closed)));
        match pool.try_submit(async { "late" }) {
            Err(TrySubmitError::Closed(future)) => assert_eq!(future.await, "late"),
            _ => panic!("a closed pool refuses try_submit"),
        }
        pool.resize(1);
        assert_eq!(queued.await.unwrap(), "queued");
        pool.stop_and_wait().await;
        assert_eq!(pool.stats().submitted, 1);
    });
}

fn dropping_the_last_handle_closes_but_runs_what_was_submitted<R: Runtime + 'static>() {
    R::block_on(async {
        let pool = new_pool::<R>(1);
        let clone = pool.clone();
        let gate = CancelToken::new();
        let job = {
            let gate = gate.clone();
            clone
                .submit(async move {
                    gate.cancelled().await;
                    "still ran"
                })
                .await
        };
        drop(pool);
        drop(clone);
        gate.cancel();
        assert_eq!(job.await.unwrap(), "still ran");
    });
}

fn shutdown_waits_then_cancels_and_nothing_outlives_it<R: Runtime + 'static>() {
    R::block_on(async {
        let pool = new_pool::<R>(2);
        let flags: Vec<Arc<AtomicBool>> =
            (0..4).map(|_| Arc::new(AtomicBool::new(false))).collect();
        let token = pool.cancel_token();
        let mut handles = Vec::new();
        for flag in &flags {
            let flag = DropFlag(flag.clone());
            handles.push(
                pool.submit(async move {
                    let _flag = flag;
                    std::future::pending::<()>().await;
                })
                .await,
            );
        }
        // Ends once the shutdown closed the pool, so during the call.
        let watcher = pool.clone();
        let quick = pool
            .submit(async move {
                while !watcher.is_closed() {
                    common::yield_now().await;
                }
                1
            })
            .await;
        pool.resize(8); // everything runs now
        let report = pool.shutdown(Duration::from_millis(30)).await;
        assert!(token.is_cancelled());
        assert_eq!(report.cancelled, 4);
        assert_eq!(report.completed, 1);
        for flag in &flags {
            assert!(flag.load(Ordering::SeqCst), "no job outlives shutdown");
        }
        for handle in handles {
            assert!(handle.await.unwrap_err().is_cancelled());
        }
        assert_eq!(quick.await.unwrap(), 1);
        let stats = pool.stats();
        assert_eq!(stats.ended(), stats.submitted);
        assert!(matches!(
            pool.submit(async {}).await.await,
            Err(JobError::Closed)
        ));
    });
}

fn shutdown_drops_queued_jobs_of_a_paused_pool<R: Runtime + 'static>() {
    R::block_on(async {
        let pool = new_pool::<R>(1);
        pool.resize(0);
        let flag = Arc::new(AtomicBool::new(false));
        let job = {
            let flag = DropFlag(flag.clone());
            pool.submit(async move { drop(flag) }).await
        };
        let report = pool.shutdown(Duration::ZERO).await;
        assert_eq!((report.completed, report.cancelled), (0, 1));
        assert!(flag.load(Ordering::SeqCst));
        assert!(job.await.unwrap_err().is_cancelled());
    });
}

fn the_outer_token_reaches_the_jobs<R: Runtime + 'static>() {
    R::block_on(async {
        let outer = CancelToken::new();
        let pool = new_pool::<R>(2).with_parent(&outer);
        let token = pool.cancel_token();
        let job = pool
            .submit(async move {
                token.cancelled().await;
                "wound down"
            })
            .await;
        let group = pool.group::<&str, ()>();
        let group_token = group.cancel_token();
        group.spawn(async move {
            group_token.cancelled().await;
            Ok("group wound down")
        });
        outer.cancel();
        assert_eq!(job.await.unwrap(), "wound down");
        assert_eq!(group.wait().await, Ok(vec!["group wound down"]));
        // Cooperative: the pool still takes jobs.
        assert_eq!(pool.submit(async { 3 }).await.await.unwrap(), 3);
    });
}

fn submit_blocking_from_a_thread<R: Runtime + 'static>() {
    R::block_on(async {
        // The spawn function is called from the submitting thread, outside any runtime: relay
        // the workers to a task of the runtime (tokio's spawn needs its context).
        let (relay, tasks) = mpsc::unbounded::<common::Task>();
        R::spawn(Box::pin(tasks.for_each(|task| async { R::spawn(task) })));
        let pool = WorkerPool::new(2, move |task| {
            relay.unbounded_send(task).ok();
        })
        .with_queue_size(4);
        let clone = pool.clone();
        let (tx, rx) = futures::channel::oneshot::channel();
        std::thread::spawn(move || {
            let handles: Vec<_> = (0..10)
                .map(|n| clone.submit_blocking(async move { n }))
                .collect();
            tx.send(handles).ok();
        });
        let mut sum = 0;
        for handle in rx.await.unwrap() {
            sum += handle.await.unwrap();
        }
        assert_eq!(sum, 45);
        pool.close();
        assert!(pool
            .submit_blocking(async {})
            .await
            .unwrap_err()
            .is_closed());
    });
}

runtime_tests!(
    // Under Miri (slow: about 6 s a scenario per runtime) the core runs through
    // tests/pool_props.rs and the two scenarios left here; the others are ignored.
    #[cfg_attr(miri, ignore)]
    the_limit_is_reached_and_never_exceeded,
    #[cfg_attr(miri, ignore)]
    jobs_start_in_submission_order,
    a_bounded_queue_pushes_back_in_order_and_a_dropped_submit_keeps_no_place,
    #[cfg_attr(miri, ignore)]
    resize_grows_at_once_shrinks_gently_and_zero_pauses,
    #[cfg_attr(miri, ignore)]
    a_panic_is_caught_counted_and_the_pool_goes_on,
    #[cfg_attr(miri, ignore)]
    abort_drops_a_running_job_and_skips_a_queued_one,
    #[cfg_attr(miri, ignore)]
    a_dropped_handle_detaches_the_job,
    a_groups_first_error_cancels_only_its_own_jobs,
    #[cfg_attr(miri, ignore)]
    a_group_limit_is_kept_and_wait_all_returns_everything,
    #[cfg_attr(miri, ignore)]
    a_group_panic_resumes_from_wait,
    #[cfg_attr(miri, ignore)]
    stats_add_up_when_idle,
    #[cfg_attr(miri, ignore)]
    close_refuses_new_jobs_and_runs_the_queued_ones,
    #[cfg_attr(miri, ignore)]
    dropping_the_last_handle_closes_but_runs_what_was_submitted,
    #[cfg_attr(miri, ignore)] // a timer
    shutdown_waits_then_cancels_and_nothing_outlives_it,
    #[cfg_attr(miri, ignore)] // a timer
    shutdown_drops_queued_jobs_of_a_paused_pool,
    #[cfg_attr(miri, ignore)]
    the_outer_token_reaches_the_jobs,
    #[cfg_attr(miri, ignore)]
    submit_blocking_from_a_thread,
);

#[test]
#[should_panic(expected = "limit must be at least 1")]
fn a_limit_of_zero_panics() {
    let _ = WorkerPool::new(0, |_| {});
}

#[test]
#[should_panic(expected = "with_queue_size: size must be at least 1")]
fn a_queue_size_of_zero_panics() {
    let _ = WorkerPool::new(1, |_| {}).with_queue_size(0);
}

#[test]
#[should_panic(expected = "PoolGroup::with_limit: limit must be at least 1")]
fn a_group_limit_of_zero_panics() {
    let pool = WorkerPool::new(1, |_| {});
    let _ = pool.group::<(), ()>().with_limit(0);
}

#[test]
fn debug_shows_the_counts() {
    let pool = WorkerPool::new(3, |_| {});
    pool.resize(0);
    let _job = pool.try_submit(async {}).unwrap();
    let shown = format!("{pool:?}");
    assert!(shown.contains("limit: 0"), "{shown}");
    assert!(shown.contains("waiting: 1"), "{shown}");
    let stats = format!("{:?}", pool.stats());
    assert!(stats.contains("submitted: 1"), "{stats}");
}

#[test]
fn the_pool_and_its_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let pool = WorkerPool::new(1, |_| {});
    send_sync(&pool);
    let submit = pool.submit(async { 1 });
    send(&submit);
    let group = pool.group::<u8, ()>();
    send_sync(&group);
    send(&group.wait());
}

#[test]
fn a_panicking_spawn_function_cancels_the_jobs_it_was_given_and_nothing_hangs() {
    let pool = WorkerPool::new(2, |_task| panic!("there is no runtime here"));
    pool.resize(0);
    let a = pool.try_submit(async { 1 }).unwrap();
    let b = pool.try_submit(async { 2 }).unwrap();
    // Starts two workers at once: the first spawn panics, the second worker is never handed.
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pool.resize(2)));
    assert!(caught.is_err());
    futures::executor::block_on(async {
        pool.stop_and_wait().await;
        assert!(a.await.unwrap_err().is_cancelled());
        assert!(b.await.unwrap_err().is_cancelled());
    });
    let stats = pool.stats();
    assert_eq!((stats.submitted, stats.cancelled, stats.running), (2, 2, 0));
}
