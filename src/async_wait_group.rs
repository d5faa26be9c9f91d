//! [`AsyncWaitGroup`]: Go's `sync.WaitGroup`, async-native.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

use crate::notify::{Ticket, WakerList};
use crate::sync::{block_on, block_on_until, fence, Arc, AtomicU64, Ordering};

/// The state word is `guards << GUARDS_SHIFT | count << 1 | WAITERS`: the live guards in the top
/// 31 bits, the count (which includes one unit per live guard) in the 32 bits below them.
const WAITERS: u64 = 1;
/// One unit of count in the state word.
const ONE: u64 = 2;
/// The count's bits in the state word.
const COUNT_MASK: u64 = (u32::MAX as u64) << 1;
/// Where the number of live guards starts in the state word.
const GUARDS_SHIFT: u32 = 33;
/// One live guard: a unit of count and one in the guards field, added or removed in one RMW.
const ONE_GUARD: u64 = (1 << GUARDS_SHIFT) + ONE;
/// The largest count a group holds; an `add` or `guard()` past it panics. `add` is a
/// compare-and-swap that never writes past it; `guard()` is one `fetch_add` that an overflowing
/// caller undoes, so the count and the guards may pass it for a moment, by one per caller doing
/// so at that moment: 2^30 - 1 leaves room for 2^30 such callers in the guards' 31 bits (and
/// more in the count's 32) before anything could carry into the next field.
const MAX_COUNT: usize = (1 << 30) - 1;

/// The count in a state word (live guards included).
#[inline]
fn count_of(state: u64) -> usize {
    ((state & COUNT_MASK) >> 1) as usize
}

/// The live guards in a state word.
#[inline]
fn guards_of(state: u64) -> usize {
    (state >> GUARDS_SHIFT) as usize
}

/// Waits for a collection of tasks to finish: Go's `sync.WaitGroup` for async Rust.
///
/// The group holds a counter. [`add`](Self::add) raises it before work starts,
/// [`done`](Self::done) lowers it when a piece of work ends, and [`wait`](Self::wait) is a future
/// that is ready once the counter is seen at zero. [`guard`](Self::guard) and
/// [`track`](Self::track) pair the `add` with its `done` so that neither can be forgotten, also
/// when a task panics or is cancelled.
///
/// A clone is another handle to the same group. The group needs no runtime: `wait()` works on
/// tokio, async-std, smol or `futures::executor`, and [`wait_blocking`](Self::wait_blocking)
/// waits from a plain thread. Put a limit on the wait with [`TimeoutExt`](crate::TimeoutExt):
/// `wg.wait().timeout(d).await`.
///
/// A group can be reused once it reached zero, as in Go.
///
/// Go's `WaitGroup` is this type; there is no `taskgroup::WaitGroup` (the name says async
/// beside crossbeam's blocking `WaitGroup`, which [`wait_blocking`](Self::wait_blocking) also
/// replaces).
///
/// # Memory ordering
///
/// Everything a task did before its `done()` (or before its guard was dropped)
/// *happens-before* the return of every `wait()`, `wait_blocking()` or `count()` that saw the
/// counter at zero, so the results the tasks wrote can be read without further synchronisation.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use taskgroup::AsyncWaitGroup;
///
/// let wg = AsyncWaitGroup::new();
/// let finished = Arc::new(AtomicUsize::new(0));
/// for _ in 0..4 {
///     let guard = wg.guard(); // counts one now, `done()` when dropped
///     let finished = finished.clone();
///     std::thread::spawn(move || {
///         finished.fetch_add(1, Ordering::Relaxed);
///         drop(guard);
///     });
/// }
/// futures::executor::block_on(wg.wait());
/// assert_eq!(finished.load(Ordering::Relaxed), 4);
/// ```
///
/// Under tokio, with a timeout:
///
/// ```
/// use std::time::Duration;
/// use taskgroup::{AsyncWaitGroup, TimeoutExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let wg = AsyncWaitGroup::new();
/// for id in 0..3 {
///     tokio::spawn(wg.track(async move { id * 2 }));
/// }
/// wg.wait().timeout(Duration::from_secs(5)).await.expect("all three finished");
/// assert_eq!(wg.count(), 0);
/// # }
/// ```
#[derive(Clone)]
#[doc(alias = "WaitGroup")]
pub struct AsyncWaitGroup {
    inner: Arc<Inner>,
}

struct Inner {
    /// `guards << 33 | count << 1 | WAITERS`: live guards, outstanding work, and whether someone
    /// may be waiting in `zero`. Every change is a read-modify-write, so all `done()`s form one
    /// release sequence that a waiter reading the zero reads in full. Keeping the flag in the
    /// same word as the count lets `done()` skip the wake-up (a lock) when nobody waits, with no
    /// fence of its own: the order of the two RMWs on one word settles every race.
    ///
    /// While any guard lives, the group holds one extra strong count of its own `Arc` (taken by
    /// the guard that found no other, given back by the last one dropped), so a guard is a plain
    /// pointer and costs one RMW to make and one to drop (issue 21), not an `Arc` clone on top.
    state: AtomicU64,
    /// Woken when the count goes from one to zero with `WAITERS` set, after the list's lock is
    /// released (a waker may call back into the group: see `crate::notify`). Waiters treat a
    /// wake-up as a hint and look at the count again: it can be late (issued for a zero that
    /// work added since has already ended), so it proves nothing on its own.
    zero: WakerList,
}

impl AsyncWaitGroup {
    /// Creates a group with a count of zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = taskgroup::AsyncWaitGroup::new();
    /// assert_eq!(wg.count(), 0);
    /// ```
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                state: AtomicU64::new(0),
                zero: WakerList::new(),
            }),
        }
    }

    /// Adds `n` to the count: `n` more pieces of work that will each call [`done`](Self::done).
    ///
    /// Call it before the work starts (before `spawn`), not inside the spawned task, or a
    /// `wait()` may see zero before the task had a chance to count itself. [`guard`](Self::guard)
    /// and [`track`](Self::track) do this for you.
    ///
    /// # Panics
    ///
    /// If the count would exceed 1 073 741 823 (2^30 - 1); the count is left unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = taskgroup::AsyncWaitGroup::new();
    /// wg.add(2);
    /// wg.done();
    /// assert_eq!(wg.count(), 1);
    /// ```
    #[inline]
    pub fn add(&self, n: usize) {
        // Relaxed: an `add` publishes nothing. Waiters only act on a zero, and a zero is always
        // written by a `done()`, whose ordering carries everything.
        if n > MAX_COUNT {
            overflow(self.count(), n);
        }
        // A compare-and-swap, not a `fetch_add` undone on overflow: two overflowing `add`s at
        // once would carry into the guards' field, which keeps the group's memory alive (see
        // `WaitGroupGuard`), and the undo could write a zero that no waiter hears of.
        let mut old = self.inner.state.load(Ordering::Relaxed);
        loop {
            let count = count_of(old);
            if n > MAX_COUNT - count.min(MAX_COUNT) {
                overflow(count, n);
            }
            // `count + n <= MAX_COUNT`: inside the count's bits.
            match self.inner.state.compare_exchange_weak(
                old,
                old + n as u64 * ONE,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => old = actual,
            }
        }
    }

    /// Subtracts one from the count; at zero, every waiting `wait()` is woken.
    ///
    /// # Panics
    ///
    /// If the count is already zero, that is, `done()` was called more times than
    /// [`add`](Self::add) counted (Go panics the same way). The count stays at zero. A live
    /// [`guard`](Self::guard) counts its own unit, which only its drop takes back: `done()` panics
    /// the same way when the rest of the count is all guards.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = taskgroup::AsyncWaitGroup::new();
    /// wg.add(1);
    /// wg.done();
    /// futures::executor::block_on(wg.wait()); // ready at once: the count is zero
    /// ```
    #[inline]
    pub fn done(&self) {
        // A compare-and-swap, not a `fetch_sub` repaired afterwards: a count of zero is never
        // written below zero, so a misuse panics every time, also when two threads race it, and
        // the count stays intact for everyone else (issue 14). Uncontended it costs what a
        // `fetch_sub` does.
        // Release: publishes this task's writes to whoever later reads the zero. It is part of
        // the release sequence of every earlier `done()`, as all writers are RMWs.
        let mut old = self.inner.state.load(Ordering::Relaxed);
        loop {
            // Never the unit of a live guard, whose drop takes it back: the count stays at or
            // above the guards, which the guards' drop relies on.
            if count_of(old) <= guards_of(old) {
                below_zero();
            }
            match self.inner.state.compare_exchange_weak(
                old,
                old - ONE,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => old = actual,
            }
        }
        if count_of(old) == 1 && old & WAITERS != 0 {
            self.inner.wake_waiters();
        }
    }

    /// The current count: work added and not yet done.
    ///
    /// A snapshot; other threads may change it at once. After a timed-out `wait()` it says how
    /// many pieces of work were still outstanding.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = taskgroup::AsyncWaitGroup::new();
    /// let guard = wg.guard();
    /// assert_eq!(wg.count(), 1);
    /// drop(guard);
    /// assert_eq!(wg.count(), 0);
    /// ```
    #[inline]
    pub fn count(&self) -> usize {
        // Acquire: a zero read here comes with every finished task's writes.
        count_of(self.inner.state.load(Ordering::Acquire))
    }

    /// Counts one piece of work and returns a guard that calls [`done`](Self::done) when it is
    /// dropped: Go's `wg.Add(1)` + `defer wg.Done()` in one value.
    ///
    /// The guard is `'static + Send + Sync`: move it into a spawned task or a thread. It is
    /// dropped, and so counted as done, also when the task panics or is cancelled.
    ///
    /// # Panics
    ///
    /// As [`add`](Self::add), if the count would exceed 1 073 741 823.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = taskgroup::AsyncWaitGroup::new();
    /// let guard = wg.guard();
    /// std::thread::spawn(move || {
    ///     let _guard = guard; // done when this thread ends
    /// });
    /// wg.wait_blocking();
    /// ```
    #[inline]
    pub fn guard(&self) -> WaitGroupGuard {
        // Relaxed: as `add`.
        let old = self.inner.state.fetch_add(ONE_GUARD, Ordering::Relaxed);
        if guards_of(old) == 0 {
            // The first live guard: the group keeps its own `Arc` alive for every guard until
            // the last one is dropped. This handle is alive meanwhile, so the count never
            // reaches zero in between, and this increment happens-before the guard (and so
            // before the drop that gives it back: see `WaitGroupGuard::drop`).
            // `into_raw`, whose pointer `decrement_strong_count` asks for (it is `as_ptr`'s).
            let _ = Arc::into_raw(Arc::clone(&self.inner));
        }
        let guard = WaitGroupGuard {
            // `as_ptr`, not a reference: the pointer keeps the provenance of the whole `Arc`
            // allocation, which the last guard's `decrement_strong_count` needs.
            inner: Arc::as_ptr(&self.inner),
        };
        if count_of(old) >= MAX_COUNT {
            // Undone the way every guard is, so the keep-alive above stays balanced.
            drop(guard);
            overflow(count_of(old), 1);
        }
        guard
    }

    /// Counts one piece of work now and returns `future`, wrapped so that it is done when the
    /// future completes or is dropped (Go 1.25's `wg.Go`).
    ///
    /// The returned [`Track`] is `'static + Send` when `future` is, so `spawn(wg.track(fut))`
    /// works on every runtime.
    ///
    /// # Panics
    ///
    /// As [`add`](Self::add), if the count would exceed 1 073 741 823.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use taskgroup::AsyncWaitGroup;
    ///
    /// let wg = AsyncWaitGroup::new();
    /// let job = wg.track(async { 6 * 7 });
    /// assert_eq!(wg.count(), 1);
    /// assert_eq!(job.await, 42);
    /// wg.wait().await;
    /// # });
    /// ```
    pub fn track<F: Future>(&self, future: F) -> Track<F> {
        Track {
            future,
            guard: Some(self.guard()),
        }
    }

    /// Waits until the count is seen at zero; ready at once if it already is.
    ///
    /// Any number of tasks may wait at once. A waiter completes when it *sees* the count at
    /// zero when it is polled: if the group is reused (work is added again) after the zero woke
    /// it but before it ran, that waiter waits for the new work too. This is where the peers
    /// differ: tokio-util's `TaskTracker` completes every waiter its empty-and-closed moment
    /// woke, even if a task is added or the tracker reopened before the waiter runs (its tests
    /// `notify_on_last_task_respawn` and `notify_on_close_reopen`); Go's `WaitGroup` releases
    /// its waiters too, and panics if it is reused before every `Wait` returned. Here reuse is
    /// allowed and only means longer waits; a waiter never returns while the count is above
    /// zero.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future loses nothing, neither for the group nor for other
    /// waiters.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    /// use taskgroup::{AsyncWaitGroup, TimeoutExt};
    ///
    /// let wg = AsyncWaitGroup::new();
    /// let stuck = wg.guard(); // never dropped in time
    /// let err = wg.wait().timeout(Duration::from_millis(10)).await.unwrap_err();
    /// assert!(err.waited() >= Duration::from_millis(10));
    /// assert_eq!(wg.count(), 1);
    /// # drop(stuck);
    /// # });
    /// ```
    pub fn wait(&self) -> Wait<'_> {
        Wait {
            inner: &self.inner,
            key: None,
        }
    }

    /// Blocks the current thread until the count is seen at zero; for threads that are not
    /// async (crossbeam's `WaitGroup::wait`).
    ///
    /// Do not call it inside an async task: it blocks the executor's thread. Use
    /// [`wait`](Self::wait) there.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = taskgroup::AsyncWaitGroup::new();
    /// let guard = wg.guard();
    /// let worker = std::thread::spawn(move || drop(guard));
    /// wg.wait_blocking();
    /// assert_eq!(wg.count(), 0);
    /// # worker.join().unwrap();
    /// ```
    pub fn wait_blocking(&self) {
        self.wait_blocking_until(None);
    }

    /// Blocks the current thread until the count is seen at zero or `timeout` has passed.
    ///
    /// Returns `true` when zero was reached, `false` on timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let wg = taskgroup::AsyncWaitGroup::new();
    /// let _stuck = wg.guard();
    /// assert!(!wg.wait_blocking_timeout(Duration::from_millis(5)));
    /// assert_eq!(wg.count(), 1);
    /// ```
    pub fn wait_blocking_timeout(&self, timeout: Duration) -> bool {
        // A deadline beyond what `Instant` can hold is no deadline at all.
        self.wait_blocking_until(Instant::now().checked_add(timeout))
    }

    fn wait_blocking_until(&self, deadline: Option<Instant>) -> bool {
        // The same state machine as `wait()`, driven by parking the thread.
        match deadline {
            None => {
                block_on(self.wait());
                true
            }
            Some(deadline) => block_on_until(self.wait(), Some(deadline)).is_some(),
        }
    }
}

impl Inner {
    /// The count reached zero with `WAITERS` set: clear the flag if the word is still exactly
    /// "zero, waiters", and wake every waiter.
    #[cold]
    fn wake_waiters(&self) {
        // Acquire: the waiters' flag-setting RMWs came after their listener was inserted, so
        // reading them makes those insertions happen-before the `notify` below, which then finds
        // every listener. (A waiter whose RMW comes later sees the zero in it.)
        fence(Ordering::Acquire);
        // Clearing fails if work was added meanwhile; the flag then stays for the next zero.
        // A waiter that still needs it sets it again with its next look at the count.
        let _ = self
            .state
            .compare_exchange(WAITERS, 0, Ordering::Relaxed, Ordering::Relaxed);
        // The race between registering and waking is settled by the RMWs on `state` above.
        self.zero.wake_all();
    }

    /// The one wait algorithm, shared by [`Wait`] and the blocking waits (STYLE.md): look at the
    /// count; if it is not zero, register the waker; look again; only then wait.
    fn poll_zero(&self, key: &mut Option<Ticket>, waker: &Waker) -> Poll<()> {
        if !self.look() {
            self.zero.register(key, waker);
            // The look after registering is the one that counts.
            if !self.look() {
                return Poll::Pending;
            }
        }
        self.zero.unregister(key);
        Poll::Ready(())
    }

    /// Whether the count is zero; every look also sets `WAITERS`, in one RMW. AcqRel: Acquire
    /// pairs with the release sequence of `done()`s, so a zero read here comes with every
    /// finished task's writes; Release publishes our registration (made before this RMW) to the
    /// `done()` that reads the flag. That `done()` either comes after this RMW in the word's
    /// order, sees the flag and wakes us, or before it, and we see its zero.
    fn look(&self) -> bool {
        count_of(self.state.fetch_or(WAITERS, Ordering::AcqRel)) == 0
    }
}

impl Default for AsyncWaitGroup {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for AsyncWaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncWaitGroup")
            .field("count", &self.count())
            .field("waiters", &self.inner.zero.len())
            .finish()
    }
}

#[cold]
#[track_caller]
fn below_zero() -> ! {
    panic!(
        "AsyncWaitGroup::done() called with a count of zero: \
         done() was called more times than add() counted"
    )
}

#[cold]
#[track_caller]
fn overflow(old: usize, n: usize) -> ! {
    panic!(
        "AsyncWaitGroup::add({n}) overflows the count: it is {old} and cannot exceed {MAX_COUNT}"
    )
}

/// Future returned by [`AsyncWaitGroup::wait`]: ready once the count is seen at zero.
///
/// # Cancel safety
///
/// Cancel-safe: dropping it loses nothing.
#[must_use = "futures do nothing unless polled"]
pub struct Wait<'a> {
    inner: &'a Inner,
    /// Its place in the group's waker list while it waits.
    key: Option<Ticket>,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.inner.poll_zero(&mut this.key, cx.waker())
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        self.inner.zero.unregister(&mut self.key);
    }
}

impl fmt::Debug for Wait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("count", &count_of(self.inner.state.load(Ordering::Relaxed)))
            .field("listening", &self.key.is_some())
            .finish()
    }
}

/// Counts one piece of work in an [`AsyncWaitGroup`] and calls
/// [`done`](AsyncWaitGroup::done) when dropped, unwinding included.
///
/// Made by [`AsyncWaitGroup::guard`]. `'static + Send + Sync`.
///
/// # Examples
///
/// ```
/// let wg = taskgroup::AsyncWaitGroup::new();
/// {
///     let _guard = wg.guard();
///     assert_eq!(wg.count(), 1);
/// }
/// assert_eq!(wg.count(), 0);
/// ```
#[must_use = "the work is done as soon as the guard is dropped"]
pub struct WaitGroupGuard {
    /// The group's state, kept alive by the strong count the group holds while any guard lives
    /// (see `Inner::state`): a pointer rather than an `Arc`, so that a guard costs one RMW to make
    /// and one to drop.
    inner: *const Inner,
}

// SAFETY: a guard only reads `Inner` through shared references (atomics and the waker list,
// which is `Sync`), and `Inner` is `Send + Sync`; the pointer stays valid on any thread for as
// long as the guard lives (see `inner`).
unsafe impl Send for WaitGroupGuard {}
// SAFETY: as `Send`: `&WaitGroupGuard` gives no access beyond a shared `&Inner`.
unsafe impl Sync for WaitGroupGuard {}

impl WaitGroupGuard {
    #[inline]
    fn inner(&self) -> &Inner {
        // SAFETY: while this guard lives, the guards field of the state counts it: only
        // `guard()` and a guard's drop change that field (`add` is a compare-and-swap that never
        // carries into it, `done()` never takes a guard's unit), so it is exactly the number of
        // guards alive or being made. The group holds a strong count of its `Arc<Inner>` from
        // before the first of them exists until the last one is dropped (`KeepAlive`): given
        // back only by the drop that takes the field to zero, which is this guard's own drop or
        // comes after it.
        unsafe { &*self.inner }
    }
}

impl Drop for WaitGroupGuard {
    #[inline]
    fn drop(&mut self) {
        let inner = self.inner();
        // Release: as `done()`, publishes this task's writes to whoever reads the zero. A plain
        // `fetch_sub`: `done()` never takes a guard's unit, so the count is at least one and
        // the guards field at least this guard.
        let old = inner.state.fetch_sub(ONE_GUARD, Ordering::Release);
        debug_assert!(guards_of(old) >= 1 && count_of(old) >= guards_of(old));
        // The last live guard gives the keep-alive back, after the wake-up below and also if a
        // waker panics in it.
        // (Not `bool::then_some`, whose argument would be made, and dropped, either way.)
        let _keep_alive = if guards_of(old) == 1 {
            Some(KeepAlive(self.inner))
        } else {
            None
        };
        if count_of(old) == 1 && old & WAITERS != 0 {
            // The last guard then (the count holds every guard): the keep-alive is still held.
            inner.wake_waiters();
        }
    }
}

/// The strong count of the group's `Arc` that its live guards hold together, given back when
/// dropped by the drop of the last guard.
struct KeepAlive(*const Inner);

impl Drop for KeepAlive {
    fn drop(&mut self) {
        // Acquire: makes the increment of the guard that took the keep-alive, and every
        // guard's use of `Inner`, happen-before the decrement that may free it.
        fence(Ordering::Acquire);
        // SAFETY: made only by the drop of the guard that took the guards field from one to
        // zero, which gives back the strong count taken (`Arc::clone` + `into_raw`) by the
        // `guard()` that took the field from zero to one, through a handle alive at that moment:
        // the pointer is that `Arc`'s, and that count is still held. Each such round of guards
        // takes one and gives one back, and a round's last drop always comes after its first
        // increment (the RMWs on the state word and this fence order them). Nothing uses the
        // pointer after this.
        unsafe { Arc::decrement_strong_count(self.0) };
    }
}

// The guard's `unsafe impl Send/Sync` rest on this.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Inner>();
};

impl fmt::Debug for WaitGroupGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroupGuard")
            .field(
                "count",
                &count_of(self.inner().state.load(Ordering::Acquire)),
            )
            .finish()
    }
}

pin_project! {
    /// Future returned by [`AsyncWaitGroup::track`]: runs the inner future and counts it as
    /// done when it completes or is dropped.
    ///
    /// `'static + Send` when the inner future is, so it can be spawned on any runtime.
    ///
    /// # Cancel safety
    ///
    /// Dropping it drops the inner future and counts the work as done.
    #[must_use = "futures do nothing unless polled"]
    pub struct Track<F> {
        #[pin]
        future: F,
        guard: Option<WaitGroupGuard>,
    }
}

impl<F: Future> Future for Track<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let output = std::task::ready!(this.future.poll(cx));
        // Done at completion, even if the caller keeps the finished future around.
        *this.guard = None;
        Poll::Ready(output)
    }
}

impl<F> fmt::Debug for Track<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Track")
            .field("finished", &self.guard.is_none())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use futures::task::noop_waker_ref;
    use std::sync::atomic::AtomicBool;

    fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
        Pin::new(fut).poll(&mut Context::from_waker(noop_waker_ref()))
    }

    #[test]
    fn wait_is_ready_at_once_on_a_zero_count() {
        let wg = AsyncWaitGroup::new();
        assert!(poll_once(&mut wg.wait()).is_ready());
        assert!(wg.wait_blocking_timeout(Duration::ZERO));
    }

    #[test]
    fn wait_is_pending_until_the_last_done() {
        let wg = AsyncWaitGroup::new();
        wg.add(2);
        let mut wait = wg.wait();
        assert!(poll_once(&mut wait).is_pending());
        wg.done();
        assert!(poll_once(&mut wait).is_pending());
        wg.done();
        assert!(poll_once(&mut wait).is_ready());
    }

    #[test]
    fn a_waiter_that_misses_a_brief_zero_waits_for_the_next_one() {
        let wg = AsyncWaitGroup::new();
        wg.add(1);
        let mut early = wg.wait();
        assert!(poll_once(&mut early).is_pending());
        wg.done();
        wg.add(1); // reused before the woken waiter ran
                   // tokio-util's TaskTracker would complete here (its `notify_on_last_task_respawn`).
        assert!(poll_once(&mut early).is_pending(), "the count it sees is 1");
        wg.done();
        assert!(poll_once(&mut early).is_ready());
    }

    #[test]
    fn done_below_zero_panics_and_leaves_the_count_at_zero() {
        let wg = AsyncWaitGroup::new();
        let err = std::panic::catch_unwind(|| wg.done()).unwrap_err();
        let msg = err.downcast_ref::<&str>().copied().unwrap_or_default();
        assert!(msg.contains("more times than add()"), "{msg}");
        assert_eq!(wg.count(), 0);
        wg.add(1);
        assert_eq!(wg.count(), 1);
    }

    #[test]
    fn add_past_the_maximum_panics_and_leaves_the_count_unchanged() {
        let wg = AsyncWaitGroup::new();
        wg.add(3);
        let err = std::panic::catch_unwind(|| wg.add(MAX_COUNT)).unwrap_err();
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            msg.contains("add(1073741823) overflows the count: it is 3"),
            "{msg}"
        );
        assert_eq!(wg.count(), 3);
        assert!(std::panic::catch_unwind(|| wg.add(usize::MAX)).is_err());
        assert_eq!(wg.count(), 3);
        wg.add(MAX_COUNT - 3); // exactly the maximum is allowed
        assert_eq!(wg.count(), MAX_COUNT);
    }

    #[test]
    fn done_never_takes_the_unit_of_a_live_guard() {
        let wg = AsyncWaitGroup::new();
        let guard = wg.guard();
        wg.add(1);
        wg.done(); // the add's unit
        let err = std::panic::catch_unwind(|| wg.done()).unwrap_err();
        let msg = err.downcast_ref::<&str>().copied().unwrap_or_default();
        assert!(msg.contains("more times than add()"), "{msg}");
        assert_eq!(wg.count(), 1, "the guard's unit is still counted");
        drop(guard);
        assert_eq!(wg.count(), 0);
    }

    #[test]
    fn a_guard_past_the_maximum_panics_and_leaves_the_count_unchanged() {
        let wg = AsyncWaitGroup::new();
        let first = wg.guard();
        wg.add(MAX_COUNT - 1);
        let err = std::panic::catch_unwind(|| wg.guard()).unwrap_err();
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("add(1) overflows the count"), "{msg}");
        assert_eq!(wg.count(), MAX_COUNT);
        assert_eq!(guards_of(wg.inner.state.load(Ordering::Relaxed)), 1);
        drop(first);
        assert_eq!(wg.count(), MAX_COUNT - 1);
        // A refused first guard gives back the keep-alive it took.
        let empty = AsyncWaitGroup::new();
        empty.add(MAX_COUNT);
        assert!(std::panic::catch_unwind(|| empty.guard()).is_err());
        assert_eq!(Arc::strong_count(&empty.inner), 1);
    }

    #[test]
    fn guards_keep_the_group_alive_after_every_handle_is_gone() {
        let wg = AsyncWaitGroup::new();
        let guards: Vec<_> = (0..3).map(|_| wg.guard()).collect();
        assert_eq!(
            Arc::strong_count(&wg.inner),
            2,
            "one keep-alive for all guards"
        );
        let weak = Arc::downgrade(&wg.inner);
        drop(wg);
        assert_eq!(format!("{:?}", guards[0]), "WaitGroupGuard { count: 3 }");
        drop(guards);
        assert!(weak.upgrade().is_none(), "the last guard frees the group");

        let wg = AsyncWaitGroup::new();
        drop(wg.guard());
        assert_eq!(
            Arc::strong_count(&wg.inner),
            1,
            "the keep-alive is given back"
        );
    }

    #[test]
    fn a_guard_is_done_when_dropped_during_a_panic() {
        let wg = AsyncWaitGroup::new();
        let guard = wg.guard();
        let _ = std::panic::catch_unwind(move || {
            let _guard = guard;
            panic!("task failed");
        });
        assert_eq!(wg.count(), 0);
    }

    #[test]
    fn track_is_done_at_completion_and_when_dropped_unfinished() {
        let wg = AsyncWaitGroup::new();
        let mut finished = wg.track(std::future::ready(7));
        assert_eq!(wg.count(), 1);
        assert_eq!(poll_once(&mut finished), Poll::Ready(7));
        assert_eq!(
            wg.count(),
            0,
            "done at completion, before the future is dropped"
        );

        let unfinished = wg.track(std::future::pending::<()>());
        assert_eq!(wg.count(), 1);
        drop(unfinished);
        assert_eq!(wg.count(), 0);
    }

    #[test]
    fn a_dropped_waiter_does_not_take_the_wakeup_of_another() {
        let wg = AsyncWaitGroup::new();
        wg.add(1);
        let mut kept = wg.wait();
        let mut dropped = wg.wait();
        assert!(poll_once(&mut kept).is_pending());
        assert!(poll_once(&mut dropped).is_pending());
        drop(dropped);
        wg.done();
        assert!(poll_once(&mut kept).is_ready());
    }

    #[test]
    fn wait_blocking_returns_when_another_thread_finishes() {
        let wg = AsyncWaitGroup::new();
        let guard = wg.guard();
        let started = Arc::new(AtomicBool::new(false));
        let worker = {
            let started = started.clone();
            std::thread::spawn(move || {
                started.store(true, Ordering::Relaxed);
                drop(guard);
            })
        };
        wg.wait_blocking();
        assert!(started.load(Ordering::Relaxed));
        worker.join().unwrap();
    }

    #[test]
    fn debug_shows_count_and_waiters() {
        let wg = AsyncWaitGroup::new();
        wg.add(2);
        let mut wait = wg.wait();
        assert!(poll_once(&mut wait).is_pending());
        assert_eq!(format!("{wg:?}"), "AsyncWaitGroup { count: 2, waiters: 1 }");
        wg.done();
        wg.done();
    }
}
