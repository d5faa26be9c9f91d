//! [`Semaphore`]: weighted and FIFO-fair, like Go's `x/sync/semaphore.Weighted`, with tokio's
//! surface.
//!
//! The public front: the API and its documentation. The engine (the atomic word, the queue of
//! waiters, the state machine of a queued acquire) is in [`engine`].

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::sync::{block_on, lock, AtomicUsize, Mutex, Ordering};
use crate::Shared;

use engine::{Queue, Waiting, CLOSED, SHIFT};

mod engine;
#[cfg(all(test, not(loom)))]
mod tests;

/// A weighted, FIFO-fair async semaphore: Go's `semaphore.Weighted` with tokio's API.
///
/// A semaphore holds a number of permits. [`acquire`](Self::acquire) and
/// [`acquire_many`](Self::acquire_many) wait until the permits are free and return a guard that
/// gives them back when dropped. It works on any executor, and from threads through
/// [`acquire_blocking`](Self::acquire_blocking).
///
/// # Fairness
///
/// Permits go to waiters in the order they started waiting. A waiter at the head that needs more
/// permits than are free blocks the ones behind it, so a large request is never starved by a
/// stream of small ones (Go's rule), and [`try_acquire`](Self::try_acquire) fails while anyone
/// is queued: nobody barges.
///
/// # Bad input
///
/// A request for more permits than the semaphore's total (permits out included) is refused at
/// once with `TooLarge`, instead of hanging as Go's does; so is a queued waiter whose request a
/// [`resize`](Self::resize) or [`forget`](SemaphorePermit::forget) leaves above a non-zero total.
/// A total of zero is a gate, not an error: acquires wait until [`add_permits`](Self::add_permits)
/// or `resize` open it.
///
/// # Memory ordering
///
/// Everything done before a permit is released *happens-before* the acquire that obtains that
/// permit returns.
///
/// # Coming from Go
///
/// The buffered-channel semaphore `sem := make(chan struct{}, 5)`, `sem <- struct{}{}`,
/// `<-sem` becomes `static SEM: Semaphore = Semaphore::new(5);`,
/// `let permit = SEM.acquire().await?;` and dropping the permit.
///
/// # Examples
///
/// ```
/// use taskgroup::Semaphore;
///
/// static BANK_API: Semaphore = Semaphore::new(5); // at most 5 calls at once
///
/// # futures::executor::block_on(async {
/// let permit = BANK_API.acquire().await.unwrap();
/// assert_eq!(BANK_API.available_permits(), 4);
/// drop(permit);
///
/// let batch = BANK_API.acquire_many(3).await.unwrap(); // weighted
/// assert_eq!(batch.num_permits(), 3);
/// # });
/// ```
pub struct Semaphore {
    /// `available << SHIFT | SLOW | CLOSED`.
    state: AtomicUsize,
    /// A copy of `Queue::total`, written under the lock, read without it by `try_acquire*`.
    total: AtomicUsize,
    queue: Mutex<Queue>,
}
impl Semaphore {
    /// The largest number of permits a semaphore holds, `usize::MAX >> 3`.
    pub const MAX_PERMITS: usize = usize::MAX >> 3;

    /// Creates a semaphore with `permits` permits. A `const fn`, usable in a `static`.
    ///
    /// # Panics
    ///
    /// If `permits` exceeds [`MAX_PERMITS`](Self::MAX_PERMITS).
    ///
    /// # Examples
    ///
    /// ```
    /// static LIMIT: taskgroup::Semaphore = taskgroup::Semaphore::new(3);
    /// assert_eq!(LIMIT.available_permits(), 3);
    /// ```
    #[cfg(not(loom))]
    pub const fn new(permits: usize) -> Self {
        assert!(
            permits <= Self::MAX_PERMITS,
            "Semaphore::new: more permits than Semaphore::MAX_PERMITS"
        );
        Self {
            state: AtomicUsize::new(permits << SHIFT),
            total: AtomicUsize::new(permits),
            queue: Mutex::new(Queue::new(permits)),
        }
    }

    /// loom's types are not `const`.
    #[cfg(loom)]
    pub fn new(permits: usize) -> Self {
        assert!(permits <= Self::MAX_PERMITS);
        Self {
            state: AtomicUsize::new(permits << SHIFT),
            total: AtomicUsize::new(permits),
            queue: Mutex::new(Queue::new(permits)),
        }
    }

    /// Waits for one permit.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Closed`] if the semaphore is closed before the permit is granted.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future loses no permits and delays nobody. Permits it had been
    /// handed go on to the next waiter; if it was at the head, those behind it move up.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let sem = taskgroup::Semaphore::new(1);
    /// let permit = sem.acquire().await.unwrap();
    /// assert!(sem.try_acquire().is_err());
    /// drop(permit);
    /// assert!(sem.try_acquire().is_ok());
    /// # });
    /// ```
    pub fn acquire(&self) -> Acquire<'_> {
        self.acquire_many(1)
    }

    /// Waits for `n` permits at once (a weighted acquire). `n == 0` is ready at once with an
    /// empty permit, unless the semaphore is closed.
    ///
    /// # Errors
    ///
    /// [`AcquireError::TooLarge`] at once if `n` exceeds the semaphore's non-zero total;
    /// [`AcquireError::Closed`] if it is closed before the permits are granted.
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{AcquireError, Semaphore};
    ///
    /// # futures::executor::block_on(async {
    /// let sem = Semaphore::new(4);
    /// let three = sem.acquire_many(3).await.unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// assert_eq!(
    ///     sem.acquire_many(9).await.unwrap_err(),
    ///     AcquireError::TooLarge { requested: 9, total: 4 }
    /// );
    /// # drop(three);
    /// # });
    /// ```
    pub fn acquire_many(&self, n: usize) -> Acquire<'_> {
        Acquire {
            sem: self,
            waiting: Waiting::new(n),
        }
    }

    /// Like [`acquire`](Self::acquire), for an `Arc<Semaphore>`: the permit is `'static` and can
    /// move into a spawned task.
    ///
    /// A semaphore in a `static` needs no owned form: its [`acquire`](Self::acquire) already
    /// returns a `SemaphorePermit<'static>`.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// # futures::executor::block_on(async {
    /// let sem = Arc::new(taskgroup::Semaphore::new(2));
    /// let permit = sem.clone().acquire_owned().await.unwrap();
    /// std::thread::spawn(move || drop(permit)).join().unwrap();
    /// assert_eq!(sem.available_permits(), 2);
    /// # });
    /// ```
    pub fn acquire_owned(self: std::sync::Arc<Self>) -> AcquireOwned {
        self.acquire_many_owned(1)
    }

    /// Like [`acquire_many`](Self::acquire_many), for an `Arc<Semaphore>`.
    ///
    /// # Errors
    ///
    /// As [`acquire_many`](Self::acquire_many).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// # futures::executor::block_on(async {
    /// let sem = Arc::new(taskgroup::Semaphore::new(5));
    /// let permit = sem.clone().acquire_many_owned(5).await.unwrap();
    /// assert_eq!(permit.num_permits(), 5);
    /// # });
    /// ```
    pub fn acquire_many_owned(self: std::sync::Arc<Self>, n: usize) -> AcquireOwned {
        AcquireOwned {
            sem: Some(self),
            waiting: Waiting::new(n),
        }
    }

    /// Takes one permit if one is free and nobody is queued; never waits.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] if none is free or someone is queued (no barging),
    /// [`TryAcquireError::Closed`] if closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{Semaphore, TryAcquireError};
    ///
    /// let sem = Semaphore::new(1);
    /// let permit = sem.try_acquire().unwrap();
    /// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    /// ```
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free and nobody is queued; never waits. `n == 0` succeeds
    /// with an empty permit unless the semaphore is closed, also while others are queued, as
    /// [`acquire_many(0)`](Self::acquire_many) is ready at once (and as tokio's semaphore does).
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::TooLarge`] if `n` exceeds the non-zero total,
    /// [`TryAcquireError::NoPermits`] if not enough are free or someone is queued (for `n > 0`),
    /// [`TryAcquireError::Closed`] if closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{Semaphore, TryAcquireError};
    ///
    /// let sem = Semaphore::new(3);
    /// let two = sem.try_acquire_many(2).unwrap();
    /// assert_eq!(sem.try_acquire_many(2).unwrap_err(), TryAcquireError::NoPermits);
    /// assert_eq!(
    ///     sem.try_acquire_many(4).unwrap_err(),
    ///     TryAcquireError::TooLarge { requested: 4, total: 3 }
    /// );
    /// # drop(two);
    /// ```
    pub fn try_acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_take(n)?;
        Ok(SemaphorePermit {
            sem: self,
            permits: n,
        })
    }

    /// Like [`try_acquire`](Self::try_acquire), for an `Arc<Semaphore>`.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(taskgroup::Semaphore::new(1));
    /// let permit = sem.clone().try_acquire_owned().unwrap();
    /// assert!(sem.clone().try_acquire_owned().is_err());
    /// # drop(permit);
    /// ```
    pub fn try_acquire_owned(
        self: std::sync::Arc<Self>,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned(1)
    }

    /// Like [`try_acquire_many`](Self::try_acquire_many), for an `Arc<Semaphore>`.
    ///
    /// # Errors
    ///
    /// As [`try_acquire_many`](Self::try_acquire_many).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(taskgroup::Semaphore::new(4));
    /// let permit = sem.clone().try_acquire_many_owned(4).unwrap();
    /// assert_eq!(permit.num_permits(), 4);
    /// ```
    pub fn try_acquire_many_owned(
        self: std::sync::Arc<Self>,
        n: usize,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_take(n)?;
        Ok(OwnedSemaphorePermit {
            sem: self,
            permits: n,
        })
    }

    /// Blocks the current thread until a permit is granted; for threads that are not async.
    /// Do not call it inside an async task.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = taskgroup::Semaphore::new(1);
    /// let permit = sem.acquire_blocking().unwrap();
    /// assert_eq!(sem.available_permits(), 0);
    /// # drop(permit);
    /// ```
    pub fn acquire_blocking(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        block_on(self.acquire())
    }

    /// Blocks the current thread until `n` permits are granted.
    ///
    /// # Errors
    ///
    /// As [`acquire_many`](Self::acquire_many).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = taskgroup::Semaphore::new(3);
    /// let permit = sem.acquire_many_blocking(3).unwrap();
    /// assert_eq!(permit.num_permits(), 3);
    /// ```
    pub fn acquire_many_blocking(&self, n: usize) -> Result<SemaphorePermit<'_>, AcquireError> {
        block_on(self.acquire_many(n))
    }

    /// Permits free right now. A snapshot; never negative, also after a shrink while permits
    /// are out (it reads 0 until enough have come back).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = taskgroup::Semaphore::new(2);
    /// let _p = sem.try_acquire().unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.state.load(Ordering::Acquire) >> SHIFT
    }

    /// Adds `n` permits to the total and hands them to waiters in order.
    ///
    /// # Panics
    ///
    /// If the total would exceed [`MAX_PERMITS`](Self::MAX_PERMITS).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = taskgroup::Semaphore::new(0); // a closed gate
    /// assert!(sem.try_acquire().is_err());
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        self.grow_by(n);
    }

    /// Sets the total to `total` while permits may be out: the dynamic scaling of a worker pool.
    ///
    /// Growing hands the new permits to waiters at once. Shrinking takes free permits away now
    /// and the rest as permits come back, so new acquires see the smaller total as soon as enough
    /// are returned; [`available_permits`](Self::available_permits) reads 0 meanwhile. Queued
    /// waiters that ask for more than a non-zero new total fail with `TooLarge`; `resize(0)`
    /// pauses without failing anyone.
    ///
    /// # Panics
    ///
    /// If `total` exceeds [`MAX_PERMITS`](Self::MAX_PERMITS).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = taskgroup::Semaphore::new(4);
    /// let out = sem.try_acquire_many(3).unwrap();
    /// sem.resize(2); // one free permit goes now, one is owed
    /// assert_eq!(sem.available_permits(), 0);
    /// drop(out); // three come back: one pays the debt
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn resize(&self, total: usize) {
        self.set_total(total);
    }

    /// Closes the semaphore: pending and later acquires fail with `Closed`; permits already out
    /// stay valid and may still be returned.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{AcquireError, Semaphore};
    /// # futures::executor::block_on(async {
    /// let sem = Semaphore::new(1);
    /// let held = sem.acquire().await.unwrap();
    /// sem.close();
    /// assert_eq!(sem.acquire().await.unwrap_err(), AcquireError::Closed);
    /// drop(held); // still fine
    /// # });
    /// ```
    pub fn close(&self) {
        self.close_queue();
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = taskgroup::Semaphore::new(1);
    /// sem.close();
    /// assert!(sem.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let queue = lock(&self.queue);
        f.debug_struct("Semaphore")
            .field("available", &self.available_permits())
            .field("total", &queue.total())
            .field("waiters", &queue.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Future returned by [`Semaphore::acquire`] and [`Semaphore::acquire_many`].
///
/// # Cancel safety
///
/// Cancel-safe: dropping it loses no permits and no place for anyone else.
///
/// # Panics
///
/// If polled again after it returned `Ready` (it is not fused): a second poll never takes
/// permits a second time.
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'a> {
    sem: &'a Semaphore,
    waiting: Waiting,
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<SemaphorePermit<'a>, AcquireError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let sem = this.sem;
        this.waiting.poll(sem, cx).map_ok(|()| SemaphorePermit {
            sem,
            permits: this.waiting.permits(),
        })
    }
}

impl Drop for Acquire<'_> {
    #[inline]
    fn drop(&mut self) {
        self.waiting.cancel(self.sem);
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("permits", &self.waiting.permits())
            .field("queued", &self.waiting.is_queued())
            .finish()
    }
}

/// Future returned by [`Semaphore::acquire_owned`] and [`Semaphore::acquire_many_owned`].
///
/// # Cancel safety
///
/// As [`Acquire`].
///
/// # Panics
///
/// As [`Acquire`], if polled again after it returned `Ready`.
#[must_use = "futures do nothing unless polled"]
pub struct AcquireOwned {
    /// Moved into the permit when it is granted (no second reference count to pay for).
    sem: Option<std::sync::Arc<Semaphore>>,
    waiting: Waiting,
}

impl Future for AcquireOwned {
    type Output = Result<OwnedSemaphorePermit, AcquireError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let sem = this
            .sem
            .as_ref()
            .expect("a semaphore acquire polled after it completed");
        match this.waiting.poll(sem, cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(OwnedSemaphorePermit {
                sem: this.sem.take().expect("checked above"),
                permits: this.waiting.permits(),
            })),
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for AcquireOwned {
    #[inline]
    fn drop(&mut self) {
        if let Some(sem) = &self.sem {
            self.waiting.cancel(sem);
        }
    }
}

impl fmt::Debug for AcquireOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireOwned")
            .field("permits", &self.waiting.permits())
            .field("queued", &self.waiting.is_queued())
            .finish()
    }
}

/// An acquire of one permit from a [`Shared`] semaphore, for the adapters that keep one
/// ([`fan_out_with`](crate::FanOutExt::fan_out_with)): the borrowed form on a `&'static`, the
/// owned form on an `Arc`. Each runs the code it ran alone, and the public owned permit keeps
/// its `Arc` ([`OwnedSemaphorePermit::semaphore`]).
pub(crate) enum SharedAcquire {
    Static(Acquire<'static>),
    Arc(AcquireOwned),
}

impl SharedAcquire {
    pub(crate) fn new(sem: &Shared<Semaphore>) -> Self {
        match sem {
            Shared::Static(sem) => Self::Static(sem.acquire()),
            Shared::Arc(sem) => Self::Arc(sem.clone().acquire_owned()),
        }
    }
}

impl Future for SharedAcquire {
    type Output = Result<SharedPermit, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Self::Static(acquire) => Pin::new(acquire).poll(cx).map_ok(SharedPermit::Static),
            Self::Arc(acquire) => Pin::new(acquire).poll(cx).map_ok(SharedPermit::Arc),
        }
    }
}

/// The permit of a [`SharedAcquire`], given back when dropped.
#[allow(dead_code)] // the permits are held for their drop, never read
pub(crate) enum SharedPermit {
    Static(SemaphorePermit<'static>),
    Arc(OwnedSemaphorePermit),
}

/// Permits borrowed from a [`Semaphore`], given back when dropped.
#[must_use = "the permits are given back as soon as the guard is dropped"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    permits: usize,
}

impl SemaphorePermit<'_> {
    /// How many permits this guard holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Drops the guard without giving the permits back: they leave the semaphore's total.
    ///
    /// After a [`resize`](Semaphore::resize) below the permits out, forgotten permits first pay
    /// what the shrink still owes, so the total the resize asked for is kept; only the rest
    /// lowers it further.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = taskgroup::Semaphore::new(3);
    /// sem.try_acquire().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn forget(mut self) {
        self.sem.forget_permits(std::mem::take(&mut self.permits));
    }
}

impl Drop for SemaphorePermit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.sem.release(self.permits);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

/// Permits from an `Arc<Semaphore>`, `'static`, given back when dropped.
#[must_use = "the permits are given back as soon as the guard is dropped"]
pub struct OwnedSemaphorePermit {
    sem: std::sync::Arc<Semaphore>,
    permits: usize,
}

impl OwnedSemaphorePermit {
    /// How many permits this guard holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// The semaphore these permits came from.
    pub fn semaphore(&self) -> &std::sync::Arc<Semaphore> {
        &self.sem
    }

    /// Drops the guard without giving the permits back: they leave the semaphore's total.
    ///
    /// After a [`resize`](Semaphore::resize) below the permits out, forgotten permits first pay
    /// what the shrink still owes, so the total the resize asked for is kept; only the rest
    /// lowers it further.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(taskgroup::Semaphore::new(2));
    /// sem.clone().try_acquire_owned().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn forget(mut self) {
        self.sem.forget_permits(std::mem::take(&mut self.permits));
    }
}

impl Drop for OwnedSemaphorePermit {
    #[inline]
    fn drop(&mut self) {
        self.sem.release(self.permits);
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

/// Why an acquire failed.
///
/// Not `Copy`: the `Backend` variant (feature `redis`) carries the server's address and the
/// cause.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcquireError {
    /// The semaphore was closed.
    Closed,
    /// More permits were requested than the semaphore's non-zero total.
    TooLarge {
        /// Permits asked for.
        requested: usize,
        /// The semaphore's total when the request was refused.
        total: usize,
    },
    /// A [`RedisSemaphore`](crate::RedisSemaphore)'s server could not be reached or did not
    /// answer within its timeout (and the semaphore fails closed, the default).
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    Backend(crate::BackendError),
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("semaphore closed"),
            Self::TooLarge { requested, total } => write!(
                f,
                "requested {requested} permits from a semaphore with a total of {total}"
            ),
            #[cfg(feature = "redis")]
            Self::Backend(backend) => backend.fmt(f),
        }
    }
}

impl Error for AcquireError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            #[cfg(feature = "redis")]
            Self::Backend(backend) => Some(backend),
            _ => None,
        }
    }
}

/// Why a `try_acquire*` failed.
///
/// Not `Copy`: the `Backend` variant (feature `redis`) carries the server's address and the
/// cause.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryAcquireError {
    /// The semaphore was closed.
    Closed,
    /// Not enough permits are free, or others are queued ahead.
    NoPermits,
    /// More permits were requested than the semaphore's non-zero total.
    TooLarge {
        /// Permits asked for.
        requested: usize,
        /// The semaphore's total when the request was refused.
        total: usize,
    },
    /// A [`RedisSemaphore`](crate::RedisSemaphore)'s server could not be reached or did not
    /// answer within its timeout (and the semaphore fails closed, the default).
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    Backend(crate::BackendError),
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("semaphore closed"),
            Self::NoPermits => f.write_str("no permits available"),
            Self::TooLarge { requested, total } => write!(
                f,
                "requested {requested} permits from a semaphore with a total of {total}"
            ),
            #[cfg(feature = "redis")]
            Self::Backend(backend) => backend.fmt(f),
        }
    }
}

impl Error for TryAcquireError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            #[cfg(feature = "redis")]
            Self::Backend(backend) => Some(backend),
            _ => None,
        }
    }
}
