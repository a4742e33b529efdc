//! The network of a plan: `[network]`, `[[zone]]` and `[[link]]`, and `set_network` actions
//! applied in time order to the parameters in force.

use std::time::Duration;

use super::action::{KeyError, LinkChange, NetworkSetting};
use super::{nanos, show, Action, Selectors};
use crate::network::Params;
use crate::scenario::{NetworkSpec, Scenario, ScenarioError};
use crate::zones::{Link, Zones};

/// The network parameters of `[network]`; errors name the key within it.
pub(super) fn params(spec: &NetworkSpec) -> Result<Params, KeyError> {
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

fn check_params(p: &Params) -> Result<(), KeyError> {
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

fn probability(key: &'static str, p: f64) -> Result<(), KeyError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err((key, format!("{p} is not a probability in [0, 1]")))
    }
}

/// The zones and links of the scenario, or `None` when it has no zones.
pub(super) fn compile_zones(
    file: &str,
    s: &Scenario,
    selectors: &mut Selectors<'_>,
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
        for m in selectors.resolve(&format!("zone[{z}].members"), &zone.members)? {
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

fn zone_pair(zones: &Zones, a: &str, b: &str) -> Result<(u16, u16), KeyError> {
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

fn check_link(link: &Link) -> Result<(), KeyError> {
    probability("loss_probability", link.loss_probability)?;
    if link.delay_mean_ns < link.delay_min_ns {
        return Err((
            "one_way_delay_mean",
            "is less than one_way_delay_min".into(),
        ));
    }
    Ok(())
}

/// Applies a `set_network` entry to the parameters in force and returns the action.
pub(super) fn apply_network(
    setting: NetworkSetting<'_>,
    network: &mut Params,
    zones: Option<&mut Zones>,
) -> Result<Action, KeyError> {
    let change = match setting {
        NetworkSetting::Link { a, b, change } => return apply_link(a, b, change, zones),
        NetworkSetting::Global(change) => change,
    };
    let mut p = *network;
    if let Some(d) = change.one_way_delay_min {
        p.delay_min_ns = nanos(d);
    }
    if let Some(d) = change.one_way_delay_mean {
        p.delay_mean_ns = nanos(d);
    }
    if let Some(l) = change.loss_probability {
        p.loss_probability = l;
        if change.stream_loss_probability.is_none() {
            p.stream_loss_probability = l;
        }
    }
    if let Some(l) = change.stream_loss_probability {
        p.stream_loss_probability = l;
    }
    if let Some(d) = change.duplicate_probability {
        p.duplicate_probability = d;
    }
    check_params(&p)?;
    *network = p;
    Ok(Action::SetNetwork(p))
}

/// Applies a `set_network` entry on the link between zones `a` and `b`.
fn apply_link(
    a: &str,
    b: &str,
    change: LinkChange,
    zones: Option<&mut Zones>,
) -> Result<Action, KeyError> {
    let zones = zones.ok_or(("a", "the scenario has no zones".to_string()))?;
    let (za, zb) = zone_pair(zones, a, b)?;
    let mut link = zones.link(za, zb).unwrap_or(Link {
        delay_min_ns: 0,
        delay_mean_ns: 0,
        loss_probability: 0.0,
    });
    if let Some(d) = change.one_way_delay_min {
        link.delay_min_ns = nanos(d);
        link.delay_mean_ns = link.delay_mean_ns.max(link.delay_min_ns);
    }
    if let Some(d) = change.one_way_delay_mean {
        link.delay_mean_ns = nanos(d);
    }
    if let Some(p) = change.loss_probability {
        link.loss_probability = p;
    }
    check_link(&link)?;
    zones.set_link(za, zb, link);
    Ok(Action::SetLink(za, zb, link))
}
