//! A partition with network namespaces: three hosts on a bridge, one host's link taken down
//! until both sides hold the other Confirmed, then brought back up; the halves re-merge.
//!
//! Needs root and `ip` (iproute2). Without them it prints why and passes, so a developer's
//! unprivileged run stays green; CI runs as root and runs it. Set `SWALLOWTAIL_SKIP_NETNS=1`
//! to skip it on purpose. The namespaces are named after this process and removed on drop,
//! also when the test fails.
#![cfg(feature = "node")]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Node, TempDir, BIN};

const HOSTS: usize = 3;
const PHASE: Duration = Duration::from_secs(30);

/// Namespaces `st<pid>hub` (the bridge) and `st<pid>h1..3` (the hosts), removed on drop.
struct Net {
    names: Vec<String>,
}

impl Net {
    fn ip(args: &[&str]) -> Result<(), String> {
        let out = Command::new("ip")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("ip: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    fn hub(&self) -> &str {
        &self.names[0]
    }

    fn host(&self, i: usize) -> &str {
        &self.names[i + 1]
    }

    fn build() -> Result<Net, String> {
        let pid = std::process::id();
        let mut net = Net {
            names: vec![format!("st{pid}hub")],
        };
        net.names
            .extend((1..=HOSTS).map(|i| format!("st{pid}h{i}")));
        for n in &net.names {
            Net::ip(&["netns", "add", n])?;
        }
        let hub = net.hub().to_owned();
        Net::ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"])?;
        Net::ip(&["-n", &hub, "link", "set", "br0", "up"])?;
        for i in 0..HOSTS {
            let host = net.host(i).to_owned();
            let port = format!("p{i}");
            Net::ip(&[
                "-n", &hub, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                &host,
            ])?;
            Net::ip(&["-n", &hub, "link", "set", &port, "master", "br0"])?;
            Net::ip(&["-n", &hub, "link", "set", &port, "up"])?;
            Net::ip(&[
                "-n",
                &host,
                "addr",
                "add",
                &format!("{}/24", Net::addr(i)),
                "dev",
                "eth0",
            ])?;
            Net::ip(&["-n", &host, "link", "set", "eth0", "up"])?;
            Net::ip(&["-n", &host, "link", "set", "lo", "up"])?;
        }
        Ok(net)
    }

    /// Host `i`'s address (only inside the namespaces this test made).
    fn addr(i: usize) -> String {
        format!("10.231.77.{}", i + 1)
    }

    /// Takes host `i`'s link on the bridge down or up.
    fn link(&self, i: usize, up: bool) -> Result<(), String> {
        Net::ip(&[
            "-n",
            self.hub(),
            "link",
            "set",
            &format!("p{i}"),
            if up { "up" } else { "down" },
        ])
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = Net::ip(&["netns", "del", n]);
        }
    }
}

fn skip_reason() -> Option<String> {
    if std::env::var_os("SWALLOWTAIL_SKIP_NETNS").is_some() {
        return Some("SWALLOWTAIL_SKIP_NETNS is set".into());
    }
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not root (network namespaces need CAP_NET_ADMIN)".into());
    }
    if Command::new("ip")
        .arg("-V")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        return Some("`ip` (iproute2) is missing".into());
    }
    None
}

/// `engine-node members --json` run inside host `i`'s namespace.
fn view(net: &Net, i: usize) -> Option<serde_json::Value> {
    let http = format!("{}:9631", Net::addr(i));
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            net.host(i),
            BIN,
            "members",
            "--json",
            "--http",
            &http,
        ])
        .stdin(Stdio::null())
        .output()
        .ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

fn health(v: &serde_json::Value, id: &str) -> Option<String> {
    Some(
        v.get("membership")?
            .get(id)?
            .get("health")?
            .as_str()?
            .to_owned(),
    )
}

/// Whether host `i` holds every member in `ids` with `want`.
fn holds(net: &Net, i: usize, ids: &[String], want: &str) -> bool {
    view(net, i).is_some_and(|v| ids.iter().all(|id| health(&v, id).as_deref() == Some(want)))
}

#[test]
fn partition_and_heal_in_network_namespaces() {
    if let Some(why) = skip_reason() {
        println!("SKIPPED partition_and_heal_in_network_namespaces: {why}");
        return;
    }
    let net = match Net::build() {
        Ok(n) => n,
        Err(e) => {
            println!(
                "SKIPPED partition_and_heal_in_network_namespaces: cannot build namespaces: {e}"
            );
            return;
        }
    };
    let dir = TempDir::new("netns");
    let mut nodes: Vec<Node> = Vec::new();
    for i in 0..HOSTS {
        let ip = Net::addr(i);
        let mut args: Vec<String> = vec![
            "run".into(),
            "--listen".into(),
            format!("{ip}:9638"),
            "--http".into(),
            format!("{ip}:9631"),
            "--preset".into(),
            "local".into(),
            "--log-level".into(),
            "debug".into(),
        ];
        if i == 0 {
            // The persistent member the halves re-merge through.
            args.push("--permanent-peer".into());
        } else {
            args.extend(["--peer".into(), format!("{}:9638", Net::addr(0))]);
        }
        let mut node = Node {
            name: format!("h{}", i + 1),
            gossip: format!("{ip}:9638").parse().expect("addr"),
            http: format!("{ip}:9631").parse().expect("addr"),
            data_dir: dir.join(&format!("h{}", i + 1)),
            log: dir.join(&format!("h{}.log", i + 1)),
            args,
            prefix: vec![
                "ip".into(),
                "netns".into(),
                "exec".into(),
                net.host(i).into(),
            ],
            child: None,
        };
        node.spawn();
        nodes.push(node);
    }
    let logs = |nodes: &[Node]| {
        nodes
            .iter()
            .map(Node::log_tail)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let ids: Vec<String> = (0..HOSTS)
        .map(|i| {
            common::wait_for(PHASE, || {
                view(&net, i)?.get("member_id")?.as_str().map(str::to_owned)
            })
            .unwrap_or_else(|| panic!("h{} does not serve\n{}", i + 1, logs(&nodes)))
        })
        .collect();
    let all_alive = || (0..HOSTS).all(|i| holds(&net, i, &ids, "Alive"));
    assert!(
        common::wait_for(PHASE, || all_alive().then_some(())).is_some(),
        "{}",
        logs(&nodes)
    );

    // Cut h3 off: both sides confirm the other.
    net.link(2, false).expect("link down");
    let cut = common::wait_for(PHASE, || {
        (holds(&net, 0, &ids[2..], "Confirmed")
            && holds(&net, 1, &ids[2..], "Confirmed")
            && holds(&net, 2, &ids[..2], "Confirmed"))
        .then_some(())
    });
    assert!(
        cut.is_some(),
        "the partition was not detected\n{}",
        logs(&nodes)
    );

    // Heal: the halves re-merge (through the persistent member).
    net.link(2, true).expect("link up");
    let healed = common::wait_for(PHASE, || all_alive().then_some(()));
    assert!(
        healed.is_some(),
        "the halves did not re-merge\n{}",
        logs(&nodes)
    );
    drop(nodes);
}
