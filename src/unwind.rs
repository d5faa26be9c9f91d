//! Polling user futures with their panics caught: the error group's jobs and the spawned
//! fan-out's items keep their books however a future goes.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A caught panic's payload.
pub(crate) type Payload = Box<dyn Any + Send>;

/// Polls the future in `future` (which must be `Some`), catching a panic. The future is dropped
/// as soon as it is done, inside the catch, so a panic of its drop code counts as its panic; a
/// future that panicked is dropped too, and a second panic from its drop code is swallowed
/// (it is not the story).
pub(crate) fn poll_catching<F: Future>(
    mut future: Pin<&mut Option<F>>,
    cx: &mut Context<'_>,
) -> Poll<Result<F::Output, Payload>> {
    let polled = catch_unwind(AssertUnwindSafe(|| {
        let inner = future
            .as_mut()
            .as_pin_mut()
            .expect("a task's future is not polled after it finished");
        let poll = inner.poll(cx);
        if poll.is_ready() {
            future.set(None);
        }
        poll
    }));
    match polled {
        Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
        Ok(Poll::Pending) => Poll::Pending,
        Err(payload) => {
            let _ = catch_unwind(AssertUnwindSafe(|| future.set(None)));
            Poll::Ready(Err(payload))
        }
    }
}
