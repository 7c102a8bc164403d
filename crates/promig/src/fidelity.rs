//! `promig fidelity`: CloudSim 3.0.3's published PlanetLab figures, re-run and compared.

use anyhow::Result;
use promig_eval::fidelity::compare;
use std::path::Path;

/// Prints the comparison; fails when a row is out of tolerance.
pub fn run(data: &Path, json: bool) -> Result<()> {
    let rows = compare(data)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!(
            "{:<9} {:<16} {:>17} {:>17} {:>15} {:>11} {:>17}  ok",
            "day", "policy", "energy kWh", "migrations", "SLATAH %", "PDM %", "SLAV %"
        );
        for r in &rows {
            let f = &r.reference;
            println!(
                "{:<9} {:<16} {:>8.2} ({:>6.2}) {:>8} ({:>6}) {:>6.2} ({:>5.2}) {:>4.2} ({:>4.2}) {:>7.5} ({:>7.5})  {}",
                f.day,
                f.policy,
                r.energy_kwh,
                f.energy_kwh,
                r.migrations,
                f.migrations,
                r.slatah_pct,
                f.slatah_pct,
                r.pdm_pct,
                f.pdm_pct,
                r.slav_pct,
                f.slav_pct,
                if r.ok { "yes" } else { "NO" }
            );
        }
        println!(
            "(promig first, CloudSim 3.0.3 in brackets; tolerances: energy 1 %, migrations 4 %, SLATAH 6 %, PDM 0.01 points, SLAV 8 %)"
        );
    }
    let bad = rows.iter().filter(|r| !r.ok).count();
    if bad > 0 {
        anyhow::bail!("{bad} of {} rows outside tolerance", rows.len());
    }
    Ok(())
}
