//! The migration stage's execution side: carry out a planned live migration, stream its progress,
//! cancel it on request, and never lose a VM, leave it paused or run it twice. Every driver (QEMU
//! over QMP, the no-op dry run; later libvirt and the simulator) implements one [`Driver`] trait.
//!
//! The `testbed` feature adds real QEMU guests in network namespaces, so the driver and the cost
//! model are checked against the real thing; a daemon links the library without it.

pub mod driver;
pub mod error;
pub mod handle;
pub mod noop;
pub mod progress;
pub mod qemu;
pub mod status;
#[cfg(feature = "testbed")]
pub mod testbed;

pub use driver::{DeadlineAction, Driver, MigrationRequest, StartFuture};
pub use error::DriverError;
pub use handle::{CancelHandle, CancelSignal, MigrationHandle};
pub use noop::NoopDriver;
pub use progress::{Outcome, Progress};
pub use qemu::client::{QmpClient, QmpEvent};
pub use qemu::run_state::RunState;
pub use qemu::vm::{QemuVm, VmOptions};
pub use qemu::{QemuDriver, QemuEndpoints};
pub use status::MigrationStatus;
