//! The HTML report of `promig simulate --report DIR` and `promig evaluate --report DIR`: one
//! self-contained page (inline CSS and SVG, no script, no external URL) that can be mailed,
//! archived with a paper's artefacts or opened offline, showing per policy what the tables show
//! (with 95 % interval whiskers for an evaluation), each troubled host's predicted risk against
//! the faults that really happened (for a simulation), and the RL agent's learning curve when
//! `rl` took part.

pub mod svg;

use crate::EvalError;
use crate::compare::{Comparison, Interval};
use promig_model::{Decision, Observation};
use promig_policy::Policy;
use promig_sim::Report;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use svg::{Bar, HostRow, Series, escape};

/// Most hosts a timeline shows: beyond a dozen rows nobody reads it, and the page stays small
/// even for CloudSim's 800 hosts.
pub const MAX_TIMELINE_HOSTS: usize = 12;

/// Risk below which a host without a fault is left out of the timeline (it had nothing to show).
const QUIET_RISK: f64 = 0.2;

/// The file a report is written to inside `--report DIR`.
pub const REPORT_FILE: &str = "report.html";

/// What a run looked like over time, for the timeline: the risks the policy was given at each
/// decision point and the migrations it asked for. Recorded by [`Recording`] while the run goes
/// on, since the simulator's [`Report`] keeps only totals and the faults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    /// The policy that ran.
    pub policy: String,
    /// Host names by index.
    pub host_names: Vec<String>,
    /// Decision points: time and each host's predicted risk (empty without a predictor).
    pub steps: Vec<(f64, Vec<f64>)>,
    /// Migrations the policy asked for: time, VM, source host (if placed), destination.
    pub migrations: Vec<MigrationMark>,
}

/// One migration decision on the timeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MigrationMark {
    /// When it was decided.
    pub time_s: f64,
    /// The VM.
    pub vm: usize,
    /// The host it left, if it had one.
    pub from: Option<usize>,
    /// Its destination.
    pub to: usize,
}

impl Timeline {
    /// Whether the policy was given predictions (the risk lines are then drawn).
    pub fn has_risks(&self) -> bool {
        self.steps.iter().any(|(_, r)| !r.is_empty())
    }
}

/// A policy wrapper that records what the policy saw and asked for into a [`Timeline`], and
/// otherwise passes every call through unchanged, so a recorded run equals an unrecorded one.
pub struct Recording<'a> {
    /// The policy.
    pub inner: &'a mut dyn Policy,
    /// Where the record goes.
    pub timeline: &'a mut Timeline,
}

impl Policy for Recording<'_> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn decide(&mut self, obs: &Observation) -> Vec<Decision> {
        let decisions = self.inner.decide(obs);
        self.timeline.steps.push((
            obs.time_s,
            obs.risks.iter().map(|r| r.probability).collect(),
        ));
        for d in &decisions {
            self.timeline.migrations.push(MigrationMark {
                time_s: obs.time_s,
                vm: d.vm,
                from: obs.vms.get(d.vm).and_then(|v| v.host),
                to: d.to,
            });
        }
        decisions
    }

    fn uses_predictions(&self) -> bool {
        self.inner.uses_predictions()
    }

    fn place(&mut self, obs: &Observation, vms: &[usize]) -> Vec<Option<usize>> {
        self.inner.place(obs, vms)
    }

    fn use_calibration(&mut self, profile: &promig_migrate::Profile) {
        self.inner.use_calibration(profile)
    }

    fn explanations(&mut self) -> Vec<promig_model::Explanation> {
        self.inner.explanations()
    }
}

/// The learning curve of the committed RL model (`promig train`'s CSV beside its weights), built
/// in like the weights themselves so a report shows it wherever the binary runs.
pub const RL_CURVE_CSV: &str = include_str!("../../../agent/models/rl.csv");

/// [`RL_CURVE_CSV`] parsed: (episode, reward).
pub fn committed_rl_curve() -> Result<Vec<(f64, f64)>, EvalError> {
    parse_learning_curve(RL_CURVE_CSV, Path::new("crates/agent/models/rl.csv"))
}

/// Whether a policy name (as given on the command line) is the RL agent whose curve
/// [`RL_CURVE_CSV`] is: `rl` (with or without parameter values), not `rl-linear`.
pub fn is_committed_rl(policy: &str) -> bool {
    crate::run::registry()
        .resolve(policy)
        .is_ok_and(|r| r.spec.name == "rl")
}

/// Reads a learning curve written by `promig train` (CSV with `episode` and `reward` columns).
pub fn read_learning_curve(path: &Path) -> Result<Vec<(f64, f64)>, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|e| EvalError::File {
        file: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    parse_learning_curve(&text, path)
}

/// Parses a learning curve's CSV text (`file` names it in errors), as [`read_learning_curve`].
pub fn parse_learning_curve(text: &str, file: &Path) -> Result<Vec<(f64, f64)>, EvalError> {
    let bad = |reason: String| EvalError::File {
        file: file.to_path_buf(),
        reason,
    };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| bad(format!("no `{name}` column in the header")))
    };
    let (e, r) = (col("episode")?, col("reward")?);
    let mut points = Vec::new();
    for (n, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        let num = |i: usize| {
            cells
                .get(i)
                .and_then(|c| c.trim().parse::<f64>().ok())
                .ok_or_else(|| bad(format!("line {}: not a number in column {}", n + 2, i + 1)))
        };
        points.push((num(e)?, num(r)?));
    }
    Ok(points)
}

/// Writes `html` to `DIR/report.html` (creating `DIR`); returns the file's path.
pub fn write(dir: &Path, html: &str) -> Result<PathBuf, EvalError> {
    let path = dir.join(REPORT_FILE);
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, html))
        .map_err(|e| EvalError::File {
            file: path.clone(),
            reason: e.to_string(),
        })?;
    Ok(path)
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;\
max-width:760px;padding:1rem;color:#111;background:#fff;line-height:1.45}\
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}\
figure{margin:1rem 0}svg.chart{max-width:100%;height:auto;display:block}\
figcaption{font-size:.9rem;color:#333}table{border-collapse:collapse;font-size:.85rem;\
display:block;overflow-x:auto}th,td{border:1px solid #bbb;padding:.25rem .5rem;text-align:right}\
th:first-child,td:first-child{text-align:left}p.note{font-size:.9rem;color:#333}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{t}</h1>\n{body}</main>\n</body>\n</html>\n",
        t = escape(title)
    )
}

fn figure(svg: &str, caption: &str) -> String {
    format!(
        "<figure>\n{svg}\n<figcaption>{}</figcaption>\n</figure>\n",
        escape(caption)
    )
}

/// The five per-policy metrics: id, title, unit, and how to read one from a report.
type Metric = (&'static str, &'static str, &'static str, fn(&Report) -> f64);

const METRICS: [Metric; 5] = [
    ("downtime", "VNF downtime", "seconds", |r| r.downtime_s),
    ("loss", "Packet loss", "% of packets", |r| {
        r.loss_rate * 100.0
    }),
    ("qos", "QoS-violation time", "seconds", |r| {
        r.qos_violation_s
    }),
    ("migrations", "Migrations", "migrations", |r| {
        r.migrations as f64
    }),
    ("energy", "Energy", "kWh", |r| r.energy_kwh),
];

/// The learning curve as one chart: reward per episode and its moving average over 20 episodes
/// (the trend through the episode-to-episode noise).
fn curve_chart(curve: &[(f64, f64)]) -> String {
    const WINDOW: usize = 20;
    let avg: Vec<(f64, f64)> = (0..curve.len())
        .map(|i| {
            let lo = i.saturating_sub(WINDOW - 1);
            let w = &curve[lo..=i];
            (
                curve[i].0,
                w.iter().map(|p| p.1).sum::<f64>() / w.len() as f64,
            )
        })
        .collect();
    svg::line_chart(
        "curve",
        "RL agent: reward per training episode",
        "episode",
        "reward",
        &[
            Series {
                name: "reward".into(),
                points: curve.to_vec(),
            },
            Series {
                name: format!("mean of last {WINDOW}"),
                points: avg,
            },
        ],
    )
}

/// The learning curve as a standalone SVG file (what `promig train` writes beside its CSV, so
/// the curve can be looked at without a report or a plotting tool).
pub fn learning_curve_svg(curve: &[(f64, f64)]) -> String {
    let chart = curve_chart(curve);
    let body = chart.strip_prefix("<svg ").unwrap_or(&chart);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" {body}\n"
    )
}

fn curve_section(curve: &[(f64, f64)]) -> String {
    let chart = curve_chart(curve);
    format!(
        "<h2>RL agent's learning curve</h2>\n{}",
        figure(
            &chart,
            "Training reward of the committed model (crates/agent/models/rl.csv): minus downtime, loss, QoS-violation time and a cost per migration."
        )
    )
}

fn timeline_section(timeline: &Timeline, report: &Report) -> String {
    let n = timeline.host_names.len().max(report.hosts);
    let name = |h: usize| {
        timeline
            .host_names
            .get(h)
            .cloned()
            .unwrap_or_else(|| format!("host {h}"))
    };
    let mut rows: Vec<(bool, f64, HostRow)> = (0..n)
        .map(|h| {
            let risk: Vec<(f64, f64)> = timeline
                .steps
                .iter()
                .filter_map(|(t, r)| r.get(h).map(|p| (*t, *p)))
                .collect();
            let faults: Vec<(String, f64, Option<f64>)> = report
                .faults
                .iter()
                .filter(|f| f.host == h)
                .map(|f| (format!("{:?}", f.cause), f.onset_s, f.strike_s))
                .collect();
            let migrations_out = timeline
                .migrations
                .iter()
                .filter(|m| m.from == Some(h))
                .map(|m| m.time_s)
                .collect();
            let peak = risk.iter().map(|p| p.1).fold(0.0f64, f64::max);
            (
                !faults.is_empty(),
                peak,
                HostRow {
                    name: name(h),
                    risk,
                    faults,
                    migrations_out,
                },
            )
        })
        .filter(|(fault, peak, _)| *fault || *peak >= QUIET_RISK)
        .collect();
    let troubled = rows.len();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.total_cmp(&a.1)));
    rows.truncate(MAX_TIMELINE_HOSTS);
    let rows: Vec<HostRow> = rows.into_iter().map(|r| r.2).collect();
    let start = timeline.steps.first().map_or(0.0, |s| s.0);
    let end = start + report.simulated_s;
    let chart = svg::timeline(
        "timeline",
        &format!("Predicted risk against faults ({})", timeline.policy),
        start,
        end,
        &rows,
    );
    let mut caption = format!(
        "{} of {} hosts had a fault or a predicted risk of at least {QUIET_RISK}; ",
        troubled, n
    );
    if troubled > rows.len() {
        let _ = write!(
            caption,
            "the {} shown are those with faults first, then the highest risk. ",
            rows.len()
        );
    } else {
        caption.push_str("all are shown. ");
    }
    if timeline.has_risks() {
        caption.push_str(
            "The line is the risk the predictor gave the policy at each decision point; ",
        );
    } else {
        caption.push_str("This policy ran without a predictor, so no risk line is drawn; ");
    }
    caption.push_str("triangles are migrations the policy asked for off the host (the simulator may have refused some).");
    format!(
        "<h2>Hosts: predicted risk against faults</h2>\n{}",
        figure(&chart, &caption)
    )
}

/// The page of `promig simulate --report`: per-policy bars for the five metrics, the timeline of
/// one run (`timeline` with that run's report), the learning curve if given.
pub fn simulate_page(
    reports: &[Report],
    timeline: Option<(&Timeline, &Report)>,
    curve: Option<&[(f64, f64)]>,
) -> String {
    let mut body = String::new();
    if let Some(r0) = reports.first() {
        let _ = writeln!(
            body,
            "<p>Scenario <strong>{}</strong>: {} hosts, {} VMs, {:.1} h simulated, seed {}; {} policies.</p>",
            escape(&r0.scenario),
            r0.hosts,
            r0.vms,
            r0.simulated_s / 3600.0,
            r0.seed,
            reports.len()
        );
    }
    body.push_str("<h2>Policies</h2>\n");
    for (id, title, unit, get) in METRICS {
        let bars: Vec<Bar> = reports
            .iter()
            .map(|r| Bar {
                label: r.policy.clone(),
                value: get(r),
                ci95: None,
            })
            .collect();
        body.push_str(&figure(
            &svg::bar_chart(id, title, unit, &bars),
            &format!("{title} per policy ({unit}), one run each."),
        ));
    }
    body.push_str(&metric_table(reports.iter().map(|r| {
        (
            r.policy.clone(),
            METRICS.iter().map(|m| format!("{:.3}", (m.3)(r))).collect(),
        )
    })));
    if let Some((t, r)) = timeline {
        body.push_str(&timeline_section(t, r));
    }
    if let Some(c) = curve {
        body.push_str(&curve_section(c));
    }
    page("promig simulate: report", &body)
}

fn metric_table(rows: impl Iterator<Item = (String, Vec<String>)>) -> String {
    let mut t = String::from(
        "<table>\n<caption>The figures in the charts</caption>\n<tr><th scope=\"col\">policy</th>",
    );
    for (_, title, unit, _) in METRICS {
        let _ = write!(
            t,
            "<th scope=\"col\">{} ({})</th>",
            escape(title),
            escape(unit)
        );
    }
    t.push_str("</tr>\n");
    for (policy, cells) in rows {
        let _ = write!(t, "<tr><th scope=\"row\">{}</th>", escape(&policy));
        for c in cells {
            let _ = write!(t, "<td>{}</td>", escape(&c));
        }
        t.push_str("</tr>\n");
    }
    t.push_str("</table>\n");
    t
}

/// The page of `promig evaluate --report`: per-policy means with 95 % interval whiskers for the
/// five metrics, the learning curve if given.
pub fn evaluate_page(c: &Comparison, curve: Option<&[(f64, f64)]>) -> String {
    let e = &c.episodes;
    let summary = c.summary();
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<p>Scenario <strong>{}</strong>{}: {} hosts, {} VMs, {} steps, calibration {}; seeds {}..={} ({} runs per policy). Bars are means, whiskers the 95 % confidence interval (Student t over the seeds).</p>",
        escape(&e.scenario),
        e.traces
            .as_deref()
            .map(|t| format!(" on {}", escape(t)))
            .unwrap_or_default(),
        e.hosts,
        e.vms,
        e.steps,
        escape(&e.calibration),
        c.seeds.first().copied().unwrap_or_default(),
        c.seeds.last().copied().unwrap_or_default(),
        c.seeds.len()
    );
    body.push_str("<h2>Policies</h2>\n");
    type Pick = fn(&crate::compare::PolicySummary) -> Interval;
    let picks: [(Pick, f64); 5] = [
        (|s| s.downtime_s, 1.0),
        (|s| s.loss_rate, 100.0),
        (|s| s.qos_violation_s, 1.0),
        (|s| s.migrations, 1.0),
        (|s| s.energy_kwh, 1.0),
    ];
    for ((id, title, unit, _), (pick, scale)) in METRICS.iter().zip(picks) {
        let bars: Vec<Bar> = summary
            .iter()
            .map(|(p, s)| {
                let i = pick(s);
                Bar {
                    label: p.clone(),
                    value: i.mean * scale,
                    ci95: Some([i.ci95[0] * scale, i.ci95[1] * scale]),
                }
            })
            .collect();
        body.push_str(&figure(
            &svg::bar_chart(id, title, unit, &bars),
            &format!("{title} per policy ({unit}): mean over the seeds with its 95 % interval."),
        ));
    }
    body.push_str(&metric_table(summary.iter().map(|(p, s)| {
        (
            p.clone(),
            picks
                .iter()
                .map(|(pick, scale)| {
                    let i = pick(s);
                    format!(
                        "{:.3} [{:.3}, {:.3}]",
                        i.mean * scale,
                        i.ci95[0] * scale,
                        i.ci95[1] * scale
                    )
                })
                .collect(),
        )
    })));
    if let Some(curve) = curve {
        body.push_str(&curve_section(curve));
    }
    page("promig evaluate: report", &body)
}
