//! Reading a cluster's migration history: the measured migrations a calibration profile is fitted
//! on (`promig migrate calibrate --history FILE.csv`).
//!
//! Two layouts are read, told apart by the header row:
//!
//! **(a) SoCC 2017**, the layout of `live-migration/kvm-migrations.csv` (Jo, Cho, Egger, "A
//! machine learning approach to live migration modeling"):
//!
//! ```text
//! Migration ID,Migration Technique,Workload,Available Network Bandwidth (mbps),Page Dirty Rate (4KB pages per second),VM_SIZE (MB),Page transfer rate (MB/s),Total Migration Time (ms),Downtime (ms),Total Transferred Data (KB)
//! 1463735632,auto-converge,mplayer,884,5058,631.46484375,150,6410,277,691971
//! ```
//!
//! The study reports neither the working set nor what the guest had touched, so both are taken as
//! the whole guest; the page transfer rate is QEMU's max-bandwidth in MiB/s; the downtime limit is
//! QEMU's default 300 ms, which the study kept; the number of rounds is not reported (0); post-copy
//! was switched to at once ([`SOCC_POSTCOPY_AFTER_ROUNDS`]). Its `Available Network Bandwidth` is
//! each run's own average throughput, not the path's capacity: Total Transferred Data x 8 / Total
//! Migration Time, within 1 % in 16,711 of the 16,713 rows and within 1.3 % in all. It is read as
//! the link rate; for compression that is the compressed stream's rate (22-46 MB/s in the study,
//! where its pre-copy runs carried about 100 MB/s over the same path).
//! Techniques are QEMU's capability names: `original` (pre-copy), `auto-converge`, `xbzrle`,
//! `compress`, `x-postcopy-ram`.
//!
//! **(b) query-migrate**, the figures an operator gets from QMP `query-migrate` (or
//! `virsh domjobinfo --completed`) after each migration of their own cluster, one row each:
//!
//! ```text
//! technique,memory_mib,dirty_pages_rate,link_mbps,max_bandwidth_mib_s,downtime_limit_ms,total_time_ms,downtime_ms,ram_transferred_kib,workload,dirty_sync_count,ram_total_kib
//! precopy,4096,5120,10000,128,300,35210,212,4420332,redis,7,4194304
//! ```
//!
//! | column | where it comes from |
//! |---|---|
//! | `technique` | the capability enabled with `migrate-set-capabilities`: none = `precopy`, `auto-converge`, `xbzrle`, `compress`, `postcopy-ram` (`postcopy`); the SoCC names are accepted too |
//! | `memory_mib` | guest RAM (`-m`, libvirt `<memory>`); not needed when `ram_total_kib` is given |
//! | `dirty_pages_rate` | `ram.dirty-pages-rate` (4 KiB pages per second; virsh: `Dirty rate`) |
//! | `link_mbps` | not in QMP: the rate of the link between the hosts, or what migration may use of it (Mbit/s) |
//! | `max_bandwidth_mib_s` | `migrate-set-parameters` `max-bandwidth` (bytes/s) / 1,048,576 (virsh `migrate-setspeed`, MiB/s) |
//! | `downtime_limit_ms` | `migrate-set-parameters` `downtime-limit` (ms; virsh `migrate-setmaxdowntime`) |
//! | `total_time_ms` | `total-time` (ms; virsh: `Time elapsed`) |
//! | `downtime_ms` | `downtime` (ms; virsh: `Total downtime`) |
//! | `ram_transferred_kib` | `ram.transferred` (bytes) / 1024 (virsh: `Memory processed`) |
//! | `workload` (optional) | a label of the operator's choosing, kept for reports |
//! | `dirty_sync_count` (optional) | `ram.dirty-sync-count`: bitmap syncs, i.e. copy rounds (virsh: `Iteration`) |
//! | `ram_total_kib` (optional) | `ram.total` (bytes) / 1024 (virsh: `Memory total`); overrides `memory_mib` |
//!
//! Blank lines and lines starting with `#` are skipped; fields may be double-quoted. Errors name
//! the file, the line (1-based, as an editor shows it), the column and the value.

use crate::calibration::Measurement;
use crate::qemu::{Technique, TechniqueParams};
use promig_model::error::excerpt;
use std::path::{Path, PathBuf};

/// One measured migration of the history, with what it was running and where it is in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    /// What was asked and what QEMU reported, as the fit consumes it.
    pub measurement: Measurement,
    /// The guest's workload label (`mem`, `parsec`...), empty when the file has none; kept so
    /// errors can be broken down by workload.
    pub workload: String,
    /// 1-based line in the file, to trace a badly predicted run back to its row.
    pub line: usize,
}

/// Why a migration history could not be read. Every variant names the file; those about a cell
/// name its line (1-based), column and value, so the user can go straight to it.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The file could not be read.
    #[error("{path}: cannot read migration history")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// No header row: the file is empty or holds only comments.
    #[error("{path}: empty migration history: no header row")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A header but no migrations: nothing to fit on.
    #[error("{path}:{line}: header but no migrations after it")]
    NoRows {
        /// The file.
        path: PathBuf,
        /// The header's line.
        line: usize,
    },
    /// The header is neither layout.
    #[error(
        "{path}:{line}: unknown header {header:?}: expected the SoCC 2017 layout (a `Migration Technique` column) or the query-migrate layout (a `technique` column)"
    )]
    UnknownLayout {
        /// The file.
        path: PathBuf,
        /// The header's line.
        line: usize,
        /// The start of the header.
        header: String,
    },
    /// The header lacks a column the layout needs.
    #[error("{path}:{line}: column `{column}` missing from the header")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The header's line.
        line: usize,
        /// The missing column.
        column: &'static str,
    },
    /// A row has more or fewer fields than the header.
    #[error("{path}:{line}: {found} fields, the header has {expected}")]
    FieldCount {
        /// The file.
        path: PathBuf,
        /// The row's line.
        line: usize,
        /// Fields in the row.
        found: usize,
        /// Columns in the header.
        expected: usize,
    },
    /// A double quote opened and never closed.
    #[error("{path}:{line}: unterminated quoted field")]
    Unterminated {
        /// The file.
        path: PathBuf,
        /// The row's line.
        line: usize,
    },
    /// A required cell is empty.
    #[error("{path}:{line}: column `{column}`: empty")]
    EmptyCell {
        /// The file.
        path: PathBuf,
        /// The row's line.
        line: usize,
        /// The cell's column.
        column: &'static str,
    },
    /// A numeric cell does not parse as a number.
    #[error("{path}:{line}: column `{column}`: not a number: {value:?}")]
    NotANumber {
        /// The file.
        path: PathBuf,
        /// The row's line.
        line: usize,
        /// The cell's column.
        column: &'static str,
        /// The text found (at most 40 characters).
        value: String,
    },
    /// A number no measurement can have: infinite, NaN, negative, or zero where it divides.
    #[error("{path}:{line}: column `{column}`: {value:?} must be {expected}")]
    OutOfRange {
        /// The file.
        path: PathBuf,
        /// The row's line.
        line: usize,
        /// The cell's column.
        column: &'static str,
        /// The text found.
        value: String,
        /// The accepted range, in words.
        expected: &'static str,
    },
    /// A technique the model does not know.
    #[error(
        "{path}:{line}: column `{column}`: unknown technique {value:?} (precopy/original, auto-converge, xbzrle, compress, postcopy/x-postcopy-ram)"
    )]
    UnknownTechnique {
        /// The file.
        path: PathBuf,
        /// The row's line.
        line: usize,
        /// The cell's column.
        column: &'static str,
        /// The text found (at most 40 characters).
        value: String,
    },
}

/// QEMU's default `downtime-limit`, which the SoCC 2017 study did not change.
pub const SOCC_DOWNTIME_LIMIT_MS: f64 = 300.0;

/// When the SoCC 2017 study switched its post-copy runs over: at once (`migrate-start-postcopy`
/// with the migration), before any pre-copy pass. Its data says so: each of its 3,465 post-copy
/// runs sent its guest once (0.98-1.12 times VM_SIZE, median 1.006, whatever the dirty rate, up
/// to 37,000 pages/s), where a pre-copy pass before the switch would have re-sent what the guest
/// dirtied during it; and the pauses are 1-3 ms with idle and busy guests alike.
pub const SOCC_POSTCOPY_AFTER_ROUNDS: u32 = 0;

/// A technique by its promig name ([`Technique::name`]), its SoCC 2017 name or its QEMU
/// capability name (`original`, `x-postcopy-ram`, `postcopy-ram`), case-insensitively, so either
/// layout's files read without renaming.
pub fn technique_from_name(name: &str) -> Option<Technique> {
    let name = name.trim().to_ascii_lowercase();
    Technique::from_name(&name).or(match name.as_str() {
        "original" => Some(Technique::Precopy),
        "x-postcopy-ram" | "postcopy-ram" => Some(Technique::Postcopy),
        _ => None,
    })
}

/// Reads a migration history CSV in either layout (see the module documentation).
pub fn read_history(path: &Path) -> Result<Vec<HistoryRow>, HistoryError> {
    let text = std::fs::read_to_string(path).map_err(|source| HistoryError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_history(&text, path)
}

/// Parses migration history text in either layout; `path` only names the source in errors.
pub fn parse_history(text: &str, path: &Path) -> Result<Vec<HistoryRow>, HistoryError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let (header_line, header) = lines.next().ok_or_else(|| HistoryError::Empty {
        path: path.to_path_buf(),
    })?;
    let names = split_fields(header).ok_or_else(|| HistoryError::Unterminated {
        path: path.to_path_buf(),
        line: header_line,
    })?;
    let columns = Columns::new(&names, path, header_line)?;
    let rows = lines
        .map(|(line, l)| {
            let fields = split_fields(l).ok_or_else(|| HistoryError::Unterminated {
                path: path.to_path_buf(),
                line,
            })?;
            if fields.len() != names.len() {
                return Err(HistoryError::FieldCount {
                    path: path.to_path_buf(),
                    line,
                    found: fields.len(),
                    expected: names.len(),
                });
            }
            Row { path, line, fields }.read(&columns)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if rows.is_empty() {
        return Err(HistoryError::NoRows {
            path: path.to_path_buf(),
            line: header_line,
        });
    }
    Ok(rows)
}

/// Splits one CSV line; double-quoted fields may hold commas and `""` for a quote. `None` when a
/// quote is left open. Hand-written rather than the `csv` crate: history rows are single lines,
/// and `csv` reads an unclosed quote on to the end of the file as one field, so the error would
/// name a field count on the wrong line instead of the line where the quote opened.
fn split_fields(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            (',', false) => fields.push(std::mem::take(&mut field).trim().to_string()),
            _ => field.push(c),
        }
    }
    if quoted {
        return None;
    }
    fields.push(field.trim().to_string());
    Some(fields)
}

/// Which column holds each figure, per layout.
enum Columns {
    Socc {
        technique: usize,
        workload: usize,
        bandwidth: usize,
        dirty: usize,
        vm_size: usize,
        rate: usize,
        total: usize,
        downtime: usize,
        transferred: usize,
    },
    QueryMigrate {
        technique: usize,
        memory: Option<usize>,
        dirty: usize,
        link: usize,
        max_bandwidth: usize,
        downtime_limit: usize,
        total: usize,
        downtime: usize,
        transferred: usize,
        workload: Option<usize>,
        syncs: Option<usize>,
        ram_total: Option<usize>,
    },
}

const SOCC_TECHNIQUE: &str = "Migration Technique";
const SOCC_WORKLOAD: &str = "Workload";
const SOCC_BANDWIDTH: &str = "Available Network Bandwidth (mbps)";
const SOCC_DIRTY: &str = "Page Dirty Rate (4KB pages per second)";
const SOCC_VM_SIZE: &str = "VM_SIZE (MB)";
const SOCC_RATE: &str = "Page transfer rate (MB/s)";
const SOCC_TOTAL: &str = "Total Migration Time (ms)";
const SOCC_DOWNTIME: &str = "Downtime (ms)";
const SOCC_TRANSFERRED: &str = "Total Transferred Data (KB)";

impl Columns {
    fn new(names: &[String], path: &Path, line: usize) -> Result<Columns, HistoryError> {
        let find = |column: &str| names.iter().position(|n| n == column);
        let need = |column: &'static str| {
            find(column).ok_or_else(|| HistoryError::MissingColumn {
                path: path.to_path_buf(),
                line,
                column,
            })
        };
        if find(SOCC_TECHNIQUE).is_some() {
            return Ok(Columns::Socc {
                technique: need(SOCC_TECHNIQUE)?,
                workload: need(SOCC_WORKLOAD)?,
                bandwidth: need(SOCC_BANDWIDTH)?,
                dirty: need(SOCC_DIRTY)?,
                vm_size: need(SOCC_VM_SIZE)?,
                rate: need(SOCC_RATE)?,
                total: need(SOCC_TOTAL)?,
                downtime: need(SOCC_DOWNTIME)?,
                transferred: need(SOCC_TRANSFERRED)?,
            });
        }
        if find("technique").is_some() {
            let ram_total = find("ram_total_kib");
            let memory = match ram_total {
                Some(_) => find("memory_mib"),
                None => Some(need("memory_mib")?),
            };
            return Ok(Columns::QueryMigrate {
                technique: need("technique")?,
                memory,
                dirty: need("dirty_pages_rate")?,
                link: need("link_mbps")?,
                max_bandwidth: need("max_bandwidth_mib_s")?,
                downtime_limit: need("downtime_limit_ms")?,
                total: need("total_time_ms")?,
                downtime: need("downtime_ms")?,
                transferred: need("ram_transferred_kib")?,
                workload: find("workload"),
                syncs: find("dirty_sync_count"),
                ram_total,
            });
        }
        Err(HistoryError::UnknownLayout {
            path: path.to_path_buf(),
            line,
            header: excerpt(&names.join(",")),
        })
    }
}

/// What a number may be.
#[derive(Clone, Copy)]
enum Range {
    /// Finite and > 0 (sizes and rates the model divides by).
    Positive,
    /// Finite and >= 0.
    NonNegative,
}

/// One data row, split, with its line.
struct Row<'a> {
    path: &'a Path,
    line: usize,
    fields: Vec<String>,
}

impl Row<'_> {
    fn text(&self, at: usize, column: &'static str) -> Result<&str, HistoryError> {
        let text = self.fields[at].as_str();
        if text.is_empty() {
            return Err(HistoryError::EmptyCell {
                path: self.path.to_path_buf(),
                line: self.line,
                column,
            });
        }
        Ok(text)
    }

    /// The cell, or `None` when the column is absent or the cell empty.
    fn optional(&self, at: Option<usize>) -> Option<&str> {
        at.map(|i| self.fields[i].as_str())
            .filter(|t| !t.is_empty())
    }

    fn number(&self, at: usize, column: &'static str, range: Range) -> Result<f64, HistoryError> {
        let text = self.text(at, column)?;
        let value = text.parse::<f64>().map_err(|_| HistoryError::NotANumber {
            path: self.path.to_path_buf(),
            line: self.line,
            column,
            value: excerpt(text),
        })?;
        let (ok, expected) = match range {
            Range::Positive => (value > 0.0, "a finite number > 0"),
            Range::NonNegative => (value >= 0.0, "a finite number >= 0"),
        };
        if !(ok && value.is_finite()) {
            return Err(HistoryError::OutOfRange {
                path: self.path.to_path_buf(),
                line: self.line,
                column,
                value: excerpt(text),
                expected,
            });
        }
        Ok(value)
    }

    fn technique(&self, at: usize, column: &'static str) -> Result<Technique, HistoryError> {
        let text = self.text(at, column)?;
        technique_from_name(text).ok_or_else(|| HistoryError::UnknownTechnique {
            path: self.path.to_path_buf(),
            line: self.line,
            column,
            value: excerpt(text),
        })
    }

    fn read(&self, columns: &Columns) -> Result<HistoryRow, HistoryError> {
        use Range::{NonNegative, Positive};
        let (measurement, workload) = match *columns {
            Columns::Socc {
                technique,
                workload,
                bandwidth,
                dirty,
                vm_size,
                rate,
                total,
                downtime,
                transferred,
            } => {
                let memory_mib = self.number(vm_size, SOCC_VM_SIZE, Positive)?;
                let m = Measurement {
                    technique: self.technique(technique, SOCC_TECHNIQUE)?,
                    memory_mib,
                    // Not reported: the whole guest.
                    touched_mib: memory_mib,
                    wws_mib: memory_mib,
                    dirty_pages_per_s: self.number(dirty, SOCC_DIRTY, NonNegative)?,
                    link_mbps: self.number(bandwidth, SOCC_BANDWIDTH, Positive)?,
                    max_bandwidth_bytes_s: self.number(rate, SOCC_RATE, Positive)? * crate::MIB,
                    downtime_limit_ms: SOCC_DOWNTIME_LIMIT_MS,
                    total_ms: self.number(total, SOCC_TOTAL, NonNegative)?,
                    downtime_ms: self.number(downtime, SOCC_DOWNTIME, NonNegative)?,
                    transferred_kib: self.number(transferred, SOCC_TRANSFERRED, NonNegative)?,
                    rounds: 0,
                    postcopy_after_rounds: SOCC_POSTCOPY_AFTER_ROUNDS,
                };
                (m, self.fields[workload].clone())
            }
            Columns::QueryMigrate {
                technique,
                memory,
                dirty,
                link,
                max_bandwidth,
                downtime_limit,
                total,
                downtime,
                transferred,
                workload,
                syncs,
                ram_total,
            } => {
                let from_total = |at| -> Result<f64, HistoryError> {
                    Ok(self.number(at, "ram_total_kib", Positive)? / 1024.0)
                };
                let memory_mib = match (ram_total, memory) {
                    (Some(at), _) if self.optional(Some(at)).is_some() => from_total(at)?,
                    (_, Some(at)) => self.number(at, "memory_mib", Positive)?,
                    // No memory_mib column: the empty ram_total_kib cell is the error to report.
                    (Some(at), None) => from_total(at)?,
                    (None, None) => {
                        unreachable!("Columns::new requires memory_mib or ram_total_kib")
                    }
                };
                let rounds = match syncs {
                    Some(at) if self.optional(Some(at)).is_some() => {
                        let n = self.number(at, "dirty_sync_count", NonNegative)?;
                        if n.fract() != 0.0 || n > f64::from(u32::MAX) {
                            return Err(HistoryError::OutOfRange {
                                path: self.path.to_path_buf(),
                                line: self.line,
                                column: "dirty_sync_count",
                                value: excerpt(&self.fields[at]),
                                expected: "a whole number of rounds",
                            });
                        }
                        n as u32
                    }
                    _ => 0,
                };
                let m = Measurement {
                    technique: self.technique(technique, "technique")?,
                    memory_mib,
                    touched_mib: memory_mib,
                    wws_mib: memory_mib,
                    dirty_pages_per_s: self.number(dirty, "dirty_pages_rate", NonNegative)?,
                    link_mbps: self.number(link, "link_mbps", Positive)?,
                    max_bandwidth_bytes_s: self.number(
                        max_bandwidth,
                        "max_bandwidth_mib_s",
                        Positive,
                    )? * crate::MIB,
                    downtime_limit_ms: self.number(
                        downtime_limit,
                        "downtime_limit_ms",
                        NonNegative,
                    )?,
                    total_ms: self.number(total, "total_time_ms", NonNegative)?,
                    downtime_ms: self.number(downtime, "downtime_ms", NonNegative)?,
                    transferred_kib: self.number(
                        transferred,
                        "ram_transferred_kib",
                        NonNegative,
                    )?,
                    rounds,
                    postcopy_after_rounds: TechniqueParams::default().postcopy_after_rounds,
                };
                (m, self.optional(workload).unwrap_or("").to_string())
            }
        };
        Ok(HistoryRow {
            measurement,
            workload,
            line: self.line,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOCC_HEADER: &str = "Migration ID,Migration Technique,Workload,Available Network Bandwidth (mbps),Page Dirty Rate (4KB pages per second),VM_SIZE (MB),Page transfer rate (MB/s),Total Migration Time (ms),Downtime (ms),Total Transferred Data (KB)";
    const QMP_HEADER: &str = "technique,memory_mib,dirty_pages_rate,link_mbps,max_bandwidth_mib_s,downtime_limit_ms,total_time_ms,downtime_ms,ram_transferred_kib,workload,dirty_sync_count,ram_total_kib";

    fn parse(text: &str) -> Result<Vec<HistoryRow>, HistoryError> {
        parse_history(text, Path::new("h.csv"))
    }

    fn socc(row: &str) -> Result<Vec<HistoryRow>, HistoryError> {
        parse(&format!("{SOCC_HEADER}\n{row}\n"))
    }

    #[test]
    fn socc_rows_map_to_measurements() {
        let rows =
            socc("1463735632,auto-converge,mplayer,884,5058,631.46484375,150,6410,277,691971")
                .unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!((r.line, r.workload.as_str()), (2, "mplayer"));
        let m = &r.measurement;
        assert_eq!(m.technique, Technique::AutoConverge);
        assert_eq!(m.memory_mib, 631.46484375);
        assert_eq!((m.touched_mib, m.wws_mib), (m.memory_mib, m.memory_mib));
        assert_eq!(m.dirty_pages_per_s, 5058.0);
        assert_eq!(m.link_mbps, 884.0);
        assert_eq!(m.max_bandwidth_bytes_s, 150.0 * 1048576.0);
        assert_eq!(m.downtime_limit_ms, 300.0);
        assert_eq!((m.total_ms, m.downtime_ms), (6410.0, 277.0));
        assert_eq!(m.transferred_kib, 691971.0);
        assert_eq!(m.rounds, 0);
        // The study switched its post-copy runs over at once.
        assert_eq!(m.postcopy_after_rounds, SOCC_POSTCOPY_AFTER_ROUNDS);
        assert_eq!(
            m.model(crate::calibration::FITTED)
                .params
                .postcopy_after_rounds,
            0
        );
        for (name, t) in [
            ("original", Technique::Precopy),
            ("xbzrle", Technique::Xbzrle),
            ("compress", Technique::Compress),
            ("x-postcopy-ram", Technique::Postcopy),
        ] {
            let rows = socc(&format!("1,{name},mem,900,1,512,100,1000,10,500000")).unwrap();
            assert_eq!(rows[0].measurement.technique, t, "{name}");
        }
    }

    #[test]
    fn query_migrate_rows_map_to_measurements() {
        let text = format!(
            "# exported from the journal\n{QMP_HEADER}\n\nprecopy,4096,5120,10000,128,300,35210,212,4420332,redis,7,4194304\n\"postcopy-ram\",2048,0,1000,64,500,1000,5,3000,,,\n"
        );
        let rows = parse(&text).unwrap();
        assert_eq!(rows.len(), 2);
        let (a, b) = (&rows[0], &rows[1]);
        assert_eq!((a.line, a.workload.as_str()), (4, "redis"));
        assert_eq!(a.measurement.technique, Technique::Precopy);
        assert_eq!(a.measurement.memory_mib, 4096.0); // ram_total_kib = 4 GiB
        assert_eq!(a.measurement.rounds, 7);
        assert_eq!(a.measurement.max_bandwidth_bytes_s, 128.0 * 1048576.0);
        assert_eq!(a.measurement.transferred_kib, 4420332.0);
        assert_eq!((b.line, b.workload.as_str()), (5, ""));
        assert_eq!(b.measurement.technique, Technique::Postcopy);
        assert_eq!(b.measurement.memory_mib, 2048.0); // no ram_total: memory_mib
        assert_eq!(b.measurement.rounds, 0);
        // An operator's post-copy runs: the default plan (after the first pass).
        assert_eq!(b.measurement.postcopy_after_rounds, 1);
        // ram_total_kib alone is enough; promig names work too.
        let rows = parse("technique,dirty_pages_rate,link_mbps,max_bandwidth_mib_s,downtime_limit_ms,total_time_ms,downtime_ms,ram_transferred_kib,ram_total_kib\nauto-converge,1,1000,128,300,900,20,1000,1048576\n").unwrap();
        assert_eq!(rows[0].measurement.memory_mib, 1024.0);
        assert_eq!(rows[0].measurement.technique, Technique::AutoConverge);
    }

    #[test]
    fn empty_files_are_refused() {
        assert!(matches!(parse(""), Err(HistoryError::Empty { .. })));
        assert!(matches!(
            parse("# nothing\n\n"),
            Err(HistoryError::Empty { .. })
        ));
        let e = parse(&format!("{SOCC_HEADER}\n")).unwrap_err();
        assert!(matches!(e, HistoryError::NoRows { line: 1, .. }), "{e}");
        assert!(e.to_string().starts_with("h.csv:1: "), "{e}");
    }

    #[test]
    fn missing_columns_and_unknown_headers_are_named() {
        let header = SOCC_HEADER.replace(",Downtime (ms)", "");
        let e = parse(&format!(
            "{header}\n1,original,mem,900,1,512,100,1000,500000\n"
        ))
        .unwrap_err();
        assert!(
            matches!(
                e,
                HistoryError::MissingColumn {
                    line: 1,
                    column: "Downtime (ms)",
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            "h.csv:1: column `Downtime (ms)` missing from the header"
        );
        let e = parse(&format!("{}\n", QMP_HEADER.replace("link_mbps,", ""))).unwrap_err();
        assert!(
            matches!(
                e,
                HistoryError::MissingColumn {
                    column: "link_mbps",
                    ..
                }
            ),
            "{e}"
        );
        let e = parse("technique,dirty_pages_rate,link_mbps,max_bandwidth_mib_s,downtime_limit_ms,total_time_ms,downtime_ms,ram_transferred_kib\n").unwrap_err();
        assert!(
            matches!(
                e,
                HistoryError::MissingColumn {
                    column: "memory_mib",
                    ..
                }
            ),
            "{e}"
        );
        let e = parse("a,b,c\n1,2,3\n").unwrap_err();
        assert!(
            matches!(e, HistoryError::UnknownLayout { line: 1, .. }),
            "{e}"
        );
    }

    #[test]
    fn unknown_techniques_name_line_column_and_value() {
        let e = socc("1,teleport,mem,900,1,512,100,1000,10,500000").unwrap_err();
        assert!(
            matches!(&e, HistoryError::UnknownTechnique { line: 2, column: "Migration Technique", value, .. } if value == "teleport"),
            "{e}"
        );
        assert!(
            e.to_string()
                .starts_with("h.csv:2: column `Migration Technique`"),
            "{e}"
        );
    }

    #[test]
    fn bad_numbers_name_line_column_and_value() {
        let e = socc("1,original,mem,900,lots,512,100,1000,10,500000").unwrap_err();
        assert!(
            matches!(&e, HistoryError::NotANumber { line: 2, column: SOCC_DIRTY, value, .. } if value == "lots"),
            "{e}"
        );
        for (row, column) in [
            ("1,original,mem,900,NaN,512,100,1000,10,500000", SOCC_DIRTY),
            (
                "1,original,mem,inf,1,512,100,1000,10,500000",
                SOCC_BANDWIDTH,
            ),
            (
                "1,original,mem,900,1,512,100,1000,-10,500000",
                SOCC_DOWNTIME,
            ),
            ("1,original,mem,900,1,0,100,1000,10,500000", SOCC_VM_SIZE),
        ] {
            let e = socc(row).unwrap_err();
            assert!(
                matches!(&e, HistoryError::OutOfRange { line: 2, column: c, .. } if *c == column),
                "{row}: {e}"
            );
        }
        let e = socc("1,original,mem,900,,512,100,1000,10,500000").unwrap_err();
        assert!(
            matches!(
                e,
                HistoryError::EmptyCell {
                    column: SOCC_DIRTY,
                    ..
                }
            ),
            "{e}"
        );
        let e = parse(&format!(
            "{QMP_HEADER}\nprecopy,4096,5120,10000,128,300,35210,212,4420332,redis,7.5,\n"
        ))
        .unwrap_err();
        assert!(
            matches!(
                e,
                HistoryError::OutOfRange {
                    column: "dirty_sync_count",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn ragged_rows_and_open_quotes_are_refused() {
        let e = socc("1,original,mem,900,1,512,100,1000,10").unwrap_err();
        assert!(
            matches!(
                e,
                HistoryError::FieldCount {
                    line: 2,
                    found: 9,
                    expected: 10,
                    ..
                }
            ),
            "{e}"
        );
        let e = socc("1,\"original,mem,900,1,512,100,1000,10,500000").unwrap_err();
        assert!(
            matches!(e, HistoryError::Unterminated { line: 2, .. }),
            "{e}"
        );
    }

    #[test]
    fn quoted_fields_may_hold_commas() {
        assert_eq!(
            split_fields(r#"a, "b,c" ,"say ""hi""",,"#).unwrap(),
            ["a", "b,c", "say \"hi\"", "", ""]
        );
    }
}
