//! The one place that picks the timer and the clock, for [`Timeout`](super::Timeout) and the
//! rate limiter's acquire futures alike.
//!
//! - With the `tokio` feature, when `tokio::runtime::Handle::try_current()` succeeds at the
//!   moment a timer is created, the timer is tokio's own `Sleep`: no second timer thread, and
//!   tokio's paused test clock (`start_paused`, `time::advance`) drives it as it drives
//!   `tokio::time::timeout`.
//! - Otherwise (no tokio runtime current, or the feature off) it is [`async_io::Timer`], which
//!   needs no runtime: smol's and async-std's own reactor, or a background thread it starts the
//!   first time a timer is armed outside them.
//!
//! The clock, [`now`], follows the same rule: tokio's `Instant::now()` under the feature, which
//! *is* std's clock except where tokio's `test-util` has paused it for the current runtime (and
//! std's clock outside a runtime), and std's `Instant::now()` without the feature. Deadlines
//! handed to [`Timer::at`] are on that clock, so under a paused clock a deadline computed from
//! [`now`] is the virtual time tokio's wheel fires at.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// A one-shot timer on the clock of the context it was created in (see the module docs).
///
/// `Unpin` under every feature set: tokio's `Sleep` is not, so it is boxed, as tokio's own
/// `Interval` does; the public futures built on this one stay `Unpin` whatever the features.
pub(crate) enum Timer {
    AsyncIo(async_io::Timer),
    #[cfg(feature = "tokio")]
    Tokio(Pin<Box<tokio::time::Sleep>>),
}

impl Timer {
    /// A timer that fires at `deadline`, an instant on the crate's clock ([`now`]); at once if it
    /// has passed. tokio's when a tokio runtime is current (and the feature is on).
    #[inline]
    pub(crate) fn at(deadline: Instant) -> Self {
        #[cfg(feature = "tokio")]
        if tokio_is_current() {
            return Timer::Tokio(Box::pin(tokio::time::sleep_until(
                tokio::time::Instant::from_std(deadline),
            )));
        }
        Timer::AsyncIo(async_io::Timer::at(deadline))
    }

    /// A timer that fires at `deadline`, an instant on std's real clock (a caller's
    /// `std::time::Instant::now() + d`), with its remaining time kept: under tokio's paused clock
    /// the deadline becomes "tokio's now plus what was left of it on std's clock".
    #[inline]
    pub(crate) fn at_std(deadline: Instant) -> Self {
        #[cfg(feature = "tokio")]
        if tokio_is_current() {
            let left = deadline.saturating_duration_since(Instant::now());
            let now = tokio::time::Instant::now();
            // Past what an `Instant` holds, the timer never fires (as `Timer::never`).
            return match now.checked_add(left) {
                Some(at) => Timer::Tokio(Box::pin(tokio::time::sleep_until(at))),
                None => Timer::never(),
            };
        }
        Timer::AsyncIo(async_io::Timer::at(deadline))
    }

    /// A timer that never fires, for a deadline past what an `Instant` holds. Registers nothing
    /// with either timer.
    pub(crate) fn never() -> Self {
        Timer::AsyncIo(async_io::Timer::never())
    }

    /// `Ready` once the deadline has passed, on the timer's own clock.
    #[inline]
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self {
            Timer::AsyncIo(timer) => Pin::new(timer).poll(cx).map(drop),
            #[cfg(feature = "tokio")]
            Timer::Tokio(sleep) => sleep.as_mut().poll(cx),
        }
    }
}

/// The crate's clock: tokio's `Instant::now()` under the `tokio` feature (std's, unless tokio's
/// `test-util` paused the current runtime's clock), std's `Instant::now()` without it.
#[inline]
pub(crate) fn now() -> Instant {
    #[cfg(feature = "tokio")]
    {
        tokio::time::Instant::now().into_std()
    }
    #[cfg(not(feature = "tokio"))]
    {
        Instant::now()
    }
}

/// Whether a tokio runtime is current on this thread: the one test that picks the timer.
#[cfg(feature = "tokio")]
#[inline]
fn tokio_is_current() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}
