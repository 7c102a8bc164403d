//! One host's node_exporter, read the way the predictor needs it: counters become rates (corrected
//! memory errors per hour, CPU busy share), gauges are taken as they are (hottest sensor, memory
//! available). A series the exporter does not carry is reported missing, never guessed: the
//! world counts it and the host's signal stays at its neutral value.

use crate::confidence::InputState;
use promig_telemetry::sources::prometheus::parser::{Line, parse_line};
use promig_telemetry::sources::prometheus::scrape::fetch;
use std::time::{Duration, Instant};

/// Largest exposition page read (a node_exporter page is about 100 KiB).
const MAX_BODY_BYTES: usize = 4 << 20;

/// `(address, path)` of an `http://host:port/path` URL, what a plain HTTP/1.0 GET needs; `None`
/// for anything else (https would need a TLS stack the controller does not carry).
pub fn split_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("http://")?;
    let (addr, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/metrics"),
    };
    let (host, port) = addr.rsplit_once(':')?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return None;
    }
    Some((addr.to_string(), path.to_string()))
}

/// The raw values of one scrape (counters as totals).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// Sum of `node_edac_correctable_errors_total` over controllers and csrows.
    pub edac_total: Option<f64>,
    /// Hottest `node_hwmon_temp_celsius` sensor.
    pub temp_max_c: Option<f64>,
    /// `node_memory_MemAvailable_bytes`.
    pub mem_available_bytes: Option<f64>,
    /// `node_cpu_seconds_total` summed over CPUs: (idle + iowait, all modes).
    pub cpu_seconds: Option<(f64, f64)>,
}

/// The series this world reads, by the name a missing one is counted under.
pub const SERIES: [&str; 4] = [
    "node_edac_correctable_errors_total",
    "node_hwmon_temp_celsius",
    "node_memory_MemAvailable_bytes",
    "node_cpu_seconds_total",
];

impl Sample {
    /// Reads the series of interest from an exposition page; the rest is skipped.
    pub fn parse(body: &[u8]) -> Sample {
        let mut s = Sample::default();
        let mut cpu: Option<(f64, f64)> = None;
        for line in body.split(|&b| b == b'\n') {
            let Line::Sample { key, value, .. } = parse_line(line) else {
                continue;
            };
            if !value.is_finite() {
                continue;
            }
            let name_end = key.iter().position(|&b| b == b'{').unwrap_or(key.len());
            let (name, labels) = key.split_at(name_end);
            match name {
                b"node_edac_correctable_errors_total" => {
                    *s.edac_total.get_or_insert(0.0) += value;
                }
                b"node_hwmon_temp_celsius" => {
                    s.temp_max_c = Some(s.temp_max_c.map_or(value, |t: f64| t.max(value)));
                }
                b"node_memory_MemAvailable_bytes" => s.mem_available_bytes = Some(value),
                b"node_cpu_seconds_total" => {
                    let idle =
                        contains(labels, b"mode=\"idle\"") || contains(labels, b"mode=\"iowait\"");
                    let c = cpu.get_or_insert((0.0, 0.0));
                    if idle {
                        c.0 += value;
                    }
                    c.1 += value;
                }
                _ => {}
            }
        }
        s.cpu_seconds = cpu;
        s
    }

    /// Which of [`SERIES`] this page carried, in that order.
    pub fn present(&self) -> [bool; 4] {
        [
            self.edac_total.is_some(),
            self.temp_max_c.is_some(),
            self.mem_available_bytes.is_some(),
            self.cpu_seconds.is_some(),
        ]
    }

    /// Names of the series this page lacked.
    pub fn missing(&self) -> Vec<&'static str> {
        SERIES
            .iter()
            .zip(self.present())
            .filter(|(_, p)| !p)
            .map(|(n, _)| *n)
            .collect()
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Fetches and parses one page within `timeout`.
pub async fn scrape(addr: &str, path: &str, timeout: Duration) -> Result<Sample, String> {
    let page = fetch(addr, path, timeout, MAX_BODY_BYTES)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Sample::parse(page.body()))
}

/// What the predictor reads of one host, derived from two scrapes in a row.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Signals {
    /// Corrected memory errors per hour over the last scrape interval.
    pub corrected_errors_per_h: f64,
    /// Hottest sensor.
    pub temperature_c: f64,
    /// CPU busy share over the last scrape interval, in [0, 1].
    pub utilization: f64,
    /// Memory available to new VMs, as the kernel sees it.
    pub mem_available_mib: Option<f64>,
}

/// A host's scrape history: the previous sample, to turn counters into rates.
#[derive(Debug, Default)]
pub struct HostTelemetry {
    last: Option<(Instant, Sample)>,
    /// When the last scrape succeeded.
    pub last_ok: Option<Instant>,
    /// The latest derived signals (kept while the exporter is briefly unreachable).
    pub signals: Signals,
    /// This round's scrape succeeded.
    answered: bool,
}

impl HostTelemetry {
    /// Takes in a fresh sample taken at `at`.
    pub fn update(&mut self, at: Instant, sample: Sample) {
        let mut sig = Signals {
            temperature_c: sample.temp_max_c.unwrap_or(0.0),
            mem_available_mib: sample.mem_available_bytes.map(|b| b / (1024.0 * 1024.0)),
            ..self.signals
        };
        if let Some((then, prev)) = &self.last {
            let dt = at.duration_since(*then).as_secs_f64();
            if dt > 0.0 {
                sig.corrected_errors_per_h = match (prev.edac_total, sample.edac_total) {
                    // A counter that went down was reset (driver reload, reboot): no rate.
                    (Some(a), Some(b)) if b >= a => (b - a) / dt * 3600.0,
                    _ => 0.0,
                };
                if let (Some((i0, t0)), Some((i1, t1))) = (prev.cpu_seconds, sample.cpu_seconds)
                    && t1 > t0
                {
                    sig.utilization = (1.0 - (i1 - i0) / (t1 - t0)).clamp(0.0, 1.0);
                }
            }
        }
        self.signals = sig;
        self.last = Some((at, sample));
        self.last_ok = Some(at);
        self.answered = true;
    }

    /// This round's scrape failed: the signals in use are the last ones read.
    pub fn unanswered(&mut self) {
        self.answered = false;
    }

    /// Each of [`SERIES`], at `now`: fresh, stale (with its age) or missing.
    pub fn series(&self, now: Instant) -> [InputState; 4] {
        let Some((at, sample)) = &self.last else {
            return [InputState::Missing; 4];
        };
        sample.present().map(|p| match (p, self.answered) {
            (false, _) => InputState::Missing,
            (true, true) => InputState::Fresh,
            (true, false) => InputState::Stale(now.saturating_duration_since(*at).as_secs_f64()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_address_and_path() {
        assert_eq!(
            split_url("http://10.0.0.1:9100/metrics"),
            Some(("10.0.0.1:9100".into(), "/metrics".into()))
        );
        assert_eq!(
            split_url("http://h:9100"),
            Some(("h:9100".into(), "/metrics".into()))
        );
        assert_eq!(split_url("https://h:9100/metrics"), None);
        assert_eq!(split_url("http://h/metrics"), None);
    }

    const PAGE: &str = "# HELP node_cpu_seconds_total x\n\
node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 90\n\
node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 10\n\
node_cpu_seconds_total{cpu=\"1\",mode=\"iowait\"} 0\n\
node_edac_correctable_errors_total{controller=\"0\",csrow=\"0\"} 3\n\
node_edac_correctable_errors_total{controller=\"0\",csrow=\"1\"} 2\n\
node_hwmon_temp_celsius{chip=\"a\",sensor=\"temp1\"} 51\n\
node_hwmon_temp_celsius{chip=\"a\",sensor=\"temp2\"} 64.5\n\
node_memory_MemAvailable_bytes 1.073741824e+09\n";

    #[test]
    fn a_page_gives_sums_maxima_and_cpu_split() {
        let s = Sample::parse(PAGE.as_bytes());
        assert_eq!(s.edac_total, Some(5.0));
        assert_eq!(s.temp_max_c, Some(64.5));
        assert_eq!(s.cpu_seconds, Some((90.0, 100.0)));
        assert!(s.missing().is_empty());
        let bare = Sample::parse(b"node_memory_MemAvailable_bytes 1\n");
        assert_eq!(
            bare.missing(),
            vec![
                "node_edac_correctable_errors_total",
                "node_hwmon_temp_celsius",
                "node_cpu_seconds_total"
            ]
        );
    }

    #[test]
    fn counters_become_rates_and_resets_are_not_negative() {
        let t0 = Instant::now();
        let mut h = HostTelemetry::default();
        h.update(t0, Sample::parse(PAGE.as_bytes()));
        assert_eq!(h.signals.corrected_errors_per_h, 0.0);
        let later = PAGE
            .replace("csrow=\"1\"} 2", "csrow=\"1\"} 4")
            .replace("mode=\"idle\"} 90", "mode=\"idle\"} 91")
            .replace("mode=\"user\"} 10", "mode=\"user\"} 13");
        h.update(t0 + Duration::from_secs(2), Sample::parse(later.as_bytes()));
        assert!((h.signals.corrected_errors_per_h - 3600.0).abs() < 1e-6);
        assert!((h.signals.utilization - 0.75).abs() < 1e-9);
        assert_eq!(h.signals.temperature_c, 64.5);
        h.update(t0 + Duration::from_secs(3), Sample::parse(PAGE.as_bytes()));
        assert_eq!(h.signals.corrected_errors_per_h, 0.0);
    }

    #[test]
    fn series_are_fresh_stale_or_missing() {
        use InputState::*;
        let t0 = Instant::now();
        let mut h = HostTelemetry::default();
        assert_eq!(h.series(t0), [Missing; 4], "never scraped");
        h.update(
            t0,
            Sample::parse(b"node_hwmon_temp_celsius 50\nnode_cpu_seconds_total{mode=\"idle\"} 1\n"),
        );
        assert_eq!(h.series(t0), [Missing, Fresh, Missing, Fresh]);
        h.unanswered();
        assert_eq!(
            h.series(t0 + Duration::from_secs(5)),
            [Missing, Stale(5.0), Missing, Stale(5.0)]
        );
    }
}
