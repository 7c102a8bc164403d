//! The simulator: replays real workload traces on a modelled data centre, injects faults, executes
//! the policy's migrations with a cost model, and charges what they cost (downtime, packet loss,
//! QoS violations, energy, SLA metrics). One core serves the NFV mode and the CloudSim-compatible
//! mode (a configuration), and it can be stepped decision by decision for the RL agent.

pub mod cloudsim;
pub mod config;
pub mod engine;
pub mod error;
pub mod faults;
pub mod report;
pub mod scenario;
pub mod split;
pub mod synthetic;
pub mod telemetry;
pub mod world;

pub use config::{Mode, SimConfig};
pub use engine::{InFlight, InvariantViolation, Simulator};
pub use error::SimError;
pub use report::{Attribution, FaultCost, Outcome, Report, VnfReport};
pub use world::World;
