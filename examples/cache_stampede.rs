//! A cache stampede, tamed: 1 000 requests over 10 keys hit an empty cache at once; a
//! `SingleFlight` in front of the slow backend makes one backend call per key instead of one
//! per request. One request is cancelled mid-flight (a 10 ms timeout) while it leads its key's
//! call: a waiting request takes the work over, and nobody else notices.
//!
//! Run with `cargo run --example cache_stampede`. Offline, well under a second, exits 0.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use taskgroup::{SingleFlight, TimeoutExt};

const REQUESTS: usize = 1_000;
const KEYS: usize = 10;
const BACKEND_LATENCY: Duration = Duration::from_millis(50);

#[derive(Default)]
struct Backend {
    started: AtomicUsize,
    completed: AtomicUsize,
}

impl Backend {
    /// A slow lookup; counts the calls that started and those that finished.
    async fn fetch(&self, key: usize) -> Arc<String> {
        self.started.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(BACKEND_LATENCY).await;
        self.completed.fetch_add(1, Ordering::SeqCst);
        Arc::new(format!("value of key {key}"))
    }
}

#[derive(Default)]
struct Service {
    cache: Mutex<HashMap<usize, Arc<String>>>,
    flights: SingleFlight<usize, Arc<String>>,
    backend: Backend,
}

impl Service {
    /// Read-through: the cache first; on a miss, one backend call per key however many
    /// requests missed together.
    async fn get(&self, key: usize) -> Arc<String> {
        if let Some(hit) = self.cache.lock().unwrap().get(&key) {
            return hit.clone();
        }
        self.flights
            .run(key, || async move {
                let value = self.backend.fetch(key).await;
                self.cache.lock().unwrap().insert(key, value.clone());
                value
            })
            .await
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let service = Arc::new(Service::default());
    let started = Instant::now();

    // The request that will be cancelled: polled first, so it leads key 0's backend call.
    let mut impatient = Box::pin({
        let service = service.clone();
        async move { service.get(0).await }.timeout(Duration::from_millis(10))
    });
    assert!((&mut impatient).now_or_never().is_none(), "it leads key 0");

    let requests: Vec<_> = (1..REQUESTS)
        .map(|i| {
            let service = service.clone();
            tokio::spawn(async move { (i % KEYS, service.get(i % KEYS).await) })
        })
        .collect();

    // 10 ms in, the impatient client gives up: its future is dropped mid-call.
    let gave_up = impatient.await.is_err();
    println!("request 0 (leading key 0) cancelled after 10 ms: {gave_up}");

    let mut served = 0;
    for request in requests {
        let (key, value) = request.await.expect("no request panics");
        assert_eq!(*value, format!("value of key {key}"));
        served += 1;
    }
    let backend = &service.backend;
    println!(
        "{served} requests served over {KEYS} keys in {:?}",
        started.elapsed()
    );
    println!(
        "backend calls: {} completed ({} started: key 0's first call was dropped with the \
         cancelled request, and a waiting request took over)",
        backend.completed.load(Ordering::SeqCst),
        backend.started.load(Ordering::SeqCst),
    );
    println!("flights still in progress: {}", service.flights.in_flight());
    assert!(gave_up);
    assert_eq!(served, REQUESTS - 1);
    assert_eq!(backend.completed.load(Ordering::SeqCst), KEYS);
    assert_eq!(backend.started.load(Ordering::SeqCst), KEYS + 1);
    assert_eq!(service.flights.in_flight(), 0);
}
