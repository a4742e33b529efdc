//! What the gateway serves, rendered from a [`Snapshot`]: Butterfly-shaped JSON, Prometheus
//! text and a small self-refreshing HTML page.

use std::fmt::Write;

use serde_json::{json, Map, Value};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::census::CensusMember;
use crate::member::{Health, Member};
use crate::metrics::{Channel, DropReason};
use crate::node::control::Snapshot;
use crate::node::sealed::PayloadView;

/// `GET /butterfly`: `member_id` and `membership` keyed by member id (ourselves included),
/// each with `address`, `swim_port`, `gossip_port`, `incarnation`, `persistent`, `health`.
pub fn butterfly(s: &Snapshot) -> Value {
    let mut membership = Map::new();
    let own_health = if s.departed {
        Health::Departed
    } else {
        Health::Alive
    };
    membership.insert(s.me.id.to_string(), member_json(&s.me, own_health));
    for m in &s.members {
        membership.insert(m.member.id.to_string(), member_json(&m.member, m.health));
    }
    let mut services = Map::new();
    let mut configs = Map::new();
    let mut files = Map::new();
    for (group, g) in &s.census.groups {
        if !g.members.is_empty() {
            let rows: Map<String, Value> = g
                .members
                .iter()
                .map(|m| (m.member_id.to_string(), service_json(m)))
                .collect();
            services.insert(group.to_string(), Value::Object(rows));
        }
        if let Some(c) = &g.config {
            configs.insert(
                group.to_string(),
                payload_json(s, c.incarnation.0, c.encrypted, &c.config),
            );
        }
        if !g.files.is_empty() {
            let rows: Map<String, Value> = g
                .files
                .iter()
                .map(|f| {
                    (
                        f.filename.clone(),
                        payload_json(s, f.incarnation.0, f.encrypted, &f.body),
                    )
                })
                .collect();
            files.insert(group.to_string(), Value::Object(rows));
        }
    }
    json!({
        "member_id": s.me.id.to_string(),
        "incarnation": s.me.incarnation.0,
        "preset": s.preset,
        "membership": membership,
        "services": services,
        "configs": configs,
        "files": files,
        "elections": elections_json(s),
        "departures": s.departures.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "ring_keys": { "keys": s.ring_keys.keys, "primary": s.ring_keys.primary },
    })
}

fn elections_json(s: &Snapshot) -> Vec<Value> {
    s.elections
        .iter()
        .map(|(kind, e)| {
            json!({
                "kind": kind,
                "service_group": e.group.to_string(),
                "term": e.term,
                "member_id": e.member_id.to_string(),
                "suitability": e.suitability,
                "status": format!("{:?}", e.status),
                "votes": e.votes.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        })
        .collect()
}

fn service_json(m: &CensusMember) -> Value {
    let sv = &m.service;
    json!({
        "member_id": m.member_id.to_string(),
        "service_group": sv.group.to_string(),
        "health": m.health.map(Health::as_str),
        "incarnation": sv.incarnation.0,
        "initialized": sv.initialized,
        "pkg": sv.pkg,
        "cfg": String::from_utf8_lossy(&sv.cfg),
    })
}

/// A config or file: its version, whether it is sealed, and its content as this node can
/// show it (`status`: plain, opened, encrypted or unreadable; never undecodable bytes).
fn payload_json(s: &Snapshot, version: u64, encrypted: bool, bytes: &[u8]) -> Value {
    let view = s.service_keys.view(encrypted, bytes);
    let mut v = json!({
        "version": version,
        "encrypted": encrypted,
        "status": view.status(),
        "size": bytes.len(),
    });
    match &view {
        PayloadView::Plain(b) | PayloadView::Opened(b) => match std::str::from_utf8(b) {
            Ok(text) => v["content"] = json!(text),
            Err(_) => v["content_base64"] = json!(STANDARD.encode(b)),
        },
        PayloadView::Encrypted => v["content"] = json!("encrypted"),
        PayloadView::Unreadable(why) => v["error"] = json!(why),
    }
    v
}

/// `GET /census`: per service group, its members (with health), config, files and leaders.
pub fn census(s: &Snapshot) -> Value {
    let mut groups = Map::new();
    for (group, g) in &s.census.groups {
        let files: Map<String, Value> = g
            .files
            .iter()
            .map(|f| {
                (
                    f.filename.clone(),
                    payload_json(s, f.incarnation.0, f.encrypted, &f.body),
                )
            })
            .collect();
        groups.insert(
            group.to_string(),
            json!({
                "members": g.members.iter().map(service_json).collect::<Vec<_>>(),
                "config": g.config.as_ref().map(|c| payload_json(s, c.incarnation.0, c.encrypted, &c.config)),
                "files": files,
                "leader": g.leader.map(|l| l.to_string()),
                "update_leader": g.update_leader.map(|l| l.to_string()),
                "election_status": g.election_status.map(|e| format!("{e:?}")),
                "update_election_status": g.update_election_status.map(|e| format!("{e:?}")),
            }),
        );
    }
    json!({
        "member_id": s.me.id.to_string(),
        "service_keys": s.service_keys.names(),
        "groups": groups,
        "departures": s.departures.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

/// `GET /services`: every service a member runs (withdrawn ones left out), with its health,
/// and the groups this node announced.
pub fn services(s: &Snapshot) -> Value {
    let all: Vec<Value> = s
        .census
        .groups
        .values()
        .flat_map(|g| g.members.iter().map(service_json))
        .collect();
    json!({ "local": s.services, "services": all })
}

fn member_json(m: &Member, health: Health) -> Value {
    json!({
        "address": m.addr.ip().to_string(),
        "swim_port": m.addr.port(),
        "gossip_port": m.gossip_port,
        "incarnation": m.incarnation.0,
        "persistent": m.persistent,
        "departed": m.departed,
        "health": health.as_str(),
    })
}

/// `GET /metrics` in the Prometheus text format.
pub fn metrics(s: &Snapshot) -> String {
    let mut out = String::new();
    let m = &s.metrics;
    header(
        &mut out,
        "swallowtail_messages_total",
        "counter",
        "Messages by channel and direction.",
    );
    for c in Channel::ALL {
        let (tx, rx) = (m.sent(c), m.received(c));
        let _ = writeln!(
            out,
            "swallowtail_messages_total{{channel=\"{}\",direction=\"sent\"}} {}",
            c.as_str(),
            tx.messages
        );
        let _ = writeln!(
            out,
            "swallowtail_messages_total{{channel=\"{}\",direction=\"received\"}} {}",
            c.as_str(),
            rx.messages
        );
    }
    header(
        &mut out,
        "swallowtail_bytes_total",
        "counter",
        "Bytes by channel and direction.",
    );
    for c in Channel::ALL {
        let (tx, rx) = (m.sent(c), m.received(c));
        let _ = writeln!(
            out,
            "swallowtail_bytes_total{{channel=\"{}\",direction=\"sent\"}} {}",
            c.as_str(),
            tx.bytes
        );
        let _ = writeln!(
            out,
            "swallowtail_bytes_total{{channel=\"{}\",direction=\"received\"}} {}",
            c.as_str(),
            rx.bytes
        );
    }
    header(
        &mut out,
        "swallowtail_members",
        "gauge",
        "Other members known, by the health held.",
    );
    for h in Health::ALL {
        let n = s.members.iter().filter(|m| m.health == h).count();
        let _ = writeln!(out, "swallowtail_members{{health=\"{}\"}} {n}", h.as_str());
    }
    header(
        &mut out,
        "swallowtail_dropped_input_total",
        "counter",
        "Input dropped by the engine, by reason.",
    );
    for r in DropReason::ALL {
        let _ = writeln!(
            out,
            "swallowtail_dropped_input_total{{reason=\"{}\"}} {}",
            r.as_str(),
            m.dropped(r)
        );
    }
    header(
        &mut out,
        "swallowtail_rumors",
        "gauge",
        "Rumors held, by kind.",
    );
    for (kind, n) in &s.rumor_counts {
        let _ = writeln!(out, "swallowtail_rumors{{kind=\"{}\"}} {n}", kind.as_str());
    }
    let counters = [
        ("swallowtail_probes_total", "Probes started.", m.probes),
        (
            "swallowtail_pingreqs_sent_total",
            "PingReqs sent.",
            m.pingreqs_sent,
        ),
        (
            "swallowtail_refutations_total",
            "Claims about us refuted.",
            m.refutations,
        ),
        (
            "swallowtail_probe_pings_sent_total",
            "ProbePings sent.",
            m.probe_pings_sent,
        ),
        (
            "swallowtail_push_pulls_total",
            "Membership digest exchanges started.",
            m.push_pulls,
        ),
        (
            "swallowtail_view_checks_total",
            "Membership anti-entropy checks sent on a Ping.",
            m.view_checks,
        ),
        (
            "swallowtail_rumor_checks_total",
            "Rumor anti-entropy checks sent on a Ping.",
            m.rumor_checks,
        ),
        (
            "swallowtail_anti_entropy_syncs_total",
            "Rumor digest exchanges started.",
            m.anti_entropy_syncs,
        ),
    ];
    for (name, help, v) in counters {
        header(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name} {v}");
    }
    header(
        &mut out,
        "swallowtail_incarnation",
        "gauge",
        "Our incarnation.",
    );
    let _ = writeln!(out, "swallowtail_incarnation {}", s.me.incarnation.0);
    header(
        &mut out,
        "swallowtail_uptime_seconds",
        "gauge",
        "Seconds since the node started.",
    );
    let _ = writeln!(
        out,
        "swallowtail_uptime_seconds {:.3}",
        s.uptime.as_secs_f64()
    );
    for (name, help, v) in &s.transport {
        let full = format!("swallowtail_transport_{name}");
        header(&mut out, &full, "gauge", help);
        let _ = writeln!(out, "{full} {v}");
    }
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// `GET /`: the ring at a glance; refreshes every 2 seconds.
pub fn page(s: &Snapshot) -> String {
    let mut rows = String::new();
    let own = if s.departed {
        Health::Departed
    } else {
        Health::Alive
    };
    let mut all: Vec<(Member, Health, bool)> = vec![(s.me, own, true)];
    all.extend(s.members.iter().map(|m| (m.member, m.health, false)));
    for (m, h, me) in &all {
        let _ = write!(
            rows,
            "<tr class=\"{}\"><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            h.as_str().to_lowercase(),
            m.id,
            if *me { " (this node)" } else { "" },
            escape(&m.addr.to_string()),
            m.incarnation,
            if m.persistent { "yes" } else { "" },
            h.as_str()
        );
    }
    let counts: Vec<String> = Health::ALL
        .iter()
        .map(|h| {
            format!(
                "{} {}",
                all.iter().filter(|(_, x, _)| x == h).count(),
                h.as_str()
            )
        })
        .collect();
    let services = if s.services.is_empty() {
        "none".to_owned()
    } else {
        escape(&s.services.join(", "))
    };
    let mut groups = String::new();
    for (group, g) in &s.census.groups {
        let members: Vec<String> = g
            .members
            .iter()
            .map(|m| {
                format!(
                    "<code>{}</code> {}",
                    m.member_id,
                    m.health.map_or("unknown", Health::as_str)
                )
            })
            .collect();
        let _ = write!(
            groups,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(group.as_str()),
            members.join("<br>"),
            g.leader
                .map_or(String::new(), |l| format!("<code>{l}</code>")),
            g.config.as_ref().map_or(String::new(), |c| format!(
                "v{}{}",
                c.incarnation.0,
                if c.encrypted { " (sealed)" } else { "" }
            )),
            g.files.len(),
        );
    }
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"2\">\
<title>swallowtail {id}</title><style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}\
td,th{{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:left}}.alive td:last-child{{color:#080}}\
.suspect td:last-child{{color:#b80}}.confirmed td:last-child{{color:#c00}}.departed td:last-child{{color:#888}}</style></head>\
<body><h1>swallowtail ring</h1><p>This node: <code>{id}</code>, incarnation {inc}, preset {preset}, up {up}s.</p>\
<p>Members: {counts}.</p><table><tr><th>member</th><th>address</th><th>incarnation</th><th>persistent</th><th>health</th></tr>{rows}</table>\
<h2>Service groups</h2><p>Announced here: {services}.</p><table><tr><th>group</th><th>members</th><th>leader</th><th>config</th><th>files</th></tr>{groups}</table>\
<p><a href=\"/butterfly\">/butterfly</a> · <a href=\"/metrics\">/metrics</a></p></body></html>",
        id = s.me.id,
        inc = s.me.incarnation,
        preset = escape(&s.preset),
        up = s.uptime.as_secs(),
        counts = counts.join(", "),
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
