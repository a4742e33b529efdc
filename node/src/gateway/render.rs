//! What the gateway serves, rendered from a [`Snapshot`]: Butterfly-shaped JSON, Prometheus
//! text and a small self-refreshing HTML page.

use std::fmt::Write;

use serde_json::{json, Map, Value};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::control::Snapshot;
use crate::metrics::{
    BYTES, DROPPED_INPUT, ENGINE_COUNTERS, INCARNATION, MEMBERS, MESSAGES, RUMORS, UPTIME,
};
use crate::sealed::PayloadView;
use engine::census::CensusMember;
use engine::member::{Health, Member};
use engine::metrics::{Channel, DropReason, Traffic};
use engine::rumor::ServiceFile;

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
            files.insert(group.to_string(), Value::Object(files_json(s, &g.files)));
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

/// A group's files by name, each as [`payload_json`] shows it.
fn files_json(s: &Snapshot, files: &[ServiceFile]) -> Map<String, Value> {
    files
        .iter()
        .map(|f| {
            let shown = payload_json(s, f.incarnation.0, f.encrypted, &f.body);
            (f.filename.clone(), shown)
        })
        .collect()
}

/// `GET /census`: per service group, its members (with health), config, files and leaders.
pub fn census(s: &Snapshot) -> Value {
    let mut groups = Map::new();
    for (group, g) in &s.census.groups {
        let files = files_json(s, &g.files);
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

/// `GET /metrics` in the Prometheus text format; every metric is defined in [`crate::metrics`].
pub fn metrics(s: &Snapshot) -> String {
    let mut out = String::new();
    let m = &s.metrics;
    for (family, count) in [
        (&MESSAGES, (|t| t.messages) as fn(Traffic) -> u64),
        (&BYTES, |t| t.bytes),
    ] {
        family.header(&mut out);
        for c in Channel::ALL {
            for (direction, t) in [("sent", m.sent(c)), ("received", m.received(c))] {
                let (name, channel, v) = (family.name, c.as_str(), count(t));
                let _ = writeln!(
                    out,
                    "{name}{{channel=\"{channel}\",direction=\"{direction}\"}} {v}"
                );
            }
        }
    }
    MEMBERS.header(&mut out);
    for h in Health::ALL {
        let n = s.members.iter().filter(|m| m.health == h).count();
        let _ = writeln!(out, "{}{{health=\"{}\"}} {n}", MEMBERS.name, h.as_str());
    }
    DROPPED_INPUT.header(&mut out);
    for r in DropReason::ALL {
        let (name, reason, v) = (DROPPED_INPUT.name, r.as_str(), m.dropped(r));
        let _ = writeln!(out, "{name}{{reason=\"{reason}\"}} {v}");
    }
    RUMORS.header(&mut out);
    for (kind, n) in &s.rumor_counts {
        let _ = writeln!(out, "{}{{kind=\"{}\"}} {n}", RUMORS.name, kind.as_str());
    }
    for (metric, read) in &ENGINE_COUNTERS {
        metric.sample(&mut out, read(m));
    }
    INCARNATION.sample(&mut out, s.me.incarnation.0);
    UPTIME.sample(&mut out, format_args!("{:.3}", s.uptime.as_secs_f64()));
    for (metric, v) in &s.transport {
        metric.sample(&mut out, v);
    }
    out
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
