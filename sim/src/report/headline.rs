//! The headline of a run page: what happened, in a few sentences computed from the run
//! ("the views re-converged 32 s after the heal at 150 s", "5 crashes Confirmed by every live
//! member in 14.8 s median", "no live member was falsely Confirmed").

use super::data::Table;
use super::format;
use super::plots::Mark;
use crate::metrics::Crash;
use crate::output::Summary;

/// A sample at or above this convergence counts as converged: every live pair Alive
/// (`timeseries.csv` keeps six decimals, so this is "prints as 1.000000").
const CONVERGED: f64 = 1.0 - 5e-7;

/// The headline's sentences, most important first.
pub fn sentences(
    summary: &Summary,
    crashes: &[Crash],
    series: &Table,
    marks: &[Mark],
) -> Vec<String> {
    let mut out = Vec::new();
    let failed: Vec<&str> = summary
        .expectations
        .iter()
        .filter(|e| !e.passed)
        .map(|e| e.kind)
        .collect();
    if !failed.is_empty() {
        out.push(format!(
            "{} of {} expectations failed: {}.",
            failed.len(),
            summary.expectations.len(),
            failed.join(", ")
        ));
    }
    out.extend(convergence(summary, series, marks));
    out.extend(detection(summary, crashes));
    out.push(false_alarms(summary));
    out.extend(rumors(summary));
    out.extend(elections(summary));
    out.push(format!(
        "Each live member sent {} messages ({}) per second.",
        format::si(summary.traffic.total.messages_per_member_per_second),
        format::bytes(summary.traffic.total.bytes_per_member_per_second)
    ));
    out
}

/// Partitions and heals from the timeline, read against `timeseries.csv`'s convergence.
fn convergence(summary: &Summary, series: &Table, marks: &[Mark]) -> Vec<String> {
    let mut out = Vec::new();
    let (Some(t), Some(c)) = (series.column("time_s"), series.column("convergence")) else {
        return out;
    };
    let samples: Vec<(f64, f64)> = t
        .into_iter()
        .zip(c)
        .filter(|(t, c)| t.is_finite() && c.is_finite())
        .collect();
    let Some(&(end_s, _)) = samples.last() else {
        return out;
    };
    let action = |m: &Mark| m.label.split_whitespace().next().unwrap_or("").to_string();
    for (i, m) in marks.iter().enumerate() {
        let next = marks.get(i + 1).map_or(f64::INFINITY, |n| n.time_s);
        match action(m).as_str() {
            "partition" => {
                let low = samples
                    .iter()
                    .filter(|(t, _)| *t >= m.time_s && *t < next)
                    .map(|(_, c)| *c)
                    .fold(f64::INFINITY, f64::min);
                if low.is_finite() {
                    out.push(format!(
                        "The cut at {} split the views: convergence fell to {}.",
                        format::seconds(m.time_s),
                        format::percent(low)
                    ));
                }
            }
            "heal" => {
                let back = samples
                    .iter()
                    .find(|(t, c)| *t >= m.time_s && *c >= CONVERGED)
                    .map(|(t, _)| t - m.time_s);
                out.push(match back {
                    Some(d) => format!(
                        "The views re-merged {} after the heal at {}.",
                        format::seconds(d),
                        format::seconds(m.time_s)
                    ),
                    None => format!(
                        "The views had not re-merged {} after the heal at {}.",
                        format::seconds(end_s - m.time_s),
                        format::seconds(m.time_s)
                    ),
                });
            }
            _ => {}
        }
    }
    let end = summary.end.convergence;
    out.push(if end >= CONVERGED {
        format!(
            "At the end every one of the {} live members held every other Alive.",
            summary.end.live
        )
    } else {
        format!(
            "At the end {} of the pairs of the {} live members held each other Alive.",
            format::percent(end),
            summary.end.live
        )
    });
    out
}

fn detection(summary: &Summary, crashes: &[Crash]) -> Vec<String> {
    if crashes.is_empty() {
        return Vec::new();
    }
    let n = crashes.len();
    let plural = |k: usize, one: &str, many: &str| {
        if k == 1 {
            format!("{k} {one}")
        } else {
            format!("{k} {many}")
        }
    };
    let d = &summary.detection;
    let mut out = Vec::new();
    match d.all_confirmed.median_s {
        Some(median) => {
            let everywhere = d.all_confirmed.count;
            out.push(format!(
                "{} Confirmed by every live member in {} median (slowest {}); first Suspect \
                 after {} median.",
                if everywhere == n {
                    plural(n, "crash", "crashes")
                } else {
                    format!("{everywhere} of {n} crashes")
                },
                format::seconds(median),
                format::seconds(d.all_confirmed.max_s.unwrap_or(median)),
                d.first_suspect
                    .median_s
                    .map_or("–".to_string(), format::seconds),
            ));
        }
        None => out.push(format!(
            "{} never Confirmed by every live member.",
            plural(n, "crash was", "crashes were")
        )),
    }
    out
}

fn false_alarms(summary: &Summary) -> String {
    let confirmed = if summary.false_confirmed == 0 {
        "No live member was falsely Confirmed".to_string()
    } else {
        format!(
            "Live members were falsely Confirmed {} times (observer views)",
            summary.false_confirmed
        )
    };
    if summary.false_suspected == 0 {
        format!("{confirmed}, nor falsely Suspected.")
    } else {
        format!(
            "{confirmed}; {} false Suspect views, answered by {} refutations.",
            summary.false_suspected, summary.refutations
        )
    }
}

fn rumors(summary: &Summary) -> Option<String> {
    let r = &summary.rumor_coverage;
    if r.versions == 0 {
        return None;
    }
    Some(format!(
        "{} of {} rumor versions reached every live member{}.",
        r.complete,
        r.versions,
        r.seconds_to_100.median_s.map_or(String::new(), |m| format!(
            ", in {} median",
            format::seconds(m)
        ))
    ))
}

fn elections(summary: &Summary) -> Option<String> {
    if summary.elections.is_empty() {
        return None;
    }
    let mut durations: Vec<f64> = summary
        .elections
        .iter()
        .filter_map(|e| e.duration_s)
        .collect();
    durations.sort_by(f64::total_cmp);
    let n = summary.elections.len();
    let done = durations.len();
    Some(match durations.get(done.saturating_sub(1) / 2) {
        Some(median) => format!(
            "{done} of {n} elections finished at every member of their group, in {} median.",
            format::seconds(*median)
        ),
        None => format!("{n} elections started; none finished at every member of its group."),
    })
}
