//! What the decide stage asks for. A decision carries everything the executor needs to act on it
//! without asking the policy again: the VM, the destination, and, when the policy chose them, the
//! technique and the time by which the move must be over (a predicted failure's time left).

use crate::Technique;
use crate::observation::{HostId, VmId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Names one decision across the loop, the journal and the API (assigned by whoever executes it:
/// the simulator numbers them in order, the controller in its journal).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct DecisionId(pub u64);

impl fmt::Display for DecisionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "decision#{}", self.0)
    }
}

/// One live migration a policy asks for.
///
/// Built with [`Decision::migrate`] and refined with the `with_*` methods, so fields can be added
/// (it is `#[non_exhaustive]`) without breaking every policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Decision {
    /// Identity; [`DecisionId::default`] until the executor numbers it.
    pub id: DecisionId,
    /// VM index in the observation.
    pub vm: usize,
    /// Destination host index in the observation.
    pub to: usize,
    /// Stable identity of the VM, when the policy knows it (the executor fills it otherwise).
    pub vm_id: Option<VmId>,
    /// Stable identity of the destination, as above.
    pub to_id: Option<HostId>,
    /// Technique to use; `None` leaves it to the executor: the controller's planner picks one
    /// (`migrate plan`'s rules), the simulator uses pre-copy, as Nova does unless post-copy or
    /// auto-converge is permitted.
    pub technique: Option<Technique>,
    /// Time (the observation's clock, seconds) by which the migration must be over; `None`: no
    /// deadline beyond the executor's own.
    pub deadline_s: Option<f64>,
}

impl Decision {
    /// Live-migrate VM `vm` to host `to` (indices in the observation the policy was given).
    pub fn migrate(vm: usize, to: usize) -> Self {
        Decision {
            id: DecisionId::default(),
            vm,
            to,
            vm_id: None,
            to_id: None,
            technique: None,
            deadline_s: None,
        }
    }

    /// The same decision with a technique chosen.
    pub fn with_technique(mut self, technique: Technique) -> Self {
        self.technique = Some(technique);
        self
    }

    /// The same decision with a deadline (seconds on the observation's clock).
    pub fn with_deadline_s(mut self, deadline_s: f64) -> Self {
        self.deadline_s = Some(deadline_s);
        self
    }

    /// The same decision numbered by its executor.
    pub fn with_id(mut self, id: DecisionId) -> Self {
        self.id = id;
        self
    }

    /// The same decision with the stable identities of its VM and destination.
    pub fn with_ids(mut self, vm: VmId, to: HostId) -> Self {
        self.vm_id = Some(vm);
        self.to_id = Some(to);
        self
    }
}
