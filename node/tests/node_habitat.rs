//! `--compat habitat`: engine-node rings and a Butterfly member (`habitat/butterfly_peer.py`, an
//! independent implementation of Butterfly's side on pyzmq and protoc-generated messages)
//! share a ring, with and without a ring key: the Butterfly member joins and is seen Alive, is
//! probed, its rumors land in the census, ours reach it decoded as Butterfly decodes them
//! (never one it would refuse or panic on), its kill is Confirmed, and an election mixing both
//! kinds of member elects one leader.

mod common;
mod habitat;

use std::path::PathBuf;
use std::time::Duration;

use common::{cli, formed, free_addr, logs, wait_for, Node, TempDir};
use habitat::ButterflyPeer;
use serde_json::Value;

const CONVERGE: Duration = Duration::from_secs(30);

const COMPAT: [&str; 2] = ["--compat", "habitat"];

fn run_cli(node: &Node, args: &[&str]) -> (i32, String, String) {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(node.client_args());
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    cli(&refs, &[])
}

fn ring_key(dir: &TempDir) -> PathBuf {
    let out = dir.join("keys");
    let (code, o, e) = cli(
        &[
            "key",
            "generate",
            "habitat",
            "--out",
            &out.to_string_lossy(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{o}{e}");
    std::fs::read_dir(&out)
        .expect("keys")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".sym.key"))
        .expect("a ring key file")
}

fn census_group(node: &Node, group: &str) -> Option<Value> {
    let c = node.get_json("/census")?;
    let g = c["groups"][group].clone();
    (!g.is_null()).then_some(g)
}

/// The rumor event of `type` whose payload satisfies `pred`.
fn rumor(peer: &ButterflyPeer, kind: &str, pred: impl Fn(&Value, &Value) -> bool) -> Option<Value> {
    peer.wait_event(CONVERGE, |e| {
        e["ev"] == "rumor" && e["type"] == kind && pred(&e["from_id"], &e["payload"])
    })
}

fn interoperate(with_key: bool) {
    let dir = TempDir::new(if with_key { "habitat-key" } else { "habitat" });
    let Some(pb) = habitat::tools(&dir) else {
        return;
    };
    let key = with_key.then(|| ring_key(&dir));
    let key_s = key.as_ref().map(|k| k.to_string_lossy().into_owned());
    // Butterfly has no operator keys: its departures are unsigned, and applied only by members
    // that trust unsigned departures.
    let mut flags: Vec<&str> = COMPAT.to_vec();
    flags.push("--trust-unsigned-departures");
    if let Some(k) = &key_s {
        flags.extend(["--ring-key", k.as_str()]);
    }
    let a = Node::start("a", &dir, &[], &flags);
    let mut b_flags = flags.clone();
    b_flags.extend(["--service", "redis.default"]);
    let b = Node::start("b", &dir, &[a.gossip], &b_flags);
    let nodes = [&a, &b];
    let ids = formed(&nodes, CONVERGE);
    assert_eq!(ids.len(), 2, "{}", logs(&nodes));

    let mut peer = ButterflyPeer::start(&pb, free_addr(), &[a.gossip], key.as_deref());
    let bf = peer.id.clone();

    // It joins: both hold it Alive, it holds both Alive, and both probe it.
    let alive = wait_for(CONVERGE, || {
        nodes
            .iter()
            .all(|n| n.health_of(&bf).is_some_and(|(h, _)| h == "Alive"))
            .then_some(())
    });
    assert!(
        alive.is_some(),
        "Butterfly member not Alive\n{}",
        logs(&nodes)
    );
    for id in &ids {
        let seen = peer.wait_event(CONVERGE, |e| {
            e["ev"] == "member" && e["id"] == id.as_str() && e["health"] == "alive"
        });
        assert!(seen.is_some(), "{id} not Alive at the Butterfly member");
        let probed = peer.wait_event(CONVERGE, |e| {
            e["ev"] == "pinged" && e["from"] == id.as_str()
        });
        assert!(probed.is_some(), "{id} never probed the Butterfly member");
    }

    // Its rumors are applied: service, config, file, an operator's departure.
    let gone = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
    peer.send("service redis.default 1");
    peer.send("config redis.default 2 port = 6379");
    peer.send("file redis.default 1 motd.txt hello");
    peer.send(&format!("depart {gone}"));
    let applied = wait_for(CONVERGE, || {
        nodes
            .iter()
            .all(|n| {
                let Some(g) = census_group(n, "redis.default") else {
                    return false;
                };
                let departed = n.get_json("/census").is_some_and(|c| {
                    c["departures"]
                        .as_array()
                        .is_some_and(|d| d.iter().any(|x| x == gone))
                });
                g["config"]["content"] == "port = 6379"
                    && g["config"]["version"] == 2
                    && g["files"]["motd.txt"]["content"] == "hello"
                    && g["members"].as_array().is_some_and(|m| {
                        m.iter().any(|r| {
                            r["member_id"] == bf.as_str()
                                && r["pkg"] == "core/redis/7.2.4/20240305120000"
                        })
                    })
                    && departed
            })
            .then_some(())
    });
    assert!(
        applied.is_some(),
        "Butterfly rumors not applied: {:?}\n{}",
        a.get_json("/census"),
        logs(&nodes)
    );

    // Ours reach it, decoded as Butterfly decodes them.
    let cfg = dir.join("web.toml");
    std::fs::write(&cfg, "port = 8080\n").expect("write");
    let (code, o, e) = run_cli(
        &a,
        &["config", "apply", "web.prod", "3", &cfg.to_string_lossy()],
    );
    assert_eq!(code, 0, "{o}{e}");
    let (code, o, e) = run_cli(
        &a,
        &["file", "upload", "web.prod", "1", &cfg.to_string_lossy()],
    );
    assert_eq!(code, 0, "{o}{e}");
    let other = "dddddddddddddddddddddddddddddddd";
    let (code, o, e) = run_cli(&b, &["depart", other]);
    assert_eq!(code, 0, "{o}{e}");
    let service = rumor(&peer, "Service", |from, p| {
        from == ids[1].as_str()
            && p["member_id"] == ids[1].as_str()
            && p["service_group"] == "redis.default"
            && p["sys"]["ip"] == "127.0.0.1"
    });
    assert!(service.is_some(), "b's service: {:?}", peer.events());
    let config = rumor(&peer, "ServiceConfig", |_, p| {
        p["service_group"] == "web.prod"
            && p["incarnation"] == "3"
            && p["config"] == "port = 8080\n"
    });
    assert!(config.is_some(), "a's config: {:?}", peer.events());
    let file = rumor(&peer, "ServiceFile", |_, p| {
        p["service_group"] == "web.prod"
            && p["filename"] == "web.toml"
            && p["body"] == "port = 8080\n"
    });
    assert!(file.is_some(), "a's file: {:?}", peer.events());
    let departure = rumor(&peer, "Departure", |from, p| {
        from == "butterflyclient" && p["member_id"] == other
    });
    assert!(departure.is_some(), "b's departure: {:?}", peer.events());
    assert!(
        peer.complaints().is_empty(),
        "sent what Butterfly refuses or panics on: {:?}",
        peer.complaints()
    );

    // Killed without a word: swallowtail suspects, then confirms it.
    peer.kill();
    let confirmed = wait_for(Duration::from_secs(60), || {
        nodes
            .iter()
            .all(|n| n.health_of(&bf).is_some_and(|(h, _)| h == "Confirmed"))
            .then_some(())
    });
    assert!(confirmed.is_some(), "kill not Confirmed\n{}", logs(&nodes));
}

#[test]
fn a_butterfly_member_shares_a_ring_without_a_ring_key() {
    interoperate(false);
}

#[test]
fn a_butterfly_member_shares_a_ring_with_a_ring_key() {
    interoperate(true);
}

/// Two groups, each with both kinds of member voting: in `low.default` the Butterfly member has
/// the lowest id (a swallowtail member must win and finish), in `high.default` the highest (the
/// Butterfly member must win and finish, and swallowtail adopt it). Each group elects one
/// leader, the same at every member.
#[test]
fn an_election_mixing_butterfly_and_swallowtail_members_elects_one_leader() {
    let dir = TempDir::new("habitat-election");
    let Some(pb) = habitat::tools(&dir) else {
        return;
    };
    let mut flags: Vec<&str> = COMPAT.to_vec();
    flags.extend([
        "--service",
        "low.default,high.default",
        "--topology",
        "leader",
    ]);
    let a = Node::start("a", &dir, &[], &flags);
    let b = Node::start("b", &dir, &[a.gossip], &flags);
    let nodes = [&a, &b];
    let ids = formed(&nodes, CONVERGE);
    assert_eq!(ids.len(), 2, "{}", logs(&nodes));
    let low_id = "00000000000000000000000000000001";
    let high_id = "ffffffffffffffffffffffffffffffff";
    let mut low = ButterflyPeer::start_as(&pb, free_addr(), &[a.gossip], None, Some(low_id));
    let mut high = ButterflyPeer::start_as(&pb, free_addr(), &[b.gossip], None, Some(high_id));
    low.send("service low.default 1");
    high.send("service high.default 1");
    // The Butterfly members' services must be known before they vote, as in a real ring.
    let known = wait_for(CONVERGE, || {
        nodes
            .iter()
            .all(|n| {
                let has = |g: &str, id: &str| {
                    census_group(n, g).is_some_and(|g| {
                        g["members"]
                            .as_array()
                            .is_some_and(|m| m.iter().any(|r| r["member_id"] == id))
                    })
                };
                has("low.default", low_id) && has("high.default", high_id)
            })
            .then_some(())
    });
    assert!(
        known.is_some(),
        "Butterfly services unknown\n{}",
        logs(&nodes)
    );
    low.send("elect low.default");
    high.send("elect high.default");

    let swallowtail_winner = ids.iter().max().cloned().unwrap_or_default();
    for (group, peer, winner) in [
        ("low.default", &low, swallowtail_winner.as_str()),
        ("high.default", &high, high_id),
    ] {
        let agreed = wait_for(CONVERGE, || {
            nodes
                .iter()
                .all(|n| {
                    census_group(n, group).is_some_and(|g| {
                        g["leader"] == winner && g["election_status"] == "Finished"
                    })
                })
                .then_some(())
        });
        assert!(
            agreed.is_some(),
            "{group}: {:?} / {:?}\n{}",
            census_group(&a, group),
            census_group(&b, group),
            logs(&nodes)
        );
        let finished = peer.wait_event(CONVERGE, |e| {
            e["ev"] == "election" && e["group"] == group && e["status"] == 3
        });
        let finished = finished.unwrap_or_else(|| panic!("{group}: {:?}", peer.events()));
        assert_eq!(finished["leader"], winner, "{group}: {finished}");
        // Every Finished election the Butterfly member saw names the same leader.
        let leaders: std::collections::BTreeSet<String> = peer
            .events()
            .iter()
            .filter(|e| e["ev"] == "election" && e["group"] == group && e["status"] == 3)
            .filter_map(|e| e["leader"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(leaders.len(), 1, "{group}: {leaders:?}");
        assert!(peer.complaints().is_empty(), "{:?}", peer.complaints());
    }
}
