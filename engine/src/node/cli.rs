//! The `engine-node` command line (clap derive; every option also from a `SWALLOWTAIL_…`
//! environment variable).
//!
//! Exit codes: 0 success; 1 failure (cannot start, gateway refused, …); 2 bad usage; 3 this
//! member was departed by an operator and refuses to rejoin with its id.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Exit code: this member was departed by an operator.
pub const EXIT_DEPARTED: u8 = 3;

/// swallowtail's production node: a gossip ring member on UDP/TCP with an HTTP gateway.
#[derive(Debug, Parser)]
#[command(name = "engine-node", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: CliCommand,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Run a ring member.
    Run(RunArgs),
    /// List the members a node knows, with their health.
    Members {
        /// Print the gateway's `/butterfly` JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Which node to ask.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Depart a member from the ring for good (it refuses to rejoin with its id).
    Depart {
        /// The member's id (32 hex digits).
        member_id: String,
        /// Which node to ask.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Service configs.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Service files.
    #[command(subcommand)]
    File(FileCommand),
    /// This node's service groups.
    #[command(subcommand)]
    Service(ServiceCommand),
}

/// `engine-node config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Apply a config (TOML) to a service group through the ring.
    Apply {
        /// `service.group`.
        group: String,
        /// The config's version; must be higher than the one in force.
        version: u64,
        /// The config file.
        file: PathBuf,
        /// Which node to ask.
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// `engine-node file …`
#[derive(Debug, Subcommand)]
pub enum FileCommand {
    /// Upload a file to a service group through the ring.
    Upload {
        /// `service.group`.
        group: String,
        /// The file's version; must be higher than the one in force.
        version: u64,
        /// The file.
        file: PathBuf,
        /// Which node to ask.
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// `engine-node service …`
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Announce that the node runs a service group.
    Announce {
        /// `service.group`.
        group: String,
        /// Which node to ask.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Withdraw the node's announcement of a service group.
    Withdraw {
        /// `service.group`.
        group: String,
        /// Which node to ask.
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// How a subcommand reaches a node's gateway.
#[derive(Clone, Debug, Args)]
pub struct ClientArgs {
    /// The node's gateway.
    #[arg(long, env = "SWALLOWTAIL_HTTP", default_value = "127.0.0.1:9631")]
    pub http: String,
    /// The node's data dir, to read the control secret from.
    #[arg(long, env = "SWALLOWTAIL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The control secret itself (instead of --data-dir).
    #[arg(long, env = "SWALLOWTAIL_CTL_SECRET", hide_env_values = true)]
    pub ctl_secret: Option<String>,
}

/// The protocol timing presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// Butterfly's timings (3.1 s periods, 9.3 s suspicion).
    Habitat,
    /// A data-centre LAN (1 s periods).
    Lan,
    /// One host or a test rig (0.5 s periods).
    Local,
}

impl Preset {
    /// The preset's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Habitat => "habitat",
            Preset::Lan => "lan",
            Preset::Local => "local",
        }
    }
}

/// `engine-node run`.
#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    /// UDP and TCP gossip address (one port for both, as Butterfly). Port 0 picks a free one.
    #[arg(long, env = "SWALLOWTAIL_LISTEN", default_value = "0.0.0.0:9638")]
    pub listen: SocketAddr,
    /// The IP address announced to the ring when --listen is a wildcard (default: the address
    /// that routes to the first peer, else 127.0.0.1).
    #[arg(long, env = "SWALLOWTAIL_ADVERTISE")]
    pub advertise: Option<IpAddr>,
    /// A member to join through, HOST:PORT or HOST (port 9638). Repeatable; the environment
    /// variable takes a comma-separated list.
    #[arg(long = "peer", env = "SWALLOWTAIL_PEER", value_delimiter = ',')]
    pub peers: Vec<String>,
    /// This member is persistent: probed in every state but Departed, so partitions re-merge
    /// through it.
    #[arg(long, env = "SWALLOWTAIL_PERMANENT_PEER")]
    pub permanent_peer: bool,
    /// Where the member id, incarnation, member view and control secret are kept.
    #[arg(long, env = "SWALLOWTAIL_DATA_DIR", default_value = "swallowtail-data")]
    pub data_dir: PathBuf,
    /// The HTTP gateway's address.
    #[arg(long, env = "SWALLOWTAIL_HTTP", default_value = "127.0.0.1:9631")]
    pub http: SocketAddr,
    /// Protocol timings.
    #[arg(
        long,
        env = "SWALLOWTAIL_PRESET",
        value_enum,
        default_value = "habitat"
    )]
    pub preset: Preset,
    /// A service group this member runs (`service.group`). Repeatable; the environment
    /// variable takes a comma-separated list.
    #[arg(long = "service", env = "SWALLOWTAIL_SERVICE", value_delimiter = ',')]
    pub services: Vec<String>,
    /// The ring key file (Habitat's SYM-SEC-1 format): encrypts all ring traffic.
    #[arg(long, env = "SWALLOWTAIL_RING_KEY")]
    pub ring_key: Option<PathBuf>,
    /// Log filter: a level (error, warn, info, debug, trace) or tracing directives.
    #[arg(long, env = "SWALLOWTAIL_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent_and_parses() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "engine-node",
            "run",
            "--listen",
            "127.0.0.1:7000",
            "--peer",
            "127.0.0.1:7001",
            "--peer",
            "host",
            "--permanent-peer",
            "--preset",
            "local",
            "--service",
            "redis.default",
        ])
        .expect("parses");
        let CliCommand::Run(a) = cli.command else {
            panic!("not run");
        };
        assert_eq!(a.peers, vec!["127.0.0.1:7001", "host"]);
        assert!(a.permanent_peer);
        assert_eq!(a.preset, Preset::Local);
        assert_eq!(a.http, "127.0.0.1:9631".parse().expect("addr"));
        assert!(Cli::try_parse_from(["engine-node", "config", "apply", "a.b", "x", "f"]).is_err());
    }
}
