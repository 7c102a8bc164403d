//! Which VM leaves an overloaded host: minimum migration time (MMT), maximum correlation (MC) or
//! random selection (RS), as in Beloglazov & Buyya (2012).

use crate::work::HostWork;
use promig_model::observation::Observation;
use promig_model::stats;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// VM selection rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmSelection {
    /// Smallest memory first: it migrates fastest.
    Mmt,
    /// The VM whose load is best explained by the others' (highest R^2): moving it removes the most
    /// correlated, hence most likely simultaneous, demand.
    Mc,
    /// Uniformly random (seeded).
    Rs,
}

impl VmSelection {
    /// Parses `mmt`, `mc`, `rs`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "mmt" => VmSelection::Mmt,
            "mc" => VmSelection::Mc,
            "rs" => VmSelection::Rs,
            _ => return None,
        })
    }

    /// Label for reports.
    pub fn label(&self) -> &'static str {
        match self {
            VmSelection::Mmt => "mmt",
            VmSelection::Mc => "mc",
            VmSelection::Rs => "rs",
        }
    }

    /// Picks a VM to move off the host, or `None` if every VM is already migrating.
    pub fn pick(&self, obs: &Observation, w: &HostWork, rng: &mut ChaCha8Rng) -> Option<usize> {
        let migratable = || w.vms.iter().copied().filter(|&v| !obs.vms[v].in_migration);
        match self {
            VmSelection::Mmt => min_memory(obs, migratable()),
            VmSelection::Rs => {
                let n = migratable().count();
                if n == 0 {
                    return None;
                }
                migratable().nth(rng.random_range(0..n))
            }
            VmSelection::Mc => {
                let vms: Vec<usize> = migratable().collect();
                if vms.is_empty() {
                    return None;
                }
                match max_correlation(obs, &vms) {
                    Some(i) => Some(vms[i]),
                    None => min_memory(obs, vms.iter().copied()),
                }
            }
        }
    }
}

fn min_memory(obs: &Observation, vms: impl Iterator<Item = usize>) -> Option<usize> {
    let mut best: Option<(f64, usize)> = None;
    for v in vms {
        let m = obs.vms[v].memory_mib;
        if best.is_none_or(|(bm, _)| m < bm) {
            best = Some((m, v));
        }
    }
    best.map(|(_, v)| v)
}

/// Index of the VM with the highest R^2 against the others over their common history, or `None`
/// when the regression is impossible (too little history for the number of VMs, or singular).
fn max_correlation(obs: &Observation, vms: &[usize]) -> Option<usize> {
    let m = vms.iter().map(|&v| obs.vms[v].history_len).min()?;
    if m == 0 {
        return None;
    }
    let rows: Vec<&[f64]> = vms.iter().map(|&v| &obs.vms[v].history[..m]).collect();
    let mut best = (f64::MIN_POSITIVE, 0usize);
    for i in 0..rows.len() {
        let others: Vec<&[f64]> = rows
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, r)| *r)
            .collect();
        let r2 = stats::r_squared(rows[i], &others)?;
        if r2 > best.0 {
            best = (r2, i);
        }
    }
    Some(best.1)
}
