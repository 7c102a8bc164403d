//! The migration stage's execution side: carry out a planned live migration on real hypervisors,
//! stream its progress, and make sure a VM is never lost, paused or running twice.
//! The QEMU driver speaks QMP (the layer libvirt and Nova drive); the test bed starts real QEMU
//! guests in network namespaces so the driver and the cost model are checked against the real thing.

pub mod error;
pub mod qemu;
pub mod testbed;

pub use error::DriverError;
pub use qemu::client::{QmpClient, QmpEvent};
pub use qemu::migration::{DeadlineAction, MigrationRequest, Outcome, Progress, migrate};
pub use qemu::vm::{QemuVm, VmOptions};
