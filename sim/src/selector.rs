//! Member selectors: how a scenario names a set of members.
//!
//! A selector is a comma-separated list of parts, each one of
//!
//! - `7` — one member index;
//! - `0..99` — an inclusive range of indices;
//! - `30%` — the member at that share of the ring (index ⌊30·n/100⌋, the last one for `100%`);
//! - `0%..30%` — a share of the ring, half-open: the indices i with 0·n/100 ≤ i < 30·n/100
//!   (with 10,000 members `0..2999`, with 1,000 `0..299`), so one scenario can be run at
//!   other sizes with `--set members=N`;
//! - `random:5` — five distinct members drawn from the run's seed (from those not already
//!   named by the other parts of the same selector);
//! - `leader:GROUP` — the member that most live members of the service group `GROUP`
//!   currently hold as its leader, resolved when the action runs (only a timeline action's
//!   `members` may use it; [`Selector::resolve`] skips it, [`Selector::leaders`] lists it);
//! - `crashed` — every member a `crash` action of the timeline stops (only an expectation's
//!   `members` may use it, so `members = "random:100"` on a crash can be checked with
//!   `detected`; [`Selector::resolve`] skips it, [`Selector::names_crashed`] tells).
//!
//! for example `"0..9,100,random:3"`. In TOML a selector is a string, or an integer for a
//! single member (`members = 7`). Resolving a selector yields sorted, distinct indices.

use std::fmt;

use rand::seq::SliceRandom;
use rand::RngCore;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A parsed selector; [`Selector::resolve`] turns it into member indices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    text: String,
    parts: Vec<Part>,
}

/// One comma-separated part of a [`Selector`].
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    One(u32),
    Range(u32, u32),
    Random(u32),
    /// A share of the ring, in percent of the member count.
    At(u32),
    /// A half-open share `[lo %, hi %)` of the ring.
    Share(u32, u32),
    Leader(String),
    Crashed,
}

/// Why a selector is invalid; the message is meant to follow the key that held it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The text is not a selector.
    #[error("invalid selector {text:?}: {why}")]
    Syntax {
        /// The selector as written.
        text: String,
        /// What is wrong with it.
        why: String,
    },
    /// It names a member index the scenario does not have.
    #[error("selector {text:?} names member {index}, but there are only {members} members (0..{last})", last = members.saturating_sub(1))]
    OutOfRange {
        /// The selector as written.
        text: String,
        /// The offending index.
        index: u32,
        /// How many members the scenario has.
        members: u32,
    },
}

/// ⌊p·n/100⌋.
fn share_index(p: u32, members: u32) -> u32 {
    u32::try_from(u64::from(p) * u64::from(members) / 100).unwrap_or(members)
}

impl Selector {
    /// Parses `text` (see the module documentation).
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let syntax = |why: String| SelectorError::Syntax {
            text: text.to_string(),
            why,
        };
        let mut parts = Vec::new();
        for raw in text.split(',') {
            let part = raw.trim();
            if part.is_empty() {
                return Err(syntax("empty part".into()));
            }
            let number = |s: &str| {
                s.trim()
                    .parse::<u32>()
                    .map_err(|_| syntax(format!("{s:?} is not a member index")))
            };
            let percent = |s: &str| {
                s.trim()
                    .strip_suffix('%')
                    .and_then(|v| v.trim().parse::<u32>().ok())
                    .filter(|&v| v <= 100)
                    .ok_or_else(|| syntax(format!("{s:?} is not a percentage from 0% to 100%")))
            };
            if part == "crashed" {
                parts.push(Part::Crashed);
            } else if let Some(group) = part.strip_prefix("leader:") {
                if group.trim().is_empty() {
                    return Err(syntax("leader: needs a service group".into()));
                }
                parts.push(Part::Leader(group.trim().to_string()));
            } else if let Some(count) = part.strip_prefix("random:") {
                parts.push(Part::Random(number(count)?));
            } else if let Some((lo, hi)) = part
                .split_once("..")
                .filter(|(lo, hi)| lo.trim().ends_with('%') || hi.trim().ends_with('%'))
            {
                let (lo, hi) = (percent(lo)?, percent(hi)?);
                if lo >= hi {
                    return Err(syntax(format!(
                        "share {part} is empty (shares are half-open: {lo}% up to but not including {hi}%)"
                    )));
                }
                parts.push(Part::Share(lo, hi));
            } else if part.ends_with('%') {
                parts.push(Part::At(percent(part)?));
            } else if let Some((lo, hi)) = part.split_once("..") {
                let (lo, hi) = (number(lo)?, number(hi)?);
                if lo > hi {
                    return Err(syntax(format!(
                        "range {part} is empty (ranges are inclusive)"
                    )));
                }
                parts.push(Part::Range(lo, hi));
            } else {
                parts.push(Part::One(number(part)?));
            }
        }
        Ok(Selector {
            text: text.to_string(),
            parts,
        })
    }

    /// The selector as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether it has a `crashed` part (resolved by the plan from the timeline's crashes).
    pub fn names_crashed(&self) -> bool {
        self.parts.contains(&Part::Crashed)
    }

    /// The service groups of its `leader:GROUP` parts, in order (resolved when an action runs).
    pub fn leaders(&self) -> Vec<&str> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Leader(g) => Some(g.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The sorted, distinct member indices among `members` that this selector names (its
    /// `leader:GROUP` parts excepted: see [`Selector::leaders`]). Random
    /// parts draw from `rng`, so resolve selectors in a fixed order for a reproducible run.
    pub fn resolve(&self, members: u32, rng: &mut impl RngCore) -> Result<Vec<u32>, SelectorError> {
        let out_of_range = |index| SelectorError::OutOfRange {
            text: self.text.clone(),
            index,
            members,
        };
        let mut chosen = vec![false; members as usize];
        let mut random = 0u32;
        for part in &self.parts {
            match *part {
                Part::Leader(_) | Part::Crashed => {}
                Part::One(i) => *chosen.get_mut(i as usize).ok_or_else(|| out_of_range(i))? = true,
                Part::Range(lo, hi) => {
                    if hi >= members {
                        return Err(out_of_range(hi));
                    }
                    chosen[lo as usize..=hi as usize].fill(true);
                }
                Part::Random(n) => random = random.saturating_add(n),
                Part::At(p) => {
                    if members == 0 {
                        return Err(out_of_range(0));
                    }
                    let i = share_index(p, members).min(members - 1);
                    chosen[i as usize] = true;
                }
                Part::Share(lo, hi) => {
                    let (lo, hi) = (share_index(lo, members), share_index(hi, members));
                    chosen[lo as usize..hi as usize].fill(true);
                }
            }
        }
        if random > 0 {
            let mut rest: Vec<u32> = (0..members).filter(|&i| !chosen[i as usize]).collect();
            if random as usize > rest.len() {
                return Err(SelectorError::Syntax {
                    text: self.text.clone(),
                    why: format!("cannot draw {random} more members out of {}", rest.len()),
                });
            }
            let (drawn, _) = rest.partial_shuffle(rng, random as usize);
            for &i in drawn.iter() {
                chosen[i as usize] = true;
            }
        }
        Ok((0..members).filter(|&i| chosen[i as usize]).collect())
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Selector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SelectorVisitor;
        impl Visitor<'_> for SelectorVisitor {
            type Value = Selector;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member selector such as \"7\", \"0..99\", \"0,100\" or \"random:5\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Selector, E> {
                Selector::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Selector, E> {
                if v < 0 {
                    return Err(E::custom(format!("member index {v} is negative")));
                }
                Selector::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Selector, E> {
                Selector::parse(&v.to_string()).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(SelectorVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn resolve(text: &str, members: u32) -> Result<Vec<u32>, SelectorError> {
        Selector::parse(text)?.resolve(members, &mut ChaCha20Rng::seed_from_u64(1))
    }

    #[test]
    fn shares_of_the_ring_scale_with_its_size() {
        assert_eq!(resolve("0%..30%", 10).expect("valid"), vec![0, 1, 2]);
        assert_eq!(resolve("30%..100%", 10).expect("valid").len(), 7);
        let big = resolve("0%..30%", 10_000).expect("valid");
        assert_eq!(
            (big.len(), big.first(), big.last()),
            (3000, Some(&0), Some(&2999))
        );
        assert_eq!(resolve("30%,100%", 1000).expect("valid"), vec![300, 999]);
        assert_eq!(resolve("0%..30%,30%..100%", 7).expect("valid").len(), 7);
        for bad in ["30%..30%", "40%..30%", "101%", "x%", "0%..200%", "-1%"] {
            assert!(Selector::parse(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn single_range_and_list() {
        assert_eq!(resolve("7", 10).expect("valid"), vec![7]);
        assert_eq!(resolve("0..3", 10).expect("valid"), vec![0, 1, 2, 3]);
        assert_eq!(resolve("0,5", 10).expect("valid"), vec![0, 5]);
        assert_eq!(resolve(" 8 , 1..2,1", 10).expect("valid"), vec![1, 2, 8]);
        assert_eq!(resolve("4..4", 10).expect("valid"), vec![4]);
    }

    #[test]
    fn random_draws_distinct_members_reproducibly() {
        let a = resolve("random:5", 100).expect("valid");
        assert_eq!(a.len(), 5);
        assert_eq!(a, resolve("random:5", 100).expect("valid"));
        let b = resolve("0..94,random:5", 100).expect("valid");
        assert_eq!(b, (0..100).collect::<Vec<_>>());
        let other = Selector::parse("random:5")
            .expect("valid")
            .resolve(100, &mut ChaCha20Rng::seed_from_u64(2))
            .expect("valid");
        assert_ne!(a, other);
    }

    #[test]
    fn rejects_bad_text() {
        for bad in [
            "", "a", "1..", "..3", "5..2", "1,,2", "random:x", "-1", "1.5",
        ] {
            assert!(
                matches!(Selector::parse(bad), Err(SelectorError::Syntax { .. })),
                "{bad:?} should not parse"
            );
        }
    }

    #[test]
    fn leader_parts_are_listed_and_not_resolved() {
        let s = Selector::parse("leader:redis.default, 3").expect("valid");
        assert_eq!(s.leaders(), vec!["redis.default"]);
        assert_eq!(
            s.resolve(10, &mut ChaCha20Rng::seed_from_u64(1))
                .expect("valid"),
            vec![3]
        );
        assert!(Selector::parse("leader:").is_err());
        assert!(Selector::parse("7").expect("valid").leaders().is_empty());
    }

    #[test]
    fn rejects_out_of_range() {
        assert!(matches!(
            resolve("10", 10),
            Err(SelectorError::OutOfRange { index: 10, .. })
        ));
        assert!(matches!(
            resolve("0..199", 100),
            Err(SelectorError::OutOfRange { index: 199, .. })
        ));
        assert!(matches!(
            resolve("random:11", 10),
            Err(SelectorError::Syntax { .. })
        ));
        let message = resolve("0..199", 100)
            .expect_err("out of range")
            .to_string();
        assert!(
            message.contains("199") && message.contains("100 members"),
            "{message}"
        );
    }

    #[test]
    fn deserializes_from_string_or_integer() {
        #[derive(Deserialize)]
        struct T {
            s: Selector,
        }
        let t: T = toml::from_str("s = 7").expect("integer");
        assert_eq!(t.s.as_str(), "7");
        let t: T = toml::from_str("s = \"0..9\"").expect("string");
        assert_eq!(t.s.as_str(), "0..9");
        assert!(toml::from_str::<T>("s = \"x\"").is_err());
        assert!(toml::from_str::<T>("s = -3").is_err());
    }
}
