//! The calibration sweep: dirty rate x link rate x technique on the real test bed.

use super::Pair;
use super::guest::GuestParams;
use crate::driver::{DeadlineAction, Driver, MigrationRequest};
use crate::error::DriverError;
use crate::qemu::QemuDriver;
use crate::status::MigrationStatus;
use promig_migrate::calibration::Measurement;
use promig_migrate::{Technique, TechniqueParams};
use std::time::Duration;

/// Guest RAM used by the sweep.
pub const MEMORY_MIB: u32 = 128;
/// Region the guest dirties (its writable working set), written once at boot.
pub const REGION_MIB: u32 = 48;

/// One point of the sweep.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    /// Technique.
    pub technique: Technique,
    /// Dirty rate (multiple of 1000).
    pub dirty_pages_per_s: u32,
    /// Link rate; `None` = loopback.
    pub link_mbps: Option<f64>,
    /// QEMU max-bandwidth (bytes/s).
    pub max_bandwidth_bytes_s: f64,
}

/// The default sweep: 4 dirty rates x 3 links for pre-copy, and the other techniques on a subset.
pub fn default_points() -> Vec<Point> {
    let mut pts = Vec::new();
    // Loopback capped by QEMU's max-bandwidth, and two tbf-shaped links.
    let links = [(None, 100e6), (Some(1000.0), 1e9), (Some(300.0), 1e9)];
    for (link, cap) in links {
        for dirty in [0, 2000, 5000, 10_000] {
            pts.push(Point {
                technique: Technique::Precopy,
                dirty_pages_per_s: dirty,
                link_mbps: link,
                max_bandwidth_bytes_s: cap,
            });
        }
        for technique in [
            Technique::AutoConverge,
            Technique::Xbzrle,
            Technique::Compress,
            Technique::Postcopy,
        ] {
            for dirty in [5000, 20_000] {
                pts.push(Point {
                    technique,
                    dirty_pages_per_s: dirty,
                    link_mbps: link,
                    max_bandwidth_bytes_s: cap,
                });
            }
        }
    }
    pts
}

/// Runs one point; `None` when the migration did not converge within 15 s (cancelled).
pub async fn run_point(p: Point) -> Result<Option<Measurement>, DriverError> {
    let guest = GuestParams::dirtying(p.dirty_pages_per_s, REGION_MIB);
    let pair = Pair::start(p.technique.name(), MEMORY_MIB, &guest, p.link_mbps).await?;
    // Let the guest boot and fill its region.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let req = MigrationRequest {
        vm: "guest".into(),
        destination: "destination".into(),
        params: TechniqueParams {
            max_bandwidth_bps: p.max_bandwidth_bytes_s * 8.0,
            ..TechniqueParams::of(p.technique)
        },
        deadline: Duration::from_secs(15),
        on_deadline: DeadlineAction::Cancel,
    };
    // 20 ms polls: sub-second migrations still get several samples and a timely deadline.
    let driver = QemuDriver::new().with_poll_interval(Duration::from_millis(20));
    pair.prepare(&driver, &req);
    let out = driver.start(req.clone()).await?.outcome().await?;
    if out.status != MigrationStatus::Completed {
        return Ok(None);
    }
    Ok(Some(Measurement {
        technique: p.technique,
        memory_mib: MEMORY_MIB as f64,
        touched_mib: REGION_MIB as f64 + 1.0,
        wws_mib: REGION_MIB as f64,
        dirty_pages_per_s: guest.dirty_pages_per_s(),
        link_mbps: p.link_mbps.unwrap_or(0.0),
        max_bandwidth_bytes_s: p.max_bandwidth_bytes_s,
        downtime_limit_ms: req.params.downtime_limit_ms,
        total_ms: out.total_ms,
        downtime_ms: out.downtime_ms,
        transferred_kib: out.transferred_kib,
        rounds: out.rounds as u32,
        postcopy_after_rounds: req.params.postcopy_after_rounds,
    }))
}

/// Runs [`default_points`] one after the other, reporting each measurement as it comes.
pub fn run_default_sweep(
    report: &mut dyn FnMut(&Measurement),
) -> Result<Vec<Measurement>, DriverError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DriverError::io("starting the async runtime", e))?;
    let mut out = Vec::new();
    for p in default_points() {
        if let Some(m) = rt.block_on(run_point(p))? {
            report(&m);
            out.push(m);
        }
    }
    Ok(out)
}
