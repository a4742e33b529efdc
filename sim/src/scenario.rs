//! Scenario files: the TOML a user writes, read into plain structs.
//!
//! Reading goes text → `toml::Table` → `--set` overrides ([`crate::overrides`]) → [`Scenario`]
//! (serde, unknown keys rejected). Every problem becomes one [`ScenarioError`] naming the file
//! and the key; [`crate::plan`] then checks what serde cannot (selectors against the member
//! count, which keys each action needs, the protocol config).
//!
//! ```toml
//! name = "partition_heal"
//! seed = 42
//! duration = "300s"
//! members = 200
//! persistent = "0,100"
//! peers = "0"
//! preset = "habitat"
//! bootstrap = "converged"        # or "join" (the default); `start` is an alias
//! sample_interval = "1s"
//! [protocol]
//! suspicion_timeout = "9300ms"
//! [network]
//! one_way_delay_min = "1ms"
//! one_way_delay_mean = "4ms"
//! loss_probability = 0.01
//! [[service]]
//! group = "redis.default"
//! members = "0..4"
//! topology = "leader"
//! [[at]]
//! time = "60s"
//! action = "partition"
//! groups = ["0..99", "100..199"]
//! [[at]]
//! time = "70s"
//! action = "apply_config"
//! group = "redis.default"
//! version = 2
//! size = 4096                     # or text = "maxmemory = 1"
//! [[expect]]
//! kind = "converged"
//! after = "150s"
//! within = "60s"
//! [[expect]]
//! kind = "rumor_everywhere"
//! rumor = "config"
//! group = "redis.default"
//! version = 2
//! ```

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::selector::Selector;

/// A scenario as written in its file (after `--set` overrides). See the module documentation.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Names the run and its default output directory `reports/<name>/`.
    pub name: String,
    /// Free text for people reading the file.
    #[serde(default)]
    pub description: Option<String>,
    /// The run is a pure function of the scenario and this seed (`--seed` overrides it).
    #[serde(default)]
    pub seed: u64,
    /// Virtual time simulated.
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
    /// How many members the ring has (indices `0..members-1`).
    pub members: u32,
    /// Members started with the persistent flag (default: none).
    #[serde(default)]
    pub persistent: Option<Selector>,
    /// The bootstrap peers every member is given when it starts (default `"0"`).
    #[serde(default)]
    pub peers: Option<Selector>,
    /// `habitat`, `lan` or `local` (default `habitat`).
    #[serde(default = "default_preset")]
    pub preset: String,
    /// How often a row of `timeseries.csv` is written (default 1 s).
    #[serde(default = "default_sample_interval", with = "humantime_serde")]
    pub sample_interval: Duration,
    /// How the ring starts (default `join`); `start` is accepted as an alias.
    #[serde(default, alias = "start")]
    pub bootstrap: StartMode,
    /// Services the members run, announced when they start (and again after a restart).
    #[serde(default)]
    pub service: Vec<ServiceEntry>,
    /// Any protocol `Config` field, overriding the preset.
    #[serde(default)]
    pub protocol: toml::Table,
    /// The network between members (and inside each zone).
    #[serde(default)]
    pub network: NetworkSpec,
    /// Optional zones (racks, datacenters); when present, every member is in exactly one.
    #[serde(default)]
    pub zone: Vec<ZoneSpec>,
    /// Links between zones.
    #[serde(default)]
    pub link: Vec<LinkSpec>,
    /// The timeline of actions.
    #[serde(default)]
    pub at: Vec<At>,
    /// What must hold for the run to pass.
    #[serde(default)]
    pub expect: Vec<Expect>,
}

/// How the members start at time zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartMode {
    /// Every member starts knowing nobody and joins through `peers` (a join storm).
    #[default]
    Join,
    /// Every member starts knowing every other initially present member as Alive (a converged
    /// ring, without the join events), and is also given `peers`.
    Converged,
}

/// One `[[service]]`: the members running a service in a service group.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceEntry {
    /// The service group, `service.group[@org]`.
    pub group: String,
    /// Who runs it.
    pub members: Selector,
    /// `standalone` (default) or `leader` (elections run in the group once they exist).
    #[serde(default)]
    pub topology: Topology,
    /// Package identifier announced (default `core/<service>/1.0.0/20240101000000`).
    #[serde(default)]
    pub pkg: Option<String>,
    /// The configuration the service exports to its group (TOML text, default empty).
    #[serde(default)]
    pub cfg: Option<String>,
}

/// A service group's topology.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topology {
    /// Every member on its own.
    #[default]
    Standalone,
    /// One leader, elected (issue 4).
    Leader,
}

/// The `[network]` table, also the keys a `set_network` action may change.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Least one-way delay of any message (default 1 ms).
    #[serde(default = "default_delay_min", with = "humantime_serde")]
    pub one_way_delay_min: Duration,
    /// Mean one-way delay (default 2 ms): delay = min + Exp(mean − min), so this is the mean.
    #[serde(default = "default_delay_mean", with = "humantime_serde")]
    pub one_way_delay_mean: Duration,
    /// Probability that a datagram is lost (default 0).
    #[serde(default)]
    pub loss_probability: f64,
    /// Probability that a whole stream message is lost (default: `loss_probability`).
    #[serde(default)]
    pub stream_loss_probability: Option<f64>,
    /// Probability that a message is delivered twice (default 0).
    #[serde(default)]
    pub duplicate_probability: f64,
}

/// One `[[zone]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneSpec {
    /// Its name, used by links.
    pub name: String,
    /// The members in it.
    pub members: Selector,
}

/// One `[[link]]` between two zones (both directions). Its delay and loss add to the
/// `[network]` ones; a message between zones takes the path of least mean delay.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// One zone's name.
    pub a: String,
    /// The other zone's name.
    pub b: String,
    /// Least extra one-way delay over this link (default 0).
    #[serde(default, with = "humantime_serde")]
    pub one_way_delay_min: Duration,
    /// Mean extra one-way delay over this link (default: its minimum).
    #[serde(default, with = "humantime_serde")]
    pub one_way_delay_mean: Option<Duration>,
    /// Probability that a message is lost on this link (default 0; 1 cuts the link).
    #[serde(default)]
    pub loss_probability: f64,
}

/// One `[[at]]` entry of the timeline: an action at a virtual time, with the keys it needs.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct At {
    /// When (virtual time since the start).
    #[serde(with = "humantime_serde")]
    pub time: Duration,
    /// What.
    pub action: ActionKind,
    /// For `partition` (two or more groups) and `partition_oneway` (from, to).
    #[serde(default)]
    pub groups: Option<Vec<Selector>>,
    /// For member actions: who.
    #[serde(default)]
    pub members: Option<Selector>,
    /// For `pause`: how long.
    #[serde(default, with = "humantime_serde")]
    pub duration: Option<Duration>,
    /// For `slow`: how late the `members` process each input (their timers stay on time, so
    /// Acks arrive "too late" and they accuse healthy members: an overloaded process).
    #[serde(default, with = "humantime_serde")]
    pub delay: Option<Duration>,
    /// For `pause`: repeat every this long (from `time`), `count` times or until `until`.
    #[serde(default, with = "humantime_serde")]
    pub every: Option<Duration>,
    /// For a repeated `pause`: how many pauses in all (default: until `until` or the end).
    #[serde(default)]
    pub count: Option<u32>,
    /// For a repeated `pause`: no pause starts after this time (default: the end of the run).
    #[serde(default, with = "humantime_serde")]
    pub until: Option<Duration>,
    /// For a repeated `pause`: each member's each pause starts up to this much later than
    /// scheduled (uniform, drawn from the seed), so the members do not pause in step.
    #[serde(default, with = "humantime_serde")]
    pub jitter: Option<Duration>,
    /// For rumor actions: the service group.
    #[serde(default)]
    pub group: Option<String>,
    /// For `apply_config` and `upload_file`: the version (must be newer than the one in force).
    #[serde(default)]
    pub version: Option<u64>,
    /// For `apply_config`, `upload_file`, `update_service`: the payload as text.
    #[serde(default)]
    pub text: Option<String>,
    /// For `apply_config`, `upload_file`, `update_service`: a payload of this many bytes of
    /// filler, generated from the seed (instead of `text`).
    #[serde(default)]
    pub size: Option<u64>,
    /// For `upload_file`: the file's name.
    #[serde(default)]
    pub file: Option<String>,
    /// For `update_service`: the new package identifier.
    #[serde(default)]
    pub pkg: Option<String>,
    /// For operator actions (`apply_config`, `upload_file`, `depart_member`): the member whose
    /// engine issues the command (default: the lowest-index running member, not one of the
    /// departed `members`).
    #[serde(default)]
    pub via: Option<u32>,
    /// For `set_network` on a link: one zone.
    #[serde(default)]
    pub a: Option<String>,
    /// For `set_network` on a link: the other zone.
    #[serde(default)]
    pub b: Option<String>,
    /// For `set_network`.
    #[serde(default, with = "humantime_serde")]
    pub one_way_delay_min: Option<Duration>,
    /// For `set_network`.
    #[serde(default, with = "humantime_serde")]
    pub one_way_delay_mean: Option<Duration>,
    /// For `set_network`.
    #[serde(default)]
    pub loss_probability: Option<f64>,
    /// For `set_network` (not on a link).
    #[serde(default)]
    pub stream_loss_probability: Option<f64>,
    /// For `set_network` (not on a link).
    #[serde(default)]
    pub duplicate_probability: Option<f64>,
}

/// The actions of the timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Members in different `groups` cannot reach each other (either way).
    Partition,
    /// Messages from `groups[0]` to `groups[1]` are lost; the other way works.
    PartitionOneway,
    /// Removes every partition and isolation.
    Heal,
    /// The `members` can reach nobody and nobody can reach them.
    Isolate,
    /// The `members`' processes stop; their state is lost.
    Crash,
    /// The `members` start again (crashing first if running): same id, incarnation kept as if
    /// persisted and raised by one, the rumor store restored as persisted, a fresh member
    /// list, joining through `peers` (and announcing their services again).
    Restart,
    /// The `members` stop processing for `duration`: inputs queue, no timers fire.
    Pause,
    /// The `members` process every input `delay` late for `duration` (timers on time).
    Slow,
    /// The `members` start late (they are absent until this action) and join through `peers`.
    Join,
    /// The `members` depart gracefully and then stop.
    Depart,
    /// Changes the `[network]` keys given, or a link's keys when `a` and `b` name zones.
    SetNetwork,
    /// An operator applies version `version` of `group`'s configuration (`text` or `size`).
    ApplyConfig,
    /// An operator uploads version `version` of the file `file` of `group` (`text` or `size`).
    UploadFile,
    /// An operator departs the `members` for good (through a running member's engine).
    DepartMember,
    /// The `members` change the service they run in `group` (`pkg`, and `text` or `size` for
    /// the exported config).
    UpdateService,
}

impl ActionKind {
    /// The name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Partition => "partition",
            ActionKind::PartitionOneway => "partition_oneway",
            ActionKind::Heal => "heal",
            ActionKind::Isolate => "isolate",
            ActionKind::Crash => "crash",
            ActionKind::Restart => "restart",
            ActionKind::Pause => "pause",
            ActionKind::Slow => "slow",
            ActionKind::Join => "join",
            ActionKind::Depart => "depart",
            ActionKind::SetNetwork => "set_network",
            ActionKind::ApplyConfig => "apply_config",
            ActionKind::UploadFile => "upload_file",
            ActionKind::DepartMember => "depart_member",
            ActionKind::UpdateService => "update_service",
        }
    }
}

/// One `[[expect]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// What must hold.
    pub kind: ExpectKind,
    /// Start of the window (default: the start of the run).
    #[serde(default, with = "humantime_serde")]
    pub after: Option<Duration>,
    /// Length of the window (default: until the end of the run).
    #[serde(default, with = "humantime_serde")]
    pub within: Option<Duration>,
    /// For `detected`, `departed` and `no_quorum`: which members; for `rumor_everywhere` of
    /// services: whose services (default: every member of the group's `[[service]]`).
    #[serde(default)]
    pub members: Option<Selector>,
    /// For `rumor_everywhere`: which kind of rumor.
    #[serde(default)]
    pub rumor: Option<RumorSel>,
    /// For `rumor_everywhere` and the election kinds: the service group.
    #[serde(default)]
    pub group: Option<String>,
    /// For `rumor_everywhere`: the version (incarnation) that must be held, or a newer one
    /// (required for configs and files; 1 for services).
    #[serde(default)]
    pub version: Option<u64>,
    /// For `rumor_everywhere` of a file: its name.
    #[serde(default)]
    pub file: Option<String>,
}

/// The rumor kinds an expectation can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RumorSel {
    /// A service group's configuration.
    Config,
    /// A file of a service group.
    File,
    /// The services the group's members run.
    Service,
}

/// The kinds of expectation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectKind {
    /// Liveness: at some moment in the window every live member holds every other live member
    /// Alive.
    Converged,
    /// Liveness: at some moment in the window every live member holds each of `members`
    /// Confirmed or Departed.
    Detected,
    /// Safety: during the whole window no observer marks a live, unpaused member it can reach
    /// (both ways) Confirmed.
    NoFalsePositives,
    /// Liveness: at some moment in the window every live member holds that version (or a
    /// newer one) of the `rumor`.
    RumorEverywhere,
    /// The `members` are Departed in every live member's view at some moment in the window,
    /// no live member holds them otherwise from then on (restarts included), and at the end
    /// of the window they are Departed everywhere and not running.
    Departed,
    /// Liveness: at some moment in the window every live member of `group` on the majority
    /// side (see [`crate::elections`]) holds the same Finished leader, which is live and on
    /// that side.
    LeaderElected,
    /// Liveness: at some moment in the window each of `members` (of `group`) is live and holds
    /// the group's leader election NoQuorum.
    NoQuorum,
    /// Safety: during the window no two members that can reach each other finish the same term
    /// of an election of `group` (default: every group) with different leaders.
    SingleLeader,
}

impl ExpectKind {
    /// The name used in scenario files and `summary.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExpectKind::Converged => "converged",
            ExpectKind::Detected => "detected",
            ExpectKind::NoFalsePositives => "no_false_positives",
            ExpectKind::RumorEverywhere => "rumor_everywhere",
            ExpectKind::Departed => "departed",
            ExpectKind::LeaderElected => "leader_elected",
            ExpectKind::NoQuorum => "no_quorum",
            ExpectKind::SingleLeader => "single_leader",
        }
    }
}

/// An invalid scenario: which file, which key, what is wrong. Displays as one line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    /// The scenario file.
    pub file: String,
    /// The dotted key (`at[2].members`), or empty when the problem is not tied to one.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl ScenarioError {
    /// An error at `key` of `file`.
    pub fn new(file: &str, key: impl Into<String>, message: impl fmt::Display) -> Self {
        ScenarioError {
            file: file.to_string(),
            key: key.into(),
            message: one_line(&message.to_string()),
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.key, self.message)
        }
    }
}

/// Reads the scenario at `path`, applies `sets` (`KEY=VALUE`, see [`crate::overrides`]) and
/// deserializes it. `text` is the file's content (read by the caller, which reports I/O
/// errors itself).
pub fn parse(path: &Path, text: &str, sets: &[String]) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let mut table: toml::Table = toml::from_str(text).map_err(|e| syntax_error(&file, text, &e))?;
    for set in sets {
        crate::overrides::apply(&mut table, set)
            .map_err(|message| ScenarioError::new(&file, format!("--set {set}"), message))?;
    }
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." { String::new() } else { key };
        ScenarioError::new(&file, key, e.into_inner())
    })
}

/// A TOML syntax error as one line: the line number, the key on that line if any, the message.
fn syntax_error(file: &str, text: &str, e: &toml::de::Error) -> ScenarioError {
    let Some(span) = e.span() else {
        return ScenarioError::new(file, "", e.message());
    };
    let start = span.start.min(text.len());
    let line_no = text[..start].matches('\n').count() + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or("");
    let key = match line.split_once('=') {
        Some((k, _)) if !k.trim_start().starts_with('[') => format!("line {line_no}: {}", k.trim()),
        _ => format!("line {line_no}"),
    };
    ScenarioError::new(file, key, e.message())
}

/// Collapses a multi-line message into one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

fn default_preset() -> String {
    "habitat".to_string()
}

fn default_sample_interval() -> Duration {
    Duration::from_secs(1)
}

fn default_delay_min() -> Duration {
    Duration::from_millis(1)
}

fn default_delay_mean() -> Duration {
    Duration::from_millis(2)
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            one_way_delay_min: default_delay_min(),
            one_way_delay_mean: default_delay_mean(),
            loss_probability: 0.0,
            stream_loss_probability: None,
            duplicate_probability: 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Scenario, ScenarioError> {
        parse(Path::new("s.toml"), text, &[])
    }

    const MINIMAL: &str = "name = \"t\"\nduration = \"10s\"\nmembers = 3\n";

    #[test]
    fn minimal_scenario_gets_defaults() {
        let s = parse_str(MINIMAL).expect("valid");
        assert_eq!(s.name, "t");
        assert_eq!(s.duration, Duration::from_secs(10));
        assert_eq!(s.preset, "habitat");
        assert_eq!(s.sample_interval, Duration::from_secs(1));
        assert_eq!(s.bootstrap, StartMode::Join);
        assert_eq!(s.network.one_way_delay_min, Duration::from_millis(1));
        assert!(s.at.is_empty() && s.expect.is_empty());
    }

    #[test]
    fn the_issue_example_parses() {
        let text = r#"
name = "partition_heal"
seed = 42
duration = "300s"
members = 200
persistent = "0,100"
peers = "0"
preset = "habitat"
sample_interval = "1s"
[protocol]
suspicion_timeout = "9300ms"
[network]
one_way_delay_min = "1ms"
one_way_delay_mean = "4ms"
loss_probability = 0.01
[[at]]
time = "60s"
action = "partition"
groups = ["0..99", "100..199"]
[[at]]
time = "150s"
action = "heal"
[[expect]]
kind = "converged"
after = "150s"
within = "60s"
"#;
        let s = parse_str(text).expect("valid");
        assert_eq!(s.at.len(), 2);
        assert_eq!(s.at[0].action, ActionKind::Partition);
        assert_eq!(s.expect[0].within, Some(Duration::from_secs(60)));
        assert_eq!(s.network.loss_probability, 0.01);
    }

    #[test]
    fn errors_name_the_key_on_one_line() {
        let cases = [
            (format!("{MINIMAL}bogus = 1\n"), "bogus"),
            (
                format!("{MINIMAL}[[at]]\ntime = \"1s\"\naction = \"explode\"\n"),
                "at[0].action",
            ),
            (
                format!("{MINIMAL}[[at]]\ntime = \"1s\"\naction = \"crash\"\nmembers = \"x\"\n"),
                "at[0].members",
            ),
            (
                format!("{MINIMAL}[[expect]]\nkind = \"happy\"\n"),
                "expect[0].kind",
            ),
            (
                format!("{MINIMAL}sample_interval = \"soon\"\n"),
                "sample_interval",
            ),
            ("name = \"t\"\nduration = \"10s\"\n".to_string(), "members"),
            (format!("{MINIMAL}[network]\nloss = 0.5\n"), "loss"),
            ("name = \"t\"\nduration = = \"10s\"\n".to_string(), "line 2"),
        ];
        for (text, key) in cases {
            let e = parse_str(&text).expect_err("invalid");
            let line = e.to_string();
            assert!(line.starts_with("s.toml: "), "{line}");
            assert!(line.contains(key), "{line} should name {key}");
            assert!(!line.contains('\n'), "{line}");
        }
    }

    #[test]
    fn bootstrap_and_its_alias_start() {
        let s = parse_str(&format!("{MINIMAL}bootstrap = \"converged\"\n")).expect("valid");
        assert_eq!(s.bootstrap, StartMode::Converged);
        let s = parse_str(&format!("{MINIMAL}start = \"converged\"\n")).expect("valid");
        assert_eq!(s.bootstrap, StartMode::Converged);
        let e = parse_str(&format!("{MINIMAL}bootstrap = \"later\"\n")).expect_err("bad");
        assert!(e.to_string().contains("bootstrap"), "{e}");
    }

    #[test]
    fn services_and_rumor_actions_parse() {
        let text = format!(
            "{MINIMAL}[[service]]\ngroup = \"redis.default\"\nmembers = \"0..2\"\ntopology = \"leader\"\n\
             [[at]]\ntime = \"1s\"\naction = \"apply_config\"\ngroup = \"redis.default\"\nversion = 2\nsize = 100\n\
             [[expect]]\nkind = \"rumor_everywhere\"\nrumor = \"config\"\ngroup = \"redis.default\"\nversion = 2\n"
        );
        let s = parse_str(&text).expect("valid");
        assert_eq!(s.service[0].topology, Topology::Leader);
        assert_eq!(s.at[0].action, ActionKind::ApplyConfig);
        assert_eq!(s.at[0].size, Some(100));
        assert_eq!(s.expect[0].rumor, Some(RumorSel::Config));
        let e = parse_str(&format!(
            "{MINIMAL}[[service]]\ngroup = \"a.b\"\nmembers = \"0\"\ntopology = \"mesh\"\n"
        ))
        .expect_err("bad topology");
        assert!(e.to_string().contains("service[0].topology"), "{e}");
    }

    #[test]
    fn sets_override_keys() {
        let s = parse(
            Path::new("s.toml"),
            MINIMAL,
            &["members=7".into(), "protocol.suspicion_timeout=5s".into()],
        )
        .expect("valid");
        assert_eq!(s.members, 7);
        assert_eq!(
            s.protocol.get("suspicion_timeout"),
            Some(&toml::Value::String("5s".into()))
        );
        let e = parse(Path::new("s.toml"), MINIMAL, &["members=many".into()]).expect_err("bad");
        assert!(e.to_string().contains("members"), "{e}");
    }
}
