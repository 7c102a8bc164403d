//! The controller's configuration: which world it watches (`sim` or real hosts), how plans are
//! approved, the limits operators expect, and the inventory of hosts and VMs. A bad file is
//! rejected at start with its path, line and field, before anything is acted upon: a daemon that
//! starts on a half-understood inventory could move the wrong VM.

use crate::error::ControllerError;
use promig_model::toml_text::{key_on_line, line_of};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerConfig {
    /// The loop, the API and the journal.
    #[serde(default)]
    pub controller: LoopConfig,
    /// Operator limits on what runs at once.
    #[serde(default)]
    pub limits: Limits,
    /// The world when `driver = "sim"`.
    #[serde(default)]
    pub sim: SimWorldConfig,
    /// Real hosts (for the `qemu` and `noop` drivers).
    #[serde(default, rename = "host")]
    pub hosts: Vec<HostEntry>,
    /// Real VMs (for the `qemu` and `noop` drivers).
    #[serde(default, rename = "vm")]
    pub vms: Vec<VmEntry>,
}

/// Which executor carries out approved plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DriverKind {
    /// The simulator is the world: its telemetry, its clock, its migrations.
    #[default]
    Sim,
    /// Real QEMU VMs over QMP.
    Qemu,
    /// Record plans only; nothing moves.
    Noop,
}

/// Who approves a recommended plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Approval {
    /// The controller approves its own plans (unless the kill switch is engaged).
    #[default]
    Auto,
    /// An operator approves each plan through the API.
    Manual,
}

/// The loop, the API and the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoopConfig {
    /// Executor.
    pub driver: DriverKind,
    /// Decision policy by its registry name (`proactive-greedy`, `rl`, ...).
    pub policy: String,
    /// Approval mode.
    pub approval: Approval,
    /// Wall time between two decision rounds.
    pub tick_ms: u64,
    /// HTTP API address.
    pub listen: SocketAddr,
    /// SQLite journal; relative paths are relative to the config file.
    pub journal: PathBuf,
    /// Finished plans (and their state changes) are kept this long (world seconds), then
    /// pruned, so the journal does not grow without bound; 0 keeps everything. Open plans are
    /// always kept.
    pub journal_keep_s: f64,
    /// Migration cost profile (`kvm`, `tcg` or a TOML file) the planner prices moves with.
    pub calibration: String,
    /// A recommended plan nobody approved, or an approved one that found no slot, is superseded
    /// after this long (world seconds).
    pub plan_ttl_s: f64,
    /// Risk at or above which a host is "at risk": never a destination.
    pub destination_risk_max: f64,
    /// Margin kept between a migration's predicted end and the predicted failure.
    pub deadline_margin_s: f64,
    /// Share of the migration link a pre-copy stream may use (QEMU `max-bandwidth`, never above
    /// QEMU's 128 MiB/s default), in (0, 1]. Below 1 the stream's bursts drain before QEMU
    /// decides to stop the VM, so the pause does not wait behind queued data (see
    /// `core::LINK_HEADROOM`, the default).
    pub link_headroom: f64,
    /// `qemu` driver: the shell command (run with `sh -c`) that starts a VM's incoming QEMU on
    /// a destination host, with `-incoming defer` and its QMP socket at `{qmp}`. It must return
    /// once QEMU is up (`-daemonize`, `systemd-run`, `ssh host ...`): the controller does not
    /// own the VMs it moves, so a controller restart never takes a VM down with it.
    /// Placeholders: `{vm}`, `{host}`, `{qmp}`, `{memory_mib}`, `{address}` (the host's
    /// `migration_address`).
    pub incoming_command: Option<String>,
    /// `qemu` driver: where the incoming QEMU's QMP socket will be, with `{vm}` and `{host}`
    /// (distinct per VM and host, so two incoming VMs never share a socket). After a completed
    /// migration this becomes the VM's QMP path.
    pub incoming_qmp: Option<String>,
}

impl Default for LoopConfig {
    fn default() -> Self {
        LoopConfig {
            driver: DriverKind::Sim,
            policy: "proactive-greedy".into(),
            approval: Approval::Auto,
            tick_ms: 1000,
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            journal: PathBuf::from("promig-journal.sqlite"),
            journal_keep_s: 30.0 * 86_400.0,
            calibration: "kvm".into(),
            plan_ttl_s: 1800.0,
            destination_risk_max: 0.3,
            deadline_margin_s: 60.0,
            link_headroom: crate::core::LINK_HEADROOM,
            incoming_command: None,
            incoming_qmp: None,
        }
    }
}

/// What operators cap: Nova allows one incoming and one outgoing live migration per host by
/// default; a cooldown stops a VM from ping-ponging between two hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Migrations running at once, data centre wide.
    pub max_concurrent: usize,
    /// Migrations into or out of one host at once.
    pub max_per_host: usize,
    /// After a VM moved, no new plan for it for this long (world seconds).
    pub cooldown_s: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_concurrent: 8,
            max_per_host: 1,
            cooldown_s: 1800.0,
        }
    }
}

/// The simulated world of the `sim` driver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimWorldConfig {
    /// Scenario file; `None`: the built-in default scenario.
    pub scenario: Option<PathBuf>,
    /// Seed of the first episode (each later episode takes the next one).
    pub seed: u64,
    /// Simulated seconds per tick are the scenario's interval; this many ticks per episode
    /// (0: the scenario's own length).
    pub steps: usize,
}

impl Default for SimWorldConfig {
    fn default() -> Self {
        SimWorldConfig {
            scenario: None,
            seed: 21,
            steps: 0,
        }
    }
}

/// One real host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostEntry {
    /// Unique name (as plans and the API show it).
    pub name: String,
    /// Address incoming migrations listen on.
    pub migration_address: String,
    /// node_exporter's `/metrics` URL.
    pub exporter: String,
    /// Rack or site (correlated failures, uplink limits).
    #[serde(default)]
    pub rack: u32,
    /// Memory offered to VMs.
    pub memory_mib: f64,
    /// Cores offered to VMs.
    pub cores: u32,
    /// Rate of its migration link, Mbit/s: the planner prices a move out of this host with it.
    #[serde(default = "default_link_mbps")]
    pub link_mbps: f64,
}

fn default_link_mbps() -> f64 {
    1000.0
}

/// One real VM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmEntry {
    /// Unique name.
    pub name: String,
    /// Host it runs on at start.
    pub host: String,
    /// QMP socket path on its host.
    pub qmp: PathBuf,
    /// Guest memory.
    pub memory_mib: f64,
    /// VNF it runs, if any (QoS applies to it).
    #[serde(default)]
    pub vnf: Option<String>,
    /// Longest pause the VNF tolerates per incident.
    #[serde(default = "default_max_downtime_ms")]
    pub max_downtime_ms: f64,
}

fn default_max_downtime_ms() -> f64 {
    50.0
}

impl ControllerConfig {
    /// The `--demo` configuration: the sim driver on the default scenario, automatic approval, a
    /// fast tick so something happens within seconds of starting.
    pub fn demo(journal: PathBuf) -> Self {
        ControllerConfig {
            controller: LoopConfig {
                tick_ms: 500,
                journal,
                ..LoopConfig::default()
            },
            limits: Limits::default(),
            sim: SimWorldConfig::default(),
            hosts: Vec::new(),
            vms: Vec::new(),
        }
    }

    /// Reads and checks `path`; relative paths inside are resolved against its folder.
    pub fn load(path: &Path) -> Result<Self, ControllerError> {
        let text = std::fs::read_to_string(path).map_err(|source| ControllerError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Self::parse(&text, path)?;
        let base = path.parent().unwrap_or(Path::new(""));
        if config.controller.journal.is_relative() {
            config.controller.journal = base.join(&config.controller.journal);
        }
        if let Some(s) = &config.sim.scenario
            && s.is_relative()
        {
            config.sim.scenario = Some(base.join(s));
        }
        Ok(config)
    }

    /// Parses and checks config text; `path` only names the source in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ControllerError> {
        let config: ControllerConfig = toml::from_str(text).map_err(|e| {
            let (line, field) = match e.span() {
                Some(span) => {
                    let line = line_of(text, span.start);
                    (line, key_on_line(text, line))
                }
                None => (1, "?".into()),
            };
            ControllerError::Config {
                path: path.to_path_buf(),
                line,
                field,
                message: e.message().trim().replace('\n', " "),
            }
        })?;
        config.check(text, path)?;
        Ok(config)
    }

    fn check(&self, text: &str, path: &Path) -> Result<(), ControllerError> {
        let fail = |needle: &str, field: &str, message: String| ControllerError::Config {
            path: path.to_path_buf(),
            line: text.find(needle).map_or(1, |o| line_of(text, o)),
            field: field.to_string(),
            message,
        };
        let c = &self.controller;
        let positive = [
            ("tick_ms", c.tick_ms as f64),
            ("plan_ttl_s", c.plan_ttl_s),
            ("deadline_margin_s", c.deadline_margin_s + 1.0),
        ];
        for (field, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(fail(
                    field,
                    &format!("controller.{field}"),
                    "must be a positive number".into(),
                ));
            }
        }
        if !(c.journal_keep_s.is_finite() && c.journal_keep_s >= 0.0) {
            return Err(fail(
                "journal_keep_s",
                "controller.journal_keep_s",
                "must be a number of seconds, 0 or more (0 keeps every plan)".into(),
            ));
        }
        if !(c.link_headroom > 0.0 && c.link_headroom <= 1.0) {
            return Err(fail(
                "link_headroom",
                "controller.link_headroom",
                "must be a share of the link in (0, 1]".into(),
            ));
        }
        if !(0.0..=1.0).contains(&c.destination_risk_max) {
            return Err(fail(
                "destination_risk_max",
                "controller.destination_risk_max",
                "must be a probability in [0, 1]".into(),
            ));
        }
        if self.limits.max_concurrent == 0 || self.limits.max_per_host == 0 {
            return Err(fail(
                "max_",
                "limits",
                "max_concurrent and max_per_host must be at least 1 (use the kill switch to stop migrations)".into(),
            ));
        }
        if !(self.limits.cooldown_s.is_finite() && self.limits.cooldown_s >= 0.0) {
            return Err(fail(
                "cooldown_s",
                "limits.cooldown_s",
                "must be a number of seconds >= 0".into(),
            ));
        }
        let mut hosts = BTreeSet::new();
        for h in &self.hosts {
            let needle = format!("\"{}\"", h.name);
            if h.name.trim().is_empty() || !hosts.insert(h.name.as_str()) {
                return Err(fail(
                    &needle,
                    "host.name",
                    format!("host name {:?} is empty or used twice", h.name),
                ));
            }
            if !(h.memory_mib.is_finite() && h.memory_mib > 0.0)
                || h.cores == 0
                || !(h.link_mbps.is_finite() && h.link_mbps > 0.0)
            {
                return Err(fail(
                    &needle,
                    "host.memory_mib",
                    format!(
                        "host {}: memory_mib, cores and link_mbps must be positive",
                        h.name
                    ),
                ));
            }
        }
        let mut vms = BTreeSet::new();
        for v in &self.vms {
            let needle = format!("\"{}\"", v.name);
            if v.name.trim().is_empty() || !vms.insert(v.name.as_str()) {
                return Err(fail(
                    &needle,
                    "vm.name",
                    format!("VM name {:?} is empty or used twice", v.name),
                ));
            }
            if !hosts.contains(v.host.as_str()) {
                return Err(fail(
                    &format!("\"{}\"", v.host),
                    "vm.host",
                    format!("VM {}: host {:?} is not in the inventory", v.name, v.host),
                ));
            }
            let positive = |x: f64| x.is_finite() && x > 0.0;
            if !(positive(v.memory_mib) && positive(v.max_downtime_ms)) {
                return Err(fail(
                    &needle,
                    "vm.memory_mib",
                    format!(
                        "VM {}: memory_mib and max_downtime_ms must be positive",
                        v.name
                    ),
                ));
            }
        }
        if c.driver == DriverKind::Qemu {
            self.check_qemu(text, path)?;
        }
        if c.driver != DriverKind::Sim && self.hosts.len() < 2 {
            return Err(fail(
                "driver",
                "controller.driver",
                "the qemu and noop drivers need an inventory of at least two [[host]] entries"
                    .into(),
            ));
        }
        Ok(())
    }
}

impl ControllerConfig {
    /// What only the `qemu` driver needs: the incoming templates (with the placeholders that keep
    /// two VMs apart) and, per host, an IP to migrate to and a node_exporter URL to scrape.
    fn check_qemu(&self, text: &str, path: &Path) -> Result<(), ControllerError> {
        let fail = |needle: &str, field: &str, message: String| ControllerError::Config {
            path: path.to_path_buf(),
            line: text.find(needle).map_or(1, |o| line_of(text, o)),
            field: field.to_string(),
            message,
        };
        let c = &self.controller;
        let command = c.incoming_command.as_deref().unwrap_or("");
        if !command.contains("{qmp}") {
            return Err(fail(
                "incoming_command",
                "controller.incoming_command",
                "the qemu driver needs a command that starts the incoming QEMU with its QMP socket at {qmp}".into(),
            ));
        }
        let qmp = c.incoming_qmp.as_deref().unwrap_or("");
        if !(qmp.contains("{vm}") && qmp.contains("{host}")) {
            return Err(fail(
                "incoming_qmp",
                "controller.incoming_qmp",
                "the qemu driver needs a QMP socket path template with {vm} and {host}".into(),
            ));
        }
        for t in [command, qmp] {
            if let Some(bad) = unknown_placeholder(t) {
                return Err(fail(
                    &format!("{{{bad}}}"),
                    "controller.incoming_command",
                    format!(
                        "unknown placeholder {{{bad}}} (known: vm, host, qmp, memory_mib, address)"
                    ),
                ));
            }
        }
        for h in &self.hosts {
            let needle = format!("\"{}\"", h.migration_address);
            if h.migration_address.parse::<std::net::IpAddr>().is_err() {
                return Err(fail(
                    &needle,
                    "host.migration_address",
                    format!("host {}: migration_address must be an IP address", h.name),
                ));
            }
            if crate::qemu_world::exporter::split_url(&h.exporter).is_none() {
                return Err(fail(
                    &format!("\"{}\"", h.exporter),
                    "host.exporter",
                    format!(
                        "host {}: exporter must be an http://host:port/path URL",
                        h.name
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The first `{name}` in `template` that is not a known placeholder.
fn unknown_placeholder(template: &str) -> Option<String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}')?;
        let name = &after[..close];
        if !["vm", "host", "qmp", "memory_mib", "address"].contains(&name) {
            return Some(name.to_string());
        }
        rest = &after[close + 1..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ControllerConfig, ControllerError> {
        ControllerConfig::parse(text, Path::new("promig.toml"))
    }

    #[test]
    fn the_shipped_example_is_valid_and_says_the_defaults() {
        let text = include_str!("../../../contrib/promig.toml");
        let c = parse(text).unwrap();
        let defaults = parse("").unwrap();
        assert_eq!(c.controller, defaults.controller);
        assert_eq!(c.limits, defaults.limits);
        assert_eq!(c.sim, defaults.sim);
    }

    #[test]
    fn an_empty_file_is_the_sim_demo_with_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.controller.driver, DriverKind::Sim);
        assert_eq!(c.limits.max_per_host, 1);
        assert_eq!(c.controller.listen.to_string(), "127.0.0.1:8787");
    }

    #[test]
    fn errors_name_the_line_and_field() {
        let err = parse("[controller]\ntick_ms = 10\nlisten = \"nowhere\"\n").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("promig.toml:3") && text.contains("listen"),
            "{text}"
        );
        let err = parse("[limits]\ncooldown_s = -5\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains(":2") && err.contains("cooldown_s"), "{err}");
        let err = parse("[controller]\nspeed = 3\n").unwrap_err().to_string();
        assert!(err.contains(":2") && err.contains("speed"), "{err}");
        let err = parse("[controller]\ntick_ms = 10\njournal_keep_s = -1\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(":3") && err.contains("journal_keep_s"),
            "{err}"
        );
    }

    /// Two hosts of an inventory, for the tests that need some.
    const TWO_HOSTS: &str = r#"[[host]]
name = "a"
migration_address = "10.0.0.1"
exporter = "http://10.0.0.1:9100/metrics"
memory_mib = 4096
cores = 4

[[host]]
name = "b"
migration_address = "10.0.0.2"
exporter = "http://10.0.0.2:9100/metrics"
memory_mib = 4096
cores = 4
"#;

    #[test]
    fn an_inventory_is_checked_for_dangling_names() {
        let text = format!(
            r#"
[controller]
driver = "noop"

{TWO_HOSTS}
[[vm]]
name = "fw1"
host = "c"
qmp = "/run/fw1.qmp"
memory_mib = 512
"#
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains(":21") && err.contains("vm.host"), "{err}");
        assert!(parse(&text.replace("host = \"c\"", "host = \"a\"")).is_ok());
    }

    #[test]
    fn the_qemu_driver_needs_its_incoming_templates() {
        let text = format!(
            r#"
[controller]
driver = "qemu"
incoming_command = "ssh {{address}} qemu-start {{vm}} {{qmp}} {{memory_mib}}"
incoming_qmp = "/run/promig/{{vm}}@{{host}}.qmp"

{TWO_HOSTS}"#
        );
        let text = text.as_str();
        assert!(parse(text).is_ok(), "{:?}", parse(text));
        let err = parse(&text.replace(" {qmp}", "")).unwrap_err().to_string();
        assert!(
            err.contains(":4") && err.contains("incoming_command"),
            "{err}"
        );
        let err = parse(&text.replace("{vm}@", "")).unwrap_err().to_string();
        assert!(err.contains(":5") && err.contains("incoming_qmp"), "{err}");
        let err = parse(&text.replace("{memory_mib}", "{ram}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("{ram}"), "{err}");
        let err = parse(&text.replace("\"10.0.0.2\"", "\"host-b\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("migration_address"), "{err}");
        let err = parse(&text.replace("http://10.0.0.2:9100", "10.0.0.2"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("exporter"), "{err}");
    }
}
