//! Leader and update elections through the `Ring` harness: one leader in rings of 3 and 5,
//! every restart rule (leader Confirmed, Departed, out of the group, leader without quorum),
//! a 3/2 partition and its heal, the update election in a leader topology, Butterfly's issue
//! #1994 (a group with Confirmed members that grows), late joiners that have not heard the
//! group's rumors or met its leader yet (issue 4), and determinism.

use super::*;
use crate::rumor::{Election, ElectionKind, ElectionStatus, ServiceGroup, ServiceSpec, Topology};

fn grp() -> ServiceGroup {
    "redis.default".parse().expect("group")
}

fn spec(topology: Topology) -> ServiceSpec {
    ServiceSpec {
        pkg: "core/redis/7.0.0/20240101000000".into(),
        initialized: true,
        topology,
        ..ServiceSpec::default()
    }
}

/// A converged ring of `n` (plain SWIM, local timings), of persistent members so that a
/// healed partition re-merges.
fn converged(n: usize) -> Ring {
    let persistent: Vec<usize> = (0..n).collect();
    let mut ring = Ring::new(n, local(), &persistent);
    ring.run_for(Duration::from_secs(15));
    for i in 0..n {
        assert_eq!(ring.engine(i).members().count(Health::Alive), n - 1);
    }
    ring
}

fn announce(ring: &mut Ring, members: impl IntoIterator<Item = usize>, topology: Topology) {
    for i in members {
        ring.engine(i)
            .announce_service(grp(), spec(topology))
            .expect("announced");
        ring.flush(i);
    }
}

fn election(ring: &Ring, i: usize, kind: ElectionKind) -> Option<Election> {
    ring.engines[i]
        .as_ref()
        .and_then(|e| e.election(kind, &grp()).cloned())
}

/// The Finished leader (and term) every listed member holds, asserting they agree.
fn agreed_leader(ring: &Ring, members: &[usize], kind: ElectionKind) -> (MemberId, u64) {
    let first = election(ring, members[0], kind).expect("an election");
    for &i in members {
        let e = election(ring, i, kind).expect("an election");
        assert_eq!(e.status, ElectionStatus::Finished, "member {i}: {e:?}");
        assert_eq!(
            (e.member_id, e.term),
            (first.member_id, first.term),
            "member {i} disagrees"
        );
    }
    (first.member_id, first.term)
}

/// (member, term, leader) of every ElectionFinished event for the leader election.
fn finished_events(ring: &Ring) -> Vec<(usize, u64, MemberId)> {
    ring.events
        .iter()
        .filter_map(|(i, e)| match e {
            Event::ElectionFinished {
                kind: ElectionKind::Leader,
                term,
                leader,
                ..
            } => Some((*i, *term, *leader)),
            _ => None,
        })
        .collect()
}

/// Never two leaders for one term, in any member's events.
fn assert_single_leader_per_term(ring: &Ring) {
    let mut by_term: BTreeMap<u64, MemberId> = BTreeMap::new();
    for (i, term, leader) in finished_events(ring) {
        let first = *by_term.entry(term).or_insert(leader);
        assert_eq!(first, leader, "member {i}: two leaders in term {term}");
    }
}

/// A ring of `n` that elected a leader among all its members.
fn elected(n: usize) -> (Ring, MemberId) {
    let mut ring = converged(n);
    announce(&mut ring, 0..n, Topology::Leader);
    ring.run_for(Duration::from_secs(20));
    let all: Vec<usize> = (0..n).collect();
    let (leader, term) = agreed_leader(&ring, &all, ElectionKind::Leader);
    assert_eq!(term, 0);
    (ring, leader)
}

fn index_of(leader: MemberId) -> usize {
    (0..16).find(|&i| id(i) == leader).expect("a ring member")
}

#[test]
fn three_and_five_members_elect_exactly_one_leader() {
    for n in [3, 5] {
        let (ring, leader) = elected(n);
        // Equal suitability: the highest member id wins.
        assert_eq!(leader, id(n - 1), "ring of {n}");
        assert_single_leader_per_term(&ring);
        for i in 0..n {
            assert!(
                finished_events(&ring)
                    .iter()
                    .any(|(m, _, l)| *m == i && *l == leader),
                "member {i} reported the leader"
            );
            let census = ring.engines[i]
                .as_ref()
                .and_then(|e| e.census_group(&grp()))
                .expect("census");
            assert_eq!(census.leader, Some(leader));
            assert_eq!(census.election_status, Some(ElectionStatus::Finished));
            assert_eq!(census.update_election_status, None);
        }
    }
}

#[test]
fn the_most_suitable_member_wins() {
    let mut ring = converged(5);
    ring.engine(1).set_suitability(grp(), 10);
    ring.engine(3).set_suitability(grp(), 5);
    announce(&mut ring, 0..5, Topology::Leader);
    ring.run_for(Duration::from_secs(20));
    let (leader, _) = agreed_leader(&ring, &[0, 1, 2, 3, 4], ElectionKind::Leader);
    assert_eq!(leader, id(1));
}

#[test]
fn standalone_services_start_no_election_until_asked() {
    let mut ring = converged(3);
    announce(&mut ring, 0..3, Topology::Standalone);
    ring.run_for(Duration::from_secs(10));
    assert!(election(&ring, 0, ElectionKind::Leader).is_none());
    ring.engine(0)
        .start_election(&grp())
        .expect("runs the service");
    ring.flush(0);
    ring.run_for(Duration::from_secs(20));
    agreed_leader(&ring, &[0, 1, 2], ElectionKind::Leader);
    let other: ServiceGroup = "other.default".parse().expect("group");
    assert!(ring.engine(0).start_election(&other).is_err());
}

#[test]
fn when_the_leader_crashes_a_new_leader_is_elected_with_a_higher_term() {
    let (mut ring, old) = elected(5);
    ring.engines[index_of(old)] = None;
    ring.run_for(Duration::from_secs(40));
    let survivors: Vec<usize> = (0..5).filter(|&i| id(i) != old).collect();
    let (leader, term) = agreed_leader(&ring, &survivors, ElectionKind::Leader);
    assert_ne!(leader, old);
    assert_eq!(leader, id(3), "the most suitable survivor");
    assert!(term >= 1);
    assert_single_leader_per_term(&ring);
}

#[test]
fn when_the_leader_departs_the_election_restarts() {
    let (mut ring, old) = elected(3);
    let i = index_of(old);
    ring.engine(i).depart();
    ring.flush(i);
    ring.run_for(Duration::from_secs(20));
    let (leader, term) = agreed_leader(&ring, &[0, 1], ElectionKind::Leader);
    assert_eq!((leader, term), (id(1), 1));
}

#[test]
fn when_the_leader_leaves_the_group_the_election_restarts() {
    // The leader stays in the ring but withdraws its service: for the group it is unknown.
    let (mut ring, old) = elected(3);
    let i = index_of(old);
    ring.engine(i).withdraw_service(&grp()).expect("withdrawn");
    ring.flush(i);
    ring.run_for(Duration::from_secs(20));
    let (leader, term) = agreed_leader(&ring, &[0, 1], ElectionKind::Leader);
    assert_eq!((leader, term), (id(1), 1));
}

#[test]
fn a_leader_that_loses_quorum_restarts_with_maximal_suitability() {
    let (mut ring, old) = elected(5);
    let i = index_of(old);
    ring.isolate(i);
    ring.run_for(Duration::from_secs(40));
    let mine = election(&ring, i, ElectionKind::Leader).expect("held");
    assert_eq!(mine.term, 1, "restarted with term + 1");
    assert_eq!(mine.member_id, old);
    assert_eq!(
        mine.suitability,
        u64::MAX,
        "a former leader stands with maximal suitability"
    );
    assert_eq!(mine.status, ElectionStatus::NoQuorum);
    assert!(ring.events.iter().any(|(m, e)| *m == i
        && matches!(
            e,
            Event::ElectionNoQuorum {
                kind: ElectionKind::Leader,
                term: 1,
                ..
            }
        )));
    // The others confirmed it and elected someone else in term 1.
    let others: Vec<usize> = (0..5).filter(|&j| j != i).collect();
    let (leader, term) = agreed_leader(&ring, &others, ElectionKind::Leader);
    assert_ne!(leader, old);
    assert_eq!(term, 1);
    // After the heal the former leader adopts the Finished election of its term.
    ring.cut.clear();
    ring.run_for(Duration::from_secs(60));
    let all: Vec<usize> = (0..5).collect();
    assert_eq!(agreed_leader(&ring, &all, ElectionKind::Leader).0, leader);
    assert_single_leader_per_term(&ring);
}

#[test]
fn a_three_two_split_elects_on_the_majority_side_only_and_heals_to_one_leader() {
    let mut ring = converged(5);
    announce(&mut ring, 0..5, Topology::Standalone);
    ring.run_for(Duration::from_secs(5));
    let (majority, minority) = ([0, 1, 2], [3, 4]);
    for a in majority {
        for b in minority {
            ring.cut.insert((a, b));
            ring.cut.insert((b, a));
        }
    }
    ring.run_for(Duration::from_secs(30));
    assert_eq!(ring.health(3, 0), Some(Health::Confirmed));
    for i in 0..5 {
        ring.engine(i).start_election(&grp()).expect("started");
        ring.flush(i);
    }
    ring.run_for(Duration::from_secs(30));
    let (leader, _) = agreed_leader(&ring, &majority, ElectionKind::Leader);
    assert_eq!(leader, id(2));
    for i in minority {
        let e = election(&ring, i, ElectionKind::Leader).expect("held");
        assert_eq!(e.status, ElectionStatus::NoQuorum, "member {i}");
    }
    ring.cut.clear();
    ring.run_for(Duration::from_secs(90));
    let all: Vec<usize> = (0..5).collect();
    agreed_leader(&ring, &all, ElectionKind::Leader);
    assert_single_leader_per_term(&ring);
}

#[test]
fn the_update_election_picks_a_follower_in_a_leader_topology() {
    let (mut ring, leader) = elected(3);
    for i in 0..3 {
        ring.engine(i)
            .start_update_election(&grp())
            .expect("started");
        ring.flush(i);
    }
    ring.run_for(Duration::from_secs(20));
    let (update_leader, _) = agreed_leader(&ring, &[0, 1, 2], ElectionKind::Update);
    assert_ne!(update_leader, leader);
    assert_eq!(update_leader, id(1));
    // The leader election is untouched, and the census shows both.
    assert_eq!(
        agreed_leader(&ring, &[0, 1, 2], ElectionKind::Leader).0,
        leader
    );
    let census = ring.engine(0).census_group(&grp()).expect("census");
    assert_eq!(census.update_leader, Some(update_leader));
    assert_eq!(
        census.update_election_status,
        Some(ElectionStatus::Finished)
    );
    assert_eq!(ring.engine(0).update_leader(&grp()), Some(update_leader));
    assert_eq!(ring.engine(0).elections(ElectionKind::Update).count(), 1);
}

/// Butterfly's issue #1994: a group holding Confirmed members grows while its election has no
/// quorum; the election must still finish.
#[test]
fn an_election_finishes_when_members_join_a_group_with_confirmed_members() {
    let mut ring = converged(7);
    announce(&mut ring, 0..4, Topology::Standalone);
    ring.run_for(Duration::from_secs(5));
    // Two of the four crash: 2 alive of 4, no quorum.
    ring.engines[2] = None;
    ring.engines[3] = None;
    ring.run_for(Duration::from_secs(30));
    assert_eq!(ring.health(0, 3), Some(Health::Confirmed));
    for i in [0, 1] {
        ring.engine(i).start_election(&grp()).expect("started");
        ring.flush(i);
    }
    ring.run_for(Duration::from_secs(10));
    for i in [0, 1] {
        let e = election(&ring, i, ElectionKind::Leader).expect("held");
        assert_eq!(e.status, ElectionStatus::NoQuorum, "member {i}");
    }
    // Three members join the group one by one: 3/5 alive has quorum, then 4/6, 5/7.
    for i in 4..7 {
        announce(&mut ring, [i], Topology::Standalone);
        ring.run_for(Duration::from_secs(2));
    }
    ring.run_for(Duration::from_secs(30));
    let live = [0, 1, 4, 5, 6];
    let (leader, _) = agreed_leader(&ring, &live, ElectionKind::Leader);
    assert!(live.iter().any(|&i| id(i) == leader));
    assert_single_leader_per_term(&ring);
    for i in [0, 1] {
        assert!(ring.events.iter().any(|(m, e)| *m == i
            && matches!(
                e,
                Event::ElectionNoQuorum {
                    kind: ElectionKind::Leader,
                    ..
                }
            )));
    }
}

/// A member that is not in the ring yet: it joins through member 0 once it is driven.
fn late_member(ring: &Ring, i: usize) -> TestEngine {
    let mut seed = [0u8; 32];
    seed[0] = i as u8;
    let mut e = Engine::new(
        local(),
        member(i),
        seed,
        ring.clock.clone(),
        Outbox::default(),
    )
    .expect("valid");
    e.join(&[addr(0)]);
    e
}

/// Whether a stream frame brings Service or Election rumors, alone or in a batch (what the
/// reply to a rumor pull brings a joiner).
fn brings_group_rumors(bytes: &[u8]) -> bool {
    let group_rumor = |r: &wire::Rumor| {
        matches!(
            r.payload,
            Some(wire::RumorPayload::Service(_) | wire::RumorPayload::Election(_))
        )
    };
    match wire::open_plain::<wire::Rumor>(bytes) {
        Ok(r) => match &r.payload {
            Some(wire::RumorPayload::Batch(b)) => b.rumors.iter().any(group_rumor),
            _ => group_rumor(&r),
        },
        Err(_) => false,
    }
}

/// Whether a stream frame starts a rumor pull (stage 1 of the digest exchange).
fn starts_a_pull(bytes: &[u8]) -> bool {
    matches!(
        wire::open_plain::<wire::Rumor>(bytes),
        Ok(wire::Rumor { payload: Some(wire::RumorPayload::RumorSync(s)), .. }) if s.stage == Some(1)
    )
}

/// Issue 4, `election_growth` on lossy seeds, in miniature: a member joins a group that
/// finished term 0 and at once stands in term 0 itself. Its first rumor pull is answered (the
/// digest shows what it lacks), but the reply bringing the group's Service and Election rumors
/// is lost, as is every other frame bringing them, until it pulls a second time. Taking the
/// answer for the rumors, it finished term 0 alone (its view of the group: itself), a second
/// leader of the term, and the merge rule then spread the higher-ranked one.
#[test]
fn a_joiner_whose_pull_reply_is_lost_does_not_finish_the_term_alone() {
    let (mut ring, leader) = elected(3);
    ring.engines.push(Some(late_member(&ring, 3)));
    announce(&mut ring, [3], Topology::Leader);
    let (mut pulls, mut seen) = (0, BTreeSet::new());
    let until = ring.clock.now() + Duration::from_secs(20);
    while ring.clock.now() < until {
        ring.run_for(Duration::from_millis(1));
        for Reverse((_, seq, from, _, kind, bytes)) in ring.queue.iter() {
            if *from == 3 && *kind == Kind::Stream && starts_a_pull(bytes) && seen.insert(*seq) {
                pulls += 1;
            }
        }
        if pulls < 2 {
            ring.queue.retain(|Reverse((_, _, _, to, kind, bytes))| {
                !(*to == 3 && *kind == Kind::Stream && brings_group_rumors(bytes))
            });
        }
    }
    assert!(pulls >= 2, "the joiner pulled again");
    assert_single_leader_per_term(&ring);
    assert_eq!(
        agreed_leader(&ring, &[0, 1, 2, 3], ElectionKind::Leader),
        (leader, 0)
    );
}

/// Issue 4, `election_growth` seed 41 in miniature: a joiner pulls the group's rumors, among
/// them the Finished election, before the membership exchange has told it of the leader. An
/// unknown leader is gone in Butterfly, so it restarted the term, alone: the others keep their
/// live leader, which did not call the new term, and the joiner never came back.
#[test]
fn a_joiner_keeps_a_leader_it_has_not_met_yet() {
    let (ring, leader) = elected(3);
    let mut late = late_member(&ring, 3);
    late.announce_service(grp(), spec(Topology::Leader))
        .expect("announced");
    let held = ring.engines[0].as_ref().expect("running");
    let rumors: Vec<wire::Rumor> = held
        .rumors()
        .iter()
        .map(|(_, r)| crate::rumor::encode_rumor(r))
        .collect();
    let frame = wire::Rumor {
        r#type: wire::RumorType::Batch as i32,
        tag: Vec::new(),
        from_id: Some(id(0).to_string()),
        payload: Some(wire::RumorPayload::Batch(wire::RumorBatch { rumors })),
    };
    late.handle_stream(addr(0), &wire::seal_plain(&frame));
    assert_eq!(late.members().health(leader), None, "not met yet");
    let e = late.election(ElectionKind::Leader, &grp()).expect("held");
    assert_eq!(
        (e.status, e.term, e.member_id),
        (ElectionStatus::Finished, 0, leader)
    );
    while let Some(ev) = late.poll_event() {
        assert!(
            !matches!(ev, Event::ElectionStarted { term: 1.., .. }),
            "restarted: {ev:?}"
        );
    }
}

#[test]
fn same_seed_same_election() {
    let run = || {
        let (ring, leader) = elected(5);
        let events: Vec<String> = ring
            .events
            .iter()
            .filter(|(_, e)| {
                matches!(
                    e,
                    Event::ElectionStarted { .. }
                        | Event::ElectionFinished { .. }
                        | Event::ElectionNoQuorum { .. }
                        | Event::RumorApplied { .. }
                )
            })
            .map(|(i, e)| format!("{i}:{e:?}"))
            .collect();
        (leader, events)
    };
    let a = run();
    assert!(!a.1.is_empty());
    assert_eq!(a, run());
}
