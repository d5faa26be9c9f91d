//! A batch of simulated OCR jobs: each runs in its own task holding a wait-group guard; the
//! caller waits for the batch with a deadline, then reports what finished and what is still
//! outstanding: Go's `wg.Wait()` raced against `time.After`, in async Rust.
//!
//! Run with `cargo run --example ocr_batch`. Offline, a few seconds, exits 0.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use taskgroup::{AsyncWaitGroup, TimeoutExt};

const DOCUMENTS: usize = 40;
const HANGING: [usize; 3] = [7, 19, 31];
const DEADLINE: Duration = Duration::from_secs(2);

/// A tiny deterministic generator, so every run shows the same batch.
fn pseudo_random(seed: usize) -> u64 {
    let mut x = seed as u64 ^ 0x9E37_79B9_7F4A_7C15;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

#[derive(Debug)]
struct Page {
    document: String,
    words: u64,
    took: Duration,
}

async fn ocr(document: &str, index: usize) -> Page {
    let started = Instant::now();
    if HANGING.contains(&index) {
        // A scanner that never answers.
        std::future::pending::<()>().await;
    }
    let work = Duration::from_millis(50 + pseudo_random(index) % 1200);
    tokio::time::sleep(work).await;
    Page {
        document: document.to_owned(),
        words: 100 + pseudo_random(index + 1000) % 900,
        took: started.elapsed(),
    }
}

#[tokio::main]
async fn main() {
    let wg = AsyncWaitGroup::new();
    let done = Arc::new(Mutex::new(Vec::new()));
    let in_flight = Arc::new(Mutex::new(BTreeSet::new()));

    println!("submitting {DOCUMENTS} documents, waiting at most {DEADLINE:?}");
    let started = Instant::now();
    for index in 0..DOCUMENTS {
        let name = format!("scan-{index:03}.pdf");
        let guard = wg.guard(); // counted before the task starts: wait() cannot miss it
        let (done, in_flight) = (done.clone(), in_flight.clone());
        in_flight.lock().unwrap().insert(name.clone());
        tokio::spawn(async move {
            let page = ocr(&name, index).await;
            in_flight.lock().unwrap().remove(&name);
            done.lock().unwrap().push(page);
            drop(guard); // done(), also if this task panicked or were cancelled
        });
    }

    let outcome = wg.wait().timeout(DEADLINE).await;
    let done = done.lock().unwrap();
    let words: u64 = done.iter().map(|p| p.words).sum();
    let slowest = done.iter().max_by_key(|p| p.took);

    println!();
    match outcome {
        Ok(()) => println!(
            "all {DOCUMENTS} documents finished in {:.2?}",
            started.elapsed()
        ),
        Err(elapsed) => println!(
            "deadline passed after {:.2?}: {} of {DOCUMENTS} finished, {} still outstanding",
            elapsed.waited(),
            done.len(),
            wg.count(),
        ),
    }
    println!("  words recognised: {words}");
    if let Some(page) = slowest {
        println!("  slowest finished: {} ({:.2?})", page.document, page.took);
    }
    let stuck = in_flight.lock().unwrap();
    if !stuck.is_empty() {
        let names: Vec<&str> = stuck.iter().map(String::as_str).collect();
        println!("  still outstanding: {}", names.join(", "));
    }
    assert!(
        wg.count() >= HANGING.len(),
        "the hung scans are still counted"
    );
    // Leaving main drops the runtime, and with it the hung tasks.
}
