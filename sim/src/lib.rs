//! swallowtail's deterministic discrete-event simulator.
//!
//! A run drives thousands of [`engine::Engine`]s, one per virtual member, through a scripted
//! scenario over virtual time: partitions, loss, delay, crashes, restarts, pauses, late joins
//! and departures. Everything happens on one thread from one global event queue ordered by
//! (time, insertion sequence), and every random draw comes from a ChaCha stream derived from
//! the scenario seed, so a run is a pure function of (scenario, seed): the same pair gives
//! byte-identical `timeseries.csv` and `events.csv`.
//!
//! The pieces, in the order a run uses them:
//!
//! - [`scenario`] reads the TOML file (with [`overrides`] for `--set`), [`selector`] parses
//!   member selectors, and [`plan`] checks and resolves it all into a [`plan::Plan`];
//! - [`world`] runs the plan: the [`queue`], the members' engines, the [`network`] model
//!   (with [`zones`]), and the [`metrics`] kept incrementally from the engines' events
//!   (rumor [`coverage`] per version, [`traffic`] per channel and content, [`elections`]);
//! - [`expect`] judges the expectations, [`output`] writes the CSV files and `summary.json`;
//! - [`report`] draws the plots and `index.html` from them, [`sweep`] runs a scenario over a
//!   grid of parameter values and seeds, and [`analytic`] holds SWIM's formulas they overlay.
//!
//! [`run_file`] does all of it for the `sim run` command.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod analytic;
pub mod coverage;
pub mod elections;
pub mod expect;
pub mod metrics;
pub mod network;
pub mod output;
pub mod overrides;
pub mod plan;
pub mod progress;
pub mod queue;
pub mod report;
pub mod scenario;
pub mod seeds;
pub mod selector;
pub mod sweep;
pub mod traffic;
pub mod world;
pub mod zones;

use std::path::{Path, PathBuf};

pub use scenario::ScenarioError;
pub use world::{Report, RunError};

/// Why `sim run` could not produce a verdict (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The scenario file is invalid; the message is one line naming the file and the key.
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    /// The scenario file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The run failed (an output file could not be written).
    #[error("{0}")]
    Run(#[from] RunError),
}

/// Options of one `sim run`.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// The output directory (default `reports/<scenario name>/`).
    pub out: Option<PathBuf>,
    /// `KEY=VALUE` overrides of scenario keys by dotted path.
    pub sets: Vec<String>,
    /// Print progress lines to stderr.
    pub progress: bool,
}

/// Reads, checks and runs the scenario at `path`, writing its outputs.
pub fn run_file(path: &Path, options: &RunOptions) -> Result<Report, Error> {
    let plan = load(path, options)?;
    let out = options
        .out
        .clone()
        .unwrap_or_else(|| Path::new("reports").join(&plan.name));
    let report = world::run(&plan, &out, options.progress)?;
    let scenario_text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.display().to_string(),
        source,
    })?;
    let input = report::Input {
        scenario_path: path,
        scenario_text: &scenario_text,
        sets: &options.sets,
        plan: &plan,
        summary: &report.summary,
        crashes: &report.crashes,
    };
    report::write(&out, &input).map_err(|source| RunError::Io {
        path: out.display().to_string(),
        source,
    })?;
    Ok(report)
}

/// Reads and checks the scenario at `path` (with `options.sets` and `options.seed` applied).
pub fn load(path: &Path, options: &RunOptions) -> Result<plan::Plan, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.display().to_string(),
        source,
    })?;
    let scenario = scenario::parse(path, &text, &options.sets)?;
    Ok(plan::compile(
        &path.display().to_string(),
        &scenario,
        options.seed,
    )?)
}
