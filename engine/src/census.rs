//! The census: a derived, read-only view of the ring per service group — who runs the service
//! and how healthy they are, what each exports, the group's config and files, and its leaders.
//!
//! It is assembled from the rumor store and the member list when asked for
//! ([`Engine::census`](crate::Engine::census), [`Engine::census_group`](crate::Engine::census_group)),
//! so it is always current and costs no memory between calls; nothing is stored twice.

use std::collections::BTreeMap;

use crate::id::MemberId;
use crate::member::{Health, Membership};
use crate::member_list::MemberList;
use crate::rumor::{ElectionStatus, RumorStore, Service, ServiceConfig, ServiceFile, ServiceGroup};

/// Every service group some rumor names, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Census {
    /// The groups.
    pub groups: BTreeMap<ServiceGroup, CensusGroup>,
}

/// One service group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CensusGroup {
    /// The group.
    pub group: ServiceGroup,
    /// Members running the service (withdrawn services left out), in member id order.
    pub members: Vec<CensusMember>,
    /// The configuration in force.
    pub config: Option<ServiceConfig>,
    /// The group's files, in name order.
    pub files: Vec<ServiceFile>,
    /// The leader, once an election has finished.
    pub leader: Option<MemberId>,
    /// The update leader, once an update election has finished.
    pub update_leader: Option<MemberId>,
    /// The election's status, if one was held.
    pub election_status: Option<ElectionStatus>,
    /// The update election's status, if one was held.
    pub update_election_status: Option<ElectionStatus>,
}

/// One member of a service group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CensusMember {
    /// The member.
    pub member_id: MemberId,
    /// Its health as the observer holds it (`None`: the member list does not know it yet).
    pub health: Option<Health>,
    /// Its service rumor: package, exported config, host information, incarnation.
    pub service: Service,
}

impl Census {
    /// The census of `store`, with health from `members` and `me` (the observer's own record).
    pub fn build(store: &RumorStore, members: &MemberList, me: &Membership) -> Census {
        let groups = store
            .groups()
            .into_iter()
            .filter_map(|g| CensusGroup::build(&g, store, members, me).map(|c| (g, c)))
            .collect();
        Census { groups }
    }

    /// One group.
    pub fn group(&self, group: &ServiceGroup) -> Option<&CensusGroup> {
        self.groups.get(group)
    }
}

impl CensusGroup {
    /// The census of `group`, if any rumor names it.
    pub fn build(
        group: &ServiceGroup,
        store: &RumorStore,
        members: &MemberList,
        me: &Membership,
    ) -> Option<CensusGroup> {
        let health = |id: MemberId| {
            if id == me.member.id {
                Some(me.health)
            } else {
                members.health(id)
            }
        };
        let member_rows: Vec<CensusMember> = store
            .services(group)
            .filter(|s| !s.withdrawn)
            .map(|s| CensusMember {
                member_id: s.member_id,
                health: health(s.member_id),
                service: s.clone(),
            })
            .collect();
        let config = store.config(group).cloned();
        let files: Vec<ServiceFile> = store.files(group).cloned().collect();
        let election = store.election(group);
        let update = store.election_update(group);
        let named = !member_rows.is_empty()
            || config.is_some()
            || !files.is_empty()
            || election.is_some()
            || update.is_some()
            || store.services(group).next().is_some();
        if !named {
            return None;
        }
        let finished = |e: Option<&crate::rumor::Election>| {
            e.filter(|e| e.status == ElectionStatus::Finished)
                .map(|e| e.member_id)
        };
        Some(CensusGroup {
            group: group.clone(),
            members: member_rows,
            config,
            files,
            leader: finished(election),
            update_leader: finished(update),
            election_status: election.map(|e| e.status),
            update_election_status: update.map(|e| e.status),
        })
    }

    /// The member `id`'s row.
    pub fn member(&self, id: MemberId) -> Option<&CensusMember> {
        self.members.iter().find(|m| m.member_id == id)
    }
}
