//! The semaphore's engine: the atomic word, the FIFO queue of waiters and the state machine
//! of a queued acquire, private to the [`Semaphore`] whose public front is the parent module
//! (tokio's `sync/batch_semaphore.rs` beside its `sync/semaphore.rs`).
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
use std::task::{Context, Poll, Waker};

use slab::Slab;

use super::{AcquireError, Semaphore, TryAcquireError};
use crate::sync::{lock, Arc, AtomicUsize, Ordering};

pub(super) const CLOSED: usize = 0b01;
const SLOW: usize = 0b10;
pub(super) const SHIFT: usize = 2;

/// The state behind the queue lock.
pub(super) struct Queue {
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
    /// The waiter's request, copied here so that serving the queue reads the lock holder's own
    /// memory, not the waiter's node, which the waiting task's thread last touched.
    permits: usize,
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
            permits: waiter.permits,
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
    /// [`add_permits`](Semaphore::add_permits): raises the total by `n` and serves the queue.
    pub(super) fn grow_by(&self, n: usize) {
        let mut queue = lock(&self.queue);
        let total = match queue.total.checked_add(n) {
            Some(total) if total <= Self::MAX_PERMITS => total,
            _ => overflow("add_permits", queue.total, n),
        };
        let wakes = self.grow_locked(&mut queue, total);
        drop(queue);
        wakes.wake_all();
    }

    /// [`resize`](Semaphore::resize): grows, or shrinks now and owes the rest.
    pub(super) fn set_total(&self, total: usize) {
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

    /// [`close`](Semaphore::close): sets `CLOSED` and fails every queued waiter.
    pub(super) fn close_queue(&self) {
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

    /// The lock-free path of every acquire: one compare-and-swap when nobody waits.
    #[inline]
    pub(super) fn try_take(&self, n: usize) -> Result<(), TryAcquireError> {
        // Acquire on success: pairs with the Release of the `fetch_add` that returned the
        // permits, so the previous holder's work happens-before ours.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & CLOSED != 0 {
                return Err(TryAcquireError::Closed);
            }
            if state & SLOW != 0 || state >> SHIFT < n {
                return self.try_take_refused(n);
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

    /// Why `try_take` takes nothing (or, for `n == 0`, that it needs nothing).
    #[cold]
    #[inline(never)]
    fn try_take_refused(&self, n: usize) -> Result<(), TryAcquireError> {
        if n == 0 {
            // Nothing to take: ready even behind a queue, as `acquire_many(0)` is.
            return Ok(());
        }
        let total = self.total.load(Ordering::Relaxed);
        if n > total && total != 0 {
            return Err(TryAcquireError::TooLarge {
                requested: n,
                total,
            });
        }
        Err(TryAcquireError::NoPermits)
    }

    /// Gives `n` permits back: one `fetch_add`, plus the hand-off to waiters if any.
    /// Inlined up to the `fetch_add` (issue 21: a permit's drop is on every acquire's path).
    #[inline]
    pub(super) fn release(&self, n: usize) {
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
        self.release_to_queue(in_hand);
    }

    /// Waiters are queued: hand the permits to them directly under the lock (`in_hand` of them
    /// are not in the state word).
    #[cold]
    #[inline(never)]
    fn release_to_queue(&self, in_hand: usize) {
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
    pub(super) fn forget_permits(&self, n: usize) {
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
                let entry = queue.waiters.remove(queued.key);
                // Its node becomes a spare, reused by a later waiter once the dropped future
                // lets go of it (an acquire dropped and another queued, over and over, then
                // allocates nothing).
                queue.keep_spare(entry.waiter);
                removed = entry.waker;
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
        let previous = std::mem::replace(&mut queue.total, total);
        self.total.store(total, Ordering::Relaxed);
        let mut wakes = WakeList::new();
        // Every queued request fits a non-zero total (enqueue and every shrink refuse the rest),
        // so only a shrink or a gate opening from 0 can leave one too large: `add_permits` on a
        // long queue does not look at it.
        let may_refuse = total != 0 && (total < previous || previous == 0);
        if may_refuse && queue.waiters.nodes.iter().any(|(_, e)| e.permits > total) {
            // Rare (a shrink below a queued request): walk the queue in order and fail those
            // the new total cannot serve. A resize that fails nobody allocates nothing.
            for key in queue.waiters.keys() {
                let requested = queue.waiters.nodes[key].permits;
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
                    Some(head) if head.permits <= available => head.permits,
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
    /// An empty queue for a total of `total` permits; a `const fn`, for `Semaphore::new`.
    pub(super) const fn new(total: usize) -> Self {
        Self {
            waiters: WaitList::new(),
            spare: VecDeque::new(),
            total,
            debt: 0,
        }
    }

    /// The configured total, for `Debug`.
    pub(super) fn total(&self) -> usize {
        self.total
    }

    /// How many waiters are queued, for `Debug`.
    pub(super) fn len(&self) -> usize {
        self.waiters.len()
    }

    /// A waiter node for `permits`: a spare one its future has let go of, or a new one.
    fn spare_waiter(&mut self, permits: usize) -> Arc<Waiter> {
        // The oldest spare is the likeliest to be free: the newest was decided just now and its
        // task has not run yet.
        // Only the oldest is looked at (O(1) under the lock): if its future still holds it, the
        // newer ones are likelier still held, and a new node is allocated instead.
        if let Some(oldest) = self.spare.front_mut() {
            // `get_mut` succeeds only when no future holds the node any more (and synchronises
            // with its last use), so resetting it is invisible to anyone.
            if let Some(waiter) = Arc::get_mut(oldest) {
                waiter.permits = permits;
                waiter.state.store(WAITING, Ordering::Relaxed);
                return self.spare.pop_front().expect("just looked at");
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
            #[cfg(feature = "redis")]
            Err(AcquireError::Backend(_)) => unreachable!("the local semaphore has no backend"),
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
/// waits for the lock its waker's caller holds. A release usually wakes one waiter, and a cancel
/// or a queued acquire none: the first lives inline, so the common cases allocate nothing and
/// cost one check.
struct WakeList {
    first: Option<Waker>,
    rest: Vec<Waker>,
}

impl WakeList {
    fn new() -> Self {
        Self {
            first: None,
            rest: Vec::new(),
        }
    }

    fn push(&mut self, waker: Waker) {
        if self.first.is_none() {
            self.first = Some(waker);
        } else {
            self.rest.push(waker);
        }
    }

    fn wake_all(self) {
        let Some(first) = self.first else {
            return; // nobody to wake (`rest` fills only after `first`)
        };
        first.wake();
        for waker in self.rest {
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

/// A queued acquire: its shared node and its key in the queue (valid while it is undecided).
struct Queued {
    waiter: Arc<Waiter>,
    key: usize,
}

/// The state machine shared by [`Acquire`], [`AcquireOwned`] and the blocking forms.
pub(super) struct Waiting {
    permits: usize,
    queued: Option<Queued>,
    /// Returned `Ready` once: a second poll is a bug in the caller and panics, rather than
    /// taking the permits a second time.
    finished: bool,
}

impl Waiting {
    pub(super) fn new(permits: usize) -> Self {
        Self {
            permits,
            queued: None,
            finished: false,
        }
    }

    /// Inlined up to the first `try_take` (issue 21): the uncontended acquire is that alone.
    #[inline]
    pub(super) fn poll(
        &mut self,
        sem: &Semaphore,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), AcquireError>> {
        assert!(
            !self.finished,
            "a semaphore acquire polled after it completed"
        );
        let outcome = if self.queued.is_none() && self.permits != 0 {
            match sem.try_take(self.permits) {
                Ok(()) => Poll::Ready(Ok(())),
                Err(TryAcquireError::Closed) => Poll::Ready(Err(AcquireError::Closed)),
                // No permits free, someone queued, or too large (which `enqueue` refuses).
                Err(_) => self.queue_up(sem, cx),
            }
        } else {
            self.poll_inner(sem, cx)
        };
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
                // `poll` tried the permits of a non-zero request already.
                debug_assert_eq!(self.permits, 0);
                return Poll::Ready(if sem.is_closed() {
                    Err(AcquireError::Closed)
                } else {
                    Ok(())
                });
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

    /// The first poll found no permits to take at once: queue up (which may still be granted
    /// at once, by the settle under the lock).
    fn queue_up(
        &mut self,
        sem: &Semaphore,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), AcquireError>> {
        let queued = match sem.enqueue(self.permits, cx.waker()) {
            Ok(queued) => self.queued.insert(queued),
            Err(err) => return Poll::Ready(Err(err)),
        };
        // `enqueue` stored the waker if the waiter is still undecided.
        match queued.waiter.outcome() {
            Some(outcome) => {
                self.queued = None;
                Poll::Ready(outcome)
            }
            None => Poll::Pending,
        }
    }

    #[inline]
    pub(super) fn cancel(&mut self, sem: &Semaphore) {
        if let Some(queued) = self.queued.take() {
            sem.cancel(&queued);
        }
    }

    /// The permits asked for.
    pub(super) fn permits(&self) -> usize {
        self.permits
    }

    /// Whether it is queued, undecided, for `Debug`.
    pub(super) fn is_queued(&self) -> bool {
        self.queued.is_some()
    }
}
