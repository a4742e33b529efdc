//! The rumor scenarios pass with both dissemination strategies, and their summaries carry the
//! rumor metrics: coverage per rumor version, traffic per channel, redundancy. Also: operator
//! actions, repeated pauses, and the scenario errors of the new keys.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

mod common;
use common::{scenario, summary, write};

/// `sim run FILE` into `out`, each of `sets` given as `--set`.
fn sim(file: &Path, out: &Path, sets: &[&str]) -> Output {
    let extra: Vec<&str> = sets.iter().flat_map(|set| ["--set", set]).collect();
    common::run(file, out, &extra)
}

/// Runs `name` with `dissemination` (and `sets`), asserts it passed, returns its summary.
fn passes(name: &str, dissemination: &str, sets: &[&str]) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let strategy = format!("protocol.dissemination={dissemination}");
    let mut all = vec![strategy.as_str()];
    all.extend_from_slice(sets);
    let o = sim(&scenario(name), &out, &all);
    let s = summary(&out);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{name} with {dissemination}: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        serde_json::to_string_pretty(&s["expectations"]).unwrap_or_default()
    );
    check_rumor_metrics(name, dissemination, &s);
    s
}

/// What every rumor scenario's summary must show.
fn check_rumor_metrics(name: &str, dissemination: &str, s: &Value) {
    let coverage = &s["rumor_coverage"];
    let versions = coverage["versions"].as_u64().expect("versions");
    assert!(versions > 0, "{name}: no rumor tracked");
    let list = s["rumor_convergence"]
        .as_array()
        .expect("rumor_convergence");
    assert_eq!(list.len() as u64, versions);
    // Every version reaches every live member, except (in `depart`) the service member 12
    // re-announced when it restarted, unaware it had been departed: the ring refuses it.
    let incomplete: Vec<&Value> = list
        .iter()
        .filter(|r| r["seconds_to_100"].is_null())
        .collect();
    let refused = |r: &&Value| name == "depart" && r["kind"] == "service" && r["member"] == 12;
    assert!(
        incomplete.iter().all(refused),
        "{name}/{dissemination}: not everywhere: {incomplete:?}"
    );
    for r in list.iter().filter(|r| !r["seconds_to_100"].is_null()) {
        let (t50, t99, t100) = (
            r["seconds_to_50"].as_f64().expect("50 %"),
            r["seconds_to_99"].as_f64().expect("99 %"),
            r["seconds_to_100"].as_f64().expect("100 %"),
        );
        assert!(0.0 <= t50 && t50 <= t99 && t99 <= t100, "{r}");
        assert!(r["kind"].is_string() && r["version"].is_u64(), "{r}");
    }
    let t = &s["traffic"];
    for channel in ["datagram", "stream", "total"] {
        assert!(
            t[channel]["messages"].as_u64().expect("messages") > 0,
            "{channel}"
        );
        assert!(
            t[channel]["bytes_per_member_per_second"]
                .as_f64()
                .expect("rate")
                > 0.0
        );
    }
    let stream = t["stream"]["bytes"].as_u64().expect("stream bytes");
    let parts: u64 = ["membership", "rumors", "rumor_sync", "other"]
        .iter()
        .map(|k| t["stream"][k]["bytes"].as_u64().expect("part"))
        .sum();
    assert_eq!(parts, stream, "the stream's parts add up");
    assert_eq!(
        t["stream"]["other"]["bytes"], 0,
        "every frame is recognised"
    );
    let sync = t["stream"]["rumor_sync"]["bytes"].as_u64().expect("sync");
    let pushed = t["stream"]["rumors"]["bytes"].as_u64().expect("rumors");
    match dissemination {
        "habitat" => assert_eq!(sync, 0, "Butterfly's heat has no anti-entropy"),
        // Anti-entropy repairs what pushes missed (on a quiet ring its checks ride on probes
        // and find the stores equal, costing no stream bytes at all); it never carries the
        // bulk.
        _ => assert!(
            sync <= pushed,
            "{name}: anti-entropy sent {sync} bytes, pushes {pushed}"
        ),
    }
    let ratio = s["redundancy"]["ratio"].as_f64().expect("redundancy");
    assert!(
        ratio >= 1.0,
        "{name}/{dissemination}: redundancy {ratio} < 1"
    );
    assert!(s["commands"]
        .as_array()
        .is_some_and(|c| c.iter().all(|c| c["ok"] == true)));
}

/// config_rollout is 100 members; with habitat's heat (O(N²) per member) the test runs it at
/// 40 (its selectors adjusted), the bounded strategy at its own size.
const SMALL_ROLLOUT: [&str; 4] = [
    "members=40",
    "service.0.members=0..19",
    "service.1.members=20..39",
    "at.1.via=12",
];

#[test]
fn config_rollout_bounded() {
    let s = passes("config_rollout", "bounded", &[]);
    assert_eq!(s["members"], 100);
    let config = s["rumor_convergence"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|r| r["kind"] == "config")
        .count();
    assert_eq!(config, 2, "config versions 1 and 2 are tracked");
    let via = &s["commands"][1];
    assert_eq!(
        (via["action"].as_str(), via["member"].as_u64()),
        (Some("apply_config"), Some(42))
    );
}

#[test]
fn config_rollout_habitat() {
    passes("config_rollout", "habitat", &SMALL_ROLLOUT);
}

#[test]
fn join_storm_both_strategies() {
    let bounded = passes("join_storm", "bounded", &[]);
    let habitat = passes("join_storm", "habitat", &["members=60"]);
    assert_eq!(habitat["members"], 60);
    // Per-member rates make runs of different sizes comparable; bounded sends fewer rumor
    // copies per copy needed.
    let ratio = |s: &Value| s["redundancy"]["ratio"].as_f64().expect("ratio");
    assert!(
        ratio(&bounded) < ratio(&habitat),
        "{} vs {}",
        ratio(&bounded),
        ratio(&habitat)
    );
}

#[test]
fn partition_heal_rumors_both_strategies() {
    for d in ["bounded", "habitat"] {
        let s = passes("partition_heal_rumors", d, &[]);
        // The config was applied during the cut: it could not reach the other half before
        // the heal at 80 s (born at 40 s).
        let config = s["rumor_convergence"]
            .as_array()
            .expect("list")
            .iter()
            .find(|r| r["kind"] == "config")
            .cloned()
            .expect("config tracked");
        assert!(
            config["seconds_to_100"].as_f64().expect("100 %") > 40.0,
            "{config}"
        );
        assert!(
            config["seconds_to_50"].as_f64().expect("50 %") < 40.0,
            "{config}"
        );
    }
}

#[test]
fn depart_both_strategies() {
    for d in ["bounded", "habitat"] {
        let s = passes("depart", d, &[]);
        assert_eq!(
            s["final"]["live"], 48,
            "{d}: members 7 and 12 stopped for good"
        );
        let departures = s["rumor_convergence"]
            .as_array()
            .expect("list")
            .iter()
            .filter(|r| r["kind"] == "departure")
            .count();
        assert_eq!(departures, 2);
    }
}

/// A departed member that was never told (it was down) and restarts must be refused;
/// without the departure the same restart brings it back Alive — so the expectation is not
/// vacuous.
#[test]
fn departed_expectation_fails_when_the_member_comes_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = r#"
name = "departed_check"
duration = "60s"
members = 12
preset = "local"
bootstrap = "converged"
[[at]]
time = "5s"
action = "crash"
members = "4"
[[at]]
time = "30s"
action = "restart"
members = "4"
[[expect]]
kind = "departed"
members = "4"
after = "5s"
"#;
    let file = write(dir.path(), "d.toml", text);
    let o = sim(&file, &dir.path().join("a"), &[]);
    assert_eq!(o.status.code(), Some(1), "never departed: {o:?}");
    let with = text.replace(
        "[[expect]]",
        "[[at]]\ntime = \"6s\"\naction = \"depart_member\"\nmembers = \"4\"\n[[expect]]",
    );
    let file = write(dir.path(), "e.toml", &with);
    let out = dir.path().join("b");
    let o = sim(&file, &out, &[]);
    let s = summary(&out);
    assert_eq!(o.status.code(), Some(0), "{}", s["expectations"]);
    assert_eq!(s["final"]["live"], 11);
    assert_eq!(
        s["commands"][0]["member"], 0,
        "issued through the lowest running member"
    );
}

/// A repeated pause: every 10 s from 10 s, 4 times, each of 3 members paused 3 s with up to
/// 1 s of jitter. Each pause is long past the `local` preset's ping timeout and spans several
/// protocol periods, so the members are suspected each time; and they are back after each.
/// (With 2 s pauses, one member in one window went unprobed on some seeds: 6 probe rounds of
/// 19 probers do not always reach a given member before it wakes.)
#[test]
fn repeated_pauses_happen_count_times() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = r#"
name = "pauses"
duration = "80s"
members = 20
preset = "local"
bootstrap = "converged"
[[at]]
time = "10s"
action = "pause"
members = "3,8,13"
duration = "3s"
every = "10s"
count = 4
jitter = "1s"
[[expect]]
kind = "converged"
after = "55s"
"#;
    let file = write(dir.path(), "p.toml", text);
    let out = dir.path().join("out");
    let o = sim(&file, &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let events = std::fs::read_to_string(out.join("events.csv")).expect("events");
    // For each paused member: the 10-second windows in which someone suspected it.
    for m in ["3", "8", "13"] {
        let mut windows: Vec<u64> = events
            .lines()
            .skip(1)
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|r| r[2] == m && r[4] == "Suspect")
            .map(|r| r[0].parse::<f64>().expect("time") as u64 / 10)
            .collect();
        windows.dedup();
        assert_eq!(
            windows,
            vec![1, 2, 3, 4],
            "member {m} suspected in each pause"
        );
    }
    // `until` instead of `count`: pauses at 10, 20, 30 s only.
    let until = text.replace("count = 4", "until = \"35s\"");
    let file = write(dir.path(), "u.toml", &until);
    let out = dir.path().join("until");
    assert_eq!(sim(&file, &out, &[]).status.code(), Some(0));
    let events = std::fs::read_to_string(out.join("events.csv")).expect("events");
    let last = events
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|r| r[2] == "3" && r[4] == "Suspect")
        .map(|r| r[0].parse::<f64>().expect("time"))
        .fold(0.0, f64::max);
    assert!((30.0..40.0).contains(&last), "last suspicion at {last}");
}

#[test]
fn bad_rumor_keys_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let head = "name = \"bad\"\nduration = \"20s\"\nmembers = 8\n\
                [[service]]\ngroup = \"redis.default\"\nmembers = \"0..3\"\n";
    let cases = [
        ("[[service]]\ngroup = \"redis\"\nmembers = \"4\"\n", "service[1].group"),
        (
            "[[service]]\ngroup = \"redis.default\"\nmembers = \"3..4\"\n",
            "service[1].members",
        ),
        (
            "[[at]]\ntime = \"1s\"\naction = \"apply_config\"\ngroup = \"redis.default\"\ntext = \"x\"\n",
            "at[0].version",
        ),
        (
            "[[at]]\ntime = \"1s\"\naction = \"apply_config\"\ngroup = \"redis.default\"\nversion = 1\n",
            "at[0].text",
        ),
        (
            "[[at]]\ntime = \"1s\"\naction = \"apply_config\"\ngroup = \"redis.default\"\nversion = 1\nsize = 70000\n",
            "at[0].size",
        ),
        (
            "[[at]]\ntime = \"1s\"\naction = \"upload_file\"\ngroup = \"redis.default\"\nversion = 1\ntext = \"x\"\n",
            "at[0].file",
        ),
        (
            "[[at]]\ntime = \"1s\"\naction = \"apply_config\"\ngroup = \"redis.default\"\nversion = 1\ntext = \"x\"\nvia = 8\n",
            "at[0].via",
        ),
        (
            "[[at]]\ntime = \"1s\"\naction = \"update_service\"\ngroup = \"redis.default\"\nmembers = \"5\"\npkg = \"a/b/1/2\"\n",
            "at[0].members",
        ),
        (
            "[[at]]\ntime = \"1s\"\naction = \"pause\"\nmembers = \"1\"\nduration = \"2s\"\ncount = 3\n",
            "at[0].count",
        ),
        (
            "[[at]]\ntime = \"1s\"\naction = \"pause\"\nmembers = \"1\"\nduration = \"2s\"\nevery = \"1s\"\n",
            "at[0].every",
        ),
        (
            "[[expect]]\nkind = \"rumor_everywhere\"\nrumor = \"file\"\ngroup = \"redis.default\"\nversion = 1\n",
            "expect[0].file",
        ),
        (
            "[[expect]]\nkind = \"rumor_everywhere\"\nrumor = \"config\"\ngroup = \"redis.default\"\nversion = 1\nfile = \"f\"\n",
            "expect[0].file",
        ),
        (
            "[[expect]]\nkind = \"rumor_everywhere\"\nrumor = \"service\"\ngroup = \"web.default\"\n",
            "expect[0].group",
        ),
        ("[[expect]]\nkind = \"departed\"\n", "expect[0].members"),
        ("bootstrap = \"eventually\"\n", "bootstrap"),
    ];
    for (i, (body, key)) in cases.iter().enumerate() {
        let file = write(
            dir.path(),
            &format!("bad{i}.toml"),
            &format!("{head}{body}"),
        );
        let o = sim(&file, &dir.path().join("out"), &[]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{body}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
        assert!(stderr.contains(key), "{stderr:?} should name {key}");
    }
}
