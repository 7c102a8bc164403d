//! Two "hosts" as network namespaces joined by a veth pair, the link rate set with `tc tbf`
//! (`netem` is not available in these kernels). Needs root and iproute2.

use crate::error::DriverError;
use std::net::IpAddr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A shaped link between two namespaces; removed when dropped.
#[derive(Debug)]
pub struct Link {
    /// Source-side namespace.
    pub ns_a: String,
    /// Destination-side namespace.
    pub ns_b: String,
    /// Source-side address.
    pub ip_a: IpAddr,
    /// Destination-side address.
    pub ip_b: IpAddr,
    /// Rate in Mbit/s (both directions).
    pub rate_mbps: f64,
}

fn run(args: &[&str]) -> Result<(), DriverError> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| {
            DriverError::io(
                format!(
                    "running {} (apt-get install -y --no-install-recommends iproute2; the test bed needs root)",
                    args.join(" ")
                ),
                e,
            )
        })?;
    if !out.status.success() {
        return Err(DriverError::ExternalCommand {
            command: args.join(" "),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

impl Link {
    /// Creates the namespaces, the veth pair, addresses and the rate limit.
    pub fn new(rate_mbps: f64) -> Result<Self, DriverError> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{}{}", std::process::id() % 100_000, n);
        let (ns_a, ns_b) = (format!("pma{tag}"), format!("pmb{tag}"));
        let (va, vb) = (format!("pva{tag}"), format!("pvb{tag}"));
        let subnet = (n % 250) as u8 + 1;
        let third = ((std::process::id() % 200) + 20) as u8;
        let ip_a = IpAddr::from([10, third, subnet, 1]);
        let ip_b = IpAddr::from([10, third, subnet, 2]);
        let link = Link {
            ns_a: ns_a.clone(),
            ns_b: ns_b.clone(),
            ip_a,
            ip_b,
            rate_mbps,
        };
        run(&["ip", "netns", "add", &ns_a])?;
        run(&["ip", "netns", "add", &ns_b])?;
        run(&[
            "ip", "link", "add", &va, "netns", &ns_a, "type", "veth", "peer", "name", &vb, "netns",
            &ns_b,
        ])?;
        for (ns, dev, ip) in [(&ns_a, &va, ip_a), (&ns_b, &vb, ip_b)] {
            run(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{ip}/24"),
                "dev",
                dev,
            ])?;
            run(&["ip", "-n", ns, "link", "set", dev, "up"])?;
            run(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
            let rate = format!("{}kbit", (rate_mbps * 1000.0).round() as u64);
            // Burst sized for the rate (at least 64 KiB) so TCP is not starved at low rates.
            let burst = format!(
                "{}kb",
                ((rate_mbps * 1e6 / 8.0 / 250.0) / 1024.0).max(64.0).round() as u64
            );
            run(&[
                "ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate",
                &rate, "burst", &burst, "latency", "100ms",
            ])?;
        }
        Ok(link)
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // Deleting a namespace removes its end of the veth, which removes the pair.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.ns_a])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.ns_b])
            .output();
    }
}
