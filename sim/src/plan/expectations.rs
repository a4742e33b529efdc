//! The `[[expect]]` entries: keys checked for each kind, members resolved (`crashed` names
//! every member the timeline crashes), the rumor or election group each one watches.

use engine::ServiceGroup;

use super::{nanos, show, Action, Context, Expectation, RumorTarget, Selectors, ServicePlan, Step};
use crate::scenario::{Expect, ExpectKind, RumorSel, ScenarioError, Topology};

/// The expectations, in file order; `timeline` is the compiled timeline (for `crashed`).
pub(super) fn compile_expectations(
    cx: &Context<'_>,
    selectors: &mut Selectors<'_>,
    timeline: &[Step],
    end_ns: u64,
) -> Result<Vec<Expectation>, ScenarioError> {
    let s = cx.scenario;
    let mut expectations = Vec::with_capacity(s.expect.len());
    for (i, e) in s.expect.iter().enumerate() {
        let key = format!("expect[{i}]");
        let k = |name: &str| format!("{key}.{name}");
        let after = e.after.unwrap_or_default();
        if after > s.duration {
            return Err(cx.err(
                &k("after"),
                format!(
                    "{} is after the end of the run ({})",
                    show(after),
                    show(s.duration)
                ),
            ));
        }
        check_expect_keys(e).map_err(|(name, m)| cx.err(&k(name), m))?;
        let members = members(cx, selectors, &key, e, timeline)?;
        let rumor = rumor_target(cx, &key, e, &members)?;
        let group = election_group(cx, &key, e, &members)?;
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
            group,
        });
    }
    Ok(expectations)
}

/// The expectation's `members`, `crashed` standing for every member the timeline crashes.
fn members(
    cx: &Context<'_>,
    selectors: &mut Selectors<'_>,
    key: &str,
    e: &Expect,
    timeline: &[Step],
) -> Result<Vec<u32>, ScenarioError> {
    let Some(sel) = &e.members else {
        return Ok(Vec::new());
    };
    let key = format!("{key}.members");
    let mut m = selectors.resolve(&key, sel)?;
    if sel.names_crashed() {
        m.extend(timeline.iter().flat_map(|step| match &step.action {
            Action::Crash(crashed) => crashed.as_slice(),
            _ => &[],
        }));
        m.sort_unstable();
        m.dedup();
        if m.is_empty() {
            return Err(cx.err(&key, format!("{sel}: no crash action in the timeline")));
        }
    }
    Ok(m)
}

/// For `rumor_everywhere`: the rumor it waits for.
fn rumor_target(
    cx: &Context<'_>,
    key: &str,
    e: &Expect,
    members: &[u32],
) -> Result<Option<RumorTarget>, ScenarioError> {
    let k = |name: &str| format!("{key}.{name}");
    let (ExpectKind::RumorEverywhere, Some(sel)) = (e.kind, e.rumor) else {
        return Ok(None);
    };
    let text = e.group.as_deref().unwrap_or_default();
    let group = cx.group(&k("group"), text)?;
    Ok(Some(match sel {
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
            let entry = cx.declared(&k("group"), &group)?;
            if let Some(&x) = members.iter().find(|&&x| !entry.runs(x)) {
                return Err(cx.err(
                    &k("members"),
                    format!("member {x} does not run a service in {group}"),
                ));
            }
            RumorTarget::Service {
                members: if members.is_empty() {
                    entry.members.clone()
                } else {
                    members.to_vec()
                },
                group,
                version: e.version.unwrap_or(1),
            }
        }
    }))
}

/// For the election kinds: the group, which a `[[service]]` with topology `leader` runs, on
/// every one of `members`.
fn election_group(
    cx: &Context<'_>,
    key: &str,
    e: &Expect,
    members: &[u32],
) -> Result<Option<ServiceGroup>, ScenarioError> {
    let k = |name: &str| format!("{key}.{name}");
    if !matches!(
        e.kind,
        ExpectKind::LeaderElected | ExpectKind::NoQuorum | ExpectKind::SingleLeader
    ) {
        return Ok(None);
    }
    let Some(text) = &e.group else {
        return Ok(None);
    };
    let g = cx.group(&k("group"), text)?;
    let runs = |sv: &&ServicePlan| sv.group == g;
    if !cx
        .services
        .iter()
        .filter(runs)
        .any(|sv| sv.topology == Topology::Leader)
    {
        return Err(cx.err(
            &k("group"),
            format!("no [[service]] runs {g} with topology = \"leader\""),
        ));
    }
    if let Some(&x) = members
        .iter()
        .find(|&&x| !cx.services.iter().filter(runs).any(|sv| sv.runs(x)))
    {
        return Err(cx.err(
            &k("members"),
            format!("member {x} does not run a service in {g}"),
        ));
    }
    Ok(Some(g))
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
