//! Process lifecycle: start, crash, restart, pause, slow, join, depart.
//!
//! A restart first restores the rumor store the member held when it stopped
//! (`RumorStore::export` → `Engine::import_rumors`, as the node persists `rumors.pb`); if that
//! store holds the member's own Departure it stops again at once. A member that learns an
//! operator departed it stops, like a node would.

use std::net::SocketAddr;

use engine::{Engine, Incarnation, Member, Outbox};

use super::{address, Item, Process, RunError, SimEngine, World};
use crate::seeds;

impl World<'_> {
    /// `crash`: the members' processes stop; their state is lost.
    pub(super) fn crash(&mut self, members: &[u32]) {
        for &i in members {
            if self.stop(i) {
                self.metrics.crashed(i, self.now);
            }
        }
    }

    /// `restart`: each member stops if it runs and starts again, its incarnation raised by one
    /// when it had a process.
    pub(super) fn restart(&mut self, members: &[u32]) -> Result<(), RunError> {
        for &i in members {
            let was_running = self.stop(i);
            let slot = &mut self.slots[i as usize];
            if was_running || matches!(slot.process, Process::Down) {
                slot.incarnation += 1;
                slot.restarts += 1;
            }
            self.launch(i)?;
        }
        Ok(())
    }

    /// `pause`: running members stop processing for `duration` nanoseconds.
    pub(super) fn pause(&mut self, members: &[u32], duration: u64) {
        for &i in members {
            let slot = &mut self.slots[i as usize];
            let process = std::mem::replace(&mut slot.process, Process::Down);
            slot.process = match process {
                Process::Running(engine) => Process::Paused(engine, Vec::new()),
                other => other,
            };
            if matches!(slot.process, Process::Paused(..)) {
                slot.pause_token = slot.pause_token.wrapping_add(1);
                let token = slot.pause_token;
                self.queue.push(
                    self.now.saturating_add(duration),
                    Item::Resume { member: i, token },
                );
            }
        }
    }

    /// `slow`: for `duration` nanoseconds the members take each input `delay` late.
    pub(super) fn slow(&mut self, members: &[u32], duration: u64, delay: u64) {
        for &i in members {
            let slot = &mut self.slots[i as usize];
            slot.slow_until_ns = self.now.saturating_add(duration);
            slot.slow_delay_ns = delay;
        }
    }

    /// `join`: late members start (others are left alone).
    pub(super) fn join(&mut self, members: &[u32]) -> Result<(), RunError> {
        for &i in members {
            if matches!(self.slots[i as usize].process, Process::Absent) {
                self.launch(i)?;
            }
        }
        Ok(())
    }

    /// `depart`: running members depart gracefully, send what that produces, and stop.
    pub(super) fn depart(&mut self, members: &[u32]) {
        for &i in members {
            if let Process::Running(engine) = &mut self.slots[i as usize].process {
                engine.depart();
                self.drain(i, false);
                self.stop(i);
            }
        }
    }

    /// Starts member `i`'s process (fresh state, the slot's incarnation) and joins it.
    pub(super) fn launch(&mut self, i: u32) -> Result<(), RunError> {
        let engine = self.new_engine(i)?;
        let saved = self.slots[i as usize].rumors.take();
        self.slots[i as usize].process = Process::Running(Box::new(engine));
        self.metrics.member_up(i, []);
        if let Some(bytes) = saved {
            let result = match &mut self.slots[i as usize].process {
                Process::Running(engine) => engine.import_rumors(&bytes).map(|_| ()),
                _ => Ok(()),
            };
            if let Err(e) = result {
                self.record("import_rumors", Some(i), Err(e.to_string()), String::new());
            }
            self.drain_command(i);
            if !matches!(self.slots[i as usize].process, Process::Running(_)) {
                return Ok(()); // Its store says an operator departed it: it stopped again.
            }
        }
        self.announce_services(i);
        let peers = self.peer_addresses();
        if let Process::Running(engine) = &mut self.slots[i as usize].process {
            engine.join(&peers);
        }
        self.drain(i, false);
        self.sync_elections(i);
        Ok(())
    }

    /// Stops member `i`'s process if it has one (running or paused); true if it did.
    pub(super) fn stop(&mut self, i: u32) -> bool {
        let slot = &mut self.slots[i as usize];
        let engine = match std::mem::replace(&mut slot.process, Process::Down) {
            Process::Running(engine) | Process::Paused(engine, _) => engine,
            other => {
                slot.process = other;
                return false;
            }
        };
        self.record_copies.add(engine.metrics());
        slot.incarnation = engine.incarnation().0;
        slot.rumors = (!engine.rumors().is_empty()).then(|| engine.rumors().export());
        slot.timer_token = slot.timer_token.wrapping_add(1);
        slot.timer_at = None;
        slot.pause_token = slot.pause_token.wrapping_add(1);
        let ids = &self.ids;
        let view = engine
            .members()
            .iter()
            .filter_map(|m| ids.get(&m.member.id).map(|&s| (s, m.health)));
        self.metrics.member_down(i, view, self.now);
        self.metrics.elections.member_down(i);
        true
    }

    /// Ends member `i`'s pause: queued inputs first, in arrival order, then due timers.
    pub(super) fn resume(&mut self, i: u32) {
        let slot = &mut self.slots[i as usize];
        let process = std::mem::replace(&mut slot.process, Process::Down);
        let Process::Paused(engine, queued) = process else {
            slot.process = process;
            return;
        };
        slot.process = Process::Running(engine);
        for (from, transport, bytes) in queued {
            self.deliver(i, from, transport, &bytes);
        }
        let slot = &mut self.slots[i as usize];
        if let Process::Running(engine) = &mut slot.process {
            if engine
                .poll_timeout()
                .is_some_and(|t| t.as_nanos() <= self.now)
            {
                engine.handle_timeout();
            }
            self.drain(i, true);
        }
    }

    pub(super) fn new_engine(&self, i: u32) -> Result<SimEngine, RunError> {
        let slot = &self.slots[i as usize];
        let seed = seeds::engine_seed(self.plan.seed, i, slot.restarts);
        let me = self.member_record(i);
        let mut engine = Engine::new(
            self.plan.config.clone(),
            me,
            seed,
            self.clock.clone(),
            Outbox::default(),
        )?;
        if self.plan.ring_key {
            engine.set_ring_keys(Some(engine::crypto::Keyring::for_simulation(
                self.plan.seed,
            )));
        }
        Ok(engine)
    }

    pub(super) fn member_record(&self, i: u32) -> Member {
        let slot = &self.slots[i as usize];
        let mut me = Member::new(slot.id, address(i));
        me.incarnation = Incarnation(slot.incarnation);
        me.persistent = self.plan.persistent[i as usize];
        me
    }

    pub(super) fn peer_addresses(&self) -> Vec<SocketAddr> {
        self.plan.peers.iter().map(|&p| address(p)).collect()
    }
}
