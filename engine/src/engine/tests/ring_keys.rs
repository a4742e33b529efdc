//! Ring encryption in the engine: a keyed ring converges, members without the key are never
//! admitted, a running ring rotates its key without a single suspicion, and whatever does not
//! authenticate is dropped and counted.

use super::*;
use crate::crypto::{open_wire, KeyName, Keyring, RingKey};

fn sim_key(seed: u64) -> Keyring {
    Keyring::for_simulation(seed)
}

/// A ring whose member `i` holds `keys(i)` before it sends anything.
fn keyed_ring(n: usize, config: Config, keys: impl Fn(usize) -> Option<Keyring>) -> Ring {
    let mut ring = Ring::new(n, config, &[]);
    assert!(
        ring.queue.is_empty(),
        "nothing was sent before the keys were set"
    );
    for i in 0..n {
        ring.engine(i).set_ring_keys(keys(i));
    }
    ring
}

/// Every message waiting for delivery, with its channel.
fn in_flight(ring: &Ring) -> Vec<(Kind, Vec<u8>)> {
    ring.queue
        .iter()
        .map(|Reverse((_, _, _, _, kind, bytes))| (*kind, bytes.clone()))
        .collect()
}

/// Runs for `d` in one-millisecond steps and shows `f` every message sent, once: every message
/// spends exactly one millisecond in flight.
fn run_sniffing(ring: &mut Ring, d: Duration, mut f: impl FnMut(Kind, &[u8])) {
    let steps = d.as_millis();
    for _ in 0..steps {
        ring.run_for(Duration::from_millis(1));
        for (kind, bytes) in in_flight(ring) {
            f(kind, &bytes);
        }
    }
}

fn unauthenticated(ring: &Ring, i: usize) -> u64 {
    ring.engines[i]
        .as_ref()
        .map_or(0, |e| e.metrics().dropped(DropReason::Unauthenticated))
}

fn all_alive(ring: &Ring, members: &[usize]) {
    for &i in members {
        for &j in members {
            if i != j {
                assert_eq!(ring.health(i, j), Some(Health::Alive), "{i} sees {j}");
            }
        }
    }
}

fn is_sealed(bytes: &[u8]) -> bool {
    use prost::Message;
    wire::Wire::decode(bytes)
        .is_ok_and(|w| w.encrypted == Some(true) && w.nonce.as_ref().is_some_and(|n| n.len() == 24))
}

#[test]
fn a_ring_with_one_shared_key_converges_and_sends_only_sealed_bytes() {
    let mut ring = keyed_ring(5, local(), |_| Some(sim_key(1)));
    let mut seen = [0; 2];
    run_sniffing(&mut ring, Duration::from_secs(10), |kind, bytes| {
        assert!(is_sealed(bytes), "plaintext on the wire");
        assert!(
            open_wire::<wire::Wire>(None, bytes).is_err(),
            "unreadable without the key"
        );
        seen[kind as usize] += 1;
    });
    assert!(
        seen[0] > 20 && seen[1] > 0,
        "datagrams and frames: {seen:?}"
    );
    all_alive(&ring, &[0, 1, 2, 3, 4]);
    for i in 0..5 {
        assert_eq!(unauthenticated(&ring, i), 0, "member {i}");
    }
}

#[test]
fn encryption_changes_the_bytes_but_not_a_single_protocol_decision() {
    let run = |keys: bool| {
        let mut ring = keyed_ring(5, local(), |_| keys.then(|| sim_key(1)));
        ring.run_for(Duration::from_secs(10));
        let sent: Vec<u64> = (0..5)
            .map(|i| ring.engine(i).metrics().sent(Channel::Datagram).messages)
            .collect();
        (ring.events, sent, ring.seq)
    };
    assert_eq!(run(false), run(true));
    // And a keyed run is reproducible to the byte.
    let bytes = || {
        let mut ring = keyed_ring(3, local(), |_| Some(sim_key(1)));
        ring.run_for(Duration::from_millis(2500));
        in_flight(&ring)
            .into_iter()
            .map(|(_, b)| b)
            .collect::<Vec<_>>()
    };
    assert_eq!(bytes(), bytes());
}

#[test]
fn members_with_another_key_or_no_key_are_never_admitted() {
    // 0..3 share a key; 3 has another key, 4 has none. Both bootstrap through 0.
    let mut ring = keyed_ring(5, local(), |i| match i {
        0..=2 => Some(sim_key(1)),
        3 => Some(sim_key(2)),
        _ => None,
    });
    ring.run_for(Duration::from_secs(20));
    all_alive(&ring, &[0, 1, 2]);
    for i in 0..3 {
        assert_eq!(ring.health(i, 3), None, "{i} never heard of 3");
        assert_eq!(ring.health(i, 4), None, "{i} never heard of 4");
    }
    for outsider in [3, 4] {
        assert!(
            ring.engine(outsider).members().is_empty(),
            "{outsider} knows no one"
        );
        assert!(
            unauthenticated(&ring, outsider) > 0
                || ring
                    .engine(outsider)
                    .metrics()
                    .received(Channel::Datagram)
                    .messages
                    == 0
        );
    }
    assert!(
        unauthenticated(&ring, 0) >= 2,
        "0 dropped both outsiders' pings"
    );
    assert!(!ring.events.iter().any(|(o, e)| *o < 3
        && matches!(e, Event::Member(m) if m.subject == id(3) || m.subject == id(4))));
}

#[test]
fn a_running_ring_rotates_its_key_without_any_suspicion() {
    let mut ring = keyed_ring(3, local(), |_| Some(sim_key(1)));
    ring.run_for(Duration::from_secs(10));
    all_alive(&ring, &[0, 1, 2]);
    ring.events.clear();
    let old = sim_key(1).primary().clone();
    let new_name: KeyName = "sim-20300101000000".parse().expect("name");
    let new = RingKey::from_bytes(new_name.clone(), [0x42; 32]);
    let step = Duration::from_millis(1700);
    // 1. install: one member at a time gets the new key, the old one stays primary.
    for i in 0..3 {
        let keys = ring.engine(i).ring_keys().cloned().expect("keyed");
        let mut keys = keys.with_primary(old.name()).expect("held");
        keys.insert(new.clone()).expect("new key");
        assert_eq!(keys.primary(), &old);
        ring.engine(i).set_ring_keys(Some(keys));
        ring.run_for(step);
    }
    // 2. use: one member at a time seals with the new key.
    for i in 0..3 {
        let keys = ring.engine(i).ring_keys().cloned().expect("keyed");
        ring.engine(i)
            .set_ring_keys(Some(keys.with_primary(&new_name).expect("held")));
        ring.run_for(step);
    }
    // 3. remove: one member at a time forgets the old key.
    for i in 0..3 {
        let mut keys = ring.engine(i).ring_keys().cloned().expect("keyed");
        keys.remove(old.name()).expect("removable");
        ring.engine(i).set_ring_keys(Some(keys));
        ring.run_for(step);
    }
    ring.run_for(Duration::from_secs(10));
    all_alive(&ring, &[0, 1, 2]);
    assert!(
        !ring.events.iter().any(|(_, e)| matches!(
            e,
            Event::Member(m) if m.kind != MemberEventKind::Joined && m.kind != MemberEventKind::Alive
        )),
        "no member was ever suspected: {:?}",
        ring.events
    );
    for i in 0..3 {
        assert_eq!(unauthenticated(&ring, i), 0, "member {i} dropped nothing");
        assert_eq!(ring.engine(i).ring_keys().map(|k| k.keys().len()), Some(1));
    }
    // The ring now speaks only the new key.
    let only_old = Keyring::single(old);
    let only_new = Keyring::single(new);
    for (_, bytes) in in_flight(&ring) {
        assert!(open_wire::<wire::Wire>(Some(&only_old), &bytes).is_err());
        assert!(open_wire::<wire::Wire>(Some(&only_new), &bytes).is_ok());
    }
}

#[test]
fn tampered_truncated_plaintext_and_foreign_input_is_unauthenticated() {
    let mut ring = keyed_ring(2, local(), |_| Some(sim_key(1)));
    ring.run_for(Duration::from_secs(3));
    // Let everything in flight land, then take one sealed datagram and one sealed frame as
    // sent by member 1.
    ring.run_for(Duration::from_millis(5));
    ring.engine(1).depart(); // a farewell rumor over a stream
    let out = std::mem::take(ring.engine(1).network_mut());
    let frame = out
        .streams
        .first()
        .map(|(_, b)| b.clone())
        .expect("a farewell frame");
    let ping = wire::Swim {
        r#type: SwimType::Ping as i32,
        seq: None,
        extensions: None,
        membership: vec![],
        payload: Some(SwimPayload::Ping(wire::Ping {
            from: Some(wire::Member::from(&member(1))),
            forward_to: None,
            ..Default::default()
        })),
    };
    let mut sealer = crate::crypto::WireSeal::new([9; 32]);
    sealer.set_keyring(Some(sim_key(1)));
    let datagram = sealer.seal_outgoing(wire::seal_plain(&ping));
    let mut other = crate::crypto::WireSeal::new([9; 32]);
    other.set_keyring(Some(sim_key(2)));
    let foreign = other.seal_outgoing(wire::seal_plain(&ping));

    let e = ring.engine(0);
    std::mem::take(e.network_mut());
    let before = e.metrics().dropped(DropReason::Unauthenticated);
    let mut flipped = datagram.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x80;
    e.handle_datagram(addr(1), &flipped);
    e.handle_datagram(addr(1), &datagram[..datagram.len() - 1]);
    e.handle_datagram(addr(1), &datagram[..datagram.len() / 2]);
    e.handle_datagram(addr(1), &wire::seal_plain(&ping));
    e.handle_datagram(addr(1), &foreign);
    e.handle_datagram(addr(1), &[0xff; 40]);
    let mut bad_frame = frame.clone();
    bad_frame[40] ^= 1;
    e.handle_stream(addr(1), &bad_frame);
    e.handle_stream(addr(1), &frame[..frame.len() - 3]);
    assert_eq!(e.metrics().dropped(DropReason::Unauthenticated), before + 8);
    assert!(e.network().datagrams.is_empty(), "nothing answered");
    assert_eq!(
        e.members().health(id(1)),
        Some(Health::Alive),
        "nothing applied"
    );
    // The authentic ones are accepted: the Ping is answered, the farewell applied.
    e.handle_datagram(addr(1), &datagram);
    assert_eq!(
        e.network().datagrams.len(),
        1,
        "the authentic Ping is answered"
    );
    assert!(is_sealed(&e.network().datagrams[0].1));
    e.handle_stream(addr(1), &frame);
    assert_eq!(e.members().health(id(1)), Some(Health::Departed));
    assert_eq!(e.metrics().dropped(DropReason::Unauthenticated), before + 8);
}

#[test]
fn sealed_datagrams_with_full_piggyback_fit_the_limit() {
    for size in [512, 1024] {
        let mut cfg = local();
        cfg.max_datagram_size = size;
        cfg.piggyback_max = 100;
        let mut ring = keyed_ring(40, cfg, |_| Some(sim_key(1)));
        let mut largest = 0;
        run_sniffing(&mut ring, Duration::from_secs(6), |kind, bytes| {
            if kind == Kind::Datagram {
                assert!(is_sealed(bytes));
                assert!(
                    bytes.len() <= size,
                    "sealed datagram of {} > {size}",
                    bytes.len()
                );
                largest = largest.max(bytes.len());
            }
        });
        // The piggyback really filled the datagrams up to the limit (one more entry would not
        // have fitted).
        assert!(largest + 150 > size, "largest {largest} of {size}");
        for i in 0..40 {
            assert_eq!(ring.engine(i).metrics().dropped(DropReason::Oversized), 0);
            assert_eq!(unauthenticated(&ring, i), 0);
        }
    }
}
