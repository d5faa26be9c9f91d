//! [`SingleFlight`]: Go's `x/sync/singleflight`: concurrent calls for one key run the work once
//! and all get its result.
//!
//! # How it works
//!
//! The group is a map from key to the flight in progress for it, under one short lock. A call
//! that finds no flight inserts one and leads it; a call that finds one joins it as a waiter
//! (a node in the flight's FIFO queue, a slab-linked list so that leaving is O(1)). The flight's
//! own state (the queue, then the output) sits under the flight's own lock, so waiters that poll
//! do not touch the map.
//!
//! - The leader finishes: the flight leaves the map (new calls start a new flight), the output
//!   goes into a shared slot and every waiter is woken; each takes a clone, the last one takes
//!   the value itself. A call that nobody joined never touches the flight's lock: one map insert
//!   and one remove.
//! - The leader's future is dropped, or its work panics: the waiter at the head of the queue (the
//!   one that has waited longest) is marked *promoted* and woken. At its next poll it calls its
//!   own `f` and leads; the others keep waiting, now for it. If it is dropped first, the next
//!   one is promoted. With nobody waiting, the flight leaves the map.
//! - Lock order is map, then flight. Joining (which needs the flight to stay in the map) and
//!   the hand-over (which decides between "promote" and "leave the map") take both, so a call
//!   cannot join a flight that nobody will finish. No waker is woken or dropped, and no user
//!   value dropped or cloned, while a lock is held.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use pin_project_lite::pin_project;
use slab::Slab;

use crate::supervise::{self, poll_catching};
use crate::sync::{lock, Arc, AtomicBool, Mutex, Ordering};

/// Runs a piece of work once for any number of concurrent callers asking for the same key: Go's
/// `singleflight.Group`.
///
/// [`run(key, f)`](Self::run) calls `f()` and awaits its future if no call for `key` is in
/// flight (this caller *leads*); otherwise it waits for the leader's output and returns a clone
/// of it, and `f` is never called. It is what a service puts in front of a cache miss, a token
/// refresh or a config reload, so that N requests arriving at once make one upstream call.
/// Fallible work is `T = Result<V, E>` with a cloneable (or `Arc`'d) error: every waiter gets
/// the same `Err`.
///
/// The group needs no runtime: waiting goes through plain wakers, on any executor.
///
/// # The leader is cancelled
///
/// If the leader's future is dropped before its work finishes (a timeout, a client gone away),
/// or its work panics, the work is not lost for the others: the waiter that has waited longest
/// takes over and runs its *own* `f`, and the rest wait for it. Nobody hangs, nobody receives a
/// value or an error that no execution produced, and no two executions for one key overlap
/// (unless [`forget`](Self::forget) asked for a new flight).
///
/// # Memory
///
/// A key's entry is removed when its flight ends, so the group holds O(keys in flight) entries
/// and, per flight, O(callers waiting). Nothing is cached: a call after a flight ended runs the
/// work again (put a cache in front for that; see `examples/cache_stampede.rs`).
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use futures::future::join_all;
/// use taskgroup::SingleFlight;
///
/// # async fn slow_backend() { // yields once, as a network call would
/// #     let mut yielded = false;
/// #     std::future::poll_fn(|cx| {
/// #         if std::mem::replace(&mut yielded, true) { return std::task::Poll::Ready(()); }
/// #         cx.waker().wake_by_ref();
/// #         std::task::Poll::Pending
/// #     }).await
/// # }
/// # futures::executor::block_on(async {
/// let group = SingleFlight::new();
/// let backend_calls = AtomicUsize::new(0);
/// let fetch = |user: u32| {
///     let backend_calls = &backend_calls;
///     group.run(user, move || async move {
///         backend_calls.fetch_add(1, Ordering::Relaxed);
///         slow_backend().await;
///         format!("profile of {user}")
///     })
/// };
/// // Ten requests for the same user at once: one backend call, ten answers.
/// let answers = join_all((0..10).map(|_| fetch(7))).await;
/// assert!(answers.iter().all(|a| a == "profile of 7"));
/// assert_eq!(backend_calls.load(Ordering::Relaxed), 1);
/// assert_eq!(group.in_flight(), 0); // the flight ended: nothing kept
/// # });
/// ```
pub struct SingleFlight<K, T> {
    flights: Mutex<HashSet<ByKey<K, T>>>,
}

/// One flight: the key it runs for, and the state its callers share.
struct Flight<K, T> {
    key: K,
    /// Some caller joined this flight (so its state may hold waiters). Read and written only
    /// under the map's lock, hence `Relaxed`: the lock orders every access.
    joined: AtomicBool,
    /// The flight is no longer the key's entry in the map (`forget`, or it ended). Read and
    /// written only under the map's lock, hence `Relaxed`.
    detached: AtomicBool,
    state: Mutex<State<T>>,
}

/// A flight as the map's element: hashed and compared by its key, so the map is looked up by
/// `&K` (the `Borrow` contract holds: `Hash` and `Eq` are the key's).
struct ByKey<K, T>(Arc<Flight<K, T>>);

impl<K: Hash, T> Hash for ByKey<K, T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.key.hash(state);
    }
}

impl<K: PartialEq, T> PartialEq for ByKey<K, T> {
    fn eq(&self, other: &Self) -> bool {
        self.0.key == other.0.key
    }
}

impl<K: Eq, T> Eq for ByKey<K, T> {}

impl<K, T> Borrow<K> for ByKey<K, T> {
    fn borrow(&self) -> &K {
        &self.0.key
    }
}

/// No node: the end of the waiter queue.
const NIL: usize = usize::MAX;

/// A waiter's place in its flight.
struct Node {
    /// Taken (to wake it) when the waiter is promoted.
    waker: Option<Waker>,
    prev: usize,
    next: usize,
    /// Unlinked from the queue and told to lead; only its owner removes it now.
    promoted: bool,
}

struct State<T> {
    /// The waiters: linked in arrival order from `head` to `tail`, plus at most one promoted
    /// node (unlinked) until its owner takes over or leaves.
    nodes: Slab<Node>,
    head: usize,
    tail: usize,
    outcome: Outcome<T>,
}

enum Outcome<T> {
    /// Someone leads (or a promoted waiter is about to).
    Running,
    /// The work finished; the output waits for `readers` waiters (the last one takes it).
    Done {
        value: Option<std::sync::Arc<T>>,
        readers: usize,
    },
}

impl<T> State<T> {
    fn new() -> Self {
        Self {
            nodes: Slab::new(),
            head: NIL,
            tail: NIL,
            outcome: Outcome::Running,
        }
    }

    fn push_back(&mut self, waker: Waker) -> usize {
        let key = self.nodes.insert(Node {
            waker: Some(waker),
            prev: self.tail,
            next: NIL,
            promoted: false,
        });
        match self.tail {
            NIL => self.head = key,
            tail => self.nodes[tail].next = key,
        }
        self.tail = key;
        key
    }

    fn unlink(&mut self, key: usize) {
        let Node { prev, next, .. } = self.nodes[key];
        match prev {
            NIL => self.head = next,
            prev => self.nodes[prev].next = next,
        }
        match next {
            NIL => self.tail = prev,
            next => self.nodes[next].prev = prev,
        }
    }

    /// Promotes the longest-waiting waiter, returning its waker to wake after unlocking; `None`
    /// if nobody waits.
    fn promote_head(&mut self) -> Option<Option<Waker>> {
        let head = self.head;
        if head == NIL {
            return None;
        }
        self.unlink(head);
        let node = &mut self.nodes[head];
        node.promoted = true;
        Some(node.waker.take())
    }
}

/// What [`SingleFlight::join`] made of a call.
enum Joined<K, T> {
    Leader(Arc<Flight<K, T>>),
    Waiter(Arc<Flight<K, T>>, usize),
}

/// What a waiter found at a poll.
enum Waited<T> {
    Pending,
    Value(std::sync::Arc<T>),
    Promoted,
}

impl<K, T> SingleFlight<K, T> {
    /// Creates a group with no flight in progress.
    pub fn new() -> Self {
        Self {
            flights: Mutex::new(HashSet::new()),
        }
    }

    /// The number of keys with a flight that a new call would join. A [`forget`](Self::forget)
    /// flight no longer counts; a flight whose leader was dropped still does while a waiter is
    /// taking over.
    pub fn in_flight(&self) -> usize {
        lock(&self.flights).len()
    }
}

impl<K: Hash + Eq, T> SingleFlight<K, T> {
    /// Runs `f()` and awaits its future, unless a call for `key` is in flight: then waits for
    /// that call's output and returns a clone of it, and `f` is never called.
    ///
    /// Nothing happens until the returned future is first polled; that poll decides whether
    /// this call leads or waits.
    ///
    /// # Cancel safety
    ///
    /// Dropping a waiting call loses nothing for anyone else. Dropping the leading call drops
    /// its work's future; the caller that has waited longest then takes over and runs its own
    /// `f`, and the others wait for it. A call dropped after it was chosen to take over, but
    /// before it was polled again, passes the turn to the next one.
    ///
    /// # Panics
    ///
    /// A panic in `f()` or in its future resumes in the caller that ran it, with the original
    /// payload; the waiters behave as if that caller had been dropped (one takes over). Polling
    /// the future again after it returned `Ready` (or panicked) panics.
    ///
    /// # Examples
    ///
    /// A leader that gives up hands the work over instead of failing the waiters:
    ///
    /// ```
    /// use std::task::{Context, Poll};
    /// use futures::{future, task::noop_waker_ref, FutureExt};
    /// use taskgroup::SingleFlight;
    ///
    /// let group = SingleFlight::new();
    /// let mut cx = Context::from_waker(noop_waker_ref());
    /// let mut leader = Box::pin(group.run("config", future::pending::<u32>));
    /// let mut waiter = Box::pin(group.run("config", || future::ready(42)));
    /// assert!(leader.poll_unpin(&mut cx).is_pending()); // leads; its work never finishes
    /// assert!(waiter.poll_unpin(&mut cx).is_pending()); // joins the flight
    /// drop(leader); // a timeout, a client gone
    /// assert_eq!(waiter.poll_unpin(&mut cx), Poll::Ready(42)); // took over, ran its own `f`
    /// assert_eq!(group.in_flight(), 0);
    /// ```
    pub fn run<F, Fut>(&self, key: K, f: F) -> Run<'_, K, T, F>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
        T: Clone,
    {
        Run {
            fut: None,
            seat: Seat {
                group: self,
                role: Role::Start,
                leave: Self::leave,
            },
            key: Some(key),
            f: Some(f),
        }
    }

    /// Makes later calls for `key` start a new flight instead of joining the one in progress
    /// (Go's `Forget`). The flight in progress runs on, and the calls already waiting for it
    /// still get its output. Does nothing if no flight for `key` is in progress.
    ///
    /// ```
    /// use std::task::Context;
    /// use futures::{future, task::noop_waker_ref, FutureExt};
    /// use taskgroup::SingleFlight;
    ///
    /// let group = SingleFlight::new();
    /// let mut cx = Context::from_waker(noop_waker_ref());
    /// let mut stale = Box::pin(group.run("token", future::pending::<u32>));
    /// assert!(stale.poll_unpin(&mut cx).is_pending());
    /// group.forget(&"token");
    /// assert_eq!(group.in_flight(), 0);
    /// // A new call leads a new flight instead of waiting for the stale one.
    /// let fresh = group.run("token", || future::ready(2)).now_or_never();
    /// assert_eq!(fresh, Some(2));
    /// ```
    pub fn forget(&self, key: &K) {
        let mut flights = lock(&self.flights);
        let removed = flights.take(key);
        if let Some(ByKey(flight)) = &removed {
            flight.detached.store(true, Ordering::Relaxed);
        }
        drop(flights);
        drop(removed);
    }

    /// Leads a new flight for `key`, or joins the one in progress (registering `waker`).
    fn join(&self, key: K, waker: &Waker) -> Joined<K, T> {
        // Allocated before locking: the lock covers one insert when nobody else is in flight.
        let mine = Arc::new(Flight {
            key,
            joined: AtomicBool::new(false),
            detached: AtomicBool::new(false),
            state: Mutex::new(State::new()),
        });
        let mut flights = lock(&self.flights);
        if flights.insert(ByKey(mine.clone())) {
            return Joined::Leader(mine);
        }
        // The set kept its element and dropped ours (a clone of `mine`: no key dropped here).
        let theirs = match flights.get(&mine.key) {
            Some(ByKey(theirs)) => theirs.clone(),
            None => unreachable!("the insert found an element for this key"),
        };
        theirs.joined.store(true, Ordering::Relaxed);
        // In the map, so running: a flight leaves the map before it is done or abandoned.
        let node = lock(&theirs.state).push_back(waker.clone());
        drop(flights);
        drop(mine); // our key, dropped after unlocking
        Joined::Waiter(theirs, node)
    }

    /// Takes `flight` out of the map if it is still the key's entry (not forgotten); returns the
    /// element, to be dropped after unlocking.
    // The element hashes and compares by its immutable key only; the flags and the state it
    // holds (interior mutability) never change its hash.
    #[allow(clippy::mutable_key_type)]
    fn detach(flights: &mut HashSet<ByKey<K, T>>, flight: &Flight<K, T>) -> Option<ByKey<K, T>> {
        if flight.detached.swap(true, Ordering::Relaxed) {
            None
        } else {
            flights.take(&flight.key)
        }
    }

    /// The leader's work finished with `output`: publishes it to the waiters and returns the
    /// leader's own copy.
    fn finish(&self, flight: Arc<Flight<K, T>>, output: T) -> T
    where
        T: Clone,
    {
        let mut flights = lock(&self.flights);
        let removed = Self::detach(&mut flights, &flight);
        let joined = flight.joined.load(Ordering::Relaxed);
        drop(flights);
        drop(removed);
        if !joined {
            return output; // nobody ever waited: the flight's lock is never taken
        }
        // Out of the map: no new waiter can join, only the ones queued can leave.
        let mut state = lock(&flight.state);
        let nodes = std::mem::take(&mut state.nodes);
        state.head = NIL;
        state.tail = NIL;
        if nodes.is_empty() {
            state.outcome = Outcome::Done {
                value: None,
                readers: 0,
            };
            drop(state);
            return output;
        }
        let shared = std::sync::Arc::new(output);
        state.outcome = Outcome::Done {
            value: Some(shared.clone()),
            readers: nodes.len(),
        };
        drop(state);
        for (_, node) in nodes {
            if let Some(waker) = node.waker {
                waker.wake();
            }
        }
        std::sync::Arc::try_unwrap(shared).unwrap_or_else(|shared| T::clone(&shared))
    }

    /// The leader left without an output (dropped, or its work panicked), or the promoted waiter
    /// `leaving` was dropped before it took over: promotes the longest-waiting waiter, or takes
    /// the flight out of the map if nobody waits.
    fn hand_over(&self, flight: &Flight<K, T>, leaving: Option<usize>) {
        let mut flights = lock(&self.flights);
        if !flight.joined.load(Ordering::Relaxed) {
            let removed = Self::detach(&mut flights, flight);
            drop(flights);
            drop(removed);
            return;
        }
        let mut state = lock(&flight.state);
        let left = leaving.map(|key| state.nodes.remove(key));
        let (woken, removed) = match state.promote_head() {
            Some(waker) => (waker, None),
            None => (None, Self::detach(&mut flights, flight)),
        };
        drop(state);
        drop(flights);
        drop(left);
        drop(removed);
        if let Some(waker) = woken {
            waker.wake();
        }
    }
}

impl<K, T> Flight<K, T> {
    /// A waiter's poll: the output if the flight is done, `Promoted` if it must take over,
    /// otherwise its waker is stored (the one it replaces dropped after unlocking).
    fn poll_wait(&self, node: usize, waker: &Waker) -> Waited<T> {
        let mut state = lock(&self.state);
        if let Outcome::Done { value, readers } = &mut state.outcome {
            *readers -= 1;
            let value = if *readers == 0 {
                value.take()
            } else {
                value.clone()
            };
            drop(state);
            return Waited::Value(value.expect("a done flight holds its output for its readers"));
        }
        let own = &mut state.nodes[node];
        if own.promoted {
            let own = state.nodes.remove(node);
            drop(state);
            drop(own);
            return Waited::Promoted;
        }
        let old = match &own.waker {
            Some(stored) if stored.will_wake(waker) => None,
            _ => own.waker.replace(waker.clone()),
        };
        drop(state);
        drop(old);
        Waited::Pending
    }
}

/// The work a [`Run`] calls: a `FnOnce() -> impl Future<Output = T>`, implemented for every
/// such closure (users never implement it).
///
/// [`Run`] names its work's future through this trait instead of a type parameter of its own:
/// with `F` and `Fut` apart, the compiler cannot always prove an `async` block holding a `Run`
/// `Send` when the closure returns an `async` block that borrows ("one type is more general than
/// the other", inside `join!` or a generic `async fn`).
pub trait Work: sealed::Sealed {
    /// What the work's future yields.
    type Output;
    /// The future the work returns.
    type Future: Future<Output = Self::Output>;
    /// Calls the work.
    fn call(self) -> Self::Future;
}

impl<F, Fut> Work for F
where
    F: FnOnce() -> Fut,
    Fut: Future,
{
    type Output = Fut::Output;
    type Future = Fut;
    fn call(self) -> Fut {
        self()
    }
}

mod sealed {
    pub trait Sealed {}
    impl<F, Fut> Sealed for F
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future,
    {
    }
}

/// A call's part in a flight; what dropping the call must undo.
enum Role<K, T> {
    /// Not polled yet.
    Start,
    Waiting {
        flight: Arc<Flight<K, T>>,
        node: usize,
    },
    Leading {
        flight: Arc<Flight<K, T>>,
    },
    /// Returned its output (or panicked).
    Finished,
}

/// A call's role with the group it plays it in; dropping it leaves the flight cleanly.
///
/// The struct carries no `K: Hash + Eq` bound (its drop reaches the map through `leave`, a
/// function instantiated where the bound is known): a bound on a future's type trips the
/// compiler's `Send` inference for async blocks that hold it ("one type is more general than
/// the other").
struct Seat<'a, K, T> {
    group: &'a SingleFlight<K, T>,
    role: Role<K, T>,
    leave: fn(&SingleFlight<K, T>, Role<K, T>),
}

impl<K, T> Seat<'_, K, T> {
    /// Leaves the flight: a waiter leaves the queue (or, if promoted, hands the turn on), a
    /// leader hands the work over.
    fn leave(&mut self) {
        let role = std::mem::replace(&mut self.role, Role::Finished);
        (self.leave)(self.group, role);
    }
}

impl<K: Hash + Eq, T> SingleFlight<K, T> {
    /// What dropping a call in `role` undoes; see [`Seat::leave`].
    fn leave(&self, role: Role<K, T>) {
        match role {
            Role::Start | Role::Finished => {}
            Role::Leading { flight } => self.hand_over(&flight, None),
            Role::Waiting { flight, node } => {
                let mut state = lock(&flight.state);
                let promoted =
                    matches!(state.outcome, Outcome::Running) && state.nodes[node].promoted;
                match &mut state.outcome {
                    Outcome::Done { value, readers } => {
                        *readers -= 1;
                        let last = if *readers == 0 { value.take() } else { None };
                        drop(state);
                        drop(last);
                    }
                    Outcome::Running if promoted => {
                        // Only this call changes a promoted node, and the flight cannot finish
                        // before it leads: the state is the same under the map's lock.
                        drop(state);
                        self.hand_over(&flight, Some(node));
                    }
                    Outcome::Running => {
                        state.unlink(node);
                        let own = state.nodes.remove(node);
                        drop(state);
                        drop(own);
                    }
                }
            }
        }
    }
}

impl<K, T> Drop for Seat<'_, K, T> {
    fn drop(&mut self) {
        self.leave();
    }
}

pin_project! {
    /// Future returned by [`SingleFlight::run`]: the output of the key's flight, run by this
    /// call or by the one it joined.
    ///
    /// # Cancel safety
    ///
    /// Dropping it loses nothing for the other callers: a waiter leaves the queue; a leader's
    /// work is dropped and the longest-waiting caller takes over with its own `f`.
    #[must_use = "futures do nothing unless polled"]
    pub struct Run<'a, K, T, F>
    where
        F: Work,
    {
        // Declared first, so that it is dropped before the seat hands the work over: the old
        // work is gone before a new leader starts.
        #[pin]
        fut: Option<F::Future>,
        seat: Seat<'a, K, T>,
        key: Option<K>,
        f: Option<F>,
    }
}

impl<K, T, F> Future for Run<'_, K, T, F>
where
    K: Hash + Eq,
    T: Clone,
    F: Work<Output = T>,
{
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut this = self.project();
        loop {
            match &this.seat.role {
                Role::Start => {
                    let key = this.key.take().expect("a new call holds its key");
                    match this.seat.group.join(key, cx.waker()) {
                        Joined::Leader(flight) => {
                            this.seat.role = Role::Leading { flight };
                            start_work(this.f, this.fut.as_mut(), this.seat);
                        }
                        Joined::Waiter(flight, node) => {
                            this.seat.role = Role::Waiting { flight, node };
                            return Poll::Pending;
                        }
                    }
                }
                Role::Waiting { flight, node } => match flight.poll_wait(*node, cx.waker()) {
                    Waited::Pending => return Poll::Pending,
                    Waited::Value(shared) => {
                        // The read is counted: nothing left to undo.
                        this.seat.role = Role::Finished;
                        *this.f = None;
                        return Poll::Ready(
                            std::sync::Arc::try_unwrap(shared)
                                .unwrap_or_else(|shared| T::clone(&shared)),
                        );
                    }
                    Waited::Promoted => {
                        let flight = flight.clone();
                        // The promoted node is gone; a leader's seat from here on.
                        this.seat.role = Role::Leading { flight };
                        start_work(this.f, this.fut.as_mut(), this.seat);
                    }
                },
                Role::Leading { .. } => {
                    return match poll_catching(this.fut.as_mut(), cx) {
                        Poll::Pending => Poll::Pending,
                        Poll::Ready(supervise::Outcome::Done(output)) => {
                            let Role::Leading { flight } =
                                std::mem::replace(&mut this.seat.role, Role::Finished)
                            else {
                                unreachable!("matched above")
                            };
                            Poll::Ready(this.seat.group.finish(flight, output))
                        }
                        Poll::Ready(supervise::Outcome::Panicked(payload)) => {
                            this.seat.leave();
                            resume_unwind(payload);
                        }
                        Poll::Ready(supervise::Outcome::Dropped) => {
                            unreachable!("poll_catching reports a value or a panic")
                        }
                    };
                }
                Role::Finished => panic!("`Run` polled after it completed"),
            }
        }
    }
}

/// Calls a new leader's `f` and stores its future; a panic in `f` hands the work over (the
/// seat leaves) and resumes. Written at the two places a call starts leading, so that `poll`
/// never looks at the future through a shared reference (which Stacked Borrows counts as a
/// read of a self-referential `async` block, invalidating its inner borrows).
fn start_work<K, T, F: Work>(
    f: &mut Option<F>,
    mut fut: Pin<&mut Option<F::Future>>,
    seat: &mut Seat<'_, K, T>,
) {
    let f = f.take().expect("a leader calls its `f` once");
    match catch_unwind(AssertUnwindSafe(|| f.call())) {
        Ok(work) => fut.set(Some(work)),
        Err(payload) => {
            seat.leave();
            resume_unwind(payload);
        }
    }
}

impl<K, T> Default for SingleFlight<K, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, T> fmt::Debug for SingleFlight<K, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SingleFlight")
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

impl<K, T, F: Work> fmt::Debug for Run<'_, K, T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = match &self.seat.role {
            Role::Start => "not polled",
            Role::Waiting { .. } => "waiting",
            Role::Leading { .. } => "leading",
            Role::Finished => "finished",
        };
        f.debug_struct("Run").field("role", &role).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use futures::task::noop_waker_ref;
    use futures::FutureExt;

    fn poll<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
        fut.poll_unpin(&mut Context::from_waker(noop_waker_ref()))
    }

    #[test]
    fn the_longest_waiting_caller_takes_over_and_the_others_wait_for_it() {
        let group = SingleFlight::new();
        let mut leader = Box::pin(group.run(1, futures::future::pending::<u32>));
        let mut first = Box::pin(group.run(1, || async { 10 }));
        let mut second = Box::pin(group.run(1, || async { 20 }));
        assert!(poll(&mut leader).is_pending());
        assert!(poll(&mut first).is_pending());
        assert!(poll(&mut second).is_pending());
        drop(leader);
        assert!(
            poll(&mut second).is_pending(),
            "the second waits for the first"
        );
        assert_eq!(poll(&mut first), Poll::Ready(10));
        assert_eq!(poll(&mut second), Poll::Ready(10));
        assert_eq!(group.in_flight(), 0);
    }

    #[test]
    fn a_promoted_caller_dropped_before_its_turn_passes_the_turn_on() {
        let group = SingleFlight::new();
        let mut leader = Box::pin(group.run(1, futures::future::pending::<u32>));
        let mut first = Box::pin(group.run(1, || async { 10 }));
        let mut second = Box::pin(group.run(1, || async { 20 }));
        assert!(poll(&mut leader).is_pending());
        assert!(poll(&mut first).is_pending());
        assert!(poll(&mut second).is_pending());
        drop(leader);
        drop(first);
        assert_eq!(poll(&mut second), Poll::Ready(20));
        assert_eq!(group.in_flight(), 0);
        let state = format!("{group:?}");
        assert_eq!(state, "SingleFlight { in_flight: 0 }");
    }

    #[test]
    fn a_forgotten_flight_ending_leaves_the_new_one_in_the_map() {
        let group = SingleFlight::new();
        let mut old = Box::pin(group.run(1, || async { 1 }.boxed()));
        let _ = poll(&mut old);
        let mut old_pending = Box::pin(group.run(2, || futures::future::pending().boxed()));
        assert!(poll(&mut old_pending).is_pending());
        group.forget(&2);
        let mut new = Box::pin(group.run(2, || futures::future::pending().boxed()));
        assert!(poll(&mut new).is_pending());
        drop(old_pending); // abandons the forgotten flight: must not remove the new one
        assert_eq!(group.in_flight(), 1);
        drop(new);
        assert_eq!(group.in_flight(), 0);
    }
}
