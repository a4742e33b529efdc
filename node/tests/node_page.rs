//! The node's live page (`GET /`) in headless Chromium, at a phone's width: three real
//! `engine-node` processes on loopback with a leader group, a config and a file; the page shows
//! the members with their health colours, the group with its leader, the config and file
//! versions; then a member is killed and the page, without reloading, shows it Suspect or
//! Confirmed and lists the change. No console errors. Screenshots go to
//! `target/tmp/node_page/`. Without a Chromium the test says so and passes.

#[path = "../../sim/tests/browser/mod.rs"]
mod browser;
mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{formed, http, logs, wait_for, Node, TempDir};
use serde_json::Value;

const CONVERGE: Duration = Duration::from_secs(20);

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("node_page");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the output folder");
    dir
}

fn post(n: &Node, path: &str, body: &[u8]) {
    let auth = format!("Bearer {}", n.secret());
    let reply = http(n.http, "POST", path, &[("Authorization", &auth)], body);
    assert!(
        matches!(reply, Some((200, _))),
        "POST {path}: {reply:?}\n{}",
        n.log_tail()
    );
}

#[test]
fn the_node_page_shows_the_ring_and_follows_a_crash_without_reloading() {
    let out = out_dir();
    let Some(mut b) = browser::launch_or_skip("node page", &out.join("chromium")) else {
        return;
    };
    let dir = TempDir::new("page");
    let flags = ["--service", "web.prod", "--topology", "leader"];
    let a = Node::start("a", &dir, &[], &flags);
    let n2 = Node::start("b", &dir, &[a.gossip], &flags);
    let mut c = Node::start("c", &dir, &[a.gossip], &flags);
    let nodes = [&a, &n2, &c];
    let ids = formed(&nodes, CONVERGE);
    post(&a, "/config/web.prod?version=3", b"port = 8080\n");
    post(&a, "/file/web.prod/motd.txt?version=2", b"hello\n");
    let ready = wait_for(CONVERGE, || {
        let g = a.get_json("/census")?["groups"]["web.prod"].clone();
        (g["leader"].is_string()
            && g["config"]["version"] == 3
            && g["files"]["motd.txt"]["version"] == 2)
            .then_some(g)
    });
    let group = ready.unwrap_or_else(|| panic!("no leader, config or file\n{}", logs(&nodes)));
    let leader = group["leader"].as_str().unwrap_or_default().to_owned();

    b.viewport(390, 844, true).expect("phone viewport");
    let url = format!("http://{}/", a.http);
    b.open(&url).expect("open the node page");
    let shown = b.wait_until(
        "document.querySelectorAll('#members tbody tr[data-id]').length === 3 && \
         !!document.querySelector('[data-group=\"web.prod\"] .leader')",
        Duration::from_secs(10),
    );
    assert!(shown, "members and leader on the page:\n{}", b.text("body"));
    let leader_text = b.text("[data-group=\"web.prod\"] .leader");
    assert!(
        leader.starts_with(leader_text.split(' ').next().unwrap_or("-")),
        "leader {leader} shown as {leader_text}"
    );
    let payloads = b.text("#payloads");
    assert!(
        payloads.contains("config") && payloads.contains("v3"),
        "{payloads}"
    );
    assert!(
        payloads.contains("file motd.txt") && payloads.contains("v2"),
        "{payloads}"
    );
    let green = b
        .eval(
            "getComputedStyle(document.querySelector('#members tbody tr.alive .h.alive'))\
             .backgroundColor",
        )
        .expect("eval");
    assert_eq!(green, "rgb(26, 127, 55)", "Alive is drawn green");
    let overflow = b
        .eval("document.documentElement.scrollWidth - window.innerWidth")
        .expect("eval");
    assert!(
        overflow.as_f64().unwrap_or(1e9) <= 1.0,
        "wider than a phone by {overflow} px"
    );
    b.screenshot(&out.join("node-phone-before.png"))
        .expect("screenshot");

    // The page must follow the ring on its own: mark this document, kill c, and wait.
    b.eval("window.notReloaded = true").expect("mark");
    c.kill();
    let c_id = &ids[2];
    let followed = b.wait_until(
        &format!(
            "(() => {{ const r = document.querySelector('#members tr[data-id=\"{c_id}\"]'); \
             return !!r && (r.className === 'suspect' || r.className === 'confirmed') && \
             !!document.querySelector('#changes li.change[data-id=\"{c_id}\"]'); }})()"
        ),
        Duration::from_secs(30),
    );
    assert!(
        followed,
        "the page did not show the crash:\n{}\n{}",
        b.text("body"),
        logs(&[&a])
    );
    assert_eq!(
        b.eval("window.notReloaded === true").expect("eval"),
        Value::Bool(true),
        "the page reloaded instead of redrawing"
    );
    let changes = b.text("#changes");
    assert!(changes.contains("Alive → "), "{changes}");
    b.screenshot(&out.join("node-phone.png"))
        .expect("screenshot");
    b.viewport(1100, 800, false).expect("desktop viewport");
    b.screenshot(&out.join("node.png")).expect("screenshot");
    let errors = b.errors();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    eprintln!("screenshots in {}", out.display());
}
