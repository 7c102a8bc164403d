//! Situations the agent's tests share.

use promig_model::{HostRisk, HostShape, Observation, ObservationBuilder, VmShape};

/// Three empty-ish hosts; one VM on host 0, which is [`about_to_fail`]: the plainest case for a
/// move.
pub fn one_vm_on_a_failing_host() -> Observation {
    let mut b = ObservationBuilder::new();
    b.hosts(3, HostShape::default());
    b.vm(Some(0), VmShape::default());
    b.risk(0, about_to_fail());
    b.build()
}

/// A host's risk when it is about to fail: hardware risk 0.9, ten minutes left.
pub fn about_to_fail() -> HostRisk {
    HostRisk {
        probability: 0.9,
        hardware: 0.9,
        time_left_s: Some(600.0),
        ..HostRisk::default()
    }
}
