//! Three worker processes share one limit, "20 calls per second", through Redis: a simulated API
//! counts the calls it receives from all of them and checks that no second saw more than the
//! limit allows. Prints each worker's share and the achieved global rate.
//!
//! Run with `cargo run --example shared_limit --features redis-tokio`. It uses the Redis at
//! `$REDIS_URL` if set, otherwise starts its own `redis-server` (Debian: `apt-get install
//! redis-server`) on a free loopback port and stops it at the end. About 3 seconds; exits 0.
//!
//! Without the shared limit, three processes each limited to 20 per second would send 60.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use taskgroup::RedisRateLimiter;

const PER_SECOND: u32 = 20;
const BURST: u32 = 2;
const WORKERS: usize = 3;
const CALLS_EACH: usize = 20;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("worker") {
        return worker(&args[2], &args[3], &args[4], &args[5]);
    }

    let (url, _server) = match std::env::var("REDIS_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let server = OwnServer::start();
            (server.url.clone(), Some(server))
        }
    };
    // One limit name per run, so runs against a shared Redis do not meet.
    let name = format!("shared-limit-example-{}", std::process::id());

    // The simulated API: one line per call, from any worker.
    let api = TcpListener::bind("127.0.0.1:0").unwrap();
    let api_addr = api.local_addr().unwrap().to_string();
    let receiver = std::thread::spawn(move || receive(api));

    println!("{WORKERS} workers share {PER_SECOND} calls per second (burst {BURST}) via {url}");
    let workers: Vec<Child> = (0..WORKERS)
        .map(|id| {
            Command::new(std::env::current_exe().unwrap())
                .args(["worker", &url, &name, &api_addr, &id.to_string()])
                .spawn()
                .expect("start a worker process")
        })
        .collect();
    for mut worker in workers {
        assert!(worker.wait().unwrap().success(), "a worker failed");
    }

    let calls = receiver.join().unwrap();
    let mut per_worker = [0; WORKERS];
    for (_, id) in &calls {
        per_worker[*id] += 1;
    }
    let span = calls.last().unwrap().0 - calls[0].0;
    let busiest = busiest_second(&calls);
    println!(
        "the API received {} calls in {span:.2?} ({per_worker:?} per worker): {:.1} calls/s \
         after the burst; busiest second: {busiest} calls",
        calls.len(),
        (calls.len() - BURST as usize) as f64 / span.as_secs_f64()
    );
    // GCRA's bound: at most burst + rate in any second (one more for a grant seen late).
    let allowed = (BURST + PER_SECOND + 1) as usize;
    assert!(
        busiest <= allowed,
        "{busiest} calls in one second, at most {allowed} allowed"
    );
}

/// One worker process: `CALLS_EACH` calls, each after a slot of the shared limit.
fn worker(url: &str, name: &str, api: &str, id: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let limiter = RedisRateLimiter::new(url, name, PER_SECOND, Duration::from_secs(1))
        .expect("a Redis URL")
        .with_burst(BURST);
    let mut api = TcpStream::connect(api).unwrap();
    runtime.block_on(async {
        for _ in 0..CALLS_EACH {
            limiter.acquire().await.expect("Redis answered");
            writeln!(api, "{id}").unwrap(); // the call
        }
    });
}

/// Records each call's arrival and caller until every worker hung up.
fn receive(api: TcpListener) -> Vec<(Instant, usize)> {
    let readers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (stream, _) = api.accept().unwrap();
            std::thread::spawn(move || {
                BufReader::new(stream)
                    .lines()
                    .map(|line| (Instant::now(), line.unwrap().parse().unwrap()))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut calls: Vec<_> = readers
        .into_iter()
        .flat_map(|r| r.join().unwrap())
        .collect();
    calls.sort();
    calls
}

/// The most calls the API received within any one second.
fn busiest_second(calls: &[(Instant, usize)]) -> usize {
    let mut busiest = 0;
    let mut first = 0;
    for last in 0..calls.len() {
        while calls[last].0 - calls[first].0 >= Duration::from_secs(1) {
            first += 1;
        }
        busiest = busiest.max(last - first + 1);
    }
    busiest
}

/// A `redis-server` of our own on a free loopback port, killed on drop.
struct OwnServer {
    child: Child,
    url: String,
    dir: std::path::PathBuf,
}

impl OwnServer {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("shared-limit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("no $REDIS_URL and no `redis-server` to start (apt-get install redis-server)");
        // Wait until it accepts connections, 10 s at most.
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
        let url = format!("redis://127.0.0.1:{port}");
        Self { child, url, dir }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
