//! Membership over streams: Member rumors (a departing member's farewell, and queued updates
//! pushed each gossip round), and the membership digest exchange (anti-entropy,
//! as memberlist's push/pull, but sending only the buckets of the view that differ).

use std::net::SocketAddr;

use super::sync::Stage;
use crate::engine::Engine;
use crate::id::MemberId;
use crate::member::{Health, Membership};
use crate::member_list::Summary;
use crate::membership::Cause;
use crate::metrics::DropReason;
use crate::network::Network;
use crate::time::Clock;
use crate::wire::{self, RumorPayload, RumorType};

/// The most membership updates in one frame pushed on the gossip channel.
const MEMBER_PUSH_MAX: usize = 64;
/// The fewest records an answer summarises rather than sends whole (about 2 KB of them).
const SUMMARY_MIN_RECORDS: usize = 32;

impl<C: Clock, N: Network> Engine<C, N> {
    /// Membership anti-entropy, in three stages like the rumor exchange:
    ///
    /// ```text
    ///  A (initiator)                                    B
    ///  ── MemberSync 1: bucket hashes of A's view ────▶   B hashes its own view the same way
    ///  ◀─ MemberSync 2: differing buckets + B's records ─  (nothing else when the views agree)
    ///  ── MemberSync 3: A's records there that B lacks ▶
    /// ```
    ///
    /// Each side counts itself in its view, so two members that agree exchange one bucket hash
    /// per eight members instead of their whole views (memberlist's push/pull sends the whole
    /// state both ways every time). A newcomer's view differs everywhere and gets the whole
    /// view. A `MemberSync` without a stage is the full exchange, answered in kind.
    /// A peer that knows no stages sends only that.
    ///
    /// With `member_summaries`, while pulling (a mass change; with `member_summaries_at_rest`
    /// in every exchange), A asks for summaries, and a
    /// large answer (at least [`SUMMARY_MIN_RECORDS`]) is (id, incarnation, health) per
    /// record instead of the records; then stage 3 also names the ids A wants, and stage 4
    /// carries B's records for them. No record crosses that the other side holds already, and
    /// none for a change of health alone: a record both sides hold at one incarnation differs
    /// at most in health, so A adopts such a change from B's summary, and stage 3 carries A's
    /// own such changes as summaries (after a whole-record answer too).
    pub(super) fn on_member_sync(
        &mut self,
        from: SocketAddr,
        sender: Option<MemberId>,
        sync: &wire::MemberSync,
    ) -> Result<(), DropReason> {
        let Some(stage) = sync.stage else {
            let sender_addr = self.apply_member_records(sender, &sync.members)?;
            if !sync.reply.unwrap_or(false) {
                self.send_member_sync(sender_addr.unwrap_or(from), true);
            }
            return Ok(());
        };
        let count = sync.bucket_count.unwrap_or(0);
        if !count.is_power_of_two() || count > crate::rumor::MAX_BUCKETS {
            return Err(DropReason::Invalid);
        }
        match Stage::from_wire(stage).ok_or(DropReason::Invalid)? {
            Stage::Buckets => self.answer_member_buckets(from, sender, sync, count),
            Stage::Answer => self.on_member_answer(from, sender, sync, count),
            Stage::FollowUp => {
                self.apply_member_records(sender, &sync.members)?;
                let health = decode_summaries(sync)?;
                self.adopt_health_changes(&health);
                self.send_wanted_records(from, sender, &sync.wanted_ids)
            }
            Stage::Records => {
                self.apply_member_records(sender, &sync.members)?;
                Ok(())
            }
        }
    }

    /// Stage 1 received: answer with the buckets that differ and our records in them.
    pub(super) fn answer_member_buckets(
        &mut self,
        from: SocketAddr,
        sender: Option<MemberId>,
        sync: &wire::MemberSync,
        count: u32,
    ) -> Result<(), DropReason> {
        let own = self.own_record();
        if sync.buckets.len() != count as usize {
            return Err(DropReason::Invalid);
        }
        // The initiator spoke to us: it is alive, whatever we held.
        if let Some(held) = sender.and_then(|id| self.view.members.get(id)) {
            self.note_direct_contact(&held.member, Cause::DirectContact)?;
        }
        let ours = self.view.members.view_buckets(&own, count);
        let wanted: Vec<bool> = ours
            .iter()
            .zip(&sync.buckets)
            .map(|(a, b)| a != b)
            .collect();
        let differing: Vec<u32> = (0..count).filter(|&b| wanted[b as usize]).collect();
        let to = self.reply_address(sender, from);
        // Summaries, when asked for and our answer would be large (a few records cost less
        // whole than the extra round trip), unless the initiator holds under half as many
        // records as we do: then it lacks most of ours, and whole records save it the trip.
        let held = self.view.members.len() + 1;
        let members = if sync.summaries == Some(true)
            && sync.held.is_some_and(|theirs| theirs as usize * 2 >= held)
        {
            let summaries = self
                .view
                .members
                .summaries_in_view_buckets(&own, &wanted, count);
            if summaries.len() >= SUMMARY_MIN_RECORDS {
                self.metrics.member_summaries_exchanged += summaries.len() as u64;
                self.send_member_digest(to, summary_answer(count, differing, &summaries));
                return Ok(());
            }
            // Too few to summarise: the same records whole, in the order of
            // `in_view_buckets` (ours first), without a second pass over the list.
            let mut ids: Vec<MemberId> = summaries.iter().map(|s| s.id).collect();
            if let Some(at) = ids.iter().position(|&id| id == own.member.id) {
                ids[..=at].rotate_right(1);
            }
            self.records_of(&own, &ids)
        } else {
            self.view
                .members
                .in_view_buckets(&own, &wanted, count)
                .iter()
                .map(wire::Membership::from)
                .collect()
        };
        self.send_member_digest(
            to,
            wire::MemberSync {
                reply: Some(true),
                members,
                stage: Stage::Answer.wire(),
                bucket_count: Some(count),
                differing,
                ..Default::default()
            },
        );
        Ok(())
    }

    /// Stage 2 received as summaries: send back our records in the differing buckets that
    /// the answerer lacks or holds older, and ask for the ones it holds newer or we lack
    /// (a merge of two id-ordered lists; no record is sent that the other side holds).
    fn on_member_summaries(
        &mut self,
        from: SocketAddr,
        sender: Option<MemberId>,
        sync: &wire::MemberSync,
        wanted: &[bool],
        count: u32,
    ) -> Result<(), DropReason> {
        let theirs = decode_summaries(sync)?;
        // The answerer spoke to us: it is alive, whatever we held.
        if let Some(held) = sender.and_then(|id| self.view.members.get(id)) {
            self.note_direct_contact(&held.member, Cause::DirectContact)?;
        }
        if sync.differing.is_empty() {
            self.anti_entropy.member_quiet = self.anti_entropy.member_quiet.saturating_add(1);
            return Ok(());
        }
        // The answerer noted us alive before summarising, so it shows no claim against us.
        let own = self.own_record();
        let ours = self
            .view
            .members
            .summaries_in_view_buckets(&own, wanted, count);
        // A record both sides hold at one incarnation differs only in health (its address
        // and flags change only with a new incarnation): the summary carries the change, so
        // no whole record crosses for it, either way.
        let (mut send, mut health, mut want, mut adopt) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut i, mut j) = (0, 0);
        while i < ours.len() || j < theirs.len() {
            match (ours.get(i), theirs.get(j)) {
                (Some(o), Some(t)) if o.id == t.id => {
                    if o.changes_health_of(t) {
                        health.push(*o);
                    } else if o.supersedes(t) {
                        send.push(o.id);
                    } else if t.changes_health_of(o) {
                        adopt.push(*t);
                    } else if t.supersedes(o) {
                        want.extend(<[u64; 2]>::from(t.id.words()));
                    }
                    i += 1;
                    j += 1;
                }
                (Some(o), t) if t.is_none_or(|t| o.id < t.id) => {
                    send.push(o.id);
                    i += 1;
                }
                (_, Some(t)) => {
                    want.extend(<[u64; 2]>::from(t.id.words()));
                    j += 1;
                }
                (_, None) => break,
            }
        }
        self.adopt_health_changes(&adopt);
        if send.is_empty() && health.is_empty() && want.is_empty() {
            return Ok(());
        }
        let members = self.records_of(&own, &send);
        let to = self.reply_address(sender, from);
        self.send_follow_up(to, count, members, &health, want);
        Ok(())
    }

    /// Applies health changes a peer summarised for records we hold at the same incarnation:
    /// each stands for our record with the summary's health, merged like a pulled record (a
    /// claim about us is refuted, a Confirmed claim checked first). Summaries of records we
    /// lack or hold at another incarnation are skipped: the digest exchange carries those
    /// whole.
    fn adopt_health_changes(&mut self, summaries: &[Summary]) {
        if summaries.is_empty() {
            return;
        }
        let own = self.own_record();
        for s in summaries {
            let held = if s.id == own.member.id {
                Some(own)
            } else {
                self.view.members.get(s.id)
            };
            if let Some(held) = held.filter(|h| h.member.incarnation.0 == s.incarnation) {
                let record = Membership {
                    health: s.health,
                    ..held
                };
                self.apply_membership(record, Cause::Pulled);
            }
        }
    }

    /// Stage 3: our records the answer showed older or lacking, summaries of the ones it
    /// showed at our incarnation with a better health (the health is all that differs), and
    /// (after summaries) the ids of the records we want.
    fn send_follow_up(
        &mut self,
        to: SocketAddr,
        count: u32,
        members: Vec<wire::Membership>,
        health: &[Summary],
        wanted_ids: Vec<u64>,
    ) {
        self.metrics.member_health_summaries += health.len() as u64;
        let mut sync = wire::MemberSync {
            reply: Some(true),
            members,
            stage: Stage::FollowUp.wire(),
            bucket_count: Some(count),
            wanted_ids,
            ..Default::default()
        };
        if !health.is_empty() {
            put_summaries(&mut sync, health);
        }
        self.send_member_digest(to, sync);
    }

    /// Stage 3 received with wanted ids: answer with our records for them (stage 4).
    fn send_wanted_records(
        &mut self,
        from: SocketAddr,
        sender: Option<MemberId>,
        wanted_ids: &[u64],
    ) -> Result<(), DropReason> {
        if wanted_ids.is_empty() {
            return Ok(());
        }
        // Never more ids than we hold records (a peer asks only for ones we summarised).
        if !wanted_ids.len().is_multiple_of(2) || wanted_ids.len() / 2 > self.view.members.len() + 1
        {
            return Err(DropReason::Invalid);
        }
        let ids: Vec<MemberId> = wanted_ids
            .chunks_exact(2)
            .map(|w| MemberId::from_words(w[0], w[1]))
            .collect();
        let own = self.own_record();
        let members = self.records_of(&own, &ids);
        if members.is_empty() {
            return Ok(());
        }
        let to = self.reply_address(sender, from);
        self.send_member_digest(
            to,
            wire::MemberSync {
                reply: Some(true),
                members,
                stage: Stage::Records.wire(),
                bucket_count: Some(1),
                ..Default::default()
            },
        );
        Ok(())
    }

    /// Our records (ours included) for `ids`, on the wire; ids we do not hold are skipped.
    fn records_of(&self, own: &Membership, ids: &[MemberId]) -> Vec<wire::Membership> {
        ids.iter()
            .filter_map(|&id| {
                if id == own.member.id {
                    Some(*own)
                } else {
                    self.view.members.get(id)
                }
            })
            .map(|m| wire::Membership::from(&m))
            .collect()
    }

    /// Stage 2 received: merge the answer's records, then send back ours in the differing
    /// buckets that it did not already show.
    pub(super) fn on_member_answer(
        &mut self,
        from: SocketAddr,
        sender: Option<MemberId>,
        sync: &wire::MemberSync,
        count: u32,
    ) -> Result<(), DropReason> {
        let mut wanted = vec![false; count as usize];
        for &b in &sync.differing {
            *wanted.get_mut(b as usize).ok_or(DropReason::Invalid)? = true;
        }
        if sync.summaries == Some(true) {
            return self.on_member_summaries(from, sender, sync, &wanted, count);
        }
        let decoded: Vec<Result<Membership, DropReason>> =
            sync.members.iter().map(Membership::try_from).collect();
        let sender_addr = self.apply_decoded_records(sender, decoded.iter().copied())?;
        if sync.differing.is_empty() {
            // The views agree: the next periodic exchange may wait longer.
            self.anti_entropy.member_quiet = self.anti_entropy.member_quiet.saturating_add(1);
            return Ok(());
        }
        // What the answer showed, by id (a stable sort: several records for one id keep the
        // order they were sent in, though a peer following the protocol sends them in id
        // order, one each).
        let mut answered: Vec<Membership> = decoded.into_iter().flatten().collect();
        answered.sort_by_key(|m| m.member.id);
        let pulling = self.pulling();
        // With summaries, a record the answer showed at our incarnation crosses as its
        // summary: the health is all that differs.
        let by_summary = pulling && self.config.summaries_on();
        let mut health = Vec::new();
        let own = self.own_record(); // a refutation above may have bumped it
        let mut records: Vec<Membership> = self.view.members.in_view_buckets(&own, &wanted, count);
        records.retain(|ours| {
            let start = answered.partition_point(|m| m.member.id < ours.member.id);
            let same = answered[start..]
                .iter()
                .take_while(|m| m.member.id == ours.member.id)
                .count();
            let theirs = &answered[start..start + same];
            // Ours as the answer showed it (same incarnation and health: what the view digest
            // compares) is not sent back. While pulling, the answer showed every record it
            // holds in these buckets: send only those it lacks or holds older (after the
            // merge above, ours is at least as new as each); of several records for one id
            // the last one sent counts.
            let ours_seen = Summary::of(ours);
            let last = theirs.last().map(Summary::of);
            if theirs.iter().any(|t| Summary::of(t) == ours_seen)
                || (pulling && last.is_some_and(|t| !ours_seen.supersedes(&t)))
            {
                return false;
            }
            if by_summary && last.is_some_and(|t| ours_seen.changes_health_of(&t)) {
                health.push(ours_seen);
                return false;
            }
            true
        });
        // Summaries go in id order (ours, first among the records, is never one of them: the
        // answer cannot show us better than we are).
        health.sort_unstable_by_key(|s| s.id);
        let members: Vec<wire::Membership> = records.iter().map(wire::Membership::from).collect();
        if !members.is_empty() || !health.is_empty() {
            let to = sender_addr.unwrap_or_else(|| self.reply_address(sender, from));
            self.send_follow_up(to, count, members, &health, Vec::new());
        }
        Ok(())
    }

    /// Merges the records of a membership exchange; the sender's own record counts as direct
    /// contact. Returns the sender's gossip address if its record was among them.
    pub(super) fn apply_member_records(
        &mut self,
        sender: Option<MemberId>,
        records: &[wire::Membership],
    ) -> Result<Option<SocketAddr>, DropReason> {
        self.apply_decoded_records(sender, records.iter().map(Membership::try_from))
    }

    /// [`Self::apply_member_records`], on records already decoded.
    fn apply_decoded_records(
        &mut self,
        sender: Option<MemberId>,
        records: impl IntoIterator<Item = Result<Membership, DropReason>>,
    ) -> Result<Option<SocketAddr>, DropReason> {
        let mut sender_addr = None;
        for entry in records {
            match entry {
                Ok(m) => {
                    if Some(m.member.id) == sender {
                        // A stream's source port says nothing of the sender's address, so its
                        // own record is bounded like any other second-hand one.
                        if !self.plausible(&m.member, None) {
                            self.drop_input(DropReason::Implausible);
                            continue;
                        }
                        sender_addr = Some(m.member.gossip_addr());
                        // The sender spoke to us: it is alive, whatever we held.
                        self.note_direct_contact(&m.member, Cause::DirectContact)?;
                    }
                    self.apply_membership(m, Cause::Pulled);
                }
                Err(reason) => self.drop_input(reason),
            }
        }
        Ok(sender_addr)
    }

    /// Stage 1 of the membership digest exchange.
    pub(super) fn start_member_digest(&mut self, to: SocketAddr) {
        self.metrics.push_pulls += 1;
        // While pulling, finer buckets (about two records each instead of eight): views that
        // differ in scattered records then exchange a quarter as many records that were equal
        // anyway, for three times more bucket hashes.
        let per_bucket = if self.pulling() { 4 } else { 1 };
        let count =
            crate::rumor::Digest::bucket_count_for((self.view.members.len() + 1) * per_bucket);
        let buckets = self.view.members.view_buckets(&self.own_record(), count);
        // With `member_summaries`, while pulling, ask for summaries: views that differ in many
        // scattered records then send each other only the records one side lacks or holds
        // older, not whole buckets. (Not in a ring too small for any answer to be summarised.)
        let held = self.view.members.len() + 1;
        // With `member_summaries_at_rest`, whether or not we are pulling: the first exchange
        // after a heal is started by a member whose own view was at rest.
        let summaries =
            self.config.asks_for_summaries(self.pulling()) && held >= SUMMARY_MIN_RECORDS;
        let held = u32::try_from(held).unwrap_or(u32::MAX);
        self.send_member_digest(
            to,
            wire::MemberSync {
                reply: Some(false),
                stage: Stage::Buckets.wire(),
                bucket_count: Some(count),
                buckets,
                summaries: summaries.then_some(true),
                held: summaries.then_some(held),
                ..Default::default()
            },
        );
    }

    pub(super) fn send_member_digest(&mut self, to: SocketAddr, sync: wire::MemberSync) {
        self.metrics.member_records_exchanged += sync.members.len() as u64;
        self.send_frame(to, RumorType::MemberSync, RumorPayload::MemberSync(sync));
    }

    /// The full exchange: our whole view (ourselves included), answered with the receiver's
    /// unless `reply`.
    pub(super) fn send_member_sync(&mut self, to: SocketAddr, reply: bool) {
        let mut members = Vec::with_capacity(self.view.members.len() + 1);
        members.push(wire::Membership::from(&self.own_record()));
        members.extend(self.view.members.iter().map(|m| wire::Membership::from(&m)));
        self.send_member_digest(
            to,
            wire::MemberSync {
                reply: Some(reply),
                members,
                ..Default::default()
            },
        );
    }

    /// The periodic membership anti-entropy check. It rides on the next direct probe of a
    /// member we hold Alive (a random one: the probe order is shuffled): the Ping carries the
    /// hash of our whole view, the Ack the target's, and only views that differ start the
    /// digest exchange over a stream ([`Self::on_check_answer`]). Its period doubles for each
    /// check in a row that found the views equal (up to 8×) and comes back to the base period
    /// from the first check after our view changes. A ring at rest so pays one hash on a Ping
    /// and one on its Ack per period instead of a stream exchange.
    pub(super) fn periodic_push_pull(&mut self) {
        let whole = self.view_hash();
        if whole != self.anti_entropy.view_seen {
            self.anti_entropy.view_seen = whole;
            self.anti_entropy.member_quiet = 0;
        }
        self.anti_entropy.view_check = true;
    }

    /// A push from `to` brought records we lacked: its sender was just told what we miss, so
    /// pull the rest from it with a digest exchange (and a rumor exchange) (pull-first; at most one per protocol
    /// period, and only while the view changes en masse).
    pub(super) fn pull_from_pusher(&mut self, to: SocketAddr) {
        if !self.mass_change() {
            return;
        }
        let now = self.now();
        if self
            .anti_entropy
            .pulled_at
            .is_some_and(|at| now < at + self.config.protocol_period)
        {
            return;
        }
        self.anti_entropy.pulled_at = Some(now);
        self.metrics.member_pulls_triggered += 1;
        // The rumors too: a member that lags in membership lags in rumors (a join storm).
        self.push_pull_with(to);
    }

    /// Pull-first: during a mass change and a few protocol periods after it each probe carries
    /// the view check, so members whose views differ meet while the view changes and just
    /// after, not only every `push_pull_interval`: the few members a short push missed are
    /// found by the probes of those who have the news.
    pub(super) fn check_if_changing(&mut self) {
        if self.pulling() {
            self.anti_entropy.view_check = true;
            // With summaries, views converge through fewer pushes, so the pulls that pushes
            // trigger (which exchange rumors too) become rare: the probes check the rumor
            // stores as well, or a member that joined before the first rumors reached its
            // bootstrap peer waits for the periodic anti-entropy (10 s or more).
            if self.config.summaries_on()
                && self.dissemination.anti_entropy()
                && !self.rumors.is_empty()
            {
                self.anti_entropy.rumor_check = true;
            }
        }
    }

    /// The hash of our whole membership view, our own record included (two members that
    /// agree on everyone have the same).
    pub(super) fn view_hash(&self) -> u64 {
        self.view.members.whole_view_hash(&self.own_record())
    }

    /// Sends one membership record as a Member rumor over a stream.
    pub(crate) fn send_member_rumor(&mut self, to: SocketAddr, record: &Membership) {
        self.metrics.member_records_pushed += 1;
        let payload = RumorPayload::Member(wire::Membership::from(record));
        self.send_frame(to, RumorType::Member, payload);
    }

    /// Membership updates travel as Member rumors on the gossip channel too, as in Butterfly
    /// (where Member is a rumor kind): each gossip tick, while updates are queued,
    /// `gossip_fanout` random live members get a frame of them, drawn from the same bounded
    /// queue as the piggybacked ones (each copy counts toward the retransmit limit, so the
    /// total stays bounded). Piggybacking alone carries `piggyback_max` updates per probe
    /// message, which a burst of changes — a hundred crashes, a healed partition — outruns
    /// by minutes in a ring of a thousand.
    pub(super) fn gossip_membership(&mut self) {
        if self.view.broadcasts.is_empty() || self.departed {
            return;
        }
        let picked = self.random_members(self.config.gossip_fanout, None, |h, _, _| {
            h == Health::Alive
        });
        for i in picked {
            let Some(m) = self.view.members.at(i) else {
                continue;
            };
            let records = self.take_broadcasts(MEMBER_PUSH_MAX, Some(m.member.id));
            if records.is_empty() {
                break;
            }
            self.metrics.member_records_pushed += records.len() as u64;
            let rumors = records
                .into_iter()
                .map(|entry| wire::Rumor {
                    r#type: RumorType::Member as i32,
                    tag: Vec::new(),
                    from_id: None,
                    payload: Some(RumorPayload::Member(entry)),
                })
                .collect();
            self.metrics.member_pushes += 1;
            let batch = RumorPayload::Batch(wire::RumorBatch { rumors });
            self.send_frame(m.member.gossip_addr(), RumorType::Batch, batch);
        }
    }
}

/// A stage 2 answer of summaries.
fn summary_answer(count: u32, differing: Vec<u32>, summaries: &[Summary]) -> wire::MemberSync {
    let mut answer = wire::MemberSync {
        reply: Some(true),
        stage: Stage::Answer.wire(),
        bucket_count: Some(count),
        differing,
        summaries: Some(true),
        ..Default::default()
    };
    put_summaries(&mut answer, summaries);
    answer
}

/// Writes `summaries` (in id order) as three packed columns: id words, incarnations, health
/// bytes.
fn put_summaries(sync: &mut wire::MemberSync, summaries: &[Summary]) {
    sync.summary_ids = Vec::with_capacity(summaries.len() * 2);
    sync.summary_incarnations = Vec::with_capacity(summaries.len());
    let mut health = Vec::with_capacity(summaries.len());
    for summary in summaries {
        let (hi, lo) = summary.id.words();
        sync.summary_ids.extend([hi, lo]);
        sync.summary_incarnations.push(summary.incarnation);
        health.push(summary.health as u8);
    }
    sync.summary_health = Some(health);
}

/// The summaries of a stage 2 answer or a stage 3 follow-up, checked: whole (three columns
/// of one length), with valid health numbers, in strictly increasing id order.
fn decode_summaries(sync: &wire::MemberSync) -> Result<Vec<Summary>, DropReason> {
    let health = sync.summary_health.as_deref().unwrap_or_default();
    let n = sync.summary_incarnations.len();
    if health.len() != n || sync.summary_ids.len() != 2 * n {
        return Err(DropReason::Invalid);
    }
    let mut out: Vec<Summary> = Vec::with_capacity(n);
    for ((w, &incarnation), &h) in sync
        .summary_ids
        .chunks_exact(2)
        .zip(&sync.summary_incarnations)
        .zip(health)
    {
        let summary = Summary {
            id: MemberId::from_words(w[0], w[1]),
            incarnation,
            health: *Health::ALL.get(usize::from(h)).ok_or(DropReason::Invalid)?,
        };
        if out.last().is_some_and(|last| last.id >= summary.id) {
            return Err(DropReason::Invalid);
        }
        out.push(summary);
    }
    Ok(out)
}
