//! [`Semaphore`]: weighted and FIFO-fair, like Go's `x/sync/semaphore.Weighted`, with tokio's
//! surface.
//!
//! # The engine
//!
//! One atomic word holds the available permits and two flags: `CLOSED`, and `SLOW`, set while
//! someone waits in the queue or permits are owed to a shrink. While `SLOW` is clear, acquiring is
//! one compare-and-swap and releasing one `fetch_add`: no lock. While it is set, nobody takes
//! permits from the word but the holder of the queue lock, who hands them to the waiters in
//! order; a release that sees `SLOW` takes the lock and does that hand-off itself.
//!
//! A waiter that registers sets `SLOW` and then hands out permits again under the lock: a release
//! that did not see the flag came before it in the word's modification order, so its permits are
//! seen by that second look (check, register, check again).

use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use slab::Slab;

use crate::sync::{block_on, lock, Arc, AtomicUsize, Mutex, Ordering};

const CLOSED: usize = 0b01;
const SLOW: usize = 0b10;
const SHIFT: usize = 2;

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

struct Queue {
    /// The waiters in FIFO order: a linked list threaded through a slab, so a waiter that is
    /// re-polled or dropped finds its entry by its key in O(1), whatever the queue's length.
    waiters: WaitList,
    /// Decided waiters kept for reuse, so a contended acquire does not allocate: a node is
    /// reused once its future has let go of it (`Arc::get_mut`).
    spare: VecDeque<Arc<Waiter>>,
    /// The configured total: `available + out == total + debt`.
    total: usize,
    /// Permits out that must vanish as they come back, after a shrink below what was out.
    debt: usize,
}

/// How many decided waiter nodes a semaphore keeps for reuse.
const SPARE_WAITERS: usize = 64;

/// A place in the queue: the waiter and the waker to wake when it is decided. The waker lives
/// here, under the queue lock that every decision already holds, so neither deciding nor
/// queueing takes a second lock.
struct Entry {
    waiter: Arc<Waiter>,
    waker: Option<Waker>,
    /// Neighbours in the FIFO order (slab keys), [`NIL`] at the ends.
    prev: usize,
    next: usize,
}

/// No neighbour.
const NIL: usize = usize::MAX;

/// The FIFO queue of waiters: a doubly linked list whose nodes live in a [`Slab`], so pushing at
/// the back, popping at the front and removing any entry by its key are all O(1), and memory is
/// O(waiters queued now) (freed keys are reused). The slab (tokio's own crate) gives stable keys
/// without `unsafe`, which is what an intrusive list would need.
struct WaitList {
    nodes: Slab<Entry>,
    head: usize,
    tail: usize,
}

impl WaitList {
    const fn new() -> Self {
        Self {
            nodes: Slab::new(),
            head: NIL,
            tail: NIL,
        }
    }

    fn len(&self) -> usize {
        self.nodes.len()
    }

    fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn front(&self) -> Option<&Entry> {
        self.nodes.get(self.head)
    }

    /// Queues `waiter` at the back; returns its key.
    fn push_back(&mut self, waiter: Arc<Waiter>) -> usize {
        let key = self.nodes.insert(Entry {
            waiter,
            waker: None,
            prev: self.tail,
            next: NIL,
        });
        match self.nodes.get_mut(self.tail) {
            Some(tail) => tail.next = key,
            None => self.head = key,
        }
        self.tail = key;
        key
    }

    fn pop_front(&mut self) -> Option<Entry> {
        (self.head != NIL).then(|| self.remove(self.head))
    }

    /// Unlinks the entry at `key` (which must be queued).
    fn remove(&mut self, key: usize) -> Entry {
        let entry = self.nodes.remove(key);
        match self.nodes.get_mut(entry.prev) {
            Some(prev) => prev.next = entry.next,
            None => self.head = entry.next,
        }
        match self.nodes.get_mut(entry.next) {
            Some(next) => next.prev = entry.prev,
            None => self.tail = entry.prev,
        }
        entry
    }

    /// The keys in FIFO order, for the rare walk of a shrink that fails waiters.
    fn keys(&self) -> Vec<usize> {
        let mut keys = Vec::with_capacity(self.nodes.len());
        let mut at = self.head;
        while let Some(entry) = self.nodes.get(at) {
            keys.push(at);
            at = entry.next;
        }
        keys
    }
}

impl Entry {
    /// Decides the waiter and collects its waker, to wake after the queue lock is released.
    fn decide(self, outcome: Result<(), AcquireError>, wakes: &mut WakeList) -> Arc<Waiter> {
        self.waiter.decide(outcome);
        if let Some(waker) = self.waker {
            wakes.push(waker);
        }
        self.waiter
    }
}

/// A queued acquire's shared state: what the holder of the queue lock decided for it.
struct Waiter {
    permits: usize,
    /// `WAITING` until the holder of the queue lock decides: `GRANTED`, `CLOSED` or
    /// `TOO_LARGE`. Written once per use, under the queue lock; read by the future without it.
    state: AtomicUsize,
    /// The total that refused the request, written before `state` says `TOO_LARGE`.
    refused_by: AtomicUsize,
}

const WAITING: usize = 0;
const GRANTED: usize = 1;
const REFUSED_CLOSED: usize = 2;
const REFUSED_TOO_LARGE: usize = 3;

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
            queue: Mutex::new(Queue {
                waiters: WaitList::new(),
                spare: VecDeque::new(),
                total: permits,
                debt: 0,
            }),
        }
    }

    /// loom's types are not `const`.
    #[cfg(loom)]
    pub fn new(permits: usize) -> Self {
        assert!(permits <= Self::MAX_PERMITS);
        Self {
            state: AtomicUsize::new(permits << SHIFT),
            total: AtomicUsize::new(permits),
            queue: Mutex::new(Queue {
                waiters: WaitList::new(),
                spare: VecDeque::new(),
                total: permits,
                debt: 0,
            }),
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
            sem: self,
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

    /// Takes `n` permits if they are free and nobody is queued; never waits.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::TooLarge`] if `n` exceeds the non-zero total,
    /// [`TryAcquireError::NoPermits`] if not enough are free or someone is queued,
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
        let mut queue = lock(&self.queue);
        let total = match queue.total.checked_add(n) {
            Some(total) if total <= Self::MAX_PERMITS => total,
            _ => overflow("add_permits", queue.total, n),
        };
        let wakes = self.grow_locked(&mut queue, total);
        drop(queue);
        wakes.wake_all();
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
        if total > Self::MAX_PERMITS {
            overflow("resize", 0, total);
        }
        let mut queue = lock(&self.queue);
        let wakes = if total >= queue.total {
            self.grow_locked(&mut queue, total)
        } else {
            let mut shrink = queue.total - total;
            // Take what is free now; the rest is owed by the permits that are out.
            let mut state = self.state.load(Ordering::Relaxed);
            loop {
                let take = shrink.min(state >> SHIFT);
                match self.state.compare_exchange_weak(
                    state,
                    state - (take << SHIFT),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        shrink -= take;
                        break;
                    }
                    Err(actual) => state = actual,
                }
            }
            queue.debt += shrink;
            if queue.debt > 0 {
                self.state.fetch_or(SLOW, Ordering::AcqRel);
            }
            self.set_total_locked(&mut queue, total, 0)
        };
        drop(queue);
        wakes.wake_all();
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
        let mut queue = lock(&self.queue);
        self.state.fetch_or(CLOSED, Ordering::AcqRel);
        let mut wakes = WakeList::new();
        while let Some(entry) = queue.waiters.pop_front() {
            entry.decide(Err(AcquireError::Closed), &mut wakes);
        }
        if queue.debt == 0 {
            self.state.fetch_and(!SLOW, Ordering::Release);
        }
        drop(queue);
        wakes.wake_all();
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

    /// The lock-free path of every acquire: one compare-and-swap when nobody waits.
    fn try_take(&self, n: usize) -> Result<(), TryAcquireError> {
        // Acquire on success: pairs with the Release of the `fetch_add` that returned the
        // permits, so the previous holder's work happens-before ours.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & CLOSED != 0 {
                return Err(TryAcquireError::Closed);
            }
            if state & SLOW != 0 || state >> SHIFT < n {
                let total = self.total.load(Ordering::Relaxed);
                if n > total && total != 0 {
                    return Err(TryAcquireError::TooLarge {
                        requested: n,
                        total,
                    });
                }
                return Err(TryAcquireError::NoPermits);
            }
            match self.state.compare_exchange_weak(
                state,
                state - (n << SHIFT),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => state = actual,
            }
        }
    }

    /// Gives `n` permits back: one `fetch_add`, plus the hand-off to waiters if any.
    fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut in_hand = n;
        if self.state.load(Ordering::Relaxed) & SLOW == 0 {
            // Release: publishes the holder's work to whoever takes these permits next.
            let old = self.state.fetch_add(n << SHIFT, Ordering::Release);
            if old & SLOW == 0 {
                return;
            }
            // Someone queued meanwhile: the permits are in the word, serve the queue from it.
            in_hand = 0;
        }
        // Waiters are queued: hand the permits to them directly under the lock.
        let mut queue = lock(&self.queue);
        let mut wakes = WakeList::new();
        self.settle_locked(&mut queue, in_hand, &mut wakes);
        drop(queue);
        wakes.wake_all();
    }

    /// Permits that vanish with a forgotten permit. They pay the debt of a shrink first (the
    /// semaphore is above its configured total by that much, and a permit that never comes back
    /// is what the debt waits for), then lower the total: `new(4)`, all out, `resize(2)`, one
    /// forgotten and three returned leaves a total of 2, as the resize asked.
    /// (`n <= out <= total + debt`, so the two always suffice.)
    fn forget_permits(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut queue = lock(&self.queue);
        let from_debt = n.min(queue.debt);
        queue.debt -= from_debt;
        let total = queue.total - (n - from_debt);
        let wakes = self.set_total_locked(&mut queue, total, 0);
        drop(queue);
        wakes.wake_all();
    }

    /// The slow path of an acquire: queue up under the lock, then serve the queue, which may
    /// grant this waiter at once (its slot says).
    fn enqueue(&self, n: usize, waker: &Waker) -> Result<Queued, AcquireError> {
        let mut queue = lock(&self.queue);
        if self.state.load(Ordering::Relaxed) & CLOSED != 0 {
            return Err(AcquireError::Closed);
        }
        if n > queue.total && queue.total != 0 {
            return Err(AcquireError::TooLarge {
                requested: n,
                total: queue.total,
            });
        }
        let waiter = queue.spare_waiter(n);
        let key = queue.waiters.push_back(waiter.clone());
        // Set the flag, then look again: a release that missed the flag is seen by the settle.
        // (Only the lock holder clears it, so a flag already set stays set.)
        if self.state.load(Ordering::Relaxed) & SLOW == 0 {
            self.state.fetch_or(SLOW, Ordering::AcqRel);
        }
        let mut wakes = WakeList::new();
        self.settle_locked(&mut queue, 0, &mut wakes);
        // Only the queue lock's holder decides a waiter, so while we hold it the state is
        // stable: store the waker only if it is still needed (no spurious self-wake-up).
        if waiter.state.load(Ordering::Relaxed) == WAITING {
            // Still queued at `key`: an undecided waiter's entry stays where it was put.
            let entry = &mut queue.waiters.nodes[key];
            debug_assert!(Arc::ptr_eq(&entry.waiter, &waiter));
            entry.waker = Some(waker.clone());
        }
        drop(queue);
        wakes.wake_all();
        Ok(Queued { waiter, key })
    }

    /// An undecided acquire was polled again: store its waker if the queue holds another one.
    /// Returns the decision if it came meanwhile.
    fn register(&self, queued: &Queued, waker: &Waker) -> Option<Result<(), AcquireError>> {
        let mut queue = lock(&self.queue);
        // Stable under the lock: only its holder decides.
        if let Some(outcome) = queued.waiter.outcome() {
            return Some(outcome);
        }
        // Undecided, so still queued at its key: O(1), whatever the queue's length.
        let entry = &mut queue.waiters.nodes[queued.key];
        debug_assert!(Arc::ptr_eq(&entry.waiter, &queued.waiter));
        let old = match &entry.waker {
            Some(current) if current.will_wake(waker) => None,
            _ => entry.waker.replace(waker.clone()),
        };
        drop(queue);
        // The replaced waker is dropped outside the lock: its drop is executor code, which may
        // release a permit of ours (tokio #5429) and so take this lock again.
        drop(old);
        None
    }

    /// A queued acquire was dropped: give back what it was handed, or leave the queue; either
    /// way the waiters behind it are served.
    fn cancel(&self, queued: &Queued) {
        let mut queue = lock(&self.queue);
        let mut wakes = WakeList::new();
        let mut removed = None;
        // Stable under the queue lock: only its holder decides.
        match queued.waiter.state.load(Ordering::Acquire) {
            // Granted but never seen: the permits are ours to hand on.
            GRANTED => self.settle_locked(&mut queue, queued.waiter.permits, &mut wakes),
            WAITING => {
                // Undecided, so still queued at its key: unlinked in O(1).
                removed = Some(queue.waiters.remove(queued.key));
                self.settle_locked(&mut queue, 0, &mut wakes);
            }
            _ => {}
        }
        drop(queue);
        // Its waker is dropped outside the lock, as in `register`.
        drop(removed);
        wakes.wake_all();
    }

    /// Raises the total to `total` (≥ the current one): the new permits pay the debt first,
    /// then go to waiters, then into the word.
    fn grow_locked(&self, queue: &mut Queue, total: usize) -> WakeList {
        let added = total - queue.total;
        self.set_total_locked(queue, total, added)
    }

    /// Records a new total, fails queued waiters it makes too large, and serves the rest (with
    /// `in_hand` new permits).
    fn set_total_locked(&self, queue: &mut Queue, total: usize, in_hand: usize) -> WakeList {
        queue.total = total;
        self.total.store(total, Ordering::Relaxed);
        let mut wakes = WakeList::new();
        if total != 0
            && queue
                .waiters
                .nodes
                .iter()
                .any(|(_, e)| e.waiter.permits > total)
        {
            // Rare (a shrink below a queued request): walk the queue in order and fail those
            // the new total cannot serve. A resize that fails nobody allocates nothing.
            for key in queue.waiters.keys() {
                let requested = queue.waiters.nodes[key].waiter.permits;
                if requested > total {
                    let entry = queue.waiters.remove(key);
                    entry.decide(Err(AcquireError::TooLarge { requested, total }), &mut wakes);
                }
            }
        }
        self.settle_locked(queue, in_hand, &mut wakes);
        wakes
    }

    /// Under the lock: serves the debt, then the head waiters in order while their requests
    /// fit, from `in_hand` (permits the caller brings, which need not pass through the word)
    /// first and the word's free permits second. What is left in hand goes into the word, and
    /// `SLOW` is cleared when nothing is queued or owed, in one final RMW.
    fn settle_locked(&self, queue: &mut Queue, mut in_hand: usize, wakes: &mut WakeList) {
        // Acquire: permits taken from the word come with their releasers' work.
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let available = (state >> SHIFT) + in_hand;
            let take = if queue.debt > 0 {
                queue.debt.min(available)
            } else {
                match queue.waiters.front() {
                    Some(head) if head.waiter.permits <= available => head.waiter.permits,
                    _ => break,
                }
            };
            if take == 0 {
                break;
            }
            let from_word = take.saturating_sub(in_hand);
            if from_word > 0 {
                // Only the lock holder takes permits while `SLOW` is set, but releases add
                // concurrently (and the fast path takes while it is clear): a CAS, retried.
                if let Err(actual) = self.state.compare_exchange_weak(
                    state,
                    state - (from_word << SHIFT),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    state = actual;
                    continue;
                }
                state -= from_word << SHIFT;
            }
            in_hand -= take - from_word;
            if queue.debt > 0 {
                queue.debt -= take;
            } else if let Some(head) = queue.waiters.pop_front() {
                // The decision's Release store hands over what we hold (the permits in hand
                // are our own; those from the word were acquired by the CAS).
                let waiter = head.decide(Ok(()), wakes);
                queue.keep_spare(waiter);
            }
        }
        let clear = if queue.waiters.is_empty() && queue.debt == 0 {
            SLOW
        } else {
            0
        };
        if in_hand > 0 || state & clear != 0 {
            // Release: the permits left in hand carry their holder's work to the next taker.
            let mut current = state;
            while let Err(actual) = self.state.compare_exchange_weak(
                current,
                (current + (in_hand << SHIFT)) & !clear,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                current = actual;
            }
        }
    }
}

impl Queue {
    /// A waiter node for `permits`: a spare one its future has let go of, or a new one.
    fn spare_waiter(&mut self, permits: usize) -> Arc<Waiter> {
        // The oldest spare is the likeliest to be free: the newest was decided just now and its
        // task has not run yet.
        if let Some(at) = self.spare.iter().position(|w| Arc::strong_count(w) == 1) {
            let mut spare = self.spare.remove(at).expect("position is in bounds");
            // `get_mut` succeeds only when no future holds the node any more (and synchronises
            // with its last use), so resetting it is invisible to anyone.
            if let Some(waiter) = Arc::get_mut(&mut spare) {
                waiter.permits = permits;
                waiter.state.store(WAITING, Ordering::Relaxed);
                return spare;
            }
        }
        Arc::new(Waiter {
            permits,
            state: AtomicUsize::new(WAITING),
            refused_by: AtomicUsize::new(0),
        })
    }

    fn keep_spare(&mut self, waiter: Arc<Waiter>) {
        if self.spare.len() < SPARE_WAITERS {
            self.spare.push_back(waiter);
        }
    }
}

impl Waiter {
    /// Records the decision (under the queue lock).
    fn decide(&self, outcome: Result<(), AcquireError>) {
        let state = match outcome {
            Ok(()) => GRANTED,
            Err(AcquireError::Closed) => REFUSED_CLOSED,
            Err(AcquireError::TooLarge { total, .. }) => {
                self.refused_by.store(total, Ordering::Relaxed);
                REFUSED_TOO_LARGE
            }
        };
        // Release: the future that reads the decision sees the permits' history (ours, or the
        // settle's CAS acquired it) and `refused_by`.
        self.state.store(state, Ordering::Release);
    }

    /// The decision, if made.
    fn outcome(&self) -> Option<Result<(), AcquireError>> {
        match self.state.load(Ordering::Acquire) {
            WAITING => None,
            GRANTED => Some(Ok(())),
            REFUSED_CLOSED => Some(Err(AcquireError::Closed)),
            _ => Some(Err(AcquireError::TooLarge {
                requested: self.permits,
                total: self.refused_by.load(Ordering::Relaxed),
            })),
        }
    }
}

/// Wakers collected under the queue lock and woken after it is released, so a woken task never
/// waits for the lock its waker's caller holds. A release usually wakes one waiter: the first
/// few live inline, so the common case allocates nothing.
struct WakeList {
    inline: [Option<Waker>; 4],
    len: usize,
    spill: Vec<Waker>,
}

impl WakeList {
    fn new() -> Self {
        Self {
            inline: [None, None, None, None],
            len: 0,
            spill: Vec::new(),
        }
    }

    fn push(&mut self, waker: Waker) {
        match self.inline.get_mut(self.len) {
            Some(slot) => {
                *slot = Some(waker);
                self.len += 1;
            }
            None => self.spill.push(waker),
        }
    }

    fn wake_all(self) {
        for waker in self.inline.into_iter().flatten().chain(self.spill) {
            waker.wake();
        }
    }
}

#[cold]
#[track_caller]
fn overflow(what: &str, total: usize, n: usize) -> ! {
    panic!(
        "Semaphore::{what}: a total of {total} + {n} permits exceeds Semaphore::MAX_PERMITS ({})",
        Semaphore::MAX_PERMITS
    )
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let queue = lock(&self.queue);
        f.debug_struct("Semaphore")
            .field("available", &self.available_permits())
            .field("total", &queue.total)
            .field("waiters", &queue.waiters.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// A queued acquire: its shared node and its key in the queue (valid while it is undecided).
struct Queued {
    waiter: Arc<Waiter>,
    key: usize,
}

/// The state machine shared by [`Acquire`], [`AcquireOwned`] and the blocking forms.
struct Waiting {
    permits: usize,
    queued: Option<Queued>,
    /// Returned `Ready` once: a second poll is a bug in the caller and panics, rather than
    /// taking the permits a second time.
    finished: bool,
}

impl Waiting {
    fn new(permits: usize) -> Self {
        Self {
            permits,
            queued: None,
            finished: false,
        }
    }

    fn poll(&mut self, sem: &Semaphore, cx: &mut Context<'_>) -> Poll<Result<(), AcquireError>> {
        assert!(
            !self.finished,
            "a semaphore acquire polled after it completed"
        );
        let outcome = self.poll_inner(sem, cx);
        self.finished = outcome.is_ready();
        outcome
    }

    fn poll_inner(
        &mut self,
        sem: &Semaphore,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), AcquireError>> {
        let queued = match &self.queued {
            Some(queued) => queued,
            None => {
                if self.permits == 0 {
                    return Poll::Ready(if sem.is_closed() {
                        Err(AcquireError::Closed)
                    } else {
                        Ok(())
                    });
                }
                match sem.try_take(self.permits) {
                    Ok(()) => return Poll::Ready(Ok(())),
                    Err(TryAcquireError::Closed) => return Poll::Ready(Err(AcquireError::Closed)),
                    Err(_) => {}
                }
                let queued = match sem.enqueue(self.permits, cx.waker()) {
                    Ok(queued) => self.queued.insert(queued),
                    Err(err) => return Poll::Ready(Err(err)),
                };
                // `enqueue` stored the waker if the waiter is still undecided.
                return match queued.waiter.outcome() {
                    Some(outcome) => {
                        self.queued = None;
                        Poll::Ready(outcome)
                    }
                    None => Poll::Pending,
                };
            }
        };
        // Woken or not, the decision is one atomic load away; while undecided, make sure the
        // queue holds this poll's waker.
        let outcome = queued
            .waiter
            .outcome()
            .or_else(|| sem.register(queued, cx.waker()));
        match outcome {
            Some(outcome) => {
                self.queued = None;
                Poll::Ready(outcome)
            }
            None => Poll::Pending,
        }
    }

    fn cancel(&mut self, sem: &Semaphore) {
        if let Some(queued) = self.queued.take() {
            sem.cancel(&queued);
        }
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

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let sem = this.sem;
        this.waiting.poll(sem, cx).map_ok(|()| SemaphorePermit {
            sem,
            permits: this.waiting.permits,
        })
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        self.waiting.cancel(self.sem);
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("permits", &self.waiting.permits)
            .field("queued", &self.waiting.queued.is_some())
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
    sem: std::sync::Arc<Semaphore>,
    waiting: Waiting,
}

impl Future for AcquireOwned {
    type Output = Result<OwnedSemaphorePermit, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.waiting
            .poll(&this.sem, cx)
            .map_ok(|()| OwnedSemaphorePermit {
                sem: this.sem.clone(),
                permits: this.waiting.permits,
            })
    }
}

impl Drop for AcquireOwned {
    fn drop(&mut self) {
        self.waiting.cancel(&self.sem);
    }
}

impl fmt::Debug for AcquireOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireOwned")
            .field("permits", &self.waiting.permits)
            .field("queued", &self.waiting.queued.is_some())
            .finish()
    }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("semaphore closed"),
            Self::TooLarge { requested, total } => write!(
                f,
                "requested {requested} permits from a semaphore with a total of {total}"
            ),
        }
    }
}

impl Error for AcquireError {}

/// Why a `try_acquire*` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
        }
    }
}

impl Error for TryAcquireError {}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use futures::task::noop_waker_ref;

    fn poll<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
        Pin::new(fut).poll(&mut Context::from_waker(noop_waker_ref()))
    }

    fn granted<T, E: fmt::Debug>(p: Poll<Result<T, E>>) -> T {
        match p {
            Poll::Ready(r) => r.unwrap(),
            Poll::Pending => panic!("expected the permits to be granted"),
        }
    }

    #[test]
    fn uncontended_acquire_and_release_round_trip() {
        let sem = Semaphore::new(2);
        let a = granted(poll(&mut sem.acquire()));
        let b = sem.try_acquire().unwrap();
        assert_eq!(sem.available_permits(), 0);
        drop((a, b));
        assert_eq!(sem.available_permits(), 2);
    }

    #[test]
    fn a_large_request_at_the_head_is_not_starved_by_small_ones() {
        // Go's fairness case: a waiter for 3 of 3 is served before later waiters for 1.
        let sem = Semaphore::new(3);
        let one = sem.try_acquire().unwrap();
        let mut big = sem.acquire_many(3);
        assert!(poll(&mut big).is_pending());
        let mut small = sem.acquire();
        assert!(
            poll(&mut small).is_pending(),
            "small waits behind big, though 2 are free"
        );
        assert_eq!(
            sem.try_acquire().unwrap_err(),
            TryAcquireError::NoPermits,
            "no barging"
        );
        drop(one);
        let big = granted(poll(&mut big));
        assert_eq!(big.num_permits(), 3);
        assert!(poll(&mut small).is_pending());
        drop(big);
        drop(granted(poll(&mut small)));
    }

    #[test]
    fn waiters_are_served_in_the_order_they_started_waiting() {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let mut waiters: Vec<_> = (0..4).map(|_| sem.acquire()).collect();
        for w in &mut waiters {
            assert!(poll(w).is_pending());
        }
        drop(held);
        for i in 0..4 {
            let permit = granted(poll(&mut waiters[i]));
            for later in &mut waiters[i + 1..] {
                assert!(poll(later).is_pending());
            }
            drop(permit);
        }
    }

    #[test]
    fn a_dropped_head_lets_the_ones_behind_it_through() {
        let sem = Semaphore::new(2);
        let one = sem.try_acquire().unwrap();
        let mut big = sem.acquire_many(2);
        let mut small = sem.acquire();
        assert!(poll(&mut big).is_pending());
        assert!(poll(&mut small).is_pending());
        drop(big);
        drop(granted(poll(&mut small)));
        drop(one);
    }

    #[test]
    fn permits_handed_to_a_dropped_waiter_go_on_to_the_next() {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let mut first = sem.acquire();
        let mut second = sem.acquire();
        assert!(poll(&mut first).is_pending());
        assert!(poll(&mut second).is_pending());
        drop(held); // granted to `first`, which never looks
        drop(first);
        let p = granted(poll(&mut second));
        drop(p);
        assert_eq!(sem.available_permits(), 1);
    }

    #[test]
    fn too_large_requests_fail_at_once_with_both_numbers() {
        let sem = Semaphore::new(3);
        let err = poll(&mut sem.acquire_many(4)).map(|r| r.unwrap_err());
        assert_eq!(
            err,
            Poll::Ready(AcquireError::TooLarge {
                requested: 4,
                total: 3
            })
        );
        assert_eq!(
            err.map(|e| e.to_string()),
            Poll::Ready("requested 4 permits from a semaphore with a total of 3".into())
        );
        // Permits out still count toward the total.
        let _all = sem.try_acquire_many(3).unwrap();
        assert_eq!(
            sem.try_acquire_many(4).unwrap_err(),
            TryAcquireError::TooLarge {
                requested: 4,
                total: 3
            }
        );
    }

    #[test]
    fn a_queued_waiter_fails_when_a_shrink_leaves_it_too_large() {
        let sem = Semaphore::new(4);
        let held = sem.try_acquire_many(4).unwrap();
        let mut three = sem.acquire_many(3);
        let mut one = sem.acquire();
        assert!(poll(&mut three).is_pending());
        assert!(poll(&mut one).is_pending());
        sem.resize(2);
        assert_eq!(
            poll(&mut three).map(|r| r.unwrap_err()),
            Poll::Ready(AcquireError::TooLarge {
                requested: 3,
                total: 2
            })
        );
        assert!(
            poll(&mut one).is_pending(),
            "2 of the 4 out are owed to the shrink"
        );
        drop(held);
        let p = granted(poll(&mut one));
        assert_eq!(sem.available_permits(), 1);
        drop(p);
        assert_eq!(sem.available_permits(), 2);
    }

    #[test]
    fn forget_can_leave_a_queued_waiter_too_large() {
        let sem = Semaphore::new(3);
        let held = sem.try_acquire_many(2).unwrap();
        let mut three = sem.acquire_many(3);
        assert!(poll(&mut three).is_pending());
        held.forget();
        assert_eq!(
            poll(&mut three).map(|r| r.unwrap_err()),
            Poll::Ready(AcquireError::TooLarge {
                requested: 3,
                total: 1
            })
        );
        assert_eq!(sem.available_permits(), 1);
    }

    #[test]
    fn a_zero_total_is_a_gate_that_add_permits_opens() {
        let sem = Semaphore::new(0);
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        let mut five = sem.acquire_many(5);
        assert!(poll(&mut five).is_pending(), "no TooLarge on a zero total");
        sem.add_permits(5);
        drop(granted(poll(&mut five)));
    }

    #[test]
    fn resize_to_zero_pauses_without_failing_waiters() {
        let sem = Semaphore::new(2);
        let held = sem.try_acquire_many(2).unwrap();
        let mut w = sem.acquire_many(2);
        assert!(poll(&mut w).is_pending());
        sem.resize(0);
        drop(held);
        assert!(poll(&mut w).is_pending());
        assert_eq!(sem.available_permits(), 0);
        sem.resize(2);
        drop(granted(poll(&mut w)));
    }

    #[test]
    fn growing_wakes_waiters_at_once() {
        let sem = Semaphore::new(2);
        let held = sem.try_acquire_many(2).unwrap();
        let mut w = sem.acquire_many(2);
        assert!(poll(&mut w).is_pending());
        sem.resize(4); // while the 2 are still out
        let granted = granted(poll(&mut w));
        drop(held);
        assert_eq!(sem.available_permits(), 2);
        drop(granted);
        assert_eq!(sem.available_permits(), 4);
    }

    #[test]
    fn acquire_many_zero_is_ready_at_once_unless_closed() {
        let sem = Semaphore::new(1);
        let _held = sem.try_acquire().unwrap();
        let mut queued = sem.acquire();
        assert!(poll(&mut queued).is_pending());
        let empty = granted(poll(&mut sem.acquire_many(0)));
        assert_eq!(empty.num_permits(), 0);
        sem.close();
        assert!(matches!(
            poll(&mut sem.acquire_many(0)),
            Poll::Ready(Err(AcquireError::Closed))
        ));
    }

    #[test]
    fn close_fails_pending_and_later_acquires_and_keeps_permits_out_valid() {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let mut w = sem.acquire();
        assert!(poll(&mut w).is_pending());
        sem.close();
        assert!(sem.is_closed());
        assert!(matches!(
            poll(&mut w),
            Poll::Ready(Err(AcquireError::Closed))
        ));
        assert!(matches!(
            poll(&mut sem.acquire()),
            Poll::Ready(Err(AcquireError::Closed))
        ));
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
        drop(held);
        assert_eq!(sem.available_permits(), 1);
    }

    #[test]
    fn overflowing_totals_panic_with_a_message() {
        let sem = Semaphore::new(Semaphore::MAX_PERMITS);
        let err = std::panic::catch_unwind(|| sem.add_permits(1)).unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(msg.contains("exceeds Semaphore::MAX_PERMITS"), "{msg}");
        assert!(std::panic::catch_unwind(|| sem.resize(usize::MAX)).is_err());
        assert!(std::panic::catch_unwind(|| Semaphore::new(usize::MAX)).is_err());
        assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);
    }

    #[test]
    fn the_waker_of_the_latest_poll_is_the_one_woken() {
        use std::sync::atomic::AtomicUsize as Count;
        use std::task::Wake;

        #[derive(Default)]
        struct Counting(Count);
        impl Wake for Counting {
            fn wake(self: std::sync::Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let (first, second) = (
            std::sync::Arc::new(Counting::default()),
            std::sync::Arc::new(Counting::default()),
        );
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let mut w = sem.acquire();
        let waker = Waker::from(first.clone());
        assert!(Pin::new(&mut w)
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        let waker = Waker::from(second.clone());
        assert!(Pin::new(&mut w)
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        drop(held);
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert_eq!(second.0.load(Ordering::SeqCst), 1);
        drop(granted(poll(&mut w)));
    }

    #[test]
    fn debug_shows_permits_total_waiters_and_closed() {
        let sem = Semaphore::new(2);
        let _p = sem.try_acquire_many(2).unwrap();
        let mut w = sem.acquire();
        assert!(poll(&mut w).is_pending());
        assert_eq!(
            format!("{sem:?}"),
            "Semaphore { available: 0, total: 2, waiters: 1, closed: false }"
        );
    }
}
