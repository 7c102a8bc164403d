//! The HTML report is one well-formed, self-contained page: every chart present, one `<svg` per
//! chart, no script, no URL to fetch anything from, and a recorded run equals an unrecorded one.

use promig_eval::compare::{Episodes, compare};
use promig_eval::report::{self, MAX_TIMELINE_HOSTS};
use promig_eval::{run_named, run_named_recorded};
use promig_model::fault::FaultsConfig;
use promig_sim::{SimConfig, synthetic};
use std::sync::Arc;

fn world() -> (Arc<promig_sim::World>, SimConfig) {
    let steps = 48;
    let faults = FaultsConfig {
        hardware_failures: 2,
        false_alarms: 1,
        memory_leaks: 1,
        leak_mib_per_min: 120.0,
        degradations: 1,
        surges: 1,
        ..FaultsConfig::default()
    };
    let world = Arc::new(synthetic::world(24, 48, steps, 5, faults));
    (world, SimConfig::nfv(5, steps))
}

/// The checks both pages must pass: structure, `charts` SVGs each closed, nothing external.
fn assert_self_contained(html: &str, charts: usize) {
    assert!(
        html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"),
        "{}",
        &html[..80]
    );
    assert!(html.trim_end().ends_with("</html>"));
    assert_eq!(html.matches("<svg").count(), charts, "one <svg per chart");
    assert_eq!(html.matches("</svg>").count(), charts);
    assert_eq!(html.matches("<figure>").count(), charts);
    for banned in [
        "http:", "https:", "//", "<script", "src=", "href=", "@import", "url(",
    ] {
        assert!(
            !html.contains(banned),
            "external reference or script: {banned}"
        );
    }
    // Tags balance (a rough well-formedness check that catches a forgotten close).
    for tag in [
        "main",
        "figure",
        "figcaption",
        "table",
        "tr",
        "title",
        "text",
    ] {
        let open =
            html.matches(&format!("<{tag}>")).count() + html.matches(&format!("<{tag} ")).count();
        assert_eq!(
            open,
            html.matches(&format!("</{tag}>")).count(),
            "<{tag}> balanced"
        );
    }
    for bad in ["NaN", ">inf", "inf\"", "inf "] {
        assert!(!html.contains(bad), "no unprintable numbers: {bad}");
    }
}

#[test]
fn simulate_report_has_every_chart_and_nothing_external() {
    let (world, config) = world();
    let mut reports = Vec::new();
    let mut timelines = Vec::new();
    for p in ["none", "proactive-greedy"] {
        let (r, t) = run_named_recorded(&world, &config, p, &mut |_, _| {}).unwrap();
        // Recording is a pass-through: the same run as without it.
        assert_eq!(
            r,
            run_named(&world, &config, p, &mut |_, _| {}).unwrap(),
            "{p}"
        );
        reports.push(r);
        timelines.push(t);
    }
    assert!(!timelines[0].has_risks(), "`none` gets no predictor");
    assert!(
        timelines[1].has_risks(),
        "proactive-greedy reads predictions"
    );
    assert!(
        !reports[1].faults.is_empty(),
        "the scenario has faults to show"
    );
    let curve = report::committed_rl_curve().unwrap();
    assert!(curve.len() > 100);
    let html = report::simulate_page(&reports, Some((&timelines[1], &reports[1])), Some(&curve));
    // Five metrics, the timeline, the learning curve.
    assert_self_contained(&html, 7);
    for id in [
        "downtime",
        "loss",
        "qos",
        "migrations",
        "energy",
        "timeline",
        "curve",
    ] {
        assert!(
            html.contains(&format!("aria-labelledby=\"{id}-t\"")),
            "chart {id}"
        );
    }
    let rows = html.matches("fill=\"#f4f6f8\"").count();
    assert!(
        (1..=MAX_TIMELINE_HOSTS).contains(&rows),
        "{rows} timeline rows"
    );
    // Without rl and without a timeline: the five metric charts only.
    let html = report::simulate_page(&reports, None, None);
    assert_self_contained(&html, 5);

    let dir = std::env::temp_dir().join(format!("promig-report-test-{}", std::process::id()));
    let path = report::write(&dir, &html).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), html);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn evaluate_report_has_interval_whiskers() {
    let (world, config) = world();
    let policies = vec!["none".to_string(), "threshold".to_string()];
    let seeds: Vec<u64> = (1..=5).collect();
    let episodes = Episodes::of(&world, &config, None);
    let c = compare(&world, &config, episodes, &policies, &seeds, None).unwrap();
    let html = report::evaluate_page(&c, None);
    assert_self_contained(&html, 5);
    // One whisker per policy per metric.
    assert_eq!(
        html.matches("stroke=\"#111\" stroke-width=\"1.5\"").count(),
        2 * 5
    );
    assert!(html.contains("95 % confidence interval"));
}

#[test]
fn rl_is_recognised_and_the_curve_parses() {
    assert!(report::is_committed_rl("rl"));
    assert!(!report::is_committed_rl("rl-linear"));
    assert!(!report::is_committed_rl("none"));
    let bad = report::parse_learning_curve("a,b\n1,2\n", std::path::Path::new("x.csv"));
    assert!(bad.unwrap_err().to_string().contains("episode"));
}

/// The committed model's learning curve, as `promig train` plots it, is kept beside the model
/// (`crates/agent/models/rl.svg`, shown in the README) and must match the committed CSV: a model
/// retrained without re-recording its chart fails here (`PROMIG_BLESS=1` re-records it).
#[test]
fn the_committed_learning_curve_chart_matches_the_committed_curve() {
    let curve = promig_eval::report::committed_rl_curve().unwrap();
    let svg = promig_eval::report::learning_curve_svg(&curve);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../agent/models/rl.svg");
    if std::env::var_os("PROMIG_BLESS").is_some() {
        std::fs::write(&path, &svg).unwrap();
        return;
    }
    let kept = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        kept == svg,
        "{} is not the chart of the committed curve; re-record it with PROMIG_BLESS=1",
        path.display()
    );
    assert!(
        svg.matches("<polyline").count() + svg.matches("<path").count() >= 2,
        "two series"
    );
}
