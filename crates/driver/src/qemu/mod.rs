//! The QEMU driver: QMP client, QEMU processes, and the migration procedure.

pub mod client;
pub mod migration;
pub mod vm;
