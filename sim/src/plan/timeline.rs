//! The timeline: every `[[at]]` entry read ([`super::action`]), its selectors resolved in file
//! order (so that `random:N` draws are reproducible), network changes applied in time order
//! (each checked against the parameters in force), repeated pauses expanded.

use std::time::Duration;

use engine::ServiceGroup;
use rand::Rng;

use super::action::{
    self, ActionSpec, MemberAction, NetworkSetting, Payload, Repeat, ServiceUpdate,
};
use super::network::apply_network;
use super::{nanos, show, Action, Context, Selectors, Step, MAX_STEPS};
use crate::network::Params;
use crate::scenario::{At, ScenarioError, Topology};
use crate::seeds::{self, Stream};
use crate::zones::Zones;

/// The timeline, sorted by time (file order among equal times), and which members start late
/// (`late[i]`: a `join` action starts member i).
pub(super) fn compile_timeline(
    cx: &Context<'_>,
    selectors: &mut Selectors<'_>,
    mut network: Params,
    mut zones: Option<Zones>,
) -> Result<(Vec<Step>, Vec<bool>), ScenarioError> {
    let s = cx.scenario;
    let mut late = vec![false; s.members as usize];
    let mut entries = Vec::with_capacity(s.at.len());
    for (i, at) in s.at.iter().enumerate() {
        entries.push(Some(entry(cx, selectors, i, at, &mut late)?));
    }
    let mut order: Vec<usize> = (0..s.at.len()).collect();
    order.sort_by_key(|&i| s.at[i].time);
    let mut timeline = Vec::with_capacity(s.at.len());
    for &i in &order {
        let key = format!("at[{i}]");
        match entries[i].take() {
            Some(Entry::Steps(steps)) => timeline.extend(steps),
            Some(Entry::Network(setting)) => {
                let action = apply_network(setting, &mut network, zones.as_mut())
                    .map_err(|(k, m)| cx.err(&format!("{key}.{k}"), m))?;
                timeline.push(Step {
                    at_ns: nanos(s.at[i].time),
                    action,
                    leaders: Vec::new(),
                });
            }
            None => {}
        }
        if timeline.len() > MAX_STEPS {
            return Err(cx.err(
                &key,
                format!("the timeline has more than {MAX_STEPS} steps"),
            ));
        }
    }
    // Stable: among equal times, the order above (time, then file order) is kept.
    timeline.sort_by_key(|step| step.at_ns);
    Ok((timeline, late))
}

/// One `[[at]]` entry, resolved: its steps, or a network change to apply in time order.
enum Entry<'a> {
    Steps(Vec<Step>),
    Network(NetworkSetting<'a>),
}

/// Reads and resolves entry `i`; a `join` marks its members in `late`.
fn entry<'a>(
    cx: &Context<'_>,
    selectors: &mut Selectors<'_>,
    i: usize,
    at: &'a At,
    late: &mut [bool],
) -> Result<Entry<'a>, ScenarioError> {
    let s = cx.scenario;
    let key = format!("at[{i}]");
    let k = |name: &str| format!("{key}.{name}");
    if at.time > s.duration {
        return Err(cx.err(
            &k("time"),
            format!(
                "{} is after the end of the run ({})",
                show(at.time),
                show(s.duration)
            ),
        ));
    }
    let spec = action::read(at).map_err(|(name, m)| cx.err(&k(name), m))?;
    if let Some(via) = at.via {
        if via >= s.members {
            return Err(cx.err(
                &k("via"),
                format!(
                    "member {via} does not exist (there are {} members)",
                    s.members
                ),
            ));
        }
    }
    let mut steps = match spec {
        ActionSpec::SetNetwork(setting) => return Ok(Entry::Network(setting)),
        ActionSpec::Pause {
            members,
            duration,
            repeat,
        } => {
            let m = selectors.resolve(&k("members"), members)?;
            pauses(cx, &key, at.time, duration, repeat, i as u64, m)?
        }
        _ => vec![Step {
            at_ns: nanos(at.time),
            action: action(cx, selectors, &key, i, spec, late)?,
            leaders: Vec::new(),
        }],
    };
    if let Some(sel) = at.members.as_ref().filter(|sel| !sel.leaders().is_empty()) {
        let leaders = leaders(cx, &k("members"), at, spec, sel.leaders())?;
        for step in &mut steps {
            step.leaders.clone_from(&leaders);
        }
    }
    Ok(Entry::Steps(steps))
}

/// The action of a one-step entry (not `pause` or `set_network`), its selectors resolved.
fn action(
    cx: &Context<'_>,
    selectors: &mut Selectors<'_>,
    key: &str,
    i: usize,
    spec: ActionSpec<'_>,
    late: &mut [bool],
) -> Result<Action, ScenarioError> {
    let k = |name: &str| format!("{key}.{name}");
    Ok(match spec {
        ActionSpec::Partition(groups) => {
            let mut out = Vec::new();
            for (g, sel) in groups.iter().enumerate() {
                out.push(selectors.resolve(&format!("{key}.groups[{g}]"), sel)?);
            }
            Action::Partition(out)
        }
        ActionSpec::PartitionOneway { from, to } => {
            let from = selectors.resolve(&format!("{key}.groups[0]"), from)?;
            let to = selectors.resolve(&format!("{key}.groups[1]"), to)?;
            Action::PartitionOneWay(from, to)
        }
        ActionSpec::Heal => Action::Heal,
        ActionSpec::Members(kind, members) => {
            let m = selectors.resolve(&k("members"), members)?;
            match kind {
                MemberAction::Isolate => Action::Isolate(m),
                MemberAction::Crash => Action::Crash(m),
                MemberAction::Restart => Action::Restart(m),
                MemberAction::Join => {
                    for &j in &m {
                        late[j as usize] = true;
                    }
                    Action::Join(m)
                }
                MemberAction::Depart => Action::Depart(m),
            }
        }
        ActionSpec::Slow {
            members,
            duration,
            delay,
        } => Action::Slow(
            selectors.resolve(&k("members"), members)?,
            nanos(duration),
            nanos(delay),
        ),
        ActionSpec::ApplyConfig {
            group,
            version,
            payload,
            via,
        } => Action::ApplyConfig {
            group: cx.group(&k("group"), group)?,
            version,
            payload: payload_bytes(cx, key, i, payload)?,
            via,
        },
        ActionSpec::UploadFile {
            group,
            version,
            file,
            payload,
            via,
        } => {
            if file.is_empty() {
                return Err(cx.err(&k("file"), "must not be empty".into()));
            }
            Action::UploadFile {
                group: cx.group(&k("group"), group)?,
                version,
                file: file.to_string(),
                payload: payload_bytes(cx, key, i, payload)?,
                via,
            }
        }
        ActionSpec::DepartMember { members, via } => Action::DepartMember {
            members: selectors.resolve(&k("members"), members)?,
            via,
        },
        ActionSpec::UpdateService(update) => update_service(cx, selectors, key, i, update)?,
        // Both are taken apart by `entry` before it asks for one step.
        ActionSpec::Pause { .. } | ActionSpec::SetNetwork(_) => {
            return Err(cx.err(key, "expands to several steps".into()));
        }
    })
}

/// `update_service`: the group must be declared and every member must run it.
fn update_service(
    cx: &Context<'_>,
    selectors: &mut Selectors<'_>,
    key: &str,
    i: usize,
    update: ServiceUpdate<'_>,
) -> Result<Action, ScenarioError> {
    let k = |name: &str| format!("{key}.{name}");
    let ServiceUpdate {
        group,
        members,
        pkg,
        cfg,
    } = update;
    let g = cx.group(&k("group"), group)?;
    let entry = cx.declared(&k("group"), &g)?;
    let m = selectors.resolve(&k("members"), members)?;
    if let Some(&x) = m.iter().find(|&&x| !entry.runs(x)) {
        return Err(cx.err(
            &k("members"),
            format!("member {x} does not run a service in {g} (see [[service]])"),
        ));
    }
    let cfg = match cfg {
        Some(payload) => Some(payload_bytes(cx, key, i, payload)?),
        None => None,
    };
    Ok(Action::UpdateService {
        group: g,
        members: m,
        pkg: pkg.map(str::to_string),
        cfg,
    })
}

/// The groups of the `leader:GROUP` parts of an entry's `members` (found at `key`), checked:
/// the action takes leaders and each group has a `[[service]]` with topology `leader`.
fn leaders(
    cx: &Context<'_>,
    key: &str,
    at: &At,
    spec: ActionSpec<'_>,
    groups: Vec<&str>,
) -> Result<Vec<ServiceGroup>, ScenarioError> {
    if !spec.takes_leaders() {
        return Err(cx.err(
            key,
            format!(
                "leader:GROUP cannot select the members of {}{}",
                at.action.as_str(),
                if spec.jittered() { " with jitter" } else { "" }
            ),
        ));
    }
    let mut leaders = Vec::new();
    for text in groups {
        let g = cx.group(key, text)?;
        let entry = cx.declared(key, &g)?;
        if entry.topology != Topology::Leader
            && !cx
                .services
                .iter()
                .any(|sv| sv.group == g && sv.topology == Topology::Leader)
        {
            return Err(cx.err(
                key,
                format!("leader:{g}: no [[service]] runs {g} with topology = \"leader\""),
            ));
        }
        leaders.push(g);
    }
    Ok(leaders)
}

/// A payload's bytes: the text, or `size` bytes of filler for entry `i`; at most
/// `protocol.max_rumor_payload` either way.
fn payload_bytes(
    cx: &Context<'_>,
    key: &str,
    i: usize,
    payload: Payload<'_>,
) -> Result<Vec<u8>, ScenarioError> {
    let max = cx.config.max_rumor_payload;
    let (name, len) = match payload {
        Payload::Text(text) => ("text", text.len() as u64),
        Payload::Size(size) => ("size", size),
    };
    if len > max as u64 {
        return Err(cx.err(
            &format!("{key}.{name}"),
            format!("{len} bytes exceed protocol.max_rumor_payload ({max} bytes)"),
        ));
    }
    Ok(match payload {
        Payload::Text(text) => text.as_bytes().to_vec(),
        Payload::Size(size) => filler(cx.seed, i as u64, size as usize),
    })
}

/// The steps of a `pause`, repeated every `every` (`count` times or until `until`), each
/// member's each pause delayed by up to `jitter` (drawn from the seed).
fn pauses(
    cx: &Context<'_>,
    key: &str,
    time: Duration,
    duration: Duration,
    repeat: Option<Repeat>,
    index: u64,
    members: Vec<u32>,
) -> Result<Vec<Step>, ScenarioError> {
    let err = |name: &str, message: String| cx.err(&format!("{key}.{name}"), message);
    let run = cx.scenario.duration;
    let duration = nanos(duration);
    let Some(repeat) = repeat else {
        return Ok(vec![Step {
            at_ns: nanos(time),
            action: Action::Pause(members, duration),
            leaders: Vec::new(),
        }]);
    };
    let every = nanos(repeat.every);
    let jitter = repeat.jitter.map(nanos).unwrap_or(0);
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
    let until = repeat.until.unwrap_or(run);
    if until < time || until > run {
        return Err(err(
            "until",
            format!(
                "{} is not between time ({}) and the end of the run ({})",
                show(until),
                show(time),
                show(run)
            ),
        ));
    }
    let count = repeat.count.map_or(u64::MAX, u64::from);
    let first = nanos(time);
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
    let mut rng = seeds::rng(cx.seed, Stream::PauseJitter, index);
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
