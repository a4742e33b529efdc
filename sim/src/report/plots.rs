//! The four plots of a run: `convergence`, `detection`, `rumors`, `traffic`.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::chart::{bounds, color, empty_state, padded, DrawResult, Figure, FAMILY};
use super::data::{Table, ViewEvent};
use super::format;
use crate::analytic;
use engine::member::Health;

/// A labelled moment of the timeline.
#[derive(Clone, Debug)]
pub struct Mark {
    /// Virtual seconds.
    pub time_s: f64,
    /// What happened (`crash 10,25`).
    pub label: String,
}

/// `convergence`: view convergence, then views held of live and of dead members by health.
#[derive(Debug)]
pub struct Convergence<'a> {
    /// `timeseries.csv`.
    pub series: &'a Table,
    /// The timeline.
    pub marks: &'a [Mark],
}

/// `detection`: per-crash latencies and, over observers, when each learned of the crash.
#[derive(Debug)]
pub struct Detection {
    /// Per crash: first Suspect, first Confirmed, all Confirmed (seconds from the crash).
    pub per_crash: [Vec<f64>; 3],
    /// Over (crash, observer): seconds from the crash to the observer's first Suspect view.
    pub observer_suspect: Vec<f64>,
    /// Over (crash, observer): seconds to the observer's first Confirmed (or Departed) view.
    pub observer_confirmed: Vec<f64>,
    /// Analytic expectation of the first Suspect (seconds), for a marker.
    pub analytic_first_suspect_s: Option<f64>,
}

/// `rumors`: coverage of each rumor over time.
#[derive(Debug)]
pub struct Rumors {
    /// (rumor name, points (time s, coverage in [0, 1])).
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    /// The infection-style curve to overlay: (time s, fraction), when there are rumors.
    pub analytic: Vec<(f64, f64)>,
    /// Why there is nothing to draw.
    pub empty_reason: String,
}

/// `traffic`: messages and bytes per live member per second, by channel.
#[derive(Debug)]
pub struct Traffic<'a> {
    /// `timeseries.csv`.
    pub series: &'a Table,
}

const LABELS: [&str; 3] = ["first Suspect", "first Confirmed", "all Confirmed"];

/// One panel of the convergence figure.
struct Panel {
    title: &'static str,
    y_desc: &'static str,
    lines: Vec<(&'static str, Vec<f64>)>,
    /// Whether the timeline's marks are labelled (the top panel only).
    label_marks: bool,
}

impl Convergence<'_> {
    /// The panels with something to show: view convergence always, the views of live and of
    /// dead members only when some sample holds one of them in that health.
    fn panels(&self) -> Vec<Panel> {
        let get = |c: &str| self.series.column(c).unwrap_or_default();
        let mut out = vec![Panel {
            title: "View convergence (share of live pairs holding each other Alive)",
            y_desc: "convergence",
            lines: vec![("convergence", get("convergence"))],
            label_marks: true,
        }];
        let rest = [
            (
                "Views of live members, by health held",
                vec![
                    ("Suspect", get("live_suspect")),
                    ("Confirmed", get("live_confirmed")),
                    ("Departed", get("live_departed")),
                    ("Unknown", get("live_unknown")),
                ],
            ),
            (
                "Views of crashed or departed members, by health held",
                vec![
                    ("Alive", get("dead_alive")),
                    ("Suspect", get("dead_suspect")),
                    ("Confirmed", get("dead_confirmed")),
                    ("Departed", get("dead_departed")),
                ],
            ),
        ];
        for (title, lines) in rest {
            if lines
                .iter()
                .any(|(_, v)| v.iter().any(|x| x.is_finite() && *x != 0.0))
            {
                out.push(Panel {
                    title,
                    y_desc: "views",
                    lines,
                    label_marks: false,
                });
            }
        }
        out
    }
}

impl Figure for Convergence<'_> {
    fn size(&self) -> (u32, u32) {
        (900, 273 * self.panels().len() as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let t = self.series.column("time_s").unwrap_or_default();
        if t.is_empty() {
            return empty_state(root, "convergence", "timeseries.csv has no rows");
        }
        let panels = self.panels();
        let areas = root.split_evenly((panels.len(), 1));
        for (area, p) in areas.iter().zip(&panels) {
            draw_lines(
                area,
                p.title,
                p.y_desc,
                &t,
                &p.lines,
                self.marks,
                p.label_marks,
            )?;
        }
        Ok(())
    }
}

/// One panel of lines over time with the timeline's marks.
fn draw_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_desc: &str,
    t: &[f64],
    lines: &[(&str, Vec<f64>)],
    marks: &[Mark],
    label_marks: bool,
) -> DrawResult<DB> {
    let (t0, t1) = bounds(t.iter().copied());
    let (_, hi) = bounds(lines.iter().flat_map(|(_, v)| v.iter().copied()));
    let y1 = if hi.is_finite() && hi > 0.0 {
        hi * 1.08
    } else {
        1.0
    };
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FAMILY, 17))
        .margin(8)
        .x_label_area_size(34)
        .y_label_area_size(70)
        .build_cartesian_2d(t0..t1.max(t0 + 1.0), 0f64..y1)?;
    let span = t1 - t0;
    chart
        .configure_mesh()
        .x_desc("virtual time")
        .y_desc(y_desc)
        .x_label_formatter(&|x| format::time_tick(*x, span))
        .y_label_formatter(&|y| format::si(*y))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for m in marks {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(m.time_s, 0.0), (m.time_s, y1)],
            RGBColor(150, 150, 150).stroke_width(1),
        )))?;
        if label_marks {
            chart.draw_series(std::iter::once(Text::new(
                m.label.clone(),
                (m.time_s, y1 * 0.97),
                (FAMILY, 13).into_font().color(&RGBColor(80, 80, 80)),
            )))?;
        }
    }
    let mut drawn = 0;
    for (i, (name, v)) in lines.iter().enumerate() {
        if v.is_empty() || v.iter().all(|x| *x == 0.0 || !x.is_finite()) && lines.len() > 1 {
            continue;
        }
        drawn += 1;
        let c = color(i);
        chart
            .draw_series(LineSeries::new(
                t.iter().zip(v).map(|(&x, &y)| (x, y)),
                c.stroke_width(2),
            ))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    if drawn == 0 {
        let (t_mid, _) = ((t0 + t1) / 2.0, 0);
        chart.draw_series(std::iter::once(Text::new(
            "none at any sample".to_string(),
            (t_mid, y1 / 2.0),
            (FAMILY, 15).into_font().color(&RGBColor(90, 90, 90)),
        )))?;
        return Ok(());
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FAMILY, 13))
        .draw()
}

impl Figure for Detection {
    fn size(&self) -> (u32, u32) {
        (1000, 480)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        if self.per_crash.iter().all(Vec::is_empty) {
            return empty_state(
                root,
                "detection",
                "No member crashed in this run: nothing to detect",
            );
        }
        let (left, right) = root.split_horizontally(420);
        let (_, hi) = bounds(self.per_crash.iter().flatten().copied());
        let y1 = (hi * 1.1).max(1.0);
        let mut chart = ChartBuilder::on(&left)
            .caption("Detection latency per crash", (FAMILY, 17))
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(55)
            .build_cartesian_2d(-0.5f64..2.5f64, 0f64..y1)?;
        chart
            .configure_mesh()
            .x_labels(3)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 0.01 && (0.0..=2.0).contains(&i) {
                    LABELS[i as usize].to_string()
                } else {
                    String::new()
                }
            })
            .y_desc("seconds after the crash")
            .y_label_formatter(&|y| format::si(*y))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        for (k, values) in self.per_crash.iter().enumerate() {
            let c = color(k);
            let n = values.len().max(1) as f64;
            chart.draw_series(values.iter().enumerate().map(|(j, &v)| {
                let x = k as f64 + ((j as f64 + 0.5) / n - 0.5) * 0.5;
                Circle::new((x, v), 4, c.filled())
            }))?;
            if let Some(m) = median(values) {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(k as f64 - 0.35, m), (k as f64 + 0.35, m)],
                    BLACK.stroke_width(2),
                )))?;
                chart.draw_series(std::iter::once(Text::new(
                    format!("median {m:.1}s"),
                    (k as f64 - 0.35, m + y1 * 0.03),
                    (FAMILY, 12),
                )))?;
            }
        }
        if let Some(a) = self.analytic_first_suspect_s {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(-0.45, a), (0.45, a)],
                    RGBColor(200, 0, 0).stroke_width(2),
                )))?
                .label(format!("analytic mean {a:.1}s (periods out of phase)"))
                .legend(|(x, y)| {
                    PathElement::new(
                        vec![(x, y), (x + 18, y)],
                        RGBColor(200, 0, 0).stroke_width(2),
                    )
                });
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font((FAMILY, 12))
                .draw()?;
        }
        let cdfs = [
            ("observer holds it Suspect", &self.observer_suspect),
            ("observer holds it Confirmed", &self.observer_confirmed),
        ];
        let (_, hi) = bounds(cdfs.iter().flat_map(|(_, v)| v.iter().copied()));
        let x1 = if hi.is_finite() { hi * 1.05 } else { 1.0 }.max(1.0);
        let mut chart = ChartBuilder::on(&right)
            .caption("When each observer learned (all crashes)", (FAMILY, 17))
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(55)
            .build_cartesian_2d(0f64..x1, 0f64..1.02f64)?;
        chart
            .configure_mesh()
            .x_desc("seconds after the crash")
            .y_desc("share of (crash, observer) pairs")
            .x_label_formatter(&|x| format::si(*x))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        for (i, (name, values)) in cdfs.iter().enumerate() {
            let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
            if v.is_empty() {
                continue;
            }
            v.sort_by(f64::total_cmp);
            let n = v.len() as f64;
            let c = color(i);
            let mut pts = vec![(0.0, 0.0)];
            for (j, &x) in v.iter().enumerate() {
                pts.push((x, j as f64 / n));
                pts.push((x, (j + 1) as f64 / n));
            }
            chart
                .draw_series(LineSeries::new(pts, c.stroke_width(2)))?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FAMILY, 13))
            .draw()
    }
}

impl Figure for Rumors {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        if self.series.is_empty() {
            return empty_state(root, "rumors", &self.empty_reason);
        }
        let (t0, t1) = bounds(
            self.series
                .iter()
                .flat_map(|(_, p)| p.iter().map(|&(t, _)| t)),
        );
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Rumor coverage (share of live members holding it)",
                (FAMILY, 17),
            )
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(55)
            .build_cartesian_2d(t0..t1.max(t0 + 1.0), 0f64..1.05f64)?;
        chart
            .configure_mesh()
            .x_desc("virtual time")
            .y_desc("coverage")
            .x_label_formatter(&|x| format::time_tick(*x, t1 - t0))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        let many = self.series.len() > 8;
        for (i, (name, points)) in self.series.iter().enumerate() {
            let c = color(i);
            let s =
                chart.draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))?;
            if !many || i < 8 {
                s.label(name.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
            }
        }
        if !self.analytic.is_empty() {
            let red = RGBColor(200, 0, 0);
            chart
                .draw_series(DashedLineSeries::new(
                    self.analytic.iter().copied(),
                    6,
                    4,
                    red.stroke_width(2),
                ))?
                .label("infection-style (SWIM §4.1), first rumor")
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], red.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FAMILY, 13))
            .draw()
    }
}

impl Figure for Traffic<'_> {
    fn size(&self) -> (u32, u32) {
        (900, 620)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let t = self.series.column("time_s").unwrap_or_default();
        let live = self.series.column("live").unwrap_or_default();
        if t.len() < 2 {
            return empty_state(root, "traffic", "fewer than two samples: no rates to draw");
        }
        let rate = |col: &str| -> Option<Vec<(f64, f64)>> {
            let v = self.series.column(col)?;
            Some(
                (1..t.len())
                    .filter_map(|i| {
                        let dt = t[i] - t[i - 1];
                        let n = live[i].max(1.0);
                        (dt > 0.0).then(|| (t[i], (v[i] - v[i - 1]) / dt / n))
                    })
                    .collect(),
            )
        };
        let panels = root.split_evenly((2, 1));
        for (p, (unit, prefix)) in [("messages", "messages"), ("bytes", "bytes")]
            .iter()
            .enumerate()
        {
            let lines: Vec<(&str, Vec<(f64, f64)>)> = [
                ("all channels", format!("{prefix}_sent")),
                ("datagram (SWIM)", format!("datagram_{prefix}_sent")),
                (
                    "stream (rumors, push-pull)",
                    format!("stream_{prefix}_sent"),
                ),
            ]
            .into_iter()
            .filter_map(|(name, col)| rate(&col).map(|v| (name, v)))
            .collect();
            let (_, hi) = bounds(lines.iter().flat_map(|(_, v)| v.iter().map(|p| p.1)));
            let y1 = if hi.is_finite() && hi > 0.0 {
                hi * 1.1
            } else {
                1.0
            };
            let (t0, t1) = padded(t[0], t[t.len() - 1]);
            let mut chart = ChartBuilder::on(&panels[p])
                .caption(
                    format!("{} sent per live member per second", capitalize(unit)),
                    (FAMILY, 17),
                )
                .margin(8)
                .x_label_area_size(34)
                .y_label_area_size(70)
                .build_cartesian_2d(t0.max(0.0)..t1, 0f64..y1)?;
            chart
                .configure_mesh()
                .x_desc("virtual time")
                .y_desc(format!("{unit}/s per member"))
                .x_label_formatter(&|x| format::time_tick(*x, t1 - t0))
                .y_label_formatter(&|y| format::si(*y))
                .light_line_style(WHITE.mix(0.0))
                .draw()?;
            for (i, (name, v)) in lines.into_iter().enumerate() {
                let c = color(i);
                chart
                    .draw_series(LineSeries::new(v, c.stroke_width(2)))?
                    .label(name)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font((FAMILY, 13))
                .draw()?;
        }
        Ok(())
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// The median (nearest rank, like `summary.json`) of finite values.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let i = ((0.5 * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    Some(v[i])
}

/// Per (crash, observer): seconds from the crash to the observer's first view of the subject
/// in a health `accept`s, before the next crash of the same member. `events` need only hold
/// the crashed members' rows (see [`super::data::read_events`]), in file (time) order.
pub fn observer_latencies(
    events: &[ViewEvent],
    crashes: &[crate::metrics::Crash],
    accept: impl Fn(Health) -> bool,
) -> Vec<f64> {
    let mut by_subject: std::collections::BTreeMap<u32, Vec<&ViewEvent>> = Default::default();
    for e in events.iter().filter(|e| accept(e.to)) {
        by_subject.entry(e.subject).or_default().push(e);
    }
    let mut out = Vec::new();
    for (k, c) in crashes.iter().enumerate() {
        let t0 = c.at_ns as f64 / 1e9;
        let until = crashes[k + 1..]
            .iter()
            .find(|d| d.member == c.member)
            .map_or(f64::INFINITY, |d| d.at_ns as f64 / 1e9);
        let mut seen = std::collections::BTreeSet::new();
        for e in by_subject.get(&c.member).into_iter().flatten() {
            if e.time_s >= t0 && e.time_s < until && seen.insert(e.observer) {
                out.push(e.time_s - t0);
            }
        }
    }
    out
}

/// The infection-style curve for `members` members from `start_s`, sampled to `end_s`.
pub fn infection_curve(members: u32, period_s: f64, start_s: f64, end_s: f64) -> Vec<(f64, f64)> {
    let steps = 200;
    (0..=steps)
        .map(|i| {
            let t = start_s + (end_s - start_s) * i as f64 / steps as f64;
            (
                t,
                analytic::infected_fraction(members, (t - start_s) / period_s),
            )
        })
        .collect()
}
