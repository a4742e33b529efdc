//! `engine-node`: swallowtail's production node. See `engine-node --help` and the `node`
//! module of the `engine` crate.

use std::process::ExitCode;

use clap::Parser;
use engine::node::cli::{Cli, CliCommand, EXIT_DEPARTED};
use engine::node::driver::Stopped;
use engine::node::run::{self, StartError};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        CliCommand::Run(args) => {
            let filter = EnvFilter::try_new(&args.log_level).unwrap_or_else(|e| {
                eprintln!("bad --log-level {:?} ({e}); using info", args.log_level);
                EnvFilter::new("info")
            });
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(ansi)
                .with_writer(std::io::stderr)
                .init();
            match run::run(args) {
                Ok(Stopped::Shutdown) => ExitCode::SUCCESS,
                Ok(Stopped::DepartedByOperator) => {
                    eprintln!(
                        "error: this member was departed from the ring by an operator; it has \
                         stopped and will refuse to rejoin with this data dir (start with a new, \
                         empty --data-dir to join as a new member)"
                    );
                    ExitCode::from(EXIT_DEPARTED)
                }
                Err(e @ StartError::DepartedByOperator(_)) => {
                    tracing::error!("{e}");
                    eprintln!("error: {e}");
                    ExitCode::from(EXIT_DEPARTED)
                }
                Err(e) => {
                    tracing::error!("{e}");
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        command => match smol::block_on(engine::node::client::execute(command)) {
            Ok(out) => {
                println!("{out}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
