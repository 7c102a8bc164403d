//! The bottom of promig's pipeline: the nouns every other stage talks about.
//! Hosts, VMs, VNFs and chains, the network topology, workload traces and faults live here, with
//! the loaders that turn real files (TOML scenarios, trace folders, GraphML) into them.

pub mod error;
pub mod fault;
pub mod host;
pub mod power;
pub mod scenario;
pub mod topology;
pub mod trace;
pub mod vm;
pub mod vnf;

pub use error::ModelError;
pub use fault::{FaultCause, FaultRecord, FaultsConfig};
pub use host::HostSpec;
pub use power::PowerCurve;
pub use scenario::ScenarioFile;
pub use topology::{LinkSpec, Topology};
pub use trace::{Trace, TraceSet};
pub use vm::VmSpec;
pub use vnf::{ChainSpec, Qos, VnfSpec};

/// Seconds between two samples of every trace we replay (PlanetLab, Google, Bitbrains all use 5 min).
pub const TRACE_STEP_S: f64 = 300.0;
