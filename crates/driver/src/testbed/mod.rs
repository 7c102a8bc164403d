//! A real test bed on one machine: OS-less guests whose dirty rate is exact, and "hosts" as network
//! namespaces joined by a veth pair whose rate `tc tbf` sets. Used by the integration tests and by
//! `promig migrate calibrate`.

pub mod guest;
pub mod netns;
pub mod sweep;

use crate::driver::MigrationRequest;
use crate::error::DriverError;
use crate::qemu::vm::{QemuVm, VmOptions};
use crate::qemu::{QemuDriver, QemuEndpoints};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A unique scratch folder for one experiment.
pub fn scratch_dir(label: &str) -> PathBuf {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("promig-{}-{}-{label}", std::process::id(), n))
}

/// A source guest and an empty destination, optionally on the two ends of a shaped link.
pub struct Pair {
    /// The running guest.
    pub src: QemuVm,
    /// The destination, waiting for an incoming migration.
    pub dst: QemuVm,
    /// The link, when the hosts are namespaces (kept alive for the pair's lifetime).
    pub link: Option<netns::Link>,
    /// Address the destination listens on.
    pub listen_ip: std::net::IpAddr,
}

impl Pair {
    /// Starts both sides. `link_mbps = None` uses loopback in the root namespace.
    pub async fn start(
        label: &str,
        memory_mib: u32,
        guest: &guest::GuestParams,
        link_mbps: Option<f64>,
    ) -> Result<Self, DriverError> {
        let dir = scratch_dir(label);
        let link = match link_mbps {
            Some(rate) => Some(netns::Link::new(rate)?),
            None => None,
        };
        let image = guest.image();
        let opts = |name: &str, incoming: bool, ns: Option<String>| VmOptions {
            name: name.to_string(),
            memory_mib,
            image: image.clone(),
            netns: ns,
            incoming,
            dir: dir.clone(),
        };
        let (src_ns, dst_ns, ip) = match &link {
            Some(l) => (Some(l.ns_a.clone()), Some(l.ns_b.clone()), l.ip_b),
            None => (None, None, std::net::IpAddr::from([127, 0, 0, 1])),
        };
        let (src, dst) = tokio::join!(
            QemuVm::start(opts("src", false, src_ns)),
            QemuVm::start(opts("dst", true, dst_ns))
        );
        Ok(Pair {
            src: src?,
            dst: dst?,
            link,
            listen_ip: ip,
        })
    }

    /// The two processes as the QEMU driver needs them.
    pub fn endpoints(&self) -> QemuEndpoints {
        QemuEndpoints::between(&self.src, &self.dst, self.listen_ip)
    }

    /// Registers this pair with `driver` for `request` (its VM and destination names), so that
    /// `driver.start(request)` migrates this pair's guest.
    pub fn prepare(&self, driver: &QemuDriver, request: &MigrationRequest) {
        driver.prepare(&request.vm, &request.destination, self.endpoints());
    }
}
