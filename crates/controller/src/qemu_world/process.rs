//! A VM's QEMU process as the host kernel sees it: CPU seconds used and resident memory, read
//! from `/proc/<pid>` of the process at the far end of the VM's QMP socket. This is what the
//! guest really costs its host (vCPU threads, I/O threads, QEMU's own overhead), the per-VM
//! figure the overload and memory predictions need; node_exporter only reports whole hosts.
//!
//! `/proc` is read directly rather than through a crate (procfs, sysinfo): two small files with a
//! stable format, and those crates would read far more than these two numbers every round.

use promig_model::HISTORY_LEN;
use std::time::Instant;

/// One reading of a process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessSample {
    /// User plus system CPU time since the process started, seconds.
    pub cpu_s: f64,
    /// Resident memory, MiB.
    pub rss_mib: f64,
}

/// Why a process could not be metered.
#[derive(Debug, Clone, PartialEq)]
pub enum NotMetered {
    /// `/proc/<pid>` is not there (the process exited, or it lives on another machine).
    Gone,
    /// The process is not a QEMU (the socket is relayed by ssh or socat): its figures would
    /// describe the relay, not the VM.
    NotQemu(String),
    /// A file was there but did not read as `/proc` writes it.
    Malformed(&'static str),
}

impl std::fmt::Display for NotMetered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotMetered::Gone => write!(f, "process not found in /proc"),
            NotMetered::NotQemu(comm) => write!(f, "peer process is {comm:?}, not a QEMU"),
            NotMetered::Malformed(file) => write!(f, "{file} did not parse"),
        }
    }
}

/// Clock ticks per second of `/proc/<pid>/stat`'s CPU fields.
fn ticks_per_s() -> f64 {
    // SAFETY: sysconf only reads a constant of the running system.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// Reads QEMU process `pid`: refuses a process whose name does not start with `qemu`.
pub fn read(pid: u32) -> Result<ProcessSample, NotMetered> {
    let dir = format!("/proc/{pid}");
    let comm = std::fs::read_to_string(format!("{dir}/comm")).map_err(|_| NotMetered::Gone)?;
    let comm = comm.trim();
    if !comm.starts_with("qemu") {
        return Err(NotMetered::NotQemu(comm.to_string()));
    }
    read_any(pid)
}

/// Reads any process (the QEMU check left to the caller; tests read their own process).
pub fn read_any(pid: u32) -> Result<ProcessSample, NotMetered> {
    let dir = format!("/proc/{pid}");
    let stat = std::fs::read_to_string(format!("{dir}/stat")).map_err(|_| NotMetered::Gone)?;
    let status = std::fs::read_to_string(format!("{dir}/status")).map_err(|_| NotMetered::Gone)?;
    let ticks = cpu_ticks(&stat).ok_or(NotMetered::Malformed("stat"))?;
    let rss_kib = rss_kib(&status).ok_or(NotMetered::Malformed("status"))?;
    Ok(ProcessSample {
        cpu_s: ticks as f64 / ticks_per_s(),
        rss_mib: rss_kib as f64 / 1024.0,
    })
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line. The command name (field 2)
/// may hold spaces and parentheses, so fields are counted after its last `)`.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After the name come state (field 3) ... utime is field 14: the 12th from here.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `VmRSS` of a `/proc/<pid>/status` file, KiB.
fn rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line["VmRSS:".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A VM's process meter across rounds: CPU seconds become cores in use, kept as a history (the
/// same shape as the simulator's VM history, most recent first) for the overload prediction.
#[derive(Debug, Clone, Default)]
pub struct ProcessMeter {
    last: Option<(u32, Instant, f64)>,
    /// Cores in use over the last interval (`None` until two readings of one process).
    pub cores: Option<f64>,
    /// Resident memory at the last reading.
    pub rss_mib: Option<f64>,
    /// Past cores in use, most recent first; `len` are valid.
    pub history: [f64; HISTORY_LEN],
    /// Valid history entries.
    pub len: usize,
    /// When the last reading was taken.
    pub read_at: Option<Instant>,
}

impl ProcessMeter {
    /// Takes in a reading of process `pid` at `at`. A new pid (the VM moved, or QEMU was
    /// restarted) starts the rate over, never subtracting one process's CPU time from another's.
    pub fn update(&mut self, pid: u32, at: Instant, s: ProcessSample) {
        self.rss_mib = Some(s.rss_mib);
        if let Some((p, then, cpu)) = self.last
            && p == pid
        {
            let dt = at.duration_since(then).as_secs_f64();
            if dt > 0.0 && s.cpu_s >= cpu {
                let cores = (s.cpu_s - cpu) / dt;
                self.cores = Some(cores);
                self.history.copy_within(0..HISTORY_LEN - 1, 1);
                self.history[0] = cores;
                self.len = (self.len + 1).min(HISTORY_LEN);
            }
        } else {
            self.cores = None;
            self.len = 0;
        }
        self.last = Some((pid, at, s.cpu_s));
        self.read_at = Some(at);
    }

    /// The process the readings are of.
    pub fn pid(&self) -> Option<u32> {
        self.last.map(|(pid, _, _)| pid)
    }

    /// Forgets the readings (the VM is gone or cannot be metered this round), so a stale figure
    /// is never shown as a measurement.
    pub fn clear(&mut self) {
        *self = ProcessMeter::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stat_fields_are_counted_after_the_name() {
        let stat = "4844 (qemu-system-x86) S 1 4843 4843 0 -1 4194624 3417 0 0 0 \
                    250 37 0 0 20 0 4 0 123 1234567 890 18446744073709551615";
        assert_eq!(cpu_ticks(stat), Some(287));
        // A name with spaces and a parenthesis cannot shift the fields.
        let odd = "7 (a) b (c) S 1 1 1 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 1 1 1 1";
        assert_eq!(cpu_ticks(odd), Some(11));
        assert_eq!(cpu_ticks("garbage"), None);
        assert_eq!(cpu_ticks("1 (x) S 1"), None);
    }

    #[test]
    fn rss_is_read_from_status() {
        let status = "Name:\tqemu\nVmPeak:\t 999 kB\nVmRSS:\t  524288 kB\nThreads:\t4\n";
        assert_eq!(rss_kib(status), Some(524_288));
        assert_eq!(rss_kib("Name:\tkthreadd\n"), None);
    }

    #[test]
    fn this_process_reads_but_is_refused_as_not_qemu() {
        let me = std::process::id();
        let s = read_any(me).unwrap();
        assert!(s.rss_mib > 1.0 && s.cpu_s >= 0.0, "{s:?}");
        assert!(matches!(read(me), Err(NotMetered::NotQemu(_))));
        assert_eq!(read(u32::MAX), Err(NotMetered::Gone));
    }

    #[test]
    fn cpu_seconds_become_cores_and_a_new_pid_starts_over() {
        let t0 = Instant::now();
        let mut m = ProcessMeter::default();
        let s = |cpu_s| ProcessSample {
            cpu_s,
            rss_mib: 300.0,
        };
        m.update(10, t0, s(5.0));
        assert_eq!((m.cores, m.len), (None, 0));
        m.update(10, t0 + Duration::from_secs(2), s(6.0));
        assert_eq!((m.cores, m.len), (Some(0.5), 1));
        m.update(10, t0 + Duration::from_secs(4), s(9.0));
        assert_eq!(m.cores, Some(1.5));
        assert_eq!(&m.history[..2], &[1.5, 0.5]);
        m.update(11, t0 + Duration::from_secs(6), s(0.1));
        assert_eq!((m.cores, m.len), (None, 0), "another process: no rate");
        assert_eq!(m.rss_mib, Some(300.0));
    }
}
