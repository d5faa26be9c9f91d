//! A polite scraper: at most 5 requests at once (a `Semaphore`) and at most 20 per second (a
//! `RateLimiter`) against a simulated API, on smol. Prints, each second, how many requests
//! started and the peak in flight; the simulated server checks both limits itself.
//!
//! Run with `cargo run --example polite_scraper`. Offline, about 4 seconds, exits 0.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use taskgroup::{AsyncWaitGroup, RateLimiter, Semaphore};

const PAGES: usize = 80;
const AT_ONCE: usize = 5;
const PER_SECOND: u32 = 20;

/// The API's side: counts requests in flight and records when each started.
#[derive(Default)]
struct Server {
    in_flight: AtomicUsize,
    peak_this_second: AtomicUsize,
    started_this_second: AtomicUsize,
    starts: Mutex<Vec<Instant>>,
}

impl Server {
    /// One request: 100-400 ms of latency, then the page's size.
    async fn get(&self, page: usize) -> usize {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        assert!(now <= AT_ONCE, "the server saw {now} requests at once");
        self.peak_this_second.fetch_max(now, Ordering::SeqCst);
        self.started_this_second.fetch_add(1, Ordering::SeqCst);
        self.starts.lock().unwrap().push(Instant::now());
        let latency = 100 + (page * 7919) % 300;
        smol::Timer::after(Duration::from_millis(latency as u64)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        1_000 + page * 37 % 5_000
    }
}

fn main() {
    let api = Arc::new(Semaphore::new(AT_ONCE));
    let rate = Arc::new(RateLimiter::new(PER_SECOND, Duration::from_secs(1)));
    let server = Arc::new(Server::default());
    let bytes = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();

    smol::block_on(async {
        let wg = AsyncWaitGroup::new();
        for page in 0..PAGES {
            let (api, rate, server, bytes) =
                (api.clone(), rate.clone(), server.clone(), bytes.clone());
            smol::spawn(wg.track(async move {
                // Permit first, then the slot: a request starts as soon as it has both, so
                // slots are never banked while waiting for a permit.
                let _call = api.acquire().await.unwrap();
                rate.acquire().await.unwrap();
                bytes.fetch_add(server.get(page).await, Ordering::Relaxed);
            }))
            .detach();
        }

        // Report once a second until every page is in.
        let reporter = {
            let server = server.clone();
            async move {
                let mut second = 0;
                loop {
                    second += 1;
                    smol::Timer::at(started + Duration::from_secs(second)).await;
                    println!(
                        "second {second}: {:>2} requests started, at most {} in flight",
                        server.started_this_second.swap(0, Ordering::SeqCst),
                        server.peak_this_second.swap(0, Ordering::SeqCst),
                    );
                }
            }
        };
        futures::future::select(Box::pin(wg.wait()), Box::pin(reporter)).await;
    });

    let elapsed = started.elapsed();
    let starts = server.starts.lock().unwrap().clone();
    // The most requests that started within any one second.
    let busiest = (0..starts.len())
        .map(|i| {
            starts[i..]
                .iter()
                .take_while(|s| **s - starts[i] < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0);
    println!(
        "{PAGES} pages, {} kB in {elapsed:.2?}: {:.1} requests/s; busiest second: {busiest} starts",
        bytes.load(Ordering::Relaxed) / 1_000,
        PAGES as f64 / elapsed.as_secs_f64(),
    );
    // 20 per second plus the burst of 1; timers fire late, never early, so a late start can
    // crowd the next second by one or two.
    assert!(
        busiest <= PER_SECOND as usize + 3,
        "{busiest} starts in one second"
    );
    // The 80th slot is 79 intervals after the first, never sooner.
    assert!(
        elapsed >= Duration::from_millis(3_950),
        "done in {elapsed:?}"
    );
}
