//! `ErrGroup` and `CancelToken` scenarios, each run on tokio (current-thread and multi-thread),
//! async-std, smol and `futures::executor`; the parallel form spawns on the same runtime.
#![cfg(not(loom))]

mod common;

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{yield_now, Runtime};
use futures::channel::oneshot;
use futures::FutureExt;
use taskgroup::{CancelToken, ErrGroup, TimeoutExt};

const TASKS: usize = if cfg!(miri) { 8 } else { 100 };

runtime_tests!(
    results_come_back_in_spawn_order,
    local_tasks_borrow_from_the_scope,
    first_error_cancels_the_rest_and_their_drop_code_sees_the_token,
    first_error_aborts_pending_spawned_tasks,
    the_limit_is_reached_and_never_exceeded,
    try_spawn_hands_the_future_back_at_the_limit,
    tasks_spawn_tasks_through_the_spawner,
    wait_all_returns_every_outcome,
    a_panic_cancels_the_rest_and_resumes_with_its_payload,
    #[cfg_attr(miri, ignore)]
    a_timeout_on_wait_cancels_every_task,
    outer_shutdown_is_cooperative,
    a_spawner_used_after_the_group_finished_drops_the_future,
    nothing_runs_before_wait_is_polled,
    cancel_token_wakes_every_waiter,
    owned_token_futures_move_into_spawned_tasks,
    wait_partial_keeps_the_values_that_came_back,
    a_raised_limit_starts_queued_tasks_while_wait_runs,
    a_lowered_limit_starts_no_more_until_under_it,
);

/// A local group, or a parallel one that spawns on runtime `R`.
fn new_group<R: Runtime + 'static, T: Send + 'static, E: Send + 'static>(
    parallel: bool,
) -> ErrGroup<'static, T, E> {
    if parallel {
        ErrGroup::with_spawner(R::spawn)
    } else {
        ErrGroup::new()
    }
}

fn results_come_back_in_spawn_order<R: Runtime + 'static>() {
    R::block_on(async {
        for parallel in [false, true] {
            let mut group = new_group::<R, usize, ()>(parallel);
            for i in 0..TASKS {
                group.spawn(async move {
                    // Finish out of order: later tasks yield less.
                    for _ in 0..(TASKS - i) % 3 {
                        yield_now().await;
                    }
                    Ok(i * 10)
                });
            }
            let values = group.wait().await.unwrap();
            assert_eq!(values, (0..TASKS).map(|i| i * 10).collect::<Vec<_>>());
        }
    });
}

fn local_tasks_borrow_from_the_scope<R: Runtime + 'static>() {
    R::block_on(async {
        let words = vec![String::from("alpha"), String::from("beta")];
        let mut total = 0;
        {
            let mut group = ErrGroup::new();
            for word in &words {
                group.spawn(async move { Ok::<_, ()>(word.len()) });
            }
            for n in group.wait().await.unwrap() {
                total += n;
            }
        }
        assert_eq!(total, 9);
        assert_eq!(words.len(), 2); // still ours
    });
}

/// Records, when dropped, whether the token had fired by then.
struct DropProbe {
    token: CancelToken,
    saw_cancelled: Arc<Mutex<Vec<bool>>>,
}

impl Drop for DropProbe {
    fn drop(&mut self) {
        self.saw_cancelled
            .lock()
            .unwrap()
            .push(self.token.is_cancelled());
    }
}

fn first_error_cancels_the_rest_and_their_drop_code_sees_the_token<R: Runtime + 'static>() {
    R::block_on(async {
        for parallel in [false, true] {
            let mut group = new_group::<R, (), &str>(parallel);
            let token = group.cancel_token();
            let saw = Arc::new(Mutex::new(Vec::new()));
            let (started_tx, started_rx) = futures::channel::mpsc::unbounded();
            for _ in 0..4 {
                let probe = DropProbe {
                    token: token.clone(),
                    saw_cancelled: saw.clone(),
                };
                let started = started_tx.clone();
                group.spawn(async move {
                    let _probe = probe;
                    started.unbounded_send(()).unwrap();
                    std::future::pending::<()>().await; // only cancellation ends it
                    Ok(())
                });
            }
            let mut started_rx = started_rx;
            group.spawn(async move {
                // Fail once the four siblings are running.
                use futures::StreamExt;
                for _ in 0..4 {
                    started_rx.next().await.unwrap();
                }
                Err("boom")
            });
            assert_eq!(group.wait().await, Err("boom"));
            assert!(token.is_cancelled());
            let saw = saw.lock().unwrap();
            assert_eq!(*saw, vec![true; 4], "parallel: {parallel}");
        }
    });
}

fn first_error_aborts_pending_spawned_tasks<R: Runtime + 'static>() {
    R::block_on(async {
        // Parallel form, with a limit: running tasks are aborted at their next poll (they are
        // woken for it), queued ones never start.
        let mut group = ErrGroup::with_spawner(R::spawn).with_limit(3);
        let started = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        let (fail_tx, fail_rx) = oneshot::channel::<()>();
        struct Count(Arc<AtomicUsize>);
        impl Drop for Count {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        for _ in 0..2 {
            let (started, count) = (started.clone(), Count(dropped.clone()));
            group.spawn(async move {
                let _count = count;
                started.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<Result<(), &str>>().await
            });
        }
        group.spawn(async move {
            fail_rx.await.unwrap();
            Err("failed")
        });
        for _ in 0..5 {
            let (started, count) = (started.clone(), Count(dropped.clone()));
            group.spawn(async move {
                let _count = count;
                started.fetch_add(1, Ordering::SeqCst);
                Ok(())
            });
        }
        let wait = group.wait();
        let mut wait = std::pin::pin!(wait);
        assert!(futures::poll!(&mut wait).is_pending());
        fail_tx.send(()).unwrap();
        assert_eq!(wait.await, Err("failed"));
        // Everything is gone by the time wait() returned; the queued five never ran.
        assert_eq!(dropped.load(Ordering::SeqCst), 7);
        assert!(started.load(Ordering::SeqCst) <= 2);
    });
}

fn the_limit_is_reached_and_never_exceeded<R: Runtime + 'static>() {
    R::block_on(async {
        for parallel in [false, true] {
            let group = new_group::<R, (), ()>(parallel);
            let mut group = group.with_limit(4);
            let running = Arc::new(AtomicUsize::new(0));
            let peak = Arc::new(AtomicUsize::new(0));
            let order = Arc::new(Mutex::new(Vec::new()));
            let reached = CancelToken::new(); // a one-shot gate
            for i in 0..TASKS {
                let (running, peak, order) = (running.clone(), peak.clone(), order.clone());
                let reached = reached.clone();
                group.spawn(async move {
                    order.lock().unwrap().push(i);
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    if now == 4 {
                        reached.cancel();
                    }
                    // Hold on until the limit was reached once, so that it must be reachable.
                    reached.cancelled().await;
                    yield_now().await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(())
                });
            }
            group.wait().await.unwrap();
            assert_eq!(peak.load(Ordering::SeqCst), 4);
            // Parallel tasks may start a little out of order on several threads; the local
            // form starts them exactly in spawn order.
            let order = order.lock().unwrap();
            assert_eq!(order.len(), TASKS);
            assert_eq!(order.iter().copied().collect::<HashSet<_>>().len(), TASKS);
            if !parallel {
                assert_eq!(*order, (0..TASKS).collect::<Vec<_>>());
            }
        }
    });
}

fn try_spawn_hands_the_future_back_at_the_limit<R: Runtime + 'static>() {
    R::block_on(async {
        let mut group = ErrGroup::new().with_limit(2);
        assert!(group.try_spawn(async { Ok::<_, ()>(1) }).is_ok());
        assert!(group.try_spawn(async { Ok(2) }).is_ok());
        let back = group.try_spawn(async { Ok(3) }).unwrap_err();
        assert_eq!(back.await, Ok(3)); // untouched, still runnable
        group.spawn(async { Ok(4) }); // spawn still queues past the limit
        let spawner = group.spawner();
        let (room_tx, room_rx) = oneshot::channel();
        let mut group2 = ErrGroup::new().with_limit(1);
        group2.spawn(async move {
            // Inside the running group, the limit is full with this task itself.
            let refused = spawner.try_spawn(async { Ok(0) }).is_err();
            room_tx.send(refused).unwrap();
            Ok::<_, ()>(())
        });
        group2.wait().await.unwrap();
        assert!(
            room_rx.await.unwrap(),
            "two queued tasks reach the limit of 2"
        );
        assert_eq!(group.wait().await, Ok(vec![1, 2, 4]));
    });
}

fn tasks_spawn_tasks_through_the_spawner<R: Runtime + 'static>() {
    // Not an `async fn`: a future that spawns itself needs a nameable, non-recursive type.
    #[allow(clippy::manual_async_fn)]
    fn visit(
        node: usize,
        spawner: taskgroup::ErrGroupSpawner<'static, usize, ()>,
    ) -> impl std::future::Future<Output = Result<usize, ()>> + Send + 'static {
        async move {
            for child in [node * 2, node * 2 + 1] {
                if child < 64 {
                    spawner.spawn(visit(child, spawner.clone()));
                }
            }
            yield_now().await;
            Ok(node)
        }
    }
    R::block_on(async {
        for parallel in [false, true] {
            let group = new_group::<R, usize, ()>(parallel);
            let mut group = group.with_limit(3);
            group.spawn(visit(1, group.spawner()));
            let mut nodes = group.wait().await.unwrap();
            assert_eq!(nodes[0], 1);
            nodes.sort();
            assert_eq!(nodes, (1..64).collect::<Vec<_>>());
        }
    });
}

fn wait_all_returns_every_outcome<R: Runtime + 'static>() {
    R::block_on(async {
        for parallel in [false, true] {
            let mut group = new_group::<R, usize, String>(parallel);
            let token = group.cancel_token();
            for i in 0..10 {
                group.spawn(async move {
                    yield_now().await;
                    if i % 3 == 0 {
                        Err(format!("task {i} failed"))
                    } else {
                        Ok(i)
                    }
                });
            }
            let outcomes = group.wait_all().await;
            let expected: Vec<_> = (0..10)
                .map(|i| {
                    if i % 3 == 0 {
                        Err(format!("task {i} failed"))
                    } else {
                        Ok(i)
                    }
                })
                .collect();
            assert_eq!(outcomes, expected);
            assert!(
                token.is_cancelled(),
                "the token fires when wait_all returns"
            );
        }
    });
}

fn a_panic_cancels_the_rest_and_resumes_with_its_payload<R: Runtime + 'static>() {
    R::block_on(async {
        for parallel in [false, true] {
            for all in [false, true] {
                let mut group = new_group::<R, (), ()>(parallel);
                let token = group.cancel_token();
                let saw = Arc::new(Mutex::new(Vec::new()));
                let probe = DropProbe {
                    token: token.clone(),
                    saw_cancelled: saw.clone(),
                };
                group.spawn(async move {
                    let _probe = probe;
                    std::future::pending().await
                });
                group.spawn(async {
                    yield_now().await;
                    std::panic::panic_any(42_u32)
                });
                let payload = if all {
                    AssertUnwindSafe(group.wait_all())
                        .catch_unwind()
                        .await
                        .map(drop)
                } else {
                    AssertUnwindSafe(group.wait())
                        .catch_unwind()
                        .await
                        .map(drop)
                }
                .unwrap_err();
                assert_eq!(payload.downcast_ref::<u32>(), Some(&42));
                assert!(token.is_cancelled());
                assert_eq!(*saw.lock().unwrap(), vec![true], "parallel {parallel}");
            }
        }
    });
}

fn a_timeout_on_wait_cancels_every_task<R: Runtime + 'static>() {
    R::block_on(async {
        for parallel in [false, true] {
            let mut group = new_group::<R, (), ()>(parallel);
            let token = group.cancel_token();
            let live = Arc::new(AtomicUsize::new(0));
            let (all_dropped_tx, all_dropped_rx) = futures::channel::mpsc::unbounded();
            struct Live(
                Arc<AtomicUsize>,
                futures::channel::mpsc::UnboundedSender<()>,
            );
            impl Drop for Live {
                fn drop(&mut self) {
                    if self.0.fetch_sub(1, Ordering::SeqCst) == 1 {
                        let _ = self.1.unbounded_send(());
                    }
                }
            }
            for _ in 0..10 {
                live.fetch_add(1, Ordering::SeqCst);
                let guard = Live(live.clone(), all_dropped_tx.clone());
                group.spawn(async move {
                    let _guard = guard;
                    std::future::pending().await
                });
            }
            let outcome = group.wait().timeout(Duration::from_millis(20)).await;
            assert!(outcome.is_err());
            assert!(token.is_cancelled());
            // Spawned tasks are dropped at their next poll, which they are woken for.
            use futures::StreamExt;
            let mut all_dropped_rx = all_dropped_rx;
            all_dropped_rx.next().await.unwrap();
            assert_eq!(live.load(Ordering::SeqCst), 0);
        }
    });
}

fn outer_shutdown_is_cooperative<R: Runtime + 'static>() {
    R::block_on(async {
        let shutdown = CancelToken::new();
        for parallel in [false, true] {
            let outer = CancelToken::new();
            let mut group = new_group::<R, &'static str, ()>(parallel)
                .with_parent(&outer)
                .with_limit(1);
            let token = group.cancel_token();
            let (running_tx, running_rx) = oneshot::channel();
            {
                let token = token.clone();
                group.spawn(async move {
                    running_tx.send(()).unwrap();
                    token.cancelled().await;
                    Ok("wound down")
                });
            }
            // Queued behind the limit: starts after the shutdown and sees it.
            let token2 = token.clone();
            group.spawn(async move {
                Ok(if token2.is_cancelled() {
                    "saw it"
                } else {
                    "missed"
                })
            });
            let trigger = async move {
                running_rx.await.unwrap();
                outer.cancel();
            };
            let (values, ()) = futures::future::join(group.wait(), trigger).await;
            assert_eq!(
                values,
                Ok(vec!["wound down", "saw it"]),
                "parallel {parallel}"
            );
        }
        // The group never fires its parent.
        assert!(!shutdown.is_cancelled());
        let mut group = ErrGroup::new().with_parent(&shutdown);
        group.spawn(async { Err::<(), _>("own failure") });
        assert_eq!(group.wait().await, Err("own failure"));
        assert!(!shutdown.is_cancelled());
    });
}

fn a_spawner_used_after_the_group_finished_drops_the_future<R: Runtime + 'static>() {
    R::block_on(async {
        for parallel in [false, true] {
            let mut group = new_group::<R, (), ()>(parallel);
            let spawner = group.spawner();
            group.spawn(async { Ok(()) });
            group.wait().await.unwrap();
            let dropped = Arc::new(AtomicBool::new(false));
            let flag = dropped.clone();
            let probe = scopeguard(move || flag.store(true, Ordering::SeqCst));
            spawner.spawn(async move {
                let _probe = probe;
                panic!("must never run");
            });
            assert!(dropped.load(Ordering::SeqCst));
            let back = spawner.try_spawn(async { Ok(()) });
            assert!(back.is_err());
        }
    });
}

fn nothing_runs_before_wait_is_polled<R: Runtime + 'static>() {
    R::block_on(async {
        for parallel in [false, true] {
            let mut group = new_group::<R, (), ()>(parallel);
            let ran = Arc::new(AtomicBool::new(false));
            let flag = ran.clone();
            group.spawn(async move {
                flag.store(true, Ordering::SeqCst);
                Ok(())
            });
            let token = group.cancel_token();
            let wait = group.wait();
            assert!(!ran.load(Ordering::SeqCst));
            drop(wait); // dropping the unpolled wait() cancels, nothing ever ran
            assert!(!ran.load(Ordering::SeqCst));
            assert!(token.is_cancelled());
        }
    });
}

fn cancel_token_wakes_every_waiter<R: Runtime + 'static>() {
    R::block_on(async {
        let token = CancelToken::new();
        let child = token.child_token();
        let (done_tx, done_rx) = futures::channel::mpsc::unbounded();
        for i in 0..TASKS {
            let waiter = if i % 2 == 0 {
                token.clone()
            } else {
                child.clone()
            };
            let done = done_tx.clone();
            R::spawn(Box::pin(async move {
                waiter.cancelled().await;
                done.unbounded_send(i).unwrap();
            }));
        }
        drop(done_tx);
        token.cancel();
        use futures::StreamExt;
        let seen: HashSet<usize> = done_rx.collect().await;
        assert_eq!(seen.len(), TASKS);
    });
}

/// `cancelled_owned` and `run_until_cancelled_owned` are `'static`: spawned tasks take them
/// without a borrow, and a `drop_guard` dropped in a task fires the token for all of them.
fn owned_token_futures_move_into_spawned_tasks<R: Runtime + 'static>() {
    R::block_on(async {
        let token = CancelToken::new();
        let (done_tx, done_rx) = futures::channel::mpsc::unbounded();
        for i in 0..TASKS {
            let done = done_tx.clone();
            if i % 2 == 0 {
                let fired = token.clone().cancelled_owned();
                R::spawn(Box::pin(async move {
                    fired.await;
                    done.unbounded_send(Some(i)).unwrap();
                }));
            } else {
                let work = token
                    .clone()
                    .run_until_cancelled_owned(std::future::pending::<usize>());
                R::spawn(Box::pin(async move {
                    done.unbounded_send(work.await).unwrap();
                }));
            }
        }
        drop(done_tx);
        let guard = token.clone().drop_guard();
        R::spawn(Box::pin(async move { drop(guard) }));
        use futures::StreamExt;
        let seen: Vec<Option<usize>> = done_rx.collect().await;
        assert_eq!(seen.len(), TASKS);
        assert_eq!(seen.iter().filter(|s| s.is_none()).count(), TASKS / 2);
        assert!(token.is_cancelled());
    });
}

/// Runs `f` when dropped.
fn scopeguard(f: impl FnOnce() + Send) -> impl Drop + Send {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            (self.0.take().unwrap())();
        }
    }
    Guard(Some(f))
}

#[test]
#[should_panic(expected = "limit must be at least 1")]
fn a_limit_of_zero_panics() {
    let _ = ErrGroup::<(), ()>::new().with_limit(0);
}

#[test]
fn debug_shows_the_counts() {
    let mut group = ErrGroup::<(), ()>::new().with_limit(2);
    group.spawn(async { Ok(()) });
    assert_eq!(
        format!("{group:?}"),
        "ErrGroup { queued: 1, running: 0, finished: 0, limit: Some(2), parallel: false, cancelled: false }"
    );
}

#[cfg_attr(miri, ignore)]
#[test]
fn the_parallel_form_runs_tasks_on_several_threads() {
    // Two tasks that can each finish only while the other is running: on one thread this
    // would never end, so the timeout turns a failure into a clear error instead of a hang.
    common::TokioMultiThread::block_on(async {
        let mut group = ErrGroup::with_spawner(|f| {
            tokio::spawn(f);
        });
        let arrived = Arc::new(AtomicUsize::new(0));
        for _ in 0..2 {
            let arrived = arrived.clone();
            group.spawn(async move {
                arrived.fetch_add(1, Ordering::SeqCst);
                while arrived.load(Ordering::SeqCst) < 2 {
                    std::hint::spin_loop(); // blocks this worker thread on purpose
                }
                Ok::<_, ()>(std::thread::current().id())
            });
        }
        let threads = group
            .wait()
            .timeout(Duration::from_secs(30))
            .await
            .expect("both tasks ran at the same time")
            .unwrap();
        assert_ne!(threads[0], threads[1]);
    });
}

#[test]
fn a_spawn_function_that_drops_tasks_makes_wait_panic_not_hang() {
    let mut group = ErrGroup::with_spawner(drop);
    group.spawn(async { Ok::<_, ()>(1) });
    let payload =
        futures::executor::block_on(AssertUnwindSafe(group.wait()).catch_unwind()).unwrap_err();
    let message = payload.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(message.contains("dropped by its executor"), "{message}");
}

/// A value whose drop code panics (unless the thread is already unwinding).
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("drop panicked");
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or_default()
}

#[cfg_attr(miri, ignore)]
#[test]
fn a_panicking_drop_of_a_cancelled_task_is_resumed_not_lost_and_nothing_hangs() {
    // The queued task is dropped by the group's abort; its drop code panics. Both forms:
    // wait() resumes that panic (a panic is never lost) instead of hanging or losing count.
    common::TokioMultiThread::block_on(async {
        for parallel in [false, true] {
            let mut group = if parallel {
                ErrGroup::<(), u32>::with_spawner(|f| {
                    tokio::spawn(f);
                })
            } else {
                ErrGroup::new()
            }
            .with_limit(1);
            group.spawn(async { Err(1) });
            let guard = PanicOnDrop;
            group.spawn(async move {
                let _guard = guard;
                Ok(())
            });
            let outcome = AssertUnwindSafe(group.wait())
                .catch_unwind()
                .timeout(Duration::from_secs(10))
                .await
                .expect("wait() must not hang");
            let payload = outcome.unwrap_err();
            assert_eq!(
                panic_message(&*payload),
                "drop panicked",
                "parallel {parallel}"
            );
        }
    });
}

#[cfg_attr(miri, ignore)]
#[test]
fn a_later_error_is_dropped_outside_the_groups_lock() {
    // The second error's drop code looks at the group (Debug takes its lock): it must not run
    // under that lock, or the worker deadlocks and wait() never returns.
    struct LookingError(Option<taskgroup::ErrGroupSpawner<'static, (), LookingError>>);
    impl Drop for LookingError {
        fn drop(&mut self) {
            if let Some(spawner) = &self.0 {
                let _ = format!("{spawner:?}");
            }
        }
    }
    common::TokioMultiThread::block_on(async {
        let mut group = ErrGroup::with_spawner(|f| {
            tokio::spawn(f);
        });
        let spawner = group.spawner();
        let token = group.cancel_token();
        // Both tasks block their worker (two workers): the first fails only once the second is
        // inside its poll, and the second returns its error only after the first error is in.
        let started = Arc::new(AtomicBool::new(false));
        let seen = started.clone();
        group.spawn(async move {
            while !seen.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            Err(LookingError(None))
        });
        group.spawn(async move {
            started.store(true, Ordering::SeqCst);
            while !token.is_cancelled() {
                std::thread::yield_now(); // the token fires on the first error
            }
            Err(LookingError(Some(spawner)))
        });
        let outcome = group
            .wait()
            .timeout(Duration::from_secs(10))
            .await
            .expect("wait() must not deadlock");
        assert!(outcome.is_err());
    });
}

/// A group whose `wait()` spends its whole poll budget on jobs that finish must wake itself
/// before returning `Pending`: returning without a wake-up left it hanging (found while moving
/// the local form onto the in-flight engine).
#[test]
fn a_wait_that_spends_its_poll_budget_wakes_itself() {
    use std::future::Future;
    use std::task::{Context, Poll, Wake, Waker};

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    for (tasks, limit) in [(33, 4), (40, 4), (200, 64), (1000, usize::MAX)] {
        let mut group = ErrGroup::<usize, ()>::new();
        if limit != usize::MAX {
            group.set_limit(limit);
        }
        for i in 0..tasks {
            group.spawn(async move {
                yield_now().await;
                Ok(i)
            });
        }
        let mut wait = Box::pin(group.wait());
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let values = loop {
            count.0.store(0, Ordering::SeqCst);
            match wait.as_mut().poll(&mut Context::from_waker(&waker)) {
                Poll::Ready(values) => break values.unwrap(),
                Poll::Pending => assert!(
                    count.0.load(Ordering::SeqCst) > 0,
                    "{tasks} tasks, limit {limit}: Pending without a wake-up"
                ),
            }
        };
        assert_eq!(values, (0..tasks).collect::<Vec<_>>());
    }
}

fn wait_partial_keeps_the_values_that_came_back<R: Runtime + 'static>() {
    R::block_on(async {
        for parallel in [false, true] {
            let mut group = new_group::<R, usize, String>(parallel);
            let saw = Arc::new(Mutex::new(Vec::new()));
            let token = group.cancel_token();
            let returned = Arc::new(AtomicUsize::new(0));
            let all_returned = CancelToken::new();
            for i in 0..6 {
                let (returned, all_returned) = (returned.clone(), all_returned.clone());
                let probe = DropProbe {
                    token: token.clone(),
                    saw_cancelled: saw.clone(),
                };
                group.spawn(async move {
                    if i % 2 == 1 {
                        let _probe = probe; // the pending tasks' drop code
                        std::future::pending::<()>().await; // only cancellation ends it
                    } else {
                        drop(probe); // a quick task's, before it returns
                    }
                    if returned.fetch_add(1, Ordering::SeqCst) + 1 == 3 {
                        all_returned.cancel();
                    }
                    Ok(i * 10)
                });
            }
            group.spawn(async move {
                // Fail once the three quick tasks have returned their values.
                all_returned.cancelled().await;
                Err(String::from("task 6 failed"))
            });
            let partial = group.wait_partial().await.unwrap_err();
            assert_eq!(partial.error, "task 6 failed");
            assert_eq!(
                partial.values,
                [Some(0), None, Some(20), None, Some(40), None, None],
                "parallel: {parallel}"
            );
            assert_eq!(
                partial.to_string(),
                "task 6 failed (3 of 7 tasks returned a value)"
            );
            // The pending tasks were cancelled, as by wait(): dropped after the token fired.
            let saw = saw.lock().unwrap().clone();
            assert_eq!(saw.len(), 6, "every task's future is gone");
            // The quick tasks dropped theirs before returning; the pending ones when cancelled.
            assert_eq!(saw.iter().filter(|&&fired| fired).count(), 3, "{saw:?}");

            // Without an error it is wait().
            let mut group = new_group::<R, usize, String>(parallel);
            group.spawn(async { Ok(1) });
            group.spawn(async { Ok(2) });
            assert_eq!(group.wait_partial().await, Ok(vec![1, 2]));
        }
    });
}

/// Tracks how many tasks run at once, and the most ever seen.
#[derive(Clone, Default)]
struct Gauge {
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl Gauge {
    fn enter(&self) -> usize {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        now
    }

    fn leave(&self) {
        self.running.fetch_sub(1, Ordering::SeqCst);
    }
}

fn a_raised_limit_starts_queued_tasks_while_wait_runs<R: Runtime + 'static>() {
    R::block_on(async {
        for parallel in [false, true] {
            let mut group = new_group::<R, usize, ()>(parallel).with_limit(1);
            let spawner = group.spawner();
            let gauge = Gauge::default();
            // Every task holds on until four run at once: only a raised limit lets that happen,
            // so a limit that is not applied while `wait()` runs hangs the test.
            let four = CancelToken::new();
            for i in 0..8 {
                let (gauge, four, spawner) = (gauge.clone(), four.clone(), spawner.clone());
                group.spawn(async move {
                    if gauge.enter() == 4 {
                        four.cancel();
                    }
                    if i == 0 {
                        spawner.set_limit(4);
                    }
                    four.cancelled().await;
                    yield_now().await;
                    gauge.leave();
                    Ok(i)
                });
            }
            let values = group.wait().await.unwrap();
            assert_eq!(values, (0..8).collect::<Vec<_>>());
            assert_eq!(gauge.peak.load(Ordering::SeqCst), 4, "parallel: {parallel}");
        }
    });
}

fn a_lowered_limit_starts_no_more_until_under_it<R: Runtime + 'static>() {
    R::block_on(async {
        for parallel in [false, true] {
            let mut group = new_group::<R, usize, ()>(parallel).with_limit(3);
            let spawner = group.spawner();
            let gauge = Gauge::default();
            // One-shot gates: three tasks run at once; then the limit is lowered.
            let (three, lowered) = (CancelToken::new(), CancelToken::new());
            let late_peak = Arc::new(AtomicUsize::new(0));
            for i in 0..12 {
                let (gauge, spawner, late_peak) =
                    (gauge.clone(), spawner.clone(), late_peak.clone());
                let (three, lowered) = (three.clone(), lowered.clone());
                group.spawn(async move {
                    let now = gauge.enter();
                    if now == 3 {
                        three.cancel();
                    }
                    if i == 0 {
                        three.cancelled().await;
                        spawner.set_limit(1);
                        lowered.cancel();
                    } else if i < 3 {
                        lowered.cancelled().await;
                    } else {
                        late_peak.fetch_max(now, Ordering::SeqCst);
                    }
                    yield_now().await;
                    gauge.leave();
                    Ok(i)
                });
            }
            let values = group.wait().await.unwrap();
            assert_eq!(values, (0..12).collect::<Vec<_>>());
            assert_eq!(gauge.peak.load(Ordering::SeqCst), 3);
            assert_eq!(
                late_peak.load(Ordering::SeqCst),
                1,
                "tasks started after the limit fell to 1 ran alone (parallel: {parallel})"
            );
        }
    });
}
