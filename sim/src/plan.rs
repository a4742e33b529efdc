//! From a [`Scenario`] to a [`Plan`]: every selector resolved, every action checked for the
//! keys it needs, the protocol config built and validated, times in nanoseconds.
//!
//! Everything a run can get wrong about its input is found here, before the first event, and
//! reported as a [`ScenarioError`] naming the key.

use std::time::Duration;

use engine::{Config, ServiceGroup, ServiceSpec};
use rand::Rng;

use crate::network::Params;
use crate::scenario::{
    ActionKind, At, Expect, ExpectKind, NetworkSpec, RumorSel, Scenario, ScenarioError, StartMode,
    Topology,
};
use crate::seeds::{self, Stream};
use crate::selector::Selector;
use crate::zones::{Link, Zones};

/// At most this many members: member i's address is `10.(i >> 16).(i >> 8 & 255).(i & 255)`.
pub const MAX_MEMBERS: u32 = 1 << 24;

/// At most this many timeline steps after repeated pauses are expanded.
pub const MAX_STEPS: usize = 1_000_000;

/// Resolves a selector found at a key into member indices (drawing `random:N` from the seed).
type Resolve<'a> = dyn FnMut(&str, &Selector) -> Result<Vec<u32>, ScenarioError> + 'a;

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
pub fn compile(file: &str, scenario: &Scenario, seed: Option<u64>) -> Result<Plan, ScenarioError> {
    let err = |key: &str, message: String| ScenarioError::new(file, key, message);
    let s = scenario;
    let seed = seed.unwrap_or(s.seed);
    let n = s.members;
    if n == 0 || n > MAX_MEMBERS {
        return Err(err(
            "members",
            format!("must be between 1 and {MAX_MEMBERS}, not {n}"),
        ));
    }
    if s.duration.is_zero() {
        return Err(err("duration", "must not be zero".into()));
    }
    if s.sample_interval.is_zero() {
        return Err(err("sample_interval", "must not be zero".into()));
    }
    let end_ns = nanos(s.duration);
    let mut rng = seeds::rng(seed, Stream::Selectors, 0);
    let mut resolve = |key: &str, sel: &Selector| {
        // `leader:GROUP` is resolved when an action runs: only `at[i].members` may use it
        // (the timeline below takes its groups from the selector).
        let action_members = key.starts_with("at[") && key.ends_with("].members");
        if !action_members && !sel.leaders().is_empty() {
            return Err(err(
                key,
                format!(
                    "{sel}: leader:GROUP is resolved when an action runs; only a timeline action's members may use it"
                ),
            ));
        }
        let expect_members = key.starts_with("expect[") && key.ends_with("].members");
        if !expect_members && sel.names_crashed() {
            return Err(err(
                key,
                format!("{sel}: `crashed` names the timeline's crashed members; only an expectation's members may use it"),
            ));
        }
        sel.resolve(n, &mut rng)
            .map_err(|e| err(key, e.to_string()))
    };

    let persistent = match &s.persistent {
        Some(sel) => mask(n, &resolve("persistent", sel)?),
        None => vec![false; n as usize],
    };
    let peers = match &s.peers {
        Some(sel) => resolve("peers", sel)?,
        None => vec![0],
    };
    let mut protocol = s.protocol.clone();
    let ring_key = match protocol.remove("ring_key") {
        None => false,
        Some(toml::Value::Boolean(b)) => b,
        Some(other) => {
            return Err(err(
                "protocol.ring_key",
                format!("must be true or false, not {other}"),
            ))
        }
    };
    let config = protocol_config(file, &s.preset, &protocol)?;
    let mut network = params(&s.network).map_err(|(k, m)| err(&format!("network.{k}"), m))?;
    let mut zones = compile_zones(file, s, &mut resolve)?;
    let initial_network = network;
    let initial_zones = zones.clone();
    let services = compile_services(file, s, &mut resolve)?;
    let group_of = |key: &str, text: &str| {
        text.parse::<ServiceGroup>()
            .map_err(|e| err(key, e.to_string()))
    };
    let declared = |key: &str, group: &ServiceGroup| {
        services
            .iter()
            .find(|sv| &sv.group == group)
            .ok_or_else(|| err(key, format!("no [[service]] declares the group {group}")))
    };

    let mut late = vec![false; n as usize];
    // Resolve in file order (for reproducible random selectors), apply network changes in
    // time order (to check each against the parameters in force).
    let mut resolved: Vec<Option<Vec<Step>>> = Vec::with_capacity(s.at.len());
    for (i, at) in s.at.iter().enumerate() {
        let key = format!("at[{i}]");
        let k = |name: &str| format!("{key}.{name}");
        if at.time > s.duration {
            return Err(err(
                &k("time"),
                format!(
                    "{} is after the end of the run ({})",
                    show(at.time),
                    show(s.duration)
                ),
            ));
        }
        check_keys(at).map_err(|(name, m)| err(&k(name), m))?;
        let members = |resolve: &mut Resolve<'_>| match &at.members {
            Some(sel) => resolve(&k("members"), sel),
            None => Ok(Vec::new()),
        };
        let groups = |resolve: &mut Resolve<'_>| {
            let mut out = Vec::new();
            for (g, sel) in at.groups.iter().flatten().enumerate() {
                out.push(resolve(&format!("{key}.groups[{g}]"), sel)?);
            }
            Ok::<_, ScenarioError>(out)
        };
        let group = || match &at.group {
            Some(text) => group_of(&k("group"), text),
            None => Err(err(&k("group"), "required".into())),
        };
        let payload = || -> Result<Vec<u8>, ScenarioError> {
            let (name, bytes) = match (&at.text, at.size) {
                (Some(text), _) => ("text", text.as_bytes().to_vec()),
                (None, Some(size)) => {
                    if size > config.max_rumor_payload as u64 {
                        return Err(err(
                            &k("size"),
                            format!(
                                "{size} bytes exceed protocol.max_rumor_payload ({} bytes)",
                                config.max_rumor_payload
                            ),
                        ));
                    }
                    ("size", filler(seed, i as u64, size as usize))
                }
                (None, None) => ("text", Vec::new()),
            };
            if bytes.len() > config.max_rumor_payload {
                return Err(err(
                    &k(name),
                    format!(
                        "{} bytes exceed protocol.max_rumor_payload ({} bytes)",
                        bytes.len(),
                        config.max_rumor_payload
                    ),
                ));
            }
            Ok(bytes)
        };
        if let Some(via) = at.via {
            if via >= n {
                return Err(err(
                    &k("via"),
                    format!("member {via} does not exist (there are {n} members)"),
                ));
            }
        }
        let at_ns = nanos(at.time);
        let one = |action: Action| {
            Some(vec![Step {
                at_ns,
                action,
                leaders: Vec::new(),
            }])
        };
        let steps = match at.action {
            ActionKind::Partition => one(Action::Partition(groups(&mut resolve)?)),
            ActionKind::PartitionOneway => {
                let mut g = groups(&mut resolve)?;
                let to = g.pop().unwrap_or_default();
                let from = g.pop().unwrap_or_default();
                one(Action::PartitionOneWay(from, to))
            }
            ActionKind::Heal => one(Action::Heal),
            ActionKind::Isolate => one(Action::Isolate(members(&mut resolve)?)),
            ActionKind::Crash => one(Action::Crash(members(&mut resolve)?)),
            ActionKind::Restart => one(Action::Restart(members(&mut resolve)?)),
            ActionKind::Pause => {
                let m = members(&mut resolve)?;
                Some(pauses(file, &key, at, s.duration, seed, i as u64, m)?)
            }
            ActionKind::Slow => one(Action::Slow(
                members(&mut resolve)?,
                nanos(at.duration.unwrap_or_default()),
                nanos(at.delay.unwrap_or_default()),
            )),
            ActionKind::Join => {
                let m = members(&mut resolve)?;
                for &i in &m {
                    late[i as usize] = true;
                }
                one(Action::Join(m))
            }
            ActionKind::Depart => one(Action::Depart(members(&mut resolve)?)),
            ActionKind::SetNetwork => None,
            ActionKind::ApplyConfig => one(Action::ApplyConfig {
                group: group()?,
                version: at.version.unwrap_or_default(),
                payload: payload()?,
                via: at.via,
            }),
            ActionKind::UploadFile => {
                let name = at.file.clone().unwrap_or_default();
                if name.is_empty() {
                    return Err(err(&k("file"), "must not be empty".into()));
                }
                one(Action::UploadFile {
                    group: group()?,
                    version: at.version.unwrap_or_default(),
                    file: name,
                    payload: payload()?,
                    via: at.via,
                })
            }
            ActionKind::DepartMember => one(Action::DepartMember {
                members: members(&mut resolve)?,
                via: at.via,
            }),
            ActionKind::UpdateService => {
                let g = group()?;
                let entry = declared(&k("group"), &g)?;
                let m = members(&mut resolve)?;
                if let Some(&x) = m.iter().find(|&&x| !entry.runs(x)) {
                    return Err(err(
                        &k("members"),
                        format!("member {x} does not run a service in {g} (see [[service]])"),
                    ));
                }
                let cfg = if at.text.is_some() || at.size.is_some() {
                    Some(payload()?)
                } else {
                    None
                };
                one(Action::UpdateService {
                    group: g,
                    members: m,
                    pkg: at.pkg.clone(),
                    cfg,
                })
            }
        };
        let steps = match (steps, &at.members) {
            (Some(mut steps), Some(sel)) if !sel.leaders().is_empty() => {
                let key = k("members");
                if !matches!(
                    at.action,
                    ActionKind::Isolate
                        | ActionKind::Crash
                        | ActionKind::Restart
                        | ActionKind::Pause
                        | ActionKind::Slow
                        | ActionKind::Depart
                        | ActionKind::DepartMember
                ) || at.jitter.is_some()
                {
                    return Err(err(
                        &key,
                        format!(
                            "leader:GROUP cannot select the members of {}{}",
                            at.action.as_str(),
                            if at.jitter.is_some() {
                                " with jitter"
                            } else {
                                ""
                            }
                        ),
                    ));
                }
                let mut leaders = Vec::new();
                for text in sel.leaders() {
                    let g = group_of(&key, text)?;
                    let entry = declared(&key, &g)?;
                    if entry.topology != Topology::Leader
                        && !services
                            .iter()
                            .any(|sv| sv.group == g && sv.topology == Topology::Leader)
                    {
                        return Err(err(
                            &key,
                            format!(
                                "leader:{g}: no [[service]] runs {g} with topology = \"leader\""
                            ),
                        ));
                    }
                    leaders.push(g);
                }
                for step in &mut steps {
                    step.leaders.clone_from(&leaders);
                }
                Some(steps)
            }
            (steps, _) => steps,
        };
        resolved.push(steps);
    }
    let mut order: Vec<usize> = (0..s.at.len()).collect();
    order.sort_by_key(|&i| s.at[i].time);
    let mut timeline = Vec::with_capacity(s.at.len());
    for &i in &order {
        let at = &s.at[i];
        let key = format!("at[{i}]");
        match resolved[i].take() {
            Some(steps) => timeline.extend(steps),
            None => {
                let action = set_network(at, &mut network, zones.as_mut())
                    .map_err(|(k, m)| err(&format!("{key}.{k}"), m))?;
                timeline.push(Step {
                    at_ns: nanos(at.time),
                    action,
                    leaders: Vec::new(),
                });
            }
        }
        if timeline.len() > MAX_STEPS {
            return Err(err(
                &key,
                format!("the timeline has more than {MAX_STEPS} steps"),
            ));
        }
    }
    // Stable: among equal times, the order above (time, then file order) is kept.
    timeline.sort_by_key(|step| step.at_ns);

    let mut expectations = Vec::with_capacity(s.expect.len());
    for (i, e) in s.expect.iter().enumerate() {
        let key = format!("expect[{i}]");
        let k = |name: &str| format!("{key}.{name}");
        let after = e.after.unwrap_or_default();
        if after > s.duration {
            return Err(err(
                &k("after"),
                format!(
                    "{} is after the end of the run ({})",
                    show(after),
                    show(s.duration)
                ),
            ));
        }
        check_expect_keys(e).map_err(|(name, m)| err(&k(name), m))?;
        let members = match &e.members {
            Some(sel) => {
                let mut m = resolve(&k("members"), sel)?;
                if sel.names_crashed() {
                    m.extend(timeline.iter().flat_map(|step| match &step.action {
                        Action::Crash(crashed) => crashed.as_slice(),
                        _ => &[],
                    }));
                    m.sort_unstable();
                    m.dedup();
                    if m.is_empty() {
                        return Err(err(
                            &k("members"),
                            format!("{sel}: no crash action in the timeline"),
                        ));
                    }
                }
                m
            }
            None => Vec::new(),
        };
        let rumor = match (e.kind, e.rumor) {
            (ExpectKind::RumorEverywhere, Some(sel)) => {
                let text = e.group.as_deref().unwrap_or_default();
                let group = group_of(&k("group"), text)?;
                Some(match sel {
                    RumorSel::Config => RumorTarget::Config {
                        group,
                        version: e.version.unwrap_or_default(),
                    },
                    RumorSel::File => RumorTarget::File {
                        group,
                        file: e.file.clone().unwrap_or_default(),
                        version: e.version.unwrap_or_default(),
                    },
                    RumorSel::Service => {
                        let entry = declared(&k("group"), &group)?;
                        if let Some(&x) = members.iter().find(|&&x| !entry.runs(x)) {
                            return Err(err(
                                &k("members"),
                                format!("member {x} does not run a service in {group}"),
                            ));
                        }
                        RumorTarget::Service {
                            members: if members.is_empty() {
                                entry.members.clone()
                            } else {
                                members.clone()
                            },
                            group,
                            version: e.version.unwrap_or(1),
                        }
                    }
                })
            }
            _ => None,
        };
        let election_group = match e.kind {
            ExpectKind::LeaderElected | ExpectKind::NoQuorum | ExpectKind::SingleLeader => {
                match &e.group {
                    Some(text) => {
                        let g = group_of(&k("group"), text)?;
                        if !services
                            .iter()
                            .any(|sv| sv.group == g && sv.topology == Topology::Leader)
                        {
                            return Err(err(
                                &k("group"),
                                format!("no [[service]] runs {g} with topology = \"leader\""),
                            ));
                        }
                        if let Some(&x) = members
                            .iter()
                            .find(|&&x| !services.iter().any(|sv| sv.group == g && sv.runs(x)))
                        {
                            return Err(err(
                                &k("members"),
                                format!("member {x} does not run a service in {g}"),
                            ));
                        }
                        Some(g)
                    }
                    None => None,
                }
            }
            _ => None,
        };
        let until_ns = match e.within {
            Some(w) => nanos(after).saturating_add(nanos(w)).min(end_ns),
            None => end_ns,
        };
        expectations.push(Expectation {
            kind: e.kind,
            after_ns: nanos(after),
            until_ns,
            members,
            rumor,
            group: election_group,
        });
    }

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
        network: initial_network,
        zones: initial_zones,
        timeline,
        expectations,
    })
}

/// The `[[service]]` entries, checked: groups parse, a member runs at most one service per
/// group.
fn compile_services(
    file: &str,
    s: &Scenario,
    resolve: &mut Resolve<'_>,
) -> Result<Vec<ServicePlan>, ScenarioError> {
    let mut out: Vec<ServicePlan> = Vec::with_capacity(s.service.len());
    for (i, entry) in s.service.iter().enumerate() {
        let key = |name: &str| format!("service[{i}].{name}");
        let group: ServiceGroup =
            entry
                .group
                .parse()
                .map_err(|e: engine::rumor::ParseServiceGroupError| {
                    ScenarioError::new(file, key("group"), e)
                })?;
        let members = resolve(&key("members"), &entry.members)?;
        for other in out.iter().filter(|o| o.group == group) {
            if let Some(&m) = members.iter().find(|&&m| other.runs(m)) {
                return Err(ScenarioError::new(
                    file,
                    key("members"),
                    format!("member {m} already runs a service in {group}"),
                ));
            }
        }
        let pkg = entry
            .pkg
            .clone()
            .unwrap_or_else(|| format!("core/{}/1.0.0/20240101000000", group.service()));
        let cfg = entry.cfg.clone().unwrap_or_default().into_bytes();
        out.push(ServicePlan {
            group,
            members,
            topology: entry.topology,
            spec: ServiceSpec {
                pkg,
                cfg,
                initialized: true,
                sys: None,
                topology: match entry.topology {
                    Topology::Standalone => engine::rumor::Topology::Standalone,
                    Topology::Leader => engine::rumor::Topology::Leader,
                },
            },
        });
    }
    Ok(out)
}

/// The steps of a `pause`, repeated every `every` (`count` times or until `until`), each
/// member's each pause delayed by up to `jitter` (drawn from the seed).
fn pauses(
    file: &str,
    key: &str,
    at: &At,
    run: Duration,
    seed: u64,
    index: u64,
    members: Vec<u32>,
) -> Result<Vec<Step>, ScenarioError> {
    let err =
        |name: &str, message: String| ScenarioError::new(file, format!("{key}.{name}"), message);
    let duration = nanos(at.duration.unwrap_or_default());
    let Some(every) = at.every else {
        return Ok(vec![Step {
            at_ns: nanos(at.time),
            action: Action::Pause(members, duration),
            leaders: Vec::new(),
        }]);
    };
    let every = nanos(every);
    let jitter = at.jitter.map(nanos).unwrap_or(0);
    if every < duration.saturating_add(jitter) {
        return Err(err(
            "every",
            format!(
                "{} is shorter than duration + jitter ({}): a member's pauses would overlap",
                show(Duration::from_nanos(every)),
                show(Duration::from_nanos(duration.saturating_add(jitter)))
            ),
        ));
    }
    let until = at.until.unwrap_or(run);
    if until < at.time || until > run {
        return Err(err(
            "until",
            format!(
                "{} is not between time ({}) and the end of the run ({})",
                show(until),
                show(at.time),
                show(run)
            ),
        ));
    }
    let count = at.count.map_or(u64::MAX, u64::from);
    let first = nanos(at.time);
    let repeats = ((nanos(until) - first) / every)
        .saturating_add(1)
        .min(count);
    let per_repeat = if jitter > 0 { members.len().max(1) } else { 1 };
    if (repeats as u128) * (per_repeat as u128) > MAX_STEPS as u128 {
        return Err(err(
            "every",
            format!("the pause would repeat more than {MAX_STEPS} times"),
        ));
    }
    let mut rng = seeds::rng(seed, Stream::PauseJitter, index);
    let mut steps = Vec::with_capacity((repeats as usize) * per_repeat);
    for r in 0..repeats {
        let start = first + r * every;
        if jitter == 0 {
            steps.push(Step {
                at_ns: start,
                action: Action::Pause(members.clone(), duration),
                leaders: Vec::new(),
            });
            continue;
        }
        for &m in &members {
            let at_ns = start + rng.gen_range(0..jitter);
            steps.push(Step {
                at_ns,
                action: Action::Pause(vec![m], duration),
                leaders: Vec::new(),
            });
        }
    }
    Ok(steps)
}

/// `size` bytes of deterministic filler for payload `index` of a run with `seed`: lines of
/// 63 lowercase letters and a newline.
pub fn filler(seed: u64, index: u64, size: usize) -> Vec<u8> {
    let mut rng = seeds::rng(seed, Stream::Payload, index);
    (0..size)
        .map(|i| {
            if i % 64 == 63 {
                b'\n'
            } else {
                b'a' + rng.gen_range(0..26u8)
            }
        })
        .collect()
}

/// Which keys each expectation kind needs and allows; errors name the key.
fn check_expect_keys(e: &Expect) -> Result<(), (&'static str, String)> {
    let present: [(&'static str, bool); 5] = [
        ("members", e.members.is_some()),
        ("rumor", e.rumor.is_some()),
        ("group", e.group.is_some()),
        ("version", e.version.is_some()),
        ("file", e.file.is_some()),
    ];
    let (required, allowed): (&[&str], &[&str]) = match (e.kind, e.rumor) {
        (ExpectKind::Detected | ExpectKind::Departed, _) => (&["members"], &["members"]),
        (ExpectKind::RumorEverywhere, Some(RumorSel::Config)) => {
            (&["group", "version"], &["rumor", "group", "version"])
        }
        (ExpectKind::RumorEverywhere, Some(RumorSel::File)) => (
            &["group", "version", "file"],
            &["rumor", "group", "version", "file"],
        ),
        (ExpectKind::RumorEverywhere, Some(RumorSel::Service)) => {
            (&["group"], &["rumor", "group", "version", "members"])
        }
        (ExpectKind::RumorEverywhere, None) => (&["rumor"], &[]),
        (ExpectKind::Converged | ExpectKind::NoFalsePositives, _) => (&[], &[]),
        (ExpectKind::LeaderElected, _) => (&["group"], &["group"]),
        (ExpectKind::NoQuorum, _) => (&["group", "members"], &["group", "members"]),
        (ExpectKind::SingleLeader, _) => (&[], &["group"]),
    };
    let kind = e.kind.as_str();
    for key in required {
        if !present.iter().any(|(k, p)| k == key && *p) {
            let key = present
                .iter()
                .find(|(k, _)| k == key)
                .map_or("kind", |(k, _)| *k);
            return Err((key, format!("required by kind {kind}")));
        }
    }
    for (key, is_present) in present {
        if is_present && !allowed.contains(&key) {
            let what = match e.rumor {
                Some(r) if key != "rumor" => {
                    format!("not used by kind {kind} with rumor = {r:?}")
                }
                _ => format!("not used by kind {kind}"),
            };
            return Err((key, what));
        }
    }
    Ok(())
}

/// The preset named `preset` with the `[protocol]` table merged over it, validated.
fn protocol_config(
    file: &str,
    preset: &str,
    overrides: &toml::Table,
) -> Result<Config, ScenarioError> {
    let base = Config::preset(preset).ok_or_else(|| {
        ScenarioError::new(
            file,
            "preset",
            format!("unknown preset {preset:?}: expected habitat, lan or local"),
        )
    })?;
    let mut table = match toml::Value::try_from(&base) {
        Ok(toml::Value::Table(t)) => t,
        Ok(_) | Err(_) => {
            return Err(ScenarioError::new(
                file,
                "preset",
                "cannot represent the preset as TOML",
            ))
        }
    };
    for (key, value) in overrides {
        table.insert(key.clone(), value.clone());
    }
    let config: Config =
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let path = e.path().to_string();
            let key = if path == "." {
                "protocol".to_string()
            } else {
                format!("protocol.{path}")
            };
            ScenarioError::new(file, key, e.into_inner())
        })?;
    config
        .validate()
        .map_err(|e| ScenarioError::new(file, "protocol", e))?;
    Ok(config)
}

/// The network parameters of `[network]`; errors name the key within it.
fn params(spec: &NetworkSpec) -> Result<Params, (&'static str, String)> {
    let p = Params {
        delay_min_ns: nanos(spec.one_way_delay_min),
        delay_mean_ns: nanos(spec.one_way_delay_mean),
        loss_probability: spec.loss_probability,
        stream_loss_probability: spec
            .stream_loss_probability
            .unwrap_or(spec.loss_probability),
        duplicate_probability: spec.duplicate_probability,
    };
    check_params(&p)?;
    Ok(p)
}

fn check_params(p: &Params) -> Result<(), (&'static str, String)> {
    probability("loss_probability", p.loss_probability)?;
    probability("stream_loss_probability", p.stream_loss_probability)?;
    probability("duplicate_probability", p.duplicate_probability)?;
    if p.delay_mean_ns < p.delay_min_ns {
        return Err((
            "one_way_delay_mean",
            format!(
                "{} is less than one_way_delay_min ({})",
                show(Duration::from_nanos(p.delay_mean_ns)),
                show(Duration::from_nanos(p.delay_min_ns))
            ),
        ));
    }
    Ok(())
}

fn probability(key: &'static str, p: f64) -> Result<(), (&'static str, String)> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err((key, format!("{p} is not a probability in [0, 1]")))
    }
}

/// The zones and links of the scenario, or `None` when it has no zones.
fn compile_zones(
    file: &str,
    s: &Scenario,
    resolve: &mut Resolve<'_>,
) -> Result<Option<Zones>, ScenarioError> {
    let err = |key: String, message: String| ScenarioError::new(file, key, message);
    if s.zone.is_empty() {
        if !s.link.is_empty() {
            return Err(err("link".into(), "links need zones ([[zone]])".into()));
        }
        return Ok(None);
    }
    if s.zone.len() > usize::from(u16::MAX) {
        return Err(err("zone".into(), "too many zones".into()));
    }
    let mut names: Vec<String> = Vec::new();
    let mut member_zone = vec![u16::MAX; s.members as usize];
    for (z, zone) in s.zone.iter().enumerate() {
        if zone.name.is_empty() || names.contains(&zone.name) {
            return Err(err(
                format!("zone[{z}].name"),
                format!("{:?} is empty or not unique", zone.name),
            ));
        }
        for m in resolve(&format!("zone[{z}].members"), &zone.members)? {
            let slot = &mut member_zone[m as usize];
            if *slot != u16::MAX {
                return Err(err(
                    format!("zone[{z}].members"),
                    format!("member {m} is already in zone {:?}", names[*slot as usize]),
                ));
            }
            *slot = z as u16;
        }
        names.push(zone.name.clone());
    }
    if let Some(m) = member_zone.iter().position(|&z| z == u16::MAX) {
        return Err(err("zone".into(), format!("member {m} is in no zone")));
    }
    let mut zones = Zones::new(names, member_zone);
    for (l, link) in s.link.iter().enumerate() {
        let (a, b) = zone_pair(&zones, &link.a, &link.b)
            .map_err(|(k, m)| err(format!("link[{l}].{k}"), m))?;
        let min = nanos(link.one_way_delay_min);
        let spec = Link {
            delay_min_ns: min,
            delay_mean_ns: link.one_way_delay_mean.map(nanos).unwrap_or(min),
            loss_probability: link.loss_probability,
        };
        check_link(&spec).map_err(|(k, m)| err(format!("link[{l}].{k}"), m))?;
        zones.set_link(a, b, spec);
    }
    Ok(Some(zones))
}

fn zone_pair(zones: &Zones, a: &str, b: &str) -> Result<(u16, u16), (&'static str, String)> {
    let za = zones
        .index(a)
        .ok_or(("a", format!("no zone named {a:?}")))?;
    let zb = zones
        .index(b)
        .ok_or(("b", format!("no zone named {b:?}")))?;
    if za == zb {
        return Err((
            "b",
            format!("a link joins two different zones, not {b:?} to itself"),
        ));
    }
    Ok((za, zb))
}

fn check_link(link: &Link) -> Result<(), (&'static str, String)> {
    probability("loss_probability", link.loss_probability)?;
    if link.delay_mean_ns < link.delay_min_ns {
        return Err((
            "one_way_delay_mean",
            "is less than one_way_delay_min".into(),
        ));
    }
    Ok(())
}

/// Which keys each action needs and allows; errors name the key.
fn check_keys(at: &At) -> Result<(), (&'static str, String)> {
    let present: [(&'static str, bool); 22] = [
        ("groups", at.groups.is_some()),
        ("members", at.members.is_some()),
        ("duration", at.duration.is_some()),
        ("a", at.a.is_some()),
        ("b", at.b.is_some()),
        ("one_way_delay_min", at.one_way_delay_min.is_some()),
        ("one_way_delay_mean", at.one_way_delay_mean.is_some()),
        ("loss_probability", at.loss_probability.is_some()),
        (
            "stream_loss_probability",
            at.stream_loss_probability.is_some(),
        ),
        ("duplicate_probability", at.duplicate_probability.is_some()),
        ("every", at.every.is_some()),
        ("count", at.count.is_some()),
        ("until", at.until.is_some()),
        ("jitter", at.jitter.is_some()),
        ("group", at.group.is_some()),
        ("version", at.version.is_some()),
        ("text", at.text.is_some()),
        ("size", at.size.is_some()),
        ("file", at.file.is_some()),
        ("pkg", at.pkg.is_some()),
        ("via", at.via.is_some()),
        ("delay", at.delay.is_some()),
    ];
    let network_keys = &present[5..10];
    let (required, allowed): (&[&str], &[&str]) = match at.action {
        ActionKind::Partition | ActionKind::PartitionOneway => (&["groups"], &["groups"]),
        ActionKind::Heal => (&[], &[]),
        ActionKind::Isolate
        | ActionKind::Crash
        | ActionKind::Restart
        | ActionKind::Join
        | ActionKind::Depart => (&["members"], &["members"]),
        ActionKind::Pause => {
            let repeat_keys = [
                ("count", at.count.is_some()),
                ("until", at.until.is_some()),
                ("jitter", at.jitter.is_some()),
            ];
            for (key, given) in repeat_keys {
                if given && at.every.is_none() {
                    return Err((key, "repeats a pause, so it needs every".into()));
                }
            }
            (
                &["members", "duration"],
                &["members", "duration", "every", "count", "until", "jitter"],
            )
        }
        ActionKind::Slow => (
            &["members", "duration", "delay"],
            &["members", "duration", "delay"],
        ),
        ActionKind::ApplyConfig => (
            &["group", "version"],
            &["group", "version", "text", "size", "via"],
        ),
        ActionKind::UploadFile => (
            &["group", "version", "file"],
            &["group", "version", "file", "text", "size", "via"],
        ),
        ActionKind::DepartMember => (&["members"], &["members", "via"]),
        ActionKind::UpdateService => {
            if at.pkg.is_none() && at.text.is_none() && at.size.is_none() {
                return Err((
                    "pkg",
                    "update_service needs pkg, text or size (what changes)".into(),
                ));
            }
            (
                &["group", "members"],
                &["group", "members", "pkg", "text", "size"],
            )
        }
        ActionKind::SetNetwork if at.a.is_some() || at.b.is_some() => (
            &["a", "b"],
            &[
                "a",
                "b",
                "one_way_delay_min",
                "one_way_delay_mean",
                "loss_probability",
            ],
        ),
        ActionKind::SetNetwork => {
            if !network_keys.iter().any(|(_, p)| *p) {
                return Err((
                    "action",
                    "set_network needs at least one network key".into(),
                ));
            }
            (
                &[],
                &[
                    "one_way_delay_min",
                    "one_way_delay_mean",
                    "loss_probability",
                    "stream_loss_probability",
                    "duplicate_probability",
                ],
            )
        }
    };
    let action = at.action.as_str();
    for key in required {
        if !present.iter().any(|(k, p)| k == key && *p) {
            let key = present
                .iter()
                .find(|(k, _)| k == key)
                .map_or("action", |(k, _)| *k);
            return Err((key, format!("required by action {action}")));
        }
    }
    for (key, is_present) in present {
        if is_present && !allowed.contains(&key) {
            return Err((key, format!("not used by action {action}")));
        }
    }
    if let Some(groups) = &at.groups {
        let needed = if at.action == ActionKind::PartitionOneway {
            "exactly 2"
        } else {
            "at least 2"
        };
        let ok = match at.action {
            ActionKind::PartitionOneway => groups.len() == 2,
            _ => groups.len() >= 2,
        };
        if !ok {
            return Err((
                "groups",
                format!("{action} needs {needed} groups, not {}", groups.len()),
            ));
        }
    }
    if at.duration.is_some_and(|d| d.is_zero()) {
        return Err(("duration", "must not be zero".into()));
    }
    if at.every.is_some_and(|d| d.is_zero()) {
        return Err(("every", "must not be zero".into()));
    }
    if at.count == Some(0) {
        return Err(("count", "must be at least 1".into()));
    }
    if at.text.is_some() && at.size.is_some() {
        return Err(("size", "give text or size, not both".into()));
    }
    if matches!(at.action, ActionKind::ApplyConfig | ActionKind::UploadFile)
        && at.text.is_none()
        && at.size.is_none()
    {
        return Err(("text", format!("required by action {action} (or size)")));
    }
    Ok(())
}

/// Applies a `set_network` entry to the parameters in force and returns the action.
fn set_network(
    at: &At,
    network: &mut Params,
    zones: Option<&mut Zones>,
) -> Result<Action, (&'static str, String)> {
    if let (Some(a), Some(b)) = (&at.a, &at.b) {
        let zones = zones.ok_or(("a", "the scenario has no zones".to_string()))?;
        let (za, zb) = zone_pair(zones, a, b)?;
        let mut link = zones.link(za, zb).unwrap_or(Link {
            delay_min_ns: 0,
            delay_mean_ns: 0,
            loss_probability: 0.0,
        });
        if let Some(d) = at.one_way_delay_min {
            link.delay_min_ns = nanos(d);
            link.delay_mean_ns = link.delay_mean_ns.max(link.delay_min_ns);
        }
        if let Some(d) = at.one_way_delay_mean {
            link.delay_mean_ns = nanos(d);
        }
        if let Some(p) = at.loss_probability {
            link.loss_probability = p;
        }
        check_link(&link)?;
        zones.set_link(za, zb, link);
        return Ok(Action::SetLink(za, zb, link));
    }
    let mut p = *network;
    if let Some(d) = at.one_way_delay_min {
        p.delay_min_ns = nanos(d);
    }
    if let Some(d) = at.one_way_delay_mean {
        p.delay_mean_ns = nanos(d);
    }
    if let Some(l) = at.loss_probability {
        p.loss_probability = l;
        if at.stream_loss_probability.is_none() {
            p.stream_loss_probability = l;
        }
    }
    if let Some(l) = at.stream_loss_probability {
        p.stream_loss_probability = l;
    }
    if let Some(d) = at.duplicate_probability {
        p.duplicate_probability = d;
    }
    check_params(&p)?;
    *network = p;
    Ok(Action::SetNetwork(p))
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
