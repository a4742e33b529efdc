//! Rumors in the engine: the commands that create them, and applying them to the store (with
//! the events, departures and refutations that follow). The gossip round that pushes them is
//! in `gossip.rs`, rumor anti-entropy in `rumor_sync.rs`.

use crate::census::{Census, CensusGroup};
use crate::engine::elections::ElectionGate;
use crate::engine::Engine;
use crate::event::{Event, RumorRejectReason};
use crate::id::{Incarnation, MemberId};
use crate::member::Health;
use crate::membership::Cause;
use crate::metrics::DropReason;
use crate::network::Network;
use crate::rumor::{
    decode_batch, decode_rumor, Departure, Rumor, RumorError, RumorKey, RumorStore, Service,
    ServiceConfig, ServiceFile, ServiceGroup, ServiceSpec, StoreOutcome,
};
use crate::time::Clock;
use crate::wire;

/// Where a rumor being applied came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Origin {
    /// A command on this engine.
    Local,
    /// A peer, over a stream.
    Remote,
    /// `import_rumors` (a persisted store).
    Import,
}

/// What [`Engine::import_rumors`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Rumors that changed the store.
    pub applied: usize,
    /// Rumors the store already held, or held newer.
    pub unchanged: usize,
    /// Rumors refused (invalid fields, payload too large); counted in the metrics.
    pub skipped: usize,
}

impl<C: Clock, N: Network> Engine<C, N> {
    // ----- getters -------------------------------------------------------------------------

    /// The rumor store: services, configs, files, elections and operator departures.
    pub fn rumors(&self) -> &RumorStore {
        &self.rumors
    }

    /// Whether an operator departed us (we received our own Departure rumor, or it was in an
    /// imported store). The engine is then departed too, and must not be restarted with this
    /// id.
    pub fn departed_by_operator(&self) -> bool {
        self.departed_by_operator
    }

    /// The census: per service group, its members with their health and service, its config,
    /// files and leaders. Derived from the rumor store and the member list when called (so it
    /// never disagrees with them and costs no memory between calls): O(rumors).
    pub fn census(&self) -> Census {
        Census::build(&self.rumors, &self.view.members, &self.own_record())
    }

    /// The census of one service group (O(rumors of the group)), if any rumor names it.
    pub fn census_group(&self, group: &ServiceGroup) -> Option<CensusGroup> {
        CensusGroup::build(group, &self.rumors, &self.view.members, &self.own_record())
    }

    // ----- commands ------------------------------------------------------------------------

    /// Announces (or changes) the service this member runs in `group`. The incarnation is
    /// bumped on every change; announcing exactly what is already announced changes nothing.
    /// Returns the incarnation in force.
    pub fn announce_service(
        &mut self,
        group: ServiceGroup,
        spec: ServiceSpec,
    ) -> Result<Incarnation, RumorError> {
        self.check_active()?;
        self.check_payload(spec.cfg.len())?;
        let held = self.rumors.service(&group, self.me.id);
        if let Some(h) = held {
            let unchanged = !h.withdrawn
                && h.pkg == spec.pkg
                && h.cfg == spec.cfg
                && h.initialized == spec.initialized
                && h.sys.as_deref() == spec.sys.as_ref();
            if unchanged && self.local_services.contains_key(&group) {
                return Ok(h.incarnation);
            }
        }
        let incarnation = held.map_or(Incarnation(1), |h| h.incarnation.next());
        let service = Service {
            member_id: self.me.id,
            group: group.clone(),
            incarnation,
            initialized: spec.initialized,
            pkg: spec.pkg,
            pkg_incarnation: 0,
            cfg: spec.cfg,
            sys: spec.sys.map(Box::new),
            withdrawn: false,
        };
        let rumor = Rumor::Service(service.clone());
        self.admit_local(&rumor)?;
        self.local_services.insert(group.clone(), service);
        self.apply_rumor(rumor, Origin::Local);
        self.elections_on_announce(&group, spec.topology);
        Ok(incarnation)
    }

    /// Changes the service this member already runs in `group`: as
    /// [`announce_service`](Self::announce_service), but refused with
    /// [`RumorError::NotRunning`] when the service was not announced.
    pub fn update_service(
        &mut self,
        group: ServiceGroup,
        spec: ServiceSpec,
    ) -> Result<Incarnation, RumorError> {
        self.check_active()?;
        if !self.local_services.contains_key(&group) {
            return Err(RumorError::NotRunning(group));
        }
        self.announce_service(group, spec)
    }

    /// Withdraws the service this member runs in `group`: a tombstone, i.e. a Service rumor with
    /// a higher incarnation and `withdrawn` set (wire field 14; Butterfly peers ignore the flag
    /// and keep showing the service), so the withdrawal wins over every older announcement and
    /// leaves every census. Returns the tombstone's incarnation.
    pub fn withdraw_service(&mut self, group: &ServiceGroup) -> Result<Incarnation, RumorError> {
        self.check_active()?;
        let Some(mut service) = self.local_services.remove(group) else {
            return Err(RumorError::NotRunning(group.clone()));
        };
        let held = self
            .rumors
            .service(group, self.me.id)
            .map_or(service.incarnation, |h| h.incarnation);
        service.incarnation = held.max(service.incarnation).next();
        service.withdrawn = true;
        service.cfg = Vec::new();
        service.initialized = false;
        let incarnation = service.incarnation;
        self.apply_rumor(Rumor::Service(service), Origin::Local);
        self.elections_on_withdraw(group);
        Ok(incarnation)
    }

    /// Applies `config` as version `version` of `group`'s configuration (Butterfly's
    /// `hab config apply`). The version must be higher than the one in force.
    pub fn apply_config(
        &mut self,
        group: ServiceGroup,
        version: u64,
        config: Vec<u8>,
    ) -> Result<(), RumorError> {
        self.publish_group_payload(group, version, None, config, false)
    }

    /// Uploads `body` as version `version` of the file `filename` of `group` (Butterfly's
    /// `hab file upload`). The version must be higher than the one in force for that file.
    pub fn upload_file(
        &mut self,
        group: ServiceGroup,
        version: u64,
        filename: impl Into<String>,
        body: Vec<u8>,
    ) -> Result<(), RumorError> {
        self.check_active()?;
        let filename = filename.into();
        if filename.is_empty() {
            return Err(RumorError::EmptyFileName);
        }
        self.publish_group_payload(group, version, Some(filename), body, false)
    }

    /// As [`apply_config`](Self::apply_config) and [`upload_file`](Self::upload_file) (with
    /// `filename`), for a payload already sealed to the group's public key (a `BOX-1`
    /// [`SealedBox`](crate::crypto::SealedBox)): the rumor carries `encrypted = true`. The
    /// engine never opens it; members holding the group's secret key do.
    pub fn apply_sealed(
        &mut self,
        group: ServiceGroup,
        version: u64,
        filename: Option<String>,
        sealed: Vec<u8>,
    ) -> Result<(), RumorError> {
        self.publish_group_payload(group, version, filename, sealed, true)
    }

    /// Publishes version `version` of `group`'s configuration (`filename` `None`) or of one of
    /// its files: only a version higher than the one in force is accepted.
    fn publish_group_payload(
        &mut self,
        group: ServiceGroup,
        version: u64,
        filename: Option<String>,
        payload: Vec<u8>,
        encrypted: bool,
    ) -> Result<(), RumorError> {
        self.check_active()?;
        self.check_payload(payload.len())?;
        let held = match &filename {
            None => self.rumors.config(&group).map(|c| c.incarnation.0),
            Some(f) if f.is_empty() => return Err(RumorError::EmptyFileName),
            Some(f) => self.rumors.file(&group, f).map(|c| c.incarnation.0),
        };
        if let Some(held) = held.filter(|h| *h >= version) {
            return Err(RumorError::NotNewer {
                held,
                offered: version,
            });
        }
        let incarnation = Incarnation(version);
        let rumor = match filename {
            None => Rumor::ServiceConfig(ServiceConfig {
                group,
                incarnation,
                encrypted,
                config: payload,
            }),
            Some(filename) => Rumor::ServiceFile(ServiceFile {
                group,
                incarnation,
                encrypted,
                filename,
                body: payload,
            }),
        };
        self.admit_local(&rumor)?;
        self.apply_rumor(rumor, Origin::Local);
        Ok(())
    }

    /// [`admit`](Self::admit) for a command: the refusal is the command's error.
    fn admit_local(&self, rumor: &Rumor) -> Result<(), RumorError> {
        match self.admit(rumor, &rumor.key()) {
            Ok(()) => Ok(()),
            Err(RumorRejectReason::Implausible) => Err(RumorError::VersionTooFar {
                offered: rumor.incarnation().0,
                max_step: self.config.max_version_step,
            }),
            Err(_) => Err(RumorError::StoreFull(rumor.kind())),
        }
    }

    /// Departs `member` on an operator's behalf: a Departure rumor, which never changes once
    /// set. Every engine that learns it holds the member Departed and refuses it ever after,
    /// whatever incarnation it comes back with; the member itself, when it learns it, stops and
    /// reports [`Event::DepartedByOperator`]. Departing ourselves is allowed and takes effect at
    /// once (the rumor is first sent to `departure_fanout` members). Departing a member twice
    /// is harmless.
    ///
    /// An engine given operator keys ([`set_operator_keys`](Self::set_operator_keys)) refuses
    /// this unsigned form with [`RumorError::Unsigned`]: use
    /// [`depart_member_signed`](Self::depart_member_signed).
    pub fn depart_member(&mut self, member: MemberId) -> Result<(), RumorError> {
        self.operator_departure(Departure {
            member_id: member,
            signature: None,
        })
    }

    /// Departs `member` with an operator key's signature of the departure, which travels with
    /// the rumor so that members holding operator keys accept it. An engine with operator keys
    /// checks it first and refuses it ([`RumorError::Unsigned`]) unless one of them verifies it.
    pub fn depart_member_signed(
        &mut self,
        member: MemberId,
        signature: [u8; crate::crypto::SIGNATURE_LEN],
    ) -> Result<(), RumorError> {
        self.operator_departure(Departure {
            member_id: member,
            signature: Some(signature),
        })
    }

    fn operator_departure(&mut self, departure: Departure) -> Result<(), RumorError> {
        self.check_active()?;
        if !self.departure_trusted(&departure) {
            return Err(RumorError::Unsigned);
        }
        self.apply_rumor(Rumor::Departure(departure), Origin::Local);
        Ok(())
    }

    /// Whether `departure` is one we accept: anyone's without operator keys, else one a
    /// trusted key signed.
    fn departure_trusted(&self, departure: &Departure) -> bool {
        let Some(keys) = &self.operator_keys else {
            return true;
        };
        departure.signature.is_some_and(|signature| {
            keys.iter()
                .any(|k| k.verifies_departure(departure.member_id, &signature))
        })
    }

    /// Merges every rumor of an exported store (see
    /// [`RumorStore::export`](crate::rumor::RumorStore::export)) by the normal rules, so a stale
    /// or tampered file can never override newer state. Invalid or oversized rumors are
    /// skipped and counted. In the bounded strategy imported rumors are not pushed (anti-entropy
    /// reconciles them); with habitat heat they are hot, as in Butterfly. If the store holds our
    /// own Departure, the engine stops at once (see [`departed_by_operator`](Self::departed_by_operator)).
    pub fn import_rumors(&mut self, bytes: &[u8]) -> Result<ImportReport, RumorError> {
        let batch = decode_batch(bytes).map_err(|_| RumorError::Malformed)?;
        let mut report = ImportReport::default();
        for w in &batch.rumors {
            match self.decode_checked(w) {
                Some(rumor) => {
                    if self.apply_rumor(rumor, Origin::Import).changed() {
                        report.applied += 1;
                    } else {
                        report.unchanged += 1;
                    }
                }
                None => report.skipped += 1,
            }
        }
        Ok(report)
    }

    fn check_active(&self) -> Result<(), RumorError> {
        if self.departed {
            return Err(RumorError::Departed);
        }
        Ok(())
    }

    fn check_payload(&self, size: usize) -> Result<(), RumorError> {
        let limit = self.config.max_rumor_payload;
        if size > limit {
            return Err(RumorError::PayloadTooLarge { size, limit });
        }
        Ok(())
    }

    // ----- applying ------------------------------------------------------------------------

    /// A rumor that arrived over a stream (alone or in a batch).
    pub(super) fn receive_rumor(&mut self, w: &wire::Rumor) {
        if let Some(rumor) = self.decode_checked(w) {
            self.apply_rumor(rumor, Origin::Remote);
        }
    }

    /// Decodes a rumor and enforces the payload limit; refusals are dropped, counted and
    /// reported.
    fn decode_checked(&mut self, w: &wire::Rumor) -> Option<Rumor> {
        match decode_rumor(w) {
            Ok(Some(rumor)) => {
                if rumor.payload_len() > self.config.max_rumor_payload {
                    self.drop_input(DropReason::PayloadTooLarge);
                    self.emit(Event::RumorRejected {
                        key: Some(rumor.key()),
                        reason: RumorRejectReason::PayloadTooLarge,
                    });
                    return None;
                }
                Some(rumor)
            }
            Ok(None) => {
                self.drop_input(DropReason::Invalid);
                None
            }
            Err(reason) => {
                self.drop_input(reason);
                self.emit(Event::RumorRejected {
                    key: None,
                    reason: RumorRejectReason::Invalid,
                });
                None
            }
        }
    }

    /// Whether the store takes `rumor`: room for its kind (count and payload bytes), and for a
    /// config or file a version no further past the one in force than `max_version_step` (the
    /// first at most 2^53), so that no message can fill the store or push a version out of an
    /// operator's reach. Replacing a rumor with one as large takes no more room.
    fn admit(&self, rumor: &Rumor, key: &RumorKey) -> Result<(), RumorRejectReason> {
        let kind = rumor.kind();
        let held = self.rumors.get(key);
        if let Rumor::ServiceConfig(_) | Rumor::ServiceFile(_) = rumor {
            let limit = held.map_or(crate::membership::MAX_INCARNATION, |h| {
                h.incarnation()
                    .0
                    .saturating_add(self.config.max_version_step)
            });
            if rumor.incarnation().0 > limit {
                return Err(RumorRejectReason::Implausible);
            }
        }
        let freed = held.map_or(0, Rumor::payload_len);
        let bytes = self.rumors.bytes(kind).saturating_sub(freed) + rumor.payload_len();
        let count_full =
            held.is_none() && self.rumors.count(kind) >= self.config.max_rumors_per_kind;
        if count_full || bytes > self.config.max_rumor_bytes_per_kind {
            return Err(RumorRejectReason::StoreFull);
        }
        Ok(())
    }

    /// Merges `rumor` into the store and reacts: event, dissemination, departure, refutation.
    /// A rumor the store does not [`admit`](Self::admit) is refused, counted and reported.
    pub(super) fn apply_rumor(&mut self, rumor: Rumor, origin: Origin) -> StoreOutcome {
        let key = rumor.key();
        if let (Origin::Remote, Rumor::Departure(d)) = (origin, &rumor) {
            if !self.departure_trusted(d) {
                self.drop_input(DropReason::Unsigned);
                self.emit(Event::RumorRejected {
                    key: Some(key),
                    reason: RumorRejectReason::Unsigned,
                });
                return StoreOutcome::Older;
            }
        }
        if let Err(reason) = self.admit(&rumor, &key) {
            match reason {
                RumorRejectReason::Implausible => self.drop_input(DropReason::Implausible),
                _ => self.metrics.rumors_refused_full += 1,
            }
            self.emit(Event::RumorRejected {
                key: Some(key),
                reason,
            });
            return StoreOutcome::Older;
        }
        let incarnation = rumor.incarnation();
        let supersede = origin == Origin::Remote && self.contradicts_our_service(&rumor);
        let gate = self.elections_before_apply(&rumor, origin);
        if matches!(gate, ElectionGate::Reject) {
            return StoreOutcome::Older;
        }
        let outcome = self.rumors.merge(rumor);
        match outcome {
            StoreOutcome::Inserted | StoreOutcome::Replaced { .. } => {
                // Imported rumors are left to anti-entropy where there is some.
                let spread = origin != Origin::Import || !self.dissemination.anti_entropy();
                self.on_rumor_stored(&key, incarnation, spread);
                if let RumorKey::Departure { member } = &key {
                    self.on_departure(*member);
                }
            }
            StoreOutcome::Older => {
                if origin == Origin::Remote {
                    self.metrics.rumors_stale += 1;
                    self.emit(Event::RumorRejected {
                        key: Some(key.clone()),
                        reason: RumorRejectReason::Stale,
                    });
                }
            }
            StoreOutcome::Same => {}
        }
        if supersede {
            if let RumorKey::Service { group, .. } = &key {
                self.supersede_our_service(group);
            }
        }
        self.elections_after_apply(&key, outcome, gate);
        outcome
    }

    /// A rumor was stored (inserted or replaced): counted, pushed if `spread`, and reported.
    pub(super) fn on_rumor_stored(
        &mut self,
        key: &RumorKey,
        incarnation: Incarnation,
        spread: bool,
    ) {
        self.metrics.rumors_applied += 1;
        if spread {
            self.dissemination.on_changed(key);
            self.schedule_fresh_push();
        }
        self.emit(Event::RumorApplied {
            kind: key.kind(),
            key: key.clone(),
            incarnation,
        });
    }

    /// Whether `rumor` is a record of a service we run that differs from what we announced, at
    /// an incarnation not below ours (we restarted without our store, or a peer holds something
    /// we never said).
    fn contradicts_our_service(&self, rumor: &Rumor) -> bool {
        let Rumor::Service(s) = rumor else {
            return false;
        };
        if s.member_id != self.me.id {
            return false;
        }
        self.local_services
            .get(&s.group)
            .is_some_and(|mine| s.incarnation >= mine.incarnation && s != mine)
    }

    /// Re-announces our service in `group` above every incarnation seen, as a refutation.
    fn supersede_our_service(&mut self, group: &ServiceGroup) {
        let Some(mut mine) = self.local_services.get(group).cloned() else {
            return;
        };
        let held = self
            .rumors
            .service(group, self.me.id)
            .map_or(mine.incarnation, |s| s.incarnation);
        mine.incarnation = held.max(mine.incarnation).next();
        self.local_services.insert(group.clone(), mine.clone());
        self.apply_rumor(Rumor::Service(mine), Origin::Local);
    }

    /// An operator departed `member`: Departed in our view, for good.
    fn on_departure(&mut self, member: MemberId) {
        if member == self.me.id {
            self.on_departed_by_operator();
            return;
        }
        if let Some(held) = self.view.members.get(member) {
            self.apply_membership(held, Cause::Operator);
        }
    }

    /// We learned our own Departure: tell a few members directly (so the ring learns it even if
    /// we were its only holder), then leave like `depart` and report it.
    fn on_departed_by_operator(&mut self) {
        if self.departed_by_operator {
            return;
        }
        self.departed_by_operator = true;
        if !self.departed {
            let key = RumorKey::Departure { member: self.me.id };
            let targets = self.random_members(self.config.departure_fanout, None, |h, _, _| {
                h == Health::Alive
            });
            for i in targets {
                if let Some(m) = self.view.members.at(i) {
                    self.send_rumors(m.member.gossip_addr(), std::slice::from_ref(&key));
                }
            }
            self.depart();
            self.dissemination.clear();
        }
        self.emit(Event::DepartedByOperator);
    }
}
