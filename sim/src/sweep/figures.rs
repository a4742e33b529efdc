//! The sweep's plots (each figure against the first parameter, mean over seeds with min–max
//! error bars, one line per value of the second parameter, analytic overlays where SWIM gives
//! a formula) and its `index.html` (the figures, then a table of the runs linking each run's
//! own page).

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{cell, RunRow, SweepFile};
use crate::plan::Plan;
use crate::report::chart::{self, bounds, color, padded, DrawResult, Figure, FAMILY};
use crate::report::format;
use crate::report::html::{esc, STYLE};

/// Analytic overlays of a figure: (column of `sweep.csv`, label).
type Overlays = &'static [(&'static str, &'static str)];

/// A point of a series: (x, mean, min, max) over seeds.
type Point = (f64, f64, f64, f64);

/// (column of `sweep.csv`, title, analytic overlays).
const FIGURES: &[(&str, &str, Overlays)] = &[
    (
        "detection.first_suspect.median_s",
        "First Suspect after the crash (s)",
        &[
            (
                "analytic_first_suspect_mean_s",
                "analytic mean, periods out of phase",
            ),
            (
                "analytic_first_suspect_median_s",
                "analytic median, periods out of phase",
            ),
            (
                "analytic_swim_first_detection_s",
                "SWIM paper: T/(1 − e^−1)",
            ),
        ],
    ),
    (
        "detection.first_confirmed.median_s",
        "First Confirmed after the crash (s)",
        &[],
    ),
    (
        "detection.all_confirmed.median_s",
        "Confirmed by every live member after the crash (s)",
        &[],
    ),
    (
        "false_suspicions_per_probe",
        "False suspicions per probe",
        &[(
            "analytic_false_suspicions_per_probe",
            "SWIM: (1−(1−p)²)(1−(1−p)⁴)^k",
        )],
    ),
    (
        "false_suspected",
        "False Suspect views (all observers)",
        &[],
    ),
    (
        "false_confirmed",
        "False Confirmed views (all observers)",
        &[],
    ),
    ("refutations", "Refutations", &[]),
    (
        "messages_per_member_per_s",
        "Messages per member per second",
        &[],
    ),
    ("bytes_per_member_per_s", "Bytes per member per second", &[]),
    ("final.convergence", "View convergence at the end", &[]),
    ("wall_seconds", "Wall-clock seconds per run", &[]),
    (
        "heal_s",
        "Every view whole, seconds after the heal window opens",
        &[],
    ),
    ("bytes_sent", "Bytes sent by all members", GROWTH),
    (
        "record_copies.total",
        "Member record copies sent (all channels)",
        GROWTH,
    ),
    (
        "record_copies.lower_bound",
        "Member records lacked, summed (the least possible copies)",
        GROWTH,
    ),
];

/// Growth references, each scaled to pass through the largest ring's point of one series
/// (the first through the first series, the second through the last): see [`anchor`].
const GROWTH: Overlays = &[
    ("reference_n2logn", "∝ n² log n (through the first series)"),
    ("reference_n2", "∝ n² (through the last series)"),
];

/// One figure of a sweep.
#[derive(Debug)]
struct SweepPlot {
    title: String,
    x_desc: String,
    log_x: bool,
    /// Labels of categorical x values (when the first key's values are not numbers).
    categories: Vec<String>,
    /// (series name, [(x, mean, min, max)]).
    series: Vec<(String, Vec<Point>)>,
    /// (label, [(x, y)]).
    overlays: Vec<(String, Vec<(f64, f64)>)>,
}

/// Writes one SVG and PNG per figure that has data, and `index.html`.
pub fn write(
    dir: &Path,
    name: &str,
    sweep_text: &str,
    sweep: &SweepFile,
    _plan: &Plan,
    rows: &[RunRow],
) -> io::Result<()> {
    let x_key = sweep.vary[0].key.trim().to_string();
    let x_values: Vec<String> = sweep.vary[0].values.iter().map(super::set_value).collect();
    let numeric: Option<Vec<f64>> = x_values.iter().map(|v| v.parse::<f64>().ok()).collect();
    let log_x = numeric.as_ref().is_some_and(|v| {
        let (lo, hi) = bounds(v.iter().copied());
        lo > 0.0 && hi / lo >= 20.0
    });
    let x_of = |i: usize| -> f64 {
        match &numeric {
            Some(v) if log_x => v[i].log10(),
            Some(v) => v[i],
            None => i as f64,
        }
    };
    let groups: Vec<String> = match sweep.vary.get(1) {
        Some(v) => v.values.iter().map(super::set_value).collect(),
        None => vec![String::new()],
    };
    let rows_at = |xi: usize, g: &str| -> Vec<&RunRow> {
        rows.iter()
            .filter(|r| {
                r.spec.point.first().map(|p| p.1.as_str()) == Some(x_values[xi].as_str())
                    && (g.is_empty() || r.spec.point.get(1).map(|p| p.1.as_str()) == Some(g))
            })
            .collect()
    };
    let values = |rs: &[&RunRow], col: &str| -> Vec<f64> {
        rs.iter()
            .filter_map(|r| cell(r, col).and_then(|v| v.parse::<f64>().ok()))
            .filter(|v| v.is_finite())
            .collect()
    };
    let mut written = Vec::new();
    for (column, title, overlays) in FIGURES {
        let mut plot = SweepPlot {
            title: (*title).to_string(),
            x_desc: if log_x {
                format!("{x_key} (log scale)")
            } else {
                x_key.clone()
            },
            log_x,
            categories: if numeric.is_none() {
                x_values.clone()
            } else {
                Vec::new()
            },
            series: Vec::new(),
            overlays: Vec::new(),
        };
        for g in &groups {
            let mut pts = Vec::new();
            for xi in 0..x_values.len() {
                let v = values(&rows_at(xi, g), column);
                if v.is_empty() {
                    continue;
                }
                let mean = v.iter().sum::<f64>() / v.len() as f64;
                let (lo, hi) = bounds(v.iter().copied());
                pts.push((x_of(xi), mean, lo, hi));
            }
            if !pts.is_empty() {
                let label = match sweep.vary.get(1) {
                    Some(v) => format!("{}={g}", v.key.trim()),
                    None => "simulated (mean; bars: min–max over seeds)".to_string(),
                };
                plot.series.push((label, pts));
            }
        }
        if plot.series.is_empty() {
            continue;
        }
        for (col, label) in *overlays {
            let pts: Vec<(f64, f64)> = (0..x_values.len())
                .filter_map(|xi| {
                    let v = values(&rows_at(xi, &groups[0]), col);
                    (!v.is_empty()).then(|| (x_of(xi), v.iter().sum::<f64>() / v.len() as f64))
                })
                .collect();
            let pts = if col.starts_with("reference_") {
                let through = if plot.overlays.is_empty() {
                    plot.series.first()
                } else {
                    plot.series.last()
                };
                anchor(pts, through.map(|(_, p)| p.as_slice()).unwrap_or(&[]))
            } else {
                pts
            };
            if !pts.is_empty() {
                plot.overlays.push(((*label).to_string(), pts));
            }
        }
        let file = column.replace('.', "_");
        chart::save(dir, &file, &plot)?;
        written.push((file, (*title).to_string(), plot.size()));
    }
    let page = SweepPage {
        name,
        sweep_text,
        sweep,
        rows,
        figures: &written,
    };
    std::fs::write(dir.join("index.html"), page.render())
}

/// A growth reference (`reference`'s shape) scaled to pass through `series`' point at the
/// largest x that both have; empty when they share none.
fn anchor(reference: Vec<(f64, f64)>, series: &[Point]) -> Vec<(f64, f64)> {
    // The largest x both have, whatever order the sweep lists its values in.
    let shared = series
        .iter()
        .filter_map(|p| {
            reference
                .iter()
                .find(|r| r.0 == p.0)
                .map(|r| (p.0, r.1, p.1))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, r, y)| (r, y));
    match shared {
        Some((r, y)) if r > 0.0 => reference.into_iter().map(|(x, v)| (x, v * y / r)).collect(),
        _ => Vec::new(),
    }
}

/// `index.html` of a sweep: what was swept, the figures against the parameter (with the
/// analytic overlays), and one row per run linking the run's own page.
struct SweepPage<'a> {
    name: &'a str,
    sweep_text: &'a str,
    sweep: &'a SweepFile,
    rows: &'a [RunRow],
    /// (file stem, title, size) of each figure drawn.
    figures: &'a [(String, String, (u32, u32))],
}

/// The columns of the table of runs besides the point, the seed and the verdict.
const RUN_COLUMNS: &[(&str, &str, bool)] = &[
    ("detection.first_suspect.median_s", "first Suspect", true),
    (
        "detection.all_confirmed.median_s",
        "Confirmed everywhere",
        true,
    ),
    ("false_suspected", "false Suspect views", false),
    (
        "false_suspicions_per_probe",
        "false suspicions per probe",
        false,
    ),
    ("messages_per_member_per_s", "messages/s per member", false),
    ("final.convergence", "convergence at the end", false),
    ("wall_seconds", "wall", true),
];

impl SweepPage<'_> {
    fn render(&self) -> String {
        let failed = self
            .rows
            .iter()
            .filter(|r| cell(r, "passed") != Some("true"))
            .count();
        let keys: Vec<String> = self
            .sweep
            .vary
            .iter()
            .map(|v| v.key.trim().to_string())
            .collect();
        let values: Vec<String> = self
            .sweep
            .vary
            .iter()
            .map(|v| {
                format!(
                    "{} over {}",
                    v.key.trim(),
                    v.values
                        .iter()
                        .map(super::set_value)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .collect();
        let (verdict, cls) = if failed == 0 {
            ("every run passed".to_string(), "ok")
        } else {
            (
                format!("{failed} of {} runs FAILED", self.rows.len()),
                "failed",
            )
        };
        let mut h = String::with_capacity(1 << 15);
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>sweep {n}</title><style>{STYLE}</style></head><body>\n<header>\
             <h1>Sweep {n} <span class=\"verdict {cls}\" id=\"verdict\">{verdict}</span></h1>\n\
             <ul id=\"headline\"><li>{base} swept: {values}.</li><li>{runs} runs ({seeds} seeds \
             per point); each point is the mean over its seeds, the bars the min and max; dashed \
             lines are SWIM's analytic values.</li></ul>\n\
             <nav><a href=\"#figures\">Figures</a><a href=\"#runs\">Runs</a>\
             <a href=\"#sweep-file\">Sweep file</a><a href=\"sweep.csv\">sweep.csv</a></nav>\
             </header>\n<section id=\"figures\"><h2>Figures</h2>\n",
            n = esc(self.name),
            base = esc(&self.sweep.base),
            values = esc(&values.join("; ")),
            runs = self.rows.len(),
            seeds = self.sweep.seeds,
        );
        for (file, title, (w, ht)) in self.figures {
            let _ = writeln!(
                h,
                "<figure id=\"plot-{file}\"><figcaption>{t}<a href=\"{file}.svg\">{file}.svg</a>\
                 <a href=\"{file}.png\">{file}.png</a></figcaption><img src=\"{file}.svg\" \
                 width=\"{w}\" height=\"{ht}\" alt=\"{t}\"></figure>",
                t = esc(title)
            );
        }
        h.push_str(
            "</section>\n<section id=\"runs\"><h2>Runs</h2>\n<div class=\"wide\"><table><tr>",
        );
        for k in &keys {
            let _ = write!(h, "<th>{}</th>", esc(k));
        }
        h.push_str("<th>seed</th><th>verdict</th>");
        // Columns no run has a value for (no crash: no detection latency) are left out.
        let columns: Vec<&(&str, &str, bool)> = RUN_COLUMNS
            .iter()
            .filter(|(col, _, _)| {
                self.rows
                    .iter()
                    .any(|r| cell(r, col).is_some_and(|v| v.parse::<f64>().is_ok()))
            })
            .collect();
        for (_, label, _) in &columns {
            let _ = write!(h, "<th>{}</th>", esc(label));
        }
        h.push_str("<th>page</th></tr>\n");
        for r in self.rows {
            h.push_str("<tr class=\"run\">");
            for (_, v) in &r.spec.point {
                let _ = write!(h, "<td class=\"num\">{}</td>", esc(v));
            }
            let passed = cell(r, "passed") == Some("true");
            let _ = write!(
                h,
                "<td class=\"num\">{}</td><td class=\"{}\">{}</td>",
                r.spec.seed,
                if passed { "ok" } else { "failed" },
                if passed { "passed" } else { "FAILED" }
            );
            for (col, _, is_seconds) in &columns {
                let text = cell(r, col).and_then(|v| v.parse::<f64>().ok()).map_or(
                    "–".to_string(),
                    |v| {
                        if *is_seconds {
                            crate::report::format::seconds(v)
                        } else {
                            crate::report::format::si(v)
                        }
                    },
                );
                let _ = write!(h, "<td class=\"num\">{text}</td>");
            }
            let href = format!(
                "runs/{}/seed-{}/index.html",
                super::path_safe(&super::point_label(&r.spec.point)),
                r.spec.seed
            );
            let _ = writeln!(h, "<td><a href=\"{}\">run page</a></td></tr>", esc(&href));
        }
        let _ = write!(
            h,
            "</table></div></section>\n<section id=\"sweep-file\"><h2>Sweep file</h2>\n\
             <pre>{}</pre></section>\n</body></html>\n",
            esc(self.sweep_text)
        );
        h
    }
}

impl Figure for SweepPlot {
    fn size(&self) -> (u32, u32) {
        (760, 460)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let xs = self.series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0));
        let (x0, x1) = padded(
            bounds(xs).0,
            bounds(self.series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0))).1,
        );
        let ys = self
            .series
            .iter()
            .flat_map(|(_, p)| p.iter().flat_map(|q| [q.2, q.3]))
            .chain(
                self.overlays
                    .iter()
                    .flat_map(|(_, p)| p.iter().map(|q| q.1)),
            );
        let (_, hi) = bounds(ys);
        let y1 = if hi.is_finite() && hi > 0.0 {
            hi * 1.15
        } else {
            1.0
        };
        let log_x = self.log_x;
        let categories = &self.categories;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FAMILY, 18))
            .margin(10)
            .x_label_area_size(38)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, 0f64..y1)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_desc)
            .x_label_formatter(&|x| {
                if !categories.is_empty() {
                    let i = x.round();
                    return if (x - i).abs() < 0.01 && i >= 0.0 && (i as usize) < categories.len() {
                        categories[i as usize].clone()
                    } else {
                        String::new()
                    };
                }
                if log_x {
                    format::si(10f64.powf(*x))
                } else {
                    format::si((x * 1e9).round() / 1e9)
                }
            })
            .y_label_formatter(&|y| format::si(*y))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        for (i, (label, pts)) in self.series.iter().enumerate() {
            let c = color(i);
            chart
                .draw_series(LineSeries::new(
                    pts.iter().map(|p| (p.0, p.1)),
                    c.stroke_width(2),
                ))?
                .label(label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
            chart.draw_series(pts.iter().map(|p| Circle::new((p.0, p.1), 4, c.filled())))?;
            let cap = (x1 - x0) * 0.008;
            for p in pts {
                chart.draw_series([
                    PathElement::new(vec![(p.0, p.2), (p.0, p.3)], c.stroke_width(1)),
                    PathElement::new(vec![(p.0 - cap, p.2), (p.0 + cap, p.2)], c.stroke_width(1)),
                    PathElement::new(vec![(p.0 - cap, p.3), (p.0 + cap, p.3)], c.stroke_width(1)),
                ])?;
            }
        }
        let overlay_colors = [
            RGBColor(200, 0, 0),
            RGBColor(120, 0, 160),
            RGBColor(90, 90, 90),
        ];
        for (i, (label, pts)) in self.overlays.iter().enumerate() {
            let c = overlay_colors[i % overlay_colors.len()];
            chart
                .draw_series(DashedLineSeries::new(
                    pts.iter().copied(),
                    7,
                    4,
                    c.stroke_width(2),
                ))?
                .label(label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FAMILY, 12))
            .draw()
    }
}

#[cfg(test)]
mod tests {
    use super::anchor;

    #[test]
    fn a_growth_reference_passes_through_the_largest_ring_in_any_order() {
        let reference = vec![(1.0, 1.0), (2.0, 4.0), (3.0, 9.0)];
        // Listed largest first, as a sweep whose longest runs should start first does.
        let series = [(3.0, 18.0, 18.0, 18.0), (1.0, 5.0, 5.0, 5.0)];
        assert_eq!(
            anchor(reference.clone(), &series),
            vec![(1.0, 2.0), (2.0, 8.0), (3.0, 18.0)]
        );
        let ascending = [(1.0, 5.0, 5.0, 5.0), (3.0, 18.0, 18.0, 18.0)];
        assert_eq!(
            anchor(reference.clone(), &ascending),
            anchor(reference, &series)
        );
        assert!(
            anchor(vec![(7.0, 1.0)], &ascending).is_empty(),
            "no shared x"
        );
    }
}
