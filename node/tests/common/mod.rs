//! A harness for tests that run real `engine-node` processes: start, stop, kill, query the
//! gateway over plain HTTP/1.1, and wait with a bound on every loop. Children are killed and
//! temporary dirs removed on drop, also when a test fails.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_engine-node");

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let p = std::env::temp_dir().join(format!("st-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A free port on 127.0.0.1 for both UDP and TCP (as far as one can tell before binding).
///
/// Taken from 12000–31999, below the kernel's ephemeral range (32768–60999 by default): a port
/// the kernel handed out for `:0` is free to be given again to any outgoing connection (a node's
/// gossip push, a test's HTTP request) before the node binds it, and a test once failed with
/// "Address already in use" that way. Each test process starts at its own offset and never
/// offers a port twice.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 12_000;
    const SPAN: u32 = 20_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let offset = (std::process::id() % 1000) * 20;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let Ok(port) = u16::try_from(LOW + (offset + n) % SPAN) else {
            continue;
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if TcpListener::bind(addr).is_ok() && UdpSocket::bind(addr).is_ok() {
            return port;
        }
    }
    panic!("no free port found");
}

/// Loopback address with a free port.
pub fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// One `engine-node run` process.
pub struct Node {
    pub name: String,
    pub gossip: SocketAddr,
    pub http: SocketAddr,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    pub args: Vec<String>,
    /// A command prefix (e.g. `ip netns exec NS`) to run the node under.
    pub prefix: Vec<String>,
    pub child: Option<Child>,
}

impl Node {
    /// Starts a node on loopback with `--preset local` and the given peers and extra flags.
    pub fn start(name: &str, dir: &TempDir, peers: &[SocketAddr], extra: &[&str]) -> Node {
        let gossip = free_addr();
        let http = free_addr();
        let mut args: Vec<String> = vec![
            "run".into(),
            "--listen".into(),
            gossip.to_string(),
            "--http".into(),
            http.to_string(),
            "--preset".into(),
            "local".into(),
            "--log-level".into(),
            "debug".into(),
        ];
        for p in peers {
            args.push("--peer".into());
            args.push(p.to_string());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut node = Node {
            name: name.into(),
            gossip,
            http,
            data_dir: dir.join(name),
            log: dir.join(&format!("{name}.log")),
            args,
            prefix: Vec::new(),
            child: None,
        };
        node.spawn();
        node
    }

    /// Starts (again) with the same flags and data dir.
    pub fn spawn(&mut self) {
        self.spawn_with(&[]);
    }

    /// Starts (again) with the same flags plus `extra`.
    pub fn spawn_with(&mut self, extra: &[&str]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open log");
        let (prog, pre): (&str, &[String]) = match self.prefix.split_first() {
            Some((p, rest)) => (p.as_str(), rest),
            None => (BIN, &[]),
        };
        let mut cmd = Command::new(prog);
        cmd.args(pre);
        if !self.prefix.is_empty() {
            cmd.arg(BIN);
        }
        cmd.args(&self.args)
            .args(extra)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        self.child = Some(cmd.spawn().expect("spawn engine-node"));
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends `signal` (e.g. "TERM") and waits up to `within` for the exit status.
    pub fn signal_and_wait(&mut self, signal: &str, within: Duration) -> Option<ExitStatus> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(c.id().to_string())
            .status();
        let status = wait_child(&mut c, within);
        if status.is_none() {
            let _ = c.kill();
            let _ = c.wait();
        }
        status
    }

    /// Waits up to `within` for the process to exit by itself.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let mut c = self.child.take()?;
        let status = wait_child(&mut c, within);
        if status.is_none() {
            self.child = Some(c);
        }
        status
    }

    /// `GET /butterfly`, parsed.
    pub fn butterfly(&self) -> Option<serde_json::Value> {
        let (status, body) = http(self.http, "GET", "/butterfly", &[], b"")?;
        if status != 200 {
            return None;
        }
        serde_json::from_str(&body).ok()
    }

    /// `GET path`, parsed as JSON (status 200 only).
    pub fn get_json(&self, path: &str) -> Option<serde_json::Value> {
        let (status, body) = http(self.http, "GET", path, &[], b"")?;
        if status != 200 {
            return None;
        }
        serde_json::from_str(&body).ok()
    }

    /// The address and data dir flags for a client subcommand aimed at this node.
    pub fn client_args(&self) -> Vec<String> {
        vec![
            "--http".into(),
            self.http.to_string(),
            "--data-dir".into(),
            self.data_dir.to_string_lossy().into_owned(),
        ]
    }

    pub fn member_id(&self) -> Option<String> {
        Some(self.butterfly()?.get("member_id")?.as_str()?.to_owned())
    }

    /// The health this node holds `id` in, and the incarnation.
    pub fn health_of(&self, id: &str) -> Option<(String, u64)> {
        let b = self.butterfly()?;
        let m = b.get("membership")?.get(id)?;
        Some((
            m.get("health")?.as_str()?.to_owned(),
            m.get("incarnation")?.as_u64()?,
        ))
    }

    /// The control secret from the data dir.
    pub fn secret(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("ctl_secret"))
            .expect("ctl_secret")
            .trim()
            .to_owned()
    }

    /// The last lines of the log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(40);
        format!("--- {} log ---\n{}", self.name, lines[from..].join("\n"))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn wait_child(c: &mut Child, within: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(s)) = c.try_wait() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// One HTTP/1.1 request with `Connection: close`; `(status, body)`. Bounded by timeouts.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, String)> {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    let raw = raw_exchange(addr, &bytes)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status: u16 = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Some((status, body))
}

/// Sends `bytes` on a fresh TCP connection and reads until close (5 s at most).
pub fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(bytes).ok()?;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    Some(out)
}

/// Polls `f` every 100 ms until it returns `Some`, for at most `within`.
pub fn wait_for<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether every node in `observers` holds every id in `ids` with `health`.
pub fn all_hold(observers: &[&Node], ids: &[String], health: &str) -> bool {
    observers.iter().all(|n| {
        let Some(b) = n.butterfly() else {
            return false;
        };
        ids.iter().all(|id| {
            b.get("membership")
                .and_then(|m| m.get(id))
                .and_then(|m| m.get("health"))
                .and_then(|h| h.as_str())
                == Some(health)
        })
    })
}

/// Runs `engine-node` with `args` (a client subcommand); `(exit code, stdout, stderr)`.
pub fn cli(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run engine-node");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Logs of all nodes, for failure messages.
pub fn logs(nodes: &[&Node]) -> String {
    nodes
        .iter()
        .map(|n| n.log_tail())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `dir` holds a file whose name starts with `prefix`.
pub fn has_file_starting(dir: &Path, prefix: &str) -> bool {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().starts_with(prefix))
        })
        .unwrap_or(false)
}

/// One sample of an unlabelled metric from `GET /metrics`.
pub fn metric(node: &Node, name: &str) -> Option<f64> {
    let (status, text) = http(node.http, "GET", "/metrics", &[], b"")?;
    if status != 200 {
        return None;
    }
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Waits until every node has a member id and all hold each other Alive; the ids, in order.
/// Panics with the nodes' logs if that takes longer than `within`.
pub fn formed(nodes: &[&Node], within: Duration) -> Vec<String> {
    let ids: Vec<String> = nodes
        .iter()
        .map(|n| wait_for(within, || n.member_id()).unwrap_or_else(|| panic!("{}", logs(&[n]))))
        .collect();
    let alive = wait_for(within, || all_hold(nodes, &ids, "Alive").then_some(()));
    assert!(alive.is_some(), "ring did not form\n{}", logs(nodes));
    ids
}
