//! `sim run` end to end: determinism, exit codes, error messages, and every action.

use std::path::Path;

mod common;
use common::{run, summary, write};

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).expect("output file")
}

/// A small scenario that exercises loss, duplication, delay, partitions and crashes.
const BUSY: &str = r#"
name = "busy"
seed = 5
duration = "60s"
members = 24
persistent = "0,12"
preset = "local"
sample_interval = "500ms"
[network]
one_way_delay_min = "1ms"
one_way_delay_mean = "6ms"
loss_probability = 0.05
duplicate_probability = 0.05
[[at]]
time = "10s"
action = "partition"
groups = ["0..11", "12..23"]
[[at]]
time = "20s"
action = "heal"
[[at]]
time = "25s"
action = "crash"
members = "random:3"
[[at]]
time = "35s"
action = "restart"
members = "5"
"#;

#[test]
fn same_seed_same_bytes_other_seed_other_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "busy.toml", BUSY);
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    for out in [&a, &b] {
        let o = run(&file, out, &[]);
        assert!(o.status.code().is_some_and(|c| c < 2), "{o:?}");
    }
    run(&file, &c, &["--seed", "6"]);
    for name in ["timeseries.csv", "events.csv", "members.csv"] {
        assert_eq!(
            read(&a, name),
            read(&b, name),
            "{name} differs between identical runs"
        );
    }
    assert!(
        read(&a, "events.csv").len() > 1000,
        "the run should have produced events"
    );
    assert_ne!(read(&a, "events.csv"), read(&c, "events.csv"));
    assert_ne!(read(&a, "members.csv"), read(&c, "members.csv"));
    let s = summary(&a);
    assert_eq!(s["seed"], 5);
    assert_eq!(summary(&c)["seed"], 6);
    assert_eq!(s["members"], 24);
    for key in [
        "expectations",
        "virtual_seconds",
        "wall_seconds",
        "events_processed",
        "messages_sent",
        "bytes_sent",
        "false_suspected",
        "false_confirmed",
    ] {
        assert!(!s[key].is_null(), "summary.json lacks {key}");
    }
    for stage in ["first_suspect", "first_confirmed", "all_confirmed"] {
        for key in ["count", "median_s", "p99_s", "max_s"] {
            assert!(
                s["detection"][stage].get(key).is_some(),
                "detection.{stage}.{key}"
            );
        }
    }
    assert_eq!(s["detection"]["first_confirmed"]["count"], 3);
}

#[test]
fn impossible_expectation_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "never.toml",
        "name = \"never\"\nduration = \"20s\"\nmembers = 8\npreset = \"local\"\n\
         [[expect]]\nkind = \"detected\"\nmembers = \"3\"\n",
    );
    let out = dir.path().join("out");
    let o = run(&file, &out, &[]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let s = summary(&out);
    assert_eq!(s["passed"], false);
    assert_eq!(s["expectations"][0]["kind"], "detected");
    assert_eq!(s["expectations"][0]["passed"], false);
}

#[test]
fn broken_scenarios_exit_2_with_one_line_naming_file_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let head = "name = \"broken\"\nduration = \"20s\"\nmembers = 8\n";
    let cases = [
        (format!("{head}colour = \"blue\"\n"), "colour"),
        (
            format!("{head}[[at]]\ntime = \"1s\"\naction = \"crash\"\nmembers = \"8\"\n"),
            "at[0].members",
        ),
        (
            format!("{head}[[at]]\ntime = \"1s\"\naction = \"explode\"\n"),
            "at[0].action",
        ),
        (
            format!("{head}[[expect]]\nkind = \"converged\"\nwithin = \"forever\"\n"),
            "expect[0].within",
        ),
        (
            format!("{head}[protocol]\nping_timeout = \"0s\"\n"),
            "protocol",
        ),
        (
            format!("{head}[protocol]\nping_timout = \"1s\"\n"),
            "ping_timout",
        ),
        (
            "name = \"broken\"\nduration = \"20s\"\nmembers = [\n".to_string(),
            "line ",
        ),
    ];
    for (i, (text, key)) in cases.iter().enumerate() {
        let file = write(dir.path(), &format!("broken{i}.toml"), text);
        let o = run(&file, &dir.path().join("out"), &[]);
        assert_eq!(o.status.code(), Some(2), "{text}: {o:?}");
        let stderr = String::from_utf8_lossy(&o.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line expected, got {stderr:?}");
        assert!(lines[0].contains(&format!("broken{i}.toml")), "{stderr}");
        assert!(lines[0].contains(key), "{stderr:?} should name {key}");
    }
    let o = run(
        &dir.path().join("missing.toml"),
        &dir.path().join("out"),
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let file = write(dir.path(), "ok.toml", head);
    let o = run(&file, &dir.path().join("out"), &["--set", "members=zero"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("members"));
}

#[test]
fn set_overrides_scenario_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "small.toml",
        "name = \"small\"\nduration = \"10s\"\nmembers = 4\npreset = \"local\"\n",
    );
    let out = dir.path().join("out");
    let o = run(
        &file,
        &out,
        &[
            "--set",
            "members=6",
            "--set",
            "protocol.suspicion_timeout=2s",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(summary(&out)["members"], 6);
}

/// Every action in one run: late join, depart, isolate, one-way partition, pause, restart,
/// set_network on the global network and on a zone link.
#[test]
fn every_action_runs_and_has_its_effect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = r#"
name = "actions"
duration = "120s"
members = 20
persistent = "0"
preset = "local"
sample_interval = "1s"
[[zone]]
name = "east"
members = "0..9"
[[zone]]
name = "west"
members = "10..19"
[[link]]
a = "east"
b = "west"
one_way_delay_min = "20ms"
one_way_delay_mean = "25ms"
[[at]]
time = "15s"
action = "join"
members = "19"
[[at]]
time = "20s"
action = "depart"
members = "18"
[[at]]
time = "25s"
action = "isolate"
members = "17"
[[at]]
time = "30s"
action = "partition_oneway"
groups = ["1", "2"]
[[at]]
time = "40s"
action = "heal"
[[at]]
time = "45s"
action = "pause"
members = "3"
duration = "5s"
[[at]]
time = "55s"
action = "restart"
members = "4"
[[at]]
time = "60s"
action = "set_network"
loss_probability = 0.02
[[at]]
time = "65s"
action = "set_network"
a = "east"
b = "west"
loss_probability = 1.0
[[at]]
time = "90s"
action = "set_network"
a = "east"
b = "west"
loss_probability = 0.0
[[expect]]
kind = "converged"
within = "15s"
[[expect]]
kind = "detected"
members = "18"
after = "20s"
within = "5s"
[[expect]]
kind = "detected"
members = "17"
after = "25s"
within = "15s"
[[expect]]
kind = "converged"
after = "90s"
"#;
    let file = write(dir.path(), "actions.toml", text);
    let out = dir.path().join("out");
    let o = run(&file, &out, &[]);
    let s = summary(&out);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        serde_json::to_string_pretty(&s).unwrap_or_default()
    );
    let events = String::from_utf8(read(&out, "events.csv")).expect("utf-8");
    assert!(
        events.lines().any(|l| l.contains(",18,Alive,Departed,")),
        "member 18's departure should be seen"
    );
    let rows: Vec<Vec<&str>> = events
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let time = |r: &Vec<&str>| r[0].parse::<f64>().expect("time_s");
    assert!(
        !rows
            .iter()
            .any(|r| (r[1] == "19" || r[2] == "19") && time(r) < 15.0),
        "the late joiner is absent before its join"
    );
    assert!(
        rows.iter().any(|r| r[1] == "19" && time(r) >= 15.0),
        "the late joiner joins"
    );
    assert!(
        rows.iter()
            .any(|r| r[2] == "4" && time(r) > 55.0 && r[5] != "0"),
        "the restarted member comes back with a higher incarnation"
    );
    assert!(
        rows.iter()
            .any(|r| r[2] == "17" && r[4] == "Confirmed" && time(r) > 25.0),
        "the isolated member is confirmed"
    );
}
