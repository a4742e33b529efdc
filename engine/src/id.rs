//! Identities: [`MemberId`] and [`Incarnation`].

use std::fmt;
use std::str::FromStr;

/// A member's identity: 128 random bits, shown as 32 lowercase hex digits (a UUID v4 in
/// "simple" form, as Butterfly prints it).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemberId(u128);

impl MemberId {
    /// The id whose 128 bits are `bits`.
    pub const fn from_u128(bits: u128) -> Self {
        MemberId(bits)
    }

    /// The 128 bits of the id.
    pub const fn as_u128(self) -> u128 {
        self.0
    }

    /// A random version-4 UUID from `rng`.
    pub fn random<R: rand::RngCore + ?Sized>(rng: &mut R) -> Self {
        let mut b = [0u8; 16];
        rng.fill_bytes(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40; // version 4
        b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
        MemberId(u128::from_be_bytes(b))
    }
}

impl MemberId {
    /// The 32 lowercase hex digits, without the formatting machinery (this runs for every
    /// member of every full membership exchange).
    pub fn to_hex(self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(32);
        for shift in (0..32).rev() {
            let nibble = ((self.0 >> (shift * 4)) & 0xf) as usize;
            out.push(char::from(DIGITS[nibble]));
        }
        out
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MemberId({:032x})", self.0)
    }
}

/// Why a string is not a member id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("member id must be 32 hex digits (a UUID, hyphens allowed), got {0:?}")]
pub struct ParseMemberIdError(pub String);

impl FromStr for MemberId {
    type Err = ParseMemberIdError;
    /// Accepts 32 hex digits, upper or lower case, with or without UUID hyphens.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseMemberIdError(s.chars().take(80).collect());
        // Fast path: exactly 32 hex digits, the wire's form.
        if s.len() == 32 {
            let mut bits: u128 = 0;
            for b in s.bytes() {
                let d = match b {
                    b'0'..=b'9' => b - b'0',
                    b'a'..=b'f' => b - b'a' + 10,
                    b'A'..=b'F' => b - b'A' + 10,
                    _ => return Err(err()),
                };
                bits = (bits << 4) | u128::from(d);
            }
            return Ok(MemberId(bits));
        }
        let mut bits: u128 = 0;
        let mut digits = 0;
        for c in s.chars() {
            if c == '-' {
                continue;
            }
            let d = c.to_digit(16).ok_or_else(err)?;
            digits += 1;
            if digits > 32 {
                return Err(err());
            }
            bits = (bits << 4) | u128::from(d);
        }
        if digits != 32 {
            return Err(err());
        }
        Ok(MemberId(bits))
    }
}

/// A member's incarnation number: only the member itself raises it (to refute a suspicion,
/// to depart, or after a restart).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Incarnation(pub u64);

impl Incarnation {
    /// The next incarnation (saturating).
    pub fn next(self) -> Self {
        Incarnation(self.0.saturating_add(1))
    }
}

impl fmt::Display for Incarnation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn display_parse_round_trip() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let id = MemberId::random(&mut rng);
        let s = id.to_string();
        assert_eq!(s.len(), 32);
        assert!(s
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(s.parse::<MemberId>(), Ok(id));
        assert_eq!(s.as_bytes()[12], b'4', "UUID version 4");
    }

    #[test]
    fn parse_accepts_hyphens_and_rejects_garbage() {
        let id: MemberId = "01234567-89AB-cdef-0123-456789abcdef"
            .parse()
            .expect("hyphenated");
        assert_eq!(id.to_string(), "0123456789abcdef0123456789abcdef");
        assert!("xyz".parse::<MemberId>().is_err());
        assert!("0".repeat(33).parse::<MemberId>().is_err());
        assert!("0".repeat(31).parse::<MemberId>().is_err());
        assert!("é".repeat(32).parse::<MemberId>().is_err());
    }
}
