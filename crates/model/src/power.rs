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
    pub fn watts_at(&self, utilization: f64) -> f64 {
        let u = utilization.clamp(0.0, 1.0);
        // CloudSim returns the table value when `u % 0.1 == 0`; the remainder is only worth
        // computing (it is slow) when u is within rounding of a multiple of 0.1.
        let tenths = u * 10.0;
        if (tenths - tenths.round()).abs() < 1e-9 && u % 0.1 == 0.0 {
            return self.watts[tenths as usize];
        }
        let lo = (u * 10.0).floor() as usize;
        let hi = (u * 10.0).ceil() as usize;
        let delta = (self.watts[hi] - self.watts[lo]) / 10.0;
        self.watts[lo] + delta * (u - lo as f64 / 10.0) * 100.0
    }

    /// Peak draw, used by the non-power-aware baseline that keeps every host at full power.
    pub fn max_watts(&self) -> f64 {
        self.watts[10]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
