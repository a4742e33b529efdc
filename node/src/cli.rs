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
        /// The operator's secret key (SIG-SEC-1, from `key generate-operator`) that signs the
        /// departure. Nodes started with --operator-key accept only departures signed by one
        /// of their keys.
        #[arg(long, env = "SWALLOWTAIL_OPERATOR_SECRET")]
        operator_secret: Option<PathBuf>,
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
    /// Ring keys, service and user key pairs: generate them (locally), and change a running
    /// node's ring keys (through its gateway).
    #[command(subcommand)]
    Key(KeyCommand),
}

/// `engine-node key …`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Write a new ring key `RING-<UTC %Y%m%d%H%M%S>.sym.key` (SYM-SEC-1, mode 0600).
    Generate {
        /// The ring's name.
        ring: String,
        /// Where to write it.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Write a service group's key pair: `GROUP-<rev>.pub` (BOX-PUB-1, give it to senders) and
    /// `GROUP-<rev>.box.key` (BOX-SEC-1, mode 0600, for the group's nodes: `--service-key`).
    GenerateService {
        /// `service.group`.
        group: String,
        /// Where to write them.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Write an operator's key pair: `NAME-<rev>.pub` (SIG-PUB-1, for the nodes:
    /// `--operator-key`) and `NAME-<rev>.sig.key` (SIG-SEC-1, mode 0600, for
    /// `depart --operator-secret`). Habitat origin keys have the same formats.
    GenerateOperator {
        /// The operator's name.
        name: String,
        /// Where to write them.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Write a user's key pair: `NAME-<rev>.pub` (for the nodes: `--user-public-key`) and
    /// `NAME-<rev>.box.key` (mode 0600, for `--user` of `config apply` / `file upload`).
    GenerateUser {
        /// The user's name.
        name: String,
        /// Where to write them.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// List a running node's ring keys (names only) and which one seals.
    List {
        /// Which node to ask.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Install a ring key on a running node, next to its keys (the primary is unchanged;
    /// a node without ring keys starts encrypting with it).
    Install {
        /// The ring key file.
        file: PathBuf,
        /// Which node to ask.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Make one of a running node's ring keys the one that seals.
    Use {
        /// The key's `NAME-REVISION`.
        name: String,
        /// Which node to ask.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Remove a ring key (not the primary) from a running node.
    Remove {
        /// The key's `NAME-REVISION`.
        name: String,
        /// Which node to ask.
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// How `config apply` and `file upload` seal their payload.
#[derive(Clone, Debug, Default, Args)]
pub struct SealArgs {
    /// Seal the payload to this service public key file (BOX-PUB-1); needs --user.
    #[arg(long, requires = "user")]
    pub encrypt_to: Option<PathBuf>,
    /// The sender's secret key file (BOX-SEC-1), with --encrypt-to.
    #[arg(long, requires = "encrypt_to")]
    pub user: Option<PathBuf>,
}

/// `engine-node config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Apply a config (TOML) to a service group through the ring.
    Apply(PayloadArgs),
}

/// `engine-node file …`
#[derive(Debug, Subcommand)]
pub enum FileCommand {
    /// Upload a file to a service group through the ring.
    Upload(PayloadArgs),
}

/// A versioned payload for a service group: a config to apply or a file to upload.
#[derive(Debug, Args)]
pub struct PayloadArgs {
    /// `service.group`.
    pub group: String,
    /// The version; must be higher than the one in force.
    pub version: u64,
    /// The config or file to send.
    pub file: PathBuf,
    /// Sealing.
    #[command(flatten)]
    pub seal: SealArgs,
    /// Which node to ask.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `engine-node service …`
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Announce that the node runs a service group.
    Announce {
        /// `service.group`.
        group: String,
        /// How the group is organized (`leader` starts or joins its leader election).
        #[arg(long, value_enum, default_value = "standalone")]
        topology: TopologyArg,
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

/// How a service group is organized (Habitat's `--topology`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum TopologyArg {
    /// Every member is alike.
    #[default]
    Standalone,
    /// One member leads: announcing the service starts (or joins) the leader election.
    Leader,
}

impl TopologyArg {
    /// The engine's topology.
    pub fn topology(self) -> engine::rumor::Topology {
        match self {
            TopologyArg::Standalone => engine::rumor::Topology::Standalone,
            TopologyArg::Leader => engine::rumor::Topology::Leader,
        }
    }

    /// `standalone` or `leader`.
    pub fn as_str(self) -> &'static str {
        match self {
            TopologyArg::Standalone => "standalone",
            TopologyArg::Leader => "leader",
        }
    }
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

/// Wire compatibility with other implementations (`--compat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompatArg {
    /// Share the ring with Chef Habitat Supervisors (Butterfly): see docs/habitat.md.
    Habitat,
}

/// `engine-node run`.
#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    /// Talk to a Habitat ring too: Butterfly's datagrams (at most 1,024 bytes, IPv4), rumors
    /// to Supervisors over ZeroMQ (ZMTP) on their gossip port, Butterfly's meaning of
    /// `from_id`, and no extension a Supervisor would mis-handle. Without it nothing changes.
    #[arg(long, env = "SWALLOWTAIL_COMPAT", value_enum)]
    pub compat: Option<CompatArg>,
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
    /// Bytes of inbound gossip frames held at once, before the engine has authenticated and
    /// handled them (default: 1.5 times the largest frame, at least 4 MiB).
    #[arg(long, env = "SWALLOWTAIL_INBOUND_FRAME_BUDGET")]
    pub inbound_frame_budget: Option<usize>,
    /// Inbound gossip connections at once from one IP address.
    #[arg(
        long,
        env = "SWALLOWTAIL_MAX_CONNECTIONS_PER_SOURCE",
        default_value_t = 32
    )]
    pub max_connections_per_source: usize,
    /// Where the member id, incarnation, member view, rumor store and control secret are kept.
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
    /// The topology of the `--service` groups (`leader`: they elect a leader).
    #[arg(
        long,
        env = "SWALLOWTAIL_TOPOLOGY",
        value_enum,
        default_value = "standalone"
    )]
    pub topology: TopologyArg,
    /// A ring key file (Habitat's SYM-SEC-1 format) or a directory of `*.sym.key` files:
    /// encrypts all ring traffic. Repeatable; the node opens with any key and seals with the
    /// newest (or --ring-key-primary). The environment variable takes a comma-separated list.
    #[arg(long = "ring-key", env = "SWALLOWTAIL_RING_KEY", value_delimiter = ',')]
    pub ring_keys: Vec<PathBuf>,
    /// An operator's public key (SIG-PUB-1, from `key generate-operator`): departures it
    /// signed are accepted. Repeatable; the environment variable takes a comma-separated list.
    /// Without one, every departure is refused unless --trust-unsigned-departures is given.
    #[arg(
        long = "operator-key",
        env = "SWALLOWTAIL_OPERATOR_KEY",
        value_delimiter = ','
    )]
    pub operator_keys: Vec<PathBuf>,
    /// Accept departures from anyone who can reach the gossip port, signed or not (Butterfly's
    /// behaviour: `hab sup depart` signs nothing). Not with --operator-key.
    #[arg(
        long,
        env = "SWALLOWTAIL_TRUST_UNSIGNED_DEPARTURES",
        conflicts_with = "operator_keys"
    )]
    pub trust_unsigned_departures: bool,
    /// The ring key that seals, `NAME-REVISION` (default: the newest).
    #[arg(long, env = "SWALLOWTAIL_RING_KEY_PRIMARY", requires = "ring_keys")]
    pub ring_key_primary: Option<String>,
    /// A service group's secret key file (BOX-SEC-1): configs and files sealed to it are
    /// opened and shown in this node's census. Repeatable.
    #[arg(
        long = "service-key",
        env = "SWALLOWTAIL_SERVICE_KEY",
        value_delimiter = ','
    )]
    pub service_keys: Vec<PathBuf>,
    /// A user's public key file (BOX-PUB-1) or a directory of `*.pub` files: the senders whose
    /// sealed configs and files this node accepts. Repeatable.
    #[arg(
        long = "user-public-key",
        env = "SWALLOWTAIL_USER_PUBLIC_KEY",
        value_delimiter = ','
    )]
    pub user_public_keys: Vec<PathBuf>,
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
