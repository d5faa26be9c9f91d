//! A `redis-server` of the Redis benches' own: started on a free loopback port with no
//! persistence, stopped (and its folder removed) when dropped. Included by each Redis bench with
//! `#[path]`, so it is not a bench of its own.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    child: Child,
    pub url: String,
    dir: std::path::PathBuf,
}

impl Server {
    /// Starts one and waits (10 s at most) until it accepts connections.
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("taskgroup-bench-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("the bench needs `redis-server` (apt-get install redis-server)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(5)); // a retry interval, not a synchronization
        }
        Self {
            child,
            url: format!("redis://127.0.0.1:{port}"),
            dir,
        }
    }

    /// A plain synchronous connection, for the bench's own commands.
    pub fn sync(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    pub fn reset_stats(&self) {
        let _: () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query(&mut self.sync())
            .unwrap();
    }

    /// Calls of `commands` since the last reset (`INFO commandstats`).
    pub fn calls(&self, commands: &[&str]) -> u64 {
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query(&mut self.sync())
            .unwrap();
        commands
            .iter()
            .filter_map(|c| {
                let prefix = format!("cmdstat_{c}:calls=");
                info.lines()
                    .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
            })
            .map(|rest| rest.split(',').next().unwrap().parse::<u64>().unwrap())
            .sum()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
