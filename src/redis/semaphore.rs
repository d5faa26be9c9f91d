//! [`RedisSemaphore`], its permits and its acquire futures.
//!
//! One [`Core`] per semaphore object: the connection ([`Backend`]), the table of this object's
//! tickets (waiting or holding, each a lease in Redis) and two background tasks, started on
//! demand and stopped when the semaphore is dropped:
//!
//! - the *renewer*, while the object has tickets: every `ttl / 3`, one script call extends
//!   every live lease of the object, and reports where each ticket stands (the safety net for
//!   a lost wake-up: a waiter granted meanwhile is found here);
//! - the *listener*, once a waiter had to queue: a pub/sub connection on the semaphore's
//!   channel, where every script that grants permits publishes who got them. A granted waiter
//!   resolves without another round trip. After it (re)subscribes it asks the renewer for a
//!   check at once, so a grant published while it was not listening is found.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fmt;
use std::future::{poll_fn, Future};
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_core::Stream;

use super::backend::{spawn_detached, Backend};
use super::{BackendError, OnBackendError};
use crate::sync::lock;
use crate::time::timer::{self, Timer};
use crate::{AcquireError, CancelToken, TryAcquireError};

const SCRIPT: &str = include_str!("semaphore.lua");

/// A weighted, FIFO-fair semaphore shared by every process that uses the same name on the same
/// Redis server: at most `total` permits held at once across all of them.
///
/// The local [`Semaphore`](crate::Semaphore)'s rules, kept in Redis by one Lua script: permits
/// go to waiters in the order their tickets reached Redis; a waiter at the head that needs more
/// permits than are free blocks the ones behind it (a large request is not starved by small
/// ones); [`try_acquire`](Self::try_acquire) fails while anyone is queued (no barging).
///
/// # Leases
///
/// Every ticket, waiting or holding, is a lease with a time-to-live ([`with_lease`](
/// Self::with_lease), default 30 s) on Redis's clock. While a `RedisSemaphore` has tickets, one
/// background task renews all of them in one round trip every `ttl / 3` (10 s by default): one
/// renewal per semaphore object, not per permit. A process that dies, hangs or loses its
/// network stops renewing: its permits come back, and its waiters leave the line, once their
/// leases run out (at most `ttl` after the last renewal, seen by the next script call of any
/// client; the others' renewals make one at least every `ttl / 3`).
///
/// **What is guaranteed**: at most `total` permits are held at once *as Redis counts them*. A
/// holder keeps its permits as long as a renewal reaches Redis at least once per `ttl`: with
/// renewals every `ttl / 3`, it survives two missed renewals, that is a pause, a frozen
/// executor or an unreachable server of up to `2/3 × ttl` (20 s by default) minus one round
/// trip. **Not guaranteed**: a holder stalled longer than that (a stop-the-world pause, a
/// suspended VM, a blocked executor thread, a network partition) can lose its lease while its
/// code still runs; others are then granted its permits, and for a while more than `total`
/// calls run. Pick a `ttl` well above the longest stall you expect, and above the timeout
/// (`with_timeout`, the time a renewal may take). The same holds when the server loses its data
/// (a restart without persistence, a failover to a replica that had not yet received the
/// writes): it forgets the permits held, and new acquires are granted beside the holders that
/// still run. [`RedisSemaphorePermit::is_lost`] tells, after the fact (at the next renewal),
/// that a lease was found gone.
///
/// # Waiting
///
/// A queued waiter learns of its grant through Redis pub/sub: the script call that frees the
/// permits (a release, an expiry, a resize) grants them to the head of the line and publishes
/// the granted tickets on the semaphore's channel, where one subscriber connection per
/// semaphore object hears it and wakes exactly the granted waiters: no polling, no round trip
/// after the wake-up, no stampede. A message can only be lost with its connection (Redis
/// pub/sub is at-most-once); the subscriber then reconnects and checks at once, and the
/// renewal every `ttl / 3` checks anyway (the safety net). A server that refuses the
/// subscription (an ACL without `SUBSCRIBE`) degrades to a check every 0.5 s (or every
/// `with_timeout`, if shorter) while this object has waiters. Keyspace notifications would need
/// a server setting; a blocking list pop would hold a connection per waiter.
///
/// # Releasing
///
/// Dropping a permit releases it with one script call sent from a detached task on the
/// connection's runtime (the dropping thread never blocks), which grants the freed permits to
/// the next in line at once. A process that exits right after dropping a permit, before that
/// task ran, gives it back when its lease runs out, at most `ttl` later.
///
/// # Background tasks
///
/// The renewer and the subscriber run as detached tasks on the runtime the connection runs on,
/// so there is no spawner to pass: tokio's when a tokio runtime is current at the acquire that
/// starts them (`redis-tokio`), smol's global executor otherwise (`redis-smol`, which needs no
/// runtime of yours). The renewer runs while the object has tickets, the subscriber once a
/// waiter had to queue; both stop when the `RedisSemaphore` is dropped. A task that dies with
/// its runtime is started again by the next ticket (the first round trip on a new runtime may
/// fail with `Backend`: the connection died with the old runtime, and the next one reconnects).
///
/// # Failures
///
/// A server that cannot be reached or answers later than [`with_timeout`](Self::with_timeout)
/// (default 1 s, connecting included) fails the acquire with [`AcquireError::Backend`] (or
/// [`TryAcquireError::Backend`]): never a hang, never a grant Redis did not make. Waiters
/// already queued fail the same way when a renewal fails (at once when the subscriber
/// connection drops, within `ttl / 3` plus the timeout otherwise).
/// [`on_backend_error(OnBackendError::FailOpen)`](Self::on_backend_error) grants an unbacked
/// permit instead. A broken connection is reopened by the next call. An acquire whose answer
/// never came may still run on the server later (a frozen server thawing): its ticket is
/// removed by a release sent after it, or, if that is lost too, nobody renews it and its lease
/// gives its permits back, at most `ttl` later. Either way no permit is lost for good and none
/// is granted twice.
///
/// # Measurements
///
/// `cargo bench -p taskgroup-benches --features redis --bench redis_semaphore`, one run on the
/// loaded 2-core machine against a local `redis-server`, beside the hand-rolled counting
/// semaphore (`INCRBY`, `DECRBY` and retry after 1 ms when over the total; release with
/// `DECRBY`): an acquire and its release with permits free take 98 µs (the peer 77 µs, both
/// its round trips awaited; the local `Semaphore` 28 ns): the script does more than `INCRBY`.
/// 32 tasks on two clients sharing 4 permits, each held 100 µs: 2 281 acquisitions/s with 2.00
/// Redis commands per acquisition, its acquire and its release (the peer 1 862/s with 12.1, its
/// retries), waits of 11.9 ms at the median and 19 ms at p99 (the peer 0.12 ms and 152 ms: no
/// order, so some waiters starve while others barge), never more than 4 held.
///
/// # Redis keys
///
/// A semaphore named `name` keeps its state in `taskgroup:{name}:sem`, `:queue`, `:leases` and
/// `:permits`, and publishes on the channel `taskgroup:{name}:wake`. The `{name}` hash tag keeps
/// the keys in one Redis Cluster slot.
///
/// # Examples
///
/// ```no_run
/// use taskgroup::RedisSemaphore;
///
/// # async fn call_the_bank() {}
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// // In every replica: together they make at most 5 calls at once.
/// let bank = RedisSemaphore::new("redis://127.0.0.1:6379", "bank-api", 5)?;
/// let permit = bank.acquire().await?; // one round trip when a permit is free
/// call_the_bank().await;
/// drop(permit); // released in the background, the next in line is woken
/// # Ok(()) }
/// ```
pub struct RedisSemaphore {
    core: Arc<Core>,
}

struct Core {
    backend: Backend,
    name: Box<str>,
    keys: [Box<str>; 4],
    channel: Box<str>,
    /// This object's part of every ticket id: random, so that no two objects share one.
    owner: Box<str>,
    total: usize,
    ttl: Duration,
    timeout: Duration,
    on_error: OnBackendError,
    local: Mutex<Local>,
    /// Stops the background tasks when the semaphore is dropped.
    stop: CancelToken,
}

#[derive(Default)]
struct Local {
    next: u64,
    tickets: HashMap<u64, Ticket>,
    /// The total the last answer or message carried (the client's own before any).
    known_total: usize,
    /// Whether an answer or message carried a total other than the client's own (a resize):
    /// from then on a request above `known_total` is sent, for the script to judge, since
    /// another client may have grown the total since.
    resized: bool,
    closed: bool,
    renewer: bool,
    renewer_waker: Option<Waker>,
    check_now: bool,
    listener: bool,
}

impl Local {
    /// Notes the total an answer or message carried; `own` is the client's.
    fn learn(&mut self, total: usize, own: usize) {
        self.known_total = total;
        self.resized |= total != own;
    }

    /// `TooLarge` without a round trip: only against a total that no resize may have changed
    /// unseen (the client's own, while no answer carried another).
    fn too_large(&self, n: usize) -> Option<usize> {
        let total = self.known_total;
        (!self.resized && total > 0 && n > total).then_some(total)
    }
}

struct Ticket {
    n: usize,
    state: TicketState,
    /// Bumped at each (re)send: a renewal's answer about an older send is ignored.
    sent: u32,
    waker: Option<Waker>,
}

#[derive(Debug)]
enum TicketState {
    /// The acquire's round trip is in flight.
    Sending,
    /// In line in Redis.
    Queued,
    /// Granted (by a message or a renewal); the acquire future has not taken it yet.
    Granted,
    /// Held by a permit guard. `lost`: a renewal found the lease gone.
    Held {
        lost: bool,
    },
    /// Left the line without a grant (its lease ran out, or the answer was lost): the acquire
    /// sends it again, at the back.
    Gone,
    Failed(AcquireError),
}

impl RedisSemaphore {
    /// A semaphore named `name` on the server at `url` (`redis://host:port/db`, with
    /// `redis://user:password@host:port` or `rediss://` where the server needs them), with
    /// `total` permits. Every process that uses the same name on the same server shares them;
    /// give them all the same `total` (a total stored by [`resize`](Self::resize) wins over
    /// every client's own).
    ///
    /// Nothing is sent yet: the connection opens at the first acquire.
    ///
    /// # Errors
    ///
    /// [`BackendError`] if `url` is not a Redis URL.
    ///
    /// # Panics
    ///
    /// If `name` holds `{` or `}` (it is the keys' hash tag), or `total` is above 2^53.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::RedisSemaphore;
    ///
    /// let sem = RedisSemaphore::new("redis://127.0.0.1:6379", "bank-api", 5).unwrap();
    /// assert_eq!(sem.name(), "bank-api");
    /// assert!(RedisSemaphore::new("not a url", "bank-api", 5).is_err());
    /// ```
    #[track_caller]
    pub fn new(url: &str, name: &str, total: usize) -> Result<Self, BackendError> {
        assert!(
            !name.contains(['{', '}']),
            "RedisSemaphore::new: the name {name:?} must not hold `{{` or `}}`: it is the hash \
             tag of the semaphore's keys"
        );
        check_total("new", total);
        let backend = Backend::open(url, "semaphore", SCRIPT)?;
        let key = |part: &str| format!("taskgroup:{{{name}}}:{part}").into_boxed_str();
        Ok(Self {
            core: Arc::new(Core {
                backend,
                name: name.into(),
                keys: [key("sem"), key("queue"), key("leases"), key("permits")],
                channel: key("wake"),
                owner: owner_id().into(),
                total,
                ttl: Duration::from_secs(30),
                timeout: Duration::from_secs(1),
                on_error: OnBackendError::FailClosed,
                local: Mutex::new(Local {
                    known_total: total,
                    ..Local::default()
                }),
                stop: CancelToken::new(),
            }),
        })
    }

    fn configure(&mut self, what: &str) -> &mut Core {
        Arc::get_mut(&mut self.core).unwrap_or_else(|| {
            panic!("RedisSemaphore::{what}: configure a semaphore before its first acquire")
        })
    }

    /// Every ticket's time-to-live in Redis (default 30 s), renewed every `ttl / 3` while held
    /// or queued. A process that dies gives its permits back at most `ttl` after its last
    /// renewal; a live holder stalled longer than `2/3 × ttl` may lose its lease (see
    /// [Leases](Self#leases)).
    ///
    /// # Panics
    ///
    /// If `ttl` is shorter than 3 ms, or set after the semaphore was first used.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # use taskgroup::RedisSemaphore;
    /// let sem = RedisSemaphore::new("redis://127.0.0.1:6379", "bank-api", 5)
    ///     .unwrap()
    ///     .with_lease(Duration::from_secs(6)); // renewed every 2 s; a dead holder's permits back within 6 s
    /// # drop(sem);
    /// ```
    #[track_caller]
    pub fn with_lease(mut self, ttl: Duration) -> Self {
        assert!(
            ttl >= Duration::from_millis(3),
            "RedisSemaphore::with_lease: the lease must last at least 3 ms"
        );
        self.configure("with_lease").ttl = ttl;
        self
    }

    /// How long one round trip may take, connecting included, before it fails with a
    /// [`BackendError`] (default 1 s). Keep it well below a third of the lease.
    ///
    /// # Panics
    ///
    /// If set after the semaphore was first used.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # use taskgroup::RedisSemaphore;
    /// let sem = RedisSemaphore::new("redis://127.0.0.1:6379", "bank-api", 5)
    ///     .unwrap()
    ///     .with_timeout(Duration::from_millis(200));
    /// # drop(sem);
    /// ```
    #[track_caller]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.configure("with_timeout").timeout = timeout;
        self
    }

    /// What acquires give while the server cannot be reached or answers late: an error (the
    /// default, [`OnBackendError::FailClosed`]) or an unbacked permit
    /// ([`OnBackendError::FailOpen`]: calls go through unlimited).
    ///
    /// # Panics
    ///
    /// If set after the semaphore was first used.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{OnBackendError, RedisSemaphore};
    ///
    /// # futures::executor::block_on(async {
    /// // Nothing listens on port 1.
    /// let sem = RedisSemaphore::new("redis://127.0.0.1:1", "api", 5)
    ///     .unwrap()
    ///     .on_backend_error(OnBackendError::FailOpen);
    /// let permit = sem.acquire().await.unwrap(); // let through, unlimited
    /// assert_eq!(permit.num_permits(), 1);
    /// # });
    /// ```
    #[track_caller]
    pub fn on_backend_error(mut self, on_error: OnBackendError) -> Self {
        self.configure("on_backend_error").on_error = on_error;
        self
    }

    /// The semaphore's name.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// Waits for one permit; see [`acquire_many`](Self::acquire_many).
    ///
    /// # Errors
    ///
    /// As [`acquire_many`](Self::acquire_many).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire_many`](Self::acquire_many).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use taskgroup::RedisSemaphore;
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let sem = RedisSemaphore::new("redis://127.0.0.1:6379", "bank-api", 5)?;
    /// let _call = sem.acquire().await?;
    /// # Ok(()) }
    /// ```
    pub fn acquire(&self) -> RedisSemaphoreAcquire<'_> {
        self.acquire_many(1)
    }

    /// Waits for `n` permits at once: takes a ticket at the first poll (one round trip), and
    /// resolves when Redis grants it (at once if the permits are free and nobody is queued).
    /// `n == 0` is ready at once with an empty permit, without a round trip.
    ///
    /// # Errors
    ///
    /// - [`AcquireError::TooLarge`] if `n` is above the non-zero total: at once, without a
    ///   round trip, against the client's own total (until an answer shows that a `resize`
    ///   stored another: from then on the script judges, after one round trip, since another
    ///   client may grow it again); while it waits, if a resize leaves a non-zero total below
    ///   `n`.
    /// - [`AcquireError::Closed`] if [`close`](Self::close) was called on this object.
    /// - [`AcquireError::Backend`] if the server cannot be reached or does not answer in time
    ///   (unless the semaphore fails open), also while queued (see [Failures](Self#failures)).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped future loses nothing and blocks no one. Its ticket is removed
    /// (one script call from a detached task); if it had been granted meanwhile, the permits
    /// are released and go to the next in line. Dropped with its round trip in flight, the
    /// detached task waits for the answer first. Dropped before its first poll, it took no
    /// ticket.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{AcquireError, RedisSemaphore};
    ///
    /// # futures::executor::block_on(async {
    /// let sem = RedisSemaphore::new("redis://127.0.0.1:1", "api", 5).unwrap();
    /// // Refused before any round trip (nothing listens on port 1).
    /// assert_eq!(
    ///     sem.acquire_many(6).await.unwrap_err(),
    ///     AcquireError::TooLarge { requested: 6, total: 5 }
    /// );
    /// # });
    /// ```
    pub fn acquire_many(&self, n: usize) -> RedisSemaphoreAcquire<'_> {
        RedisSemaphoreAcquire {
            inner: Acquiring::new(&self.core, n),
            sem: self,
        }
    }

    /// [`acquire`](Self::acquire) for an `Arc<RedisSemaphore>`: the future and the permit are
    /// `'static`, to move into spawned tasks.
    ///
    /// # Errors
    ///
    /// As [`acquire_many`](Self::acquire_many).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire_many`](Self::acquire_many).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// # use taskgroup::RedisSemaphore;
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let sem = Arc::new(RedisSemaphore::new("redis://127.0.0.1:6379", "bank-api", 5)?);
    /// let permit = sem.clone().acquire_owned().await?;
    /// tokio::spawn(async move {
    ///     // ... call the bank ...
    ///     drop(permit);
    /// });
    /// # Ok(()) }
    /// ```
    pub fn acquire_owned(self: Arc<Self>) -> RedisSemaphoreAcquireOwned {
        self.acquire_many_owned(1)
    }

    /// [`acquire_many`](Self::acquire_many) for an `Arc<RedisSemaphore>`.
    ///
    /// # Errors
    ///
    /// As [`acquire_many`](Self::acquire_many).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire_many`](Self::acquire_many).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// # use taskgroup::RedisSemaphore;
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let sem = Arc::new(RedisSemaphore::new("redis://127.0.0.1:6379", "bank-api", 5)?);
    /// let batch = sem.clone().acquire_many_owned(3).await?;
    /// assert_eq!(batch.num_permits(), 3);
    /// # Ok(()) }
    /// ```
    pub fn acquire_many_owned(self: Arc<Self>, n: usize) -> RedisSemaphoreAcquireOwned {
        RedisSemaphoreAcquireOwned {
            inner: Acquiring::new(&self.core, n),
            sem: self,
        }
    }

    /// Takes one permit if one is free and nobody is queued; see
    /// [`try_acquire_many`](Self::try_acquire_many).
    ///
    /// # Errors
    ///
    /// As [`try_acquire_many`](Self::try_acquire_many).
    ///
    /// # Cancel safety
    ///
    /// As [`try_acquire_many`](Self::try_acquire_many).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use taskgroup::{RedisSemaphore, TryAcquireError};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let sem = RedisSemaphore::new("redis://127.0.0.1:6379", "bank-api", 5)?;
    /// match sem.try_acquire().await {
    ///     Ok(_permit) => { /* call the bank */ }
    ///     Err(TryAcquireError::NoPermits) => { /* busy: do something else */ }
    ///     Err(other) => return Err(other.into()),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn try_acquire(&self) -> Result<RedisSemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(n_one()).await
    }

    /// Takes `n` permits if they are free now and nobody is queued (never barging past a
    /// waiter of any client): one round trip, never waits for permits. `n == 0` succeeds at
    /// once without a round trip (unless closed).
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] if the permits are not free or someone is queued;
    /// `TooLarge`, `Closed` and `Backend` as [`acquire_many`](Self::acquire_many).
    ///
    /// # Cancel safety
    ///
    /// Dropped with its round trip in flight, a detached task waits for the answer and
    /// releases what it took: nothing is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{RedisSemaphore, TryAcquireError};
    ///
    /// # futures::executor::block_on(async {
    /// let sem = RedisSemaphore::new("redis://127.0.0.1:1", "api", 2).unwrap();
    /// assert_eq!(sem.try_acquire_many(0).await.unwrap().num_permits(), 0);
    /// assert!(matches!(sem.try_acquire_many(3).await, Err(TryAcquireError::TooLarge { .. })));
    /// assert!(matches!(sem.try_acquire_many(1).await, Err(TryAcquireError::Backend(_))));
    /// # });
    /// ```
    pub async fn try_acquire_many(
        &self,
        n: usize,
    ) -> Result<RedisSemaphorePermit<'_>, TryAcquireError> {
        let held = try_acquire(&self.core, n).await?;
        Ok(RedisSemaphorePermit { sem: self, held })
    }

    /// [`try_acquire`](Self::try_acquire) for an `Arc<RedisSemaphore>`.
    ///
    /// # Errors
    ///
    /// As [`try_acquire_many`](Self::try_acquire_many).
    ///
    /// # Cancel safety
    ///
    /// As [`try_acquire_many`](Self::try_acquire_many).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// # use taskgroup::RedisSemaphore;
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let sem = Arc::new(RedisSemaphore::new("redis://127.0.0.1:6379", "bank-api", 5)?);
    /// let permit = sem.clone().try_acquire_owned().await?;
    /// # Ok(()) }
    /// ```
    pub async fn try_acquire_owned(
        self: Arc<Self>,
    ) -> Result<OwnedRedisSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned(n_one()).await
    }

    /// [`try_acquire_many`](Self::try_acquire_many) for an `Arc<RedisSemaphore>`.
    ///
    /// # Errors
    ///
    /// As [`try_acquire_many`](Self::try_acquire_many).
    ///
    /// # Cancel safety
    ///
    /// As [`try_acquire_many`](Self::try_acquire_many).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// # use taskgroup::RedisSemaphore;
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let sem = Arc::new(RedisSemaphore::new("redis://127.0.0.1:6379", "bank-api", 5)?);
    /// let permits = sem.clone().try_acquire_many_owned(2).await?;
    /// # Ok(()) }
    /// ```
    pub async fn try_acquire_many_owned(
        self: Arc<Self>,
        n: usize,
    ) -> Result<OwnedRedisSemaphorePermit, TryAcquireError> {
        let held = try_acquire(&self.core, n).await?;
        Ok(OwnedRedisSemaphorePermit { sem: self, held })
    }

    /// Changes the total for every client: stores it with the semaphore in Redis, where every
    /// script call of every process reads it from then on, in place of the total each was
    /// created with. Growing grants waiters at once; after a shrink, permits already held stay
    /// valid and new grants wait until enough come back. Queued waiters (of any client) that
    /// need more than a non-zero new total fail with `TooLarge`; a total of 0 pauses the
    /// semaphore. The stored total stays until `resize` is called again.
    ///
    /// # Errors
    ///
    /// [`BackendError`] if the server cannot be reached or does not answer in time (nothing was
    /// changed, or the change landed and its answer was lost).
    ///
    /// # Panics
    ///
    /// If `total` is above 2^53.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use taskgroup::RedisSemaphore;
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let sem = RedisSemaphore::new("redis://127.0.0.1:6379", "bank-api", 5)?;
    /// sem.resize(10).await?; // the bank raised our quota: every replica sees 10
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn resize(
        &self,
        total: usize,
    ) -> impl Future<Output = Result<(), BackendError>> + Send + 'static {
        check_total("resize", total);
        let core = self.core.clone();
        async move {
            let _: i64 = core.eval("resize", &[total.to_string()]).await?;
            lock(&core.local).learn(total, usize::MAX);
            Ok(())
        }
    }

    /// The permits free now across every client (the total minus the permits held; 0 while a
    /// shrink is still owed), as Redis counts them: one round trip.
    ///
    /// # Errors
    ///
    /// [`BackendError`] if the server cannot be reached or does not answer in time.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use taskgroup::RedisSemaphore;
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let sem = RedisSemaphore::new("redis://127.0.0.1:6379", "bank-api", 5)?;
    /// let _permit = sem.acquire().await?;
    /// assert!(sem.available_permits().await? <= 4);
    /// # Ok(()) }
    /// ```
    pub async fn available_permits(&self) -> Result<usize, BackendError> {
        let (total, used, _queued): (i64, i64, i64) = self.core.eval("state", &[]).await?;
        lock(&self.core.local).learn(to_usize(total), self.core.total);
        Ok(to_usize(total.saturating_sub(used)))
    }

    /// Closes this semaphore object: its pending and later acquires fail with
    /// [`AcquireError::Closed`] (their tickets are removed from Redis); permits already out stay
    /// valid. Other clients of the same name are not affected: closing is a local shutdown
    /// (a flag stored in Redis would outlive this deployment and block the next one).
    ///
    /// # Examples
    ///
    /// ```
    /// use taskgroup::{AcquireError, RedisSemaphore};
    ///
    /// # futures::executor::block_on(async {
    /// let sem = RedisSemaphore::new("redis://127.0.0.1:1", "api", 5).unwrap();
    /// sem.close();
    /// assert!(sem.is_closed());
    /// assert_eq!(sem.acquire().await.unwrap_err(), AcquireError::Closed);
    /// # });
    /// ```
    pub fn close(&self) {
        let mut wake = Vec::new();
        {
            let mut local = lock(&self.core.local);
            local.closed = true;
            for ticket in local.tickets.values_mut() {
                if matches!(
                    ticket.state,
                    TicketState::Sending | TicketState::Queued | TicketState::Gone
                ) {
                    ticket.state = TicketState::Failed(AcquireError::Closed);
                    wake.extend(ticket.waker.take());
                }
            }
        }
        wake.into_iter().for_each(Waker::wake);
    }

    /// Whether [`close`](Self::close) was called on this object.
    pub fn is_closed(&self) -> bool {
        lock(&self.core.local).closed
    }
}

impl Drop for RedisSemaphore {
    fn drop(&mut self) {
        // No permit or future of this object is left (they borrow it or hold an `Arc` of it):
        // the background tasks stop. Releases in flight finish on their own tasks.
        self.core.stop.cancel();
    }
}

impl fmt::Debug for RedisSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let core = &self.core;
        let local = lock(&core.local);
        let held: usize = local
            .tickets
            .values()
            .filter(|t| matches!(t.state, TicketState::Held { .. }))
            .map(|t| t.n)
            .sum();
        let waiting = local
            .tickets
            .values()
            .filter(|t| !matches!(t.state, TicketState::Held { .. }))
            .count();
        f.debug_struct("RedisSemaphore")
            .field("address", core.backend.address())
            .field("name", &core.name)
            .field("total", &local.known_total)
            .field("held_here", &held)
            .field("waiting_here", &waiting)
            .field("closed", &local.closed)
            .field("lease", &core.ttl)
            .field("timeout", &core.timeout)
            .field(
                "round_trips",
                &core.backend.round_trips.load(Ordering::Relaxed),
            )
            .finish()
    }
}

fn n_one() -> usize {
    1
}

#[track_caller]
fn check_total(what: &str, total: usize) {
    assert!(
        total as u64 <= 1 << 53,
        "RedisSemaphore::{what}: a total of {total} is above 2^53, what Redis's Lua numbers keep \
         exact"
    );
}

fn to_usize(value: i64) -> usize {
    usize::try_from(value).unwrap_or(0)
}

/// 64 random bits (std's per-process random hasher keys, the process id and the time), as hex.
fn owner_id() -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:016x}", hasher.finish())
}

impl Core {
    fn id(&self, ticket: u64) -> String {
        format!("{}:{ticket}", self.owner)
    }

    /// One script call: `op` with its own arguments.
    async fn eval<T: redis::FromRedisValue>(
        &self,
        op: &str,
        args: &[String],
    ) -> Result<T, BackendError> {
        let keys = [&*self.keys[0], &self.keys[1], &self.keys[2], &self.keys[3]];
        let ttl = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
        self.backend
            .eval(
                self.timeout,
                &keys,
                (&*self.channel, op, self.total as u64, ttl, args),
            )
            .await
    }

    /// Registers a ticket for `n` permits, under the lock; returns it, and whether the caller
    /// must start the renewer ([`start_renewer`](Self::start_renewer), after the lock: a
    /// spawn that fails drops the task, whose guard takes the lock).
    fn register(local: &mut Local, n: usize) -> (u64, bool) {
        local.next += 1;
        let ticket = local.next;
        local.tickets.insert(
            ticket,
            Ticket {
                n,
                state: TicketState::Sending,
                sent: 0,
                waker: None,
            },
        );
        let start = !local.renewer;
        local.renewer = true;
        (ticket, start)
    }

    /// Spawns the renewer (its flag already set, under the lock).
    fn start_renewer(self: &Arc<Self>) {
        let mut running = Running(self.clone(), |local| local.renewer = false, true);
        spawn_detached(async move {
            let stop = running.0.stop.clone();
            if stop
                .run_until_cancelled(running.0.clone().renew_loop())
                .await
                .is_some()
            {
                running.disarm(); // it cleared the flag itself, with its last check
            }
        });
    }

    /// Forgets `ticket` here and removes it from Redis, from a detached task (after `before`,
    /// the ticket's acquire still in flight, if any).
    fn release(
        self: &Arc<Self>,
        ticket: u64,
        before: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    ) {
        let removed = lock(&self.local).tickets.remove(&ticket);
        drop(removed);
        let core = self.clone();
        spawn_detached(async move {
            if let Some(before) = before {
                before.await;
            }
            // Best effort: a failure leaves the ticket to its lease, which nobody renews now.
            let _: Result<i64, _> = core.eval("release", &[core.id(ticket)]).await;
        });
    }

    /// The renewer: every `ttl / 3` (or at once when the listener asks), one script call
    /// renews every ticket of this object and says where each stands. Ends when the object has
    /// no tickets left (the next ticket starts a new one).
    async fn renew_loop(self: Arc<Self>) {
        let period = self.ttl / 3;
        loop {
            let mut timer = Timer::at(timer::now() + period);
            poll_fn(|cx| {
                if timer.poll(cx).is_ready() {
                    return Poll::Ready(());
                }
                // Cloned before the lock, and the one it replaces dropped after it.
                let waker = cx.waker().clone();
                let replaced = {
                    let mut local = lock(&self.local);
                    if std::mem::take(&mut local.check_now) {
                        return Poll::Ready(());
                    }
                    local.renewer_waker.replace(waker)
                };
                drop(replaced);
                Poll::Pending
            })
            .await;
            let snapshot: Vec<(u64, u32)> = {
                let mut local = lock(&self.local);
                if local.tickets.is_empty() {
                    local.renewer = false;
                    return;
                }
                local
                    .tickets
                    .iter()
                    .filter(|(_, t)| {
                        matches!(
                            t.state,
                            TicketState::Queued | TicketState::Granted | TicketState::Held { .. }
                        )
                    })
                    .map(|(&id, t)| (id, t.sent))
                    .collect()
            };
            if snapshot.is_empty() {
                continue;
            }
            let ids: Vec<String> = snapshot.iter().map(|&(t, _)| self.id(t)).collect();
            let answer: Result<Vec<i64>, _> = self.eval("renew", &ids).await;
            let mut wake = Vec::new();
            {
                let mut local = lock(&self.local);
                match answer {
                    Ok(states) => {
                        local.learn(to_usize(states[0]), self.total);
                        for (&(id, sent), &state) in snapshot.iter().zip(&states[1..]) {
                            let Some(ticket) = local.tickets.get_mut(&id) else {
                                continue;
                            };
                            if ticket.sent != sent {
                                continue;
                            }
                            match (&mut ticket.state, state) {
                                (TicketState::Queued, 2) => ticket.state = TicketState::Granted,
                                // Its lease ran out (waiting, or granted and not yet
                                // taken): in line again, at the back.
                                (TicketState::Queued | TicketState::Granted, 0) => {
                                    ticket.state = TicketState::Gone
                                }
                                (TicketState::Held { lost }, 0) => *lost = true,
                                _ => continue,
                            }
                            wake.extend(ticket.waker.take());
                        }
                    }
                    Err(e) => {
                        // Waiters fail now rather than wait on a server that may be gone;
                        // holders keep their permits (their leases may still run).
                        for ticket in local.tickets.values_mut() {
                            if matches!(ticket.state, TicketState::Queued) {
                                ticket.state =
                                    TicketState::Failed(AcquireError::Backend(e.clone()));
                                wake.extend(ticket.waker.take());
                            }
                        }
                    }
                }
            }
            wake.into_iter().for_each(Waker::wake);
        }
    }

    /// Marks the listener running, under the lock; returns whether the caller must start it
    /// ([`start_listener`](Self::start_listener), after the lock).
    fn listen(local: &mut Local) -> bool {
        !std::mem::replace(&mut local.listener, true)
    }

    /// Spawns the listener (its flag already set, under the lock).
    fn start_listener(self: &Arc<Self>) {
        let mut running = Running(self.clone(), |local| local.listener = false, true);
        spawn_detached(async move {
            let stop = running.0.stop.clone();
            if stop
                .run_until_cancelled(running.0.clone().listen_loop())
                .await
                .is_some()
            {
                running.disarm(); // it cleared the flag itself, with its last check
            }
        });
    }

    /// The listener: subscribes, asks the renewer for a check, then applies every message.
    /// When its connection drops it asks for a check (which fails the waiters if the server is
    /// gone) and subscribes again while this object has waiters; otherwise it ends.
    async fn listen_loop(self: Arc<Self>) {
        loop {
            let subscribed = self.backend.subscribe(self.timeout, &self.channel).await;
            self.check_now();
            let Ok(mut messages) = subscribed else {
                // The check fails the waiters if the server is gone; retry after a pause.
                let pause = self.timeout.min(Duration::from_millis(500));
                let mut timer = Timer::at(timer::now() + pause);
                poll_fn(|cx| timer.poll(cx)).await;
                if self.listener_idle() {
                    break;
                }
                continue;
            };
            while let Some(message) = poll_fn(|cx| Pin::new(&mut messages).poll_next(cx)).await {
                let Ok(text) = message.get_payload::<String>() else {
                    continue;
                };
                self.apply(&text);
            }
            self.check_now();
            if self.listener_idle() {
                break;
            }
        }
    }

    /// Whether this object has no waiter left; then the listener is marked stopped, under the
    /// same lock as the check, so that the next waiter starts a new one.
    fn listener_idle(&self) -> bool {
        let mut local = lock(&self.local);
        let idle = local
            .tickets
            .values()
            .all(|t| matches!(t.state, TicketState::Held { .. }));
        if idle {
            local.listener = false;
        }
        idle
    }

    fn check_now(&self) {
        let waker = {
            let mut local = lock(&self.local);
            local.check_now = true;
            local.renewer_waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// A message from the channel: `g id...` (granted) or `t total id...` (too large now).
    fn apply(&self, text: &str) {
        let mut words = text.split(' ');
        let kind = words.next();
        let mut wake = Vec::new();
        {
            let mut local = lock(&self.local);
            let total = if kind == Some("t") {
                let total = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
                local.learn(total, self.total);
                Some(total)
            } else {
                None
            };
            for id in words {
                let Some((owner, ticket)) = id.split_once(':') else {
                    continue;
                };
                if owner != &*self.owner {
                    continue;
                }
                let Some(ticket) = ticket
                    .parse()
                    .ok()
                    .and_then(|t: u64| local.tickets.get_mut(&t))
                else {
                    continue;
                };
                if !matches!(ticket.state, TicketState::Sending | TicketState::Queued) {
                    continue;
                }
                ticket.state = match total {
                    None => TicketState::Granted,
                    Some(total) => TicketState::Failed(AcquireError::TooLarge {
                        requested: ticket.n,
                        total,
                    }),
                };
                wake.extend(ticket.waker.take());
            }
        }
        wake.into_iter().for_each(Waker::wake);
    }
}

/// Marks a background task as not running when it ends, however it ends: done, stopped, or
/// dropped unrun (no runtime to spawn it on) or with its runtime. The next ticket or waiter
/// starts a new one.
struct Running(Arc<Core>, fn(&mut Local), bool);

impl Running {
    fn disarm(&mut self) {
        self.2 = false;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.2 {
            (self.1)(&mut lock(&self.0.local));
        }
    }
}

/// `try_acquire_many`'s work: the ticket it holds, or why not.
async fn try_acquire(core: &Arc<Core>, n: usize) -> Result<Held, TryAcquireError> {
    let (too_large, closed) = {
        let local = lock(&core.local);
        (local.too_large(n), local.closed)
    };
    if closed {
        return Err(TryAcquireError::Closed);
    }
    if let Some(total) = too_large {
        return Err(TryAcquireError::TooLarge {
            requested: n,
            total,
        });
    }
    if n == 0 {
        return Ok(Held::unbacked(core, 0));
    }
    let (ticket, start) = Core::register(&mut lock(&core.local), n);
    if start {
        core.start_renewer();
    }
    // Dropped in flight: the guard releases the ticket once the answer is in.
    let mut guard = InFlight { core, ticket };
    let answer = core
        .eval::<(i64, i64)>("acquire", &[core.id(ticket), n.to_string(), "1".into()])
        .await;
    guard.ticket = 0; // answered: from here the code below owns the ticket
    let mut local = lock(&core.local);
    match answer {
        Ok((code, total)) => {
            local.learn(to_usize(total), core.total);
            match code {
                1 => {
                    if let Some(t) = local.tickets.get_mut(&ticket) {
                        t.state = TicketState::Held { lost: false };
                    }
                    Ok(Held {
                        core: core.clone(),
                        ticket: Some(ticket),
                        n,
                    })
                }
                // (A `try` ticket never holds a waker: removed under the lock, it drops none.)
                -2 => {
                    local.tickets.remove(&ticket);
                    Err(TryAcquireError::TooLarge {
                        requested: n,
                        total: to_usize(total),
                    })
                }
                _ => {
                    local.tickets.remove(&ticket);
                    Err(TryAcquireError::NoPermits)
                }
            }
        }
        Err(e) => {
            drop(local);
            // The script may have run and its answer been lost: remove the ticket.
            core.release(ticket, None);
            match core.on_error {
                OnBackendError::FailOpen => Ok(Held::unbacked(core, n)),
                _ => Err(TryAcquireError::Backend(e)),
            }
        }
    }
}

/// Releases a `try_acquire`'s ticket if its future is dropped with the round trip in flight.
struct InFlight<'a> {
    core: &'a Arc<Core>,
    ticket: u64,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.ticket != 0 {
            // The answer never came here: the script may or may not have run. Removing an
            // unknown id is a no-op, and a script that runs after this removal leaves a lease
            // that nobody renews.
            self.core.release(self.ticket, None);
        }
    }
}

/// Permits held by this object: the ticket that holds them in Redis (none when granted
/// unbacked, by `FailOpen`, or for zero permits).
struct Held {
    core: Arc<Core>,
    ticket: Option<u64>,
    n: usize,
}

impl Held {
    fn unbacked(core: &Arc<Core>, n: usize) -> Self {
        Held {
            core: core.clone(),
            ticket: None,
            n,
        }
    }

    fn is_lost(&self) -> bool {
        let Some(ticket) = self.ticket else {
            return false;
        };
        matches!(
            lock(&self.core.local).tickets.get(&ticket),
            Some(Ticket {
                state: TicketState::Held { lost: true },
                ..
            })
        )
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.core.release(ticket, None);
        }
    }
}

type Sending = Pin<Box<dyn Future<Output = Result<(i64, i64), BackendError>> + Send>>;

enum Step {
    Start,
    Sending { ticket: u64, send: Sending },
    Waiting { ticket: u64 },
    Done,
}

/// The acquire state machine shared by the borrowed and owned futures.
struct Acquiring {
    core: Arc<Core>,
    n: usize,
    step: Step,
}

impl Acquiring {
    fn new(core: &Arc<Core>, n: usize) -> Self {
        Self {
            core: core.clone(),
            n,
            step: Step::Start,
        }
    }

    fn send(&self, ticket: u64) -> Sending {
        let core = self.core.clone();
        let args = [core.id(ticket), self.n.to_string(), "0".to_string()];
        Box::pin(async move { core.eval("acquire", &args).await })
    }

    fn fail(&self, e: BackendError) -> Poll<Result<Held, AcquireError>> {
        Poll::Ready(match self.core.on_error {
            OnBackendError::FailOpen => Ok(Held::unbacked(&self.core, self.n)),
            _ => Err(AcquireError::Backend(e)),
        })
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<Held, AcquireError>> {
        loop {
            match &mut self.step {
                Step::Start => {
                    let n = self.n;
                    let mut local = lock(&self.core.local);
                    if local.closed {
                        self.step = Step::Done;
                        return Poll::Ready(Err(AcquireError::Closed));
                    }
                    if let Some(total) = local.too_large(n) {
                        self.step = Step::Done;
                        return Poll::Ready(Err(AcquireError::TooLarge {
                            requested: n,
                            total,
                        }));
                    }
                    if n == 0 {
                        self.step = Step::Done;
                        return Poll::Ready(Ok(Held::unbacked(&self.core, 0)));
                    }
                    let (ticket, start) = Core::register(&mut local, n);
                    drop(local);
                    if start {
                        self.core.start_renewer();
                    }
                    self.step = Step::Sending {
                        ticket,
                        send: self.send(ticket),
                    };
                }
                Step::Sending { ticket, send } => {
                    let ticket = *ticket;
                    let answer = std::task::ready!(send.as_mut().poll(cx));
                    let mut local = lock(&self.core.local);
                    match answer {
                        Ok((code, total)) => {
                            local.learn(to_usize(total), self.core.total);
                            let t = local.tickets.get_mut(&ticket).expect("a live ticket");
                            let mut start_listener = false;
                            match (code, &t.state) {
                                (-2, _) => {
                                    let removed = local.tickets.remove(&ticket);
                                    drop(local);
                                    drop(removed); // its waker, if any, outside the lock
                                    self.step = Step::Done;
                                    return Poll::Ready(Err(AcquireError::TooLarge {
                                        requested: self.n,
                                        total: to_usize(total),
                                    }));
                                }
                                (1, _) => t.state = TicketState::Granted,
                                (_, TicketState::Sending) => {
                                    t.state = TicketState::Queued;
                                    start_listener = Core::listen(&mut local);
                                }
                                // Granted or failed by a message before the answer came.
                                _ => {}
                            }
                            drop(local);
                            if start_listener {
                                self.core.start_listener();
                            }
                            self.step = Step::Waiting { ticket };
                        }
                        Err(e) => {
                            drop(local);
                            self.step = Step::Done;
                            self.core.release(ticket, None);
                            return self.fail(e);
                        }
                    }
                }
                Step::Waiting { ticket } => {
                    let ticket = *ticket;
                    // Cloned before the lock (a waiting future is polled about once per wake).
                    let waker = cx.waker().clone();
                    let mut local = lock(&self.core.local);
                    let t = local.tickets.get_mut(&ticket).expect("a live ticket");
                    match &t.state {
                        TicketState::Granted => {
                            t.state = TicketState::Held { lost: false };
                            self.step = Step::Done;
                            return Poll::Ready(Ok(Held {
                                core: self.core.clone(),
                                ticket: Some(ticket),
                                n: self.n,
                            }));
                        }
                        TicketState::Failed(e) => {
                            let e = e.clone();
                            drop(local);
                            self.step = Step::Done;
                            self.core.release(ticket, None);
                            return match e {
                                AcquireError::Backend(e) => self.fail(e),
                                e => Poll::Ready(Err(e)),
                            };
                        }
                        TicketState::Gone => {
                            // Out of the line without a grant: take a new place, at the back.
                            t.state = TicketState::Sending;
                            t.sent += 1;
                            drop(local);
                            self.step = Step::Sending {
                                ticket,
                                send: self.send(ticket),
                            };
                        }
                        _ => {
                            let replaced = t.waker.replace(waker);
                            drop(local);
                            drop(replaced); // outside the lock
                            return Poll::Pending;
                        }
                    }
                }
                Step::Done => panic!("a RedisSemaphore acquire polled after it completed"),
            }
        }
    }

    fn state(&self) -> &'static str {
        match self.step {
            Step::Start => "not polled",
            Step::Sending { .. } => "sending",
            Step::Waiting { .. } => "waiting",
            Step::Done => "done",
        }
    }
}

impl Drop for Acquiring {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.step, Step::Done) {
            Step::Sending { ticket, send } => {
                self.core.release(
                    ticket,
                    Some(Box::pin(async move {
                        let _ = send.await;
                    })),
                );
            }
            Step::Waiting { ticket } => self.core.release(ticket, None),
            Step::Start | Step::Done => {}
        }
    }
}

/// Future returned by [`RedisSemaphore::acquire`] and [`RedisSemaphore::acquire_many`].
///
/// # Cancel safety
///
/// Cancel-safe (see [`RedisSemaphore::acquire_many`]).
///
/// # Panics
///
/// If polled again after it returned `Ready` (it is not fused).
///
/// # Examples
///
/// ```
/// use taskgroup::futures::RedisSemaphoreAcquire;
/// use taskgroup::RedisSemaphore;
///
/// let sem = RedisSemaphore::new("redis://127.0.0.1:6379", "bank-api", 5).unwrap();
/// let pending: RedisSemaphoreAcquire<'_> = sem.acquire(); // nothing sent yet
/// assert!(format!("{pending:?}").contains("not polled"));
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct RedisSemaphoreAcquire<'a> {
    sem: &'a RedisSemaphore,
    inner: Acquiring,
}

impl<'a> Future for RedisSemaphoreAcquire<'a> {
    type Output = Result<RedisSemaphorePermit<'a>, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let held = std::task::ready!(this.inner.poll(cx))?;
        Poll::Ready(Ok(RedisSemaphorePermit {
            sem: this.sem,
            held,
        }))
    }
}

impl fmt::Debug for RedisSemaphoreAcquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSemaphoreAcquire")
            .field("permits", &self.inner.n)
            .field("state", &self.inner.state())
            .finish()
    }
}

/// Future returned by [`RedisSemaphore::acquire_owned`] and
/// [`RedisSemaphore::acquire_many_owned`]: `'static`.
///
/// # Cancel safety
///
/// Cancel-safe (see [`RedisSemaphore::acquire_many`]).
///
/// # Panics
///
/// If polled again after it returned `Ready` (it is not fused).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use taskgroup::futures::RedisSemaphoreAcquireOwned;
/// use taskgroup::RedisSemaphore;
///
/// let sem = Arc::new(RedisSemaphore::new("redis://127.0.0.1:6379", "bank-api", 5).unwrap());
/// // `'static`: can be stored, or moved into a spawned task.
/// let pending: RedisSemaphoreAcquireOwned = sem.acquire_many_owned(2);
/// assert!(format!("{pending:?}").contains("permits: 2"));
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct RedisSemaphoreAcquireOwned {
    sem: Arc<RedisSemaphore>,
    inner: Acquiring,
}

impl Future for RedisSemaphoreAcquireOwned {
    type Output = Result<OwnedRedisSemaphorePermit, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let held = std::task::ready!(this.inner.poll(cx))?;
        Poll::Ready(Ok(OwnedRedisSemaphorePermit {
            sem: this.sem.clone(),
            held,
        }))
    }
}

impl fmt::Debug for RedisSemaphoreAcquireOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSemaphoreAcquireOwned")
            .field("permits", &self.inner.n)
            .field("state", &self.inner.state())
            .finish()
    }
}

/// Permits from a [`RedisSemaphore`], released when dropped (one script call from a detached
/// task; see [Releasing](RedisSemaphore#releasing)).
///
/// # Examples
///
/// ```
/// use taskgroup::{OnBackendError, RedisSemaphore};
///
/// # futures::executor::block_on(async {
/// // Nothing listens on port 1: failing open, the permit is unbacked.
/// let sem = RedisSemaphore::new("redis://127.0.0.1:1", "api", 5)
///     .unwrap()
///     .on_backend_error(OnBackendError::FailOpen);
/// let permit = sem.acquire_many(2).await.unwrap();
/// assert_eq!(permit.num_permits(), 2);
/// assert!(!permit.is_lost());
/// assert!(format!("{permit:?}").contains("backed: false"));
/// # });
/// ```
#[must_use = "the permits are released as soon as the guard is dropped"]
pub struct RedisSemaphorePermit<'a> {
    sem: &'a RedisSemaphore,
    held: Held,
}

impl RedisSemaphorePermit<'_> {
    /// How many permits this guard holds.
    pub fn num_permits(&self) -> usize {
        self.held.n
    }

    /// Whether a renewal found this permit's lease gone (it expired while this process could
    /// not renew it, see [Leases](RedisSemaphore#leases)): others may hold its permits now.
    /// Known at the renewal after the expiry, not before; always false for an unbacked permit.
    pub fn is_lost(&self) -> bool {
        self.held.is_lost()
    }

    /// The semaphore these permits came from.
    pub fn semaphore(&self) -> &RedisSemaphore {
        self.sem
    }
}

impl fmt::Debug for RedisSemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSemaphorePermit")
            .field("permits", &self.held.n)
            .field("backed", &self.held.ticket.is_some())
            .finish()
    }
}

/// Permits from an `Arc<RedisSemaphore>`, `'static`, released when dropped.
///
/// # Examples
///
/// ```no_run
/// use std::sync::Arc;
/// use taskgroup::{OwnedRedisSemaphorePermit, RedisSemaphore};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let sem = Arc::new(RedisSemaphore::new("redis://127.0.0.1:6379", "bank-api", 5)?);
/// let permit: OwnedRedisSemaphorePermit = sem.clone().acquire_owned().await?;
/// tokio::spawn(async move {
///     // ... call the bank ...
///     drop(permit); // released here, in the background
/// });
/// # Ok(()) }
/// ```
#[must_use = "the permits are released as soon as the guard is dropped"]
pub struct OwnedRedisSemaphorePermit {
    sem: Arc<RedisSemaphore>,
    held: Held,
}

impl OwnedRedisSemaphorePermit {
    /// How many permits this guard holds.
    pub fn num_permits(&self) -> usize {
        self.held.n
    }

    /// As [`RedisSemaphorePermit::is_lost`].
    pub fn is_lost(&self) -> bool {
        self.held.is_lost()
    }

    /// The semaphore these permits came from.
    pub fn semaphore(&self) -> &Arc<RedisSemaphore> {
        &self.sem
    }
}

impl fmt::Debug for OwnedRedisSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedRedisSemaphorePermit")
            .field("permits", &self.held.n)
            .field("backed", &self.held.ticket.is_some())
            .finish()
    }
}
