//! `promig explain REPORT.json VM`: why a policy moved one VM, read back from a run's JSON report
//! (`promig simulate --policy rl --json > run.json`): for each move, the options it weighed with
//! their scores, the score of waiting, and the features that weighed most in each score.

use anyhow::{Context, Result, bail};
use promig_model::{Explanation, VmId};
use promig_sim::Report;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

/// Flags of `promig explain`.
#[derive(clap::Args)]
pub struct ExplainArgs {
    /// A report written by `promig simulate --json` (one policy's object or an array of them).
    report: PathBuf,
    /// The VM, by its number in the report (`vm-37` or `37`).
    vm: String,
}

/// Runs `promig explain`.
pub fn run(args: ExplainArgs) -> Result<()> {
    let vm = parse_vm(&args.vm)?;
    let text = std::fs::read_to_string(&args.report)
        .with_context(|| format!("reading {}", args.report.display()))?;
    let reports = parse_reports(&text).with_context(|| {
        format!(
            "{}: not a report of `promig simulate --json`",
            args.report.display()
        )
    })?;
    let out =
        explain(&reports, vm).map_err(|e| anyhow::anyhow!("{}: {e}", args.report.display()))?;
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(())
}

/// VM `vm-37`, `37`.
fn parse_vm(s: &str) -> Result<VmId> {
    let digits = s.strip_prefix("vm-").unwrap_or(s);
    match digits.parse::<u32>() {
        Ok(n) => Ok(VmId(n)),
        Err(_) => bail!("VM {s:?}: give its number, e.g. 37 or vm-37"),
    }
}

/// One report object, or an array of them.
fn parse_reports(text: &str) -> Result<Vec<Report>, serde_json::Error> {
    match serde_json::from_str::<Report>(text) {
        Ok(r) => Ok(vec![r]),
        Err(single) => serde_json::from_str::<Vec<Report>>(text).map_err(|_| single),
    }
}

/// The explanation text for `vm` over every report that has explanations.
fn explain(reports: &[Report], vm: VmId) -> Result<String, String> {
    let explaining: Vec<&Report> = reports
        .iter()
        .filter(|r| !r.explanations.is_empty())
        .collect();
    if explaining.is_empty() {
        let names: Vec<&str> = reports.iter().map(|r| r.policy.as_str()).collect();
        return Err(format!(
            "no explanations in it (policies: {}); only policies that score their options \
             record them: run `promig simulate --policy rl --json`",
            names.join(", ")
        ));
    }
    let mut out = String::new();
    let mut found = false;
    for r in explaining {
        let moves: Vec<&Explanation> = r.explanations.iter().filter(|e| e.vm == vm).collect();
        if moves.is_empty() {
            continue;
        }
        found = true;
        let _ = writeln!(
            out,
            "{} on {}, seed {}: vm-{} moved {} time{}",
            r.policy,
            r.scenario,
            r.seed,
            vm.0,
            moves.len(),
            if moves.len() == 1 { "" } else { "s" }
        );
        for e in moves {
            write_move(&mut out, e);
        }
    }
    if !found {
        let mut moved: Vec<u32> = reports
            .iter()
            .flat_map(|r| r.explanations.iter().map(|e| e.vm.0))
            .collect();
        moved.sort_unstable();
        moved.dedup();
        let shown: Vec<String> = moved.iter().take(12).map(|v| format!("vm-{v}")).collect();
        return Err(format!(
            "vm-{} was never moved; moved: {}{}",
            vm.0,
            shown.join(", "),
            if moved.len() > 12 { ", ..." } else { "" }
        ));
    }
    Ok(out)
}

fn write_move(out: &mut String, e: &Explanation) {
    let t = e.time_s;
    let Some(chosen) = e.options.first() else {
        return;
    };
    let _ = writeln!(
        out,
        "\nat {:02}:{:02} ({t:.0} s): host {} -> host {} by {}; score {:.3}, waiting scored {:.3}{}",
        (t / 3600.0).floor() as u64,
        ((t % 3600.0) / 60.0).floor() as u64,
        e.from.0,
        chosen.to.0,
        chosen.technique.name(),
        chosen.score,
        e.wait_score,
        if chosen.score < e.wait_score {
            " (no single move beat waiting, but the moves together were more probable)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "  {:<26} {:>8}  weighed most (value, effect on the score)",
        "option", "score"
    );
    for (k, o) in e.options.iter().enumerate() {
        let label = format!(
            "{} host {} {}",
            if k == 0 { "*" } else { " " },
            o.to.0,
            o.technique.name()
        );
        let why: Vec<String> = o
            .weighed_most
            .iter()
            .map(|f| format!("{} {:.2} ({:+.3})", f.feature, f.value, f.effect))
            .collect();
        let note = if o.unavailable {
            "(not available then: booked by an earlier move or over a limit) "
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {label:<26} {:>8.3}  {note}{}",
            o.score,
            why.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_names_parse_and_junk_is_refused() {
        assert_eq!(parse_vm("vm-37").unwrap(), VmId(37));
        assert_eq!(parse_vm("4").unwrap(), VmId(4));
        assert!(parse_vm("web-1").is_err());
    }
}
