//! Conversion between the typed rumors and the `prost` messages of [`wire`](crate::wire).
//!
//! Decoding parses every field into its type (member ids, service groups, ports, statuses); a
//! rumor with a missing or invalid field is refused as [`DropReason::Invalid`]. Payload limits
//! are the engine's business, not the codec's.

use crate::id::{Incarnation, MemberId};
use crate::metrics::DropReason;
use crate::rumor::{
    Departure, Election, ElectionStatus, Rumor, Service, ServiceConfig, ServiceFile, ServiceGroup,
    SysInfo,
};
use crate::wire::{self, RumorPayload, RumorType};

/// The `Rumor` envelope for `rumor`, without `from_id` (what a stream frame carries; seal it
/// with [`wire::seal_plain`] or a ring key).
pub fn encode_rumor(rumor: &Rumor) -> wire::Rumor {
    let (kind, payload) = match rumor {
        Rumor::Service(s) => (
            RumorType::Service,
            RumorPayload::Service(service_to_wire(s)),
        ),
        Rumor::ServiceConfig(c) => (
            RumorType::ServiceConfig,
            RumorPayload::ServiceConfig(wire::ServiceConfig {
                service_group: Some(c.group.to_string()),
                incarnation: Some(c.incarnation.0),
                encrypted: Some(c.encrypted),
                config: Some(c.config.clone()),
            }),
        ),
        Rumor::ServiceFile(f) => (
            RumorType::ServiceFile,
            RumorPayload::ServiceFile(wire::ServiceFile {
                service_group: Some(f.group.to_string()),
                incarnation: Some(f.incarnation.0),
                encrypted: Some(f.encrypted),
                filename: Some(f.filename.clone()),
                body: Some(f.body.clone()),
            }),
        ),
        Rumor::Election(e) => (
            RumorType::Election,
            RumorPayload::Election(election_to_wire(e)),
        ),
        Rumor::ElectionUpdate(e) => (
            RumorType::ElectionUpdate,
            RumorPayload::Election(election_to_wire(e)),
        ),
        Rumor::Departure(d) => (
            RumorType::Departure,
            RumorPayload::Departure(wire::Departure {
                member_id: Some(d.member_id.to_string()),
                signature: d.signature.map(|s| s.to_vec()),
            }),
        ),
    };
    wire::Rumor {
        r#type: kind as i32,
        tag: Vec::new(),
        from_id: None,
        payload: Some(payload),
    }
}

/// The typed rumor carried by `r`, or `Ok(None)` when `r` is not one the store holds
/// (membership, batches, syncs, Butterfly's test and zone types).
pub fn decode_rumor(r: &wire::Rumor) -> Result<Option<Rumor>, DropReason> {
    let kind = RumorType::try_from(r.r#type).ok();
    let rumor = match (&r.payload, kind) {
        (Some(RumorPayload::Service(s)), _) => Rumor::Service(service_from_wire(s)?),
        (Some(RumorPayload::ServiceConfig(c)), _) => Rumor::ServiceConfig(ServiceConfig {
            group: group(c.service_group.as_deref())?,
            incarnation: Incarnation(c.incarnation.unwrap_or(0)),
            encrypted: c.encrypted.unwrap_or(false),
            config: c.config.clone().unwrap_or_default(),
        }),
        (Some(RumorPayload::ServiceFile(f)), _) => Rumor::ServiceFile(ServiceFile {
            group: group(f.service_group.as_deref())?,
            incarnation: Incarnation(f.incarnation.unwrap_or(0)),
            encrypted: f.encrypted.unwrap_or(false),
            filename: f
                .filename
                .clone()
                .filter(|n| !n.is_empty())
                .ok_or(DropReason::Invalid)?,
            body: f.body.clone().unwrap_or_default(),
        }),
        (Some(RumorPayload::Election(e)), Some(RumorType::ElectionUpdate)) => {
            Rumor::ElectionUpdate(election_from_wire(e)?)
        }
        (Some(RumorPayload::Election(e)), _) => Rumor::Election(election_from_wire(e)?),
        (Some(RumorPayload::Departure(d)), _) => Rumor::Departure(Departure {
            member_id: member_id(d.member_id.as_deref())?,
            signature: match &d.signature {
                None => None,
                Some(s) => Some(s.as_slice().try_into().map_err(|_| DropReason::Invalid)?),
            },
        }),
        _ => return Ok(None),
    };
    Ok(Some(rumor))
}

/// Decodes a persisted or received [`wire::RumorBatch`] (plain protobuf, no `Wire` envelope).
pub(crate) fn decode_batch(bytes: &[u8]) -> Result<wire::RumorBatch, DropReason> {
    prost::Message::decode(bytes).map_err(|_| DropReason::Malformed)
}

fn group(s: Option<&str>) -> Result<ServiceGroup, DropReason> {
    s.ok_or(DropReason::Invalid)?
        .parse()
        .map_err(|_| DropReason::Invalid)
}

fn member_id(s: Option<&str>) -> Result<MemberId, DropReason> {
    s.ok_or(DropReason::Invalid)?
        .parse()
        .map_err(|_| DropReason::Invalid)
}

fn service_to_wire(s: &Service) -> wire::Service {
    wire::Service {
        member_id: Some(s.member_id.to_string()),
        service_group: Some(s.group.to_string()),
        incarnation: Some(s.incarnation.0),
        initialized: Some(s.initialized),
        pkg: Some(s.pkg.clone()),
        // Left out when 0, its default, so a swallowtail-only ring sends what it always did.
        pkg_incarnation: (s.pkg_incarnation != 0).then_some(s.pkg_incarnation),
        cfg: Some(s.cfg.clone()),
        sys: s.sys.as_ref().map(|sys| wire::SysInfo {
            ip: Some(sys.ip.clone()),
            hostname: Some(sys.hostname.clone()),
            gossip_ip: Some(sys.gossip_ip.clone()),
            gossip_port: Some(u32::from(sys.gossip_port)),
            http_gateway_ip: Some(sys.http_gateway_ip.clone()),
            http_gateway_port: Some(u32::from(sys.http_gateway_port)),
            ctl_gateway_ip: sys.ctl_gateway_ip.clone(),
            ctl_gateway_port: sys.ctl_gateway_port.map(u32::from),
        }),
        // Left out when false, so an old peer sees exactly Butterfly's message.
        withdrawn: s.withdrawn.then_some(true),
    }
}

fn service_from_wire(s: &wire::Service) -> Result<Service, DropReason> {
    let port = |p: Option<u32>| u16::try_from(p.unwrap_or(0)).map_err(|_| DropReason::Invalid);
    let sys = match &s.sys {
        None => None,
        Some(sys) => Some(Box::new(SysInfo {
            ip: sys.ip.clone().unwrap_or_default(),
            hostname: sys.hostname.clone().unwrap_or_default(),
            gossip_ip: sys.gossip_ip.clone().unwrap_or_default(),
            gossip_port: port(sys.gossip_port)?,
            http_gateway_ip: sys.http_gateway_ip.clone().unwrap_or_default(),
            http_gateway_port: port(sys.http_gateway_port)?,
            ctl_gateway_ip: sys.ctl_gateway_ip.clone(),
            ctl_gateway_port: sys.ctl_gateway_port.map(|p| port(Some(p))).transpose()?,
        })),
    };
    Ok(Service {
        member_id: member_id(s.member_id.as_deref())?,
        group: group(s.service_group.as_deref())?,
        incarnation: Incarnation(s.incarnation.unwrap_or(0)),
        initialized: s.initialized.unwrap_or(false),
        pkg: s.pkg.clone().unwrap_or_default(),
        pkg_incarnation: s.pkg_incarnation.unwrap_or(0),
        cfg: s.cfg.clone().unwrap_or_default(),
        sys,
        withdrawn: s.withdrawn.unwrap_or(false),
    })
}

fn election_to_wire(e: &Election) -> wire::Election {
    let status = match e.status {
        ElectionStatus::Running => wire::ElectionStatus::Running,
        ElectionStatus::NoQuorum => wire::ElectionStatus::NoQuorum,
        ElectionStatus::Finished => wire::ElectionStatus::Finished,
    };
    wire::Election {
        member_id: Some(e.member_id.to_string()),
        service_group: Some(e.group.to_string()),
        term: Some(e.term),
        suitability: Some(e.suitability),
        status: Some(status as i32),
        votes: e.votes.iter().map(MemberId::to_string).collect(),
    }
}

fn election_from_wire(e: &wire::Election) -> Result<Election, DropReason> {
    let status = match e.status.map(wire::ElectionStatus::try_from) {
        None => ElectionStatus::Running,
        Some(Ok(wire::ElectionStatus::Running)) => ElectionStatus::Running,
        Some(Ok(wire::ElectionStatus::NoQuorum)) => ElectionStatus::NoQuorum,
        Some(Ok(wire::ElectionStatus::Finished)) => ElectionStatus::Finished,
        Some(Err(_)) => return Err(DropReason::Invalid),
    };
    let votes = e
        .votes
        .iter()
        .map(|v| v.parse().map_err(|_| DropReason::Invalid))
        .collect::<Result<Vec<MemberId>, DropReason>>()?;
    Ok(Election {
        member_id: member_id(e.member_id.as_deref())?,
        group: group(e.service_group.as_deref())?,
        term: e.term.unwrap_or(0),
        suitability: e.suitability.unwrap_or(0),
        status,
        votes,
    })
}
