//! File descriptors: the limit is raised at start (soft to hard) and shared out, so that a flood
//! of gossip connections can never take the descriptors the gateway and the data dir need.
//!
//! Reserved first: the gateway's connections ([`gateway::MAX_CONNECTIONS`](crate::gateway::MAX_CONNECTIONS))
//! and [`OWN`] more for the sockets, the data dir's files, the lock, the signal pipe and the
//! runtime's own. What is left is split evenly between inbound gossip connections and the
//! outbound pool, each capped at [`CAP`].

use crate::gateway::MAX_CONNECTIONS as GATEWAY;

/// Descriptors kept for the node's own sockets and files.
pub const OWN: u64 = 64;
/// The most connections each direction gets, however high the limit.
pub const CAP: usize = 1024;
/// The fewest each direction gets; below this the node runs, warning, with what there is.
const FLOOR: usize = 16;

/// How the descriptors were shared out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shares {
    /// The process's descriptor limit (soft, after raising it).
    pub limit: u64,
    /// Inbound gossip connections at once.
    pub inbound: usize,
    /// Outbound gossip connections (peers) at once.
    pub outbound: usize,
}

/// Raises the soft descriptor limit to the hard one and shares it out. If the limit cannot
/// be read, assumes the common 1,024.
pub fn raise_and_share() -> Shares {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the descriptor limit; assuming 1024");
            1024
        }
    };
    let shares = share(limit);
    if shares.inbound == FLOOR {
        tracing::warn!(
            limit,
            "few file descriptors: gossip connections limited to {FLOOR} each way"
        );
    }
    shares
}

/// Shares `limit` descriptors out (see the module's documentation).
pub fn share(limit: u64) -> Shares {
    let free = limit.saturating_sub(GATEWAY as u64 + OWN);
    let each = usize::try_from(free / 2).unwrap_or(CAP).clamp(FLOOR, CAP);
    Shares {
        limit,
        inbound: each,
        outbound: each,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_and_files_keep_their_share_at_any_limit() {
        let s = share(1024);
        assert!(
            s.inbound + s.outbound + GATEWAY + OWN as usize <= 1024,
            "{s:?}"
        );
        assert_eq!(share(1 << 20).inbound, CAP);
        assert_eq!(share(0).inbound, FLOOR);
        assert_eq!(share(u64::MAX).outbound, CAP);
    }

    #[test]
    fn raising_never_lowers_the_limit() {
        let before = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(0, |(soft, _)| soft);
        assert!(raise_and_share().limit >= before);
    }
}
