//! The driver: the one task that owns the [`Engine`].
//!
//! As in quinn's driver, every turn of the loop is: flush what the engine sent, drain its
//! events, save what changed, then wait for the first of (a datagram, a stream frame or
//! control command, the engine's next deadline), hand it to the engine, and check the
//! engine's timers against our own `now()` — the timer firing is only a wake-up, never the
//! proof that time has passed.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use smol::channel::Receiver;
use smol::{Async, Timer};

use super::clock::ProcessClock;
use super::control::{Command, ControlError, RingKeyAction, RingKeysView, RumorAction, Snapshot};
use super::metrics;
use super::persist::DataDir;
use super::sealed::{PayloadView, ServiceKeys};
use super::transport::inbound::{ConnState, InboundView, Permit};
use super::transport::pool::StreamPool;
use super::transport::{QueuedNetwork, TransportStats};
use engine::crypto::Keyring;
use engine::engine::Engine;
use engine::event::{Event, MemberEventKind};
use engine::metrics::DropReason;
use engine::rumor::{Rumor, RumorError, RumorKey, RumorKind, ServiceGroup, ServiceSpec};
use engine::time::Clock;

/// The engine as the node runs it.
pub type NodeEngine = Engine<ProcessClock, QueuedNetwork>;

/// Something for the driver from another task.
#[derive(Debug)]
pub enum Input {
    /// One frame from an inbound gossip connection.
    Stream {
        /// The connection's remote address.
        from: SocketAddr,
        /// The frame, without its length prefix.
        bytes: Vec<u8>,
        /// Its bytes' share of the inbound frame budget, given back once it is handled.
        permit: Permit,
        /// Where the driver says whether the engine accepted it.
        conn: Arc<ConnState>,
    },
    /// A control command (gateway, signal handler).
    Control(Command),
}

/// How the driver stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// SIGINT/SIGTERM: departed gracefully; a restart rejoins.
    Shutdown,
    /// An operator departed this member; it must not rejoin with this id.
    DepartedByOperator,
    /// Stopped as asked, but the final save failed: what the data dir holds may be behind
    /// what the node held (the process exits non-zero).
    FinalSaveFailed(String),
}

/// A changed member view is saved at most this often.
const MEMBERS_SAVE_DEBOUNCE: Duration = Duration::from_secs(2);
/// Everything is saved at least this often.
const SAVE_PERIOD: Duration = Duration::from_secs(60);
/// How long shutdown waits for departure frames to leave.
const FLUSH_ON_EXIT: Duration = Duration::from_millis(1500);

/// What a node was started with, beyond its engine and sockets: where it keeps its state and
/// what the gateway reports about its setup.
#[derive(Debug)]
pub struct Setup {
    /// The data dir.
    pub data: DataDir,
    /// The preset's name.
    pub preset: String,
    /// The service groups named with `--service`.
    pub services: Vec<String>,
    /// Keys that open configs and files sealed to this node's services.
    pub service_keys: Arc<ServiceKeys>,
    /// What this node's Service rumors carry besides their group.
    pub service_defaults: ServiceDefaults,
}

/// What this node's Service rumors carry besides their group: nothing more, or, with
/// `--compat habitat`, the package ident and host information Butterfly requires (it refuses
/// a Service rumor without `pkg` or `sys.ip`/`sys.hostname`).
#[derive(Clone, Debug, Default)]
pub struct ServiceDefaults {
    pkg: String,
    sys: Option<engine::rumor::SysInfo>,
}

impl ServiceDefaults {
    /// The defaults of a node gossiping from `gossip`, serving HTTP on `http`.
    pub fn new(compat: bool, gossip: std::net::SocketAddr, http: std::net::SocketAddr) -> Self {
        if !compat {
            return ServiceDefaults::default();
        }
        let ip = gossip.ip().to_string();
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty() && h.len() <= 253)
            .unwrap_or_else(|| ip.clone());
        ServiceDefaults {
            pkg: format!(
                "swallowtail/engine-node/{}/19700101000000",
                env!("CARGO_PKG_VERSION")
            ),
            sys: Some(engine::rumor::SysInfo {
                ip: ip.clone(),
                hostname,
                gossip_ip: ip,
                gossip_port: gossip.port(),
                http_gateway_ip: http.ip().to_string(),
                http_gateway_port: http.port(),
                ctl_gateway_ip: None,
                ctl_gateway_port: None,
            }),
        }
    }

    /// The spec of a service this node runs.
    pub fn spec(&self, topology: engine::rumor::Topology) -> ServiceSpec {
        ServiceSpec {
            pkg: self.pkg.clone(),
            sys: self.sys.clone(),
            initialized: true,
            topology,
            ..ServiceSpec::default()
        }
    }
}

/// The engine and everything it is fed by and writes to.
#[derive(Debug)]
pub struct Driver {
    engine: NodeEngine,
    udp: Arc<Async<UdpSocket>>,
    inputs: Receiver<Input>,
    pool: StreamPool,
    stats: Arc<TransportStats>,
    inbound: InboundView,
    data: DataDir,
    preset: String,
    services: std::collections::BTreeSet<String>,
    service_keys: Arc<ServiceKeys>,
    service_defaults: ServiceDefaults,
    started: std::time::Instant,
    state_dirty: bool,
    members_dirty: bool,
    rumors_dirty: bool,
    departed_by_operator: bool,
    last_members_save: std::time::Instant,
    last_rumors_save: std::time::Instant,
    last_full_save: std::time::Instant,
}

enum Wake {
    Datagram(io::Result<(usize, SocketAddr)>),
    Input(Option<Input>),
    Timer,
}

impl Driver {
    /// A driver for `engine` (already joined and restored), reading datagrams from `udp` and
    /// everything else from `inputs`.
    pub fn new(
        engine: NodeEngine,
        udp: Arc<Async<UdpSocket>>,
        inputs: Receiver<Input>,
        pool: StreamPool,
        stats: Arc<TransportStats>,
        setup: Setup,
        inbound: InboundView,
    ) -> Self {
        let now = std::time::Instant::now();
        Driver {
            engine,
            udp,
            inputs,
            pool,
            stats,
            inbound,
            data: setup.data,
            preset: setup.preset,
            services: setup.services.into_iter().collect(),
            service_keys: setup.service_keys,
            service_defaults: setup.service_defaults,
            started: now,
            state_dirty: true,
            members_dirty: true,
            rumors_dirty: true,
            departed_by_operator: false,
            last_members_save: now,
            last_rumors_save: now,
            last_full_save: now,
        }
    }

    /// Runs until a shutdown command (or an operator departure of this member), then departs,
    /// saves and flushes.
    pub async fn run(mut self) -> Stopped {
        let mut buf = vec![0u8; 65_536];
        let stopped = loop {
            self.flush();
            self.drain_events();
            let _ = self.save(false);
            if self.departed_by_operator {
                break Stopped::DepartedByOperator;
            }
            let wake_at = self.next_wake();
            let udp = self.udp.clone();
            let wake = smol::future::or(
                async { Wake::Datagram(udp.recv_from(&mut buf).await) },
                smol::future::or(
                    async { Wake::Input(self.inputs.recv().await.ok()) },
                    async {
                        Timer::at(wake_at).await;
                        Wake::Timer
                    },
                ),
            )
            .await;
            let stop = match wake {
                Wake::Datagram(Ok((n, from))) => {
                    self.engine.handle_datagram(from, &buf[..n]);
                    None
                }
                Wake::Datagram(Err(e)) => {
                    tracing::debug!(error = %e, "udp receive failed");
                    None
                }
                Wake::Input(Some(Input::Stream {
                    from,
                    bytes,
                    permit,
                    conn,
                })) => {
                    self.handle_frame(from, &bytes, &conn);
                    drop(permit);
                    None
                }
                Wake::Input(Some(Input::Control(c))) => self.control(c),
                Wake::Input(None) => Some(Stopped::Shutdown),
                Wake::Timer => None,
            };
            if let Some(stopped) = stop {
                break stopped;
            }
            let now = self.engine.clock().now();
            if self.engine.poll_timeout().is_some_and(|t| t <= now) {
                self.engine.handle_timeout();
            }
        };
        match self.shut_down(&stopped).await {
            Ok(()) => stopped,
            Err(why) => Stopped::FinalSaveFailed(why),
        }
    }

    /// The engine's deadline, or the next save, whichever is first.
    fn next_wake(&self) -> std::time::Instant {
        let mut at = self.last_full_save + SAVE_PERIOD;
        if self.members_dirty {
            at = at.min(self.last_members_save + MEMBERS_SAVE_DEBOUNCE);
        }
        if self.rumors_dirty {
            at = at.min(self.last_rumors_save + MEMBERS_SAVE_DEBOUNCE);
        }
        if let Some(t) = self.engine.poll_timeout() {
            at = at.min(self.engine.clock().to_std(t));
        }
        at
    }

    /// Hands an inbound frame to the engine and tells its connection whether the engine took
    /// it: a frame dropped as malformed, oversized or unauthenticated gets its connection
    /// closed; one accepted earns the connection the long idle timeout.
    fn handle_frame(&mut self, from: SocketAddr, bytes: &[u8], conn: &ConnState) {
        const REJECT: [DropReason; 3] = [
            DropReason::Malformed,
            DropReason::Oversized,
            DropReason::Unauthenticated,
        ];
        let rejected = |m: &engine::Metrics| REJECT.iter().map(|r| m.dropped(*r)).sum::<u64>();
        let before = rejected(self.engine.metrics());
        self.engine.handle_stream(from, bytes);
        if rejected(self.engine.metrics()) > before {
            conn.rejected();
        } else {
            conn.accepted();
        }
    }

    fn control(&mut self, command: Command) -> Option<Stopped> {
        match command {
            Command::Snapshot(reply) => {
                let _ = reply.try_send(self.snapshot());
                None
            }
            Command::Depart {
                member,
                signature,
                reply,
            } => {
                let me = member == self.engine.id();
                let outcome = match signature {
                    Some(s) => self.engine.depart_member_signed(member, s),
                    None => self.engine.depart_member(member),
                };
                let mut outcome = outcome.map_err(control_error);
                if outcome.is_ok() {
                    tracing::warn!(%member, this_member = me, "departed by an operator");
                    outcome = self.save_acknowledged(me);
                }
                let ok = outcome.is_ok();
                let _ = reply.try_send(outcome);
                if me && ok {
                    self.departed_by_operator = true;
                    return Some(Stopped::DepartedByOperator);
                }
                None
            }
            Command::Rumor { action, reply } => {
                let outcome = self
                    .rumor_action(action)
                    .and_then(|()| self.save_acknowledged(false));
                let _ = reply.try_send(outcome);
                None
            }
            Command::RingKeys { action, reply } => {
                let _ = reply.try_send(self.ring_keys(action));
                None
            }
            Command::Shutdown => Some(Stopped::Shutdown),
        }
    }

    fn rumor_action(&mut self, action: RumorAction) -> Result<(), ControlError> {
        let group = |g: &str| {
            g.parse::<ServiceGroup>()
                .map_err(|e| ControlError::Rejected(format!("bad service group {g:?}: {e}")))
        };
        let e = &mut self.engine;
        match action {
            RumorAction::ApplyConfig {
                group: g,
                version,
                body,
                encrypted,
            } => {
                let g = group(&g)?;
                let r = if encrypted {
                    e.apply_sealed(g.clone(), version, None, body)
                } else {
                    e.apply_config(g.clone(), version, body)
                };
                r.map_err(control_error)?;
                tracing::info!(group = %g, version, encrypted, "config applied");
            }
            RumorAction::UploadFile {
                group: g,
                filename,
                version,
                body,
                encrypted,
            } => {
                let g = group(&g)?;
                let r = if encrypted {
                    e.apply_sealed(g.clone(), version, Some(filename.clone()), body)
                } else {
                    e.upload_file(g.clone(), version, filename.clone(), body)
                };
                r.map_err(control_error)?;
                tracing::info!(group = %g, %filename, version, encrypted, "file uploaded");
            }
            RumorAction::AnnounceService { group: g, topology } => {
                let parsed = group(&g)?;
                let spec = self.service_defaults.spec(topology);
                let inc = e.announce_service(parsed, spec).map_err(control_error)?;
                tracing::info!(group = %g, incarnation = %inc, "service announced");
                self.services.insert(g);
            }
            RumorAction::WithdrawService { group: g } => {
                let parsed = group(&g)?;
                let inc = e.withdraw_service(&parsed).map_err(control_error)?;
                tracing::info!(group = %g, incarnation = %inc, "service withdrawn");
                self.services.remove(&g);
            }
        }
        Ok(())
    }

    fn ring_keys(&mut self, action: RingKeyAction) -> Result<RingKeysView, ControlError> {
        let held = self.engine.ring_keys().cloned();
        let changed = match (action, held) {
            (RingKeyAction::List, _) => None,
            (RingKeyAction::Install(key), None) => Some(Keyring::single(key)),
            (RingKeyAction::Install(key), Some(mut ring)) => {
                ring.insert(key)
                    .map_err(|e| ControlError::Rejected(e.to_string()))?;
                Some(ring)
            }
            (RingKeyAction::Use(_) | RingKeyAction::Remove(_), None) => {
                return Err(ControlError::NotFound(
                    "this node has no ring keys (install one first)".into(),
                ))
            }
            (RingKeyAction::Use(name), Some(ring)) => Some(
                ring.with_primary(&name)
                    .map_err(|e| ControlError::NotFound(e.to_string()))?,
            ),
            (RingKeyAction::Remove(name), Some(mut ring)) => {
                ring.remove(&name)
                    .map_err(|e| ControlError::Rejected(e.to_string()))?;
                Some(ring)
            }
        };
        if let Some(ring) = changed {
            let view = RingKeysView::of(Some(&ring));
            tracing::info!(keys = ?view.keys, primary = ?view.primary, "ring keys changed");
            self.engine.set_ring_keys(Some(ring));
        }
        Ok(RingKeysView::of(self.engine.ring_keys()))
    }

    /// Hands everything the engine sent to the sockets, without waiting.
    fn flush(&mut self) {
        let net = self.engine.network_mut();
        while let Some((to, bytes)) = net.datagrams.pop_front() {
            if self.udp.get_ref().send_to(&bytes, to).is_err() {
                TransportStats::bump(&self.stats.udp_send_failed);
            }
        }
        while let Some((to, bytes)) = net.streams.pop_front() {
            self.pool.send(to, &bytes);
        }
        while let Some((to, bytes)) = net.habitat_streams.pop_front() {
            self.pool.send_zmtp(to, &bytes);
        }
    }

    fn drain_events(&mut self) {
        while let Some(event) = self.engine.poll_event() {
            match event {
                Event::Member(m) => {
                    self.members_dirty = true;
                    let (subject, incarnation) = (m.subject, m.incarnation);
                    match m.kind {
                        MemberEventKind::Joined => {
                            tracing::info!(%subject, %incarnation, health = %m.to, "member joined")
                        }
                        MemberEventKind::Alive => {
                            tracing::info!(%subject, %incarnation, "member alive again")
                        }
                        MemberEventKind::Suspected => {
                            tracing::info!(%subject, %incarnation, "member suspected")
                        }
                        MemberEventKind::Confirmed => {
                            tracing::warn!(%subject, %incarnation, "member confirmed failed")
                        }
                        MemberEventKind::Departed => {
                            tracing::info!(%subject, %incarnation, "member departed")
                        }
                    }
                }
                Event::Refuted {
                    incarnation,
                    accused,
                } => {
                    self.state_dirty = true;
                    tracing::info!(%incarnation, %accused, "refuted a claim about us");
                }
                Event::Dropped { reason } => tracing::debug!(%reason, "dropped input"),
                Event::RumorApplied {
                    kind,
                    key,
                    incarnation,
                } => {
                    self.rumors_dirty = true;
                    tracing::debug!(%kind, %key, %incarnation, "rumor applied");
                    self.check_sealed(&key);
                }
                Event::RumorRejected { key, reason } => {
                    tracing::debug!(key = ?key, reason = ?reason, "rumor rejected")
                }
                Event::ElectionStarted { kind, group, term } => {
                    tracing::info!(kind = kind.as_str(), %group, term, "election started")
                }
                Event::ElectionFinished {
                    kind,
                    group,
                    term,
                    leader,
                } => {
                    tracing::info!(kind = kind.as_str(), %group, term, %leader, "election finished")
                }
                Event::ElectionNoQuorum { kind, group, term } => {
                    tracing::warn!(kind = kind.as_str(), %group, term, "election without quorum")
                }
                Event::DepartedByOperator => {
                    tracing::error!(
                        member = %self.engine.id(),
                        "an operator departed this member from the ring; stopping for good"
                    );
                    self.departed_by_operator = true;
                }
                #[allow(unreachable_patterns)]
                other => tracing::debug!(event = ?other, "engine event"),
            }
        }
    }

    /// Logs a sealed config or file that this node should open but cannot.
    fn check_sealed(&self, key: &RumorKey) {
        if self.service_keys.is_empty() {
            return;
        }
        let (encrypted, bytes) = match self.engine.rumors().get(key) {
            Some(Rumor::ServiceConfig(c)) => (c.encrypted, &c.config),
            Some(Rumor::ServiceFile(f)) => (f.encrypted, &f.body),
            _ => return,
        };
        match self.service_keys.view(encrypted, bytes) {
            PayloadView::Unreadable(why) => {
                tracing::error!(%key, "sealed payload cannot be opened, not used: {why}")
            }
            PayloadView::Opened(_) => tracing::info!(%key, "sealed payload opened"),
            _ => {}
        }
    }

    /// Saves changed state: the incarnation at once, the member view and gossip-driven rumor
    /// changes debounced; everything when `force` or periodically. Failures are logged and the
    /// node keeps running; the first is returned. A failed save stays due.
    fn save(&mut self, force: bool) -> Result<(), String> {
        let now = std::time::Instant::now();
        let periodic = now >= self.last_full_save + SAVE_PERIOD;
        let mut first_error = None;
        let mut failed = |file: &str, e: io::Error| {
            tracing::error!(error = %e, "cannot save {file}");
            first_error.get_or_insert_with(|| format!("cannot save {file}: {e}"));
        };
        if self.state_dirty || force || periodic {
            match self.data.save_state(self.engine.incarnation(), false) {
                Ok(()) => self.state_dirty = false,
                Err(e) => failed("state.json", e),
            }
        }
        let members_due =
            self.members_dirty && now >= self.last_members_save + MEMBERS_SAVE_DEBOUNCE;
        if members_due || force || periodic {
            let members: Vec<_> = self.engine.members().iter().collect();
            match self.data.save_members(&members) {
                Ok(()) => self.members_dirty = false,
                Err(e) => failed("members.json", e),
            }
            self.last_members_save = now;
        }
        let rumors_due = self.rumors_dirty && now >= self.last_rumors_save + MEMBERS_SAVE_DEBOUNCE;
        if rumors_due || force || periodic {
            match self.data.save_rumors(&self.engine.rumors().export()) {
                Ok(()) => self.rumors_dirty = false,
                Err(e) => failed("rumors.pb", e),
            }
            self.last_rumors_save = now;
        }
        if periodic || force {
            self.last_full_save = now;
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Saves an operator's change before it is acknowledged (fsync'd, see
    /// [`DataDir::write_atomic`]): the rumor store, and our departure when `departed_us`.
    /// Gossip-driven changes are batched by [`Driver::save`] instead.
    fn save_acknowledged(&mut self, departed_us: bool) -> Result<(), ControlError> {
        let not_saved = |e: io::Error| {
            tracing::error!(error = %e, "cannot save an acknowledged change");
            ControlError::NotSaved {
                full: matches!(
                    e.kind(),
                    io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
                ),
                why: e.to_string(),
            }
        };
        if departed_us {
            self.data
                .save_state(self.engine.incarnation(), true)
                .map_err(not_saved)?;
        }
        self.rumors_dirty = true;
        self.data
            .save_rumors(&self.engine.rumors().export())
            .map_err(not_saved)?;
        self.rumors_dirty = false;
        self.last_rumors_save = std::time::Instant::now();
        Ok(())
    }

    /// Departs, saves everything and flushes; the error of a failed final save.
    async fn shut_down(mut self, why: &Stopped) -> Result<(), String> {
        tracing::info!("departing the ring");
        if !self.engine.is_departed() {
            self.engine.depart();
        }
        self.flush();
        self.drain_events();
        let mut saved = self.save(true);
        if *why == Stopped::DepartedByOperator {
            if let Err(e) = self.data.save_state(self.engine.incarnation(), true) {
                tracing::error!(error = %e, "cannot save state.json");
                saved = saved.and(Err(format!("cannot save state.json: {e}")));
            }
        }
        self.pool.close(FLUSH_ON_EXIT).await;
        match &saved {
            Ok(()) => {
                tracing::info!(incarnation = %self.engine.incarnation(), "state saved, stopped")
            }
            Err(e) => tracing::error!(error = %e, "stopped, but the final save failed"),
        }
        saved
    }

    fn snapshot(&mut self) -> Snapshot {
        self.pool.prune();
        let s = &self.stats;
        let r = TransportStats::read;
        let transport = vec![
            (&metrics::UDP_SEND_FAILED, r(&s.udp_send_failed)),
            (&metrics::STREAM_QUEUE_FULL, r(&s.stream_queue_full)),
            (&metrics::STREAM_TOO_MANY_PEERS, r(&s.stream_too_many_peers)),
            (&metrics::CONNECT_FAILED, r(&s.connect_failed)),
            (&metrics::WRITE_FAILED, r(&s.write_failed)),
            (&metrics::CONNECTIONS_OPENED, r(&s.connections_opened)),
            (&metrics::OUTBOUND_CONNECTIONS, self.pool.len() as u64),
            (
                &metrics::QUEUED_BYTES,
                s.queued_bytes.load(Ordering::Relaxed) as u64,
            ),
            (
                &metrics::INBOUND_CONNECTIONS,
                s.inbound_open.load(Ordering::Relaxed) as u64,
            ),
            (&metrics::INBOUND_REFUSED, r(&s.inbound_refused)),
            (&metrics::INBOUND_BAD_FRAMING, r(&s.inbound_bad_framing)),
            (&metrics::INPUT_QUEUE_FULL, r(&s.input_queue_full)),
            (
                &metrics::INBOUND_SOURCE_REFUSED,
                r(&s.inbound_source_refused),
            ),
            (&metrics::INBOUND_BUDGET_FULL, r(&s.inbound_budget_full)),
            (
                &metrics::INBOUND_UNTRUSTED_TIMEOUT,
                r(&s.inbound_untrusted_timeout),
            ),
            (&metrics::INBOUND_REJECTED, r(&s.inbound_rejected)),
            (
                &metrics::INBOUND_FRAME_BYTES,
                self.inbound.budget.held() as u64,
            ),
            (
                &metrics::INBOUND_CONNECTION_LIMIT,
                self.inbound.max_connections as u64,
            ),
        ];
        let rumors = self.engine.rumors();
        let rumor_counts = RumorKind::ALL
            .iter()
            .map(|k| (*k, rumors.count(*k)))
            .collect();
        let mut elections = Vec::new();
        for (_, r) in rumors.iter() {
            match r {
                Rumor::Election(e) => elections.push(("election", e.clone())),
                Rumor::ElectionUpdate(e) => elections.push(("election_update", e.clone())),
                _ => {}
            }
        }
        Snapshot {
            census: self.engine.census(),
            rumor_counts,
            departures: rumors.departures().collect(),
            elections,
            service_keys: self.service_keys.clone(),
            ring_keys: RingKeysView::of(self.engine.ring_keys()),
            me: *self.engine.me(),
            departed: self.engine.is_departed(),
            members: self.engine.members().iter().collect(),
            metrics: self.engine.metrics().clone(),
            transport,
            preset: self.preset.clone(),
            services: self.services.iter().cloned().collect(),
            uptime: self.started.elapsed(),
        }
    }
}

fn control_error(e: RumorError) -> ControlError {
    match e {
        RumorError::PayloadTooLarge { .. } => ControlError::TooLarge(e.to_string()),
        RumorError::Departed => ControlError::ShuttingDown,
        RumorError::Unsigned => ControlError::Forbidden(format!(
            "{e}: this node takes departures signed by one of its --operator-key keys \
             (engine-node depart --operator-secret FILE), or unsigned ones only with \
             --trust-unsigned-departures"
        )),
        other => ControlError::Rejected(other.to_string()),
    }
}
