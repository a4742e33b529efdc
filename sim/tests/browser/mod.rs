//! Headless Chromium driven over the Chrome DevTools protocol, for tests that look at a page
//! the way a person would: what text it shows, whether its images loaded, what it logged.
//!
//! The browser is Debian's `chromium` (or `$CHROMIUM`), started with `--remote-debugging-pipe`:
//! the protocol runs over the child's file descriptors 3 (commands in) and 4 (replies and
//! events out), NUL-separated JSON, so there is no port, no WebSocket and no extra crate. A
//! small `sh -c 'exec …'` wrapper moves the child's stdin and stdout pipes to fds 3 and 4.
//! Every wait is bounded; the browser is killed and reaped on drop.
//!
//! Shared by `sim/tests/pages.rs` and `node/tests/node_page.rs` (through `#[path]`).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The longest one protocol call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the browser is: `$CHROMIUM`, else the first of the usual names on the `PATH`.
pub fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// The browser, or a clear message (and `None`) when it is not installed: the caller skips.
pub fn launch_or_skip(test: &str, profile: &Path) -> Option<Browser> {
    let Some(bin) = find() else {
        eprintln!(
            "SKIPPED {test}: no chromium found (install Debian's `chromium` package, as .ci/run \
             does, or point $CHROMIUM at a Chromium binary)"
        );
        return None;
    };
    match Browser::launch(&bin, profile) {
        Ok(b) => Some(b),
        Err(e) => panic!(
            "{test}: {} is installed but did not start: {e}",
            bin.display()
        ),
    }
}

/// One headless browser process and one page in it.
pub struct Browser {
    child: Child,
    commands: ChildStdin,
    replies: Receiver<Value>,
    next_id: u64,
    /// The page's session (every page-level call goes to it).
    session: String,
    /// Events received so far (console, exceptions, log entries, …).
    pub events: Vec<Value>,
}

impl Browser {
    /// Starts `bin` headless with a fresh profile in `profile` and opens one blank page.
    pub fn launch(bin: &Path, profile: &Path) -> Result<Browser, String> {
        std::fs::create_dir_all(profile).map_err(|e| format!("{}: {e}", profile.display()))?;
        let log = std::fs::File::create(profile.join("chromium.log"))
            .map_err(|e| format!("chromium.log: {e}"))?;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>/dev/null"#)
            .arg(bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--hide-scrollbars",
                "--mute-audio",
                "--remote-debugging-pipe",
            ])
            .arg(format!(
                "--user-data-dir={}",
                profile.join("user-data").display()
            ))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("spawn: {e}"))?;
        let (Some(commands), Some(out)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("no pipes to the browser".into());
        };
        let (tx, replies) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(out);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if buf.last() == Some(&0) {
                            buf.pop();
                        }
                        if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                            if tx.send(v).is_err() {
                                break;
                            }
                        }
                    }
                }
            }
        });
        let mut b = Browser {
            child,
            commands,
            replies,
            next_id: 0,
            session: String::new(),
            events: Vec::new(),
        };
        let target = b.call_on(None, "Target.createTarget", json!({"url": "about:blank"}))?;
        let target_id = target["targetId"].as_str().ok_or("no targetId")?.to_owned();
        let attached = b.call_on(
            None,
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        )?;
        b.session = attached["sessionId"]
            .as_str()
            .ok_or("no sessionId")?
            .to_owned();
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            b.call(domain, json!({}))?;
        }
        Ok(b)
    }

    /// One call on the page; its `result`.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let session = self.session.clone();
        self.call_on(Some(&session), method, params)
    }

    fn call_on(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).map_err(|e| e.to_string())?;
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .and_then(|()| self.commands.flush())
            .map_err(|e| format!("{method}: the browser is gone: {e}"))?;
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = match self.replies.recv_timeout(left) {
                Ok(v) => v,
                Err(RecvTimeoutError::Timeout) => return Err(format!("{method}: no reply")),
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("{method}: the browser closed the pipe"))
                }
            };
            if v["id"].as_u64() == Some(id) {
                if let Some(e) = v.get("error") {
                    return Err(format!("{method}: {e}"));
                }
                return Ok(v["result"].clone());
            }
            if v.get("method").is_some() {
                self.events.push(v);
            }
        }
    }

    /// Sets the viewport (CSS pixels); `mobile` emulates a phone.
    pub fn viewport(&mut self, width: u32, height: u32, mobile: bool) -> Result<(), String> {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        )
        .map(drop)
    }

    /// Navigates to `url` and waits (bounded) until the document and its images have loaded.
    pub fn open(&mut self, url: &str) -> Result<(), String> {
        let r = self.call("Page.navigate", json!({"url": url}))?;
        if let Some(e) = r.get("errorText").and_then(Value::as_str) {
            return Err(format!("{url}: {e}"));
        }
        if self.wait_until(
            "document.readyState === 'complete'",
            Duration::from_secs(20),
        ) {
            Ok(())
        } else {
            Err(format!("{url}: did not finish loading in 20 s"))
        }
    }

    /// Evaluates `expression` in the page (promises awaited); its value as JSON.
    pub fn eval(&mut self, expression: &str) -> Result<Value, String> {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        )?;
        if let Some(e) = r.get("exceptionDetails") {
            return Err(format!("{expression}: {e}"));
        }
        Ok(r["result"]["value"].clone())
    }

    /// Polls `expression` every 100 ms until it is `true`, for at most `within`.
    pub fn wait_until(&mut self, expression: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if self.eval(expression).ok() == Some(Value::Bool(true)) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Text of `document.body` as rendered (what a person can read).
    pub fn text(&mut self, selector: &str) -> String {
        let expr = format!(
            "(() => {{ const e = document.querySelector({}); return e ? e.innerText : ''; }})()",
            json!(selector)
        );
        self.eval(&expr)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Every image on the page: (src, naturalWidth) — 0 means it did not load.
    pub fn images(&mut self) -> Vec<(String, u64)> {
        let v = self
            .eval(
                "Array.from(document.images).map(i => [i.getAttribute('src'), \
                 i.complete ? i.naturalWidth : 0])",
            )
            .unwrap_or(Value::Null);
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|p| {
                        (
                            p[0].as_str().unwrap_or("").to_owned(),
                            p[1].as_u64().unwrap_or(0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Errors the page reported so far: console errors, uncaught exceptions, failed loads.
    pub fn errors(&mut self) -> Vec<String> {
        // A cheap call drains the events queued behind it.
        let _ = self.eval("1");
        self.events
            .iter()
            .filter_map(|e| {
                let p = &e["params"];
                match e["method"].as_str()? {
                    "Runtime.consoleAPICalled" if p["type"] == "error" => {
                        Some(format!("console.error: {}", p["args"]))
                    }
                    "Runtime.exceptionThrown" => Some(format!(
                        "exception: {}",
                        p["exceptionDetails"]["exception"]["description"]
                    )),
                    "Log.entryAdded" if p["entry"]["level"] == "error" => Some(format!(
                        "{}: {} {}",
                        p["entry"]["source"], p["entry"]["text"], p["entry"]["url"]
                    )),
                    _ => None,
                }
            })
            .collect()
    }

    /// A PNG of the whole page (not only the viewport) at `path`.
    pub fn screenshot(&mut self, path: &Path) -> Result<(), String> {
        self.capture(path, "cssContentSize")
    }

    /// A PNG of what the viewport shows (the top of the page) at `path`.
    pub fn screenshot_viewport(&mut self, path: &Path) -> Result<(), String> {
        self.capture(path, "cssLayoutViewport")
    }

    fn capture(&mut self, path: &Path, area: &str) -> Result<(), String> {
        let metrics = self.call("Page.getLayoutMetrics", json!({}))?;
        let size = &metrics[area];
        let (w, h) = (
            size["width"]
                .as_f64()
                .or(size["clientWidth"].as_f64())
                .unwrap_or(1024.0),
            size["height"]
                .as_f64()
                .or(size["clientHeight"].as_f64())
                .unwrap_or(768.0)
                .min(16_000.0),
        );
        let shot = self.call(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1},
            }),
        )?;
        let data = shot["data"].as_str().ok_or("no screenshot data")?;
        let png = base64_decode(data).ok_or("screenshot is not base64")?;
        std::fs::write(path, png).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The page printed to PDF (A4 portrait, backgrounds off, as a person would print it).
    pub fn print_pdf(&mut self) -> Result<Vec<u8>, String> {
        let r = self.call(
            "Page.printToPDF",
            json!({"paperWidth": 8.27, "paperHeight": 11.69, "printBackground": false}),
        )?;
        base64_decode(r["data"].as_str().ok_or("no PDF data")?).ok_or("PDF is not base64".into())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.call_on(None, "Browser.close", json!({}));
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard base64 (with padding) to bytes.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b'\n' | b'\r' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A `file://` URL for a local path.
pub fn file_url(path: &Path) -> String {
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    format!("file://{}", abs.display())
}
