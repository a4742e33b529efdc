//! The run page's summary, grouped for reading: detection, false alarms, traffic by channel,
//! rumors, elections, commands and the run itself. A group with nothing to show is left out;
//! the full flat summary is `summary.json`, linked from the page.

use std::fmt::Write;

use super::format;
use super::html::esc;
use crate::metrics::Latency;
use crate::output::Summary;
use crate::traffic::ChannelSummary;

/// At most this many rows of a long list (rumor versions, elections, commands) are shown.
const MAX_ROWS: usize = 40;

/// The groups as HTML sections, in reading order.
pub fn render(s: &Summary) -> String {
    let mut h = String::new();
    detection(&mut h, s);
    false_alarms(&mut h, s);
    traffic(&mut h, s);
    rumors(&mut h, s);
    elections(&mut h, s);
    commands(&mut h, s);
    run(&mut h, s);
    h
}

fn group(h: &mut String, id: &str, title: &str, body: &str) {
    let _ = write!(
        h,
        "<section class=\"group\" id=\"summary-{id}\"><h3>{title}</h3>\n{body}</section>\n"
    );
}

fn pairs(rows: &[(&str, String)]) -> String {
    let mut t = String::from("<table class=\"pairs\">\n");
    for (k, v) in rows {
        let _ = writeln!(
            t,
            "<tr><th>{}</th><td class=\"num\">{}</td></tr>",
            esc(k),
            esc(v)
        );
    }
    t.push_str("</table>\n");
    t
}

fn table(header: &[&str], rows: &[Vec<String>], total: usize) -> String {
    let mut t = String::from("<div class=\"wide\"><table>\n<tr>");
    for c in header {
        let _ = write!(t, "<th>{}</th>", esc(c));
    }
    t.push_str("</tr>\n");
    for r in rows {
        t.push_str("<tr>");
        for c in r {
            let _ = write!(t, "<td class=\"num\">{}</td>", esc(c));
        }
        t.push_str("</tr>\n");
    }
    t.push_str("</table></div>\n");
    if total > rows.len() {
        let _ = writeln!(
            t,
            "<p class=\"note\">The first {} of {total}; all are in \
             <a href=\"summary.json\">summary.json</a>.</p>",
            rows.len()
        );
    }
    t
}

fn latency(l: &Latency) -> String {
    match (l.median_s, l.p99_s, l.max_s) {
        (Some(m), Some(p), Some(x)) => format!(
            "{} median, {} p99, {} max (n = {})",
            format::seconds(m),
            format::seconds(p),
            format::seconds(x),
            l.count
        ),
        _ => "–".to_string(),
    }
}

fn opt_s(v: Option<f64>) -> String {
    v.map_or("–".to_string(), format::seconds)
}

fn detection(h: &mut String, s: &Summary) {
    let d = &s.detection;
    if d.first_suspect.count + d.first_confirmed.count + d.all_confirmed.count == 0 {
        return;
    }
    let body = pairs(&[
        ("First Suspect after the crash", latency(&d.first_suspect)),
        (
            "First Confirmed after the crash",
            latency(&d.first_confirmed),
        ),
        ("Confirmed by every live member", latency(&d.all_confirmed)),
    ]);
    group(h, "detection", "Detection", &body);
}

fn false_alarms(h: &mut String, s: &Summary) {
    let body = pairs(&[
        (
            "Suspect views of live, reachable members",
            s.false_suspected.to_string(),
        ),
        (
            "Confirmed views of live, reachable members",
            s.false_confirmed.to_string(),
        ),
        ("Refutations", s.refutations.to_string()),
    ]);
    group(h, "false-alarms", "False alarms", &body);
}

fn traffic(h: &mut String, s: &Summary) {
    let t = &s.traffic;
    let channels: [(&str, &ChannelSummary); 7] = [
        ("datagram (SWIM)", &t.datagram),
        ("stream, all", &t.stream.all),
        ("stream: membership", &t.stream.membership),
        ("stream: rumors", &t.stream.rumors),
        ("stream: rumor sync", &t.stream.rumor_sync),
        ("stream: other", &t.stream.other),
        ("all channels", &t.total),
    ];
    let rows: Vec<Vec<String>> = channels
        .iter()
        .filter(|(_, c)| c.messages > 0)
        .map(|(name, c)| {
            vec![
                (*name).to_string(),
                format::si(c.messages as f64),
                format::bytes(c.bytes as f64),
                format::si(c.messages_per_member_per_second),
                format::bytes(c.bytes_per_member_per_second),
            ]
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let n = rows.len();
    let mut body = table(
        &[
            "channel",
            "messages",
            "bytes",
            "messages/s per member",
            "bytes/s per member",
        ],
        &rows,
        n,
    );
    body.push_str(&pairs(&[
        (
            "Messages lost (loss, partitions, down members)",
            format::si(s.messages_lost as f64),
        ),
        (
            "Rumor copies sent per copy needed",
            s.redundancy
                .ratio
                .map_or("–".to_string(), |r| format!("{r:.2}")),
        ),
    ]));
    group(h, "traffic", "Traffic by channel", &body);
}

fn rumors(h: &mut String, s: &Summary) {
    let r = &s.rumor_coverage;
    if r.versions == 0 && s.rumors_rejected == 0 {
        return;
    }
    let mut body = pairs(&[
        ("Rumor versions", r.versions.to_string()),
        ("Reached every live member", r.complete.to_string()),
        ("All complete at", opt_s(r.all_complete_at_s)),
        ("Time to every live member", latency(&r.seconds_to_100)),
        (
            "Rejected (stale, oversized, invalid)",
            s.rumors_rejected.to_string(),
        ),
    ]);
    let rows: Vec<Vec<String>> = s
        .rumor_convergence
        .iter()
        .take(MAX_ROWS)
        .map(|c| {
            vec![
                c.kind.to_string(),
                c.group.clone().unwrap_or_default(),
                c.member.map_or(String::new(), |m| m.to_string()),
                c.file.clone().unwrap_or_default(),
                c.version.to_string(),
                format::seconds(c.born_s),
                opt_s(c.seconds_to_50),
                opt_s(c.seconds_to_99),
                opt_s(c.seconds_to_100),
            ]
        })
        .collect();
    if !rows.is_empty() {
        body.push_str(&table(
            &[
                "kind", "group", "member", "file", "version", "born", "to 50 %", "to 99 %",
                "to 100 %",
            ],
            &rows,
            s.rumor_convergence.len(),
        ));
    }
    group(h, "rumors", "Rumors", &body);
}

fn elections(h: &mut String, s: &Summary) {
    if s.elections.is_empty() {
        return;
    }
    let rows: Vec<Vec<String>> = s
        .elections
        .iter()
        .take(MAX_ROWS)
        .map(|e| {
            vec![
                e.group.clone(),
                e.kind.to_string(),
                e.term.to_string(),
                opt_s(e.started_s),
                opt_s(e.duration_s),
                e.leader.map_or("–".to_string(), |l| l.to_string()),
                e.no_quorum_members.to_string(),
            ]
        })
        .collect();
    let body = table(
        &[
            "group",
            "kind",
            "term",
            "started",
            "finished everywhere after",
            "leader",
            "members without quorum",
        ],
        &rows,
        s.elections.len(),
    );
    group(h, "elections", "Elections", &body);
}

fn commands(h: &mut String, s: &Summary) {
    if s.commands.is_empty() {
        return;
    }
    let rows: Vec<Vec<String>> = s
        .commands
        .iter()
        .take(MAX_ROWS)
        .map(|c| {
            vec![
                format::seconds(c.time_s),
                c.action.to_string(),
                c.member.map_or("–".to_string(), |m| m.to_string()),
                if c.ok { "accepted" } else { "refused" }.to_string(),
                c.detail.clone(),
            ]
        })
        .collect();
    let body = table(
        &["at", "action", "member", "verdict", "detail"],
        &rows,
        s.commands.len(),
    );
    group(h, "commands", "Operator commands", &body);
}

fn run(h: &mut String, s: &Summary) {
    let body = pairs(&[
        ("Members", s.members.to_string()),
        ("Live at the end", s.end.live.to_string()),
        (
            "View convergence at the end",
            format::percent(s.end.convergence),
        ),
        (
            "Health changes (rows of events.csv)",
            format::si(s.view_changes as f64),
        ),
        (
            "Inputs dropped by the engines",
            s.dropped_inputs.to_string(),
        ),
        ("Messages sent", format::si(s.messages_sent as f64)),
        ("Bytes sent", format::bytes(s.bytes_sent as f64)),
        (
            "Queue items processed",
            format::si(s.events_processed as f64),
        ),
        (
            "Virtual time / wall time",
            format!(
                "{} / {}",
                format::seconds(s.virtual_seconds),
                format::seconds(s.wall_seconds)
            ),
        ),
    ]);
    group(h, "run", "The run", &body);
}
