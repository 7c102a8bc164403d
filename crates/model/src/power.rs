//! Host power as a function of CPU load, in the SPECpower style CloudSim uses.

use serde::{Deserialize, Serialize};

/// Power draw (W) measured at 0 %, 10 %, ..., 100 % CPU load, linearly interpolated in between.
///
/// SPECpower_ssj2008 publishes exactly these 11 points per server, which is why both CloudSim and we
/// use them instead of a fitted formula.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerCurve {
    /// Watts at 0, 10, ..., 100 % load.
    pub watts: [f64; 11],
}

impl PowerCurve {
    /// HP ProLiant ML110 G4 (Xeon 3040, 2 x 1,860 MHz), one of CloudSim's two PlanetLab host types.
    pub const HP_ML110_G4: PowerCurve = PowerCurve {
        watts: [
            86.0, 89.4, 92.6, 96.0, 99.5, 102.0, 106.0, 108.0, 112.0, 114.0, 117.0,
        ],
    };
    /// HP ProLiant ML110 G5 (Xeon 3075, 2 x 2,660 MHz), CloudSim's other PlanetLab host type.
    pub const HP_ML110_G5: PowerCurve = PowerCurve {
        watts: [
            93.7, 97.0, 101.0, 105.0, 110.0, 116.0, 121.0, 125.0, 129.0, 133.0, 135.0,
        ],
    };

    /// Power at a load in [0, 1]; loads outside are clamped (an overloaded host draws its maximum).
    #[inline] // called for every (VM, candidate host) pair by power-aware placement
    pub fn watts_at(&self, utilization: f64) -> f64 {
        let u = utilization.clamp(0.0, 1.0);
        // The ends directly: idle hosts are common, and placement caps candidates at full load
        // (CloudSim's formula gives the same: 1.0 % 0.1 != 0, and its interpolation adds 0).
        if u == 0.0 {
            return self.watts[0];
        }
        if u == 1.0 {
            return self.watts[10];
        }
        // CloudSim returns the table value when `u % 0.1 == 0`; the remainder is only worth
        // computing (it is slow) when u is within rounding of a multiple of 0.1.
        // Casts and compares instead of floor/ceil/round: without SSE4.1 in the baseline target
        // those are libm calls, and this runs for every host at every event (same results: u >= 0).
        let tenths = u * 10.0;
        let lo = tenths as usize;
        let frac = tenths - lo as f64;
        if !(1e-9..=1.0 - 1e-9).contains(&frac)
            && (is_multiple_of_tenth(u, lo) || is_multiple_of_tenth(u, lo + 1))
        {
            return self.watts[tenths as usize];
        }
        let hi = if frac == 0.0 { lo } else { lo + 1 };
        let delta = (self.watts[hi] - self.watts[lo]) / 10.0;
        self.watts[lo] + delta * (u - lo as f64 / 10.0) * 100.0
    }

    /// Peak draw, used by the non-power-aware baseline that keeps every host at full power.
    pub fn max_watts(&self) -> f64 {
        self.watts[10]
    }
}

/// The double nearest 0.1 split into a high part of 26 significant bits and the exact rest, so
/// `k * TENTH_HI` and `k * TENTH_LO` are exact for small integers k.
const TENTH_HI: f64 = f64::from_bits(0.1f64.to_bits() & !((1u64 << 27) - 1));
const TENTH_LO: f64 = 0.1 - TENTH_HI;

/// Whether `u` is exactly `k` times the double nearest 0.1, i.e. CloudSim's `u % 0.1 == 0` for
/// that k, without `fmod` (a slow software loop, called for every host at every event). Exact:
/// `u - k * TENTH_HI` has no rounding error (Sterbenz: both are within a factor of 2 for k >= 1)
/// and neither has `k * TENTH_LO`, so equality holds exactly when u = k x 0.1 in real arithmetic.
fn is_multiple_of_tenth(u: f64, k: usize) -> bool {
    if k == 0 || k > 10 {
        return false;
    }
    let k = k as f64;
    u - k * TENTH_HI == k * TENTH_LO
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_multiple_test_agrees_with_fmod() {
        let mut xs = Vec::new();
        for k in 1..=10u32 {
            let exact = f64::from(k) * 0.1;
            let mut x = exact;
            let mut y = exact;
            for _ in 0..4 {
                xs.push(x);
                xs.push(y);
                x = x.next_up();
                y = y.next_down();
            }
            xs.push(f64::from(k) / 10.0);
        }
        let mut z: u64 = 12345;
        for _ in 0..10_000 {
            z = z
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            xs.push((z >> 11) as f64 / (1u64 << 53) as f64);
        }
        for u in xs {
            let lo = (u * 10.0) as usize;
            let ours = is_multiple_of_tenth(u, lo) || is_multiple_of_tenth(u, lo + 1);
            assert_eq!(ours, u > 0.0 && u % 0.1 == 0.0, "{u:e}");
        }
    }

    #[test]
    fn interpolates_between_points() {
        let c = PowerCurve::HP_ML110_G4;
        assert_eq!(c.watts_at(0.0), 86.0);
        assert_eq!(c.watts_at(1.0), 117.0);
        assert!((c.watts_at(0.05) - 87.7).abs() < 1e-9);
        assert!((c.watts_at(0.95) - 115.5).abs() < 1e-9);
    }

    #[test]
    fn clamps_out_of_range() {
        let c = PowerCurve::HP_ML110_G5;
        assert_eq!(c.watts_at(1.5), 135.0);
        assert_eq!(c.watts_at(-0.1), 93.7);
    }
}
