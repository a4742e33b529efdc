//! Operator commands and services. Operator actions (`apply_config`, `upload_file`,
//! `depart_member`) are commands on one running member's engine: `via` when it is running,
//! else the lowest-index running member (not one being departed, when there is another).
//! Every member of a `[[service]]` announces it when its process starts; `update_service`
//! changes a member's spec for good. Every operator command and every refused command is
//! listed in `summary.json` (`commands`).

use engine::{MemberId, RumorError, ServiceGroup, ServiceSpec};

use super::{CommandRecord, Process, SimEngine, Slot, World};

impl World<'_> {
    /// `apply_config` through the issuing member.
    pub(super) fn apply_config(
        &mut self,
        group: ServiceGroup,
        version: u64,
        payload: Vec<u8>,
        via: Option<u32>,
    ) {
        let detail = format!("{group} version {version} ({} bytes)", payload.len());
        self.operator("apply_config", via, &[], detail, |e| {
            e.apply_config(group, version, payload)
        });
    }

    /// `upload_file` through the issuing member.
    pub(super) fn upload_file(
        &mut self,
        group: ServiceGroup,
        version: u64,
        file: String,
        payload: Vec<u8>,
        via: Option<u32>,
    ) {
        let detail = format!(
            "{group} file {file} version {version} ({} bytes)",
            payload.len()
        );
        self.operator("upload_file", via, &[], detail, |e| {
            e.upload_file(group, version, file, payload)
        });
    }

    /// `depart_member` through the issuing member (not one of `members` when another runs).
    pub(super) fn depart_member(&mut self, members: &[u32], via: Option<u32>) {
        let targets: Vec<MemberId> = members
            .iter()
            .map(|&m| self.ids_by_index[m as usize])
            .collect();
        let detail = format!("members {members:?}");
        self.operator("depart_member", via, members, detail, |e| {
            targets.iter().try_for_each(|&id| e.depart_member(id))
        });
    }

    /// Runs an operator command on the issuing member's engine (see the module
    /// documentation) and records it.
    pub(super) fn operator(
        &mut self,
        action: &'static str,
        via: Option<u32>,
        avoid: &[u32],
        detail: String,
        command: impl FnOnce(&mut SimEngine) -> Result<(), RumorError>,
    ) {
        let running =
            |slots: &[Slot], i: u32| matches!(slots[i as usize].process, Process::Running(_));
        let issuer = via.filter(|&v| running(&self.slots, v)).or_else(|| {
            let all = 0..self.plan.members;
            all.clone()
                .find(|&i| running(&self.slots, i) && !avoid.contains(&i))
                .or_else(|| all.into_iter().find(|&i| running(&self.slots, i)))
        });
        let note = match via {
            Some(v) if issuer != Some(v) => format!(" (via member {v}, which was not running)"),
            _ => String::new(),
        };
        let Some(i) = issuer else {
            self.record(
                action,
                None,
                Err(format!("no member running to take it{note}")),
                detail,
            );
            return;
        };
        let result = match &mut self.slots[i as usize].process {
            Process::Running(engine) => command(engine).map_err(|e| e.to_string()),
            _ => Err("not running".into()),
        };
        self.drain_command(i);
        self.record(action, Some(i), result, format!("{detail}{note}"));
    }

    pub(super) fn record(
        &mut self,
        action: &'static str,
        member: Option<u32>,
        result: Result<(), String>,
        detail: String,
    ) {
        let (ok, detail) = match result {
            Ok(()) => (true, detail),
            Err(e) => {
                if self.progress {
                    eprintln!(
                        "sim: warning: {action} at {:.3}s refused: {detail}: {e}",
                        self.now as f64 / 1e9
                    );
                }
                (false, format!("{detail}: {e}"))
            }
        };
        self.commands.push(CommandRecord {
            time_s: self.now as f64 / 1e9,
            action,
            member,
            ok,
            detail,
        });
    }

    /// The service spec member `i` runs for service entry `s`.
    pub(super) fn spec(&self, i: u32, s: usize) -> ServiceSpec {
        self.specs
            .get(&(i, s))
            .cloned()
            .unwrap_or_else(|| self.plan.services[s].spec.clone())
    }

    /// Announces every service member `i` runs (at each start of its process).
    pub(super) fn announce_services(&mut self, i: u32) {
        let plan = self.plan;
        for (s, service) in plan.services.iter().enumerate() {
            if !service.runs(i) {
                continue;
            }
            let spec = self.spec(i, s);
            let result = match &mut self.slots[i as usize].process {
                Process::Running(engine) => engine
                    .announce_service(service.group.clone(), spec)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                _ => Err("not running".into()),
            };
            if let Err(e) = result {
                let detail = format!("{}", service.group);
                self.record("announce_service", Some(i), Err(e), detail);
            }
        }
        self.drain_command(i);
    }

    /// `update_service`: each member changes its spec (kept for its later restarts) and, when
    /// running, announces the change.
    pub(super) fn update_service(
        &mut self,
        group: &ServiceGroup,
        members: &[u32],
        pkg: Option<&str>,
        cfg: Option<&[u8]>,
    ) {
        let Some(s) = self.plan.services.iter().position(|sv| &sv.group == group) else {
            return; // The plan checked the group.
        };
        for &i in members {
            let mut spec = self.spec(i, s);
            if let Some(pkg) = pkg {
                spec.pkg = pkg.to_string();
            }
            if let Some(cfg) = cfg {
                spec.cfg = cfg.to_vec();
            }
            self.specs.insert((i, s), spec.clone());
            let detail = format!("{group} pkg {}, cfg {} bytes", spec.pkg, spec.cfg.len());
            let result = match &mut self.slots[i as usize].process {
                Process::Running(engine) => engine
                    .update_service(group.clone(), spec)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Process::Paused(..) => Err("paused; announced at its next start".into()),
                _ => Err("not running; announced at its next start".into()),
            };
            self.drain_command(i);
            self.record("update_service", Some(i), result, detail);
        }
    }
}
