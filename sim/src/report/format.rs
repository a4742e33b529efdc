//! Numbers as a person reads them: `20k` rather than `20000.0`, `2 min` rather than `120`,
//! `1.4 kB` rather than `1434`. Used by the plots' axis ticks and the pages' text.

/// A count or rate with an SI suffix and at most three significant digits: `0`, `0.25`,
/// `12.5`, `20k`, `1.5M`.
pub fn si(v: f64) -> String {
    if !v.is_finite() {
        return "–".to_string();
    }
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    format!("{}{suffix}", trim(scaled))
}

/// Bytes with a unit: `512 B`, `1.4 kB`, `3.2 MB`.
pub fn bytes(v: f64) -> String {
    if !v.is_finite() {
        return "–".to_string();
    }
    let text = si(v);
    match text.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => format!("{} {c}B", &text[..text.len() - 1]),
        _ => format!("{text} B"),
    }
}

/// A duration in seconds for prose: `850 ms`, `3.2 s`, `2 min 5 s`, `1 h 2 min`.
pub fn seconds(s: f64) -> String {
    if !s.is_finite() {
        return "–".to_string();
    }
    if s < 1.0 && s > 0.0 {
        return format!("{:.0} ms", s * 1000.0);
    }
    if s < 60.0 {
        return format!("{} s", trim(s));
    }
    let total = s.round() as u64;
    if total < 3600 {
        let (m, r) = (total / 60, total % 60);
        return if r == 0 {
            format!("{m} min")
        } else {
            format!("{m} min {r} s")
        };
    }
    let (h, m) = (total / 3600, (total % 3600) / 60);
    if m == 0 {
        format!("{h} h")
    } else {
        format!("{h} h {m} min")
    }
}

/// An axis tick on a time axis spanning `span` seconds: seconds for spans up to 10 minutes
/// (`90 s`), minutes beyond (`2 min`, `2.5 min`).
pub fn time_tick(s: f64, span: f64) -> String {
    if span > 600.0 {
        format!("{} min", trim(s / 60.0))
    } else {
        format!("{} s", trim(s))
    }
}

/// A share in [0, 1] as a percentage: `100 %`, `99.7 %`, `0.05 %`.
pub fn percent(share: f64) -> String {
    if !share.is_finite() {
        return "–".to_string();
    }
    format!("{} %", trim(share * 100.0))
}

/// At most three significant digits (at least the integer part), no trailing zeros.
fn trim(v: f64) -> String {
    let a = v.abs();
    let decimals = if a == 0.0 || a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else if a >= 0.01 {
        3
    } else {
        5
    };
    let mut text = format!("{v:.decimals$}");
    if text.contains('.') {
        text = text.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    if text == "-0" {
        text = "0".to_string();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_read_as_a_person_writes_them() {
        assert_eq!(si(20000.0), "20k");
        assert_eq!(si(1_500_000.0), "1.5M");
        assert_eq!(si(0.25), "0.25");
        assert_eq!(si(12.5), "12.5");
        assert_eq!(si(0.0), "0");
        assert_eq!(bytes(1434.0), "1.43 kB");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(seconds(3.2), "3.2 s");
        assert_eq!(seconds(125.0), "2 min 5 s");
        assert_eq!(seconds(0.85), "850 ms");
        assert_eq!(time_tick(120.0, 320.0), "120 s");
        assert_eq!(time_tick(150.0, 1200.0), "2.5 min");
        assert_eq!(percent(0.997), "99.7 %");
        assert_eq!(percent(1.0), "100 %");
    }
}
