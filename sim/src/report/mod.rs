//! The plots and the page a run writes next to its CSV files.
//!
//! `sim run` calls [`write`] after the run: it reads `timeseries.csv`, `events.csv` and, when
//! the run has one, `rumors.csv` back from the output directory, and writes
//!
//! - `convergence.svg/.png`: view convergence, then views of live and of dead members by health
//!   held, with the timeline's actions as labelled vertical lines;
//! - `detection.svg/.png`: each crash's first-Suspect, first-Confirmed and all-Confirmed
//!   latencies, and over (crash, observer) pairs when each observer learned;
//! - `rumors.svg/.png`: each rumor's coverage over time (an empty-state plot when the run has
//!   no rumor data);
//! - `traffic.svg/.png`: messages and bytes per live member per second, by channel;
//! - `index.html`: the page a person reads ([`html`]): the verdict and a headline of what
//!   happened in words ([`headline`]), the plots with something to show (as `<img>` of the
//!   SVGs beside it), the expectations, the summary in groups ([`summary`]) and the scenario.
//!   It loads nothing from the network and prints on paper.
//!
//! Every file is written whether or not it has anything to show (an empty-state plot says
//! why); the page leaves the empty ones out.

pub mod chart;
pub mod data;
pub mod format;
pub mod headline;
pub mod html;
pub mod plots;
pub mod summary;

use std::io;
use std::path::Path;

use crate::analytic;
use crate::metrics::Crash;
use crate::output::Summary;
use crate::plan::{nanos, Plan};
use chart::Figure;
use data::Table;
use engine::member::Health;
use plots::Mark;

/// The names of the plots every run writes (as `NAME.svg` and `NAME.png`).
pub const PLOTS: [&str; 4] = ["convergence", "detection", "rumors", "traffic"];

/// What the report needs besides the files in the output directory.
#[derive(Debug)]
pub struct Input<'a> {
    /// The scenario file, as given on the command line.
    pub scenario_path: &'a Path,
    /// Its text.
    pub scenario_text: &'a str,
    /// The `--set` overrides of the run.
    pub sets: &'a [String],
    /// The checked plan that ran.
    pub plan: &'a Plan,
    /// The run's summary.
    pub summary: &'a Summary,
    /// Every crash with its detection times.
    pub crashes: &'a [Crash],
}

/// Draws the plots and writes `index.html` into `dir` (which holds the run's CSV files).
pub fn write(dir: &Path, input: &Input<'_>) -> io::Result<()> {
    let series = Table::read(&dir.join("timeseries.csv"))?;
    // Only the crashed members' rows feed a plot.
    let crashed: std::collections::BTreeSet<u32> = input.crashes.iter().map(|c| c.member).collect();
    let events = data::read_events(&dir.join("events.csv"), |s| crashed.contains(&s))?;
    let marks = timeline_marks(input.scenario_text, input.sets);
    let config = &input.plan.config;
    let period_s = config.protocol_period.as_secs_f64();
    let timeouts_s = (config.ping_timeout + config.pingreq_timeout).as_secs_f64();

    let convergence = plots::Convergence {
        series: &series,
        marks: &marks,
    };
    let per_crash = [
        crash_latencies(input.crashes, |c| c.first_suspect_ns),
        crash_latencies(input.crashes, |c| c.first_confirmed_ns),
        crash_latencies(input.crashes, |c| c.all_confirmed_ns),
    ];
    let detection = plots::Detection {
        per_crash,
        observer_suspect: plots::observer_latencies(&events, input.crashes, |h| h != Health::Alive),
        observer_confirmed: plots::observer_latencies(&events, input.crashes, |h| {
            matches!(h, Health::Confirmed | Health::Departed)
        }),
        analytic_first_suspect_s: (!input.crashes.is_empty())
            .then(|| analytic::first_suspect_mean_s(input.plan.members, period_s, timeouts_s)),
    };
    let rumors = rumor_figure(dir, input)?;
    let traffic = plots::Traffic { series: &series };

    // Two plots on another thread: drawing and compressing a PNG is a few tenths of a second
    // of a 1,000-member run's wall time.
    std::thread::scope(|scope| -> io::Result<()> {
        let other = scope.spawn(|| -> io::Result<()> {
            chart::save(dir, PLOTS[0], &convergence)?;
            chart::save(dir, PLOTS[3], &traffic).map(drop)
        });
        chart::save(dir, PLOTS[1], &detection)?;
        chart::save(dir, PLOTS[2], &rumors)?;
        other
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("drawing a plot panicked")))
    })?;

    let t = series.column("time_s").unwrap_or_default();
    let figures = [
        (
            PLOTS[0],
            "View convergence and the views held, over virtual time".to_string(),
            convergence.size(),
            t.is_empty()
                .then(|| "timeseries.csv has no rows".to_string()),
        ),
        (
            PLOTS[1],
            "Detection latency of each crash, and when each observer learned".to_string(),
            detection.size(),
            input
                .crashes
                .is_empty()
                .then(|| "no member crashed".to_string()),
        ),
        (
            PLOTS[2],
            "Rumor coverage over virtual time, beside the infection-style curve".to_string(),
            rumors.size(),
            rumors
                .series
                .is_empty()
                .then(|| "no rumors in this run".to_string()),
        ),
        (
            PLOTS[3],
            "Messages and bytes sent per live member per second, by channel".to_string(),
            traffic.size(),
            (t.len() < 2).then(|| "fewer than two samples".to_string()),
        ),
    ];
    let mut page = html::Page {
        input,
        headline: headline::sentences(input.summary, input.crashes, &series, &marks),
        plots: Vec::new(),
        omitted: Vec::new(),
    };
    for (name, caption, size, empty) in figures {
        match empty {
            Some(why) => page.omitted.push((name, why)),
            None => page.plots.push(html::Plot {
                name,
                caption,
                size,
            }),
        }
    }
    std::fs::write(dir.join("index.html"), page.render())
}

fn crash_latencies(crashes: &[Crash], f: impl Fn(&Crash) -> Option<u64>) -> Vec<f64> {
    crashes
        .iter()
        .filter_map(|c| f(c).map(|t| t.saturating_sub(c.at_ns) as f64 / 1e9))
        .collect()
}

/// The timeline's `[[at]]` entries as labelled marks, read from the scenario text (with the
/// run's `--set` overrides applied; entries that do not parse are left out).
pub fn timeline_marks(text: &str, sets: &[String]) -> Vec<Mark> {
    let Ok(mut table) = toml::from_str::<toml::Table>(text) else {
        return Vec::new();
    };
    for set in sets {
        let _ = crate::overrides::apply(&mut table, set);
    }
    let Some(toml::Value::Array(entries)) = table.get("at") else {
        return Vec::new();
    };
    let mut marks: Vec<Mark> = entries
        .iter()
        .filter_map(|e| {
            let time = e.get("time")?.as_str()?;
            let d = humantime::parse_duration(time).ok()?;
            let action = e.get("action")?.as_str()?;
            let who = match (e.get("members"), e.get("groups")) {
                (Some(m), _) => value_text(m),
                (None, Some(g)) => value_text(g),
                _ => String::new(),
            };
            let mut label = format!("{action} {who}");
            if label.chars().count() > 28 {
                label = label.chars().take(27).collect::<String>() + "…";
            }
            Some(Mark {
                time_s: nanos(d) as f64 / 1e9,
                label: label.trim().to_string(),
            })
        })
        .collect();
    marks.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
    marks
}

fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(" | "),
        other => other.to_string(),
    }
}

/// The rumor plot from `rumors.csv` when the run wrote one: either long (`time_s`, `rumor`,
/// and a `coverage` column) or wide (`time_s` and one coverage column per rumor).
fn rumor_figure(dir: &Path, input: &Input<'_>) -> io::Result<plots::Rumors> {
    let path = dir.join("rumors.csv");
    let mut figure = plots::Rumors {
        series: Vec::new(),
        analytic: Vec::new(),
        empty_reason: "No rumors in this run (no rumors.csv)".to_string(),
    };
    if !path.exists() {
        figure.series = rumors_from_summary(input.summary);
        if figure.series.is_empty() {
            figure.empty_reason = "No rumors in this run".to_string();
            return Ok(figure);
        }
        let start = figure
            .series
            .iter()
            .filter_map(|(_, p)| p.first().map(|q| q.0))
            .fold(f64::INFINITY, f64::min);
        let end = input.summary.virtual_seconds;
        figure.analytic = gossip_curve(input, start, end);
        return Ok(figure);
    }
    let table = Table::read_with_text(&path, &["rumor", "key", "name"])?;
    let Some(t) = table.column("time_s") else {
        figure.empty_reason = "rumors.csv has no time_s column".to_string();
        return Ok(figure);
    };
    let coverage_col = ["coverage", "share", "fraction"]
        .iter()
        .find_map(|c| table.column(c));
    if let (Some(cov), false) = (coverage_col, table.text.is_empty()) {
        let mut by_name: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        for ((row_text, &time), &c) in table.text.iter().zip(&t).zip(&cov) {
            let name = row_text.first().cloned().unwrap_or_default();
            match by_name.iter_mut().find(|(n, _)| *n == name) {
                Some((_, pts)) => pts.push((time, c)),
                None => by_name.push((name, vec![(time, c)])),
            }
        }
        figure.series = by_name;
    } else {
        for (i, name) in table.header.iter().enumerate() {
            if name == "time_s" || name == "live" {
                continue;
            }
            let pts = table
                .rows
                .iter()
                .zip(&t)
                .map(|(r, &time)| (time, r.get(i).copied().unwrap_or(f64::NAN)))
                .filter(|p| p.1.is_finite())
                .collect::<Vec<_>>();
            if !pts.is_empty() {
                figure.series.push((name.clone(), pts));
            }
        }
    }
    if figure.series.is_empty() {
        figure.empty_reason = "No rumors in this run (rumors.csv has no rows)".to_string();
        return Ok(figure);
    }
    let start = figure
        .series
        .iter()
        .filter_map(|(_, p)| p.iter().find(|q| q.1 > 0.0).map(|q| q.0))
        .fold(f64::INFINITY, f64::min);
    let end = t.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    figure.analytic = gossip_curve(input, start, end);
    Ok(figure)
}

/// The infection-style curve for the gossip channel's fan-out, from `start` to `end`.
fn gossip_curve(input: &Input<'_>, start: f64, end: f64) -> Vec<(f64, f64)> {
    if !start.is_finite() || end <= start {
        return Vec::new();
    }
    let config = &input.plan.config;
    let round_s = config.gossip_interval.as_secs_f64();
    let fanout = config.gossip_fanout as f64;
    let n = input.summary.end.live.max(2);
    (0..=200)
        .map(|i| {
            let time = start + (end - start) * f64::from(i) / 200.0;
            let rounds = (time - start) / round_s;
            (time, analytic::infected_fraction_with(n, rounds, fanout))
        })
        .collect()
}

/// Coverage curves from `summary.json`'s `rumor_convergence` (born, then 50 %, 99 % and
/// 100 % of the live members), the first [`MAX_RUMORS`] rumors.
fn rumors_from_summary(summary: &Summary) -> Vec<(String, Vec<(f64, f64)>)> {
    let Ok(value) = serde_json::to_value(summary) else {
        return Vec::new();
    };
    let Some(list) = value.get("rumor_convergence").and_then(|v| v.as_array()) else {
        return Vec::new();
    };
    list.iter()
        .take(MAX_RUMORS)
        .filter_map(|r| {
            let born = r.get("born_s")?.as_f64()?;
            let text = |k: &str| r.get(k).and_then(|v| v.as_str()).map(str::to_string);
            let mut name = text("kind").unwrap_or_else(|| "rumor".into());
            if let Some(g) = text("group") {
                name = format!("{name} {g}");
            }
            if let Some(f) = text("file") {
                name = format!("{name} {f}");
            }
            if let Some(m) = r.get("member").and_then(|v| v.as_u64()) {
                name = format!("{name} m{m}");
            }
            if let Some(v) = r.get("version").and_then(|v| v.as_u64()) {
                name = format!("{name} v{v}");
            }
            let mut points = vec![(born, 0.0)];
            for (key, share) in [
                ("seconds_to_50", 0.5),
                ("seconds_to_99", 0.99),
                ("seconds_to_100", 1.0),
            ] {
                if let Some(t) = r.get(key).and_then(|v| v.as_f64()) {
                    points.push((born + t, share));
                }
            }
            Some((name, points))
        })
        .collect()
}

/// At most this many rumors are drawn.
const MAX_RUMORS: usize = 12;
