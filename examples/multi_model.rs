//! Ask several model back-ends at once and let the first failure stop the rest: Go's
//! `errgroup.WithContext`, on tokio's multi-thread runtime.
//!
//! Four acts, offline, a few seconds:
//!
//! 1. Three simulated back-ends answer in parallel; one fails. The group fires its token, the
//!    other two are cancelled (their drop code says so) and `wait()` reports the first error.
//! 2. The same three with `wait_all()`: every outcome, in spawn order.
//! 3. A crawl of an in-memory link graph: tasks add tasks through the spawner, at most 4 at once.
//! 4. Graceful shutdown: an outer token fires after a moment; the workers see it, flush what
//!    they have and return; nothing is lost.
//!
//! Run with `cargo run --example multi_model`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use taskgroup::{CancelToken, ErrGroup, ErrGroupSpawner};

/// A simulated model back-end: answers after `latency`, or fails after it.
#[derive(Clone, Copy)]
struct Backend {
    name: &'static str,
    latency: Duration,
    fails: bool,
}

const BACKENDS: [Backend; 3] = [
    Backend {
        name: "model-a",
        latency: Duration::from_millis(400),
        fails: false,
    },
    Backend {
        name: "model-b",
        latency: Duration::from_millis(100),
        fails: true,
    },
    Backend {
        name: "model-c",
        latency: Duration::from_millis(600),
        fails: false,
    },
];

/// Prints when a request is dropped before it finished: that is what cancellation looks like.
struct InFlight {
    name: &'static str,
    token: CancelToken,
    done: bool,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.done {
            println!(
                "  {:8} cancelled (token fired: {})",
                self.name,
                self.token.is_cancelled()
            );
        }
    }
}

async fn ask(backend: Backend, prompt: &'static str, token: CancelToken) -> Result<String, String> {
    let mut in_flight = InFlight {
        name: backend.name,
        token,
        done: false,
    };
    tokio::time::sleep(backend.latency).await;
    in_flight.done = true;
    if backend.fails {
        println!("  {:8} failed after {:?}", backend.name, backend.latency);
        Err(format!("{}: 503 service unavailable", backend.name))
    } else {
        println!("  {:8} answered after {:?}", backend.name, backend.latency);
        Ok(format!(
            "{}: {} words about {prompt:?}",
            backend.name,
            prompt.len() * 7
        ))
    }
}

fn parallel_group<T: Send + 'static>() -> ErrGroup<'static, T, String> {
    ErrGroup::with_spawner(|task| {
        tokio::spawn(task);
    })
}

async fn first_error_cancels_the_rest() {
    println!("1. three back-ends, one fails: wait()");
    let started = Instant::now();
    let mut group = parallel_group();
    let token = group.cancel_token();
    for backend in BACKENDS {
        group.spawn(ask(backend, "tides", token.clone()));
    }
    let result = group.wait().await;
    println!(
        "  -> {:?} after {:?} (the slow ones did not hold it up)",
        result,
        started.elapsed()
    );
    assert_eq!(result, Err("model-b: 503 service unavailable".to_string()));
    assert!(token.is_cancelled());
    assert!(started.elapsed() < Duration::from_millis(400));
}

async fn every_outcome() {
    println!("\n2. the same three: wait_all()");
    let mut group = parallel_group();
    let token = group.cancel_token();
    for backend in BACKENDS {
        group.spawn(ask(backend, "tides", token.clone()));
    }
    let outcomes = group.wait_all().await;
    for (backend, outcome) in BACKENDS.iter().zip(&outcomes) {
        println!("  -> {:8} {outcome:?}", backend.name);
    }
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 2);
}

/// The link graph of a small in-memory site: page -> links on it.
fn site() -> HashMap<u32, Vec<u32>> {
    (0..40u32)
        .map(|page| {
            (
                page,
                vec![(page * 3 + 1) % 40, (page * 7 + 2) % 40, page / 2],
            )
        })
        .collect()
}

struct Crawl {
    site: HashMap<u32, Vec<u32>>,
    seen: Mutex<HashSet<u32>>,
    running: AtomicUsize,
    peak: AtomicUsize,
}

/// Visits `page` and spawns a visit for each link not seen before. Not an `async fn`: a future
/// that spawns itself needs a nameable, non-recursive type.
#[allow(clippy::manual_async_fn)]
fn visit(
    page: u32,
    crawl: Arc<Crawl>,
    spawner: ErrGroupSpawner<'static, u32, String>,
) -> impl std::future::Future<Output = Result<u32, String>> + Send + 'static {
    async move {
        let now = crawl.running.fetch_add(1, Ordering::SeqCst) + 1;
        crawl.peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(5)).await; // fetching the page
        for &link in &crawl.site[&page] {
            if crawl.seen.lock().unwrap().insert(link) {
                spawner.spawn(visit(link, crawl.clone(), spawner.clone()));
            }
        }
        crawl.running.fetch_sub(1, Ordering::SeqCst);
        Ok(page)
    }
}

async fn crawl() {
    println!("\n3. crawl a link graph through the spawner, with_limit(4)");
    let started = Instant::now();
    let crawl = Arc::new(Crawl {
        site: site(),
        seen: Mutex::new(HashSet::from([0])),
        running: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
    });
    let mut group = parallel_group().with_limit(4);
    group.spawn(visit(0, crawl.clone(), group.spawner()));
    let pages = group.wait().await.expect("no page fails");
    let peak = crawl.peak.load(Ordering::SeqCst);
    println!(
        "  -> {} pages in {:?}, at most {peak} fetches at once",
        pages.len(),
        started.elapsed()
    );
    assert_eq!(pages.len(), crawl.seen.lock().unwrap().len());
    assert!(peak <= 4);
}

async fn graceful_shutdown() {
    println!("\n4. graceful shutdown: an outer token fires after 150 ms");
    let shutdown = CancelToken::new();
    let mut group = parallel_group().with_parent(&shutdown);
    for worker in 0..3u32 {
        let token = group.cancel_token();
        group.spawn(async move {
            let mut processed = 0u32;
            // Work in small steps until told to stop, then flush and return normally.
            while token
                .run_until_cancelled(tokio::time::sleep(Duration::from_millis(
                    20 + worker as u64 * 10,
                )))
                .await
                .is_some()
            {
                processed += 1;
            }
            println!("  worker {worker} saw the shutdown, flushed {processed} items");
            Ok(processed)
        });
    }
    let trigger = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            shutdown.cancel();
        })
    };
    let processed = group
        .wait()
        .await
        .expect("a cooperative stop is not an error");
    trigger.await.unwrap();
    println!("  -> every worker returned its count: {processed:?}");
    assert_eq!(processed.len(), 3);
    assert!(processed.iter().all(|&n| n > 0));
}

#[tokio::main]
async fn main() {
    first_error_cancels_the_rest().await;
    every_outcome().await;
    crawl().await;
    graceful_shutdown().await;
}
