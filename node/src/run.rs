//! `engine-node run`: opens the data dir, binds the sockets, builds the engine and runs the
//! driver with its feeders (gossip listener, HTTP gateway, signal handler).

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, ToSocketAddrs, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use smol::stream::StreamExt;
use smol::Async;

use super::cli::{CompatArg, RunArgs};
use super::clock::ProcessClock;
use super::control::Command;
use super::driver::{Driver, Input, NodeEngine, ServiceDefaults, Setup, Stopped};
use super::fds;
use super::gateway;
use super::persist::{DataDir, Loaded, RUMORS_FILE};
use super::sealed::ServiceKeys;
use super::secret::Secret;
use super::transport::inbound::{self, FrameBudget, InboundConfig, InboundView};
use super::transport::pool::{PoolConfig, StreamPool};
use super::transport::{QueuedNetwork, TransportStats};
use crate::key_files::{load_keyring, read_operator_public_key};
use engine::config::Config;
use engine::crypto::{KeyName, Keyring, OperatorPublicKey};
use engine::engine::Engine;
use engine::id::{Incarnation, MemberId};
use engine::member::Member;
use engine::rumor::ServiceGroup;

/// The default gossip port (Butterfly's).
pub const DEFAULT_PORT: u16 = 9638;
/// Inputs (stream frames, control commands) waiting for the driver; beyond this stream
/// frames are dropped and counted.
pub const INPUT_QUEUE: usize = 1024;

/// Why the node could not start. Nothing was changed in the ring; the data dir may have
/// gained a member id and control secret.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// An operator departed this member; it keeps out of the ring.
    #[error(
        "member {0} was departed from the ring by an operator and may not rejoin with this id; \
         start with a new (empty) --data-dir to join as a new member"
    )]
    DepartedByOperator(MemberId),
    /// A ring key, service key or user key file is unreadable or invalid, or the keys do not
    /// form a keyring.
    #[error("bad keys: {0}")]
    BadKeys(String),
    /// A peer address does not resolve.
    #[error("bad --peer {0}: {1}")]
    BadPeer(String, String),
    /// The protocol config is invalid.
    #[error("{0}")]
    Config(String),
    /// A socket, the data dir or the secret failed.
    #[error("{0}: {1}")]
    Io(String, io::Error),
}

/// Runs a node until SIGINT/SIGTERM (or an operator departs it).
pub fn run(args: RunArgs) -> Result<Stopped, StartError> {
    let keyring = load_ring_keys(&args)?;
    let service_keys = ServiceKeys::load(&args.service_keys, &args.user_public_keys)
        .map_err(|e| StartError::BadKeys(e.to_string()))?;
    let services = parse_services(&args.services)?;
    let mut config = Config::preset(args.preset.as_str())
        .ok_or_else(|| StartError::Config(format!("unknown preset {}", args.preset.as_str())))?;
    let compat = args.compat == Some(CompatArg::Habitat);
    if compat {
        if !args.listen.is_ipv4() {
            return Err(StartError::Config(
                "--compat habitat needs an IPv4 --listen address (Butterfly parses IPv4 only)"
                    .into(),
            ));
        }
        config.compat = engine::config::Compat::Habitat;
        config.max_datagram_size = config.max_datagram_size.min(1024);
    }

    let data = DataDir::open(&args.data_dir).map_err(io_err(format!(
        "cannot open the data dir {}",
        args.data_dir.display()
    )))?;
    let mut loaded = data.load();
    let (member_id, incarnation) = identity(&data, &loaded)?;
    let secret =
        Secret::load_or_create(&data).map_err(io_err("cannot create the control secret".into()))?;

    let peers = resolve_peers(&args.peers)?;
    let (udp, tcp) =
        bind_gossip(args.listen).map_err(io_err(format!("cannot listen on {}", args.listen)))?;
    let port = udp.local_addr().map_err(io_err("udp".into()))?.port();
    let http = TcpListener::bind(args.http)
        .map_err(io_err(format!("cannot serve HTTP on {}", args.http)))?;
    let ip = advertise_ip(args.listen.ip(), args.advertise, &peers);
    if compat && !ip.is_ipv4() {
        return Err(StartError::Config(format!(
            "--compat habitat needs an IPv4 address to announce, not {ip} (Butterfly parses IPv4 only)"
        )));
    }
    let me = Member {
        id: member_id,
        incarnation,
        addr: SocketAddr::new(ip, port),
        gossip_port: port,
        persistent: args.permanent_peer,
        departed: false,
    };
    let max_frame = config.max_stream_frame_size;
    if args.inbound_frame_budget.is_some_and(|b| b < max_frame) {
        return Err(StartError::Config(format!(
            "--inbound-frame-budget must hold at least one frame of the largest size ({max_frame} bytes)"
        )));
    }
    let mut engine = new_engine(config, me)?;
    let restored = loaded.members.len();
    if let Some(ring) = &keyring {
        let names: Vec<String> = ring.keys().iter().map(|k| k.name().to_string()).collect();
        tracing::info!(keys = ?names, primary = %ring.primary().name(), "ring encryption on");
    }
    engine.set_ring_keys(keyring);
    engine.set_operator_keys(operator_keys(&args)?);
    restore_rumors(&mut engine, loaded.rumors.as_deref(), &data, incarnation)?;
    engine.insert_members(std::mem::take(&mut loaded.members));
    engine.join(&peers);
    let service_defaults = ServiceDefaults::new(compat, me.addr, args.http);
    announce(&mut engine, &services, &args, &service_defaults);
    if !service_keys.is_empty() {
        tracing::info!(keys = ?service_keys.names(), "opening configs and files sealed to these service keys");
    }
    tracing::info!(
        member_id = %member_id, %incarnation, gossip = %me.addr, listen = %args.listen,
        http = %args.http, preset = args.preset.as_str(), restored_members = restored,
        peers = ?peers, data_dir = %data.path().display(), "engine-node started"
    );
    let setup = Setup {
        data,
        preset: args.preset.as_str().to_owned(),
        services: services.iter().map(ToString::to_string).collect(),
        service_keys: Arc::new(service_keys),
        service_defaults,
    };
    let shares = fds::raise_and_share();
    let mut inbound = InboundConfig::new(max_frame, shares.inbound);
    inbound.max_per_source = args.max_connections_per_source.max(1);
    if let Some(budget) = args.inbound_frame_budget {
        inbound.frame_budget = budget;
    }
    serve(engine, (udp, tcp, http), inbound, shares, secret, setup)
}

/// Maps an I/O error to a [`StartError::Io`] saying what failed.
fn io_err(what: String) -> impl FnOnce(io::Error) -> StartError {
    move |e| StartError::Io(what, e)
}

/// The `--service` groups.
fn parse_services(groups: &[String]) -> Result<Vec<ServiceGroup>, StartError> {
    groups
        .iter()
        .map(|g| {
            g.trim()
                .parse::<ServiceGroup>()
                .map_err(|e| StartError::Config(format!("bad --service {g:?}: {e}")))
        })
        .collect()
}

/// This member's id (made and saved on first start) and the incarnation to start with (one
/// past the saved one), saved before anything is sent. A member an operator departed stops
/// here.
fn identity(data: &DataDir, loaded: &Loaded) -> Result<(MemberId, Incarnation), StartError> {
    let member_id = match loaded.member_id {
        Some(id) => id,
        None => {
            let mut bytes = [0u8; 16];
            getrandom::getrandom(&mut bytes)
                .map_err(|e| StartError::Io("cannot get randomness".into(), io::Error::other(e)))?;
            let id = MemberId::from_u128(u128::from_le_bytes(bytes));
            data.save_member_id(id)
                .map_err(io_err("cannot save member.json".into()))?;
            id
        }
    };
    let incarnation = match (&loaded.state, loaded.member_id) {
        (Some(s), _) if s.departed_by_operator => {
            return Err(StartError::DepartedByOperator(member_id))
        }
        (Some(s), _) => Incarnation(s.incarnation.saturating_add(1)),
        (None, Some(_)) => {
            // The id is known but its incarnation was lost: anything the ring holds about us
            // is older than now, so the clock's seconds outrank it.
            let secs = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_secs());
            tracing::warn!(
                incarnation = secs,
                "no saved incarnation; starting from the wall clock"
            );
            Incarnation(secs)
        }
        (None, None) => Incarnation(0),
    };
    data.save_state(incarnation, false)
        .map_err(io_err("cannot save state.json".into()))?;
    Ok((member_id, incarnation))
}

/// The engine, seeded from the OS's generator.
fn new_engine(config: Config, me: Member) -> Result<NodeEngine, StartError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed)
        .map_err(|e| StartError::Io("cannot get randomness".into(), io::Error::other(e)))?;
    Engine::new(
        config,
        me,
        seed,
        ProcessClock::new(),
        QueuedNetwork::default(),
    )
    .map_err(|e| StartError::Config(e.to_string()))
}

/// Restores the saved rumor store through the merge rules; a file that does not decode is
/// moved aside. A store that holds our own departure stops the start.
fn restore_rumors(
    engine: &mut NodeEngine,
    bytes: Option<&[u8]>,
    data: &DataDir,
    incarnation: Incarnation,
) -> Result<(), StartError> {
    let Some(bytes) = bytes else {
        return Ok(());
    };
    match engine.import_rumors(bytes) {
        Ok(r) => tracing::info!(
            applied = r.applied,
            unchanged = r.unchanged,
            skipped = r.skipped,
            "rumor store restored"
        ),
        Err(e) => data.move_aside(RUMORS_FILE, &format!("{e}")),
    }
    if engine.departed_by_operator() {
        let _ = data.save_state(incarnation, true);
        return Err(StartError::DepartedByOperator(engine.id()));
    }
    Ok(())
}

/// Announces the `--service` groups.
fn announce(
    engine: &mut NodeEngine,
    services: &[ServiceGroup],
    args: &RunArgs,
    defaults: &ServiceDefaults,
) {
    for group in services {
        let spec = defaults.spec(args.topology.topology());
        match engine.announce_service(group.clone(), spec) {
            Ok(inc) => tracing::info!(%group, incarnation = %inc, "service announced"),
            Err(e) => tracing::error!(%group, error = %e, "cannot announce the service"),
        }
    }
}

/// Starts the feeders (gossip listener, HTTP gateway, signal handler) and runs the driver until
/// it stops.
fn serve(
    engine: NodeEngine,
    (udp, tcp, http): (UdpSocket, TcpListener, TcpListener),
    inbound_config: InboundConfig,
    shares: fds::Shares,
    secret: Secret,
    setup: Setup,
) -> Result<Stopped, StartError> {
    let stats = Arc::new(TransportStats::default());
    let (input_tx, input_rx) = smol::channel::bounded(INPUT_QUEUE);
    let udp = Arc::new(Async::new(udp).map_err(io_err("udp".into()))?);
    let tcp = smol::net::TcpListener::try_from(tcp).map_err(io_err("tcp".into()))?;
    let http = smol::net::TcpListener::try_from(http).map_err(io_err("http".into()))?;
    let budget = FrameBudget::new(inbound_config.frame_budget);
    tracing::info!(
        fd_limit = shares.limit,
        inbound = shares.inbound,
        outbound = shares.outbound,
        frame_budget = inbound_config.frame_budget,
        "connection limits"
    );
    let mut signals =
        async_signal::Signals::new([async_signal::Signal::Term, async_signal::Signal::Int])
            .map_err(io_err("cannot handle signals".into()))?;
    let _listener = smol::spawn(inbound::serve(
        tcp,
        inbound_config,
        budget.clone(),
        input_tx.clone(),
        stats.clone(),
    ));
    let _gateway = smol::spawn(gateway::serve(http, input_tx.clone(), secret));
    let shutdown_tx = input_tx;
    let _signals = smol::spawn(async move {
        if let Some(Ok(sig)) = signals.next().await {
            tracing::info!(signal = ?sig, "shutting down");
            let _ = shutdown_tx.send(Input::Control(Command::Shutdown)).await;
        }
        // A second signal while departing: stop at once.
        if signals.next().await.is_some() {
            std::process::exit(130);
        }
    });
    let pool_config = PoolConfig {
        max_peers: shares.outbound,
        ..PoolConfig::default()
    };
    let pool = StreamPool::new(pool_config, stats.clone());
    let inbound = InboundView {
        budget,
        max_connections: shares.inbound,
    };
    let driver = Driver::new(engine, udp, input_rx, pool, stats, setup, inbound);
    Ok(smol::block_on(driver.run()))
}

/// Whose departures the node takes: with `--trust-unsigned-departures` anyone's; otherwise
/// only those signed by an `--operator-key` (none given: no departure at all).
fn operator_keys(args: &RunArgs) -> Result<Option<Vec<OperatorPublicKey>>, StartError> {
    if args.trust_unsigned_departures {
        tracing::warn!(
            "departures are taken from anyone who can reach the gossip port \
             (--trust-unsigned-departures)"
        );
        return Ok(None);
    }
    let keys = args
        .operator_keys
        .iter()
        .map(|p| read_operator_public_key(p).map_err(|e| StartError::BadKeys(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    if keys.is_empty() {
        tracing::info!(
            "no --operator-key: departures are refused (give operators' keys to depart members)"
        );
    } else {
        let names: Vec<String> = keys.iter().map(|k| k.name().to_string()).collect();
        tracing::info!(keys = ?names, "departures must be signed by one of these operator keys");
    }
    Ok(Some(keys))
}

/// The keyring from `--ring-key` (files or directories), with `--ring-key-primary` sealing.
fn load_ring_keys(args: &RunArgs) -> Result<Option<Keyring>, StartError> {
    if args.ring_keys.is_empty() {
        return Ok(None);
    }
    let ring = load_keyring(&args.ring_keys).map_err(|e| StartError::BadKeys(e.to_string()))?;
    let ring = match &args.ring_key_primary {
        None => ring,
        Some(name) => {
            let name: KeyName = name
                .parse()
                .map_err(|e| StartError::BadKeys(format!("--ring-key-primary {name:?}: {e}")))?;
            ring.with_primary(&name)
                .map_err(|e| StartError::BadKeys(format!("--ring-key-primary: {e}")))?
        }
    };
    Ok(Some(ring))
}

/// Binds UDP and TCP on the same address (port 0: the port the UDP socket got).
fn bind_gossip(listen: SocketAddr) -> io::Result<(UdpSocket, TcpListener)> {
    let udp = UdpSocket::bind(listen)?;
    let port = udp.local_addr()?.port();
    let tcp = TcpListener::bind(SocketAddr::new(listen.ip(), port))?;
    Ok((udp, tcp))
}

/// HOST:PORT or HOST (port 9638), resolved now.
fn resolve_peers(peers: &[String]) -> Result<Vec<SocketAddr>, StartError> {
    let mut out = Vec::new();
    for p in peers.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let with_port = if p.parse::<SocketAddr>().is_ok() || has_port(p) {
            p.to_owned()
        } else {
            format!("{p}:{DEFAULT_PORT}")
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| StartError::BadPeer(p.to_owned(), e.to_string()))?
            .next()
            .ok_or_else(|| StartError::BadPeer(p.to_owned(), "no address".into()))?;
        out.push(addr);
    }
    Ok(out)
}

fn has_port(p: &str) -> bool {
    p.rsplit_once(':')
        .is_some_and(|(host, port)| !host.contains(':') && port.parse::<u16>().is_ok())
}

/// The IP we tell the ring: the listen address if specific, else --advertise, else the local
/// address that routes to the first peer (no packet is sent), else 127.0.0.1.
fn advertise_ip(listen: IpAddr, advertise: Option<IpAddr>, peers: &[SocketAddr]) -> IpAddr {
    if !listen.is_unspecified() {
        return listen;
    }
    if let Some(ip) = advertise {
        return ip;
    }
    if let Some(peer) = peers.first() {
        let probe = UdpSocket::bind(SocketAddr::new(listen, 0)).and_then(|s| {
            s.connect(peer)?;
            s.local_addr()
        });
        if let Ok(local) = probe {
            if !local.ip().is_unspecified() {
                return local.ip();
            }
        }
    }
    tracing::warn!("no --advertise and no peer to route to: announcing 127.0.0.1");
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

/// Whether `dir` holds a member id already (for tools and tests).
pub fn has_member(dir: &Path) -> bool {
    dir.join("member.json").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_get_the_default_port() {
        let p = resolve_peers(&["127.0.0.1".into(), "127.0.0.2:7000".into()]).expect("resolve");
        assert_eq!(p[0], "127.0.0.1:9638".parse().expect("addr"));
        assert_eq!(p[1], "127.0.0.2:7000".parse().expect("addr"));
        assert!(resolve_peers(&["no such host.invalid:1".into()]).is_err());
    }
}
