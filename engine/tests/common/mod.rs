//! A small in-test network of engines, driven only through the public calling contract.

#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use engine::{
    Clock, Config, Engine, Event, Health, Instant, ManualClock, Member, MemberId, Outbox,
};

pub type Node = Engine<ManualClock, Outbox>;

pub fn addr(i: usize) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i as u8 + 1)), 9638)
}

pub fn id(i: usize) -> MemberId {
    MemberId::from_u128(0xabc0_0000 + i as u128)
}

/// A message in flight: (delivery time, sequence, to, from, is a stream frame, bytes).
type InFlight = (Instant, u64, usize, SocketAddr, bool, Vec<u8>);

/// Engines on one virtual clock; every message takes `latency`; crashed members receive
/// nothing and run no timers.
pub struct Net {
    pub clock: ManualClock,
    pub nodes: Vec<Node>,
    pub crashed: BTreeSet<usize>,
    queue: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    pub latency: Duration,
    /// Every event, with the index of the engine that reported it.
    pub events: Vec<(usize, Event)>,
    /// Every byte sent, in order: two runs from the same seeds must agree.
    pub sent: Vec<(usize, SocketAddr, Vec<u8>)>,
}

impl Net {
    pub fn new(n: usize, seed: u8) -> Net {
        Net::with_config(n, seed, Config::local())
    }

    /// `n` engines with `config`, all joining through the first.
    pub fn with_config(n: usize, seed: u8, config: Config) -> Net {
        let clock = ManualClock::new(Instant::from_secs(1));
        let nodes = (0..n)
            .map(|i| {
                let mut s = [seed; 32];
                s[0] = i as u8;
                Engine::new(
                    config.clone(),
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
    pub fn flush(&mut self, i: usize) {
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
    pub fn run_until(&mut self, until: Instant) {
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

    pub fn run_for(&mut self, d: Duration) {
        let until = self.clock.now() + d;
        self.run_until(until);
    }

    /// How engine `observer` holds member `subject`.
    pub fn health(&self, observer: usize, subject: usize) -> Option<Health> {
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
