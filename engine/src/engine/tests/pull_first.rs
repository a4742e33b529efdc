//! Pull-first membership dissemination through the `Ring` harness: a healed partition, and a
//! lone crash, with and without it.

use super::*;

/// Copies of membership records sent by the whole ring, and records its members lacked.
fn copies(ring: &Ring) -> (u64, u64) {
    ring.engines
        .iter()
        .flatten()
        .fold((0, 0), |(sent, lacked), e| {
            let m = e.metrics();
            (
                sent + m.member_records_pushed + m.member_records_exchanged,
                lacked + m.member_records_learned,
            )
        })
}

/// A 200-member ring cut in halves for 40 s, then healed: every view is whole again within
/// 30 s. Returns the stream copies of member records sent from the cut to the end, and the
/// records the members lacked meanwhile.
fn cut_and_heal(member_pull: bool) -> (u64, u64) {
    let n = 200;
    let half = n / 2;
    let cfg = Config {
        member_pull,
        ..local()
    };
    let mut ring = Ring::new(n, cfg, &[0, half]);
    ring.run_for(Duration::from_secs(20));
    for i in 0..n {
        for j in 0..n {
            assert_eq!(ring.health(i, j).unwrap_or(Health::Alive), Health::Alive);
        }
    }
    let (sent_before, lacked_before) = copies(&ring);
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
    (sent - sent_before, lacked - lacked_before)
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
fn a_lone_crash_is_pushed_as_before() {
    for member_pull in [true, false] {
        let cfg = Config {
            member_pull,
            ..local()
        };
        let mut ring = Ring::new(20, cfg, &[]);
        ring.run_for(Duration::from_secs(30));
        let pulls = |ring: &Ring| -> u64 {
            ring.engines
                .iter()
                .flatten()
                .map(|e| e.metrics().member_pulls_triggered)
                .sum()
        };
        let before = pulls(&ring);
        ring.engines[7] = None;
        ring.run_for(Duration::from_secs(8));
        for i in (0..20).filter(|&i| i != 7) {
            assert_eq!(ring.health(i, 7), Some(Health::Confirmed), "observer {i}");
        }
        assert_eq!(pulls(&ring), before, "one crash is no mass change");
    }
}
