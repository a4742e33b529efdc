//! Pull-first membership dissemination through the `Ring` harness: a healed partition, and a
//! lone crash, with and without it.

use super::*;

/// `count` summed over every engine of the ring.
fn ring_total(ring: &Ring, count: impl Fn(&crate::metrics::Metrics) -> u64) -> u64 {
    ring.engines
        .iter()
        .flatten()
        .map(|e| count(e.metrics()))
        .sum()
}

/// Copies of membership records sent by the whole ring, and records its members lacked.
fn copies(ring: &Ring) -> (u64, u64) {
    (
        ring_total(ring, |m| {
            m.member_records_pushed + m.member_records_exchanged
        }),
        ring_total(ring, |m| m.member_records_learned),
    )
}

/// Member records pushed on streams by the whole ring.
fn pushed(ring: &Ring) -> u64 {
    ring_total(ring, |m| m.member_records_pushed)
}

/// A 200-member ring cut in halves for 40 s, then healed: every view is whole again within
/// 30 s. Returns the stream copies of member records sent from the cut to the end, and the
/// records the members lacked meanwhile.
fn cut_and_heal(member_pull: bool) -> (u64, u64) {
    let (sent, lacked, _) = cut_and_heal_with(Config {
        member_pull,
        ..local()
    });
    (sent, lacked)
}

/// [`cut_and_heal`] under `cfg`; also returns the records pushed from the cut to the end.
fn cut_and_heal_with(cfg: Config) -> (u64, u64, u64) {
    let n = 200;
    let half = n / 2;
    let mut ring = Ring::new(n, cfg, &[0, half]);
    ring.run_for(Duration::from_secs(20));
    for i in 0..n {
        for j in 0..n {
            assert_eq!(ring.health(i, j).unwrap_or(Health::Alive), Health::Alive);
        }
    }
    let (sent_before, lacked_before) = copies(&ring);
    let pushed_before = pushed(&ring);
    for a in 0..half {
        for b in half..n {
            ring.cut.insert((a, b));
            ring.cut.insert((b, a));
        }
    }
    ring.run_for(Duration::from_secs(40));
    assert_eq!(
        ring.health(0, n - 1),
        Some(Health::Confirmed),
        "the cut was seen"
    );
    ring.cut.clear();
    ring.run_for(Duration::from_secs(30));
    for i in 0..n {
        for j in (0..n).filter(|&j| j != i) {
            assert_eq!(ring.health(i, j), Some(Health::Alive), "{i} sees {j}");
        }
    }
    let (sent, lacked) = copies(&ring);
    (
        sent - sent_before,
        lacked - lacked_before,
        pushed(&ring) - pushed_before,
    )
}

#[test]
fn a_healed_partition_converges_by_pull_with_far_fewer_copies_than_push_only() {
    let (push_only, lacked_push) = cut_and_heal(false);
    let (pull_first, lacked_pull) = cut_and_heal(true);
    // Both learned about the same: the other half Suspect or Confirmed, then Alive again.
    assert!(lacked_push > 200 * 100 && lacked_pull > 200 * 100);
    assert!(
        pull_first * 2 < push_only,
        "pull-first sent {pull_first} member records on streams ({lacked_pull} lacked), \
         push-only {push_only} ({lacked_push} lacked)"
    );
    assert!(
        pull_first < 10 * lacked_pull,
        "{pull_first} copies for {lacked_pull} records lacked"
    );
}

#[test]
fn one_push_hop_pushes_a_mass_change_less_and_the_ring_still_heals() {
    let (_, lacked_three, pushed_three) = cut_and_heal_with(local());
    // cut_and_heal_with asserts that every view is whole within 30 s of the heal.
    let (_, lacked_one, pushed_one) = cut_and_heal_with(Config {
        push_hops: 1,
        ..local()
    });
    assert!(lacked_three > 200 * 100 && lacked_one > 200 * 100);
    assert!(
        pushed_one * 4 < pushed_three * 3,
        "one hop pushed {pushed_one} records, three hops {pushed_three}"
    );
}

#[test]
fn a_lone_crash_is_pushed_as_before() {
    let mut pushed_by_hops = Vec::new();
    for (member_pull, push_hops) in [(true, 3), (true, 1), (false, 3)] {
        let cfg = Config {
            member_pull,
            push_hops,
            ..local()
        };
        let mut ring = Ring::new(20, cfg, &[]);
        ring.run_for(Duration::from_secs(30));
        let pulls = |ring: &Ring| ring_total(ring, |m| m.member_pulls_triggered);
        let before = pulls(&ring);
        let pushed_before = pushed(&ring);
        ring.engines[7] = None;
        ring.run_for(Duration::from_secs(8));
        for i in (0..20).filter(|&i| i != 7) {
            assert_eq!(ring.health(i, 7), Some(Health::Confirmed), "observer {i}");
        }
        assert_eq!(pulls(&ring), before, "one crash is no mass change");
        if member_pull {
            pushed_by_hops.push(pushed(&ring) - pushed_before);
        }
    }
    // push_hops only counts during a mass change: the crash was pushed exactly as much.
    assert_eq!(pushed_by_hops[0], pushed_by_hops[1]);
    assert!(pushed_by_hops[0] > 0);
}

/// A record of a member outside the ring, held Confirmed (so nobody probes it).
fn ghost(i: usize, incarnation: u64) -> Membership {
    let mut m = member(i);
    m.incarnation = Incarnation(incarnation);
    Membership {
        member: m,
        health: Health::Confirmed,
    }
}

/// Members 0 and 1 hold 2,000 equal records, then their views drift apart in 340 (scattered
/// over the buckets, which hash the ids): 150 that 0 holds newer, 120 that 1 holds newer, 40
/// that only 0 holds and 30 that only 1 holds; and in 110 more only in health, at the same
/// incarnation: 60 that 0 holds Departed, 50 that 1 does.
/// One digest exchange started by 0: returns the whole records sent, and the summaries.
fn exchange_scattered_differences(
    member_pull: bool,
    member_summaries: bool,
) -> (u64, u64, TestEngine, TestEngine) {
    let cfg = Config {
        member_pull,
        member_summaries,
        ..local()
    };
    exchange_scattered_differences_with(cfg, member_pull)
}

/// [`exchange_scattered_differences`] under `cfg`, member 0 pulling (its view changing en
/// masse) or at rest.
fn exchange_scattered_differences_with(
    cfg: Config,
    pulling: bool,
) -> (u64, u64, TestEngine, TestEngine) {
    let mut ring = Ring::new(2, cfg, &[]);
    ring.run_for(Duration::from_secs(3));
    let hold = |ring: &mut Ring, e: usize, ids: std::ops::Range<usize>, incarnation: u64| {
        for i in ids {
            ring.engine(e)
                .view
                .members
                .merge(&ghost(i, incarnation), usize::MAX, 0);
        }
    };
    hold(&mut ring, 0, 10..2010, 0);
    hold(&mut ring, 1, 10..2010, 0);
    hold(&mut ring, 0, 10..160, 1);
    hold(&mut ring, 1, 200..320, 2);
    hold(&mut ring, 0, 3000..3040, 0);
    hold(&mut ring, 1, 4000..4030, 0);
    let depart = |ring: &mut Ring, e: usize, ids: std::ops::Range<usize>| {
        for i in ids {
            let departed = Membership {
                health: Health::Departed,
                ..ghost(i, 0)
            };
            ring.engine(e).view.members.merge(&departed, usize::MAX, 0);
        }
    };
    depart(&mut ring, 0, 600..660);
    depart(&mut ring, 1, 700..750);
    let sent = |ring: &mut Ring| -> (u64, u64) {
        (0..2).fold((0, 0), |(r, s), i| {
            let m = ring.engine(i).metrics();
            (
                r + m.member_records_exchanged,
                s + m.member_summaries_exchanged,
            )
        })
    };
    if pulling {
        // The view is changing en masse: member 0 pulls.
        ring.engine(0).view.new_period(true);
    }
    let (records_before, summaries_before) = sent(&mut ring);
    ring.engine(0).start_member_digest(addr(1));
    ring.flush(0);
    ring.run_for(Duration::from_millis(20));
    let (records, summaries) = sent(&mut ring);
    let mut engines = ring.engines.into_iter().flatten();
    let (a, b) = (engines.next(), engines.next());
    (
        records - records_before,
        summaries - summaries_before,
        a.expect("member 0"),
        b.expect("member 1"),
    )
}

#[test]
fn a_summary_answer_brings_exactly_the_records_each_side_lacks_or_holds_older() {
    let (records, summaries, a, b) = exchange_scattered_differences(true, true);
    assert_eq!(
        a.view_hash(),
        b.view_hash(),
        "the views agree after one exchange"
    );
    assert_eq!(
        a.members().get(id(211)).map(|m| m.member.incarnation),
        Some(Incarnation(2))
    );
    assert_eq!(
        b.members().get(id(10)).map(|m| m.member.incarnation),
        Some(Incarnation(1))
    );
    assert_eq!(b.members().health(id(3005)), Some(Health::Confirmed));
    assert_eq!(a.members().health(id(4006)), Some(Health::Confirmed));
    assert_eq!(b.members().health(id(630)), Some(Health::Departed));
    assert_eq!(a.members().health(id(720)), Some(Health::Departed));
    // 150 + 120 + 40 + 30: not one record the other side already held, and none for a
    // change of health alone: 0's 60 cross as summaries in its follow-up, 1's 50 were in its
    // summary answer.
    assert_eq!(records, 340, "whole records sent");
    assert_eq!(
        a.metrics().member_health_summaries + b.metrics().member_health_summaries,
        60,
        "health changes sent as summaries"
    );
    assert!(summaries >= 340 + 110 - 40, "{summaries} summaries");
    // Whole-bucket answers (push-only) send the records the answerer holds in every bucket
    // that differs, most of them equal to the initiator's.
    let (bucket_records, no_summaries, a, b) = exchange_scattered_differences(false, true);
    assert_eq!(a.view_hash(), b.view_hash());
    assert_eq!(no_summaries, 0);
    assert!(
        bucket_records > 2 * records,
        "{bucket_records} records in whole buckets"
    );
    assert_eq!(a.metrics().member_health_summaries, 0);
    // Pull-first without `member_summaries` (the default): two-member buckets, whole records.
    let (pulled_records, no_summaries, a, b) = exchange_scattered_differences(true, false);
    assert_eq!(a.view_hash(), b.view_hash());
    assert_eq!(no_summaries, 0);
    assert!(pulled_records > records, "{pulled_records} records");
    assert_eq!(a.metrics().member_health_summaries, 0);
}

/// The first exchange after a heal is started by a member whose own view was at rest: with
/// `member_summaries_at_rest` it asks for summaries all the same, so exactly the records
/// either side lacks or holds older cross whole; without, whole buckets cross.
#[test]
fn with_summaries_at_rest_an_exchange_outside_a_mass_change_asks_for_summaries() {
    let summaries = Config {
        member_summaries: true,
        ..local()
    };
    let at_rest = Config {
        member_summaries_at_rest: true,
        ..summaries.clone()
    };
    let (records, summarised, a, b) = exchange_scattered_differences_with(at_rest, false);
    assert!(!a.pulling(), "member 0 started the exchange at rest");
    assert_eq!(a.view_hash(), b.view_hash(), "the views agree");
    assert_eq!(records, 340, "whole records sent");
    // Coarse buckets at rest (eight records each): most of the view is summarised.
    assert!(summarised >= 1_000, "{summarised} summaries");
    assert_eq!(
        a.metrics().member_health_summaries + b.metrics().member_health_summaries,
        60,
        "health changes sent as summaries"
    );
    let (whole, none, a, b) = exchange_scattered_differences_with(summaries, false);
    assert_eq!(a.view_hash(), b.view_hash());
    assert_eq!(none, 0, "no summaries asked for at rest");
    assert!(whole > 3 * records, "{whole} records in whole buckets");
}

/// A difference too small to summarise (the answer holds whole records) with summaries on:
/// the initiator's follow-up still sends a change of health alone as a summary.
#[test]
fn a_whole_answer_is_followed_by_summaries_for_changes_of_health() {
    let cfg = Config {
        member_summaries: true,
        ..local()
    };
    let mut ring = Ring::new(2, cfg, &[]);
    ring.run_for(Duration::from_secs(3));
    for e in 0..2 {
        for i in 10..2010 {
            ring.engine(e)
                .view
                .members
                .merge(&ghost(i, 0), usize::MAX, 0);
        }
    }
    let departed = [100, 700, 1300];
    for i in departed {
        let record = Membership {
            health: Health::Departed,
            ..ghost(i, 0)
        };
        ring.engine(0).view.members.merge(&record, usize::MAX, 0);
    }
    ring.engine(0).view.new_period(true);
    let records_before = ring.engine(0).metrics().member_records_exchanged;
    ring.engine(0).start_member_digest(addr(1));
    ring.flush(0);
    ring.run_for(Duration::from_millis(20));
    for i in departed {
        assert_eq!(
            ring.engine(1).members().health(id(i)),
            Some(Health::Departed)
        );
    }
    let a = ring.engine(0).metrics();
    assert_eq!(a.member_health_summaries, 3);
    assert_eq!(
        a.member_records_exchanged, records_before,
        "no whole record sent back"
    );
    assert!(
        ring.engine(1).metrics().member_records_exchanged > 0,
        "the answer held whole records"
    );
}

/// A stage of a membership exchange from member 1, as a stream frame to `e`.
fn member_sync_frame(sync: wire::MemberSync) -> Vec<u8> {
    wire::seal_plain(&wire::Rumor {
        r#type: wire::RumorType::MemberSync as i32,
        tag: vec![],
        from_id: Some(id(1).to_string()),
        payload: Some(wire::RumorPayload::MemberSync(sync)),
    })
}

/// A change of health in a follow-up is news like a record: one that claims we are Suspect
/// is refuted, not believed, and one about a member held at another incarnation is skipped.
#[test]
fn a_summarised_claim_about_us_is_refuted_and_a_stale_one_skipped() {
    let mut ring = Ring::new(3, local(), &[]);
    ring.run_for(Duration::from_secs(3));
    let follow_up = |who: usize, incarnation: u64, health: Health| {
        let (hi, lo) = id(who).words();
        wire::MemberSync {
            reply: Some(true),
            stage: Some(3),
            bucket_count: Some(4),
            summary_ids: vec![hi, lo],
            summary_incarnations: vec![incarnation],
            summary_health: Some(vec![health as u8]),
            ..Default::default()
        }
    };
    let e = ring.engine(0);
    let before = e.incarnation();
    e.handle_stream(
        addr(1),
        &member_sync_frame(follow_up(0, before.0, Health::Suspect)),
    );
    assert!(e.incarnation() > before, "refuted");
    // Member 2 is held at incarnation 0: a summary at incarnation 5 cannot stand for its
    // record (the address may have changed with it), so nothing changes.
    e.handle_stream(
        addr(1),
        &member_sync_frame(follow_up(2, 5, Health::Suspect)),
    );
    assert_eq!(
        e.members()
            .get(id(2))
            .map(|m| (m.member.incarnation, m.health)),
        Some((Incarnation(0), Health::Alive))
    );
    // At the incarnation held it is applied like a pulled record: a Suspect claim is taken.
    e.handle_stream(
        addr(1),
        &member_sync_frame(follow_up(2, 0, Health::Suspect)),
    );
    assert_eq!(e.members().health(id(2)), Some(Health::Suspect));
}

#[test]
fn malformed_summaries_and_wanted_ids_are_dropped_and_counted() {
    let mut ring = Ring::new(2, local(), &[]);
    ring.run_for(Duration::from_secs(3));
    let answer = |ids: Vec<u64>, incarnations: Vec<u64>, health: Vec<u8>| wire::MemberSync {
        reply: Some(true),
        stage: Some(2),
        bucket_count: Some(4),
        differing: vec![0, 1, 2, 3],
        summaries: Some(true),
        summary_ids: ids,
        summary_incarnations: incarnations,
        summary_health: Some(health),
        ..Default::default()
    };
    let follow_up = |wanted: Vec<u64>| wire::MemberSync {
        reply: Some(true),
        stage: Some(3),
        bucket_count: Some(4),
        wanted_ids: wanted,
        ..Default::default()
    };
    for sync in [
        // Columns of different lengths.
        answer(vec![1, 2], vec![0, 0], vec![0]),
        answer(vec![1], vec![0], vec![0]),
        // No such health.
        answer(vec![1, 2], vec![0], vec![4]),
        // Ids out of order, or repeated.
        answer(vec![5, 5, 1, 1], vec![0, 0], vec![0, 0]),
        answer(vec![5, 5, 5, 5], vec![0, 0], vec![0, 0]),
        // Half an id, and more ids than the member holds records.
        follow_up(vec![7]),
        follow_up((0..20).collect()),
        // A follow-up's changes of health, malformed the same ways.
        wire::MemberSync {
            stage: Some(3),
            ..answer(vec![1, 2], vec![0, 0], vec![0])
        },
        wire::MemberSync {
            stage: Some(3),
            ..answer(vec![5, 5, 1, 1], vec![0, 0], vec![0, 0])
        },
        wire::MemberSync {
            stage: Some(3),
            ..answer(vec![1, 2], vec![0], vec![9])
        },
    ] {
        let e = ring.engine(0);
        let before = e.metrics().dropped(DropReason::Invalid);
        e.handle_stream(addr(1), &member_sync_frame(sync));
        assert_eq!(e.metrics().dropped(DropReason::Invalid), before + 1);
    }
    // Wanted ids that name nobody we hold are skipped: nothing is sent.
    ring.flush_all();
    ring.run_for(Duration::from_millis(10));
    let e = ring.engine(0);
    let before = e.metrics().member_records_exchanged;
    e.handle_stream(addr(1), &member_sync_frame(follow_up(vec![9, 9])));
    assert_eq!(e.metrics().member_records_exchanged, before);
    assert!(e.network_mut().streams.is_empty());
    // Asked for its own record and member 1's, it sends both whole.
    let (hi, lo) = id(0).words();
    let (hi1, lo1) = id(1).words();
    e.handle_stream(
        addr(1),
        &member_sync_frame(follow_up(vec![hi, lo, hi1, lo1])),
    );
    assert_eq!(e.metrics().member_records_exchanged, before + 2);
}
