//! Engine behaviour, driven through a tiny deterministic network in which every message takes
//! one millisecond and chosen links can be cut.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::net::SocketAddr;
use std::time::Duration;

use super::*;
use crate::event::MemberEventKind;
use crate::membership::{Cause, Change};
use crate::network::Outbox;
use crate::time::ManualClock;
use crate::wire::{self, Swim, SwimPayload, SwimType};

type TestEngine = Engine<ManualClock, Outbox>;

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, (i + 1) as u8], 9638))
}

fn id(i: usize) -> MemberId {
    MemberId::from_u128(0x1000 + i as u128)
}

fn member(i: usize) -> Member {
    Member::new(id(i), addr(i))
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Datagram,
    Stream,
}

/// A message in flight: (delivery time, sequence, from, to, channel, bytes).
type InFlight = (Instant, u64, usize, usize, Kind, Vec<u8>);

struct Ring {
    clock: ManualClock,
    engines: Vec<Option<TestEngine>>,
    queue: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    /// (from, to) pairs whose messages vanish.
    cut: BTreeSet<(usize, usize)>,
    /// Members whose incoming stream frames vanish (datagrams still arrive).
    stream_cut: BTreeSet<usize>,
    events: Vec<(usize, Event)>,
    /// How late timers fire (a real process never wakes exactly on time).
    timer_lag: Duration,
}

impl Ring {
    fn new(n: usize, config: Config, persistent: &[usize]) -> Ring {
        let clock = ManualClock::new(Instant::from_secs(1));
        let engines = (0..n)
            .map(|i| {
                let mut me = member(i);
                me.persistent = persistent.contains(&i);
                let mut seed = [0u8; 32];
                seed[0] = i as u8;
                Some(
                    Engine::new(config.clone(), me, seed, clock.clone(), Outbox::default())
                        .expect("valid"),
                )
            })
            .collect();
        let mut ring = Ring {
            clock,
            engines,
            queue: BinaryHeap::new(),
            seq: 0,
            cut: BTreeSet::new(),
            stream_cut: BTreeSet::new(),
            events: Vec::new(),
            timer_lag: Duration::ZERO,
        };
        for i in 1..n {
            ring.engine(i).join(&[addr(0)]);
        }
        ring.flush_all();
        ring
    }

    fn engine(&mut self, i: usize) -> &mut TestEngine {
        self.engines[i].as_mut().expect("engine is running")
    }

    fn index(a: SocketAddr) -> usize {
        match a.ip() {
            std::net::IpAddr::V4(v4) => v4.octets()[3] as usize - 1,
            std::net::IpAddr::V6(_) => usize::MAX,
        }
    }

    fn flush(&mut self, i: usize) {
        let now = self.clock.now();
        let Some(e) = self.engines[i].as_mut() else {
            return;
        };
        let out = std::mem::take(e.network_mut());
        while let Some(ev) = e.poll_event() {
            self.events.push((i, ev));
        }
        for (to, bytes) in out.datagrams {
            self.seq += 1;
            let at = now + Duration::from_millis(1);
            self.queue.push(Reverse((
                at,
                self.seq,
                i,
                Self::index(to),
                Kind::Datagram,
                bytes,
            )));
        }
        for (to, bytes) in out.streams {
            self.seq += 1;
            let at = now + Duration::from_millis(1);
            self.queue.push(Reverse((
                at,
                self.seq,
                i,
                Self::index(to),
                Kind::Stream,
                bytes,
            )));
        }
    }

    fn flush_all(&mut self) {
        for i in 0..self.engines.len() {
            self.flush(i);
        }
    }

    /// Runs deliveries and timers until `until`.
    fn run_until(&mut self, until: Instant) {
        loop {
            let next_msg = self.queue.peek().map(|Reverse((at, ..))| *at);
            let next_timer = self
                .engines
                .iter()
                .enumerate()
                .filter_map(|(i, e)| e.as_ref().and_then(|e| e.poll_timeout()).map(|t| (t, i)))
                .min();
            let next = match (next_msg, next_timer) {
                (Some(m), Some((t, _))) => m.min(t),
                (Some(m), None) => m,
                (None, Some((t, _))) => t,
                (None, None) => break,
            };
            if next > until {
                break;
            }
            self.clock.set(next.max(self.clock.now()));
            if next_msg == Some(next) {
                let Some(Reverse((_, _, from, to, kind, bytes))) = self.queue.pop() else {
                    break;
                };
                if self.cut.contains(&(from, to))
                    || (kind == Kind::Stream && self.stream_cut.contains(&to))
                    || to >= self.engines.len()
                {
                    continue;
                }
                let Some(e) = self.engines[to].as_mut() else {
                    continue;
                };
                match kind {
                    Kind::Datagram => e.handle_datagram(addr(from), &bytes),
                    Kind::Stream => e.handle_stream(addr(from), &bytes),
                }
                self.flush(to);
            } else if let Some((_, i)) = next_timer {
                self.clock.set(next + self.timer_lag);
                self.engine(i).handle_timeout();
                self.flush(i);
            }
        }
        self.clock.set(until.max(self.clock.now()));
    }

    fn run_for(&mut self, d: Duration) {
        let until = self.clock.now() + d;
        self.run_until(until);
    }

    fn health(&self, observer: usize, subject: usize) -> Option<Health> {
        self.engines[observer]
            .as_ref()
            .and_then(|e| e.members().health(id(subject)))
    }

    fn isolate(&mut self, x: usize) {
        for j in 0..self.engines.len() {
            self.cut.insert((x, j));
            self.cut.insert((j, x));
        }
    }

    fn saw(&self, observer: usize, subject: usize, kind: MemberEventKind) -> bool {
        self.events.iter().any(|(o, e)| {
            *o == observer
                && matches!(e, Event::Member(m) if m.subject == id(subject) && m.kind == kind)
        })
    }
}

/// Plain SWIM, as Butterfly runs it (the Lifeguard tests switch it on explicitly).
fn local() -> Config {
    Config {
        lifeguard: false,
        ..Config::local()
    }
}

fn lifeguard() -> Config {
    Config::local()
}

#[test]
fn members_join_through_one_peer_and_all_become_alive() {
    let mut ring = Ring::new(6, local(), &[]);
    ring.run_for(Duration::from_secs(10));
    for i in 0..6 {
        for j in 0..6 {
            if i != j {
                assert_eq!(ring.health(i, j), Some(Health::Alive), "{i} sees {j}");
            }
        }
    }
    assert!(ring.saw(3, 5, MemberEventKind::Joined));
}

#[test]
fn silent_member_is_suspected_then_confirmed_after_the_suspicion_timeout() {
    let cfg = local();
    let mut ring = Ring::new(5, cfg.clone(), &[]);
    ring.run_for(Duration::from_secs(10));
    let crash_at = ring.clock.now();
    ring.engines[4] = None;
    // Within a couple of rounds someone suspects, and it is Confirmed a suspicion timeout later.
    ring.run_for(Duration::from_secs(3));
    assert!((0..4).any(|i| ring.saw(i, 4, MemberEventKind::Suspected)));
    ring.run_for(cfg.suspicion_timeout + Duration::from_secs(6));
    for i in 0..4 {
        assert_eq!(ring.health(i, 4), Some(Health::Confirmed), "observer {i}");
    }
    // Nobody was confirmed before the suspicion timeout had passed since the crash.
    let first_confirm = ring
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Member(m) if m.kind == MemberEventKind::Confirmed))
        .count();
    assert!(first_confirm >= 1);
    assert!(ring.clock.now() - crash_at >= cfg.suspicion_timeout);
}

#[test]
fn pingreq_relays_the_ack_around_a_broken_link() {
    let mut ring = Ring::new(4, local(), &[]);
    ring.run_for(Duration::from_secs(10));
    ring.events.clear();
    // 0 cannot reach 1 directly (both directions), but helpers can.
    ring.cut.insert((0, 1));
    ring.cut.insert((1, 0));
    let relayed_before = ring.engines[0].as_ref().map(|e| e.metrics().pingreqs_sent);
    ring.run_for(Duration::from_secs(30));
    assert_eq!(ring.health(0, 1), Some(Health::Alive));
    assert!(
        !ring.saw(0, 1, MemberEventKind::Suspected),
        "relayed Acks keep 1 Alive"
    );
    let relayed_after = ring.engines[0].as_ref().map(|e| e.metrics().pingreqs_sent);
    assert!(relayed_after > relayed_before, "0 had to use PingReq");
}

#[test]
fn without_helpers_a_cut_member_is_suspected() {
    let mut ring = Ring::new(2, local(), &[]);
    ring.run_for(Duration::from_secs(5));
    ring.cut.insert((0, 1));
    ring.cut.insert((1, 0));
    ring.run_for(Duration::from_secs(2));
    assert_ne!(ring.health(0, 1), Some(Health::Alive));
}

#[test]
fn false_suspicion_is_refuted_with_a_higher_incarnation() {
    let mut ring = Ring::new(3, local(), &[]);
    ring.run_for(Duration::from_secs(5));
    let before = ring.engine(2).incarnation();
    // Member 0 claims (in a Ping's piggyback) that 2 is Suspect at 2's own incarnation.
    let claim = Membership {
        member: Member {
            incarnation: before,
            ..member(2)
        },
        health: Health::Suspect,
    };
    let ping = Swim {
        r#type: SwimType::Ping as i32,
        seq: None,
        extensions: None,
        membership: vec![wire::Membership::from(&claim)],
        payload: Some(SwimPayload::Ping(wire::Ping {
            from: Some(wire::Member::from(&member(0))),
            forward_to: None,
            ..Default::default()
        })),
    };
    ring.engine(2)
        .handle_datagram(addr(0), &wire::seal_plain(&ping));
    assert_eq!(ring.engine(2).incarnation(), before.next());
    assert!(matches!(
        ring.engine(2).poll_event(),
        Some(Event::Refuted {
            accused: Health::Suspect,
            ..
        })
    ));
    ring.flush(2);
    ring.run_for(Duration::from_secs(5));
    for i in 0..2 {
        let seen = ring.engines[i]
            .as_ref()
            .and_then(|e| e.members().get(id(2)))
            .expect("known");
        assert_eq!(
            seen.member.incarnation,
            before.next(),
            "observer {i} learned the refutation"
        );
        assert_eq!(seen.health, Health::Alive);
    }
    // A claim about an older incarnation is ignored.
    let mut old = claim;
    old.member.incarnation = Incarnation(0);
    let ping = Swim {
        membership: vec![wire::Membership::from(&old)],
        ..ping
    };
    let inc = ring.engine(2).incarnation();
    ring.engine(2)
        .handle_datagram(addr(0), &wire::seal_plain(&ping));
    assert_eq!(ring.engine(2).incarnation(), inc);
}

#[test]
fn suspicion_expires_into_confirmed_but_refutation_in_time_cancels_it() {
    let cfg = local();
    let mut ring = Ring::new(3, cfg.clone(), &[]);
    ring.run_for(Duration::from_secs(5));
    // Tell 0 that 2 is Suspect, and cut 2 off from 0 only in the direction 2 → 0, so 0 hears
    // no refutation directly; 1 carries it.
    let held = ring.engine(0).members().get(id(2)).expect("known");
    let claim = Membership {
        health: Health::Suspect,
        ..held
    };
    let ack = Swim {
        r#type: SwimType::Ack as i32,
        seq: None,
        extensions: None,
        membership: vec![wire::Membership::from(&claim)],
        payload: Some(SwimPayload::Ack(wire::Ack {
            from: Some(wire::Member::from(&member(1))),
            forward_to: None,
            ..Default::default()
        })),
    };
    ring.engine(0)
        .handle_datagram(addr(1), &wire::seal_plain(&ack));
    assert_eq!(ring.health(0, 2), Some(Health::Suspect));
    ring.flush_all();
    ring.run_for(cfg.suspicion_timeout + Duration::from_secs(2));
    // 2 heard of the suspicion (0 piggybacks it) and refuted before the deadline.
    assert_eq!(ring.health(0, 2), Some(Health::Alive));
    assert!(ring.engine(2).incarnation() > held.member.incarnation);
}

#[test]
fn confirmed_rumor_about_a_live_member_is_checked_with_a_probe_ping() {
    let mut ring = Ring::new(3, local(), &[]);
    ring.run_for(Duration::from_secs(5));
    let held = ring.engine(0).members().get(id(2)).expect("known");
    let claim = Membership {
        health: Health::Confirmed,
        ..held
    };
    let gossip = |c: Membership| Swim {
        r#type: SwimType::Ack as i32,
        seq: None,
        extensions: None,
        membership: vec![wire::Membership::from(&c)],
        payload: Some(SwimPayload::Ack(wire::Ack {
            from: Some(wire::Member::from(&member(1))),
            forward_to: None,
            ..Default::default()
        })),
    };
    ring.engine(0)
        .handle_datagram(addr(1), &wire::seal_plain(&gossip(claim)));
    assert_eq!(
        ring.health(0, 2),
        Some(Health::Alive),
        "not applied blindly"
    );
    let sent = std::mem::take(ring.engine(0).network_mut());
    let probe = sent
        .datagrams
        .iter()
        .find(|(to, _)| *to == addr(2))
        .and_then(|(_, b)| wire::open_plain::<Swim>(b).ok())
        .expect("a datagram to member 2");
    assert_eq!(probe.r#type, SwimType::ProbePing as i32);
    assert_eq!(probe.membership.len(), 1, "it carries only the claim");
    ring.engine(0).network_mut().datagrams = sent.datagrams;
    ring.flush(0);
    ring.run_for(Duration::from_secs(3));
    assert_eq!(ring.health(0, 2), Some(Health::Alive), "2 answered");
    assert!(
        ring.engine(2).incarnation() > held.member.incarnation,
        "2 refuted the claim"
    );

    // When the member is really gone, the claim is applied after the ProbePing goes unanswered.
    ring.isolate(2);
    let held = ring.engine(0).members().get(id(2)).expect("known");
    if held.health == Health::Alive {
        let claim = Membership {
            health: Health::Confirmed,
            ..held
        };
        ring.engine(0)
            .handle_datagram(addr(1), &wire::seal_plain(&gossip(claim)));
        ring.flush(0);
    }
    ring.run_for(Duration::from_secs(12));
    assert_eq!(ring.health(0, 2), Some(Health::Confirmed));
}

#[test]
fn persistent_members_are_probed_while_confirmed_and_heal() {
    let cfg = local();
    let mut ring = Ring::new(4, cfg.clone(), &[3]);
    ring.run_for(Duration::from_secs(5));
    ring.isolate(3);
    ring.run_for(cfg.suspicion_timeout + Duration::from_secs(10));
    for i in 0..3 {
        assert_eq!(ring.health(i, 3), Some(Health::Confirmed), "observer {i}");
    }
    let probes_to_3 = |ring: &mut Ring| ring.engine(0).metrics().probes;
    let before = probes_to_3(&mut ring);
    ring.cut.clear();
    ring.run_for(Duration::from_secs(10));
    assert!(probes_to_3(&mut ring) > before);
    for i in 0..3 {
        assert_eq!(
            ring.health(i, 3),
            Some(Health::Alive),
            "observer {i} after heal"
        );
        assert_eq!(
            ring.health(3, i),
            Some(Health::Alive),
            "3 sees {i} after heal"
        );
    }
}

#[test]
fn non_persistent_confirmed_members_are_not_probed() {
    let cfg = local();
    let mut ring = Ring::new(3, cfg.clone(), &[]);
    ring.run_for(Duration::from_secs(5));
    ring.isolate(2);
    ring.run_for(cfg.suspicion_timeout + Duration::from_secs(10));
    assert_eq!(ring.health(0, 2), Some(Health::Confirmed));
    ring.cut.clear();
    let sent_to_2 = |ring: &mut Ring| {
        let out = std::mem::take(ring.engine(0).network_mut());
        let n = out
            .datagrams
            .iter()
            .filter(|(to, _)| *to == addr(2))
            .count();
        ring.engine(0).network_mut().datagrams = out.datagrams;
        n
    };
    // Step 0's timers alone for a while: it never pings 2.
    for _ in 0..40 {
        let t = ring.engine(0).poll_timeout().expect("timer");
        ring.clock.set(t);
        ring.engine(0).handle_timeout();
        assert_eq!(sent_to_2(&mut ring), 0);
        ring.engine(0).network_mut().datagrams.clear();
        ring.engine(0).network_mut().streams.clear();
    }
}

#[test]
fn graceful_departure_tells_up_to_ten_members_and_spreads() {
    let mut ring = Ring::new(14, local(), &[]);
    ring.run_for(Duration::from_secs(20));
    let inc = ring.engine(13).incarnation();
    ring.engine(13).depart();
    assert!(ring.engine(13).is_departed());
    assert_eq!(ring.engine(13).incarnation(), inc.next());
    let told = ring.engine(13).network().streams.len();
    assert_eq!(told, 10, "departure_fanout members told directly");
    assert_eq!(
        ring.engine(13).poll_timeout(),
        None,
        "a departed engine goes quiet"
    );
    ring.flush(13);
    ring.run_for(Duration::from_secs(10));
    for i in 0..13 {
        assert_eq!(ring.health(i, 13), Some(Health::Departed), "observer {i}");
    }
    // Input to a departed engine is dropped.
    let before = ring.engine(13).metrics().dropped(DropReason::SelfDeparted);
    ring.engine(13).handle_datagram(addr(0), &[1, 2, 3]);
    assert_eq!(
        ring.engine(13).metrics().dropped(DropReason::SelfDeparted),
        before + 1
    );
}

#[test]
fn garbage_input_is_dropped_and_counted() {
    let mut ring = Ring::new(2, local(), &[]);
    ring.run_for(Duration::from_secs(2));
    let e = ring.engine(0);
    e.handle_datagram(addr(1), &[0xff; 40]);
    e.handle_datagram(addr(1), &vec![0u8; 5000]);
    e.handle_stream(addr(1), b"not protobuf at all \xff\xff");
    // A well-formed Ping whose sender has a bad id.
    let mut bad = wire::Member::from(&member(1));
    bad.id = Some("nope".into());
    let ping = Swim {
        r#type: SwimType::Ping as i32,
        seq: None,
        extensions: None,
        membership: vec![],
        payload: Some(SwimPayload::Ping(wire::Ping {
            from: Some(bad),
            forward_to: None,
            ..Default::default()
        })),
    };
    e.handle_datagram(addr(1), &wire::seal_plain(&ping));
    // A Ping claiming to come from ourselves.
    let ping = Swim {
        r#type: SwimType::Ping as i32,
        seq: None,
        extensions: None,
        membership: vec![],
        payload: Some(SwimPayload::Ping(wire::Ping {
            from: Some(wire::Member::from(&member(0))),
            forward_to: None,
            ..Default::default()
        })),
    };
    e.handle_datagram(addr(1), &wire::seal_plain(&ping));
    let m = e.metrics();
    assert_eq!(m.dropped(DropReason::Oversized), 1);
    assert_eq!(m.dropped(DropReason::Invalid), 1);
    assert_eq!(m.dropped(DropReason::NotForUs), 1);
    assert!(m.dropped(DropReason::Malformed) >= 2);
    assert!(e.network().datagrams.is_empty(), "nothing answered garbage");
}

#[test]
fn piggyback_respects_the_datagram_limit() {
    let mut cfg = local();
    cfg.max_datagram_size = 512;
    cfg.piggyback_max = 100;
    let mut ring = Ring::new(30, cfg, &[]);
    ring.run_for(Duration::from_secs(10));
    for i in 0..30 {
        let out = std::mem::take(ring.engine(i).network_mut());
        for (_, d) in &out.datagrams {
            assert!(d.len() <= 512 - 40, "datagram of {} bytes", d.len());
        }
    }
}

#[test]
fn same_seed_same_bytes() {
    let run = || {
        let mut ring = Ring::new(5, local(), &[]);
        ring.run_for(Duration::from_secs(3));
        let mut all = Vec::new();
        for i in 0..5 {
            let out = std::mem::take(ring.engine(i).network_mut());
            all.extend(out.datagrams.into_iter().map(|(_, b)| b));
        }
        (all, ring.events.len(), ring.seq)
    };
    assert_eq!(run(), run());
}

#[test]
fn confirmed_members_become_departed_after_the_configured_time() {
    let mut cfg = local();
    cfg.confirmed_to_departed = Duration::from_secs(20);
    let mut ring = Ring::new(3, cfg, &[]);
    ring.run_for(Duration::from_secs(5));
    ring.isolate(2);
    ring.run_for(Duration::from_secs(15));
    assert_eq!(ring.health(0, 2), Some(Health::Confirmed));
    ring.run_for(Duration::from_secs(30));
    assert_eq!(ring.health(0, 2), Some(Health::Departed));
}

// ----- Lifeguard ---------------------------------------------------------------------------

fn first_entry_of_ping_to(ring: &mut Ring, from: usize, to: usize) -> Option<Membership> {
    let out = std::mem::take(ring.engine(from).network_mut());
    let found = out
        .datagrams
        .iter()
        .filter(|(a, _)| *a == addr(to))
        .filter_map(|(_, b)| wire::open_plain::<Swim>(b).ok())
        .find(|s| s.r#type == SwimType::Ping as i32)
        .and_then(|s| {
            s.membership
                .first()
                .and_then(|m| Membership::try_from(m).ok())
        });
    ring.engine(from).network_mut().datagrams = out.datagrams;
    found
}

#[test]
fn dynamic_suspicion_of_a_real_crash_ends_early_but_never_before_the_minimum() {
    let cfg = lifeguard();
    let (min, max) =
        crate::lifeguard::suspicion_bounds(cfg.suspicion_timeout, cfg.suspicion_max_multiplier, 8);
    assert!(max >= min * 5);
    let mut ring = Ring::new(8, cfg, &[]);
    ring.run_for(Duration::from_secs(10));
    let crash = ring.clock.now();
    ring.engines[7] = None;
    ring.run_until(crash + min);
    for i in 0..7 {
        assert_ne!(
            ring.health(i, 7),
            Some(Health::Confirmed),
            "too early at {i}"
        );
    }
    // Seven members probe the dead one, so independent confirmations pile up and every
    // suspicion ends well before its maximum.
    ring.run_until(crash + max - Duration::from_secs(4));
    for i in 0..7 {
        assert_eq!(ring.health(i, 7), Some(Health::Confirmed), "observer {i}");
    }
}

#[test]
fn dynamic_suspicion_timeout_depends_on_confirmations() {
    // One observer, no one else to confirm: the suspicion lasts the full maximum.
    let cfg = lifeguard();
    let mut ring = Ring::new(3, cfg.clone(), &[]);
    ring.run_for(Duration::from_secs(5));
    let held = ring.engine(0).members().get(id(2)).expect("known");
    let suspect = Membership {
        health: Health::Suspect,
        ..held
    };
    ring.isolate(2);
    ring.isolate(1);
    let t0 = ring.clock.now();
    ring.engine(0)
        .apply_membership(suspect, Cause::Accused { by: id(1) });
    let (min, max) =
        crate::lifeguard::suspicion_bounds(cfg.suspicion_timeout, cfg.suspicion_max_multiplier, 3);
    let deadline = ring
        .engine(0)
        .view
        .suspicions
        .get(id(2))
        .map(|s| s.deadline);
    assert_eq!(deadline, Some(t0 + max));
    // A second, independent accuser shortens it; a repeated one does not.
    ring.engine(0)
        .apply_membership(suspect, Cause::Accused { by: id(5) });
    let d1 = ring
        .engine(0)
        .view
        .suspicions
        .get(id(2))
        .map(|s| s.deadline)
        .expect("suspect");
    assert!(d1 < t0 + max && d1 > t0 + min, "{d1:?}");
    ring.engine(0)
        .apply_membership(suspect, Cause::Accused { by: id(5) });
    assert_eq!(
        ring.engine(0)
            .view
            .suspicions
            .get(id(2))
            .map(|s| s.deadline),
        Some(d1)
    );
    ring.engine(0)
        .apply_membership(suspect, Cause::Accused { by: id(6) });
    let d2 = ring
        .engine(0)
        .view
        .suspicions
        .get(id(2))
        .map(|s| s.deadline)
        .expect("suspect");
    assert_eq!(d2, t0 + min, "k confirmations bring it down to the minimum");
    ring.flush(0);
    ring.run_until(d2 - Duration::from_millis(10));
    assert_eq!(ring.health(0, 2), Some(Health::Suspect));
    // At the deadline it asks the member itself (four ProbePings, a ping timeout apart) before confirming.
    ring.run_until(d2 + Duration::from_millis(10));
    assert_eq!(ring.health(0, 2), Some(Health::Suspect));
    ring.run_until(d2 + cfg.ping_timeout * 4 + Duration::from_millis(50));
    assert_eq!(ring.health(0, 2), Some(Health::Confirmed));
}

/// Member 0 suspects member 2 on member 1's word (1 is then cut off, so nobody corroborates),
/// while 2 cannot hear 0. Returns the ring and the suspicion's deadline (0's own failed probes
/// count as one confirmation: still short of `suspicion_confirmations`).
fn uncorroborated_suspicion() -> (Ring, Instant) {
    let mut ring = Ring::new(3, lifeguard(), &[]);
    ring.run_for(Duration::from_secs(5));
    let held = ring.engine(0).members().get(id(2)).expect("known");
    ring.isolate(1);
    ring.cut.insert((0, 2));
    ring.cut.insert((2, 0));
    let suspect = Membership {
        health: Health::Suspect,
        ..held
    };
    ring.engine(0)
        .apply_membership(suspect, Cause::Accused { by: id(1) });
    ring.flush(0);
    ring.run_for(Duration::from_secs(2));
    let s = suspicion_at_0(&mut ring, 2);
    assert!(s.confirmations() < ring.engine(0).config.suspicion_confirmations);
    assert_eq!(ring.health(0, 2), Some(Health::Suspect));
    (ring, s.deadline)
}

/// Member 0's suspicion of `subject` (it must hold one).
fn suspicion_at_0(ring: &mut Ring, subject: usize) -> crate::lifeguard::Suspicion {
    ring.engine(0)
        .view
        .suspicions
        .get(id(subject))
        .copied()
        .expect("member 0 suspects it")
}

#[test]
fn an_uncorroborated_suspicion_asks_the_member_before_confirming() {
    let (mut ring, deadline) = uncorroborated_suspicion();
    answered_at_the_deadline(&mut ring, deadline);

    // Still silent: confirmed once the four ProbePings have gone unanswered.
    let (mut ring, deadline) = uncorroborated_suspicion();
    let cfg = ring.engine(0).config.clone();
    ring.run_until(deadline + cfg.ping_timeout / 2);
    assert_eq!(ring.health(0, 2), Some(Health::Suspect));
    ring.run_until(deadline + cfg.ping_timeout * 4 + Duration::from_millis(50));
    assert_eq!(ring.health(0, 2), Some(Health::Confirmed));
}

#[test]
fn a_corroborated_suspicion_also_asks_the_member_before_confirming() {
    // Two more independent accusers: the suspicion runs only the minimum, and a member that
    // can answer at its deadline is still not confirmed (its refutation may be on its way).
    let (mut ring, _) = uncorroborated_suspicion();
    let held = ring.engine(0).members().get(id(2)).expect("known");
    let suspect = Membership {
        health: Health::Suspect,
        ..held
    };
    ring.engine(0)
        .apply_membership(suspect, Cause::Accused { by: id(5) });
    ring.engine(0)
        .apply_membership(suspect, Cause::Accused { by: id(6) });
    let s = suspicion_at_0(&mut ring, 2);
    assert!(s.confirmations() >= ring.engine(0).config.suspicion_confirmations);
    ring.flush(0);
    answered_at_the_deadline(&mut ring, s.deadline);
}

/// Member 2 becomes reachable again just as 0's suspicion of it reaches `deadline`: the
/// ProbePing sent then is answered, so 0 holds it Alive and never Confirmed it.
fn answered_at_the_deadline(ring: &mut Ring, deadline: Instant) {
    ring.run_until(deadline + Duration::from_micros(500));
    assert_eq!(
        ring.health(0, 2),
        Some(Health::Suspect),
        "asked, not confirmed"
    );
    ring.cut.clear();
    ring.run_for(Duration::from_millis(500));
    assert_eq!(ring.health(0, 2), Some(Health::Alive));
    assert!(!ring.saw(0, 2, MemberEventKind::Confirmed));
}

#[test]
fn a_suspicion_of_a_newer_incarnation_restarts_the_timeout_under_lifeguard() {
    for (cfg, restarts) in [(lifeguard(), true), (local(), false)] {
        let mut ring = Ring::new(3, cfg, &[]);
        ring.run_for(Duration::from_secs(5));
        ring.isolate(1);
        ring.isolate(2);
        let held = ring.engine(0).members().get(id(2)).expect("known");
        let first = Membership {
            health: Health::Suspect,
            ..held
        };
        ring.engine(0)
            .apply_membership(first, Cause::Accused { by: id(1) });
        let started = ring.clock.now();
        ring.run_for(Duration::from_millis(1500));
        // The member refuted (incarnation + 1) and was suspected again.
        let mut again = first;
        again.member.incarnation = first.member.incarnation.next();
        assert_eq!(ring.health(0, 2), Some(Health::Suspect));
        ring.engine(0)
            .apply_membership(again, Cause::Accused { by: id(1) });
        let now = ring.clock.now();
        let start = ring.engine(0).view.suspicions.get(id(2)).map(|s| s.start);
        if restarts {
            assert_eq!(start, Some(now), "a new suspicion for the new incarnation");
        } else {
            // Plain SWIM keeps the first deadline, as Butterfly does.
            assert_eq!(start, None);
            let timeout = ring.engine(0).config.suspicion_timeout;
            ring.run_until(started + timeout + Duration::from_millis(50));
            assert_eq!(ring.health(0, 2), Some(Health::Confirmed));
        }
    }
}

#[test]
fn helpers_nack_a_silent_target_and_the_asker_stays_healthy() {
    let mut ring = Ring::new(5, lifeguard(), &[]);
    ring.run_for(Duration::from_secs(10));
    ring.isolate(4);
    ring.run_for(Duration::from_secs(20));
    // Everyone's probes of 4 failed, but helpers Nacked, so no one blames itself.
    for i in 0..4 {
        assert_eq!(ring.engine(i).health_multiplier(), 1, "member {i}");
    }
}

#[test]
fn a_member_cut_off_from_everyone_slows_down_and_recovers() {
    let mut ring = Ring::new(5, lifeguard(), &[]);
    ring.run_for(Duration::from_secs(10));
    // 0 can send but hears nothing back: its probes fail and no Nack arrives.
    for j in 1..5 {
        ring.cut.insert((j, 0));
    }
    ring.run_for(Duration::from_secs(8));
    let slow = ring.engine(0).health_multiplier();
    assert!(slow > 1, "multiplier rose to {slow}");
    assert!(slow <= ring.engine(0).config().awareness_max_multiplier);
    ring.cut.clear();
    ring.run_for(Duration::from_secs(90));
    assert_eq!(
        ring.engine(0).health_multiplier(),
        1,
        "relaxed after successful probes"
    );
}

#[test]
fn awareness_off_keeps_the_multiplier_at_one() {
    let mut cfg = lifeguard();
    cfg.lifeguard_awareness = false;
    let mut ring = Ring::new(5, cfg, &[]);
    ring.run_for(Duration::from_secs(10));
    for j in 1..5 {
        ring.cut.insert((j, 0));
    }
    ring.run_for(Duration::from_secs(8));
    assert_eq!(ring.engine(0).health_multiplier(), 1);
}

#[test]
fn refuting_raises_the_multiplier() {
    let mut ring = Ring::new(3, lifeguard(), &[]);
    ring.run_for(Duration::from_secs(5));
    let me = *ring.engine(2).me();
    ring.engine(2).apply_membership(
        Membership {
            member: me,
            health: Health::Suspect,
        },
        Cause::Gossip,
    );
    assert_eq!(ring.engine(2).health_multiplier(), 2);
}

#[test]
fn buddy_system_puts_the_suspicion_first_in_the_probe() {
    for buddy in [true, false] {
        let mut cfg = lifeguard();
        cfg.lifeguard_buddy = buddy;
        cfg.piggyback_max = 0; // only the forced entry could ride along
        let mut ring = Ring::new(2, cfg, &[]);
        ring.run_for(Duration::from_secs(5));
        let held = ring.engine(0).members().get(id(1)).expect("known");
        let now_s = ring.engine(0).now_s();
        ring.engine(0)
            .view
            .members
            .set_health(id(1), Health::Suspect, now_s);
        ring.engine(0).network_mut().datagrams.clear();
        let mut first = None;
        for _ in 0..6 {
            let t = ring.engine(0).poll_timeout().expect("timer");
            ring.clock.set(t);
            ring.engine(0).handle_timeout();
            if let Some(f) = first_entry_of_ping_to(&mut ring, 0, 1) {
                first = Some(f);
                break;
            }
            ring.engine(0).network_mut().datagrams.clear();
        }
        if buddy {
            let f = first.expect("the probe carries an entry");
            assert_eq!(f.member.id, held.member.id);
            assert_eq!(f.health, Health::Suspect);
        } else {
            assert_eq!(first, None, "without the buddy system nothing is forced in");
        }
    }
}

/// Rumors: services, configs, files, departures, dissemination and anti-entropy.
mod rumors;

/// Leader and update elections.
mod elections;

/// Ring encryption: keyed rings, outsiders, key rotation, unauthenticated input.
mod ring_keys;

/// Pull-first membership dissemination against push only.
mod pull_first;

/// Habitat compatibility mode.
mod compat;

#[test]
fn a_refutation_heard_during_a_probe_prevents_a_false_suspicion() {
    let mut ring = Ring::new(3, local(), &[]);
    ring.run_for(Duration::from_secs(5));
    // Nothing reaches 0 from the others any more: its probe of 1 will time out.
    ring.cut.insert((1, 0));
    ring.cut.insert((2, 0));
    let mut started = false;
    for _ in 0..100 {
        let before = ring.engine(0).metrics().probes;
        let t = ring.engine(0).poll_timeout().expect("timer");
        ring.clock.set(t);
        ring.engine(0).handle_timeout();
        ring.flush(0);
        if ring.engine(0).metrics().probes > before && ring.engine(0).probe.target == Some(id(1)) {
            started = true;
            break;
        }
    }
    assert!(started, "0 started probing 1");
    // While the probe is pending, 0 hears second-hand that 1 refuted something (inc + 1).
    let held = ring.engine(0).members().get(id(1)).expect("known");
    let refuted = Membership {
        member: Member {
            incarnation: held.member.incarnation.next(),
            ..held.member
        },
        health: Health::Alive,
    };
    ring.engine(0).apply_membership(refuted, Cause::Gossip);
    // Past this probe's deadline, before the next probe could fail on its own.
    let cfg = local();
    ring.run_for(cfg.ping_timeout + cfg.pingreq_timeout + Duration::from_millis(20));
    assert_eq!(ring.engine(0).probe.target, None, "the probe ended");
    assert_eq!(
        ring.health(0, 1),
        Some(Health::Alive),
        "no suspicion of the new incarnation"
    );
}

#[test]
fn an_alive_report_about_a_member_we_confirmed_makes_it_refute() {
    let mut ring = Ring::new(3, local(), &[]);
    ring.run_for(Duration::from_secs(5));
    let held = ring.engine(0).members().get(id(2)).expect("known");
    // 0 (alone) has 2 Confirmed at 2's current incarnation; 2 never heard of it.
    let now_s = ring.engine(0).now_s();
    ring.engine(0)
        .view
        .members
        .set_health(id(2), Health::Confirmed, now_s);
    // 1 reports 2 Alive at that same incarnation: the merge rule alone would ignore it.
    ring.engine(0).apply_membership(held, Cause::Gossip);
    let sent = std::mem::take(ring.engine(0).network_mut());
    let probe = sent
        .datagrams
        .iter()
        .filter(|(to, _)| *to == addr(2))
        .filter_map(|(_, b)| wire::open_plain::<Swim>(b).ok())
        .find(|s| s.r#type == SwimType::ProbePing as i32)
        .expect("a ProbePing to 2");
    let claim = Membership::try_from(&probe.membership[0]).expect("claim");
    assert_eq!(claim.health, Health::Confirmed, "it shows 2 our claim");
    ring.engine(0).network_mut().datagrams = sent.datagrams;
    ring.flush(0);
    ring.run_for(Duration::from_secs(3));
    assert_eq!(ring.health(0, 2), Some(Health::Alive));
    assert!(
        ring.engine(2).incarnation() > held.member.incarnation,
        "2 refuted"
    );
}

#[test]
fn a_ping_carrying_a_stale_record_is_answered_with_the_newer_one() {
    let mut ring = Ring::new(3, local(), &[]);
    ring.run_for(Duration::from_secs(5));
    let held = ring.engine(0).members().get(id(2)).expect("known");
    // 0 knows a newer incarnation of 2 than 1 is about to claim.
    let newer = Membership {
        member: Member {
            incarnation: held.member.incarnation.next(),
            ..held.member
        },
        health: Health::Alive,
    };
    ring.engine(0).apply_membership(newer, Cause::Gossip);
    ring.engine(0).network_mut().datagrams.clear();
    let stale = Membership {
        health: Health::Confirmed,
        ..held
    };
    let ping = Swim {
        r#type: SwimType::Ping as i32,
        seq: None,
        extensions: None,
        membership: vec![wire::Membership::from(&stale)],
        payload: Some(SwimPayload::Ping(wire::Ping {
            from: Some(wire::Member::from(&member(1))),
            forward_to: None,
            ..Default::default()
        })),
    };
    ring.engine(0)
        .handle_datagram(addr(1), &wire::seal_plain(&ping));
    let out = std::mem::take(ring.engine(0).network_mut());
    let ack = out
        .datagrams
        .iter()
        .filter(|(to, _)| *to == addr(1))
        .filter_map(|(_, b)| wire::open_plain::<Swim>(b).ok())
        .find(|s| s.r#type == SwimType::Ack as i32)
        .expect("an Ack to 1");
    let carried: Vec<Membership> = ack
        .membership
        .iter()
        .filter_map(|m| Membership::try_from(m).ok())
        .collect();
    assert!(carried.contains(&newer), "the Ack corrects 1: {carried:?}");
}

#[test]
fn butterfly_timings_detect_failures_when_timers_fire_late() {
    // ping + PingReq timeouts fill the whole period, as in the habitat preset.
    let cfg = Config {
        protocol_period: Duration::from_millis(500),
        ping_timeout: Duration::from_millis(150),
        pingreq_timeout: Duration::from_millis(350),
        ..local()
    };
    let mut ring = Ring::new(4, cfg.clone(), &[]);
    ring.timer_lag = Duration::from_micros(300);
    ring.run_for(Duration::from_secs(5));
    ring.engines[3] = None;
    ring.run_for(Duration::from_secs(5) + cfg.suspicion_timeout);
    for i in 0..3 {
        assert_eq!(ring.health(i, 3), Some(Health::Confirmed), "observer {i}");
    }
}

#[test]
fn a_confirmed_claim_about_a_suspect_is_checked_too_and_three_tries_are_made() {
    let mut ring = Ring::new(3, local(), &[]);
    ring.run_for(Duration::from_secs(5));
    let held = ring.engine(0).members().get(id(2)).expect("known");
    let now_s = ring.engine(0).now_s();
    ring.engine(0)
        .view
        .members
        .set_health(id(2), Health::Suspect, now_s);
    ring.isolate(2);
    let before = ring.engine(0).metrics().probe_pings_sent;
    ring.engine(0).apply_membership(
        Membership {
            health: Health::Confirmed,
            ..held
        },
        Cause::Gossip,
    );
    assert_eq!(
        ring.health(0, 2),
        Some(Health::Suspect),
        "not applied at once"
    );
    ring.flush(0);
    let cfg = local();
    ring.run_for(cfg.ping_timeout + cfg.pingreq_timeout * 2 + Duration::from_millis(50));
    assert_eq!(
        ring.health(0, 2),
        Some(Health::Confirmed),
        "applied after three silences"
    );
    assert!(ring.engine(0).metrics().probe_pings_sent >= before + 3);
}

#[test]
fn membership_checks_ride_on_pings_slow_down_at_rest_and_differing_views_start_an_exchange() {
    let mut ring = Ring::new(4, local(), &[]);
    ring.run_for(Duration::from_secs(60));
    let sum = |ring: &mut Ring, f: fn(&Metrics) -> u64| {
        (0..4).map(|i| f(ring.engine(i).metrics())).sum::<u64>()
    };
    let digests = |m: &Metrics| m.push_pulls;
    let checks = |m: &Metrics| m.view_checks;
    // At rest the checks ride on Pings and find the views equal, so no stream exchange
    // starts; the 15 s period doubles with each, up to 120 s: 480 s hold at most 4 + 1 per
    // member (32 at the base period).
    let (d0, c0) = (sum(&mut ring, digests), sum(&mut ring, checks));
    ring.run_for(Duration::from_secs(480));
    let at_rest = sum(&mut ring, checks) - c0;
    assert!(
        (4..=20).contains(&at_rest),
        "{at_rest} checks in 480 s at rest"
    );
    assert_eq!(sum(&mut ring, digests), d0, "no digest exchange at rest");
    // Member 1 quietly learns a record nobody else has (no broadcast, and a Confirmed
    // member is not probed): the first check that involves member 1 finds the views differ
    // and starts a digest exchange, which hands the record over.
    let ghost = Membership {
        member: member(9),
        health: Health::Confirmed,
    };
    ring.engine(1).view.members.merge(&ghost, usize::MAX, 0);
    ring.run_for(Duration::from_secs(240));
    assert!(
        sum(&mut ring, digests) > d0,
        "a digest exchange repaired the view"
    );
    for i in [0, 2, 3] {
        assert_eq!(ring.health(i, 9), Some(Health::Confirmed), "member {i}");
    }
    // Back at rest, a crash changes every view: from the next check on, the base period is
    // back.
    ring.run_for(Duration::from_secs(480));
    ring.engines[3] = None;
    let before = ring.engine(0).metrics().view_checks;
    ring.run_for(Duration::from_secs(240));
    let after_change = ring.engine(0).metrics().view_checks - before;
    assert!(
        after_change >= 3,
        "{after_change} checks in 240 s after a change"
    );
    assert_eq!(ring.health(0, 3), Some(Health::Confirmed));
}

#[test]
fn applying_a_record_reports_what_changed_for_each_cause() {
    let mut ring = Ring::new(3, local(), &[]);
    ring.run_for(Duration::from_secs(5));
    let held = ring.engine(0).members().get(id(2)).expect("known");
    let with = |health| Membership { health, ..held };
    let e = ring.engine(0);
    assert_eq!(
        e.apply_membership(held, Cause::Gossip),
        Change::Unchanged,
        "stale"
    );
    assert_eq!(
        e.apply_membership(with(Health::Suspect), Cause::Gossip),
        Change::Member {
            from: Some(Health::Alive),
            to: Health::Suspect
        },
        "worse health at the same incarnation merges"
    );
    assert_eq!(
        e.apply_membership(held, Cause::DirectContact),
        Change::Member {
            from: Some(Health::Suspect),
            to: Health::Alive
        },
        "a member that speaks to us is Alive"
    );
    assert_eq!(
        e.apply_membership(with(Health::Confirmed), Cause::Gossip),
        Change::Checking,
        "a Confirmed claim about a live member is checked first"
    );
    assert_eq!(e.members().health(id(2)), Some(Health::Alive));
    let accused_us = Membership {
        member: *e.me(),
        health: Health::Suspect,
    };
    assert_eq!(
        e.apply_membership(accused_us, Cause::Gossip),
        Change::Refuted
    );
    let newcomer = Membership {
        member: member(7),
        health: Health::Alive,
    };
    assert_eq!(
        e.apply_membership(newcomer, Cause::Gossip),
        Change::Member {
            from: None,
            to: Health::Alive
        }
    );
    let probed = with(Health::Suspect);
    assert_eq!(
        e.apply_membership(probed, Cause::ProbeFailed),
        Change::Member {
            from: Some(Health::Alive),
            to: Health::Suspect
        },
        "our own failed probe suspects an Alive member"
    );
}
