//! `LocalErrGroup`: tasks that are not `Send` (an `Rc`, a `RefCell`), on the single-threaded
//! executors a user runs them on: `futures::executor` (`block_on` and `LocalPool`), smol's
//! `LocalExecutor`, tokio's `LocalSet` and async-std's `block_on`.
#![cfg(not(loom))]

mod common;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;

use common::yield_now;
use futures::FutureExt;
use taskgroup::{CancelToken, LocalErrGroup};

const TASKS: usize = if cfg!(miri) { 8 } else { 100 };

/// Runs a `!Send` future to completion on each single-threaded executor in turn.
fn on_every_local_executor<Fut>(scenario: impl Fn() -> Fut)
where
    Fut: Future<Output = ()> + 'static,
{
    futures::executor::block_on(scenario());
    let mut pool = futures::executor::LocalPool::new();
    pool.run_until(scenario());
    let smol_local = smol::LocalExecutor::new();
    smol::future::block_on(smol_local.run(scenario()));
    if !cfg!(miri) {
        let tokio_rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&tokio_rt, scenario());
        async_std::task::block_on(scenario());
    }
}

#[test]
fn tasks_holding_an_rc_return_their_values_in_spawn_order() {
    on_every_local_executor(|| async {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let mut group = LocalErrGroup::new();
        for i in 0..TASKS {
            let seen = seen.clone();
            group.spawn(async move {
                if i % 2 == 0 {
                    yield_now().await;
                }
                seen.borrow_mut().push(i);
                Ok::<_, ()>(i * 2)
            });
        }
        let values = group.wait().await.unwrap();
        assert_eq!(values, (0..TASKS).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(seen.borrow().len(), TASKS);
    });
}

/// Drops code of a cancelled task records whether the token had fired by then.
struct SeesToken(CancelToken, Rc<Cell<usize>>);

impl Drop for SeesToken {
    fn drop(&mut self) {
        if self.0.is_cancelled() {
            self.1.set(self.1.get() + 1);
        }
    }
}

#[test]
fn the_first_error_cancels_the_rest_and_their_drop_code_sees_the_token() {
    on_every_local_executor(|| async {
        let saw_token = Rc::new(Cell::new(0));
        let mut group = LocalErrGroup::<(), String>::new();
        let token = group.cancel_token();
        for _ in 0..3 {
            let guard = SeesToken(token.clone(), saw_token.clone());
            group.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok(())
            });
        }
        group.spawn(async {
            yield_now().await;
            Err("boom".to_owned())
        });
        assert_eq!(group.wait().await, Err("boom".to_owned()));
        assert!(token.is_cancelled());
        assert_eq!(
            saw_token.get(),
            3,
            "every sibling dropped after the token fired"
        );
    });
}

#[test]
fn the_limit_is_reached_and_never_exceeded_in_spawn_order() {
    on_every_local_executor(|| async {
        let running = Rc::new(Cell::new(0));
        let peak = Rc::new(Cell::new(0));
        let order = Rc::new(RefCell::new(Vec::new()));
        let mut group = LocalErrGroup::<(), ()>::new().with_limit(4);
        for i in 0..TASKS {
            let (running, peak, order) = (running.clone(), peak.clone(), order.clone());
            group.spawn(async move {
                order.borrow_mut().push(i);
                running.set(running.get() + 1);
                peak.set(peak.get().max(running.get()));
                yield_now().await;
                running.set(running.get() - 1);
                Ok(())
            });
        }
        group.wait().await.unwrap();
        assert_eq!(peak.get(), 4);
        assert_eq!(*order.borrow(), (0..TASKS).collect::<Vec<_>>());
    });
}

#[test]
fn a_panic_cancels_the_rest_and_resumes_from_wait_with_its_payload() {
    on_every_local_executor(|| async {
        let mut group = LocalErrGroup::<(), ()>::new();
        let token = group.cancel_token();
        group.spawn(async {
            std::future::pending::<()>().await;
            Ok(())
        });
        group.spawn(async {
            yield_now().await;
            std::panic::panic_any(Rc::new(7).to_string())
        });
        let payload = AssertUnwindSafe(group.wait())
            .catch_unwind()
            .await
            .unwrap_err();
        assert_eq!(
            payload.downcast_ref::<String>().map(String::as_str),
            Some("7")
        );
        assert!(token.is_cancelled());
    });
}

#[test]
fn tasks_spawn_tasks_through_the_spawner_and_a_late_spawn_is_dropped() {
    on_every_local_executor(|| async {
        let mut group = LocalErrGroup::<usize, ()>::new().with_limit(3);
        let spawner = group.spawner();
        let depth = Rc::new(());
        fn visit(
            n: usize,
            spawner: taskgroup::LocalErrGroupSpawner<'static, usize, ()>,
            marker: Rc<()>,
        ) -> std::pin::Pin<Box<dyn Future<Output = Result<usize, ()>>>> {
            Box::pin(async move {
                if n < 20 {
                    spawner.spawn(visit(n + 1, spawner.clone(), marker.clone()));
                }
                yield_now().await;
                Ok(n)
            })
        }
        group.spawn(visit(0, spawner.clone(), depth));
        let values = group.wait().await.unwrap();
        assert_eq!(values, (0..=20).collect::<Vec<_>>());
        let ran = Rc::new(Cell::new(false));
        let late = ran.clone();
        spawner.spawn(async move {
            late.set(true);
            Ok(0)
        });
        assert!(
            !ran.get(),
            "a spawn after the group finished is dropped, unrun"
        );
    });
}

#[test]
fn wait_all_returns_every_outcome_and_nothing_runs_before_wait_is_polled() {
    on_every_local_executor(|| async {
        let started = Rc::new(Cell::new(0));
        let mut group = LocalErrGroup::new();
        for i in 0..4 {
            let started = started.clone();
            group.spawn(async move {
                started.set(started.get() + 1);
                if i == 1 {
                    Err(i)
                } else {
                    Ok(i)
                }
            });
        }
        let all = group.wait_all();
        assert_eq!(started.get(), 0, "lazy until polled");
        assert_eq!(all.await, vec![Ok(0), Err(1), Ok(2), Ok(3)]);
        assert_eq!(started.get(), 4);
    });
}

#[test]
fn dropping_wait_drops_every_task_and_fires_the_token() {
    let dropped = Rc::new(Cell::new(0));
    let mut group = LocalErrGroup::<(), ()>::new();
    let token = group.cancel_token();
    for _ in 0..3 {
        let guard = SeesToken(token.clone(), dropped.clone());
        group.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
            Ok(())
        });
    }
    let mut wait = Box::pin(group.wait());
    let waker = futures::task::noop_waker();
    assert!(wait
        .as_mut()
        .poll(&mut std::task::Context::from_waker(&waker))
        .is_pending());
    drop(wait);
    assert!(token.is_cancelled());
    assert_eq!(dropped.get(), 3);
}

#[test]
#[should_panic(expected = "LocalErrGroup limit must be at least 1")]
fn a_limit_of_zero_panics_with_a_message() {
    let _ = LocalErrGroup::<(), ()>::new().with_limit(0);
}

#[test]
fn wait_partial_keeps_the_values_that_came_back_and_a_spawner_changes_the_limit() {
    on_every_local_executor(|| async {
        let mut group = LocalErrGroup::new().with_limit(1);
        let spawner = group.spawner();
        let running = Rc::new(Cell::new(0));
        let peak = Rc::new(Cell::new(0));
        let cancelled = Rc::new(Cell::new(0));
        let token = group.cancel_token();
        let all_running = CancelToken::new(); // a one-shot gate
        for i in 0..5 {
            let (spawner, running, peak) = (spawner.clone(), running.clone(), peak.clone());
            let all_running = all_running.clone();
            let probe = SeesToken(token.clone(), cancelled.clone());
            group.spawn(async move {
                let _probe = probe;
                running.set(running.get() + 1);
                peak.set(peak.get().max(running.get()));
                if running.get() == 5 {
                    all_running.cancel();
                }
                if i == 0 {
                    spawner.set_limit(5); // the rest start while this one runs
                }
                all_running.cancelled().await; // hangs unless the raised limit applies
                yield_now().await;
                running.set(running.get() - 1);
                match i {
                    3 => Err(Rc::new("task 3 failed")), // an `Rc` error: not Send
                    4 => std::future::pending().await,
                    _ => Ok(Rc::new(i)),
                }
            });
        }
        let partial = group.wait_partial().await.unwrap_err();
        assert_eq!(*partial.error, "task 3 failed");
        let values: Vec<_> = partial
            .values
            .iter()
            .map(|v| v.as_deref().copied())
            .collect();
        assert_eq!(values, [Some(0), Some(1), Some(2), None, None]);
        assert_eq!(peak.get(), 5, "the raised limit let every task run at once");
        assert_eq!(cancelled.get(), 1, "the pending task was cancelled");
    });
}
