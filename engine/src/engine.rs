//! [`Engine`]: one ring member's protocol state machine.

mod compat;
mod elections;
mod gossip;
mod member_sync;
mod rumor_sync;
mod rumors;
mod swim;
mod sync;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{Config, ConfigError};
use crate::event::Event;
use crate::id::{Incarnation, MemberId};
use crate::lifeguard::Awareness;
use crate::member::{Health, Member, Membership};
use crate::member_list::MemberList;
use crate::membership::{Cause, View};
use crate::metrics::{Channel, DropReason, Metrics};
use crate::network::Network;
use crate::probe::{Probe, RoundRobin};
use crate::time::{Clock, Instant};
use crate::timer::{Timer, TimerQueue};

pub use compat::{for_butterfly, BUTTERFLY_CLIENT};
pub use rumors::ImportReport;

/// One member of a ring: SWIM failure detection, membership and rumor dissemination, and
/// leader elections, as a deterministic state machine.
///
/// The engine owns no sockets, threads or clocks. The caller creates it with
/// [`new`](Self::new) and drives it through the methods below, grouped as quinn-proto groups
/// `Connection`'s.
///
/// * **Getters** (read only, any time):
///   - this member: [`id`](Self::id), [`me`](Self::me), [`incarnation`](Self::incarnation),
///     [`is_departed`](Self::is_departed), [`departed_by_operator`](Self::departed_by_operator),
///     [`health_multiplier`](Self::health_multiplier) (Lifeguard's local health);
///   - the ring: [`members`](Self::members) (every other member and the health we hold it in),
///     [`rumors`](Self::rumors) (services, configs, files, elections, departures;
///     [`RumorStore::export`](crate::rumor::RumorStore::export) persists it),
///     [`census`](Self::census) and [`census_group`](Self::census_group);
///   - elections: [`election`](Self::election), [`elections`](Self::elections),
///     [`leader`](Self::leader), [`update_leader`](Self::update_leader),
///     [`suitability`](Self::suitability);
///   - compat mode: [`speaks_extensions`](Self::speaks_extensions) (whether a peer is known
///     to be a swallowtail member rather than a Habitat Supervisor);
///   - plumbing: [`config`](Self::config), [`metrics`](Self::metrics),
///     [`ring_keys`](Self::ring_keys), [`clock`](Self::clock), [`network`](Self::network) and
///     [`network_mut`](Self::network_mut) (to drain an [`Outbox`](crate::Outbox)).
/// * **Inputs** — [`handle_datagram`](Self::handle_datagram) for every datagram received on the
///   SWIM socket, [`handle_stream`](Self::handle_stream) for every frame received on a gossip
///   stream, and [`handle_timeout`](Self::handle_timeout) whenever the instant returned by
///   [`poll_timeout`](Self::poll_timeout) has been reached.
/// * **Commands**:
///   - membership: [`join`](Self::join) (bootstrap peers), [`depart`](Self::depart) (leave
///     gracefully), [`insert_members`](Self::insert_members) (preload a known view),
///     [`depart_member`](Self::depart_member) (an operator's departure of any member, for
///     good);
///   - ring encryption: [`set_ring_keys`](Self::set_ring_keys) (seal everything sent, accept
///     only what authenticates);
///   - rumors: [`announce_service`](Self::announce_service) /
///     [`update_service`](Self::update_service) / [`withdraw_service`](Self::withdraw_service)
///     (a service this member runs), [`apply_config`](Self::apply_config) (a service group's
///     configuration), [`upload_file`](Self::upload_file) (a file for a service group),
///     [`apply_sealed`](Self::apply_sealed) (either, already sealed to the group's key),
///     [`import_rumors`](Self::import_rumors) (restore a persisted rumor store through the
///     merge rules);
///   - elections: [`set_suitability`](Self::set_suitability),
///     [`start_election`](Self::start_election),
///     [`start_update_election`](Self::start_update_election).
///
///   Rumor and election commands return a [`RumorError`](crate::rumor::RumorError) and change
///   nothing when they fail.
/// * **Outputs** — bytes handed to the [`Network`] during any of the calls above, the next
///   deadline from [`poll_timeout`](Self::poll_timeout), and [`Event`]s drained with
///   [`poll_event`](Self::poll_event).
///
/// After every input or command, the caller should drain events and re-read `poll_timeout`,
/// since both may have changed. The [`Clock`] must never go backwards. Calling
/// `handle_timeout` early is harmless (nothing is due); calling it late only delays work.
/// Malformed, oversized or unauthenticated input never panics: it is dropped, counted in
/// [`Metrics`], and reported as [`Event::Dropped`].
///
/// Everything random (probe order, PingReq helpers, jitter) comes from one ChaCha generator
/// seeded at construction, so the same seed and the same sequence of calls produce the same
/// bytes.
///
/// Inside, membership state belongs to the view in `engine/src/membership/` and changes only
/// through its one entry point; the probe loop (`swim.rs`), the stream channel (`sync.rs`,
/// `member_sync.rs`) and the rumor store (`rumors.rs`) report what they see to it.
#[derive(Debug)]
pub struct Engine<C: Clock, N: Network> {
    pub(crate) config: Config,
    pub(crate) clock: C,
    pub(crate) net: N,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) me: Member,
    pub(crate) departed: bool,
    /// The membership view: members, suspicions, claims being checked, updates to piggyback.
    pub(crate) view: View,
    pub(crate) timers: TimerQueue,
    pub(crate) round: RoundRobin,
    pub(crate) probe: Probe,
    /// When the membership and rumor anti-entropy exchanges are due.
    pub(crate) anti_entropy: sync::AntiEntropy,
    pub(crate) bootstrap: Vec<SocketAddr>,
    pub(crate) last_heal_sync: Option<Instant>,
    /// Lifeguard's local health multiplier.
    pub(crate) awareness: Awareness,
    /// Indirect probes we run as a PingReq helper that asked for a Nack:
    /// (target, asker) → asker.
    pub(crate) relays: BTreeMap<(MemberId, MemberId), Member>,
    /// Services, configs, files, elections and departures.
    pub(crate) rumors: crate::rumor::RumorStore,
    /// How rumors are pushed (Config::dissemination).
    pub(crate) dissemination: crate::rumor::Disseminator,
    /// A [`Timer::FreshPush`] is scheduled and has not run yet.
    pub(crate) fresh_push_due: bool,
    /// Groups whose service this member runs (announced and not withdrawn).
    pub(crate) local_services: BTreeMap<crate::rumor::ServiceGroup, crate::rumor::Service>,
    /// Leader and update elections: per-group voter state and suitability.
    pub(crate) elections: elections::Elections,
    /// An operator departed us; we stopped and must never rejoin.
    pub(crate) departed_by_operator: bool,
    /// Ring encryption: the keyring, if any, and the generator of nonces.
    pub(crate) ring_seal: crate::crypto::WireSeal,
    /// Whose departures we accept: `None`, anyone's (Butterfly); otherwise only those signed
    /// by one of these operator keys.
    pub(crate) operator_keys: Option<Vec<crate::crypto::OperatorPublicKey>>,
    /// With a ring key: the datagrams we authored (numbering the next), and the numbers seen
    /// from each author (see `replay.rs`).
    pub(crate) authored: u64,
    pub(crate) replays: crate::replay::Replays,
    /// Compat mode: the peers known to speak swallowtail's extensions (`compat.rs`).
    pub(crate) extension_peers: compat::ExtensionPeers,
    pub(crate) events: VecDeque<Event>,
    pub(crate) metrics: Metrics,
}

impl<C: Clock, N: Network> Engine<C, N> {
    /// A new engine for the member `me` (its id, addresses, persistent flag and starting
    /// incarnation: 0 for a new member, the persisted one plus one after a restart).
    ///
    /// `seed` seeds the engine's only random generator. Fails if `config` is invalid.
    pub fn new(
        config: Config,
        me: Member,
        seed: [u8; 32],
        clock: C,
        network: N,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let awareness = Awareness::new(config.awareness_max_multiplier);
        let config_dissemination = config.dissemination;
        let mut engine = Engine {
            config,
            clock,
            net: network,
            rng: ChaCha8Rng::from_seed(seed),
            me: Member {
                departed: false,
                ..me
            },
            departed: false,
            view: View::new(me.id),
            timers: TimerQueue::default(),
            round: RoundRobin::default(),
            probe: Probe::default(),
            anti_entropy: sync::AntiEntropy::default(),
            bootstrap: Vec::new(),
            last_heal_sync: None,
            awareness,
            relays: BTreeMap::new(),
            rumors: crate::rumor::RumorStore::new(),
            dissemination: crate::rumor::Disseminator::new(config_dissemination),
            fresh_push_due: false,
            local_services: BTreeMap::new(),
            elections: elections::Elections::default(),
            departed_by_operator: false,
            ring_seal: crate::crypto::WireSeal::new(seed),
            operator_keys: None,
            authored: 0,
            replays: crate::replay::Replays::default(),
            extension_peers: compat::ExtensionPeers::default(),
            events: VecDeque::new(),
            metrics: Metrics::default(),
        };
        let now = engine.now();
        // Spread members' first probes over one period so a ring started at once does not
        // probe in lockstep.
        let jitter = engine.jitter(engine.config.protocol_period);
        engine.timers.schedule(now + jitter, Timer::ProbeTick);
        let pp = engine.push_pull_interval();
        let jitter = engine.jitter(pp);
        engine.timers.schedule(now + pp + jitter, Timer::PushPull);
        engine
            .timers
            .schedule(now + engine.sweep_interval(), Timer::DepartSweep);
        engine.schedule_rumor_timers(now);
        Ok(engine)
    }

    // ----- getters -------------------------------------------------------------------------

    /// Our member id.
    pub fn id(&self) -> MemberId {
        self.me.id
    }

    /// Our own record, with the current incarnation.
    pub fn me(&self) -> &Member {
        &self.me
    }

    /// Our current incarnation.
    pub fn incarnation(&self) -> Incarnation {
        self.me.incarnation
    }

    /// Lifeguard's local health multiplier (1 when healthy or when awareness is off).
    pub fn health_multiplier(&self) -> u32 {
        if self.config.awareness_on() {
            self.awareness.multiplier()
        } else {
            1
        }
    }

    /// Whether we have departed (after [`depart`](Self::depart)); a departed engine ignores
    /// all input.
    pub fn is_departed(&self) -> bool {
        self.departed
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Every other member we know of, with the health we hold it in.
    pub fn members(&self) -> &MemberList {
        &self.view.members
    }

    /// Traffic and drop counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The network.
    pub fn network(&self) -> &N {
        &self.net
    }

    /// The network, mutably (to drain an [`Outbox`](crate::Outbox)).
    pub fn network_mut(&mut self) -> &mut N {
        &mut self.net
    }

    // ----- outputs -------------------------------------------------------------------------

    /// The next instant at which [`handle_timeout`](Self::handle_timeout) has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.departed {
            return None;
        }
        match (
            self.timers.next_deadline(),
            self.view.suspicions.next_deadline(),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front();
        if event.is_none() && self.events.capacity() > 64 {
            // A member sync that applied thousands of records left room for as many events
            // (64 bytes each, in each of thousands of engines in the simulator).
            self.events.shrink_to(16);
        }
        event
    }

    // ----- inputs --------------------------------------------------------------------------

    /// Runs every timer due at the clock's current instant.
    pub fn handle_timeout(&mut self) {
        if self.departed {
            return;
        }
        let now = self.now();
        loop {
            if let Some((due, id)) = self.view.suspicions.pop_due(now) {
                if let Some(held) = self.view.members.get(id) {
                    self.apply_membership(held, Cause::Deadline { due });
                }
                continue;
            }
            match self.timers.pop_due(now) {
                Some(timer) => self.on_timer(timer),
                None => break,
            }
        }
    }

    // ----- commands ------------------------------------------------------------------------

    /// Starts (or restarts) bootstrapping through `peers`: while we know no live member, they
    /// are pinged every `join_retry_interval`. Our own address is skipped.
    pub fn join(&mut self, peers: &[SocketAddr]) {
        self.bootstrap = peers
            .iter()
            .copied()
            .filter(|p| *p != self.me.addr)
            .collect();
        if !self.bootstrap.is_empty() && !self.departed {
            let now = self.now();
            self.timers.schedule(now, Timer::JoinRetry);
        }
    }

    /// Adds members to our view as if we had always known them: no events, no broadcasts.
    /// Used to start a simulation from a converged ring, or to restore a persisted view.
    /// Our own id is ignored; the merge rules apply.
    pub fn insert_members(&mut self, members: impl IntoIterator<Item = Membership>) {
        let now_s = self.now_s();
        let me = self.me.id;
        // Compat mode keeps IPv6 out of the view (Butterfly cannot parse it), restored or not.
        let ipv4_only = self.config.compat == crate::config::Compat::Habitat;
        let records: Vec<Membership> = members
            .into_iter()
            .filter(|m| m.member.id != me && !(ipv4_only && m.member.addr.is_ipv6()))
            .collect();
        self.view.preload(records, self.config.max_members, now_s);
    }

    /// Sets the ring keys, or with `None` turns ring encryption off. Takes effect at once:
    ///
    /// * With a keyring, every datagram and stream frame sent afterwards is a `Wire` sealed with
    ///   the keyring's primary key (XSalsa20-Poly1305 under a fresh random 24-byte nonce), and
    ///   input is accepted only if it authenticates under one of its keys. Plaintext, other
    ///   keys, tampered and truncated input are dropped and counted as
    ///   [`DropReason::Unauthenticated`].
    /// * Without one, everything is sent in plaintext and encrypted input is dropped the same
    ///   way.
    ///
    /// To rotate the key of a running ring, give every member a keyring holding both keys
    /// with the old one primary, then one with the new one primary, then one without the old
    /// key (see [`Keyring`](crate::crypto::Keyring)); no member stops understanding another.
    ///
    /// Nonces are drawn from a ChaCha20 generator seeded with the engine's `seed` (on a stream
    /// of its own, so protocol decisions do not change): the seed must be fresh from the OS
    /// every time a production engine is created, or nonces would repeat under the same key.
    pub fn set_ring_keys(&mut self, keyring: Option<crate::crypto::Keyring>) {
        self.ring_seal.set_keyring(keyring);
    }

    /// The ring keys in force, if ring encryption is on.
    pub fn ring_keys(&self) -> Option<&crate::crypto::Keyring> {
        self.ring_seal.keyring()
    }

    /// Whose operator departures to accept. `None` (the default, and Butterfly's behaviour):
    /// anyone's, signed or not. `Some(keys)`: only departures signed by one of `keys`
    /// ([`OperatorSecretKey::sign_departure`](crate::crypto::OperatorSecretKey::sign_departure));
    /// any other Departure from a peer is dropped and counted as [`DropReason::Unsigned`], and
    /// [`depart_member`](Self::depart_member) is refused. An empty list refuses every departure.
    /// A ring key does not replace this: every member holds the ring key, only operators hold
    /// operator keys.
    pub fn set_operator_keys(&mut self, keys: Option<Vec<crate::crypto::OperatorPublicKey>>) {
        self.operator_keys = keys;
    }

    /// The operator keys whose departures are accepted, if departures must be signed.
    pub fn operator_keys(&self) -> Option<&[crate::crypto::OperatorPublicKey]> {
        self.operator_keys.as_deref()
    }

    // ----- timers --------------------------------------------------------------------------

    fn on_timer(&mut self, timer: Timer) {
        match timer {
            Timer::ProbeTick => {
                let next = self.now() + self.scaled(self.config.protocol_period);
                self.timers.schedule(next, Timer::ProbeTick);
                self.view.claims.new_period();
                let mass = self.mass_change();
                self.view.new_period(mass);
                self.start_probe();
            }
            Timer::PingTimeout { probe } => self.on_ping_timeout(probe),
            Timer::PingReqTimeout { probe } => self.on_pingreq_timeout(probe),
            Timer::ProbePingTimeout { id, attempt } => self.on_probe_ping_timeout(id, attempt),
            Timer::PushPull => {
                self.periodic_push_pull();
                let quiet = 1u32 << self.anti_entropy.member_quiet.min(3);
                let next = self.now() + self.push_pull_interval() * quiet;
                self.timers.schedule(next, Timer::PushPull);
            }
            Timer::JoinRetry => self.on_join_retry(),
            Timer::GossipTick => self.on_gossip_tick(),
            Timer::FreshPush => self.on_fresh_push(),
            Timer::AntiEntropy => self.on_anti_entropy_tick(),
            Timer::RelayTimeout { target, asker } => self.on_relay_timeout(target, asker),
            Timer::DepartSweep => {
                let next = self.now() + self.sweep_interval();
                self.timers.schedule(next, Timer::DepartSweep);
                self.sweep_departed();
            }
        }
    }

    fn on_join_retry(&mut self) {
        let known_live =
            self.view.members.count(Health::Alive) + self.view.members.count(Health::Suspect);
        if known_live > 0 || self.bootstrap.is_empty() {
            return;
        }
        for peer in self.bootstrap.clone() {
            self.send_ping(peer, None, None);
        }
        let next = self.now() + self.config.join_retry_interval;
        self.timers.schedule(next, Timer::JoinRetry);
    }

    // ----- helpers shared by the submodules -----------------------------------------------

    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Whole seconds on the engine clock, for the compact per-member timestamps.
    pub(crate) fn now_s(&self) -> u32 {
        u32::try_from(self.now().as_nanos() / 1_000_000_000).unwrap_or(u32::MAX)
    }

    /// `d` stretched by the local health multiplier (when awareness is on).
    pub(crate) fn scaled(&self, d: Duration) -> Duration {
        d * self.health_multiplier()
    }

    pub(crate) fn jitter(&mut self, span: Duration) -> Duration {
        let nanos = u64::try_from(span.as_nanos()).unwrap_or(u64::MAX).max(1);
        Duration::from_nanos(self.rng.gen_range(0..nanos))
    }

    /// memberlist's scaling of the push/pull interval: beyond 32 members, one more interval per
    /// doubling, so the ring's total anti-entropy traffic grows like N·log N, not N².
    pub(crate) fn push_pull_interval(&self) -> Duration {
        let n = self.view.members.len() + 1;
        let base = self.config.push_pull_interval;
        if n <= 32 {
            return base;
        }
        let mult = (n as f64).log2() - 32f64.log2();
        base.mul_f64(mult.ceil() + 1.0)
    }

    pub(crate) fn sweep_interval(&self) -> Duration {
        self.config
            .confirmed_to_departed
            .min(Duration::from_secs(3600))
    }

    pub(crate) fn own_record(&self) -> Membership {
        Membership {
            member: self.me,
            health: if self.departed {
                Health::Departed
            } else {
                Health::Alive
            },
        }
    }

    pub(crate) fn emit(&mut self, event: Event) {
        self.events.push_back(event);
    }

    pub(crate) fn drop_input(&mut self, reason: DropReason) {
        self.metrics.record_drop(reason);
        self.emit(Event::Dropped { reason });
    }

    /// Decodes an incoming envelope: authenticated with the ring keys when there are some,
    /// plaintext otherwise. The only decoder of network input.
    pub(crate) fn open_wire<M: prost::Message + Default>(
        &self,
        bytes: &[u8],
    ) -> Result<M, DropReason> {
        self.ring_seal.open(bytes)
    }

    /// Sends an envelope from `wire::seal_plain`, sealed on the way out when there are ring keys.
    pub(crate) fn send_datagram(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        let bytes = self.ring_seal.seal_outgoing(bytes);
        self.metrics.record_sent(Channel::Datagram, bytes.len());
        self.net.send_datagram(to, bytes);
    }

    /// Like `send_datagram`, for stream frames.
    pub(crate) fn send_stream(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        let bytes = self.ring_seal.seal_outgoing(bytes);
        self.metrics.record_sent(Channel::Stream, bytes.len());
        self.net.send_stream(to, bytes);
    }

    /// Up to `k` distinct random positions in the member list whose (health, persistent)
    /// satisfy `want`, never `exclude`. Random probing first (cheap in big lists), then a scan
    /// from a random offset if that found too few.
    pub(crate) fn random_members(
        &mut self,
        k: usize,
        exclude: Option<MemberId>,
        want: impl Fn(Health, bool, bool) -> bool,
    ) -> Vec<usize> {
        let n = self.view.members.len();
        let mut out = Vec::with_capacity(k);
        if k == 0 || n == 0 {
            return out;
        }
        let ok = |this: &Self, i: usize| {
            this.view.members.health_at(i).is_some_and(|h| {
                want(
                    h,
                    this.view.members.persistent_at(i),
                    this.view.members.heard_at(i),
                )
            }) && this.view.members.id_at(i) != exclude
        };
        for _ in 0..(3 * k) {
            let i = self.rng.gen_range(0..n);
            if ok(self, i) && !out.contains(&i) {
                out.push(i);
                if out.len() == k {
                    return out;
                }
            }
        }
        let start = self.rng.gen_range(0..n);
        for j in 0..n {
            let i = (start + j) % n;
            if ok(self, i) && !out.contains(&i) {
                out.push(i);
                if out.len() == k {
                    break;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
