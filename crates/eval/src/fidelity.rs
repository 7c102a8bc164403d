//! CloudSim 3.0.3's published PlanetLab figures, and the comparison of promig's CloudSim mode with
//! them. Kept in the library so the test suite and the CLI check the same thing.

use crate::EvalError;
use promig_sim::{SimConfig, cloudsim};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;

/// One row of CloudSim's table as measured with CloudSim 3.0.3.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Reference {
    /// PlanetLab day folder.
    pub day: &'static str,
    /// promig policy name.
    pub policy: &'static str,
    /// Energy (kWh).
    pub energy_kwh: f64,
    /// Migrations.
    pub migrations: f64,
    /// SLATAH (%).
    pub slatah_pct: f64,
    /// PDM (%).
    pub pdm_pct: f64,
    /// SLAV (%).
    pub slav_pct: f64,
}

/// CloudSim 3.0.3 on this kind of machine (from the project's issue tracker).
pub const REFERENCE: [Reference; 12] = [
    r("20110303", "non-power-aware", 2410.80, 0.0, 0.0, 0.0, 0.0),
    r("20110303", "dvfs", 764.96, 0.0, 0.0, 0.0, 0.0),
    r(
        "20110303",
        "thr-mmt-0.8",
        198.08,
        27728.0,
        5.00,
        0.07,
        0.00357,
    ),
    r(
        "20110303",
        "iqr-mmt-1.5",
        193.63,
        27592.0,
        5.02,
        0.07,
        0.00342,
    ),
    r(
        "20110303",
        "mad-mmt-2.5",
        189.79,
        27781.0,
        5.09,
        0.07,
        0.00357,
    ),
    r(
        "20110303",
        "lr-mmt-1.2",
        167.83,
        27649.0,
        5.72,
        0.08,
        0.00432,
    ),
    r(
        "20110303",
        "lr-mc-1.2",
        153.87,
        23351.0,
        7.02,
        0.10,
        0.00703,
    ),
    r(
        "20110306",
        "lr-mmt-1.2",
        127.98,
        21661.0,
        5.99,
        0.08,
        0.00497,
    ),
    r(
        "20110309",
        "lr-mmt-1.2",
        139.40,
        24239.0,
        6.31,
        0.08,
        0.00527,
    ),
    r(
        "20110322",
        "lr-mmt-1.2",
        172.88,
        31376.0,
        6.34,
        0.07,
        0.00473,
    ),
    r(
        "20110325",
        "lr-mmt-1.2",
        149.83,
        26320.0,
        5.76,
        0.08,
        0.00442,
    ),
    r(
        "20110306",
        "thr-mmt-0.8",
        150.70,
        21575.0,
        5.21,
        0.08,
        0.00398,
    ),
];

const fn r(
    day: &'static str,
    policy: &'static str,
    e: f64,
    m: f64,
    s: f64,
    p: f64,
    v: f64,
) -> Reference {
    Reference {
        day,
        policy,
        energy_kwh: e,
        migrations: m,
        slatah_pct: s,
        pdm_pct: p,
        slav_pct: v,
    }
}

/// What the README claims, row by row, and the test asserts: relative deviation from CloudSim's
/// published figure at most this much.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Tolerance {
    /// Energy, relative.
    pub energy: f64,
    /// Migration count, relative.
    pub migrations: f64,
    /// SLATAH, relative.
    pub slatah: f64,
    /// PDM, absolute in percentage points (CloudSim prints it with two decimals).
    pub pdm_points: f64,
    /// SLAV, relative.
    pub slav: f64,
}

/// The README's figures: energy within 1 %, migrations within 4 %, SLATAH within 6 %, PDM within
/// 0.01 points, SLAV within 8 %, on every row.
pub const TOLERANCE: Tolerance = Tolerance {
    energy: 0.01,
    migrations: 0.04,
    slatah: 0.06,
    pdm_points: 0.01,
    slav: 0.08,
};

/// One compared row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The reference.
    pub reference: Reference,
    /// promig's figures.
    pub energy_kwh: f64,
    /// promig's migrations.
    pub migrations: u64,
    /// promig's SLATAH.
    pub slatah_pct: f64,
    /// promig's PDM.
    pub pdm_pct: f64,
    /// promig's SLAV.
    pub slav_pct: f64,
    /// Within every tolerance of [`TOLERANCE`].
    pub ok: bool,
}

impl Row {
    /// One line comparing this row with CloudSim's, for failure messages and logs.
    pub fn summary(&self) -> String {
        let f = &self.reference;
        format!(
            "{} {}: energy {:.2} vs {:.2} kWh, migrations {} vs {}, SLATAH {:.2} vs {:.2} %, PDM {:.3} vs {:.2} %, SLAV {:.5} vs {:.5} % (tolerances {:?})",
            f.day,
            f.policy,
            self.energy_kwh,
            f.energy_kwh,
            self.migrations,
            f.migrations,
            self.slatah_pct,
            f.slatah_pct,
            self.pdm_pct,
            f.pdm_pct,
            self.slav_pct,
            f.slav_pct,
            TOLERANCE
        )
    }
}

fn rel(ours: f64, theirs: f64) -> f64 {
    if theirs == 0.0 {
        ours.abs()
    } else {
        (ours - theirs).abs() / theirs
    }
}

/// Runs every reference row.
pub fn compare(data: &Path) -> Result<Vec<Row>, EvalError> {
    let mut worlds = std::collections::BTreeMap::new();
    let mut rows = Vec::new();
    for reference in REFERENCE {
        let world = match worlds.get(reference.day) {
            Some(w) => Arc::clone(w),
            None => {
                let dir = data.join(reference.day);
                let w = Arc::new(cloudsim::planetlab_world(&dir, cloudsim::HOSTS)?);
                worlds.insert(reference.day, Arc::clone(&w));
                w
            }
        };
        let rep = crate::run_named(
            &world,
            &SimConfig::cloudsim(0),
            reference.policy,
            &mut |_, _| {},
        )?;
        let t = TOLERANCE;
        let ok = rel(rep.energy_kwh, reference.energy_kwh) <= t.energy
            && rel(rep.migrations as f64, reference.migrations) <= t.migrations
            && rel(rep.slatah_pct, reference.slatah_pct) <= t.slatah
            && (rep.pdm_pct - reference.pdm_pct).abs() <= t.pdm_points
            && rel(rep.slav_pct, reference.slav_pct) <= t.slav;
        rows.push(Row {
            reference,
            energy_kwh: rep.energy_kwh,
            migrations: rep.migrations,
            slatah_pct: rep.slatah_pct,
            pdm_pct: rep.pdm_pct,
            slav_pct: rep.slav_pct,
            ok,
        });
    }
    Ok(rows)
}
