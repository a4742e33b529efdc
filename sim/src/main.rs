//! `sim`: run a scenario file through the deterministic simulator.
//!
//! ```text
//! sim run FILE [--seed N] [--out DIR] [--set KEY=VALUE]...
//! sim sweep FILE [--out DIR]
//! ```
//!
//! Exit status: 0 when every expectation holds, 1 when one fails, 2 when the scenario is
//! invalid or a file cannot be read or written (with one line on stderr naming the file and
//! the key).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// jemalloc instead of the system allocator: a run allocates and frees millions of small
/// decoded records and datagrams, the pattern jemalloc's size-class caches serve best. Results
/// do not depend on it: same seed, same bytes.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// swallowtail's deterministic gossip-ring simulator.
#[derive(Debug, Parser)]
#[command(name = "sim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario and write timeseries.csv, events.csv, summary.json, the plots and
    /// index.html.
    Run {
        /// The scenario file (TOML).
        file: PathBuf,
        /// Use this seed instead of the scenario's.
        #[arg(long)]
        seed: Option<u64>,
        /// Output directory (default: reports/<scenario name>/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override a scenario key by dotted path, e.g. members=2000 or
        /// protocol.suspicion_timeout=5s (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// No progress lines on stderr.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Run a base scenario over a grid of parameter values and seeds (a sweep file), in
    /// parallel; write sweep.csv, one plot per figure and index.html.
    Sweep {
        /// The sweep file (TOML: base, seeds, [[vary]] key and values).
        file: PathBuf,
        /// Output directory (default: reports/<sweep name>/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// No progress on stderr.
        #[arg(long, short)]
        quiet: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Sweep { file, out, quiet } => match sim::sweep::run(&file, out.as_deref(), !quiet)
        {
            Ok(outcome) => {
                eprintln!(
                    "sim: sweep wrote {} ({} runs, {} with a failed expectation)",
                    outcome.dir.join("sweep.csv").display(),
                    outcome.rows.len(),
                    outcome.failed_runs
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("sim: error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Run {
            file,
            seed,
            out,
            sets,
            quiet,
        } => {
            let reproduce_sets: String = sets.iter().map(|set| format!(" --set '{set}'")).collect();
            let options = sim::RunOptions {
                seed,
                out,
                sets,
                progress: !quiet,
            };
            match sim::run_file(&file, &options) {
                Ok(report) => {
                    let s = &report.summary;
                    for e in &s.expectations {
                        let verdict = if e.passed { "ok" } else { "FAILED" };
                        eprintln!("sim: expect {} {verdict}: {}", e.kind, e.detail);
                    }
                    eprintln!(
                        "sim: {} {} (seed {}, {} members, {:.0}s virtual in {:.2}s wall)",
                        s.name,
                        if s.passed { "passed" } else { "FAILED" },
                        s.seed,
                        s.members,
                        s.virtual_seconds,
                        s.wall_seconds
                    );
                    if s.passed {
                        ExitCode::SUCCESS
                    } else {
                        eprintln!(
                            "sim: reproduce with: sim run {} --seed {}{reproduce_sets}",
                            file.display(),
                            s.seed
                        );
                        ExitCode::from(1)
                    }
                }
                Err(e) => {
                    eprintln!("sim: error: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}
