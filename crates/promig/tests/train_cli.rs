//! `promig train` end to end on a tiny budget (4 episodes of 24 intervals): the model, its CSV
//! learning curve and the curve's chart are written, and two runs with one seed agree byte for
//! byte (the reproducibility the README promises, checked through the command itself). By
//! default it trains on the training split, each episode its own data centre.

mod common;

use common::promig;
use std::path::PathBuf;

/// A fresh scratch folder for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("promig-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `promig train --episodes N --batch 2 EXTRA... --out OUT`: its success, stdout and stderr.
fn train(episodes: &str, extra: &[&str], out: &std::path::Path) -> (bool, String, String) {
    let mut args = vec!["train", "--episodes", episodes, "--batch", "2"];
    args.extend_from_slice(extra);
    args.extend(["--out", out.to_str().unwrap()]);
    promig(&args)
}

#[test]
fn training_writes_model_curve_and_chart_reproducibly() {
    let dir = scratch("train");
    let run = |name: &str| {
        let out = dir.join(format!("{name}.safetensors"));
        let (ok, stdout, err) = train("4", &["--default-scenario", "--steps", "24"], &out);
        assert!(ok, "promig train failed: {err}");
        assert!(stdout.contains("trained 4 episodes"), "{stdout}");
        let read = |ext: &str| std::fs::read(out.with_extension(ext)).unwrap();
        (read("safetensors"), read("csv"), read("svg"))
    };
    let (model, csv, svg) = run("a");
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(
        csv.lines().count(),
        5,
        "a header and one row per episode:\n{csv}"
    );
    let svg = String::from_utf8(svg).unwrap();
    assert!(svg.starts_with("<?xml"), "{svg:.80}");
    assert!(
        svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg:.200}"
    );
    assert!(svg.contains("reward per training episode"));
    assert!(svg.trim_end().ends_with("</svg>"));
    let (ok, _, err) = promig(&["train", "--episodes", "2", "--ablate", "colour"]);
    assert!(!ok && err.contains("unknown ablation"), "{err}");
    let again = run("b");
    assert_eq!(again.0, model, "same seed, same weights");
    assert_eq!(String::from_utf8(again.1).unwrap(), csv);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// With checkpoints, each is written and judged on the held-out days, and one is kept as the model.
#[test]
fn checkpoints_are_written_judged_and_the_best_kept() {
    let dir = scratch("train-checkpoints");
    let out = dir.join("m.safetensors");
    let ckpt = dir.join("ckpt");
    let (ok, stdout, err) = train(
        "4",
        &[
            "--default-scenario",
            "--steps",
            "24",
            "--checkpoint-every",
            "2",
            "--selection-days",
            "2",
            "--checkpoints",
            ckpt.to_str().unwrap(),
        ],
        &out,
    );
    assert!(ok, "promig train failed: {err}");
    assert_eq!(
        stdout.matches("checkpoint at episode").count(),
        2,
        "{stdout}"
    );
    assert_eq!(stdout.matches("<- kept").count(), 1, "{stdout}");
    let model = std::fs::read(&out).unwrap();
    let kept: Vec<bool> = [2, 4]
        .iter()
        .map(|e| std::fs::read(ckpt.join(format!("episode-{e}.safetensors"))).unwrap() == model)
        .collect();
    assert!(kept.contains(&true), "the model is one of the checkpoints");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An ablated model is trained and checked on validation seeds beside proactive-greedy in one
/// command: both rows printed with their intervals.
#[test]
fn an_ablation_trains_and_validates_beside_the_baseline() {
    let dir = scratch("ablate");
    let out = dir.join("m.safetensors");
    let (ok, stdout, err) = train(
        "2",
        &[
            "--default-scenario",
            "--steps",
            "12",
            "--ablate",
            "links,techniques",
            "--validate",
            "1",
            "3",
        ],
        &out,
    );
    assert!(ok, "{err}");
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name) && l.contains('±'))
            .map(str::to_string)
    };
    let trained = row("trained").unwrap_or_else(|| panic!("{stdout}"));
    assert!(row("proactive-greedy").is_some(), "{stdout}");
    assert_eq!(trained.matches('±').count(), 4, "{trained}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// By default the episodes are the training split's (each seed its own data centre), and the
/// validation runs the validation split's episodes.
#[test]
fn by_default_training_draws_its_episodes_from_the_training_split() {
    let dir = scratch("train-split");
    let out = dir.join("m.safetensors");
    let (ok, stdout, err) = train("2", &["--validate", "1", "3"], &out);
    assert!(ok, "{err}");
    let csv = std::fs::read_to_string(out.with_extension("csv")).unwrap();
    let seeds: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(seeds, ["1000", "1000"], "a pair on the split's first seed");
    assert!(stdout.contains("trained 2 episodes"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("trained ") && l.contains('±')),
        "{stdout}"
    );
    // Split episodes are whole days, and a reward weight is a finite, non-negative number.
    let (ok, _, err) = promig(&["train", "--episodes", "2", "--steps", "12"]);
    assert!(!ok && err.contains("--steps"), "{err}");
    let (ok, _, err) = promig(&["train", "--episodes", "2", "--loss-weight=-1"]);
    assert!(!ok && err.contains("--loss-weight"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
