//! The discrete-event loop: members' engines, the network, the timeline, on one queue.
//!
//! Each queue item is processed at its virtual time by setting the shared clock, making
//! exactly one call into one engine (or applying one action), then draining that engine:
//! its outbox becomes deliveries through the [`NetworkModel`], its events update the
//! [`Metrics`] and `events.csv`, and its next deadline (re)schedules its timer. Each member has
//! at most one live timer entry; a per-member token makes superseded entries cheap to skip.
//!
//! Member `i` listens at `10.(i >> 16).(i >> 8 & 255).(i & 255):9638` (SWIM and gossip on the
//! same port), so an address maps back to its index by arithmetic.
//!
//! The rest of the world lives beside this loop: processes starting and stopping in
//! `lifecycle`, operator commands and services in `commands`, election metrics and
//! `leader:GROUP` in `elections`, what engines report in `observe`.

mod commands;
mod elections;
mod lifecycle;
mod observe;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use engine::{
    Engine, Event, Health, Instant, ManualClock, MemberId, Membership, Outbox, ServiceSpec,
};
use serde::Serialize;

use crate::expect::Judge;
use crate::metrics::Metrics;
use crate::network::{Fate, NetworkModel, Transport};
use crate::output::{self, Detection, End, Recorder, Summary};
use crate::plan::{Action, Plan};
use crate::scenario::StartMode;
use crate::seeds::{self, Stream};
use crate::traffic::TrafficSummary;

/// The port every simulated member listens on (SWIM and gossip).
pub const PORT: u16 = 9638;

type SimEngine = Engine<ManualClock, Outbox>;

/// Member `i`'s address.
pub fn address(i: u32) -> SocketAddr {
    let ip = Ipv4Addr::new(10, (i >> 16) as u8, (i >> 8) as u8, i as u8);
    SocketAddr::new(IpAddr::V4(ip), PORT)
}

/// The index of the member at `addr`, if it is one of `members` members.
pub fn index_of(addr: SocketAddr, members: u32) -> Option<u32> {
    let IpAddr::V4(ip) = addr.ip() else {
        return None;
    };
    let [a, b, c, d] = ip.octets();
    let i = u32::from_be_bytes([0, b, c, d]);
    (a == 10 && addr.port() == PORT && i < members).then_some(i)
}

/// A problem while running (the plan itself was already checked).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Writing an output file failed; the run stopped there.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// What failed.
        source: io::Error,
    },
    /// The engine refused the protocol config (should have been caught by the plan).
    #[error("{0}")]
    Config(#[from] engine::ConfigError),
}

/// One operator command, or a refused command, as listed in `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CommandRecord {
    /// Virtual seconds.
    pub time_s: f64,
    /// The action (`apply_config`, `upload_file`, `depart_member`, `update_service`,
    /// `announce_service`, `resolve_leader`).
    pub action: &'static str,
    /// The member whose engine took the command, if any was running.
    pub member: Option<u32>,
    /// Whether the engine accepted it.
    pub ok: bool,
    /// What was asked, or why it failed.
    pub detail: String,
}

/// What the run did, for the caller (also written as `summary.json`).
#[derive(Debug)]
pub struct Report {
    /// The summary.
    pub summary: Summary,
    /// Every crash of the run with its detection times (for the reports' plots).
    pub crashes: Vec<crate::metrics::Crash>,
}

/// Runs `plan` and writes its outputs into `out_dir`; progress lines go to stderr when
/// `progress` is set.
pub fn run(plan: &Plan, out_dir: &Path, progress: bool) -> Result<Report, RunError> {
    let started = std::time::Instant::now();
    let io_err = |path: &Path| {
        let path = path.display().to_string();
        move |source| RunError::Io { path, source }
    };
    let recorder = Recorder::create(out_dir).map_err(io_err(out_dir))?;
    let mut world = World::new(plan, recorder);
    world.progress = progress;
    output::write_members(out_dir, &world.member_table()).map_err(io_err(out_dir))?;
    world.start()?;
    world.run_loop(progress)?;
    let World {
        metrics,
        judge,
        recorder,
        events_processed,
        messages_lost,
        view_changes,
        refutations,
        dropped_inputs,
        commands,
        ids_by_index,
        record_copies,
        ..
    } = world;
    recorder.finish().map_err(io_err(out_dir))?;
    let crashes = metrics.crashes();
    let latency = |f: fn(&crate::metrics::Crash) -> Option<u64>| {
        crate::metrics::Latency::of(
            crashes
                .iter()
                .filter_map(|c| f(c).map(|t| t.saturating_sub(c.at_ns)))
                .collect(),
        )
    };
    let summary = Summary {
        name: plan.name.clone(),
        passed: judge.all_passed(),
        expectations: judge.outcomes(),
        members: plan.members,
        seed: plan.seed,
        virtual_seconds: plan.end_ns as f64 / 1e9,
        wall_seconds: started.elapsed().as_secs_f64(),
        events_processed,
        messages_sent: metrics.messages_sent,
        bytes_sent: metrics.bytes_sent,
        messages_lost,
        view_changes,
        refutations,
        dropped_inputs,
        false_suspected: metrics.false_suspected,
        false_confirmed: metrics.false_confirmed,
        detection: Detection {
            first_suspect: latency(|c| c.first_suspect_ns),
            first_confirmed: latency(|c| c.first_confirmed_ns),
            all_confirmed: latency(|c| c.all_confirmed_ns),
        },
        end: End {
            live: metrics.live_count(),
            convergence: metrics.convergence(),
        },
        rumor_convergence: crate::coverage::convergence_list(&metrics.coverage, &ids_by_index),
        rumor_coverage: crate::coverage::totals(&metrics.coverage),
        traffic: TrafficSummary::of(&metrics.traffic, metrics.member_seconds()),
        redundancy: crate::traffic::Redundancy::of(&metrics.traffic, metrics.rumor_copies_needed),
        rumors_rejected: metrics.rumors_rejected,
        record_copies,
        elections: metrics.elections.records(),
        commands,
    };
    output::write_summary(out_dir, &summary).map_err(io_err(out_dir))?;
    Ok(Report {
        summary,
        crashes: crashes.to_vec(),
    })
}

/// What a queue item does.
#[derive(Debug)]
enum Item {
    /// Member's timer, valid while `token` matches.
    Timer { member: u32, token: u32 },
    /// A message arrives.
    Deliver {
        to: u32,
        from: u32,
        transport: Transport,
        bytes: Vec<u8>,
    },
    /// The `index`-th step of the timeline.
    Step(u32),
    /// A paused member resumes, valid while `token` matches.
    Resume { member: u32, token: u32 },
    /// A message a slow member takes in late (not delayed again).
    DeliverLate {
        to: u32,
        from: u32,
        transport: Transport,
        bytes: Vec<u8>,
    },
    /// Write a row of the time series.
    Sample,
    /// Check the expectations (at a window's start).
    Check,
}

/// A member's process.
enum Process {
    /// Not started yet (late joiner).
    Absent,
    /// Running.
    Running(Box<SimEngine>),
    /// Paused: inputs queue up, no timers fire.
    Paused(Box<SimEngine>, Vec<(u32, Transport, Vec<u8>)>),
    /// Crashed or departed.
    Down,
}

/// The simulator's state for one member (kept small: thousands per run).
struct Slot {
    process: Process,
    id: MemberId,
    /// Incarnation "persisted" by the last process, for a restart.
    incarnation: u64,
    restarts: u32,
    timer_token: u32,
    /// Time of the live timer entry, if any.
    timer_at: Option<u64>,
    pause_token: u32,
    /// While `now < slow_until_ns`, inputs are taken in `slow_delay_ns` late.
    slow_until_ns: u64,
    slow_delay_ns: u64,
    /// The rumor store "persisted" by the last process (`RumorStore::export`), for a restart.
    rumors: Option<Vec<u8>>,
}

struct World<'p> {
    plan: &'p Plan,
    clock: ManualClock,
    queue: crate::queue::Queue<Item>,
    slots: Vec<Slot>,
    ids: HashMap<MemberId, u32>,
    network: NetworkModel,
    metrics: Metrics,
    judge: Judge,
    recorder: Recorder,
    now: u64,
    spare_outbox: Outbox,
    events_buf: Vec<Event>,
    events_processed: u64,
    messages_lost: u64,
    view_changes: u64,
    refutations: u64,
    dropped_inputs: u64,
    io_error: Option<io::Error>,
    /// Member ids by index.
    ids_by_index: Vec<MemberId>,
    /// Print warnings (refused commands) to stderr.
    progress: bool,
    /// Service specs changed by `update_service`: (member, service index) → spec.
    specs: HashMap<(u32, usize), ServiceSpec>,
    /// The events being drained were caused by a command on that member.
    local_command: bool,
    /// Members that learned an operator departed them, to stop after the drain.
    pending_stop: Vec<u32>,
    commands: Vec<CommandRecord>,
    /// Membership record copies of the engines that stopped, and at the end of all of them.
    record_copies: crate::traffic::RecordCopies,
}

impl<'p> World<'p> {
    fn new(plan: &'p Plan, recorder: Recorder) -> Self {
        let mut slots = Vec::with_capacity(plan.members as usize);
        let mut ids = HashMap::with_capacity(plan.members as usize);
        let mut ids_by_index = Vec::with_capacity(plan.members as usize);
        for i in 0..plan.members {
            let id = MemberId::random(&mut seeds::rng(plan.seed, Stream::MemberId, u64::from(i)));
            ids.insert(id, i);
            ids_by_index.push(id);
            slots.push(Slot {
                process: Process::Absent,
                id,
                incarnation: 0,
                restarts: 0,
                timer_token: 0,
                timer_at: None,
                pause_token: 0,
                slow_until_ns: 0,
                slow_delay_ns: 0,
                rumors: None,
            });
        }
        let network = NetworkModel::new(
            plan.members,
            plan.network,
            plan.zones.clone(),
            seeds::rng(plan.seed, Stream::Network, 0),
        );
        World {
            plan,
            clock: ManualClock::new(Instant::ZERO),
            queue: crate::queue::Queue::new(),
            slots,
            ids,
            network,
            metrics: {
                let mut metrics = Metrics::new(plan.members);
                metrics.elections = crate::elections::Elections::new(&plan.services);
                metrics
            },
            judge: Judge::new(&plan.expectations, &ids_by_index),
            recorder,
            now: 0,
            spare_outbox: Outbox::default(),
            events_buf: Vec::new(),
            events_processed: 0,
            messages_lost: 0,
            view_changes: 0,
            refutations: 0,
            dropped_inputs: 0,
            io_error: None,
            ids_by_index,
            progress: false,
            specs: HashMap::new(),
            local_command: false,
            pending_stop: Vec::new(),
            commands: Vec::new(),
            record_copies: Default::default(),
        }
    }

    fn member_table(&self) -> Vec<(MemberId, SocketAddr)> {
        (0..self.plan.members)
            .map(|i| (self.slots[i as usize].id, address(i)))
            .collect()
    }

    /// Starts the initial members and schedules samples, checks and the timeline.
    fn start(&mut self) -> Result<(), RunError> {
        let plan = self.plan;
        self.update_sides();
        let present: Vec<u32> = (0..plan.members)
            .filter(|&i| !plan.late[i as usize])
            .collect();
        // The converged view, sorted by member id once: each engine's copy (without itself)
        // is then already in the member list's order, so building n lists of n members costs
        // n² copies instead of n sorts of n random ids.
        let mut converged: Vec<(u32, Membership)> = Vec::new();
        if plan.bootstrap == StartMode::Converged {
            converged = present
                .iter()
                .map(|&s| {
                    let member = self.member_record(s);
                    (
                        s,
                        Membership {
                            member,
                            health: Health::Alive,
                        },
                    )
                })
                .collect();
            converged.sort_by_key(|(_, m)| m.member.id);
        }
        for &i in &present {
            let mut engine = self.new_engine(i)?;
            if plan.bootstrap == StartMode::Converged {
                engine.insert_members(converged.iter().filter(|(s, _)| *s != i).map(|(_, m)| *m));
                let view = present
                    .iter()
                    .filter(|&&s| s != i)
                    .map(|&s| (s, Health::Alive));
                self.metrics.member_up(i, view);
            } else {
                self.metrics.member_up(i, []);
            }
            self.slots[i as usize].process = Process::Running(Box::new(engine));
        }
        for &i in &present {
            self.announce_services(i);
        }
        let peers = self.peer_addresses();
        for &i in &present {
            if let Process::Running(engine) = &mut self.slots[i as usize].process {
                engine.join(&peers);
            }
            self.drain(i, false);
        }
        self.queue.push(0, Item::Sample);
        for at in self.judge.check_times() {
            self.queue.push(at, Item::Check);
        }
        for (k, step) in plan.timeline.iter().enumerate() {
            self.queue.push(step.at_ns, Item::Step(k as u32));
        }
        Ok(())
    }

    fn run_loop(&mut self, progress: bool) -> Result<(), RunError> {
        let end = self.plan.end_ns;
        let bar = crate::progress::RunProgress::new(end, progress);
        let step = bar.step_ns();
        let mut next_report = step;
        let wall = std::time::Instant::now();
        while let Some(at) = self.queue.peek_time() {
            if at > end {
                break;
            }
            let Some((at, item)) = self.queue.pop() else {
                break;
            };
            self.now = at;
            self.clock.set(Instant::from_nanos(at));
            self.metrics.advance(at);
            self.process(item)?;
            if let Some(e) = self.io_error.take() {
                return Err(RunError::Io {
                    path: "output".into(),
                    source: e,
                });
            }
            if bar.enabled() && at >= next_report {
                bar.update(at, || {
                    format!(
                        "sim: {} {:.0}s/{:.0}s ({}%), {} events, {} live, convergence {:.4}, wall {:.1}s",
                        self.plan.name,
                        at as f64 / 1e9,
                        end as f64 / 1e9,
                        u128::from(at) * 100 / u128::from(end.max(1)),
                        self.events_processed,
                        self.metrics.live_count(),
                        self.metrics.convergence(),
                        wall.elapsed().as_secs_f64()
                    )
                });
                next_report = (at / step + 1) * step;
            }
        }
        bar.finish();
        self.now = end;
        self.metrics.advance(end);
        self.judge.check(end, &self.metrics);
        for slot in &self.slots {
            if let Process::Running(engine) | Process::Paused(engine, _) = &slot.process {
                self.record_copies.add(engine.metrics());
            }
        }
        Ok(())
    }

    fn process(&mut self, item: Item) -> Result<(), RunError> {
        match item {
            Item::Timer { member, token } => {
                let slot = &mut self.slots[member as usize];
                if slot.timer_token != token {
                    return Ok(()); // superseded
                }
                slot.timer_at = None;
                self.events_processed += 1;
                if let Process::Running(engine) = &mut slot.process {
                    engine.handle_timeout();
                    self.drain(member, true);
                }
            }
            Item::Deliver {
                to,
                from,
                transport,
                bytes,
            } => {
                self.events_processed += 1;
                let slot = &self.slots[to as usize];
                if self.now < slot.slow_until_ns && matches!(slot.process, Process::Running(_)) {
                    let at = self.now.saturating_add(slot.slow_delay_ns);
                    self.queue.push(
                        at,
                        Item::DeliverLate {
                            to,
                            from,
                            transport,
                            bytes,
                        },
                    );
                    return Ok(());
                }
                self.take_input(to, from, transport, bytes);
            }
            Item::Step(k) => {
                self.events_processed += 1;
                let step = &self.plan.timeline[k as usize];
                let mut action = step.action.clone();
                if !step.leaders.is_empty() {
                    let leaders = self.resolve_leaders(&step.leaders);
                    action.add_members(&leaders);
                }
                self.apply(action)?;
                self.update_sides();
                self.judge.check(self.now, &self.metrics);
            }
            Item::DeliverLate {
                to,
                from,
                transport,
                bytes,
            } => self.take_input(to, from, transport, bytes),
            Item::Resume { member, token } => {
                if self.slots[member as usize].pause_token == token {
                    self.events_processed += 1;
                    self.resume(member);
                }
            }
            Item::Sample => {
                self.events_processed += 1;
                let sample = self.metrics.sample(self.now);
                if let Err(e) = self.recorder.sample(&sample) {
                    self.io_error = Some(e);
                }
                self.judge.check(self.now, &self.metrics);
                let end = self.plan.end_ns;
                if self.now < end {
                    let next = self
                        .now
                        .saturating_add(self.plan.sample_interval_ns)
                        .min(end);
                    self.queue.push(next, Item::Sample);
                }
            }
            Item::Check => {
                self.events_processed += 1;
                self.judge.check(self.now, &self.metrics);
            }
        }
        Ok(())
    }

    /// A message reaches member `to`'s process: a running one takes it now, a paused one
    /// queues it, and without a process it is lost.
    fn take_input(&mut self, to: u32, from: u32, transport: Transport, bytes: Vec<u8>) {
        match &mut self.slots[to as usize].process {
            Process::Running(_) => self.deliver(to, from, transport, &bytes),
            Process::Paused(_, queued) => queued.push((from, transport, bytes)),
            Process::Absent | Process::Down => self.messages_lost += 1,
        }
    }

    /// Hands one message to a running member and drains it.
    fn deliver(&mut self, to: u32, from: u32, transport: Transport, bytes: &[u8]) {
        if let Process::Running(engine) = &mut self.slots[to as usize].process {
            match transport {
                Transport::Datagram => engine.handle_datagram(address(from), bytes),
                Transport::Stream => engine.handle_stream(address(from), bytes),
            }
            self.drain(to, false);
        }
    }

    /// Applies one timeline action: network changes here, the rest through the lifecycle
    /// (`lifecycle`) and operator (`commands`) modules.
    fn apply(&mut self, action: Action) -> Result<(), RunError> {
        match action {
            Action::Partition(groups) => self.network.partition(&groups),
            Action::PartitionOneWay(from, to) => self.network.partition_one_way(&from, &to),
            Action::Heal => self.network.heal(),
            Action::Isolate(members) => self.network.isolate(&members),
            Action::SetNetwork(params) => self.network.set_params(params),
            Action::SetLink(a, b, link) => {
                if let Some(z) = self.network.zones_mut() {
                    z.set_link(a, b, link);
                }
            }
            Action::Crash(members) => self.crash(&members),
            Action::Restart(members) => self.restart(&members)?,
            Action::Pause(members, duration) => self.pause(&members, duration),
            Action::Slow(members, duration, delay) => self.slow(&members, duration, delay),
            Action::Join(members) => self.join(&members)?,
            Action::Depart(members) => self.depart(&members),
            Action::ApplyConfig {
                group,
                version,
                payload,
                via,
            } => self.apply_config(group, version, payload, via),
            Action::UploadFile {
                group,
                version,
                file,
                payload,
                via,
            } => self.upload_file(group, version, file, payload, via),
            Action::DepartMember { members, via } => self.depart_member(&members, via),
            Action::UpdateService {
                group,
                members,
                pkg,
                cfg,
            } => self.update_service(&group, &members, pkg.as_deref(), cfg.as_deref()),
        }
        Ok(())
    }

    /// After a call into member `i`: send its output, record its events, reschedule its timer.
    /// `after_timeout`: the call was `handle_timeout`, so a deadline not after now is the
    /// engine's own bug and is pushed 1 µs on to keep the run moving.
    fn drain(&mut self, i: u32, after_timeout: bool) {
        let mut outbox = std::mem::take(&mut self.spare_outbox);
        let mut events = std::mem::take(&mut self.events_buf);
        let deadline = {
            let Process::Running(engine) = &mut self.slots[i as usize].process else {
                self.spare_outbox = outbox;
                self.events_buf = events;
                return;
            };
            std::mem::swap(engine.network_mut(), &mut outbox);
            while let Some(e) = engine.poll_event() {
                events.push(e);
            }
            engine.poll_timeout()
        };
        for (to, bytes) in outbox.datagrams.drain(..) {
            self.send(i, to, Transport::Datagram, bytes);
        }
        for (to, bytes) in outbox.streams.drain(..) {
            self.send(i, to, Transport::Stream, bytes);
        }
        for e in events.drain(..) {
            self.on_event(i, e);
        }
        self.spare_outbox = outbox;
        self.events_buf = events;
        let mut at = deadline.map(|d| d.as_nanos().max(self.now));
        if after_timeout && at == Some(self.now) {
            at = Some(self.now + 1_000);
        }
        let slot = &mut self.slots[i as usize];
        if at != slot.timer_at {
            slot.timer_token = slot.timer_token.wrapping_add(1);
            slot.timer_at = at;
            if let Some(at) = at {
                let token = slot.timer_token;
                self.queue.push(at, Item::Timer { member: i, token });
            }
        }
        while let Some(m) = self.pending_stop.pop() {
            self.stop(m);
        }
    }

    /// [`Self::drain`] after a command on member `i`: the rumors it applies are its own, not
    /// copies it needed.
    fn drain_command(&mut self, i: u32) {
        self.local_command = true;
        self.drain(i, false);
        self.local_command = false;
    }

    fn send(&mut self, from: u32, to: SocketAddr, transport: Transport, bytes: Vec<u8>) {
        self.metrics.messages_sent += 1;
        self.metrics.bytes_sent += bytes.len() as u64;
        match transport {
            Transport::Datagram => self.metrics.traffic.datagram(&bytes),
            Transport::Stream => self.metrics.traffic.stream(&bytes),
        }
        let channel = &mut self.metrics.by_channel[transport as usize];
        channel[0] += 1;
        channel[1] += bytes.len() as u64;
        let Some(to) = index_of(to, self.plan.members) else {
            self.messages_lost += 1;
            return;
        };
        match self.network.transmit(from, to, transport) {
            Fate::Blocked | Fate::Lost => self.messages_lost += 1,
            Fate::Delivered(d) => self.arrive(self.now + d, to, from, transport, bytes),
            Fate::Duplicated(d1, d2) => {
                let copy = bytes.clone();
                self.arrive(self.now + d1, to, from, transport, bytes);
                self.arrive(self.now + d2, to, from, transport, copy);
            }
        }
    }

    /// Queues a message's arrival at member `to` at `at`.
    fn arrive(&mut self, at: u64, to: u32, from: u32, transport: Transport, bytes: Vec<u8>) {
        let item = Item::Deliver {
            to,
            from,
            transport,
            bytes,
        };
        self.queue.push(at, item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_map_back_to_indices() {
        for i in [0, 1, 255, 256, 65_535, 65_536, 199_999] {
            assert_eq!(index_of(address(i), 200_000), Some(i));
        }
        assert_eq!(address(258).to_string(), "10.0.1.2:9638");
        assert_eq!(index_of(address(5), 5), None);
        assert_eq!(index_of("10.0.0.1:1".parse().expect("addr"), 5), None);
        assert_eq!(index_of("11.0.0.1:9638".parse().expect("addr"), 5), None);
    }
}
