//! From a [`Scenario`] to a [`Plan`]: every selector resolved, every action checked for the
//! keys it needs, the protocol config built and validated, times in nanoseconds.
//!
//! Everything a run can get wrong about its input is found here, before the first event, and
//! reported as a [`ScenarioError`] naming the key.
//!
//! One concern per module: `protocol` (preset and `[protocol]`), `network` (`[network]`,
//! zones, links and `set_network`), `services` (`[[service]]`), `action` (an `[[at]]` entry
//! read into the typed action it names), `timeline` (actions resolved and ordered),
//! `expectations` (`[[expect]]`).

use std::time::Duration;

use engine::{Config, ServiceGroup, ServiceSpec};
use rand_chacha::ChaCha20Rng;

use crate::network::Params;
use crate::scenario::{ExpectKind, Scenario, ScenarioError, StartMode, Topology};
use crate::seeds::{self, Stream};
use crate::selector::Selector;
use crate::zones::{Link, Zones};

mod action;
mod expectations;
mod network;
mod protocol;
mod services;
mod timeline;

pub use timeline::filler;

/// At most this many members: member i's address is `10.(i >> 16).(i >> 8 & 255).(i & 255)`.
pub const MAX_MEMBERS: u32 = 1 << 24;

/// At most this many timeline steps after repeated pauses are expanded.
pub const MAX_STEPS: usize = 1_000_000;

/// A checked, resolved scenario.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The scenario's name.
    pub name: String,
    /// The seed of the run.
    pub seed: u64,
    /// The end of the run, in nanoseconds.
    pub end_ns: u64,
    /// How many members.
    pub members: u32,
    /// The protocol config every engine gets.
    pub config: Config,
    /// `[protocol] ring_key = true`: every engine seals all traffic with one ring key drawn
    /// from the seed, so byte counts and CPU include encryption.
    pub ring_key: bool,
    /// How the ring starts (`bootstrap`).
    pub bootstrap: StartMode,
    /// The `[[service]]` entries, in file order.
    pub services: Vec<ServicePlan>,
    /// `persistent[i]`: member i carries the persistent flag.
    pub persistent: Vec<bool>,
    /// Bootstrap peers (member indices).
    pub peers: Vec<u32>,
    /// `late[i]`: member i is absent until a `join` action starts it.
    pub late: Vec<bool>,
    /// Nanoseconds between two samples.
    pub sample_interval_ns: u64,
    /// Initial network parameters.
    pub network: Params,
    /// Zones, if any.
    pub zones: Option<Zones>,
    /// The timeline, sorted by time (file order among equal times).
    pub timeline: Vec<Step>,
    /// The expectations, in file order.
    pub expectations: Vec<Expectation>,
}

/// One resolved `[[service]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ServicePlan {
    /// The group.
    pub group: ServiceGroup,
    /// Who runs it (sorted, distinct).
    pub members: Vec<u32>,
    /// Its topology.
    pub topology: Topology,
    /// What each member announces.
    pub spec: ServiceSpec,
}

impl ServicePlan {
    /// Whether member `i` runs this service.
    pub fn runs(&self, i: u32) -> bool {
        self.members.binary_search(&i).is_ok()
    }
}

/// One resolved `[[at]]` (a repeated pause is several).
#[derive(Clone, Debug)]
pub struct Step {
    /// When, in nanoseconds.
    pub at_ns: u64,
    /// What.
    pub action: Action,
    /// Groups whose current leader joins the action's members when it runs (`leader:GROUP`).
    pub leaders: Vec<ServiceGroup>,
}

/// A resolved action; member lists are sorted and distinct.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Cut between these groups.
    Partition(Vec<Vec<u32>>),
    /// Drop messages from the first list to the second.
    PartitionOneWay(Vec<u32>, Vec<u32>),
    /// Remove all cuts and isolation.
    Heal,
    /// Cut these members off.
    Isolate(Vec<u32>),
    /// Crash these members.
    Crash(Vec<u32>),
    /// Restart these members.
    Restart(Vec<u32>),
    /// Pause these members for this many nanoseconds.
    Pause(Vec<u32>, u64),
    /// Slow these members: (members, for how long, input delay), in nanoseconds.
    Slow(Vec<u32>, u64, u64),
    /// Start these (late) members.
    Join(Vec<u32>),
    /// These members depart gracefully.
    Depart(Vec<u32>),
    /// New global network parameters.
    SetNetwork(Params),
    /// New parameters for the link between two zones.
    SetLink(u16, u16, Link),
    /// An operator applies a service config through `via` (or the default issuer).
    ApplyConfig {
        /// Group.
        group: ServiceGroup,
        /// Version.
        version: u64,
        /// The config's bytes.
        payload: Vec<u8>,
        /// The issuing member, if the scenario names one.
        via: Option<u32>,
    },
    /// An operator uploads a file through `via` (or the default issuer).
    UploadFile {
        /// Group.
        group: ServiceGroup,
        /// Version.
        version: u64,
        /// File name.
        file: String,
        /// The file's bytes.
        payload: Vec<u8>,
        /// The issuing member, if the scenario names one.
        via: Option<u32>,
    },
    /// An operator departs these members through `via` (or the default issuer).
    DepartMember {
        /// Who is departed.
        members: Vec<u32>,
        /// The issuing member, if the scenario names one.
        via: Option<u32>,
    },
    /// These members change the service they run in `group`.
    UpdateService {
        /// Group.
        group: ServiceGroup,
        /// Who.
        members: Vec<u32>,
        /// New package identifier, if any.
        pkg: Option<String>,
        /// New exported config, if any.
        cfg: Option<Vec<u8>>,
    },
}

impl Action {
    /// Adds `extra` to the members of a member action (kept sorted and distinct); other
    /// actions are left alone.
    pub fn add_members(&mut self, extra: &[u32]) {
        let list = match self {
            Action::Isolate(m)
            | Action::Crash(m)
            | Action::Restart(m)
            | Action::Pause(m, _)
            | Action::Slow(m, ..)
            | Action::Depart(m)
            | Action::DepartMember { members: m, .. } => m,
            _ => return,
        };
        list.extend_from_slice(extra);
        list.sort_unstable();
        list.dedup();
    }

    /// The action's name in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Partition(_) => "partition",
            Action::PartitionOneWay(..) => "partition_oneway",
            Action::Heal => "heal",
            Action::Isolate(_) => "isolate",
            Action::Crash(_) => "crash",
            Action::Restart(_) => "restart",
            Action::Pause(..) => "pause",
            Action::Slow(..) => "slow",
            Action::Join(_) => "join",
            Action::Depart(_) => "depart",
            Action::SetNetwork(_) | Action::SetLink(..) => "set_network",
            Action::ApplyConfig { .. } => "apply_config",
            Action::UploadFile { .. } => "upload_file",
            Action::DepartMember { .. } => "depart_member",
            Action::UpdateService { .. } => "update_service",
        }
    }
}

/// One resolved `[[expect]]`.
#[derive(Clone, Debug)]
pub struct Expectation {
    /// What must hold.
    pub kind: ExpectKind,
    /// Window start, in nanoseconds.
    pub after_ns: u64,
    /// Window end (inclusive), in nanoseconds, at most the end of the run.
    pub until_ns: u64,
    /// For `detected` and `departed`: the members.
    pub members: Vec<u32>,
    /// For `rumor_everywhere`: the rumor.
    pub rumor: Option<RumorTarget>,
    /// For the election kinds: the group (`single_leader` without one: every group).
    pub group: Option<ServiceGroup>,
}

/// What a `rumor_everywhere` expectation looks for: every live member holds `version` or newer.
#[derive(Clone, Debug, PartialEq)]
pub enum RumorTarget {
    /// The group's config.
    Config {
        /// Group.
        group: ServiceGroup,
        /// Least version.
        version: u64,
    },
    /// One file of the group.
    File {
        /// Group.
        group: ServiceGroup,
        /// File name.
        file: String,
        /// Least version.
        version: u64,
    },
    /// The service of every live member of the group's `[[service]]` entry.
    Service {
        /// Group.
        group: ServiceGroup,
        /// The members running it.
        members: Vec<u32>,
        /// Least incarnation.
        version: u64,
    },
}

/// Checks and resolves `scenario` read from `file`; `seed` overrides the scenario's.
///
/// Selectors are resolved in a fixed order (persistent, peers, zones, services, the timeline
/// in file order, the expectations), so that `random:N` draws depend on the seed alone.
pub fn compile(file: &str, scenario: &Scenario, seed: Option<u64>) -> Result<Plan, ScenarioError> {
    let s = scenario;
    let seed = seed.unwrap_or(s.seed);
    let n = s.members;
    check_run(file, s)?;
    let end_ns = nanos(s.duration);
    let mut selectors = Selectors {
        file,
        members: n,
        rng: seeds::rng(seed, Stream::Selectors, 0),
    };
    let persistent = match &s.persistent {
        Some(sel) => mask(n, &selectors.resolve("persistent", sel)?),
        None => vec![false; n as usize],
    };
    let peers = match &s.peers {
        Some(sel) => selectors.resolve("peers", sel)?,
        None => vec![0],
    };
    let mut protocol = s.protocol.clone();
    let ring_key = match protocol.remove("ring_key") {
        None => false,
        Some(toml::Value::Boolean(b)) => b,
        Some(other) => {
            return Err(ScenarioError::new(
                file,
                "protocol.ring_key",
                format!("must be true or false, not {other}"),
            ))
        }
    };
    let config = protocol::config(file, &s.preset, &protocol)?;
    let network = network::params(&s.network)
        .map_err(|(k, m)| ScenarioError::new(file, format!("network.{k}"), m))?;
    let zones = network::compile_zones(file, s, &mut selectors)?;
    let services = services::compile_services(file, s, &mut selectors)?;
    let cx = Context {
        file,
        scenario: s,
        seed,
        config: &config,
        services: &services,
    };
    let (timeline, late) = timeline::compile_timeline(&cx, &mut selectors, network, zones.clone())?;
    let expectations = expectations::compile_expectations(&cx, &mut selectors, &timeline, end_ns)?;
    Ok(Plan {
        name: s.name.clone(),
        seed,
        end_ns,
        members: n,
        config,
        ring_key,
        bootstrap: s.bootstrap,
        services,
        persistent,
        peers,
        late,
        sample_interval_ns: nanos(s.sample_interval),
        network,
        zones,
        timeline,
        expectations,
    })
}

/// The run's size and length: members within bounds, durations not zero.
fn check_run(file: &str, s: &Scenario) -> Result<(), ScenarioError> {
    let err = |key: &str, message: String| Err(ScenarioError::new(file, key, message));
    let n = s.members;
    if n == 0 || n > MAX_MEMBERS {
        return err(
            "members",
            format!("must be between 1 and {MAX_MEMBERS}, not {n}"),
        );
    }
    if s.duration.is_zero() {
        return err("duration", "must not be zero".into());
    }
    if s.sample_interval.is_zero() {
        return err("sample_interval", "must not be zero".into());
    }
    Ok(())
}

/// Resolves the selector found at a key into member indices, drawing `random:N` from the
/// seed's selector stream in the order asked.
struct Selectors<'a> {
    file: &'a str,
    members: u32,
    rng: ChaCha20Rng,
}

impl Selectors<'_> {
    /// `sel`, found at `key`. `leader:GROUP` is resolved when an action runs, so only a
    /// timeline action's `members` may use it; `crashed` names the timeline's crashes, so only
    /// an expectation's `members` may.
    fn resolve(&mut self, key: &str, sel: &Selector) -> Result<Vec<u32>, ScenarioError> {
        let err = |message: String| ScenarioError::new(self.file, key, message);
        let action_members = key.starts_with("at[") && key.ends_with("].members");
        if !action_members && !sel.leaders().is_empty() {
            return Err(err(format!(
                "{sel}: leader:GROUP is resolved when an action runs; only a timeline action's members may use it"
            )));
        }
        let expect_members = key.starts_with("expect[") && key.ends_with("].members");
        if !expect_members && sel.names_crashed() {
            return Err(err(format!(
                "{sel}: `crashed` names the timeline's crashed members; only an expectation's members may use it"
            )));
        }
        sel.resolve(self.members, &mut self.rng)
            .map_err(|e| err(e.to_string()))
    }
}

/// What the timeline and the expectations are checked against.
struct Context<'a> {
    file: &'a str,
    scenario: &'a Scenario,
    seed: u64,
    config: &'a Config,
    services: &'a [ServicePlan],
}

impl Context<'_> {
    fn err(&self, key: &str, message: String) -> ScenarioError {
        ScenarioError::new(self.file, key, message)
    }

    /// The service group written `text` at `key`.
    fn group(&self, key: &str, text: &str) -> Result<ServiceGroup, ScenarioError> {
        text.parse::<ServiceGroup>()
            .map_err(|e| self.err(key, e.to_string()))
    }

    /// The first `[[service]]` entry of `group`, which must exist.
    fn declared(&self, key: &str, group: &ServiceGroup) -> Result<&ServicePlan, ScenarioError> {
        self.services
            .iter()
            .find(|sv| &sv.group == group)
            .ok_or_else(|| self.err(key, format!("no [[service]] declares the group {group}")))
    }
}

fn mask(n: u32, members: &[u32]) -> Vec<bool> {
    let mut m = vec![false; n as usize];
    for &i in members {
        m[i as usize] = true;
    }
    m
}

/// A duration in nanoseconds (saturating).
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn show(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const HEAD: &str = "name = \"t\"\nduration = \"100s\"\nmembers = 10\n";

    fn compile_str(body: &str) -> Result<Plan, ScenarioError> {
        let text = format!("{HEAD}{body}");
        let s = crate::scenario::parse(Path::new("t.toml"), &text, &[])?;
        compile("t.toml", &s, None)
    }

    fn error_of(body: &str) -> String {
        compile_str(body).expect_err("invalid").to_string()
    }

    const LEADER_GROUP: &str =
        "[[service]]\ngroup = \"redis.default\"\nmembers = \"0..4\"\ntopology = \"leader\"\n\
         [[service]]\ngroup = \"web.default\"\nmembers = \"5..9\"\n";

    #[test]
    fn leader_selectors_and_election_expectations() {
        let plan = compile_str(&format!(
            "{LEADER_GROUP}[[at]]\ntime = \"10s\"\naction = \"crash\"\nmembers = \"leader:redis.default,7\"\n\
             [[expect]]\nkind = \"leader_elected\"\ngroup = \"redis.default\"\n\
             [[expect]]\nkind = \"no_quorum\"\ngroup = \"redis.default\"\nmembers = \"3,4\"\n\
             [[expect]]\nkind = \"single_leader\"\n"
        ))
        .expect("valid");
        assert_eq!(plan.timeline[0].action, Action::Crash(vec![7]));
        assert_eq!(plan.timeline[0].leaders.len(), 1);
        assert_eq!(plan.expectations[1].members, vec![3, 4]);
        assert!(plan.expectations[2].group.is_none());
        let mut crash = Action::Crash(vec![7]);
        crash.add_members(&[2, 7]);
        assert_eq!(crash, Action::Crash(vec![2, 7]));
        for (body, key) in [
            ("persistent = \"leader:redis.default\"\n".to_string(), "persistent"),
            (
                format!("{LEADER_GROUP}[[at]]\ntime = \"1s\"\naction = \"crash\"\nmembers = \"leader:web.default\"\n"),
                "at[0].members",
            ),
            (
                format!("{LEADER_GROUP}[[at]]\ntime = \"1s\"\naction = \"join\"\nmembers = \"leader:redis.default\"\n"),
                "at[0].members",
            ),
            (
                format!("{LEADER_GROUP}[[at]]\ntime = \"1s\"\naction = \"crash\"\nmembers = \"leader:nope.default\"\n"),
                "at[0].members",
            ),
            (
                format!("{LEADER_GROUP}[[at]]\ntime = \"1s\"\naction = \"pause\"\nmembers = \"leader:redis.default\"\nduration = \"1s\"\nevery = \"5s\"\njitter = \"1s\"\n"),
                "at[0].members",
            ),
            (
                format!("{LEADER_GROUP}[[at]]\ntime = \"1s\"\naction = \"upload_file\"\ngroup = \"redis.default\"\nversion = 2\nfile = \"\"\ntext = \"x\"\n"),
                "at[0].file",
            ),
            (
                format!("{LEADER_GROUP}[[expect]]\nkind = \"leader_elected\"\n"),
                "expect[0].group",
            ),
            (
                format!("{LEADER_GROUP}[[expect]]\nkind = \"no_quorum\"\ngroup = \"redis.default\"\n"),
                "expect[0].members",
            ),
            (
                format!("{LEADER_GROUP}[[expect]]\nkind = \"no_quorum\"\ngroup = \"redis.default\"\nmembers = \"6\"\n"),
                "expect[0].members",
            ),
            (
                format!("{LEADER_GROUP}[[expect]]\nkind = \"leader_elected\"\ngroup = \"web.default\"\n"),
                "expect[0].group",
            ),
        ] {
            let e = error_of(&body);
            assert!(e.contains(key), "{e} should name {key}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn resolves_the_timeline_in_time_order() {
        let plan = compile_str(
            "persistent = \"0,5\"\n[[at]]\ntime = \"20s\"\naction = \"heal\"\n\
             [[at]]\ntime = \"10s\"\naction = \"partition\"\ngroups = [\"0..4\", \"5..9\"]\n\
             [[at]]\ntime = \"30s\"\naction = \"join\"\nmembers = \"9\"\n\
             [[at]]\ntime = \"40s\"\naction = \"set_network\"\nloss_probability = 0.5\n",
        )
        .expect("valid");
        assert_eq!(plan.persistent.iter().filter(|&&p| p).count(), 2);
        assert_eq!(plan.peers, vec![0]);
        assert_eq!(plan.timeline[0].at_ns, 10_000_000_000);
        assert!(matches!(plan.timeline[0].action, Action::Partition(ref g) if g.len() == 2));
        assert_eq!(plan.timeline[1].action, Action::Heal);
        assert!(plan.late[9] && !plan.late[8]);
        assert!(
            matches!(plan.timeline[3].action, Action::SetNetwork(p) if p.stream_loss_probability == 0.5)
        );
        assert_eq!(plan.network.loss_probability, 0.0);
    }

    #[test]
    fn protocol_overrides_apply_over_the_preset() {
        let plan = compile_str("preset = \"lan\"\n[protocol]\nsuspicion_timeout = \"7s\"\n")
            .expect("valid");
        assert_eq!(plan.config.suspicion_timeout, Duration::from_secs(7));
        let lan = Config::preset("lan").expect("lan");
        assert_eq!(plan.config.protocol_period, lan.protocol_period);
    }

    #[test]
    fn invalid_scenarios_name_the_key() {
        let cases = [
            ("[protocol]\nbogus_timeout = \"1s\"\n", "protocol"),
            (
                "[protocol]\nsuspicion_timeout = \"soon\"\n",
                "protocol.suspicion_timeout",
            ),
            ("[protocol]\nprotocol_period = \"0s\"\n", "protocol"),
            ("preset = \"wan\"\n", "preset"),
            (
                "[[at]]\ntime = \"1s\"\naction = \"crash\"\n",
                "at[0].members",
            ),
            (
                "[[at]]\ntime = \"1s\"\naction = \"crash\"\nmembers = \"10\"\n",
                "at[0].members",
            ),
            (
                "[[at]]\ntime = \"1s\"\naction = \"heal\"\nmembers = \"1\"\n",
                "at[0].members",
            ),
            (
                "[[at]]\ntime = \"1s\"\naction = \"pause\"\nmembers = \"1\"\n",
                "at[0].duration",
            ),
            (
                "[[at]]\ntime = \"1s\"\naction = \"partition\"\ngroups = [\"1\"]\n",
                "at[0].groups",
            ),
            ("[[at]]\ntime = \"200s\"\naction = \"heal\"\n", "at[0].time"),
            (
                "[[at]]\ntime = \"1s\"\naction = \"set_network\"\n",
                "at[0].action",
            ),
            (
                "[[at]]\ntime = \"1s\"\naction = \"set_network\"\nloss_probability = 2.0\n",
                "at[0].loss_probability",
            ),
            (
                "[[at]]\ntime = \"1s\"\naction = \"set_network\"\na = \"x\"\nb = \"y\"\n",
                "at[0].a",
            ),
            ("[[expect]]\nkind = \"detected\"\n", "expect[0].members"),
            (
                "[[expect]]\nkind = \"converged\"\nmembers = \"1\"\n",
                "expect[0].members",
            ),
            (
                "[network]\nloss_probability = -0.1\n",
                "network.loss_probability",
            ),
            (
                "[network]\none_way_delay_min = \"5ms\"\none_way_delay_mean = \"1ms\"\n",
                "network.one_way_delay_mean",
            ),
            ("peers = \"0..10\"\n", "peers"),
            ("[[zone]]\nname = \"a\"\nmembers = \"0..4\"\n", "zone"),
            (
                "[[zone]]\nname = \"a\"\nmembers = \"0..9\"\n[[link]]\na = \"a\"\nb = \"c\"\n",
                "link[0].b",
            ),
        ];
        for (body, key) in cases {
            let line = error_of(body);
            assert!(line.starts_with("t.toml: "), "{line}");
            assert!(line.contains(key), "{line:?} should name {key}");
            assert!(!line.contains('\n'), "{line}");
        }
    }

    #[test]
    fn zones_and_links_compile() {
        let plan = compile_str(
            "[[zone]]\nname = \"east\"\nmembers = \"0..4\"\n[[zone]]\nname = \"west\"\nmembers = \"5..9\"\n\
             [[link]]\na = \"east\"\nb = \"west\"\none_way_delay_min = \"30ms\"\n\
             [[at]]\ntime = \"10s\"\naction = \"set_network\"\na = \"east\"\nb = \"west\"\nloss_probability = 1.0\n",
        )
        .expect("valid");
        let zones = plan.zones.expect("zones");
        assert_eq!(zones.path(0, 9).expect("linked").delay_min_ns, 30_000_000);
        assert!(
            matches!(plan.timeline[0].action, Action::SetLink(0, 1, l) if l.loss_probability == 1.0)
        );
    }

    #[test]
    fn seed_override_changes_random_selectors() {
        let text =
            format!("{HEAD}[[at]]\ntime = \"1s\"\naction = \"crash\"\nmembers = \"random:3\"\n");
        let s = crate::scenario::parse(Path::new("t.toml"), &text, &[]).expect("valid");
        let picks = |seed| {
            let plan = compile("t.toml", &s, Some(seed)).expect("valid");
            match &plan.timeline[0].action {
                Action::Crash(m) => m.clone(),
                other => panic!("unexpected {other:?}"),
            }
        };
        assert_eq!(picks(1), picks(1));
        assert_ne!((1..6).map(picks).collect::<Vec<_>>(), vec![picks(1); 5]);
    }

    #[test]
    fn crashed_names_every_member_the_timeline_crashes() {
        let text = format!(
            "{HEAD}[[at]]\ntime = \"1s\"\naction = \"crash\"\nmembers = \"random:3\"\n\
             [[at]]\ntime = \"2s\"\naction = \"crash\"\nmembers = \"9\"\n\
             [[expect]]\nkind = \"detected\"\nmembers = \"crashed\"\n"
        );
        let s = crate::scenario::parse(Path::new("t.toml"), &text, &[]).expect("valid");
        let plan = compile("t.toml", &s, None).expect("valid");
        let mut crashed: Vec<u32> = plan
            .timeline
            .iter()
            .flat_map(|step| match &step.action {
                Action::Crash(m) => m.clone(),
                _ => Vec::new(),
            })
            .collect();
        crashed.sort_unstable();
        crashed.dedup();
        assert!(crashed.contains(&9) && crashed.len() >= 3, "{crashed:?}");
        assert_eq!(plan.expectations[0].members, crashed);
        // Only an expectation may use it, and only with crashes to name.
        for bad in [
            format!("{HEAD}[[at]]\ntime = \"1s\"\naction = \"crash\"\nmembers = \"crashed\"\n"),
            format!("{HEAD}[[expect]]\nkind = \"detected\"\nmembers = \"crashed\"\n"),
        ] {
            let s = crate::scenario::parse(Path::new("t.toml"), &bad, &[]).expect("parses");
            let e = compile("t.toml", &s, None).expect_err("refused");
            assert!(e.to_string().contains("crashed"), "{e}");
        }
    }
}
