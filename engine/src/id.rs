//! Identities: [`MemberId`] and [`Incarnation`].

use std::fmt;
use std::str::FromStr;

/// A member's identity: 128 random bits, shown as 32 lowercase hex digits (a UUID v4 in
/// "simple" form, as Butterfly prints it).
///
/// Held as two 64-bit halves (high first, so the derived order is the 128-bit number's) rather
/// than a `u128`: that keeps the id's alignment at 8, so the records and queue entries that
/// carry one are not padded to 16 — an engine in the simulator holds thousands.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemberId {
    hi: u64,
    lo: u64,
}

impl MemberId {
    /// The id whose 128 bits are `bits`.
    pub const fn from_u128(bits: u128) -> Self {
        MemberId {
            hi: (bits >> 64) as u64,
            lo: bits as u64,
        }
    }

    /// The 128 bits of the id.
    pub const fn as_u128(self) -> u128 {
        ((self.hi as u128) << 64) | self.lo as u128
    }

    /// The id whose high and low 64 bits are `hi` and `lo` (a summary's two words).
    pub const fn from_words(hi: u64, lo: u64) -> Self {
        MemberId { hi, lo }
    }

    /// The high and low 64 bits.
    pub const fn words(self) -> (u64, u64) {
        (self.hi, self.lo)
    }

    /// A random version-4 UUID from `rng`.
    pub fn random<R: rand::RngCore + ?Sized>(rng: &mut R) -> Self {
        let mut b = [0u8; 16];
        rng.fill_bytes(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40; // version 4
        b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
        MemberId::from_u128(u128::from_be_bytes(b))
    }
}

impl MemberId {
    /// The 32 lowercase hex digits, without the formatting machinery (this runs for every
    /// member of every full membership exchange).
    pub fn to_hex(self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [0u8; 32];
        for (pair, byte) in buf.chunks_exact_mut(2).zip(self.as_u128().to_be_bytes()) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0xf)];
        }
        // Hex digits are ASCII, so this never falls back.
        std::str::from_utf8(&buf).unwrap_or_default().to_owned()
    }
}

/// Each byte's value as a hex digit, or `INVALID`.
const INVALID: u8 = 0xff;
const HEX_VALUE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// 16 hex digits as a number, or `None` if any is not one.
fn hex_u64(digits: &[u8]) -> Option<u64> {
    let mut value = 0u64;
    let mut seen = 0u8;
    for &b in digits {
        let d = HEX_VALUE[usize::from(b)];
        seen |= d;
        value = (value << 4) | u64::from(d & 0xf);
    }
    (seen & 0xf0 == 0).then_some(value)
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MemberId({:032x})", self.as_u128())
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
        if let Some((hi, lo)) = s.as_bytes().split_at_checked(16).filter(|_| s.len() == 32) {
            let (hi, lo) = hex_u64(hi).zip(hex_u64(lo)).ok_or_else(err)?;
            return Ok(MemberId { hi, lo });
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
        Ok(MemberId::from_u128(bits))
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
    fn hex_agrees_with_the_formatter_and_every_bad_digit_is_refused() {
        use rand::Rng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        for bits in [0, u128::MAX, 1 << 64, (1 << 64) - 1]
            .into_iter()
            .chain((0..200).map(|_| rng.gen::<u128>()))
        {
            let id = MemberId::from_u128(bits);
            assert_eq!(id.to_hex(), format!("{bits:032x}"));
            assert_eq!(format!("{bits:032X}").parse::<MemberId>(), Ok(id));
        }
        let good = "0123456789abcdef0123456789ABCDEF";
        assert!(good.parse::<MemberId>().is_ok());
        for at in 0..32 {
            for bad in ["g", "G", "/", ":", "@", "`", " ", "-"] {
                let s = format!("{}{bad}{}", &good[..at], &good[at + 1..]);
                assert!(s.parse::<MemberId>().is_err(), "{s}");
            }
        }
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
