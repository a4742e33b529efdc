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
use super::control::{Command, ControlError, RumorAction, Snapshot};
use super::persist::DataDir;
use super::transport::pool::StreamPool;
use super::transport::{QueuedNetwork, TransportStats};
use crate::engine::Engine;
use crate::event::{Event, MemberEventKind};
use crate::id::MemberId;
use crate::time::Clock;

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
    },
    /// A control command (gateway, signal handler).
    Control(Command),
}

/// How the driver stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// SIGINT/SIGTERM: departed gracefully; a restart rejoins.
    Shutdown,
    /// An operator departed this member; it must not rejoin with this id.
    DepartedByOperator,
}

/// A changed member view is saved at most this often.
const MEMBERS_SAVE_DEBOUNCE: Duration = Duration::from_secs(2);
/// Everything is saved at least this often.
const SAVE_PERIOD: Duration = Duration::from_secs(60);
/// How long shutdown waits for departure frames to leave.
const FLUSH_ON_EXIT: Duration = Duration::from_millis(1500);

/// The engine and everything it is fed by and writes to.
#[derive(Debug)]
pub struct Driver {
    engine: NodeEngine,
    udp: Arc<Async<UdpSocket>>,
    inputs: Receiver<Input>,
    pool: StreamPool,
    data: DataDir,
    stats: Arc<TransportStats>,
    preset: String,
    services: Vec<String>,
    started: std::time::Instant,
    state_dirty: bool,
    members_dirty: bool,
    last_members_save: std::time::Instant,
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
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        engine: NodeEngine,
        udp: Arc<Async<UdpSocket>>,
        inputs: Receiver<Input>,
        pool: StreamPool,
        data: DataDir,
        stats: Arc<TransportStats>,
        preset: String,
        services: Vec<String>,
    ) -> Self {
        let now = std::time::Instant::now();
        Driver {
            engine,
            udp,
            inputs,
            pool,
            data,
            stats,
            preset,
            services,
            started: now,
            state_dirty: true,
            members_dirty: true,
            last_members_save: now,
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
            self.save(false);
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
                Wake::Input(Some(Input::Stream { from, bytes })) => {
                    self.engine.handle_stream(from, &bytes);
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
        self.shut_down(stopped).await;
        stopped
    }

    /// The engine's deadline, or the next save, whichever is first.
    fn next_wake(&self) -> std::time::Instant {
        let mut at = self.last_full_save + SAVE_PERIOD;
        if self.members_dirty {
            at = at.min(self.last_members_save + MEMBERS_SAVE_DEBOUNCE);
        }
        if let Some(t) = self.engine.poll_timeout() {
            at = at.min(self.engine.clock().to_std(t));
        }
        at
    }

    fn control(&mut self, command: Command) -> Option<Stopped> {
        match command {
            Command::Snapshot(reply) => {
                let _ = reply.try_send(self.snapshot());
                None
            }
            Command::Depart { member, reply } => {
                if member == self.engine.id() {
                    tracing::warn!(%member, "departed by an operator; leaving the ring for good");
                    let _ = reply.try_send(Ok(()));
                    return Some(Stopped::DepartedByOperator);
                }
                let _ = reply.try_send(Err(depart_other_unsupported(member)));
                None
            }
            Command::Rumor { action, reply } => {
                let what = match action {
                    RumorAction::ApplyConfig { .. } => "applying a service config",
                    RumorAction::UploadFile { .. } => "uploading a service file",
                    RumorAction::AnnounceService { .. } => "announcing a service",
                    RumorAction::WithdrawService { .. } => "withdrawing a service",
                };
                let _ = reply.try_send(Err(ControlError::Unsupported(what)));
                None
            }
            Command::Shutdown => Some(Stopped::Shutdown),
        }
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
                #[allow(unreachable_patterns)]
                other => tracing::debug!(event = ?other, "engine event"),
            }
        }
    }

    /// Saves changed state: the incarnation at once, the member view debounced; everything
    /// when `force` or periodically. Failures are logged; the node keeps running.
    fn save(&mut self, force: bool) {
        let now = std::time::Instant::now();
        let periodic = now >= self.last_full_save + SAVE_PERIOD;
        if self.state_dirty || force || periodic {
            if let Err(e) = self.data.save_state(self.engine.incarnation(), false) {
                tracing::error!(error = %e, "cannot save state.json");
            }
            self.state_dirty = false;
        }
        let members_due =
            self.members_dirty && now >= self.last_members_save + MEMBERS_SAVE_DEBOUNCE;
        if members_due || force || periodic {
            let members: Vec<_> = self.engine.members().iter().collect();
            if let Err(e) = self.data.save_members(&members) {
                tracing::error!(error = %e, "cannot save members.json");
            }
            self.members_dirty = false;
            self.last_members_save = now;
        }
        if periodic || force {
            self.last_full_save = now;
        }
    }

    async fn shut_down(mut self, why: Stopped) {
        tracing::info!("departing the ring");
        self.engine.depart();
        self.flush();
        self.drain_events();
        self.save(true);
        if why == Stopped::DepartedByOperator {
            if let Err(e) = self.data.save_state(self.engine.incarnation(), true) {
                tracing::error!(error = %e, "cannot save state.json");
            }
        }
        self.pool.close(FLUSH_ON_EXIT).await;
        tracing::info!(incarnation = %self.engine.incarnation(), "state saved, stopped");
    }

    fn snapshot(&mut self) -> Snapshot {
        self.pool.prune();
        let s = &self.stats;
        let r = TransportStats::read;
        let transport = vec![
            (
                "udp_send_failed",
                "Datagrams the kernel refused to send.",
                r(&s.udp_send_failed),
            ),
            (
                "stream_queue_full",
                "Stream frames dropped: peer queue or byte budget full.",
                r(&s.stream_queue_full),
            ),
            (
                "stream_too_many_peers",
                "Stream frames dropped: too many peers connected.",
                r(&s.stream_too_many_peers),
            ),
            (
                "connect_failed",
                "Outbound gossip connections that failed or timed out.",
                r(&s.connect_failed),
            ),
            (
                "write_failed",
                "Outbound gossip connections closed after a write error or timeout.",
                r(&s.write_failed),
            ),
            (
                "connections_opened",
                "Outbound gossip connections opened.",
                r(&s.connections_opened),
            ),
            (
                "outbound_connections",
                "Outbound gossip connections open now.",
                self.pool.len() as u64,
            ),
            (
                "queued_bytes",
                "Bytes queued for outbound gossip connections now.",
                s.queued_bytes.load(Ordering::Relaxed) as u64,
            ),
            (
                "inbound_connections",
                "Inbound gossip connections open now.",
                s.inbound_open.load(Ordering::Relaxed) as u64,
            ),
            (
                "inbound_refused",
                "Inbound gossip connections refused: too many open.",
                r(&s.inbound_refused),
            ),
            (
                "inbound_bad_framing",
                "Inbound gossip connections closed for bad framing.",
                r(&s.inbound_bad_framing),
            ),
            (
                "input_queue_full",
                "Inbound frames dropped: the engine's input queue was full.",
                r(&s.input_queue_full),
            ),
        ];
        Snapshot {
            me: *self.engine.me(),
            departed: self.engine.is_departed(),
            members: self.engine.members().iter().collect(),
            metrics: self.engine.metrics().clone(),
            transport,
            preset: self.preset.clone(),
            services: self.services.clone(),
            uptime: self.started.elapsed(),
        }
    }
}

fn depart_other_unsupported(member: MemberId) -> ControlError {
    tracing::info!(%member, "operator departure of another member requested; departure rumors are not in the engine yet");
    ControlError::Unsupported("departing another member (departure rumors)")
}
