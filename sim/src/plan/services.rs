//! The `[[service]]` entries: who runs which service group, with what spec and topology.

use engine::{ServiceGroup, ServiceSpec};

use super::{Selectors, ServicePlan};
use crate::scenario::{Scenario, ScenarioError, Topology};

/// The `[[service]]` entries, checked: groups parse, a member runs at most one service per
/// group.
pub(super) fn compile_services(
    file: &str,
    s: &Scenario,
    selectors: &mut Selectors<'_>,
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
        let members = selectors.resolve(&key("members"), &entry.members)?;
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
