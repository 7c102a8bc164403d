//! The bottom of promig's pipeline: the nouns every other stage talks about.
//! Hosts, VMs, VNFs and chains, the network topology, workload traces and faults live here, with
//! the loaders that turn real files (TOML scenarios, trace folders, GraphML) into them, and the
//! contracts between stages: the [`Observation`] predictors and policies read, the [`Decision`]
//! policies return, the CPU scheduler and queueing model all stages agree on, and shared statistics.

pub mod builder;
pub mod data;
pub mod decision;
pub mod error;
pub mod explain;
pub mod fault;
pub mod host;
pub mod observation;
pub mod power;
pub mod scenario;
pub mod scheduler;
pub mod stats;
pub mod technique;
pub mod time;
pub mod toml_text;
pub mod topology;
pub mod trace;
pub mod vm;
pub mod vnf;

pub use builder::{HostShape, ObservationBuilder, VmShape};
pub use decision::{Decision, DecisionId};
pub use error::ModelError;
pub use explain::{Explanation, FeatureEffect, ScoredOption};
pub use fault::{FaultCause, FaultRecord, FaultsConfig, PrecursorConfig};
pub use host::HostSpec;
pub use observation::{
    HISTORY_LEN, HORIZONS_S, HostId, HostRisk, HostView, Observation, VmId, VmView,
};
pub use power::PowerCurve;
pub use scenario::ScenarioFile;
pub use technique::Technique;
pub use topology::{LinkSpec, Topology};
pub use trace::{Trace, TraceSet};
pub use vm::VmSpec;
pub use vnf::{ChainSpec, Qos, VnfSpec};

/// Seconds between two samples of every trace we replay (PlanetLab, Google, Bitbrains all use 5 min).
pub const TRACE_STEP_S: f64 = 300.0;
