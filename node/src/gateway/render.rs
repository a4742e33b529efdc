//! What the gateway serves, rendered from a [`Snapshot`]: Butterfly-shaped JSON, Prometheus
//! text and a small HTML page that redraws itself from that JSON.

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

/// `GET /`: the ring at a glance — members with their health, service groups with their
/// leaders, configs and files, and the health changes seen since the page was opened.
///
/// The page carries this node's `/butterfly` and `/census` answers as JSON, draws itself from
/// them with a small inline script, and then fetches both again every 2 seconds and redraws
/// in place (no full reload, so the list of recent changes survives). It loads nothing else:
/// no external scripts, styles or fonts. Without JavaScript it links the JSON endpoints.
pub fn page(s: &Snapshot) -> String {
    let initial = json!({ "butterfly": butterfly(s), "census": census(s) });
    // `<` only occurs inside JSON strings, where `\u003c` means the same: the script element
    // cannot be closed early by a member's data.
    let data = serde_json::to_string(&initial)
        .unwrap_or_else(|_| "{}".into())
        .replace('<', "\\u003c");
    let mut out = String::with_capacity(PAGE_HEAD.len() + PAGE_SCRIPT.len() + data.len() + 256);
    out.push_str(PAGE_HEAD);
    let _ = write!(
        out,
        "<title>swallowtail {}</title></head><body>{PAGE_BODY}\
         <script id=\"initial\" type=\"application/json\">{data}</script>\
         <script>{PAGE_SCRIPT}</script></body></html>",
        s.me.id
    );
    out
}

const PAGE_HEAD: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<link rel=\"icon\" href=\"data:,\"><style>\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;max-width:1100px;\
padding:.8em;color:#222;line-height:1.35}h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.15em;\
margin:1.2em 0 .4em;border-bottom:1px solid #ddd}h3{font-size:1em;margin:.8em 0 .3em}\
.meta{color:#555;font-size:.9em;margin:.2em 0}.meta code,.id{font-family:ui-monospace,monospace;\
font-size:.92em}#status.stale{color:#c62828;font-weight:bold}\
.counts span{display:inline-block;margin:.15em .3em .15em 0}\
.wide{overflow-x:auto;max-width:100%}table{border-collapse:collapse;width:100%}\
td,th{padding:.25em .5em;border-bottom:1px solid #e3e3e3;text-align:left;vertical-align:top;\
font-size:.92em}th{background:#f5f5f5;font-weight:600}\
.h{display:inline-block;padding:0 .45em;border-radius:.3em;color:#fff;font-size:.85em;\
white-space:nowrap}.h.alive{background:#1a7f37}.h.suspect{background:#b26a00}\
.h.confirmed{background:#c62828}.h.departed{background:#6e6e6e}.h.unknown{background:#999}\
tr.suspect{background:#fff6e5}tr.confirmed{background:#fdecea}tr.departed{color:#777}\
.me{font-weight:600}.muted{color:#777}ul#changes{padding-left:1.1em;margin:.3em 0}\
@media (max-width:600px){body{padding:.5em}.addr,.persistent{display:none}td,th{padding:.2em .3em}}\
</style>";

const PAGE_BODY: &str = "<h1>swallowtail ring</h1>\
<p class=\"meta\">This node <code id=\"me\"></code> · <span id=\"status\">loading…</span></p>\
<noscript><p>This page draws itself with JavaScript; the same data is at \
<a href=\"/butterfly\">/butterfly</a> and <a href=\"/census\">/census</a>.</p></noscript>\
<h2>Members</h2><p class=\"counts\" id=\"counts\"></p>\
<div class=\"wide\"><table id=\"members\"><thead><tr><th>member</th><th>health</th>\
<th class=\"addr\">address</th><th>incarnation</th><th class=\"persistent\">persistent</th></tr>\
</thead><tbody></tbody></table></div>\
<h2>Recent health changes</h2><ul id=\"changes\"></ul>\
<h2>Service groups</h2><div id=\"groups\"></div>\
<h2>Configs and files</h2><div class=\"wide\"><table id=\"payloads\"><thead><tr><th>group</th>\
<th>what</th><th>version</th><th>encrypted</th><th>size</th></tr></thead><tbody></tbody></table></div>\
<p class=\"meta\"><a href=\"/butterfly\">/butterfly</a> · <a href=\"/census\">/census</a> · \
<a href=\"/services\">/services</a> · <a href=\"/metrics\">/metrics</a></p>";

const PAGE_SCRIPT: &str = r#"
'use strict';
const ORDER = {Confirmed: 0, Suspect: 1, Departed: 2, Alive: 3};
const changes = [];
let previous = null;
let failures = 0;
const $ = (id) => document.getElementById(id);
const short = (id) => (id || '').slice(0, 12);
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}
function badge(h) { return el('span', {class: 'h ' + String(h || 'unknown').toLowerCase()}, h || 'unknown'); }
function idCell(id, me) {
  const c = el('td', {}, el('span', {class: 'id', title: id}, short(id)));
  if (id === me) { c.append(' (this node)'); c.classList.add('me'); }
  return c;
}
function fill(tbody, rows, empty, cols) {
  tbody.replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', {colspan: cols, class: 'muted'}, empty))]));
}
function render(data) {
  const b = data.butterfly, c = data.census, me = b.member_id;
  $('me').textContent = short(me);
  $('me').title = me;
  const members = Object.entries(b.membership || {});
  members.sort((x, y) => (x[0] === me ? -1 : y[0] === me ? 1 : 0) ||
    ((ORDER[x[1].health] ?? 9) - (ORDER[y[1].health] ?? 9)) || x[0].localeCompare(y[0]));
  const now = new Date().toLocaleTimeString();
  if (previous) {
    for (const [id, m] of members) {
      const was = previous[id];
      if (was !== m.health) changes.unshift({at: now, id, from: was || 'unknown', to: m.health});
    }
    changes.splice(50);
  }
  previous = Object.fromEntries(members.map(([id, m]) => [id, m.health]));
  const counts = {};
  for (const [, m] of members) counts[m.health] = (counts[m.health] || 0) + 1;
  $('counts').replaceChildren(...Object.keys(ORDER).filter((h) => counts[h])
    .map((h) => el('span', {}, badge(h), ' ' + counts[h])));
  fill($('members').tBodies[0], members.map(([id, m]) => el('tr', {class: String(m.health).toLowerCase(), 'data-id': id},
    idCell(id, me), el('td', {}, badge(m.health)), el('td', {class: 'addr'}, m.address + ':' + m.swim_port),
    el('td', {}, m.incarnation), el('td', {class: 'persistent'}, m.persistent ? 'yes' : ''))), 'no members', 5);
  $('changes').replaceChildren(...(changes.length ? changes.map((x) => el('li', {class: 'change', 'data-id': x.id},
    x.at + ' ', el('span', {class: 'id', title: x.id}, short(x.id)), ' ', badge(x.from), ' → ', badge(x.to)))
    : [el('li', {class: 'muted'}, 'none since this page was opened')]));
  const groups = Object.entries((c && c.groups) || {});
  $('groups').replaceChildren(...(groups.length ? groups.map(([name, g]) => {
    const leader = g.leader ? el('span', {class: 'id leader', title: g.leader}, short(g.leader) + (g.leader === me ? ' (this node)' : ''))
      : el('span', {class: 'muted'}, g.election_status ? 'none yet (' + g.election_status + ')' : 'no election');
    const rows = (g.members || []).map((m) => el('tr', {}, idCell(m.member_id, me), el('td', {}, badge(m.health)),
      el('td', {}, m.pkg || ''), el('td', {}, m.incarnation)));
    const t = el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'member'), el('th', {}, 'health'),
      el('th', {}, 'package'), el('th', {}, 'incarnation'))), el('tbody', {}, ...rows));
    return el('section', {class: 'group', 'data-group': name}, el('h3', {}, name),
      el('p', {class: 'meta'}, 'leader: ', leader, g.update_leader ? ' · update leader: ' + short(g.update_leader) : ''),
      el('div', {class: 'wide'}, t));
  }) : [el('p', {class: 'muted'}, 'no service groups')]));
  const payloads = [];
  for (const [name, g] of groups) {
    const row = (what, p) => el('tr', {}, el('td', {}, name), el('td', {}, what), el('td', {}, 'v' + p.version),
      el('td', {}, p.encrypted ? 'yes, ' + p.status : 'no'), el('td', {}, p.size + ' B'));
    if (g.config) payloads.push(row('config', g.config));
    for (const [file, p] of Object.entries(g.files || {})) payloads.push(row('file ' + file, p));
  }
  fill($('payloads').tBodies[0], payloads, 'no configs or files', 5);
  $('status').textContent = 'updated ' + now;
  $('status').className = '';
}
async function refresh() {
  try {
    const [b, c] = await Promise.all(['/butterfly', '/census'].map((p) =>
      fetch(p, {cache: 'no-store'}).then((r) => r.ok ? r.json() : Promise.reject(new Error(p + ': ' + r.status)))));
    failures = 0;
    render({butterfly: b, census: c});
  } catch (e) {
    failures += 1;
    $('status').textContent = 'cannot reach the node (' + failures + ' tries): showing the last answer';
    $('status').className = 'stale';
  }
  setTimeout(refresh, 2000);
}
render(JSON.parse($('initial').textContent));
setTimeout(refresh, 2000);
"#;
