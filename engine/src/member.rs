//! A member of the ring and its health.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::id::{Incarnation, MemberId};

/// How healthy a member is believed to be. The order matters: a membership update with an equal
/// incarnation is accepted only when it is strictly worse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Health {
    /// Answers probes.
    Alive = 0,
    /// Missed a probe and its PingReqs; will be Confirmed unless it refutes in time.
    Suspect = 1,
    /// Considered failed. Kept in the list (not deleted), as in Butterfly.
    Confirmed = 2,
    /// Left the ring (gracefully, or departed by an operator).
    Departed = 3,
}

impl Health {
    /// All four, in order.
    pub const ALL: [Health; 4] = [
        Health::Alive,
        Health::Suspect,
        Health::Confirmed,
        Health::Departed,
    ];

    /// The name Butterfly's gateway uses (`"Alive"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Alive => "Alive",
            Health::Suspect => "Suspect",
            Health::Confirmed => "Confirmed",
            Health::Departed => "Departed",
        }
    }

    /// Index 0..4, for counters.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Health {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Health::ALL
            .into_iter()
            .find(|h| h.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown health {s:?}"))
    }
}

/// What a member says about itself: identity, where to reach it, and its flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Member {
    /// Its id.
    pub id: MemberId,
    /// Its incarnation; only the member itself raises it.
    pub incarnation: Incarnation,
    /// Where its SWIM (UDP) socket listens.
    pub addr: SocketAddr,
    /// The TCP port of its rumor (gossip) listener, on the same IP address.
    pub gossip_port: u16,
    /// Persistent members are probed in every state but Departed, so a healed partition
    /// re-merges through them.
    pub persistent: bool,
    /// Set when the member has departed.
    pub departed: bool,
}

impl Member {
    /// A member with incarnation 0 whose SWIM and gossip ports are both `addr`'s port.
    pub fn new(id: MemberId, addr: SocketAddr) -> Self {
        Member {
            id,
            incarnation: Incarnation(0),
            addr,
            gossip_port: addr.port(),
            persistent: false,
            departed: false,
        }
    }

    /// Where its gossip (TCP) listener is.
    pub fn gossip_addr(&self) -> SocketAddr {
        SocketAddr::new(self.addr.ip(), self.gossip_port)
    }
}

/// A member together with the health we hold it in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Membership {
    /// The member.
    pub member: Member,
    /// Its health, as the holder of this record believes.
    pub health: Health,
}
