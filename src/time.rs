//! The timeout combinator: [`TimeoutExt`], [`Timeout`] and [`Elapsed`].
//!
//! # The timer
//!
//! Which timer keeps a deadline is decided in one place, the private `timer` module, for the
//! timeouts here and the rate limiter's grants alike:
//!
//! - **Under tokio with the `tokio` feature** (when `tokio::runtime::Handle::try_current()`
//!   succeeds as the timer is created): tokio's own timer wheel (`tokio::time::Sleep`). No thread
//!   is started, and tokio's paused test clock (`start_paused`, `time::advance`) drives our
//!   timeouts as it drives `tokio::time::timeout`. The runtime needs its time driver
//!   (`enable_time`, which `#[tokio::main]` and `#[tokio::test]` turn on), as tokio's own timers
//!   do.
//! - **Everywhere else** (smol, async-std, `futures::executor`, or tokio without the feature):
//!   [`async_io::Timer`], smol's reactor timer. It needs no runtime: smol and async-std already
//!   run its reactor, and elsewhere async-io starts one background thread (`async-io`) the first
//!   time a timer is armed, shared by the whole process.
//!
//! async-io was chosen over `futures-timer` by measurement on the 2-core machine (`cargo bench
//! --bench timer`, 100 samples each): median lateness of a 1 ms / 10 ms / 100 ms timeout ~37 /
//! ~45 / ~140 µs against ~86 / ~93 / ~173 µs for `futures-timer` (tokio's own timer, 1 ms
//! granularity: ~1.1 / ~1.1 / ~1.3 ms), and a timeout that is armed and never fires costs
//! ~150-300 ns against ~410-540 ns. tokio's wheel is cheaper still (~120-135 ns) because it
//! inserts on the same thread with no syscall; async-io wakes its reactor thread through an
//! eventfd on each insert, which is the price of working on every executor.
//!
//! The timer is only created when the inner future is still pending after its first poll, so a
//! future that completes at once costs no timer at all.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

use timer::Timer;

pub(crate) mod timer;

/// Puts a time limit on any future: `.timeout(duration)` and `.timeout_at(deadline)`.
///
/// Implemented for every [`Future`]; works unchanged under tokio, async-std, smol and
/// `futures::executor::block_on`.
///
/// # Which timer
///
/// With the `tokio` feature, a timeout armed while a tokio runtime is current runs on tokio's
/// timer wheel: no extra thread, and a paused tokio clock (`#[tokio::test(start_paused =
/// true)]`, `tokio::time::advance`) fires it, as it fires `tokio::time::timeout`. Otherwise
/// (other executors, or the feature off) it runs on `async-io`'s timer, whose reactor smol and
/// async-std already drive; elsewhere async-io starts one background thread for the process.
/// The timer is picked at the first poll that finds the future pending; a future that is ready
/// at once costs no timer. Like tokio's own timers, tokio's needs the runtime's time driver
/// (`enable_time`, on in `#[tokio::main]` and `#[tokio::test]`): with the feature, a runtime
/// built without it panics where it would otherwise have used async-io's timer.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use taskgroup::TimeoutExt;
///
/// # futures::executor::block_on(async {
/// let fast = async { 42 }.timeout(Duration::from_secs(1)).await;
/// assert_eq!(fast, Ok(42));
///
/// let slow = std::future::pending::<()>().timeout(Duration::from_millis(5)).await;
/// assert!(slow.is_err());
/// # });
/// ```
pub trait TimeoutExt: Future + Sized {
    /// Runs the future for at most `duration`: `Ok(output)` if it finished in time,
    /// `Err(Elapsed)` otherwise.
    ///
    /// The clock starts at the first poll (futures do nothing before), and the inner future is
    /// polled before the clock is read, so a future that is ready at once always wins, even
    /// against `Duration::ZERO`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future drops the inner one; it is as cancel-safe as the inner
    /// future. On timeout the inner future is dropped together with the [`Timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskgroup::TimeoutExt;
    ///
    /// # futures::executor::block_on(async {
    /// let err = std::future::pending::<()>()
    ///     .timeout(Duration::from_millis(10))
    ///     .await
    ///     .unwrap_err();
    /// assert!(err.waited() >= Duration::from_millis(10));
    /// # });
    /// ```
    fn timeout(self, duration: Duration) -> Timeout<Self> {
        Timeout::new(self, Limit::After(duration))
    }

    /// Runs the future until `deadline` at the latest: `Ok(output)` if it finished in time,
    /// `Err(Elapsed)` otherwise. A deadline in the past still polls the future once.
    ///
    /// `deadline` is on std's clock. On tokio's timer (see [which timer](TimeoutExt#which-timer))
    /// what is left of it at the first poll is kept on tokio's clock, so under a paused clock a
    /// deadline 45 s away fires after 45 s of virtual time.
    ///
    /// # Cancel safety
    ///
    /// As [`timeout`](Self::timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use taskgroup::TimeoutExt;
    ///
    /// # futures::executor::block_on(async {
    /// let deadline = Instant::now() + Duration::from_millis(5);
    /// assert!(std::future::pending::<()>().timeout_at(deadline).await.is_err());
    /// assert_eq!(async { 1 }.timeout_at(deadline).await, Ok(1)); // ready wins, even late
    /// # });
    /// ```
    fn timeout_at(self, deadline: Instant) -> Timeout<Self> {
        Timeout::new(self, Limit::At(deadline))
    }
}

impl<F: Future> TimeoutExt for F {}

#[derive(Debug, Clone, Copy)]
enum Limit {
    After(Duration),
    At(Instant),
}

pin_project! {
    /// Future returned by [`TimeoutExt::timeout`] and [`TimeoutExt::timeout_at`].
    ///
    /// # Cancel safety
    ///
    /// Dropping it drops the inner future and the timer.
    ///
    /// # Panics
    ///
    /// If polled again after it returned `Ready` (it is not fused).
    #[must_use = "futures do nothing unless polled"]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        limit: Limit,
        // Set at the first poll that found the future pending: when the clock started (on the
        // clock of the timer, see `timer::now`), and the timer for the deadline (one that never
        // fires when the deadline is too far to represent).
        armed: Option<(Instant, Timer)>,
        // Returned `Ready` once: polling again is the caller's bug and panics, rather than
        // polling a finished inner future or waiting on a spent timer forever.
        finished: bool,
    }
}

impl<F> Timeout<F> {
    fn new(future: F, limit: Limit) -> Self {
        Self {
            future,
            limit,
            armed: None,
            finished: false,
        }
    }

    /// The inner future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// The inner future, mutably.
    pub fn get_mut(&mut self) -> &mut F {
        &mut self.future
    }

    /// Gives up on the limit and returns the inner future.
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        assert!(!*this.finished, "a timeout polled after it completed");
        // The future first: a ready future wins against any deadline.
        if let Poll::Ready(output) = this.future.poll(cx) {
            *this.finished = true;
            return Poll::Ready(Ok(output));
        }
        let (started, timer) = this.armed.get_or_insert_with(|| {
            let now = timer::now();
            // `Timer::at` fires at once for a deadline that has passed.
            let timer = match *this.limit {
                Limit::After(duration) => now
                    .checked_add(duration)
                    .map_or_else(Timer::never, Timer::at),
                Limit::At(deadline) => Timer::at_std(deadline),
            };
            (now, timer)
        });
        match timer.poll(cx) {
            Poll::Ready(()) => {
                *this.finished = true;
                // On the clock that fired: tokio's virtual time under its paused clock.
                Poll::Ready(Err(Elapsed {
                    waited: timer::now().saturating_duration_since(*started),
                }))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Timeout");
        match self.limit {
            Limit::After(duration) => d.field("after", &duration),
            Limit::At(deadline) => d.field("at", &deadline),
        };
        d.field("started", &self.armed.is_some()).finish()
    }
}

/// The error of a [`Timeout`]: the deadline passed before the future finished.
///
/// [`waited`](Self::waited) says how long the future ran under the limit, from its first poll to
/// the moment the timeout was noticed, on the clock of the timer that fired (tokio's, paused or
/// not, under the `tokio` feature in a tokio runtime; std's otherwise).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use taskgroup::TimeoutExt;
///
/// # futures::executor::block_on(async {
/// let err = std::future::pending::<()>().timeout(Duration::from_millis(1)).await.unwrap_err();
/// assert!(err.to_string().starts_with("deadline elapsed after"));
/// # });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed {
    waited: Duration,
}

impl Elapsed {
    /// How long the future ran under the limit before the timeout was noticed, on the clock of
    /// the timer that fired (virtual time under tokio's paused clock).
    pub fn waited(&self) -> Duration {
        self.waited
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "deadline elapsed after {:?}", self.waited)
    }
}

impl Error for Elapsed {}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use futures::task::noop_waker_ref;

    fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
        Pin::new(fut).poll(&mut Context::from_waker(noop_waker_ref()))
    }

    #[test]
    fn a_ready_future_wins_against_a_zero_timeout() {
        let mut t = std::future::ready(5).timeout(Duration::ZERO);
        assert_eq!(poll_once(&mut t), Poll::Ready(Ok(5)));
        let mut t = std::future::ready(5).timeout_at(Instant::now() - Duration::from_secs(1));
        assert_eq!(poll_once(&mut t), Poll::Ready(Ok(5)));
    }

    #[test]
    #[cfg_attr(miri, ignore)] // async-io's timer needs epoll and timerfd
    fn a_pending_future_past_its_deadline_fails_at_the_first_poll() {
        let mut t = std::future::pending::<()>().timeout(Duration::ZERO);
        assert!(matches!(poll_once(&mut t), Poll::Ready(Err(_))));
    }

    #[test]
    fn no_timer_is_armed_for_a_future_that_is_ready_at_once() {
        let mut t = std::future::ready(()).timeout(Duration::from_secs(60));
        assert!(poll_once(&mut t).is_ready());
        assert!(t.armed.is_none());
    }

    #[test]
    #[cfg_attr(miri, ignore)] // async-io's timer needs epoll and timerfd
    fn elapsed_says_how_long_it_waited() {
        let err = futures::executor::block_on(
            std::future::pending::<()>().timeout(Duration::from_millis(20)),
        )
        .unwrap_err();
        assert!(err.waited() >= Duration::from_millis(20), "{err}");
        assert!(err.to_string().contains("ms"), "{err}");
    }

    #[test]
    fn a_duration_too_large_for_an_instant_never_fires() {
        let mut t = std::future::pending::<()>().timeout(Duration::MAX);
        assert!(poll_once(&mut t).is_pending());
        assert!(poll_once(&mut t).is_pending());
    }
}
