//! Refutation: a claim that *we* are not Alive, at an incarnation not older than ours, is
//! answered by raising our incarnation above it, so our Alive record wins every merge and the
//! claim dies out as ours spreads.

use crate::engine::Engine;
use crate::event::Event;
use crate::member::{Health, Membership};
use crate::membership::Change;
use crate::network::Network;
use crate::time::Clock;

impl<C: Clock, N: Network> Engine<C, N> {
    /// Someone says something about us. If it says we are not Alive, at an incarnation not
    /// older than ours, refute: our incarnation becomes max(ours, theirs) + 1 and is gossiped.
    pub(super) fn consider_refuting(&mut self, claim: Membership) -> Change {
        if self.departed
            || claim.health == Health::Alive
            || claim.member.incarnation < self.me.incarnation
        {
            return Change::Unchanged;
        }
        self.me.incarnation = claim.member.incarnation.max(self.me.incarnation).next();
        self.metrics.refutations += 1;
        if self.config.awareness_on() {
            // Being suspected hints that we are the slow one.
            self.awareness.apply(1);
        }
        self.view.broadcasts.enqueue(self.me.id);
        self.emit(Event::Refuted {
            incarnation: self.me.incarnation,
            accused: claim.health,
        });
        Change::Refuted
    }
}
