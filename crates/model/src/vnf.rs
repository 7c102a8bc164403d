//! Virtual network functions, their QoS contracts and the service chains they form.

use serde::{Deserialize, Serialize};

/// The service-level contract of a VNF: what an operator promised its tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Qos {
    /// Longest acceptable single interruption (a migration's stop-and-copy, a restart...).
    pub max_downtime_ms: f64,
    /// Highest acceptable fraction of packets lost over a 5-minute window.
    pub max_loss_rate: f64,
    /// Highest acceptable processing latency through one instance.
    pub max_latency_ms: f64,
}

impl Default for Qos {
    fn default() -> Self {
        Qos {
            max_downtime_ms: 500.0,
            max_loss_rate: 0.001,
            max_latency_ms: 5.0,
        }
    }
}

/// One network function (firewall, load balancer, packet gateway...) run by one or more VMs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VnfSpec {
    /// Name, e.g. `chain0/firewall`.
    pub name: String,
    /// Its contract.
    pub qos: Qos,
    /// Packets per second each instance carries at 100 % trace load (scaled by the trace's network
    /// column when there is one, by its CPU column otherwise).
    pub packets_per_s: f64,
    /// Latency through an idle instance; queueing inflates it as the host fills.
    pub base_latency_ms: f64,
}

/// An ordered list of VNFs that a flow traverses; an outage of any member interrupts the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainSpec {
    /// Name, e.g. `chain0`.
    pub name: String,
    /// Indices of the member VNFs, in traffic order.
    pub vnfs: Vec<usize>,
}
