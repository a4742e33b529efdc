//! The merge rules of every kind, the store's accessors and export, the codec's round trip.

use super::*;
use crate::wire;

fn g(s: &str) -> ServiceGroup {
    s.parse().expect("group")
}

fn service(member: u128, inc: u64, cfg: &str) -> Rumor {
    Rumor::Service(Service {
        member_id: MemberId::from_u128(member),
        group: g("redis.default"),
        incarnation: Incarnation(inc),
        initialized: true,
        pkg: "core/redis/7.0.0/20240101".into(),
        cfg: cfg.as_bytes().to_vec(),
        pkg_incarnation: 0,
        sys: Some(Box::new(SysInfo {
            ip: "10.0.0.1".into(),
            hostname: "h1".into(),
            gossip_port: 9638,
            ..SysInfo::default()
        })),
        withdrawn: false,
    })
}

fn config(inc: u64, text: &str) -> Rumor {
    Rumor::ServiceConfig(ServiceConfig {
        group: g("redis.default"),
        incarnation: Incarnation(inc),
        encrypted: false,
        config: text.as_bytes().to_vec(),
    })
}

fn file(name: &str, inc: u64, text: &str) -> Rumor {
    Rumor::ServiceFile(ServiceFile {
        group: g("redis.default"),
        incarnation: Incarnation(inc),
        encrypted: false,
        filename: name.into(),
        body: text.as_bytes().to_vec(),
    })
}

fn election(update: bool, term: u64, candidate: u128) -> Rumor {
    let e = Election {
        member_id: MemberId::from_u128(candidate),
        group: g("redis.default"),
        term,
        suitability: 3,
        status: ElectionStatus::Running,
        votes: vec![MemberId::from_u128(candidate)],
    };
    if update {
        Rumor::ElectionUpdate(e)
    } else {
        Rumor::Election(e)
    }
}

#[test]
fn service_config_and_file_replace_only_on_a_strictly_higher_incarnation() {
    for (old, same, newer, older) in [
        (
            service(1, 2, "a"),
            service(1, 2, "b"),
            service(1, 3, "c"),
            service(1, 1, "d"),
        ),
        (
            config(2, "a"),
            config(2, "b"),
            config(3, "c"),
            config(1, "d"),
        ),
        (
            file("f", 2, "a"),
            file("f", 2, "b"),
            file("f", 3, "c"),
            file("f", 1, "d"),
        ),
    ] {
        let mut store = RumorStore::new();
        assert_eq!(store.merge(old.clone()), StoreOutcome::Inserted);
        assert_eq!(
            store.merge(same),
            StoreOutcome::Same,
            "equal keeps the held one"
        );
        assert_eq!(store.get(&old.key()), Some(&old));
        assert_eq!(store.merge(older), StoreOutcome::Older);
        assert_eq!(store.get(&old.key()), Some(&old));
        assert_eq!(
            store.merge(newer.clone()),
            StoreOutcome::Replaced {
                from: Incarnation(2)
            }
        );
        assert_eq!(store.get(&old.key()), Some(&newer));
        assert_eq!(store.len(), 1);
    }
}

#[test]
fn a_departure_never_changes_once_set() {
    let mut store = RumorStore::new();
    let d = Rumor::Departure(Departure {
        member_id: MemberId::from_u128(9),
        signature: None,
    });
    assert_eq!(store.merge(d.clone()), StoreOutcome::Inserted);
    assert_eq!(store.merge(d), StoreOutcome::Same);
    // A signed copy replaces the unsigned one (and travels on); nothing replaces it.
    let signed = |byte| {
        Rumor::Departure(Departure {
            member_id: MemberId::from_u128(9),
            signature: Some([byte; 64]),
        })
    };
    assert!(matches!(
        store.merge(signed(1)),
        StoreOutcome::Replaced { .. }
    ));
    assert_eq!(store.merge(signed(2)), StoreOutcome::Same);
    assert!(store.is_departed(MemberId::from_u128(9)));
    assert!(!store.is_departed(MemberId::from_u128(8)));
    assert_eq!(
        store.departures().collect::<Vec<_>>(),
        vec![MemberId::from_u128(9)]
    );
}

#[test]
fn elections_higher_term_replaces_equal_term_merges_and_the_two_kinds_are_apart() {
    for update in [false, true] {
        let mut store = RumorStore::new();
        store.merge(election(update, 2, 1));
        // Same term: the votes merge (the rules are tested in `rumor::election`).
        assert_eq!(
            store.merge(election(update, 2, 5)),
            StoreOutcome::Replaced {
                from: Incarnation(2)
            }
        );
        assert_eq!(store.merge(election(update, 2, 5)), StoreOutcome::Same);
        assert_eq!(store.merge(election(update, 1, 5)), StoreOutcome::Older);
        assert_eq!(
            store.merge(election(update, 3, 5)),
            StoreOutcome::Replaced {
                from: Incarnation(2)
            }
        );
        let held = if update {
            store.election_update(&g("redis.default"))
        } else {
            store.election(&g("redis.default"))
        };
        assert_eq!(held.map(|e| e.member_id), Some(MemberId::from_u128(5)));
    }
    let mut store = RumorStore::new();
    store.merge(election(false, 1, 1));
    store.merge(election(true, 1, 2));
    assert_eq!(
        store.len(),
        2,
        "Election and ElectionUpdate are separate keys"
    );
}

#[test]
fn accessors_find_rumors_by_group_member_and_name() {
    let mut store = RumorStore::new();
    store.merge(service(2, 1, "x"));
    store.merge(service(1, 1, "y"));
    store.merge(config(4, "c"));
    store.merge(file("b.txt", 1, "b"));
    store.merge(file("a.txt", 1, "a"));
    let other = Rumor::ServiceFile(ServiceFile {
        group: g("redis.other"),
        incarnation: Incarnation(1),
        encrypted: false,
        filename: "z".into(),
        body: vec![],
    });
    store.merge(other);
    let grp = g("redis.default");
    let members: Vec<u128> = store
        .services(&grp)
        .map(|s| s.member_id.as_u128())
        .collect();
    assert_eq!(members, vec![1, 2]);
    assert_eq!(
        store.config(&grp).map(|c| c.incarnation),
        Some(Incarnation(4))
    );
    let names: Vec<&str> = store.files(&grp).map(|f| f.filename.as_str()).collect();
    assert_eq!(names, vec!["a.txt", "b.txt"]);
    assert_eq!(
        store.file(&grp, "b.txt").map(|f| f.body.clone()),
        Some(b"b".to_vec())
    );
    assert!(store.service(&grp, MemberId::from_u128(3)).is_none());
    assert_eq!(store.groups().len(), 2);
    assert_eq!(store.count(RumorKind::ServiceFile), 3);
}

#[test]
fn every_kind_round_trips_through_the_wire_messages() {
    let mut withdrawn = service(1, 7, "");
    if let Rumor::Service(s) = &mut withdrawn {
        s.withdrawn = true;
    }
    let all = vec![
        service(1, 2, "port = 6379"),
        withdrawn,
        config(3, "x = 1"),
        file("f", 1, "body"),
        election(false, 4, 2),
        election(true, 5, 3),
        Rumor::Departure(Departure {
            member_id: MemberId::from_u128(77),
            signature: None,
        }),
        Rumor::Departure(Departure {
            member_id: MemberId::from_u128(78),
            signature: Some([7; 64]),
        }),
    ];
    for r in all {
        let w = encode_rumor(&r);
        let bytes = prost::Message::encode_to_vec(&w);
        let back: wire::Rumor = prost::Message::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(decode_rumor(&back), Ok(Some(r.clone())), "{:?}", r.key());
    }
}

#[test]
fn invalid_fields_are_refused() {
    let mut w = encode_rumor(&config(1, "x"));
    if let Some(wire::RumorPayload::ServiceConfig(c)) = &mut w.payload {
        c.service_group = Some("no-dot".into());
    }
    assert_eq!(decode_rumor(&w), Err(crate::DropReason::Invalid));
    let mut w = encode_rumor(&service(1, 1, ""));
    if let Some(wire::RumorPayload::Service(s)) = &mut w.payload {
        s.member_id = Some("xyz".into());
    }
    assert_eq!(decode_rumor(&w), Err(crate::DropReason::Invalid));
    let mut w = encode_rumor(&election(false, 1, 1));
    if let Some(wire::RumorPayload::Election(e)) = &mut w.payload {
        e.status = Some(42);
    }
    assert_eq!(decode_rumor(&w), Err(crate::DropReason::Invalid));
    let w = wire::Rumor {
        r#type: wire::RumorType::Zone as i32,
        tag: vec![],
        from_id: None,
        payload: None,
    };
    assert_eq!(decode_rumor(&w), Ok(None));
}

#[test]
fn a_butterfly_service_without_the_withdrawn_field_encodes_as_butterfly_does() {
    let w = encode_rumor(&service(1, 1, "a"));
    let Some(wire::RumorPayload::Service(s)) = w.payload else {
        panic!("service payload");
    };
    assert_eq!(s.withdrawn, None, "field 14 left out unless set");
}

#[test]
fn export_holds_every_rumor_and_decodes() {
    let mut store = RumorStore::new();
    store.merge(service(1, 1, "x"));
    store.merge(config(2, "c"));
    let bytes = store.export();
    let batch = decode_batch(&bytes).expect("batch");
    assert_eq!(batch.rumors.len(), 2);
    let mut back = RumorStore::new();
    for w in &batch.rumors {
        back.merge(decode_rumor(w).expect("valid").expect("a store rumor"));
    }
    assert_eq!(back.export(), bytes);
}

#[test]
fn digests_agree_on_equal_stores_and_find_the_difference() {
    let mut a = RumorStore::new();
    let mut b = RumorStore::new();
    for i in 0..100 {
        a.merge(service(i, 1, "x"));
        b.merge(service(i, 1, "x"));
    }
    let count = Digest::bucket_count_for(a.len());
    assert_eq!(count, 16);
    assert_eq!(Digest::of(&a).buckets(count), Digest::of(&b).buckets(count));
    a.merge(service(5, 2, "newer"));
    b.merge(config(1, "only b"));
    let (da, db) = (Digest::of(&a), Digest::of(&b));
    let (ba, bb) = (da.buckets(count), db.buckets(count));
    let differing: std::collections::BTreeSet<u32> = (0..count)
        .filter(|&i| ba[i as usize] != bb[i as usize])
        .collect();
    assert!(!differing.is_empty() && differing.len() <= 2);
    let theirs = db.entries_in(&differing, count);
    let (give, want) = da.compare(&differing, count, &theirs);
    let give_keys = keys_with_hashes(&a, &give);
    let want_keys = keys_with_hashes(&b, &want);
    assert_eq!(give_keys, vec![service(5, 2, "").key()]);
    assert_eq!(want_keys, vec![config(1, "").key()]);
}

/// The keys whose rumors `ours` asks `theirs` for in a digest exchange.
fn wanted(ours: &RumorStore, theirs: &RumorStore) -> Vec<RumorKey> {
    let count = Digest::bucket_count_for(ours.len());
    let all: std::collections::BTreeSet<u32> = (0..count).collect();
    let theirs_digest = Digest::of(theirs);
    let (_, want) = Digest::of(ours).compare(&all, count, &theirs_digest.entries_in(&all, count));
    keys_with_hashes(theirs, &want)
}

#[test]
fn digests_send_a_candidate_the_vote_it_missed() {
    let with_votes = |status: ElectionStatus, votes: &[u128]| {
        let Rumor::Election(mut e) = election(false, 2, 9) else {
            unreachable!("a leader election");
        };
        e.status = status;
        e.votes = votes.iter().map(|&v| MemberId::from_u128(v)).collect();
        let mut store = RumorStore::new();
        store.merge(Rumor::Election(e));
        store
    };
    let key = election(false, 2, 9).key();
    let candidate = with_votes(ElectionStatus::Running, &[3, 5, 9]);
    let voter = with_votes(ElectionStatus::Running, &[3, 4, 5, 9]);
    assert_eq!(wanted(&candidate, &voter), vec![key.clone()]);
    assert!(wanted(&voter, &candidate).is_empty());
    // A Finished election of the term outranks any count of votes, and a higher term both.
    let finished = with_votes(ElectionStatus::Finished, &[9]);
    assert_eq!(wanted(&voter, &finished), vec![key.clone()]);
    assert!(wanted(&finished, &voter).is_empty());
    let mut next_term = RumorStore::new();
    next_term.merge(election(false, 3, 1));
    assert_eq!(wanted(&finished, &next_term), vec![key]);
}

#[test]
fn payload_bytes_per_kind_follow_inserts_and_replacements() {
    let mut store = RumorStore::new();
    assert_eq!(store.bytes(RumorKind::ServiceConfig), 0);
    store.merge(config(1, "abcd"));
    assert_eq!(store.bytes(RumorKind::ServiceConfig), 4);
    store.merge(config(2, "ab"));
    assert_eq!(
        store.bytes(RumorKind::ServiceConfig),
        2,
        "a replacement frees the old payload"
    );
    store.merge(config(1, "abcdefgh"));
    assert_eq!(
        store.bytes(RumorKind::ServiceConfig),
        2,
        "an older one changes nothing"
    );
    store.merge(service(7, 1, "xyz"));
    assert_eq!(store.bytes(RumorKind::Service), 3);
    assert_eq!(
        store.bytes(RumorKind::ServiceConfig),
        2,
        "kinds are counted apart"
    );
}
