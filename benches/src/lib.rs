//! Shared fixtures for swallowtail's criterion benchmarks (`cargo bench -p benches`).

use std::net::SocketAddr;

use engine::wire::{self, Swim, SwimPayload, SwimType};
use engine::{Health, Incarnation, Member, MemberId, Membership};

/// The synthetic address of member `i` (as the simulator assigns them).
pub fn addr(i: u32) -> SocketAddr {
    SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 9638))
}

/// A member with a fixed pseudo-random id derived from `i`.
pub fn member(i: u32) -> Member {
    let id = (u128::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834)) | 1;
    Member {
        incarnation: Incarnation(1),
        ..Member::new(MemberId::from_u128(id), addr(i))
    }
}

/// `n` Alive records of members 1..=n.
pub fn alive_records(n: u32) -> Vec<Membership> {
    (1..=n)
        .map(|i| Membership {
            member: member(i),
            health: Health::Alive,
        })
        .collect()
}

/// Member `i` of the datagram benchmarks: incarnation 3 at 10.0.x.y, ids with both halves set.
pub fn datagram_member(i: u128) -> Member {
    Member {
        incarnation: Incarnation(3),
        ..Member::new(
            MemberId::from_u128(0x4000_0000_0000_0000_8000_0000_0000_0000 | i),
            SocketAddr::from(([10, 0, (i / 256) as u8, (i % 256) as u8], 9638)),
        )
    }
}

/// A Ping from `from` carrying `entries` as Alive membership records.
pub fn ping(from: &Member, entries: impl IntoIterator<Item = Member>) -> Swim {
    Swim {
        r#type: SwimType::Ping as i32,
        seq: None,
        extensions: None,
        membership: entries
            .into_iter()
            .map(|member| {
                wire::Membership::from(&Membership {
                    member,
                    health: Health::Alive,
                })
            })
            .collect(),
        payload: Some(SwimPayload::Ping(wire::Ping {
            from: Some(wire::Member::from(from)),
            forward_to: None,
            ..Default::default()
        })),
    }
}
