//! How far an update is pushed: pull-first membership dissemination (`Config::pull_first`).
//!
//! SWIM spreads an update by infection: everyone who learns it passes it on
//! `retransmit_mult · ⌈log10(n + 1)⌉` times. For one update that is cheap and fast. After a mass
//! change — a join storm, a healed partition, a rack of crashes — every member must learn
//! O(n) records, and each learner pushing each of them that many times costs n² log n copies,
//! where each member receiving each record once would do. Demers et al. (1987) pair rumor
//! mongering, which spreads fresh news fast, with anti-entropy, which repairs the rest at a
//! cost that follows the differences. Here:
//!
//! - news only we can be the source of — our own record (a join, a refutation), a suspicion
//!   raised by our own failed probe —, a refutation of a member we held Suspect (it races the
//!   suspicion's deadline at every member) and departures are always pushed in full, and so
//!   is any update outside a mass change: a lone crash, suspicion or refutation spreads
//!   exactly as fast as with push only;
//! - while the view changes en masse ([`MASS_CHANGE`] changes or more over this protocol
//!   period and the last), any other update — heard second-hand,
//!   or a verdict every member reaches on its own (a suspicion's deadline, a member back after
//!   a heal) — is pushed only `Config::push_hops` times (3 by default: the first few hops
//!   of the infection), and one pulled in a digest exchange not at all: the member it came
//!   from, and the exchanges it starts, carry it further;
//! - the digest exchanges run while the view changes: a push that brings
//!   [`PULL_TRIGGER`] or more records we lacked starts one with its sender (the member most
//!   likely to hold what we lack: it was just told), and during a mass change and
//!   [`MASS_TAIL`] protocol periods after it every probe carries the view check (see
//!   `engine/member_sync.rs`).

use crate::broadcast::retransmit_limit;
use crate::engine::Engine;
use crate::member::{Health, Membership};
use crate::membership::Route;
use crate::network::Network;
use crate::time::Clock;

/// Changes to our view over two protocol periods from which the view is changing en masse
/// (a lone crash changes it twice: Suspect, then Confirmed).
pub(crate) const MASS_CHANGE: u32 = 16;

/// Protocol periods after the last mass change during which probes keep carrying the view
/// check: the members a short push missed are found by the probes of those who have the news.
pub(crate) const MASS_TAIL: u32 = 5;

/// Records we lacked, in one push or one piggyback, that make its sender worth a digest
/// exchange.
pub(crate) const PULL_TRIGGER: u64 = 4;

/// How an update is queued for pushing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Budget {
    /// The full retransmit limit.
    Full,
    /// This many more transmissions.
    Hops(u32),
    /// Not queued (anti-entropy carries it).
    Pulled,
}

impl<C: Clock, N: Network> Engine<C, N> {
    /// Queues the update about `id` that reached us by `route`, for as many pushes as the
    /// dissemination calls for (see the module documentation).
    pub(crate) fn queue_update(&mut self, update: &Membership, route: Route, urgent: bool) {
        let id = update.member.id;
        match self.push_budget(update.health, route, urgent) {
            Budget::Full => self.view.broadcasts.enqueue(id),
            Budget::Hops(hops) => {
                let limit =
                    retransmit_limit(self.config.retransmit_mult, self.view.members.len() + 1);
                self.view
                    .broadcasts
                    .enqueue_spent(id, limit.saturating_sub(hops));
            }
            Budget::Pulled => {}
        }
    }

    fn push_budget(&self, health: Health, route: Route, urgent: bool) -> Budget {
        if !self.mass_change() || urgent || health == Health::Departed {
            return Budget::Full;
        }
        match route {
            Route::Local | Route::Pushed => Budget::Hops(self.config.push_hops),
            Route::Pulled => Budget::Pulled,
        }
    }

    /// Whether the view is changing en masse (pull-first only): [`MASS_CHANGE`] or more
    /// changes over this protocol period and the last.
    pub(crate) fn mass_change(&self) -> bool {
        self.config.pull_first() && self.view.recent_changes() >= MASS_CHANGE
    }

    /// Whether the view changed en masse within the last [`MASS_TAIL`] protocol periods
    /// (pull-first only): while so, probes carry the view check and digest exchanges send only
    /// what the other side lacks. A lone change in a ring at rest leaves everything as with
    /// push only.
    pub(crate) fn pulling(&self) -> bool {
        self.config.pull_first() && self.view.mass_periods_ago() < MASS_TAIL
    }
}
