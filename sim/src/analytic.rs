//! What SWIM's analysis (Das, Gupta, Motivala 2002, §3.1 and §4.1) predicts, for overlays on
//! the plots and the comparison in `reports/README.md`.
//!
//! - **First detection.** With `n` members of which a fraction `q_f` is non-faulty, each
//!   picking one probe target per protocol period `T`, the chance that a given failed member
//!   is picked by somebody in a period is `1 − (1 − 1/(n−1))^(q_f·n) → 1 − e^(−q_f)`, so the
//!   expected number of periods until its first detection is `1 / (1 − e^(−q_f))` (≈ 1.582 with
//!   one failure): [`swim_first_detection_periods`]. That model counts synchronous rounds that
//!   all start at the failure. Our members' periods are not in phase: probes of the failed
//!   member then arrive at rate ≈ 1/T, the first one after ≈ T·(n−1)/n on average (round-robin:
//!   the minimum of `n − 1` uniform picks over one round of `n − 1` periods), and the probe
//!   declares Suspect `ping_timeout + pingreq_timeout` after it starts:
//!   [`first_suspect_mean_s`] and [`first_suspect_median_s`].
//! - **False detection.** A probe of a live member fails when the direct ping or its ack is
//!   lost, `1 − (1 − p)²`, and each of the `k` indirect paths (PingReq, ping, ack, relayed ack)
//!   fails, `1 − q_f·(1 − p)⁴` each: [`false_suspicion_per_probe`].
//! - **Spread.** Infection-style dissemination follows the logistic epidemic (Bailey): with
//!   `β` contacts per round, the infected fraction after `t` rounds is
//!   `1 / (1 + (n − 1)·e^(−β·t))`: [`infected_fraction`].

/// Expected protocol periods from a failure to its first detection by some member, when a
/// fraction `q_f` of the members is non-faulty (SWIM §3.1): `1 / (1 − e^(−q_f))`.
pub fn swim_first_detection_periods(q_f: f64) -> f64 {
    1.0 / (1.0 - (-q_f).exp())
}

/// The same for a finite ring of `n` members with one failure and random target choice:
/// `1 / (1 − (1 − 1/(n−1))^(n−1))`.
pub fn first_detection_periods(n: u32) -> f64 {
    if n < 2 {
        return f64::INFINITY;
    }
    let m = f64::from(n - 1);
    1.0 / (1.0 - (1.0 - 1.0 / m).powf(m))
}

/// Mean seconds from a crash to the first Suspect in a ring of `n` members whose probe
/// periods (`period_s`) are out of phase, with round-robin targets: `T·(n−1)/n` until the
/// first probe of the crashed member starts, then the probe's `timeouts_s`
/// (`ping_timeout + pingreq_timeout`).
pub fn first_suspect_mean_s(n: u32, period_s: f64, timeouts_s: f64) -> f64 {
    if n < 2 {
        return f64::INFINITY;
    }
    let m = f64::from(n - 1);
    period_s * m / (m + 1.0) + timeouts_s
}

/// Median of the same: the first of `n − 1` uniform picks over `(n−1)·T` is below `x` with
/// probability `1 − (1 − x/((n−1)T))^(n−1)`.
pub fn first_suspect_median_s(n: u32, period_s: f64, timeouts_s: f64) -> f64 {
    if n < 2 {
        return f64::INFINITY;
    }
    let m = f64::from(n - 1);
    m * period_s * (1.0 - 0.5f64.powf(1.0 / m)) + timeouts_s
}

/// Probability that one probe of a live member ends in Suspect, with message loss
/// probability `loss` on every datagram, `k` PingReq helpers, all non-faulty (SWIM §3.1 with
/// `q_f = 1`): `(1 − (1−p)²) · (1 − (1−p)⁴)^k`.
pub fn false_suspicion_per_probe(loss: f64, k: u32) -> f64 {
    let ok = 1.0 - loss;
    (1.0 - ok * ok) * (1.0 - ok.powi(4)).powi(k as i32)
}

/// Share of `n` members infected `rounds` rounds after one member starts a rumor, with
/// `contacts` contacts per member per round (logistic epidemic).
pub fn infected_fraction_with(n: u32, rounds: f64, contacts: f64) -> f64 {
    if n < 2 {
        return 1.0;
    }
    let m = f64::from(n - 1);
    1.0 / (1.0 + m * (-contacts * rounds).exp())
}

/// [`infected_fraction_with`] for piggybacked membership updates: each member's ping and
/// its ack carry updates, two contacts per protocol period.
pub fn infected_fraction(n: u32, periods: f64) -> f64 {
    infected_fraction_with(n, periods, 2.0)
}

/// Rounds until the logistic epidemic has infected all but half a member:
/// `2·ln(n − 1) / contacts`.
pub fn rounds_to_all(n: u32, contacts: f64) -> f64 {
    if n < 2 {
        return 0.0;
    }
    2.0 * f64::from(n - 1).ln() / contacts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swim_numbers() {
        assert!((swim_first_detection_periods(1.0) - 1.582).abs() < 1e-3);
        assert!((first_detection_periods(10_000) - 1.582).abs() < 1e-3);
        assert!(first_detection_periods(5) > 1.4 && first_detection_periods(5) < 1.582);
        assert!((first_suspect_mean_s(101, 3.1, 3.1) - (3.1 * 100.0 / 101.0 + 3.1)).abs() < 1e-9);
        let median = first_suspect_median_s(10_000, 1.0, 0.0);
        assert!((median - std::f64::consts::LN_2).abs() < 1e-3);
    }

    #[test]
    fn false_suspicion() {
        assert_eq!(false_suspicion_per_probe(0.0, 3), 0.0);
        let p = false_suspicion_per_probe(0.1, 5);
        assert!((p - 0.19 * 0.3439f64.powi(5)).abs() < 1e-12);
        assert!(false_suspicion_per_probe(0.3, 5) < false_suspicion_per_probe(0.3, 1));
    }

    #[test]
    fn epidemic() {
        assert!((infected_fraction(101, 0.0) - 1.0 / 101.0).abs() < 1e-12);
        let t = rounds_to_all(1001, 2.0);
        assert!((infected_fraction(1001, t) - 1000.0 / 1001.0).abs() < 1e-9);
    }
}
