//! `FanOutExt` scenarios, each run on tokio (current-thread and multi-thread), async-std, smol
//! and `futures::executor`; the spawned form spawns on the same runtime.
#![cfg(not(loom))]

mod common;

use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use common::{yield_now, Runtime};
use futures::channel::oneshot;
use futures::stream::{self, FusedStream, Stream, StreamExt};
use futures::FutureExt;
use taskgroup::{AsyncWaitGroup, FanOutExt, RateLimiter, Semaphore, TimeoutExt};

const ITEMS: usize = if cfg!(miri) { 20 } else { 200 };
const LIMIT: usize = 8;

runtime_tests!(
    fan_out_yields_every_output_and_reaches_the_limit,
    fan_out_ordered_keeps_input_order_however_items_finish,
    every_adapter_pulls_at_most_limit_ahead,
    try_fan_out_drops_the_rest_before_yielding_the_first_error,
    fan_out_with_shares_one_budget_between_two_streams,
    dropping_fan_out_with_gives_every_permit_back,
    fan_out_with_on_a_closed_semaphore_finishes_what_runs_and_ends,
    fan_out_with_takes_a_static_reference,
    fan_out_spawned_brings_every_output_back,
    dropping_fan_out_spawned_cancels_every_item,
    a_panicking_spawned_item_resumes_from_the_stream,
    a_future_that_keeps_waking_itself_does_not_starve_the_executor,
    #[cfg_attr(miri, ignore)]
    rate_limited_bounds_starts_per_second_beside_the_limit,
    rate_limited_takes_a_leaked_static_limiter,
);

/// Awaits `future`, failing the test with `what` instead of hanging if it takes more than 30 s
/// (no deadline under Miri, which has no timers; a hang there is a hang).
async fn within<F: std::future::Future>(future: F, what: &str) -> F::Output {
    if cfg!(miri) {
        future.await
    } else {
        future.timeout(Duration::from_secs(30)).await.expect(what)
    }
}

/// Counts futures as they start, run and go, and the most that ran at once.
#[derive(Default)]
struct Probe {
    started: AtomicUsize,
    running: AtomicUsize,
    peak: AtomicUsize,
    dropped: AtomicUsize,
}

impl Probe {
    fn enter(self: &Arc<Self>) -> Running {
        self.started.fetch_add(1, Ordering::SeqCst);
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        Running(self.clone())
    }

    fn get(&self, counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }
}

/// One running future of a [`Probe`]; counts it out when dropped (finished or not).
struct Running(Arc<Probe>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// An item's future: runs `yields` rounds of the executor, then returns `item`.
async fn work(probe: Arc<Probe>, item: usize, yields: usize) -> usize {
    let _running = probe.enter();
    for _ in 0..yields {
        yield_now().await;
    }
    item
}

/// A source that counts the items pulled from it.
fn counted(items: usize, pulled: &Arc<AtomicUsize>) -> impl Stream<Item = usize> + Send + Unpin {
    let pulled = pulled.clone();
    stream::iter(0..items).inspect(move |_| {
        pulled.fetch_add(1, Ordering::SeqCst);
    })
}

fn fan_out_yields_every_output_and_reaches_the_limit<R: Runtime>() {
    R::block_on(async {
        let probe = Arc::new(Probe::default());
        let p = probe.clone();
        // Every future yields at least once, so the first poll starts LIMIT of them.
        let mut outputs: Vec<usize> = stream::iter(0..ITEMS)
            .fan_out(LIMIT, move |i| work(p.clone(), i, 1 + i % 3))
            .collect()
            .await;
        outputs.sort_unstable();
        assert_eq!(outputs, (0..ITEMS).collect::<Vec<_>>());
        assert_eq!(probe.get(&probe.peak), LIMIT);
        assert_eq!(probe.get(&probe.dropped), ITEMS);
    });
}

fn fan_out_ordered_keeps_input_order_however_items_finish<R: Runtime>() {
    R::block_on(async {
        let probe = Arc::new(Probe::default());
        let p = probe.clone();
        // Within each window, later items finish first.
        let outputs: Vec<usize> = stream::iter(0..ITEMS)
            .fan_out_ordered(LIMIT, move |i| work(p.clone(), i, 1 + (LIMIT - i % LIMIT)))
            .collect()
            .await;
        assert_eq!(outputs, (0..ITEMS).collect::<Vec<_>>());
        assert_eq!(probe.get(&probe.peak), LIMIT);
        assert_eq!(probe.get(&probe.dropped), ITEMS);
    });
}

/// Drives `stream` to its end, checking the pull-ahead bound before the first poll and after
/// each output; returns how many outputs it yielded.
async fn check_pull_ahead<S: Stream + Unpin>(
    mut stream: S,
    pulled: &AtomicUsize,
    limit: usize,
) -> usize {
    assert_eq!(
        pulled.load(Ordering::SeqCst),
        0,
        "pulled before the first poll"
    );
    let mut yielded = 0;
    while stream.next().await.is_some() {
        yielded += 1;
        let ahead = pulled.load(Ordering::SeqCst) - yielded;
        assert!(
            ahead <= limit,
            "{ahead} pulled ahead of {yielded} outputs, limit {limit}"
        );
    }
    yielded
}

fn every_adapter_pulls_at_most_limit_ahead<R: Runtime + 'static>() {
    R::block_on(async {
        let probe = Arc::new(Probe::default());
        let p = || probe.clone();

        let pulled = Arc::new(AtomicUsize::new(0));
        let (p1, s) = (p(), counted(ITEMS, &pulled));
        let s = s.fan_out(LIMIT, move |i| work(p1.clone(), i, i % 3));
        assert_eq!(check_pull_ahead(s, &pulled, LIMIT).await, ITEMS);

        let pulled = Arc::new(AtomicUsize::new(0));
        let (p2, s) = (p(), counted(ITEMS, &pulled));
        let s = s.fan_out_ordered(LIMIT, move |i| work(p2.clone(), i, (ITEMS - i) % 4));
        assert_eq!(check_pull_ahead(s, &pulled, LIMIT).await, ITEMS);

        let pulled = Arc::new(AtomicUsize::new(0));
        let (p3, s) = (p(), counted(ITEMS, &pulled));
        let s = s.try_fan_out(LIMIT, move |i| work(p3.clone(), i, i % 2).map(Ok::<_, ()>));
        assert_eq!(check_pull_ahead(s, &pulled, LIMIT).await, ITEMS);

        // The semaphore's total is the limit, plus the one item waiting for a permit.
        let pulled = Arc::new(AtomicUsize::new(0));
        let (p4, s) = (p(), counted(ITEMS, &pulled));
        let s = s.fan_out_with(Arc::new(Semaphore::new(LIMIT)), move |i| {
            work(p4.clone(), i, i % 3)
        });
        assert_eq!(check_pull_ahead(s, &pulled, LIMIT + 1).await, ITEMS);

        let pulled = Arc::new(AtomicUsize::new(0));
        let (p5, s) = (p(), counted(ITEMS, &pulled));
        let s = s.fan_out_spawned(LIMIT, R::spawn, move |i| work(p5.clone(), i, i % 3));
        assert_eq!(check_pull_ahead(s, &pulled, LIMIT).await, ITEMS);

        assert_eq!(probe.get(&probe.dropped), 5 * ITEMS);
    });
}

fn try_fan_out_drops_the_rest_before_yielding_the_first_error<R: Runtime>() {
    R::block_on(async {
        let probe = Arc::new(Probe::default());
        let pulled = Arc::new(AtomicUsize::new(0));
        let p = probe.clone();
        let mut stream = counted(ITEMS, &pulled).try_fan_out(LIMIT, move |i| {
            let work = work(p.clone(), i, 2);
            async move {
                let i = work.await;
                if i == 10 {
                    Err(format!("item {i} failed"))
                } else {
                    Ok(i)
                }
            }
        });
        let mut ok = 0;
        let error = loop {
            match stream.next().await.expect("the stream ends with the error") {
                Ok(_) => ok += 1,
                Err(error) => break error,
            }
        };
        assert_eq!(error, "item 10 failed");
        // Everything started is gone already: nothing runs past the error.
        assert_eq!(probe.get(&probe.running), 0);
        assert_eq!(probe.get(&probe.started), probe.get(&probe.dropped));
        let pulled_at_error = pulled.load(Ordering::SeqCst);
        assert!(pulled_at_error <= ok + 1 + LIMIT);
        assert!(stream.next().await.is_none());
        assert!(stream.is_terminated());
        assert_eq!(
            pulled.load(Ordering::SeqCst),
            pulled_at_error,
            "pulled after the error"
        );
    });
}

fn fan_out_with_shares_one_budget_between_two_streams<R: Runtime>() {
    R::block_on(async {
        let budget = Arc::new(Semaphore::new(3));
        let probe = Arc::new(Probe::default());
        let (p1, p2) = (probe.clone(), probe.clone());
        let users = stream::iter(0..ITEMS)
            .fan_out_with(budget.clone(), move |i| work(p1.clone(), i, 2))
            .collect::<Vec<_>>();
        let orders = stream::iter(0..ITEMS)
            .fan_out_with(budget.clone(), move |i| work(p2.clone(), i, 1))
            .collect::<Vec<_>>();
        let (mut users, mut orders) = futures::join!(users, orders);
        users.sort_unstable();
        orders.sort_unstable();
        assert_eq!(users, (0..ITEMS).collect::<Vec<_>>());
        assert_eq!(orders, (0..ITEMS).collect::<Vec<_>>());
        assert_eq!(
            probe.get(&probe.peak),
            3,
            "the shared budget is reached, never passed"
        );
        assert_eq!(budget.available_permits(), 3);
    });
}

fn dropping_fan_out_with_gives_every_permit_back<R: Runtime>() {
    R::block_on(async {
        let budget = Arc::new(Semaphore::new(4));
        let probe = Arc::new(Probe::default());
        let p = probe.clone();
        let pulled = Arc::new(AtomicUsize::new(0));
        // Futures that never finish: the stream holds 4 permits and 1 item waiting for one.
        let mut stream = counted(ITEMS, &pulled).fan_out_with(budget.clone(), move |_| {
            let running = p.enter();
            async move {
                std::future::pending::<()>().await;
                drop(running);
            }
        });
        assert!(futures::poll!(stream.next()).is_pending());
        assert_eq!(probe.get(&probe.running), 4);
        assert_eq!(pulled.load(Ordering::SeqCst), 5);
        assert_eq!(budget.available_permits(), 0);
        // Someone else queues behind the stream's waiting item.
        let mut other = budget.clone().acquire_many_owned(4);
        assert!(futures::poll!(&mut other).is_pending());
        drop(stream);
        assert_eq!(probe.get(&probe.dropped), 4);
        let permit = other.await.expect("the stream's permits and place went on");
        assert_eq!(permit.num_permits(), 4);
    });
}

fn fan_out_with_on_a_closed_semaphore_finishes_what_runs_and_ends<R: Runtime>() {
    R::block_on(async {
        let budget = Arc::new(Semaphore::new(2));
        let (tx, rx) = futures::channel::mpsc::unbounded::<oneshot::Sender<()>>();
        let started = Arc::new(AtomicUsize::new(0));
        let s = started.clone();
        let mut stream = stream::iter(0..ITEMS).fan_out_with(budget.clone(), move |i| {
            s.fetch_add(1, Ordering::SeqCst);
            let (done_tx, done_rx) = oneshot::channel();
            tx.unbounded_send(done_tx).unwrap();
            async move {
                done_rx.await.unwrap();
                i
            }
        });
        assert!(futures::poll!(stream.next()).is_pending());
        assert_eq!(started.load(Ordering::SeqCst), 2);
        budget.close();
        let mut gates: Vec<_> = rx.take(2).collect().await;
        for gate in gates.drain(..) {
            gate.send(()).unwrap();
        }
        let rest: Vec<usize> = stream.collect().await;
        assert_eq!(rest.len(), 2, "the two in flight finish");
        assert_eq!(
            started.load(Ordering::SeqCst),
            2,
            "nothing starts after the close"
        );
    });
}

/// A `&'static Semaphore` (leaked here, one per runtime, since the runtimes' tests run at once)
/// fits `fan_out_with` as an `Arc` does: two streams and a direct acquire share its budget.
fn fan_out_with_takes_a_static_reference<R: Runtime>() {
    R::block_on(async {
        let budget: &'static Semaphore = Box::leak(Box::new(Semaphore::new(4)));
        let held = budget.acquire().await.expect("open"); // a `SemaphorePermit<'static>`
        let probe = Arc::new(Probe::default());
        let (p1, p2) = (probe.clone(), probe.clone());
        let users = stream::iter(0..ITEMS)
            .fan_out_with(budget, move |i| work(p1.clone(), i, 2))
            .collect::<Vec<_>>();
        let orders = stream::iter(0..ITEMS)
            .fan_out_with(budget, move |i| work(p2.clone(), i, 1))
            .collect::<Vec<_>>();
        let (mut users, mut orders) =
            within(async { futures::join!(users, orders) }, "both streams end").await;
        users.sort_unstable();
        orders.sort_unstable();
        assert_eq!(users, (0..ITEMS).collect::<Vec<_>>());
        assert_eq!(orders, (0..ITEMS).collect::<Vec<_>>());
        assert_eq!(
            probe.get(&probe.peak),
            3,
            "the 3 permits left beside the held one are reached, never passed"
        );
        assert_eq!(budget.available_permits(), 3);
        drop(held);
        assert_eq!(budget.available_permits(), 4, "every permit back");
    });
}

fn fan_out_spawned_brings_every_output_back<R: Runtime + 'static>() {
    R::block_on(async {
        let probe = Arc::new(Probe::default());
        let p = probe.clone();
        let mut outputs: Vec<usize> = stream::iter(0..ITEMS)
            .fan_out_spawned(LIMIT, R::spawn, move |i| work(p.clone(), i, i % 3))
            .collect()
            .await;
        outputs.sort_unstable();
        assert_eq!(outputs, (0..ITEMS).collect::<Vec<_>>());
        assert!(probe.get(&probe.peak) <= LIMIT);
        assert_eq!(probe.get(&probe.dropped), ITEMS);
    });
}

fn dropping_fan_out_spawned_cancels_every_item<R: Runtime + 'static>() {
    R::block_on(async {
        let wg = AsyncWaitGroup::new();
        let (tx, rx) = futures::channel::mpsc::unbounded::<usize>();
        let guards = wg.clone();
        let mut stream = stream::iter(0..ITEMS).fan_out_spawned(LIMIT, R::spawn, move |i| {
            let guard = guards.guard();
            let tx = tx.clone();
            async move {
                let _guard = guard; // done when the item's future is dropped
                tx.unbounded_send(i).unwrap();
                std::future::pending::<()>().await;
            }
        });
        assert!(futures::poll!(stream.next()).is_pending());
        // Every item started (no sleep: they say so).
        let started: Vec<usize> = rx.take(LIMIT).collect().await;
        assert_eq!(started.len(), LIMIT);
        assert_eq!(wg.count(), LIMIT);
        drop(stream);
        within(wg.wait(), "every spawned item dropped its future").await;
    });
}

fn a_panicking_spawned_item_resumes_from_the_stream<R: Runtime + 'static>() {
    R::block_on(async {
        let stream = stream::iter(0..ITEMS).fan_out_spawned(LIMIT, R::spawn, |i| async move {
            yield_now().await;
            if i == 3 {
                std::panic::panic_any(format!("item {i} broke"));
            }
            i
        });
        let payload = AssertUnwindSafe(stream.collect::<Vec<_>>())
            .catch_unwind()
            .await
            .unwrap_err();
        assert_eq!(payload.downcast_ref::<String>().unwrap(), "item 3 broke");
    });
}

/// A future that is always ready to be polled again and never finishes.
struct Spin;

impl std::future::Future for Spin {
    type Output = usize;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn a_future_that_keeps_waking_itself_does_not_starve_the_executor<R: Runtime + 'static>() {
    R::block_on(async {
        // Item 0 spins; item 1 waits for a task that must get a turn on the executor (on a
        // current-thread runtime, only if the stream's task yields).
        let (tx, rx) = oneshot::channel::<usize>();
        R::spawn(Box::pin(async move {
            let _ = tx.send(1);
        }));
        let mut rx = Some(rx);
        let mut stream = stream::iter(0..2).fan_out(2, move |i| match i {
            0 => Spin.left_future(),
            _ => rx.take().unwrap().map(Result::unwrap).right_future(),
        });
        let first = within(stream.next(), "the stream yields to the executor").await;
        assert_eq!(first, Some(1));
    });
}

fn rate_limited_bounds_starts_per_second_beside_the_limit<R: Runtime>() {
    R::block_on(async {
        // 100 starts per second with a burst of 2, at most 3 at once: 12 items need 10 slots
        // after the burst, 10 ms apart.
        let per_second = Arc::new(RateLimiter::new(100, Duration::from_secs(1)).with_burst(2));
        let probe = Arc::new(Probe::default());
        let p = probe.clone();
        let started = std::time::Instant::now();
        let starts = Arc::new(std::sync::Mutex::new(Vec::new()));
        let s = starts.clone();
        let mut outputs: Vec<usize> = stream::iter(0..12)
            .rate_limited(per_second)
            .fan_out(3, move |i| {
                s.lock().unwrap().push(started.elapsed());
                work(p.clone(), i, 2)
            })
            .collect()
            .await;
        outputs.sort_unstable();
        assert_eq!(outputs, (0..12).collect::<Vec<_>>());
        assert!(probe.get(&probe.peak) <= 3);
        // The limiter's schedule is a floor (timers fire late, never early): the k-th start
        // (from 0) comes no sooner than (k - burst + 1) intervals after the first booking.
        let starts = starts.lock().unwrap();
        for (k, at) in starts.iter().enumerate().skip(2) {
            let floor = Duration::from_millis(10) * (k as u32 - 1);
            assert!(
                *at >= floor,
                "start {k} at {at:?}, before its slot {floor:?}"
            );
        }
    });
}

/// A leaked `&'static RateLimiter` fits `rate_limited` as an `Arc` does, and the stream takes
/// its slots from that limiter: a burst of 5 lets 5 items through at once (nothing waits), and
/// leaves no slot for anyone else for an hour.
fn rate_limited_takes_a_leaked_static_limiter<R: Runtime>() {
    R::block_on(async {
        let per_hour: &'static RateLimiter = Box::leak(Box::new(
            RateLimiter::new(1, Duration::from_secs(3600)).with_burst(5),
        ));
        let mut outputs: Vec<usize> = within(
            stream::iter(0..5)
                .rate_limited(per_hour)
                .fan_out(2, |i| async move { i })
                .collect(),
            "the burst lets every item through",
        )
        .await;
        outputs.sort_unstable();
        assert_eq!(outputs, [0, 1, 2, 3, 4]);
        assert!(
            per_hour.try_acquire().is_err(),
            "the stream used the whole burst of the limiter it was given"
        );
    });
}

// ---- Hand-stepped tests: no runtime, one poll at a time. ----

/// Go's package-level semaphore: `fan_out_with(&API, f)` compiles and shares `API`'s budget
/// with every other user of it. (One `static` for one test: the runtime matrix runs at once, so
/// its scenario above leaks a semaphore per runtime instead.)
#[test]
fn fan_out_with_takes_a_semaphore_in_a_static() {
    static API: Semaphore = Semaphore::new(3);
    futures::executor::block_on(async {
        let probe = Arc::new(Probe::default());
        let (p1, p2) = (probe.clone(), probe.clone());
        let users = stream::iter(0..ITEMS)
            .fan_out_with(&API, move |i| work(p1.clone(), i, 2))
            .collect::<Vec<_>>();
        let orders = stream::iter(0..ITEMS)
            .fan_out_with(&API, move |i| work(p2.clone(), i, 1))
            .collect::<Vec<_>>();
        let (users, orders) = futures::join!(users, orders);
        assert_eq!((users.len(), orders.len()), (ITEMS, ITEMS));
        assert_eq!(
            probe.get(&probe.peak),
            3,
            "the budget is reached, never passed"
        );
        assert_eq!(API.available_permits(), 3, "every permit back");
    });
}

/// Dropping a `fan_out_with` on a `static` gives back its permits and its place in the queue,
/// as with an `Arc`.
#[test]
fn dropping_fan_out_with_on_a_static_gives_every_permit_back() {
    static API: Semaphore = Semaphore::new(2);
    let mut cx = noop_cx();
    let mut s = stream::iter(0..10).fan_out_with(&API, |_| std::future::pending::<()>());
    assert!(s.poll_next_unpin(&mut cx).is_pending());
    assert_eq!(API.available_permits(), 0);
    let mut other = API.acquire_many(2); // queued behind the stream's waiting item
    assert!(other.poll_unpin(&mut cx).is_pending());
    drop(s);
    match other.poll_unpin(&mut cx) {
        Poll::Ready(Ok(permit)) => assert_eq!(permit.num_permits(), 2),
        other => panic!("the stream's permits and place went on: {other:?}"),
    }
}

/// A full stage asks for no item, so `rate_limited` books no slot ahead of need.
#[test]
fn rate_limited_books_nothing_while_the_stage_is_full() {
    let mut cx = noop_cx();
    // Three slots at once, then one per hour: no slot comes back while the test runs.
    let per_second = Arc::new(RateLimiter::new(1, Duration::from_secs(3600)).with_burst(3));
    let mut s = stream::iter(0..10)
        .rate_limited(per_second.clone())
        .fan_out(1, |_| std::future::pending::<()>());
    assert!(s.poll_next_unpin(&mut cx).is_pending());
    assert!(s.poll_next_unpin(&mut cx).is_pending());
    // One slot of the burst went to the one running item; the other two are still free.
    assert!(per_second.try_acquire().is_ok());
    assert!(per_second.try_acquire().is_ok());
    assert!(per_second.try_acquire().is_err());
}

fn noop_cx() -> Context<'static> {
    Context::from_waker(futures::task::noop_waker_ref())
}

/// The refill fix: the slot an output frees is refilled, and its new future started, in the
/// very poll that yields the output, so the consumer's time is not the pipeline's idle time.
/// With `buffer_unordered` the refill waits for the consumer's next poll.
#[test]
fn a_finished_slot_is_refilled_in_the_poll_that_yields_it() {
    fn gated(
        probe: &Arc<Probe>,
    ) -> (
        Vec<oneshot::Sender<()>>,
        Vec<oneshot::Receiver<()>>,
        Arc<Probe>,
    ) {
        let (senders, receivers) = (0..10).map(|_| oneshot::channel()).unzip();
        (senders, receivers, probe.clone())
    }
    let item = |probe: Arc<Probe>| {
        move |gate: oneshot::Receiver<()>| {
            let running = probe.enter();
            async move {
                let _ = gate.await;
                drop(running);
            }
        }
    };

    let mut cx = noop_cx();
    // taskgroup: 4 running before and after the first output.
    let probe = Arc::new(Probe::default());
    let (mut senders, receivers, p) = gated(&probe);
    let mut ours = stream::iter(receivers).fan_out(4, item(p));
    assert!(ours.poll_next_unpin(&mut cx).is_pending());
    assert_eq!(probe.get(&probe.running), 4);
    senders.remove(0).send(()).unwrap();
    assert_eq!(ours.poll_next_unpin(&mut cx), Poll::Ready(Some(())));
    assert_eq!(
        probe.get(&probe.running),
        4,
        "refilled before the output was handed over"
    );
    assert_eq!(probe.get(&probe.started), 5);

    // futures' buffer_unordered: 3 running while the consumer works on its output.
    let probe = Arc::new(Probe::default());
    let (mut senders, receivers, p) = gated(&probe);
    let mut theirs = stream::iter(receivers).map(item(p)).buffer_unordered(4);
    assert!(theirs.poll_next_unpin(&mut cx).is_pending());
    assert_eq!(probe.get(&probe.running), 4);
    senders.remove(0).send(()).unwrap();
    assert_eq!(theirs.poll_next_unpin(&mut cx), Poll::Ready(Some(())));
    assert_eq!(
        probe.get(&probe.running),
        3,
        "buffer_unordered refills on the next poll"
    );
}

/// A stream of ready items and ready futures runs to its end with no `Pending` at all.
#[test]
fn ends_are_reached_without_a_spurious_pending() {
    let mut cx = noop_cx();
    fn drain<S: Stream + Unpin>(mut s: S, cx: &mut Context<'_>) -> usize {
        let mut n = 0;
        loop {
            match s.poll_next_unpin(cx) {
                Poll::Ready(Some(_)) => n += 1,
                Poll::Ready(None) => return n,
                Poll::Pending => panic!("spurious Pending after {n} outputs"),
            }
        }
    }
    let ready = |i: usize| async move { i };
    assert_eq!(drain(stream::iter(0..50).fan_out(3, ready), &mut cx), 50);
    assert_eq!(
        drain(stream::iter(0..50).fan_out_ordered(3, ready), &mut cx),
        50
    );
    let ok = |i: usize| async move { Ok::<_, ()>(i) };
    assert_eq!(drain(stream::iter(0..50).try_fan_out(3, ok), &mut cx), 50);
    let sem = Arc::new(Semaphore::new(3));
    assert_eq!(
        drain(stream::iter(0..50).fan_out_with(sem, ready), &mut cx),
        50
    );
    assert_eq!(drain(stream::iter(0..0).fan_out(3, ready), &mut cx), 0);
}

#[test]
fn size_hint_counts_the_source_and_what_is_in_flight() {
    let mut cx = noop_cx();
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..10).map(|_| oneshot::channel::<()>()).unzip();
    let mut s = stream::iter(receivers).fan_out_ordered(3, |gate| gate);
    assert_eq!(s.size_hint(), (10, Some(10)));
    assert!(s.poll_next_unpin(&mut cx).is_pending());
    assert_eq!(
        s.size_hint(),
        (10, Some(10)),
        "3 in flight + 7 in the source"
    );
    for sender in senders {
        sender.send(()).unwrap();
    }
    assert_eq!(futures::executor::block_on(s.by_ref().count()), 10);
    assert_eq!(s.size_hint(), (0, Some(0)));
    assert!(s.is_terminated());

    let s = stream::iter(0..10).try_fan_out(3, |i| async move { Ok::<_, ()>(i) });
    assert_eq!(
        s.size_hint(),
        (1, Some(10)),
        "an error may end it after one item"
    );
    let s = stream::iter(0..10).fan_out(3, |i| async move { i });
    assert_eq!(s.size_hint(), (10, Some(10)));
}

#[test]
fn every_adapter_refuses_a_zero_limit() {
    fn message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
        let payload = std::panic::catch_unwind(f).unwrap_err();
        payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default()
    }
    let f = |i: usize| async move { i };
    let m = message(|| drop(stream::iter(0..1).fan_out(0, f)));
    assert!(m.contains("fan_out: limit must be at least 1"), "{m}");
    let m = message(|| drop(stream::iter(0..1).fan_out_ordered(0, f)));
    assert!(
        m.contains("fan_out_ordered: limit must be at least 1"),
        "{m}"
    );
    let m = message(|| drop(stream::iter(0..1).try_fan_out(0, |i| async move { Ok::<_, ()>(i) })));
    assert!(m.contains("try_fan_out: limit must be at least 1"), "{m}");
    let m = message(|| drop(stream::iter(0..1).fan_out_spawned(0, drop, f)));
    assert!(
        m.contains("fan_out_spawned: limit must be at least 1"),
        "{m}"
    );
}

#[test]
fn a_panicking_local_future_propagates_from_poll_next() {
    let stream = stream::iter(0..4).fan_out(2, |i| async move {
        assert_ne!(i, 2, "item 2 broke");
        i
    });
    let payload = std::panic::catch_unwind(AssertUnwindSafe(|| {
        futures::executor::block_on(stream.collect::<Vec<_>>())
    }))
    .unwrap_err();
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("item 2 broke"), "{message}");
}

#[test]
fn a_spawn_function_that_drops_items_makes_the_stream_panic_not_hang() {
    let stream = stream::iter(0..4).fan_out_spawned(2, drop, |i| async move { i });
    let payload =
        futures::executor::block_on(AssertUnwindSafe(stream.collect::<Vec<_>>()).catch_unwind())
            .unwrap_err();
    let message = payload.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(message.contains("dropped by its executor"), "{message}");
}

#[cfg_attr(miri, ignore)]
#[test]
fn fan_out_spawned_runs_items_on_several_threads() {
    // Two items that can each finish only while the other runs: on one thread this would
    // never end, so the timeout turns a failure into a clear error instead of a hang.
    common::TokioMultiThread::block_on(async {
        let arrived = Arc::new(AtomicUsize::new(0));
        let a = arrived.clone();
        let threads: Vec<_> = stream::iter(0..2)
            .fan_out_spawned(
                2,
                |f| {
                    tokio::spawn(f);
                },
                move |_| {
                    let arrived = a.clone();
                    async move {
                        arrived.fetch_add(1, Ordering::SeqCst);
                        while arrived.load(Ordering::SeqCst) < 2 {
                            std::hint::spin_loop(); // blocks this worker thread on purpose
                        }
                        std::thread::current().id()
                    }
                },
            )
            .collect()
            .timeout(Duration::from_secs(30))
            .await
            .expect("both items ran at the same time");
        assert_ne!(threads[0], threads[1]);
    });
}

#[test]
fn debug_shows_the_state() {
    let mut cx = noop_cx();
    let mut s = stream::iter(0..10).fan_out(3, |_| std::future::pending::<()>());
    assert!(s.poll_next_unpin(&mut cx).is_pending());
    assert_eq!(
        format!("{s:?}"),
        "FanOut { limit: 3, in_flight: 3, ready: 0, source_done: false }"
    );
    let s = stream::iter(0..10).fan_out_ordered(3, |i| async move { i });
    assert_eq!(
        format!("{s:?}"),
        "FanOutOrdered { limit: 3, in_flight: 0, done_waiting: 0, source_done: false }"
    );
}

/// A future that finishes once its flag is set; hands out every waker it was polled with.
struct Gated {
    open: Arc<std::sync::atomic::AtomicBool>,
    wakers: Arc<std::sync::Mutex<Vec<std::task::Waker>>>,
    id: usize,
}

impl std::future::Future for Gated {
    type Output = usize;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        self.wakers.lock().unwrap().push(cx.waker().clone());
        if self.open.load(Ordering::SeqCst) {
            Poll::Ready(self.id)
        } else {
            Poll::Pending
        }
    }
}

#[derive(Clone, Default)]
struct Gate {
    open: Arc<std::sync::atomic::AtomicBool>,
    wakers: Arc<std::sync::Mutex<Vec<std::task::Waker>>>,
}

impl Gate {
    fn future(&self, id: usize) -> Gated {
        Gated {
            open: self.open.clone(),
            wakers: self.wakers.clone(),
            id,
        }
    }
    fn open(&self) {
        self.open.store(true, Ordering::SeqCst);
        self.wake_again();
    }
    fn wake_again(&self) {
        for waker in self.wakers.lock().unwrap().iter() {
            waker.wake_by_ref();
        }
    }
}

/// Once an error is in hand, `try_fan_out` pulls nothing more and calls `f` no more, even in
/// the poll that yields the error (no refill for a stream that is about to end).
#[test]
fn try_fan_out_starts_nothing_once_it_has_the_error() {
    let mut cx = noop_cx();
    let pulled = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let (failing, s) = (Gate::default(), started.clone());
    let f = failing.clone();
    let mut stream = counted(100, &pulled).try_fan_out(2, move |i| {
        s.fetch_add(1, Ordering::SeqCst);
        let gate = if i == 0 {
            f.future(0)
        } else {
            Gate::default().future(i)
        };
        async move {
            match gate.await {
                0 => Err("boom"),
                i => Ok(i),
            }
        }
    });
    assert!(stream.poll_next_unpin(&mut cx).is_pending());
    failing.open();
    assert_eq!(
        stream.poll_next_unpin(&mut cx),
        Poll::Ready(Some(Err("boom")))
    );
    assert_eq!(pulled.load(Ordering::SeqCst), 2, "pulled after the error");
    assert_eq!(started.load(Ordering::SeqCst), 2, "started after the error");

    // An error that is ready at its first poll waits behind the outputs before it, and stops
    // the refills of those too.
    let started = Arc::new(Mutex::new(Vec::new()));
    let s = started.clone();
    let yielded: Vec<_> = futures::executor::block_on(
        stream::iter(1..=100)
            .try_fan_out(4, move |n| {
                s.lock().unwrap().push(n);
                async move {
                    if n == 3 {
                        Err(n)
                    } else {
                        Ok(n)
                    }
                }
            })
            .collect(),
    );
    assert_eq!(yielded, [Ok(1), Ok(2), Err(3)]);
    assert_eq!(*started.lock().unwrap(), [1, 2, 3]);
}

/// Late wake-ups of slots whose futures already finished cost nothing: the stream still ends
/// in the poll after its last output.
#[test]
fn late_wake_ups_of_finished_slots_do_not_delay_the_end() {
    let mut cx = noop_cx();
    let gates: Vec<Gate> = (0..3).map(|_| Gate::default()).collect();
    let g = gates.clone();
    let mut stream = stream::iter(0..3).fan_out(3, move |i| g[i].future(i));
    assert!(stream.poll_next_unpin(&mut cx).is_pending());
    gates[1].open();
    gates[2].open();
    let mut got = Vec::new();
    for _ in 0..2 {
        if let Poll::Ready(Some(i)) = stream.poll_next_unpin(&mut cx) {
            got.push(i);
        }
    }
    gates[1].wake_again(); // stale: their futures are gone
    gates[2].wake_again();
    gates[0].open();
    if let Poll::Ready(Some(i)) = stream.poll_next_unpin(&mut cx) {
        got.push(i);
    }
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2]);
    assert_eq!(stream.poll_next_unpin(&mut cx), Poll::Ready(None));
}

/// A caught panic does not wedge a local adapter: polled again, it goes on without the item
/// that panicked (its permit back), and ends.
#[test]
fn local_adapters_go_on_after_a_caught_panic() {
    fn drain<S: Stream<Item = usize> + Unpin>(mut stream: S) -> (Vec<usize>, usize) {
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let (mut outputs, mut panics) = (Vec::new(), 0);
        for _ in 0..100 {
            match std::panic::catch_unwind(AssertUnwindSafe(|| stream.poll_next_unpin(&mut cx))) {
                Err(_) => panics += 1,
                Ok(Poll::Ready(Some(i))) => outputs.push(i),
                Ok(Poll::Ready(None)) => return (outputs, panics),
                Ok(Poll::Pending) => {}
            }
        }
        panic!("the stream never ended after {outputs:?}");
    }
    let item = |i: usize| async move {
        yield_now().await;
        assert_ne!(i, 1, "item 1 broke");
        i
    };
    let (mut unordered, panics) = drain(stream::iter(0..4).fan_out(4, item));
    unordered.sort_unstable();
    assert_eq!((unordered, panics), (vec![0, 2, 3], 1));
    assert_eq!(
        drain(stream::iter(0..4).fan_out_ordered(2, item)),
        (vec![0, 2, 3], 1)
    );
    let sem = Arc::new(Semaphore::new(2));
    let (mut with, panics) = drain(stream::iter(0..4).fan_out_with(sem.clone(), item));
    with.sort_unstable();
    assert_eq!((with, panics), (vec![0, 2, 3], 1));
    assert_eq!(
        sem.available_permits(),
        2,
        "the panicked item's permit came back"
    );
}

/// A closed semaphore stops `fan_out_with` before it pulls anything, and its size hint never
/// promises items that will not come.
#[test]
fn fan_out_with_on_a_closed_semaphore_pulls_nothing() {
    let mut cx = noop_cx();
    let pulled = Arc::new(AtomicUsize::new(0));
    let sem = Arc::new(Semaphore::new(2));
    let mut stream = counted(10, &pulled).fan_out_with(sem.clone(), |i| async move { i });
    assert_eq!(stream.size_hint(), (0, Some(10)));
    sem.close();
    assert_eq!(stream.poll_next_unpin(&mut cx), Poll::Ready(None));
    assert_eq!(pulled.load(Ordering::SeqCst), 0);
    assert!(stream.is_terminated());
}
