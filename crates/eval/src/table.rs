//! The comparison table `promig simulate` prints: reports side by side, one row per policy.

use promig_sim::{Mode, Report};

/// Prints reports side by side, one row per run.
pub fn table(reports: &[Report]) -> String {
    let mut out = String::new();
    // The policy column fits the longest name (`proactive-planned-2`), at least 18 wide.
    let w = reports
        .iter()
        .map(|r| r.policy.len())
        .max()
        .unwrap_or(0)
        .max(18);
    let nfv = reports.iter().any(|r| r.mode == Mode::Nfv);
    if nfv {
        out.push_str(&format!(
            "{:<w$} {:>9} {:>6} {:>9} {:>10} {:>6} {:>9} {:>10} {:>7} {:>7} {:>8} {:>9}\n",
            "policy",
            "energy",
            "migr",
            "mig GiB",
            "downtime",
            "outag",
            "loss",
            "QoS viol",
            "SLATAH",
            "PDM",
            "crashed",
            "evacuated"
        ));
        out.push_str(&format!(
            "{:<w$} {:>9} {:>6} {:>9} {:>10} {:>6} {:>9} {:>10} {:>7} {:>7} {:>8} {:>9}\n",
            "", "kWh", "", "", "s", "", "%", "s", "%", "%", "VMs", "failures"
        ));
        for r in reports {
            out.push_str(&format!(
                "{:<w$} {:>9.2} {:>6} {:>9.1} {:>10.1} {:>6} {:>9.5} {:>10.0} {:>7.2} {:>7.3} {:>8} {:>6}/{:<2}\n",
                r.policy,
                r.energy_kwh,
                r.migrations,
                r.migration_traffic_gib,
                r.downtime_s,
                r.interruptions,
                r.loss_rate * 100.0,
                r.qos_violation_s,
                r.slatah_pct,
                r.pdm_pct,
                r.vms_crashed,
                r.failures_evacuated,
                r.failures_struck
            ));
        }
    } else {
        out.push_str(&format!(
            "{:<22} {:>11} {:>10} {:>9} {:>7} {:>9}\n",
            "policy", "energy kWh", "migrations", "SLATAH %", "PDM %", "SLAV %"
        ));
        for r in reports {
            out.push_str(&format!(
                "{:<22} {:>11.2} {:>10} {:>9.2} {:>7.2} {:>9.5}\n",
                r.policy, r.energy_kwh, r.migrations, r.slatah_pct, r.pdm_pct, r.slav_pct
            ));
        }
    }
    out
}
