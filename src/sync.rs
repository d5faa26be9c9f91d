//! The loom switch: the synchronisation types the primitives are built on.
//!
//! Under `--cfg loom` these are loom's model-checked types (and `parking` runs on loom's
//! primitives too, see `Cargo.toml`); otherwise they are std's. Primitives import
//! from here, never from `std::sync` directly, so a loom model exercises the code users run.

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{fence, AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering},
    Arc, Mutex, MutexGuard,
};

#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{fence, AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering},
    Arc, Mutex, MutexGuard,
};

/// Locks `mutex`, ignoring poisoning: the primitives keep their state consistent at every
/// point where user code (a waker) can panic, so a poisoned lock holds valid state.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `future` to completion on the current thread, parking it while the future is pending:
/// the `_blocking` forms drive the same state machine as the async ones through this.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    match block_on_until(future, None) {
        Some(output) => output,
        None => unreachable!("no deadline, no timeout"),
    }
}

/// As [`block_on`], giving up at `deadline` (`None` if the future was still pending then; it
/// is polled once more at the deadline, so an outcome that came in at the last moment counts).
/// The future is dropped before this returns.
pub(crate) fn block_on_until<F: std::future::Future>(
    future: F,
    deadline: Option<std::time::Instant>,
) -> Option<F::Output> {
    use std::task::{Context, Poll};

    let (parker, unparker) = parking::pair();
    let waker = std::task::Waker::from(unparker);
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    #[cfg_attr(loom, allow(unused_mut))] // only a deadline sets it
    let mut last_look = false;
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return Some(output);
        }
        if last_look {
            return None;
        }
        match deadline {
            None => parker.park(),
            // `parking` has no deadline under loom; no model waits with one.
            #[cfg(not(loom))]
            Some(deadline) => last_look = !parker.park_deadline(deadline),
            #[cfg(loom)]
            Some(_) => unreachable!("loom models do not wait with a deadline"),
        }
    }
}
