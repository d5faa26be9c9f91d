//! The runtimes every scenario runs on: tokio (current-thread and multi-thread), async-std, smol
//! and `futures::executor`. A scenario is written once against [`Runtime`]; `runtime_tests!`
//! instantiates it for each.

#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

/// A boxed task, the shape every runtime's spawn accepts.
pub type Task = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// What a scenario needs from a runtime: run a future to completion, and spawn tasks.
pub trait Runtime {
    /// Runs `fut` to completion on this runtime, blocking the test thread.
    fn block_on<F: Future + Send + 'static>(fut: F) -> F::Output
    where
        F::Output: Send + 'static;
    /// Spawns a detached task; only called from inside `block_on`.
    fn spawn(task: Task);
}

pub struct TokioCurrentThread;
pub struct TokioMultiThread;
pub struct AsyncStd;
pub struct Smol;
pub struct FuturesExecutor;

impl Runtime for TokioCurrentThread {
    fn block_on<F: Future + Send + 'static>(fut: F) -> F::Output
    where
        F::Output: Send + 'static,
    {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(fut)
    }
    fn spawn(task: Task) {
        tokio::spawn(task);
    }
}

impl Runtime for TokioMultiThread {
    fn block_on<F: Future + Send + 'static>(fut: F) -> F::Output
    where
        F::Output: Send + 'static,
    {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(fut)
    }
    fn spawn(task: Task) {
        tokio::spawn(task);
    }
}

impl Runtime for AsyncStd {
    fn block_on<F: Future + Send + 'static>(fut: F) -> F::Output
    where
        F::Output: Send + 'static,
    {
        async_std::task::block_on(fut)
    }
    fn spawn(task: Task) {
        async_std::task::spawn(task);
    }
}

impl Runtime for Smol {
    fn block_on<F: Future + Send + 'static>(fut: F) -> F::Output
    where
        F::Output: Send + 'static,
    {
        smol::block_on(fut)
    }
    fn spawn(task: Task) {
        smol::spawn(task).detach();
    }
}

impl Runtime for FuturesExecutor {
    fn block_on<F: Future + Send + 'static>(fut: F) -> F::Output
    where
        F::Output: Send + 'static,
    {
        futures::executor::block_on(fut)
    }
    fn spawn(task: Task) {
        static POOL: OnceLock<futures::executor::ThreadPool> = OnceLock::new();
        POOL.get_or_init(|| {
            futures::executor::ThreadPool::builder()
                .pool_size(2)
                .create()
                .unwrap()
        })
        .spawn_ok(task);
    }
}

/// `runtime_tests!(scenario_a, scenario_b, ...)` makes one module per runtime with one `#[test]`
/// per scenario; each scenario is a `fn<R: Runtime>()`. Attributes before a scenario's name
/// (`#[cfg_attr(miri, ignore)]`) go on each of its tests.
#[macro_export]
macro_rules! runtime_tests {
    ($($(#[$meta:meta])* $scenario:ident),* $(,)?) => {
        $crate::runtime_tests!(@rt tokio_current_thread, $crate::common::TokioCurrentThread, [], $($(#[$meta])* $scenario),*);
        // Under Miri, the spawned tasks' threads come from futures' thread pool below: tokio's
        // multi-thread flavour would run the same scenarios on threads again, at a third of
        // the Miri run's time.
        $crate::runtime_tests!(@rt tokio_multi_thread, $crate::common::TokioMultiThread, [#[cfg_attr(miri, ignore)]], $($(#[$meta])* $scenario),*);
        // async-std and smol drive async-io's reactor (epoll, timerfd), which Miri cannot run.
        $crate::runtime_tests!(@rt async_std, $crate::common::AsyncStd, [#[cfg_attr(miri, ignore)]], $($(#[$meta])* $scenario),*);
        $crate::runtime_tests!(@rt smol, $crate::common::Smol, [#[cfg_attr(miri, ignore)]], $($(#[$meta])* $scenario),*);
        $crate::runtime_tests!(@rt futures_executor, $crate::common::FuturesExecutor, [], $($(#[$meta])* $scenario),*);
    };
    (@rt $module:ident, $rt:ty, [$($rt_meta:tt)*], $($scenarios:tt)*) => {
        mod $module {
            // A scenario ignored under Miri on a runtime ignored under Miri has two `ignore`s.
            #![allow(unused_attributes)]
            $crate::runtime_tests!(@tests $rt, [$($rt_meta)*]; $($scenarios)*);
        }
    };
    // One scenario at a time, so the runtime's attributes and the scenario's stay apart.
    (@tests $rt:ty, [$($rt_meta:tt)*]; $(#[$meta:meta])* $scenario:ident $(, $($rest:tt)*)?) => {
        #[test]
        $($rt_meta)*
        $(#[$meta])*
        fn $scenario() {
            super::$scenario::<$rt>();
        }
        $crate::runtime_tests!(@tests $rt, [$($rt_meta)*]; $($($rest)*)?);
    };
    (@tests $rt:ty, [$($rt_meta:tt)*];) => {};
}

/// Yields once to the executor: pending the first time, woken at once.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}
