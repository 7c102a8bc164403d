//! Workload traces: what each VM asks for, every 5 minutes, replayed from real data sets.
//!
//! Three real formats are supported, each with its own loader, because each data set has its own
//! quirks: PlanetLab (one integer CPU % per line), Google cluster VMs (`CPU% MEM%` per line) and
//! Bitbrains (`;\t`-separated CSV with a header, CPU, memory and network columns).

use crate::error::ModelError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One VM's demand over time, at [`crate::TRACE_STEP_S`] resolution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// Where it came from (file name), for reports.
    pub name: String,
    /// CPU demand as a fraction of the VM's capacity, in [0, 1].
    pub cpu: Vec<f64>,
    /// Memory in use as a fraction of the VM's configured memory, when the data set has it.
    pub memory: Option<Vec<f64>>,
    /// Network throughput (received + transmitted) in KB/s, when the data set has it.
    pub net_kbps: Option<Vec<f64>>,
}

impl Trace {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.cpu.len()
    }

    /// True when the trace holds no sample.
    pub fn is_empty(&self) -> bool {
        self.cpu.is_empty()
    }

    /// CPU demand at sample `i`, wrapping around so short traces can drive long runs.
    pub fn cpu_at(&self, i: usize) -> f64 {
        self.cpu[i % self.cpu.len()]
    }
}

/// A set of traces loaded from one data-set folder.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceSet {
    /// The traces, sorted by file name so every machine assigns them to VMs the same way.
    pub traces: Vec<Trace>,
    /// Rows dropped because they repeated the previous row's timestamp (Bitbrains; the first
    /// sample of a repeated instant is kept), so a report can say how much was left out.
    #[serde(default)]
    pub duplicates_dropped: usize,
    /// Trace files the folder holds (before a VM limit took the first ones).
    #[serde(default)]
    pub files_available: usize,
}

/// Which real data set a folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TraceFormat {
    /// CoMon/PlanetLab as shipped with CloudSim.
    Planetlab,
    /// Google cluster 2011 VMs.
    Google,
    /// Bitbrains GWA-T-12 (fastStorage / Rnd).
    Bitbrains,
}

impl TraceFormat {
    /// Every format, for help texts.
    pub const ALL: [TraceFormat; 3] = [
        TraceFormat::Planetlab,
        TraceFormat::Google,
        TraceFormat::Bitbrains,
    ];

    /// Name on the command line and in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            TraceFormat::Planetlab => "planetlab",
            TraceFormat::Google => "google",
            TraceFormat::Bitbrains => "bitbrains",
        }
    }

    /// Parses a command-line name (case-insensitive).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
    }
}

/// Order in which a folder's trace files become VMs 0, 1, 2...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileOrder {
    /// By file name: the same on every machine.
    Sorted,
    /// As the file system lists the folder (Java's `File.listFiles`, hence CloudSim's order). VM
    /// types are assigned by position, so CloudSim's published figures are only reproduced with the
    /// order of the file system they were produced on.
    Directory,
}

impl TraceSet {
    /// Loads up to `limit` traces of `format` from `dir` (all when `None`), sorted by file name.
    pub fn load(dir: &Path, format: TraceFormat, limit: Option<usize>) -> Result<Self, ModelError> {
        Self::load_ordered(dir, format, limit, FileOrder::Sorted)
    }

    /// The files at 1-based positions `first..=last` of `dir` in natural file-name order
    /// (numbers compared as numbers, see [`natural_cmp`]): a split's "VMs 1-400" of a data set.
    /// A range past the folder's end is an error naming the folder and its file count.
    pub fn load_range(
        dir: &Path,
        format: TraceFormat,
        first: usize,
        last: usize,
    ) -> Result<Self, ModelError> {
        let mut files = list_files(dir, FileOrder::Sorted)?;
        files.sort_by(|a, b| natural_cmp(&file_name(a), &file_name(b)));
        let files_available = files.len();
        if first == 0 || last < first || last > files.len() {
            return Err(ModelError::invalid(
                dir,
                format!(
                    "files [{first}, {last}] asked for, but the folder holds {} trace files (positions start at 1)",
                    files.len()
                ),
            ));
        }
        let names: Vec<String> = files[first - 1..last]
            .iter()
            .map(|f| file_name(f))
            .collect();
        let mut set = Self::load_files(dir, format, &names)?;
        set.files_available = files_available;
        Ok(set)
    }

    /// Like [`TraceSet::load`] with an explicit file order.
    pub fn load_ordered(
        dir: &Path,
        format: TraceFormat,
        limit: Option<usize>,
        order: FileOrder,
    ) -> Result<Self, ModelError> {
        let mut files = list_files(dir, order)?;
        let files_available = files.len();
        if let Some(n) = limit {
            files.truncate(n);
        }
        let mut duplicates_dropped = 0;
        let traces = files
            .iter()
            .map(|f| match format {
                TraceFormat::Planetlab => load_planetlab_file(f),
                TraceFormat::Google => load_google_file(f),
                TraceFormat::Bitbrains => load_bitbrains_counted(f).map(|(t, dropped)| {
                    duplicates_dropped += dropped;
                    t
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if traces.is_empty() {
            return Err(ModelError::invalid(dir, "no trace files in this folder"));
        }
        Ok(TraceSet {
            traces,
            duplicates_dropped,
            files_available,
        })
    }

    /// Loads the files of `dir` in the order `names` lists them: an order recorded once (as
    /// CloudSim's VM types depend on it) instead of the file system's. The folder must hold
    /// exactly those files; a missing or an extra one is an error naming it.
    pub fn load_listed(
        dir: &Path,
        format: TraceFormat,
        names: &[&str],
    ) -> Result<Self, ModelError> {
        let present = list_files(dir, FileOrder::Sorted)?;
        let listed: std::collections::BTreeSet<&str> = names.iter().copied().collect();
        if let Some(extra) = present
            .iter()
            .map(|p| file_name(p))
            .find(|n| !listed.contains(n.as_str()))
        {
            return Err(ModelError::invalid(
                dir.join(&extra),
                "not in the recorded file order of this data set (the folder changed)",
            ));
        }
        Self::load_files(dir, format, names)
    }

    /// The named files of `dir`, in the order given.
    fn load_files(
        dir: &Path,
        format: TraceFormat,
        names: &[impl AsRef<str>],
    ) -> Result<Self, ModelError> {
        let mut traces = Vec::with_capacity(names.len());
        let mut duplicates_dropped = 0;
        for name in names {
            let f = dir.join(name.as_ref());
            if !f.is_file() {
                return Err(ModelError::invalid(
                    &f,
                    "listed in the recorded file order but missing",
                ));
            }
            traces.push(match format {
                TraceFormat::Planetlab => load_planetlab_file(&f)?,
                TraceFormat::Google => load_google_file(&f)?,
                TraceFormat::Bitbrains => {
                    let (t, dropped) = load_bitbrains_counted(&f)?;
                    duplicates_dropped += dropped;
                    t
                }
            });
        }
        if traces.is_empty() {
            return Err(ModelError::invalid(dir, "no trace files in this folder"));
        }
        Ok(TraceSet {
            files_available: traces.len(),
            traces,
            duplicates_dropped,
        })
    }

    /// Number of traces.
    pub fn len(&self) -> usize {
        self.traces.len()
    }

    /// True when no trace was loaded.
    pub fn is_empty(&self) -> bool {
        self.traces.is_empty()
    }
}

/// Natural order of file names: runs of digits compare as numbers (`2.csv` < `10.csv`,
/// `vm_9_1` < `vm_10_1`), everything else byte by byte. Hand-written (a dozen lines) rather than
/// a crate: it is only used to give a data set's files stable 1-based positions.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn runs(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ra, rb) = (runs(a), runs(b));
    for ((da, xa), (db, xb)) in ra.iter().zip(&rb) {
        let ord = if *da && *db {
            let (ta, tb) = (xa.trim_start_matches('0'), xb.trim_start_matches('0'));
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb))
        } else {
            xa.cmp(xb)
        };
        if ord != std::cmp::Ordering::Equal {
            return ord;
        }
    }
    ra.len().cmp(&rb.len()).then_with(|| a.cmp(b))
}

/// Regular files of a folder, in the requested order.
fn list_files(dir: &Path, order: FileOrder) -> Result<Vec<PathBuf>, ModelError> {
    let rd = std::fs::read_dir(dir).map_err(|e| ModelError::io(dir, e))?;
    let mut files = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| ModelError::io(dir, e))?;
        let path = entry.path();
        if path.is_file() && !entry.file_name().to_string_lossy().starts_with('.') {
            files.push(path);
        }
    }
    if order == FileOrder::Sorted {
        files.sort();
    }
    Ok(files)
}

/// A file's text, without the byte-order mark some tools (Excel, PowerShell) put in front.
fn read(path: &Path) -> Result<String, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Parses a percentage in [0, 100] and returns it as a fraction.
fn percent(path: &Path, line: usize, field: &str, s: &str) -> Result<f64, ModelError> {
    let v: f64 = s.trim().parse().map_err(|_| {
        ModelError::parse(
            path,
            line,
            field,
            format!("not a number: {:?}", crate::error::excerpt(s)),
        )
    })?;
    if !v.is_finite() || !(0.0..=100.0).contains(&v) {
        return Err(ModelError::parse(
            path,
            line,
            field,
            format!("{v} is outside 0..=100"),
        ));
    }
    Ok(v / 100.0)
}

/// Parses a non-negative percentage that may exceed 100 and returns it as a fraction clamped to 1.
fn over_percent(path: &Path, line: usize, field: &str, s: &str) -> Result<f64, ModelError> {
    let v: f64 = s.trim().parse().map_err(|_| {
        ModelError::parse(
            path,
            line,
            field,
            format!("not a number: {:?}", crate::error::excerpt(s)),
        )
    })?;
    if !v.is_finite() || v < 0.0 {
        return Err(ModelError::parse(
            path,
            line,
            field,
            format!("{v} is not a non-negative percentage"),
        ));
    }
    Ok((v / 100.0).min(1.0))
}

/// PlanetLab: one CPU percentage per line (integers in the CloudSim copy, decimals tolerated).
pub fn load_planetlab_file(path: &Path) -> Result<Trace, ModelError> {
    let text = read(path)?;
    let mut cpu = Vec::with_capacity(288);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        cpu.push(percent(path, i + 1, "cpu_pct", line)?);
    }
    if cpu.is_empty() {
        return Err(ModelError::parse(
            path,
            1,
            "cpu_pct",
            "file holds no sample",
        ));
    }
    Ok(Trace {
        name: file_name(path),
        cpu,
        memory: None,
        net_kbps: None,
    })
}

/// Google cluster VMs: `CPU% MEM%` per line, space separated.
pub fn load_google_file(path: &Path) -> Result<Trace, ModelError> {
    let text = read(path)?;
    let mut cpu = Vec::with_capacity(288);
    let mut mem = Vec::with_capacity(288);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut it = line.split_whitespace();
        let c = it
            .next()
            .ok_or_else(|| ModelError::parse(path, i + 1, "cpu_pct", "missing"))?;
        let m = it
            .next()
            .ok_or_else(|| ModelError::parse(path, i + 1, "mem_pct", "missing"))?;
        // The Google traces record usage relative to the task's request; usage above the request
        // (over 100 %) happens and is clamped to the VM's size.
        cpu.push(over_percent(path, i + 1, "cpu_pct", c)?);
        mem.push(over_percent(path, i + 1, "mem_pct", m)?);
    }
    if cpu.is_empty() {
        return Err(ModelError::parse(
            path,
            1,
            "cpu_pct",
            "file holds no sample",
        ));
    }
    Ok(Trace {
        name: file_name(path),
        cpu,
        memory: Some(mem),
        net_kbps: None,
    })
}

/// Bitbrains GWA-T-12: header row, then `;\t`-separated rows (timestamp in seconds).
pub fn load_bitbrains_file(path: &Path) -> Result<Trace, ModelError> {
    load_bitbrains_counted(path).map(|(t, _)| t)
}

/// [`load_bitbrains_file`], also returning how many rows repeated a timestamp and were dropped.
pub fn load_bitbrains_counted(path: &Path) -> Result<(Trace, usize), ModelError> {
    const FIELDS: [&str; 11] = [
        "timestamp",
        "cpu_cores",
        "cpu_capacity_mhz",
        "cpu_usage_mhz",
        "cpu_usage_pct",
        "memory_capacity_kb",
        "memory_usage_kb",
        "disk_read_kbps",
        "disk_write_kbps",
        "net_rx_kbps",
        "net_tx_kbps",
    ];
    let text = read(path)?;
    let (mut cpu, mut mem, mut net) = (Vec::new(), Vec::new(), Vec::new());
    let mut last_ts = f64::NEG_INFINITY;
    let mut dropped = 0;
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split(';').map(str::trim).collect();
        if cols.len() < FIELDS.len() {
            return Err(ModelError::parse(
                path,
                i + 1,
                FIELDS[cols.len().min(FIELDS.len() - 1)],
                format!("expected {} columns, found {}", FIELDS.len(), cols.len()),
            ));
        }
        let num = |k: usize| -> Result<f64, ModelError> {
            cols[k]
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| {
                    ModelError::parse(
                        path,
                        i + 1,
                        FIELDS[k],
                        format!(
                            "not a non-negative number: {:?}",
                            crate::error::excerpt(cols[k])
                        ),
                    )
                })
        };
        let ts = num(0)?;
        // The published files repeat a timestamp where a VM was re-provisioned (e.g. Rnd
        // 20.csv:117-118): the first row of the interval stands, as a collector keeps the first
        // sample of a duplicate. Going back in time is still an error.
        if ts == last_ts {
            dropped += 1;
            continue;
        }
        if ts < last_ts {
            return Err(ModelError::parse(
                path,
                i + 1,
                "timestamp",
                "timestamps must increase",
            ));
        }
        last_ts = ts;
        // Usage above 100 % happens in the data (bursting over the provisioned share); we clamp.
        cpu.push((num(4)? / 100.0).min(1.0));
        let cap = num(5)?;
        mem.push(if cap > 0.0 {
            (num(6)? / cap).min(1.0)
        } else {
            0.0
        });
        net.push(num(9)? + num(10)?);
    }
    if cpu.is_empty() {
        return Err(ModelError::parse(
            path,
            2,
            "timestamp",
            "file holds no sample",
        ));
    }
    Ok((
        Trace {
            name: file_name(path),
            cpu,
            memory: Some(mem),
            net_kbps: Some(net),
        },
        dropped,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str, body: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "promig-trace-{}-{}",
            std::process::id(),
            name.replace(' ', "_")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    #[test]
    fn natural_order_compares_numbers_as_numbers() {
        let mut names = vec![
            "10.csv", "2.csv", "1.csv", "vm_10_1", "vm_9_1", "vm_9_10", "vm_9_2",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            [
                "1.csv", "2.csv", "10.csv", "vm_9_1", "vm_9_2", "vm_9_10", "vm_10_1"
            ]
        );
        assert_eq!(natural_cmp("", ""), std::cmp::Ordering::Equal);
        assert_eq!(natural_cmp("a", ""), std::cmp::Ordering::Greater);
    }

    #[test]
    fn a_range_takes_files_by_natural_position() {
        let dir = std::env::temp_dir().join(format!("promig-range-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 1..=12 {
            std::fs::write(dir.join(format!("{i}.txt")), format!("{i}\n")).unwrap();
        }
        let set = TraceSet::load_range(&dir, TraceFormat::Planetlab, 2, 10).unwrap();
        let first: Vec<f64> = set.traces.iter().map(|t| t.cpu[0] * 100.0).collect();
        assert_eq!(first.len(), 9);
        assert!(
            (first[0] - 2.0).abs() < 1e-9 && (first[8] - 10.0).abs() < 1e-9,
            "{first:?}"
        );
        assert_eq!(set.files_available, 12);
        let e = TraceSet::load_range(&dir, TraceFormat::Planetlab, 5, 13).unwrap_err();
        assert!(e.to_string().contains("holds 12 trace files"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn planetlab_error_names_file_line_field() {
        let p = tmp("bad vm", "10\n20\nx7\n");
        let e = load_planetlab_file(&p).unwrap_err().to_string();
        assert!(e.contains("bad vm:3: field `cpu_pct`"), "{e}");
    }

    #[test]
    fn planetlab_rejects_out_of_range() {
        let p = tmp("range", "10\n101\n");
        let e = load_planetlab_file(&p).unwrap_err().to_string();
        assert!(e.contains(":2:") && e.contains("outside"), "{e}");
    }

    #[test]
    fn google_needs_two_columns() {
        let p = tmp("g", "1.0 2.0\n3.0\n");
        let e = load_google_file(&p).unwrap_err().to_string();
        assert!(e.contains(":2: field `mem_pct`"), "{e}");
    }

    #[test]
    fn bitbrains_parses_and_checks_order() {
        let head = "Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\tCPU usage [%];\tMemory capacity provisioned [KB];\tMemory usage [KB];\tDisk read throughput [KB/s];\tDisk write throughput [KB/s];\tNetwork received throughput [KB/s];\tNetwork transmitted throughput [KB/s]\n";
        let ok = format!(
            "{head}100;\t2;\t100;\t50;\t50.0;\t1000;\t250;\t0;\t0;\t3;\t4\n400;\t2;\t100;\t50;\t25.0;\t1000;\t500;\t0;\t0;\t1;\t1\n"
        );
        let t = load_bitbrains_file(&tmp("bb.csv", &ok)).unwrap();
        assert_eq!(t.cpu, vec![0.5, 0.25]);
        assert_eq!(t.memory.unwrap(), vec![0.25, 0.5]);
        assert_eq!(t.net_kbps.unwrap(), vec![7.0, 2.0]);
        let bad = format!(
            "{head}400;\t2;\t100;\t50;\t50.0;\t1000;\t250;\t0;\t0;\t3;\t4\n100;\t2;\t100;\t50;\t25.0;\t1000;\t500;\t0;\t0;\t1;\t1\n"
        );
        let e = load_bitbrains_file(&tmp("bb2.csv", &bad))
            .unwrap_err()
            .to_string();
        assert!(e.contains(":3: field `timestamp`"), "{e}");
        // A repeated timestamp (as in the published Rnd 20.csv) keeps the first row.
        let dup = format!(
            "{head}100;\t2;\t100;\t50;\t50.0;\t1000;\t250;\t0;\t0;\t3;\t4\n100;\t0;\t0;\t0;\t0.0;\t1000;\t0;\t0;\t0;\t0;\t0\n400;\t2;\t100;\t50;\t25.0;\t1000;\t500;\t0;\t0;\t1;\t1\n"
        );
        let t = load_bitbrains_file(&tmp("bb3.csv", &dup)).unwrap();
        assert_eq!(t.cpu, vec![0.5, 0.25]);
    }
}
