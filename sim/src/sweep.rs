//! `sim sweep FILE [--out DIR]`: one base scenario run over a grid of parameter values and
//! seeds, in parallel, summarised in `sweep.csv` and plotted against the parameter.
//!
//! ```toml
//! base = "../partition_heal.toml"   # relative to the sweep file
//! seeds = 3                         # seeds 1..=3 for every point (first_seed moves the start)
//! [[vary]]
//! key = "members"                   # any key `--set` accepts
//! values = [100, 200, 500]
//! ```
//!
//! Optional keys: `name` (default: the file's stem; the default output directory is
//! `reports/<name>/`), `first_seed` (default 1), `set` (a list of `KEY=VALUE` overrides applied
//! to every run). One or two `[[vary]]` tables; with two, the plots draw one line per value of
//! the second key.
//!
//! Every (point, seed) is one independent, single-threaded, deterministic run; they are spread
//! over `available_parallelism` worker threads. Each writes its CSV files into
//! `DIR/runs/<point>/seed-<seed>/` with its own page (`index.html` and plots, as `sim run`
//! writes them); `DIR/sweep.csv` has one row per run, in grid order, whatever order the runs
//! finished in; `DIR/index.html` shows the figures and links every run's page.

mod figures;

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Deserialize;

use crate::{analytic, RunOptions};

/// A sweep file as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    /// The base scenario, relative to the sweep file.
    pub base: String,
    /// Seeds per point.
    pub seeds: u32,
    /// Names the sweep (default: the file's stem).
    #[serde(default)]
    pub name: Option<String>,
    /// The first seed (default 1).
    #[serde(default)]
    pub first_seed: Option<u64>,
    /// `KEY=VALUE` overrides applied to every run.
    #[serde(default)]
    pub set: Vec<String>,
    /// The parameters: one or two.
    pub vary: Vec<Vary>,
}

/// One `[[vary]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vary {
    /// A key `--set` accepts.
    pub key: String,
    /// Its values.
    pub values: Vec<toml::Value>,
}

/// A sweep file that cannot be run: one line naming the file and the key (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{file}: {key}: {message}")]
pub struct SweepError {
    /// The sweep file.
    pub file: String,
    /// The key at fault (`vary[1].values`, `base`, …).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// Why a sweep stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The sweep file (or its base scenario with a point's values) is invalid.
    #[error("{0}")]
    File(#[from] SweepError),
    /// The base scenario is invalid for one point.
    #[error("{0}")]
    Scenario(#[from] crate::Error),
    /// An output could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
}

/// One run of the grid.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// (key, value as written for `--set`), one per vary key.
    pub point: Vec<(String, String)>,
    /// The seed.
    pub seed: u64,
}

/// The result of one run: its figures by column name.
#[derive(Clone, Debug)]
pub struct RunRow {
    /// The run.
    pub spec: RunSpec,
    /// (column, value); numbers as text, empty for none.
    pub cells: Vec<(String, String)>,
}

/// What a finished sweep produced.
#[derive(Debug)]
pub struct Outcome {
    /// The output directory.
    pub dir: PathBuf,
    /// One row per run, in grid order.
    pub rows: Vec<RunRow>,
    /// Runs whose expectations did not all hold.
    pub failed_runs: usize,
}

/// Reads a sweep file.
pub fn parse(path: &Path) -> Result<SweepFile, SweepError> {
    let file = path.display().to_string();
    let err = |key: &str, message: String| SweepError {
        file: file.clone(),
        key: key.to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err("", e.to_string()))?;
    let de = toml::Deserializer::new(&text);
    let sweep: SweepFile = serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let message = e.inner().message().replace('\n', " ");
        err(
            if key == "." { "" } else { &key },
            message.trim().to_string(),
        )
    })?;
    if sweep.seeds == 0 {
        return Err(err("seeds", "must be at least 1".into()));
    }
    if sweep.vary.is_empty() || sweep.vary.len() > 2 {
        return Err(err("vary", "give one or two [[vary]] tables".into()));
    }
    for (i, v) in sweep.vary.iter().enumerate() {
        if v.key.trim().is_empty() {
            return Err(err(&format!("vary[{i}].key"), "must not be empty".into()));
        }
        if v.values.is_empty() {
            return Err(err(
                &format!("vary[{i}].values"),
                "must not be empty".into(),
            ));
        }
    }
    Ok(sweep)
}

/// Runs the sweep at `path`, writing into `out` (default `reports/<name>/`).
pub fn run(path: &Path, out: Option<&Path>, progress: bool) -> Result<Outcome, Error> {
    let sweep = parse(path)?;
    let name = sweep.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map_or("sweep".into(), |s| s.to_string_lossy().into_owned())
    });
    let dir = out.map_or_else(|| Path::new("reports").join(&name), Path::to_path_buf);
    let base = path.parent().unwrap_or(Path::new(".")).join(&sweep.base);
    if !base.is_file() {
        return Err(SweepError {
            file: path.display().to_string(),
            key: "base".into(),
            message: format!("{} is not a file", base.display()),
        }
        .into());
    }
    let specs = grid(&sweep);
    // Check every point before running any (a bad value fails fast, naming its key).
    let mut plans = Vec::with_capacity(specs.len());
    for spec in &specs {
        let options = options_for(&sweep, spec);
        let plan = crate::load(&base, &options).map_err(|e| SweepError {
            file: path.display().to_string(),
            key: format!("vary ({})", point_label(&spec.point)),
            message: e.to_string(),
        })?;
        plans.push(plan);
    }
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let base_text = std::fs::read_to_string(&base).map_err(io(&base))?;

    let bar = Progress::new(specs.len(), progress);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<RunRow, Error>>>> =
        Mutex::new((0..specs.len()).map(|_| None).collect());
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(specs.len())
        .max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(spec) = specs.get(k) else {
                    break;
                };
                let run_dir = dir
                    .join("runs")
                    .join(path_safe(&point_label(&spec.point)))
                    .join(format!("seed-{}", spec.seed));
                let sets = options_for(&sweep, spec).sets;
                let page = PageInput {
                    base: &base,
                    text: &base_text,
                    sets: &sets,
                };
                let result = run_one(&plans[k], spec, &run_dir, &page);
                let line = match &result {
                    Ok(row) => format!(
                        "{} seed {}: {}",
                        point_label(&spec.point),
                        spec.seed,
                        cell(row, "passed").unwrap_or("?")
                    ),
                    Err(e) => format!("{} seed {}: {e}", point_label(&spec.point), spec.seed),
                };
                if let Ok(mut r) = results.lock() {
                    r[k] = Some(result);
                }
                bar.tick(&line);
            });
        }
    });
    bar.finish();
    let mut rows = Vec::with_capacity(specs.len());
    let results = results.into_inner().unwrap_or_default();
    for r in results.into_iter().flatten() {
        rows.push(r?);
    }
    let failed_runs = rows
        .iter()
        .filter(|r| cell(r, "passed") != Some("true"))
        .count();
    let csv_path = dir.join("sweep.csv");
    write_csv(&csv_path, &sweep, &rows).map_err(io(&csv_path))?;
    let text = std::fs::read_to_string(path).unwrap_or_default();
    figures::write(&dir, &name, &text, &sweep, &plans[0], &rows).map_err(io(&dir))?;
    Ok(Outcome {
        dir,
        rows,
        failed_runs,
    })
}

/// Every (point, seed) of the grid, first key outermost.
pub fn grid(sweep: &SweepFile) -> Vec<RunSpec> {
    let first = sweep.first_seed.unwrap_or(1);
    let mut points: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for v in &sweep.vary {
        let mut next = Vec::new();
        for p in &points {
            for value in &v.values {
                let mut q = p.clone();
                q.push((v.key.trim().to_string(), set_value(value)));
                next.push(q);
            }
        }
        points = next;
    }
    points
        .into_iter()
        .flat_map(|point| {
            (0..u64::from(sweep.seeds)).map(move |s| RunSpec {
                point: point.clone(),
                seed: first + s,
            })
        })
        .collect()
}

/// A TOML value as `--set` reads it back (strings bare, everything else as TOML).
fn set_value(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn options_for(sweep: &SweepFile, spec: &RunSpec) -> RunOptions {
    let mut sets = sweep.set.clone();
    sets.extend(spec.point.iter().map(|(k, v)| format!("{k}={v}")));
    RunOptions {
        seed: Some(spec.seed),
        out: None,
        sets,
        progress: false,
    }
}

/// `members=500,network.loss_probability=0.1`.
pub fn point_label(point: &[(String, String)]) -> String {
    point
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn path_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._=,-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn cell<'r>(row: &'r RunRow, column: &str) -> Option<&'r str> {
    row.cells
        .iter()
        .find(|(c, _)| c == column)
        .map(|(_, v)| v.as_str())
}

/// What a run's own page needs besides the run: the base scenario and the run's overrides.
struct PageInput<'a> {
    base: &'a Path,
    text: &'a str,
    sets: &'a [String],
}

/// Runs one point, writes its page (`index.html` and plots, as `sim run` does) and collects
/// its figures.
fn run_one(
    plan: &crate::plan::Plan,
    spec: &RunSpec,
    dir: &Path,
    page: &PageInput<'_>,
) -> Result<RunRow, Error> {
    let report = crate::world::run(plan, dir, false).map_err(|e| Error::Scenario(e.into()))?;
    let input = crate::report::Input {
        scenario_path: page.base,
        scenario_text: page.text,
        sets: page.sets,
        plan,
        summary: &report.summary,
        crashes: &report.crashes,
    };
    crate::report::write(dir, &input).map_err(|source| Error::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let s = &report.summary;
    let mut cells: Vec<(String, String)> = vec![("passed".into(), s.passed.to_string())];
    if let Ok(v) = serde_json::to_value(s) {
        flatten_json("", &v, &mut cells);
    }
    // Derived figures.
    let period_s = plan.config.protocol_period.as_secs_f64();
    let timeouts_s = (plan.config.ping_timeout + plan.config.pingreq_timeout).as_secs_f64();
    let live = f64::from(s.end.live.max(1));
    let seconds = s.virtual_seconds.max(1e-9);
    let crashed: BTreeSet<u32> = report.crashes.iter().map(|c| c.member).collect();
    let episodes =
        suspicion_episodes(&dir.join("events.csv"), &crashed).map_err(|source| Error::Io {
            path: dir.join("events.csv").display().to_string(),
            source,
        })?;
    let probes = live * seconds / period_s;
    // The heal: how long after the last `converged` window opened every view was whole.
    let heal_s = s
        .expectations
        .iter()
        .rev()
        .find(|o| o.kind == "converged")
        .and_then(|o| o.met_after_s)
        .unwrap_or(f64::NAN);
    let n = f64::from(plan.members);
    let k = u32::try_from(plan.config.pingreq_fanout).unwrap_or(u32::MAX);
    let derived = [
        (
            "messages_per_member_per_s",
            s.messages_sent as f64 / live / seconds,
        ),
        (
            "bytes_per_member_per_s",
            s.bytes_sent as f64 / live / seconds,
        ),
        ("false_suspicion_episodes", episodes as f64),
        ("heal_s", heal_s),
        // Growth references for the cost of a mass change, drawn through the largest
        // measured ring: push-only's n² log n and the lower bound's n².
        ("reference_n2logn", n * n * n.log10()),
        ("reference_n2", n * n),
        ("probes_estimate", probes),
        (
            "false_suspicions_per_probe",
            episodes as f64 / probes.max(1.0),
        ),
        (
            "analytic_first_suspect_mean_s",
            analytic::first_suspect_mean_s(plan.members, period_s, timeouts_s),
        ),
        (
            "analytic_first_suspect_median_s",
            analytic::first_suspect_median_s(plan.members, period_s, timeouts_s),
        ),
        (
            "analytic_swim_first_detection_s",
            analytic::first_detection_periods(plan.members) * period_s,
        ),
        (
            "analytic_false_suspicions_per_probe",
            analytic::false_suspicion_per_probe(plan.network.loss_probability, k),
        ),
    ];
    for (k, v) in derived {
        cells.push((k.to_string(), format!("{v:.9}")));
    }
    Ok(RunRow {
        spec: spec.clone(),
        cells,
    })
}

fn flatten_json(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_json(&key, v, out);
            }
        }
        serde_json::Value::Number(n) => out.push((prefix.to_string(), n.to_string())),
        serde_json::Value::Null => out.push((prefix.to_string(), String::new())),
        _ => {}
    }
}

/// Distinct (subject, incarnation) pairs that some observer held Suspect, for subjects that
/// never crashed: each is one false suspicion (several probers suspecting the same
/// incarnation before it refutes count once).
fn suspicion_episodes(events: &Path, crashed: &BTreeSet<u32>) -> std::io::Result<u64> {
    let mut set: BTreeSet<(u32, u64)> = BTreeSet::new();
    crate::report::data::each_event(events, |e| {
        if e.to == engine::member::Health::Suspect && !crashed.contains(&e.subject) {
            set.insert((e.subject, e.incarnation));
        }
    })?;
    Ok(set.len() as u64)
}

fn write_csv(path: &Path, sweep: &SweepFile, rows: &[RunRow]) -> std::io::Result<()> {
    let mut columns: Vec<String> = Vec::new();
    for r in rows {
        for (c, _) in &r.cells {
            if !columns.contains(c) {
                columns.push(c.clone());
            }
        }
    }
    let mut w = csv::Writer::from_path(path)?;
    let mut header: Vec<String> = sweep
        .vary
        .iter()
        .map(|v| v.key.trim().to_string())
        .collect();
    header.push("seed".into());
    header.extend(columns.iter().cloned());
    w.write_record(&header)?;
    for r in rows {
        let mut record: Vec<String> = r.spec.point.iter().map(|(_, v)| v.clone()).collect();
        record.push(r.spec.seed.to_string());
        for c in &columns {
            record.push(cell(r, c).unwrap_or("").to_string());
        }
        w.write_record(&record)?;
    }
    w.flush()
}

/// Progress of the sweep: a bar on a terminal, plain lines otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: usize,
    done: AtomicUsize,
    enabled: bool,
}

impl Progress {
    fn new(total: usize, enabled: bool) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "sim sweep [{elapsed_precise}] {bar:40} {pos}/{len} runs (eta {eta}) {msg}",
            ) {
                bar.set_style(style);
            }
            bar
        });
        Progress {
            bar,
            total,
            done: AtomicUsize::new(0),
            enabled,
        }
    }

    fn tick(&self, line: &str) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        match &self.bar {
            Some(bar) => {
                bar.set_message(line.to_string());
                bar.inc(1);
            }
            None if self.enabled => {
                eprintln!("sim sweep: {done}/{} runs done ({line})", self.total)
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
