//! The controller operators run: a daemon that takes snapshots of its world (the simulator, or
//! real hosts), predicts which hosts will break a VNF's requirements, decides with a policy,
//! plans each move with the cost model, and executes approved plans through a driver, with
//! every step journaled in SQLite first and an HTTP API and Prometheus metrics beside it.
//!
//! The pieces, in the order a snapshot meets them: [`world`] (where snapshots come from and
//! migrations go), [`core`] (plans from decisions, approval, limits), [`journal`], [`daemon`]
//! (the loop and the server), [`api`], [`metrics`]. The worlds: [`sim_world`] (the simulator)
//! and [`qemu_world`] (real hosts: node_exporter telemetry, QEMU over QMP).

#![deny(missing_docs)]

pub mod api;
pub mod confidence;
pub mod config;
pub mod core;
pub mod daemon;
pub mod dashboard;
pub mod dry_run;
pub mod error;
pub mod journal;
pub mod metrics;
pub mod plan;
pub mod qemu_world;
pub mod sim_world;
pub mod world;

pub use config::{Approval, ControllerConfig, DriverKind};
pub use core::{Core, Order, Snapshot};
pub use daemon::{DaemonOptions, Running, start};
pub use dry_run::DryRun;
pub use error::ControllerError;
pub use journal::{Journal, SqliteJournal, Transition};
pub use plan::{Plan, PlanId, PlanState};
pub use qemu_world::QemuWorld;
pub use sim_world::SimWorld;
pub use world::World;
