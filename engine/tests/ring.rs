//! The engine from the outside: a small in-test network drives several `Engine`s only through
//! the public calling contract — `handle_datagram`, `handle_stream`, `handle_timeout` in,
//! `poll_timeout`, `poll_event` and the `Outbox` out — as a production driver or the simulator
//! would. Every loop is bounded in virtual time.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use engine::{
    Clock, Config, DropReason, Engine, Event, Health, Instant, ManualClock, Member,
    MemberEventKind, MemberId, Outbox, ServiceGroup, ServiceSpec,
};

type Node = Engine<ManualClock, Outbox>;

fn addr(i: usize) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i as u8 + 1)), 9638)
}

fn id(i: usize) -> MemberId {
    MemberId::from_u128(0xabc0_0000 + i as u128)
}

/// A message in flight: (delivery time, sequence, to, from, is a stream frame, bytes).
type InFlight = (Instant, u64, usize, SocketAddr, bool, Vec<u8>);

/// Engines on one virtual clock; every message takes `latency`; crashed members receive
/// nothing and run no timers.
struct Net {
    clock: ManualClock,
    nodes: Vec<Node>,
    crashed: BTreeSet<usize>,
    queue: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    latency: Duration,
    /// Every event, with the index of the engine that reported it.
    events: Vec<(usize, Event)>,
    /// Every byte sent, in order: two runs from the same seeds must agree.
    sent: Vec<(usize, SocketAddr, Vec<u8>)>,
}

impl Net {
    fn new(n: usize, seed: u8) -> Net {
        let clock = ManualClock::new(Instant::from_secs(1));
        let nodes = (0..n)
            .map(|i| {
                let mut s = [seed; 32];
                s[0] = i as u8;
                Engine::new(
                    Config::local(),
                    Member::new(id(i), addr(i)),
                    s,
                    clock.clone(),
                    Outbox::default(),
                )
                .expect("the local preset is valid")
            })
            .collect();
        let mut net = Net {
            clock,
            nodes,
            crashed: BTreeSet::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            latency: Duration::from_millis(2),
            events: Vec::new(),
            sent: Vec::new(),
        };
        for i in 1..n {
            net.nodes[i].join(&[addr(0)]);
            net.flush(i);
        }
        net
    }

    /// Moves what engine `i` sent into flight and its events into the log.
    fn flush(&mut self, i: usize) {
        let at = self.clock.now() + self.latency;
        let out = std::mem::take(self.nodes[i].network_mut());
        while let Some(ev) = self.nodes[i].poll_event() {
            self.events.push((i, ev));
        }
        let all = out.datagrams.into_iter().map(|m| (m, false));
        for ((to, bytes), stream) in all.chain(out.streams.into_iter().map(|m| (m, true))) {
            self.sent.push((i, to, bytes.clone()));
            let Some(j) = (0..self.nodes.len()).find(|&j| addr(j) == to) else {
                continue;
            };
            self.seq += 1;
            self.queue
                .push(Reverse((at, self.seq, j, addr(i), stream, bytes)));
        }
    }

    /// Delivers messages and fires timers in time order until `until`.
    fn run_until(&mut self, until: Instant) {
        loop {
            let next_msg = self.queue.peek().map(|Reverse(m)| m.0);
            let next_timer = (0..self.nodes.len())
                .filter(|i| !self.crashed.contains(i))
                .filter_map(|i| self.nodes[i].poll_timeout().map(|t| (t, i)))
                .min();
            let timer_first = match (next_timer, next_msg) {
                (Some((t, _)), Some(m)) => t < m,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if timer_first {
                let Some((t, i)) = next_timer.filter(|(t, _)| *t <= until) else {
                    break;
                };
                self.clock.set(t.max(self.clock.now()));
                self.nodes[i].handle_timeout();
                self.flush(i);
            } else {
                let Some(Reverse((at, _, to, from, stream, bytes))) = self.queue.pop_if_due(until)
                else {
                    break;
                };
                self.clock.set(at.max(self.clock.now()));
                if self.crashed.contains(&to) {
                    continue;
                }
                if stream {
                    self.nodes[to].handle_stream(from, &bytes);
                } else {
                    self.nodes[to].handle_datagram(from, &bytes);
                }
                self.flush(to);
            }
        }
        self.clock.set(until.max(self.clock.now()));
    }

    fn run_for(&mut self, d: Duration) {
        let until = self.clock.now() + d;
        self.run_until(until);
    }

    /// How engine `observer` holds member `subject`.
    fn health(&self, observer: usize, subject: usize) -> Option<Health> {
        self.nodes[observer].members().health(id(subject))
    }
}

trait PopIfDue {
    fn pop_if_due(&mut self, until: Instant) -> Option<Reverse<InFlight>>;
}

impl PopIfDue for BinaryHeap<Reverse<InFlight>> {
    fn pop_if_due(&mut self, until: Instant) -> Option<Reverse<InFlight>> {
        if self.peek().is_some_and(|Reverse(m)| m.0 <= until) {
            self.pop()
        } else {
            None
        }
    }
}

#[test]
fn members_that_join_through_one_seed_all_see_each_other_alive() {
    let mut net = Net::new(6, 1);
    net.run_for(Duration::from_secs(20));
    for i in 0..6 {
        for j in (0..6).filter(|&j| j != i) {
            assert_eq!(net.health(i, j), Some(Health::Alive), "{i} about {j}");
        }
    }
    let joined = net
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Member(m) if m.kind == MemberEventKind::Joined))
        .count();
    assert_eq!(joined, 6 * 5, "each member reports each other joining once");
}

#[test]
fn a_crashed_member_is_suspected_then_confirmed_by_everyone_else() {
    let mut net = Net::new(5, 2);
    net.run_for(Duration::from_secs(20));
    net.crashed.insert(4);
    net.run_for(Duration::from_secs(60));
    for i in 0..4 {
        assert_eq!(
            net.health(i, 4),
            Some(Health::Confirmed),
            "{i} about the crashed member"
        );
        for j in (0..4).filter(|&j| j != i) {
            assert_eq!(net.health(i, j), Some(Health::Alive), "{i} about live {j}");
        }
    }
    let suspected = net.events.iter().any(|(_, e)| {
        matches!(e, Event::Member(m) if m.subject == id(4) && m.kind == MemberEventKind::Suspected)
    });
    assert!(suspected, "the crash is suspected before it is confirmed");
}

#[test]
fn the_same_seeds_send_the_same_bytes() {
    let run = |seed| {
        let mut net = Net::new(5, seed);
        net.run_for(Duration::from_secs(30));
        net.sent
    };
    let (a, b) = (run(3), run(3));
    assert!(!a.is_empty());
    assert_eq!(a, b, "same seeds and inputs, same bytes");
    assert_ne!(a, run(4), "another seed orders probes differently");
}

#[test]
fn a_config_applied_on_one_member_reaches_every_census() {
    let mut net = Net::new(5, 5);
    net.run_for(Duration::from_secs(10));
    let group: ServiceGroup = "redis.default".parse().expect("a valid group");
    for i in 0..5 {
        net.nodes[i]
            .announce_service(group.clone(), ServiceSpec::default())
            .expect("announce");
        net.flush(i);
    }
    net.nodes[2]
        .apply_config(group.clone(), 7, b"port = 6380".to_vec())
        .expect("apply");
    net.flush(2);
    net.run_for(Duration::from_secs(30));
    for i in 0..5 {
        let census = net.nodes[i]
            .census_group(&group)
            .expect("the group is known");
        assert_eq!(census.members.len(), 5, "member {i} sees every service");
        let config = census.config.expect("a config is in force");
        assert_eq!(config.incarnation.0, 7);
        assert_eq!(config.config, b"port = 6380");
    }
}

#[test]
fn a_member_that_departs_is_departed_everywhere_and_stays_out() {
    let mut net = Net::new(4, 6);
    net.run_for(Duration::from_secs(15));
    net.nodes[3].depart();
    net.flush(3);
    net.run_for(Duration::from_secs(5));
    net.crashed.insert(3);
    net.run_for(Duration::from_secs(30));
    assert!(net.nodes[3].is_departed());
    for i in 0..3 {
        assert_eq!(
            net.health(i, 3),
            Some(Health::Departed),
            "{i} about the departed member"
        );
    }
}

#[test]
fn garbage_on_either_channel_is_dropped_and_counted_not_fatal() {
    let mut net = Net::new(3, 7);
    net.run_for(Duration::from_secs(10));
    let stranger = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9)), 9638);
    let inputs: [&[u8]; 4] = [
        b"",
        &[0xff; 3],
        &[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f],
        &[0; 2000],
    ];
    for bytes in inputs {
        net.nodes[0].handle_datagram(stranger, bytes);
        net.nodes[0].handle_stream(stranger, bytes);
    }
    net.flush(0);
    let dropped = net.nodes[0].metrics().dropped_total();
    assert!(dropped >= 8, "every bad input is counted, got {dropped}");
    let reported = net
        .events
        .iter()
        .filter(|(i, e)| *i == 0 && matches!(e, Event::Dropped { .. }));
    assert!(reported.count() >= 8, "and reported as an event");
    assert!(net.nodes[0].metrics().dropped(DropReason::ALL[0]) <= dropped);
    // The ring goes on as if nothing had happened.
    net.run_for(Duration::from_secs(10));
    for i in 0..3 {
        for j in (0..3).filter(|&j| j != i) {
            assert_eq!(net.health(i, j), Some(Health::Alive));
        }
    }
}
