//! Rumors through the `Ring` harness: the commands and their limits, every kind spreading with
//! both dissemination strategies, operator departures that survive a restart, anti-entropy,
//! and what each strategy costs.

use super::*;
use crate::config::Dissemination;
use crate::event::RumorRejectReason;
use crate::metrics::Channel;
use crate::rumor::{RumorError, RumorKey, ServiceGroup, ServiceSpec};

fn grp() -> ServiceGroup {
    "redis.default".parse().expect("group")
}

fn with(strategy: Dissemination) -> Config {
    Config {
        dissemination: strategy,
        ..local()
    }
}

fn spec(cfg: &str) -> ServiceSpec {
    ServiceSpec {
        pkg: "core/redis/7.0.0/20240101000000".into(),
        cfg: cfg.as_bytes().to_vec(),
        initialized: true,
        sys: None,
        ..ServiceSpec::default()
    }
}

fn config_version(ring: &Ring, i: usize) -> Option<u64> {
    ring.engines[i]
        .as_ref()
        .and_then(|e| e.rumors().config(&grp()))
        .map(|c| c.incarnation.0)
}

fn stream_bytes(ring: &Ring) -> u64 {
    ring.engines
        .iter()
        .flatten()
        .map(|e| e.metrics().sent(Channel::Stream).bytes)
        .sum()
}

/// A ring of `n` whose membership has converged.
fn converged(n: usize, config: Config) -> Ring {
    let mut ring = Ring::new(n, config, &[]);
    ring.run_for(Duration::from_secs(15));
    for i in 0..n {
        assert_eq!(
            ring.engine(i).members().count(Health::Alive),
            n - 1,
            "member {i}"
        );
    }
    ring
}

#[test]
fn both_strategies_spread_a_config_to_every_member_of_a_ring_of_twenty() {
    for strategy in [Dissemination::Habitat, Dissemination::Bounded] {
        let mut ring = converged(20, with(strategy));
        ring.engine(3)
            .apply_config(grp(), 1, b"maxmemory = \"1gb\"".to_vec())
            .expect("applied");
        ring.flush(3);
        ring.run_for(Duration::from_secs(10));
        for i in 0..20 {
            assert_eq!(
                config_version(&ring, i),
                Some(1),
                "{strategy:?}: member {i}"
            );
        }
        let applied = ring
            .events
            .iter()
            .filter(|(_, e)| {
                matches!(e, Event::RumorApplied { key: RumorKey::ServiceConfig { .. }, incarnation, .. } if incarnation.0 == 1)
            })
            .count();
        assert_eq!(applied, 20, "{strategy:?}: one RumorApplied per member");
    }
}

#[test]
fn bounded_sends_clearly_fewer_bytes_than_habitat() {
    let mut bytes = Vec::new();
    for strategy in [Dissemination::Habitat, Dissemination::Bounded] {
        let mut ring = converged(20, with(strategy));
        let before = stream_bytes(&ring);
        for i in 0..20 {
            ring.engine(i)
                .announce_service(grp(), spec(&format!("port = {}", 6000 + i)))
                .expect("announced");
            ring.flush(i);
        }
        ring.engine(0)
            .apply_config(grp(), 1, vec![b'x'; 2000])
            .expect("applied");
        ring.flush(0);
        ring.run_for(Duration::from_secs(30));
        for i in 0..20 {
            assert_eq!(
                config_version(&ring, i),
                Some(1),
                "{strategy:?}: member {i}"
            );
            assert_eq!(
                ring.engine(i).rumors().services(&grp()).count(),
                20,
                "{strategy:?}: member {i} knows every service"
            );
        }
        bytes.push(stream_bytes(&ring) - before);
    }
    let ratio = bytes[0] as f64 / bytes[1] as f64;
    eprintln!(
        "stream bytes over 30 s, 20 members, 21 rumors: habitat {} bounded {} ratio {ratio:.2}",
        bytes[0], bytes[1]
    );
    assert!(ratio >= 3.0, "habitat/bounded stream bytes = {ratio:.2}");
}

#[test]
fn an_oversized_config_is_refused_at_the_command_and_nothing_changes() {
    let mut ring = converged(3, local());
    let limit = local().max_rumor_payload;
    ring.flush(0);
    let err = ring
        .engine(0)
        .apply_config(grp(), 1, vec![0; limit + 1])
        .expect_err("too large");
    assert_eq!(
        err,
        RumorError::PayloadTooLarge {
            size: limit + 1,
            limit
        }
    );
    assert!(err.to_string().contains("max_rumor_payload"), "{err}");
    let err = ring
        .engine(0)
        .upload_file(grp(), 1, "big.bin", vec![0; limit + 1])
        .expect_err("too large");
    assert!(matches!(err, RumorError::PayloadTooLarge { .. }));
    let err = ring
        .engine(0)
        .announce_service(grp(), spec(&"x".repeat(limit + 1)))
        .expect_err("too large");
    assert!(matches!(err, RumorError::PayloadTooLarge { .. }));
    assert!(ring.engine(0).rumors().is_empty());
    assert!(ring.engine(0).poll_event().is_none(), "no event");
    // Exactly the limit is fine.
    ring.engine(0)
        .apply_config(grp(), 1, vec![0; limit])
        .expect("at the limit");
    ring.flush(0);
    ring.run_for(Duration::from_secs(5));
    assert_eq!(config_version(&ring, 2), Some(1));
}

#[test]
fn an_oversized_rumor_from_the_wire_is_dropped_and_counted() {
    let mut ring = converged(2, local());
    let limit = local().max_rumor_payload;
    let oversized = wire::Rumor {
        r#type: wire::RumorType::ServiceConfig as i32,
        tag: vec![],
        from_id: Some(id(1).to_string()),
        payload: Some(wire::RumorPayload::ServiceConfig(wire::ServiceConfig {
            service_group: Some("redis.default".into()),
            incarnation: Some(1),
            encrypted: None,
            config: Some(vec![7; limit + 1]),
        })),
    };
    let e = ring.engine(0);
    e.handle_stream(addr(1), &wire::seal_plain(&oversized));
    // The same inside a batch, next to a good rumor that is applied.
    let good = wire::Rumor {
        payload: Some(wire::RumorPayload::ServiceConfig(wire::ServiceConfig {
            service_group: Some("redis.other".into()),
            incarnation: Some(1),
            encrypted: None,
            config: Some(b"ok".to_vec()),
        })),
        ..oversized.clone()
    };
    let batch = wire::Rumor {
        r#type: wire::RumorType::Batch as i32,
        tag: vec![],
        from_id: Some(id(1).to_string()),
        payload: Some(wire::RumorPayload::Batch(wire::RumorBatch {
            rumors: vec![oversized, good],
        })),
    };
    e.handle_stream(addr(1), &wire::seal_plain(&batch));
    assert_eq!(e.metrics().dropped(DropReason::PayloadTooLarge), 2);
    assert!(e.rumors().config(&grp()).is_none());
    assert!(e
        .rumors()
        .config(&"redis.other".parse().expect("group"))
        .is_some());
    let mut rejected = 0;
    while let Some(ev) = e.poll_event() {
        if let Event::RumorRejected { reason, key } = ev {
            assert_eq!(reason, RumorRejectReason::PayloadTooLarge);
            assert_eq!(key, Some(RumorKey::ServiceConfig { group: grp() }));
            rejected += 1;
        }
    }
    assert_eq!(rejected, 2);
}

#[test]
fn configs_and_files_need_a_newer_version_and_stale_ones_from_the_wire_are_rejected() {
    let mut ring = converged(3, local());
    ring.engine(0)
        .apply_config(grp(), 2, b"a".to_vec())
        .expect("v2");
    assert_eq!(
        ring.engine(0).apply_config(grp(), 2, b"b".to_vec()),
        Err(RumorError::NotNewer {
            held: 2,
            offered: 2
        })
    );
    ring.engine(0)
        .upload_file(grp(), 1, "f.txt", b"1".to_vec())
        .expect("f v1");
    assert!(matches!(
        ring.engine(0).upload_file(grp(), 1, "f.txt", b"2".to_vec()),
        Err(RumorError::NotNewer { .. })
    ));
    assert_eq!(
        ring.engine(0).upload_file(grp(), 1, "", b"2".to_vec()),
        Err(RumorError::EmptyFileName)
    );
    ring.flush(0);
    ring.run_for(Duration::from_secs(5));
    // Member 1 is told about version 1: older than what it holds, so rejected and counted.
    let stale = wire::Rumor {
        r#type: wire::RumorType::ServiceConfig as i32,
        tag: vec![],
        from_id: Some(id(2).to_string()),
        payload: Some(wire::RumorPayload::ServiceConfig(wire::ServiceConfig {
            service_group: Some("redis.default".into()),
            incarnation: Some(1),
            encrypted: None,
            config: Some(b"old".to_vec()),
        })),
    };
    ring.events.clear();
    ring.engine(1)
        .handle_stream(addr(2), &wire::seal_plain(&stale));
    ring.flush(1);
    assert_eq!(ring.engine(1).metrics().rumors_stale, 1);
    assert_eq!(
        ring.engine(1)
            .rumors()
            .config(&grp())
            .map(|c| c.config.clone()),
        Some(b"a".to_vec())
    );
    assert!(ring.events.iter().any(|(i, e)| *i == 1
        && matches!(
            e,
            Event::RumorRejected {
                reason: RumorRejectReason::Stale,
                ..
            }
        )));
    let file = ring
        .engine(2)
        .rumors()
        .file(&grp(), "f.txt")
        .map(|f| f.body.clone());
    assert_eq!(file, Some(b"1".to_vec()));
}

#[test]
fn services_are_announced_updated_and_withdrawn_and_the_census_follows() {
    let mut ring = converged(4, local());
    assert_eq!(
        ring.engine(1).update_service(grp(), spec("a")),
        Err(RumorError::NotRunning(grp()))
    );
    assert_eq!(
        ring.engine(1).announce_service(grp(), spec("a = 1")),
        Ok(Incarnation(1))
    );
    assert_eq!(
        ring.engine(1).announce_service(grp(), spec("a = 1")),
        Ok(Incarnation(1)),
        "nothing changed, nothing bumped"
    );
    assert_eq!(
        ring.engine(1).update_service(grp(), spec("a = 2")),
        Ok(Incarnation(2))
    );
    ring.engine(2)
        .announce_service(grp(), spec("b = 1"))
        .expect("announced");
    ring.engine(0)
        .apply_config(grp(), 1, b"c = 1".to_vec())
        .expect("config");
    ring.engine(0)
        .upload_file(grp(), 1, "ca.pem", b"PEM".to_vec())
        .expect("file");
    ring.flush_all();
    ring.run_for(Duration::from_secs(5));

    let census = ring.engine(3).census();
    let g = census.group(&grp()).expect("group in the census");
    let ids: Vec<MemberId> = g.members.iter().map(|m| m.member_id).collect();
    assert_eq!(ids, vec![id(1), id(2)]);
    let m1 = g.member(id(1)).expect("member 1");
    assert_eq!(m1.health, Some(Health::Alive));
    assert_eq!(m1.service.cfg, b"a = 2".to_vec());
    assert_eq!(m1.service.incarnation, Incarnation(2));
    assert_eq!(
        g.config.as_ref().map(|c| c.config.clone()),
        Some(b"c = 1".to_vec())
    );
    assert_eq!(g.files.len(), 1);
    assert_eq!((g.leader, g.update_leader), (None, None));
    // Our own service shows our own health.
    let own = ring.engine(2).census_group(&grp()).expect("group");
    assert_eq!(
        own.member(id(2)).and_then(|m| m.health),
        Some(Health::Alive)
    );

    assert_eq!(ring.engine(1).withdraw_service(&grp()), Ok(Incarnation(3)));
    assert_eq!(
        ring.engine(1).withdraw_service(&grp()),
        Err(RumorError::NotRunning(grp()))
    );
    ring.flush(1);
    ring.run_for(Duration::from_secs(5));
    for i in 0..4 {
        let g = ring.engine(i).census_group(&grp()).expect("group");
        assert!(
            g.member(id(1)).is_none(),
            "member {i} dropped the withdrawn service"
        );
        let tomb = ring
            .engine(i)
            .rumors()
            .service(&grp(), id(1))
            .cloned()
            .expect("tombstone");
        assert!(tomb.withdrawn && tomb.incarnation == Incarnation(3));
    }
    // Re-announcing after a withdrawal goes above the tombstone.
    assert_eq!(
        ring.engine(1).announce_service(grp(), spec("a = 3")),
        Ok(Incarnation(4))
    );
}

#[test]
fn our_own_service_from_before_a_restart_is_superseded() {
    let mut ring = converged(3, local());
    ring.engine(1)
        .announce_service(grp(), spec("old"))
        .expect("announced");
    ring.engine(1)
        .update_service(grp(), spec("older"))
        .expect("updated");
    ring.flush(1);
    ring.run_for(Duration::from_secs(5));
    // Member 1 restarts without its store and announces something else at incarnation 1.
    let me = Member {
        incarnation: ring.engine(1).incarnation().next(),
        ..member(1)
    };
    let fresh =
        Engine::new(local(), me, [1; 32], ring.clock.clone(), Outbox::default()).expect("valid");
    ring.engines[1] = Some(fresh);
    ring.engine(1).join(&[addr(0)]);
    assert_eq!(
        ring.engine(1).announce_service(grp(), spec("new")),
        Ok(Incarnation(1))
    );
    ring.flush(1);
    ring.run_for(Duration::from_secs(20));
    for i in 0..3 {
        let s = ring
            .engine(i)
            .rumors()
            .service(&grp(), id(1))
            .cloned()
            .expect("service");
        assert_eq!(s.cfg, b"new".to_vec(), "member {i}");
        assert!(
            s.incarnation > Incarnation(2),
            "member {i}: above the old incarnation"
        );
    }
}

#[test]
fn an_operator_departure_holds_everywhere_and_survives_a_restart() {
    let mut ring = converged(5, local());
    ring.engine(0).depart_member(id(4)).expect("departed");
    ring.engine(0)
        .depart_member(id(4))
        .expect("twice is harmless");
    ring.flush(0);
    ring.run_for(Duration::from_secs(10));
    for i in 0..4 {
        assert_eq!(ring.health(i, 4), Some(Health::Departed), "observer {i}");
        assert!(ring.engine(i).rumors().is_departed(id(4)));
    }
    assert!(
        ring.engine(4).is_departed(),
        "4 learned its own departure and stopped"
    );
    assert!(ring.engine(4).departed_by_operator());
    assert!(ring
        .events
        .iter()
        .any(|(i, e)| *i == 4 && *e == Event::DepartedByOperator));
    assert_eq!(
        ring.engine(4).apply_config(grp(), 1, vec![]),
        Err(RumorError::Departed)
    );

    // 4 restarts with its id, a higher incarnation and no memory of the departure.
    let me = Member {
        incarnation: Incarnation(ring.engine(4).incarnation().0 + 10),
        ..member(4)
    };
    let mut restarted =
        Engine::new(local(), me, [4; 32], ring.clock.clone(), Outbox::default()).expect("valid");
    restarted.join(&[addr(0), addr(1)]);
    ring.engines[4] = Some(restarted);
    ring.flush(4);
    // A direct Ping from the restarted member is refused outright.
    let ping = Swim {
        r#type: SwimType::Ping as i32,
        seq: None,
        extensions: None,
        membership: vec![],
        payload: Some(SwimPayload::Ping(wire::Ping {
            from: Some(wire::Member::from(&me)),
            forward_to: None,
            ..Default::default()
        })),
    };
    let before = ring.engine(2).metrics().dropped(DropReason::FromDeparted);
    ring.engine(2)
        .handle_datagram(addr(4), &wire::seal_plain(&ping));
    assert_eq!(
        ring.engine(2).metrics().dropped(DropReason::FromDeparted),
        before + 1
    );
    assert!(
        !ring
            .engine(2)
            .network()
            .datagrams
            .iter()
            .any(|(to, _)| *to == addr(4)),
        "no Ack for a departed member"
    );
    // And a rumor that it is Alive at its new incarnation does not bring it back.
    let alive = Membership {
        member: me,
        health: Health::Alive,
    };
    let ack = Swim {
        r#type: SwimType::Ack as i32,
        seq: None,
        extensions: None,
        membership: vec![wire::Membership::from(&alive)],
        payload: Some(SwimPayload::Ack(wire::Ack {
            from: Some(wire::Member::from(&member(1))),
            forward_to: None,
            ..Default::default()
        })),
    };
    ring.engine(3)
        .handle_datagram(addr(1), &wire::seal_plain(&ack));
    assert_eq!(ring.health(3, 4), Some(Health::Departed));
    ring.flush(2);
    ring.flush(3);
    ring.run_for(Duration::from_secs(20));
    for i in 0..4 {
        assert_eq!(
            ring.health(i, 4),
            Some(Health::Departed),
            "observer {i} after restart"
        );
    }
    assert!(
        ring.engine(4).departed_by_operator(),
        "told again, it stopped again"
    );
    assert!(ring.engine(4).is_departed());
}

#[test]
fn a_fresh_rumor_is_pushed_on_at_once_and_not_more_often() {
    // How many of 30 members hold a config 60 ms after it was applied (a gossip round is
    // 500 ms), and how many rumor frames the whole spread cost.
    let spread = |fresh_push: bool| {
        let cfg = Config {
            fresh_push,
            ..with(Dissemination::Bounded)
        };
        let mut ring = converged(30, cfg);
        let before: u64 = (0..30).map(|i| ring.engine(i).metrics().rumor_pushes).sum();
        ring.engine(0)
            .apply_config(grp(), 1, b"v = 1".to_vec())
            .expect("applied");
        ring.flush(0);
        ring.run_for(Duration::from_millis(60));
        let early = (0..30)
            .filter(|&i| config_version(&ring, i) == Some(1))
            .count();
        ring.run_for(Duration::from_secs(10));
        for i in 0..30 {
            assert_eq!(config_version(&ring, i), Some(1), "member {i}");
        }
        let pushes: u64 = (0..30).map(|i| ring.engine(i).metrics().rumor_pushes).sum();
        (early, pushes - before)
    };
    let (fresh, fresh_pushes) = spread(true);
    let (waiting, waiting_pushes) = spread(false);
    assert!(fresh >= 25, "{fresh} of 30 within 60 ms with fresh_push");
    assert!(
        waiting < 15,
        "{waiting} of 30 within 60 ms waiting for rounds"
    );
    // The same bounded number of pushes per rumor either way (give or take the rounds that
    // carried it with other rumors).
    assert!(
        fresh_pushes <= waiting_pushes + waiting_pushes / 5,
        "{fresh_pushes} frames against {waiting_pushes}"
    );
}

#[test]
fn anti_entropy_repairs_a_member_that_missed_every_push() {
    let cfg = with(Dissemination::Bounded);
    let mut ring = converged(10, cfg.clone());
    ring.stream_cut.insert(7);
    ring.engine(0)
        .apply_config(grp(), 1, b"v = 1".to_vec())
        .expect("applied");
    ring.engine(0)
        .upload_file(grp(), 1, "a.txt", b"A".to_vec())
        .expect("uploaded");
    ring.flush(0);
    ring.run_for(Duration::from_secs(20));
    assert_eq!(config_version(&ring, 7), None, "7 heard no push");
    for i in (0..10).filter(|&i| i != 7) {
        assert_eq!(config_version(&ring, i), Some(1), "member {i}");
    }
    // The pushes are over: nothing is queued anywhere.
    for i in 0..10 {
        if let crate::rumor::Disseminator::Bounded(q) = &ring.engine(i).dissemination {
            assert!(q.is_empty(), "member {i} still pushing");
        }
    }
    let pushes: u64 = (0..10).map(|i| ring.engine(i).metrics().rumor_pushes).sum();
    ring.stream_cut.clear();
    ring.run_for(cfg.anti_entropy_interval * 3);
    assert_eq!(
        config_version(&ring, 7),
        Some(1),
        "anti-entropy brought the config"
    );
    assert!(ring.engine(7).rumors().file(&grp(), "a.txt").is_some());
    assert!(ring.engine(7).metrics().anti_entropy_syncs > 0);
    // Repaired by exchanges, not a flood: at most a few frames besides them.
    let after: u64 = (0..10).map(|i| ring.engine(i).metrics().rumor_pushes).sum();
    assert!(
        after - pushes <= 30,
        "{} frames to repair one member",
        after - pushes
    );
}

#[test]
fn a_late_joiner_gets_every_rumor_through_anti_entropy() {
    let mut ring = converged(6, with(Dissemination::Bounded));
    ring.engine(0)
        .apply_config(grp(), 3, b"v = 3".to_vec())
        .expect("applied");
    ring.engine(1)
        .announce_service(grp(), spec("x"))
        .expect("announced");
    ring.flush_all();
    ring.run_for(Duration::from_secs(30));
    // Member 6 joins long after the pushes ended.
    let mut late = Engine::new(
        local(),
        member(6),
        [6; 32],
        ring.clock.clone(),
        Outbox::default(),
    )
    .expect("valid");
    late.join(&[addr(2)]);
    ring.engines.push(Some(late));
    ring.flush(6);
    ring.run_for(Duration::from_secs(5));
    assert_eq!(config_version(&ring, 6), Some(3));
    assert!(ring.engine(6).rumors().service(&grp(), id(1)).is_some());
}

#[test]
fn the_store_exports_and_imports_through_the_merge_rules() {
    let mut ring = converged(3, local());
    ring.engine(0)
        .apply_config(grp(), 5, b"five".to_vec())
        .expect("v5");
    ring.engine(0)
        .depart_member(id(9))
        .expect("departure of a stranger");
    ring.engine(0)
        .announce_service(grp(), spec("me"))
        .expect("service");
    let exported = ring.engine(0).rumors().export();

    // A fresh engine imports it: everything applied.
    let mut fresh = Engine::new(
        local(),
        member(5),
        [5; 32],
        ring.clock.clone(),
        Outbox::default(),
    )
    .expect("valid");
    let report = fresh.import_rumors(&exported).expect("imports");
    assert_eq!(report.applied, 3);
    assert_eq!(
        fresh.rumors().config(&grp()).map(|c| c.incarnation.0),
        Some(5)
    );
    assert!(fresh.rumors().is_departed(id(9)));
    assert_eq!(fresh.rumors().export(), exported);

    // A stale file cannot override newer state.
    ring.engine(1)
        .apply_config(grp(), 9, b"nine".to_vec())
        .expect("v9");
    let report = ring.engine(1).import_rumors(&exported).expect("imports");
    assert_eq!(
        ring.engine(1)
            .rumors()
            .config(&grp())
            .map(|c| c.incarnation.0),
        Some(9)
    );
    assert_eq!(report.unchanged, 1);
    // Garbage is refused as a whole, and nothing changes.
    let len = ring.engine(1).rumors().len();
    assert_eq!(
        ring.engine(1).import_rumors(&[0xff, 0xff, 0xff]),
        Err(RumorError::Malformed)
    );
    assert_eq!(ring.engine(1).rumors().len(), len);

    // A store holding our own departure stops us at once.
    let mut departed = Engine::new(
        local(),
        member(9),
        [9; 32],
        ring.clock.clone(),
        Outbox::default(),
    )
    .expect("valid");
    departed.import_rumors(&exported).expect("imports");
    assert!(departed.departed_by_operator() && departed.is_departed());
}

#[test]
fn garbage_rumor_streams_never_panic() {
    use rand::RngCore;
    let mut ring = converged(2, local());
    ring.engine(1)
        .apply_config(grp(), 1, b"x".to_vec())
        .expect("applied");
    let good = wire::seal_plain(&crate::rumor::encode_rumor(
        ring.engine(1)
            .rumors()
            .iter()
            .next()
            .map(|(_, r)| r)
            .expect("a rumor"),
    ));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let e = ring.engine(0);
    for cut in 0..good.len() {
        e.handle_stream(addr(1), &good[..cut]);
    }
    for _ in 0..3000 {
        let mut b = good.clone();
        let i = (rng.next_u32() as usize) % b.len();
        b[i] ^= 1 << (rng.next_u32() % 8);
        e.handle_stream(addr(1), &b);
        let mut junk = vec![0u8; (rng.next_u32() % 200) as usize];
        rng.fill_bytes(&mut junk);
        e.handle_stream(addr(1), &junk);
    }
    // Nonsense anti-entropy steps are refused too.
    for sync in [
        wire::RumorSync {
            stage: Some(1),
            bucket_count: Some(3),
            ..Default::default()
        },
        wire::RumorSync {
            stage: Some(1),
            bucket_count: Some(1 << 20),
            ..Default::default()
        },
        wire::RumorSync {
            stage: Some(2),
            bucket_count: Some(4),
            differing: vec![9],
            ..Default::default()
        },
        wire::RumorSync {
            stage: Some(2),
            bucket_count: Some(4),
            key_hashes: vec![1],
            ..Default::default()
        },
    ] {
        let before = e.metrics().dropped(DropReason::Invalid);
        let r = wire::Rumor {
            r#type: wire::RumorType::RumorSync as i32,
            tag: vec![],
            from_id: Some(id(1).to_string()),
            payload: Some(wire::RumorPayload::RumorSync(sync)),
        };
        e.handle_stream(addr(1), &wire::seal_plain(&r));
        assert_eq!(e.metrics().dropped(DropReason::Invalid), before + 1);
    }
}

#[test]
fn same_seed_same_rumor_traffic() {
    let run = |strategy| {
        let mut ring = converged(8, with(strategy));
        ring.engine(2)
            .apply_config(grp(), 1, b"x".to_vec())
            .expect("applied");
        ring.engine(5)
            .announce_service(grp(), spec("y"))
            .expect("announced");
        ring.flush_all();
        ring.run_for(Duration::from_secs(12));
        let exports: Vec<Vec<u8>> = (0..8).map(|i| ring.engine(i).rumors().export()).collect();
        (stream_bytes(&ring), exports, ring.events.len())
    };
    for strategy in [Dissemination::Habitat, Dissemination::Bounded] {
        assert!(run(strategy) == run(strategy), "{strategy:?}");
    }
}
