//! The NAB loader and scorer on the awkward inputs real NAB files and hostile ones contain: no
//! panic, an error naming the file and the line or key, or NAB's own rule where NAB has one.

use promig_predict::nab;
use std::path::PathBuf;

/// A throw-away NAB folder with one series `s/x.csv` and the given labels.
fn folder(tag: &str, csv: &str, labels: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("promig-nab-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data/s")).unwrap();
    std::fs::create_dir_all(dir.join("labels")).unwrap();
    std::fs::write(dir.join("data/s/x.csv"), csv).unwrap();
    std::fs::write(dir.join("labels/combined_windows.json"), labels).unwrap();
    dir
}

/// 100 rows, one every 5 minutes from 2014-02-14 00:00.
fn series() -> String {
    let mut s = String::from("timestamp,value\n");
    for i in 0..100 {
        let (h, m) = (i * 5 / 60, i * 5 % 60);
        s.push_str(&format!("2014-02-14 {h:02}:{m:02}:00,{}\n", i % 7));
    }
    s
}

fn load_err(tag: &str, csv: &str, labels: &str) -> String {
    nab::load(&folder(tag, csv, labels))
        .unwrap_err()
        .to_string()
}

#[test]
fn a_window_inside_probation_still_counts_and_scores_without_panic() {
    let dir = folder(
        "probation",
        &series(),
        r#"{"s/x.csv": [["2014-02-14 00:10:00", "2014-02-14 00:30:00"]]}"#,
    );
    let s = &nab::load(&dir).unwrap()[0];
    assert_eq!(s.windows, vec![(2, 6)]);
    let never = nab::score(s, &[false; 100]);
    assert_eq!((never.windows, never.detected), (1, 0));
    // A detection inside probation is not scored, NAB's rule.
    let mut early = vec![false; 100];
    early[3] = true;
    assert_eq!(nab::score(s, &early).detected, 0);
    assert!(nab::score(s, &[true; 100]).raw.is_finite());
}

#[test]
fn iso_t_and_space_in_labels_mean_the_same_time() {
    let space = folder(
        "space",
        &series(),
        r#"{"s/x.csv": [["2014-02-14 05:00:00", "2014-02-14 06:00:00"]]}"#,
    );
    let iso = folder(
        "iso",
        &series(),
        r#"{"s/x.csv": [["2014-02-14T05:00:00", "2014-02-14T06:00:00.000000"]]}"#,
    );
    assert_eq!(
        nab::load(&space).unwrap()[0].windows,
        nab::load(&iso).unwrap()[0].windows
    );
    assert_eq!(nab::load(&iso).unwrap()[0].windows, vec![(60, 72)]);
}

#[test]
fn malformed_labels_are_refused_naming_file_and_key() {
    let before = load_err(
        "before",
        &series(),
        r#"{"s/x.csv": [["2013-01-01 00:00:00", "2013-01-02 00:00:00"]]}"#,
    );
    assert!(
        before.contains("s/x.csv") && before.contains("outside"),
        "{before}"
    );
    let overlap = load_err(
        "overlap",
        &series(),
        r#"{"s/x.csv": [["2014-02-14 05:00:00", "2014-02-14 06:00:00"], ["2014-02-14 05:30:00", "2014-02-14 07:00:00"]]}"#,
    );
    assert!(
        overlap.contains("overlap") && overlap.contains("combined_windows.json"),
        "{overlap}"
    );
    let reversed = load_err(
        "reversed",
        &series(),
        r#"{"s/x.csv": [["2014-02-14 06:00:00", "2014-02-14 05:00:00"]]}"#,
    );
    assert!(reversed.contains("ends before it starts"), "{reversed}");
    let not_time = load_err(
        "nottime",
        &series(),
        r#"{"s/x.csv": [["yesterday", "2014-02-14 05:00:00"]]}"#,
    );
    assert!(not_time.contains("not a time"), "{not_time}");
    let shape = load_err(
        "shape",
        &series(),
        r#"{"s/x.csv": [["2014-02-14 06:00:00"]]}"#,
    );
    assert!(shape.contains("combined_windows.json"), "{shape}");
}

#[test]
fn label_keys_cannot_leave_the_data_folder() {
    for key in [
        "../labels/combined_windows.json",
        "/etc/passwd",
        "s/../../x.csv",
        "",
    ] {
        let labels = format!(r#"{{"{key}": []}}"#);
        let e = load_err("escape", &series(), &labels);
        assert!(e.contains("inside data/"), "{key}: {e}");
        assert!(!e.contains("root:"), "file contents echoed: {e}");
    }
}

#[test]
fn short_and_disordered_series_are_refused_naming_the_line() {
    let labels = r#"{"s/x.csv": []}"#;
    for (tag, csv) in [
        ("empty", "timestamp,value\n"),
        ("one", "timestamp,value\n2014-02-14 00:00:00,1\n"),
    ] {
        let e = load_err(tag, csv, labels);
        assert!(e.contains("at least 2 rows") && e.contains("x.csv"), "{e}");
    }
    let back =
        "timestamp,value\n2014-02-14 00:05:00,1\n2014-02-14 00:00:00,2\n2014-02-14 00:10:00,3\n";
    let e = load_err("back", back, labels);
    assert!(e.contains("line 3") && e.contains("backwards"), "{e}");
    let junk = format!(
        "timestamp,value\n2014-02-14 00:00:00,{}\n2014-02-14 00:05:00,1\n",
        "x".repeat(500)
    );
    let e = load_err("junk", &junk, labels);
    assert!(e.contains("line 2") && e.len() < 300, "{e}");
}

#[test]
fn a_window_holds_the_rows_between_its_bounds_as_in_nab() {
    // Bounds between rows: the rows from 05:05 to 06:00, not the first row after 06:03.
    let dir = folder(
        "between",
        &series(),
        r#"{"s/x.csv": [["2014-02-14 05:02:00", "2014-02-14 06:03:00"]]}"#,
    );
    assert_eq!(nab::load(&dir).unwrap()[0].windows, vec![(61, 72)]);
    let empty = load_err(
        "empty-window",
        &series(),
        r#"{"s/x.csv": [["2014-02-14 05:01:00", "2014-02-14 05:04:00"]]}"#,
    );
    assert!(
        empty.contains("holds no row") && empty.contains("s/x.csv"),
        "{empty}"
    );
}

/// The throw-away folder with a result file for detector `det` holding `csv`.
fn with_results(tag: &str, csv: &str) -> (PathBuf, Vec<nab::NabSeries>) {
    let dir = folder(tag, &series(), r#"{"s/x.csv": []}"#);
    std::fs::create_dir_all(dir.join("results/det/s")).unwrap();
    std::fs::write(dir.join("results/det/s/det_x.csv"), csv).unwrap();
    std::fs::create_dir_all(dir.join("config")).unwrap();
    std::fs::write(
        dir.join("config/thresholds.json"),
        r#"{"det": {"standard": {"score": 1.0, "threshold": 0.5}}}"#,
    )
    .unwrap();
    let s = nab::load(&dir).unwrap();
    (dir, s)
}

/// A result file for `series()` with the given anomaly score per row.
fn results(score: impl Fn(usize) -> String) -> String {
    let mut s = String::from("timestamp,value,anomaly_score,label\n");
    for i in 0..100 {
        let (h, m) = (i * 5 / 60, i * 5 % 60);
        s.push_str(&format!("2014-02-14 {h:02}:{m:02}:00,1,{},0\n", score(i)));
    }
    s
}

#[test]
fn nab_result_files_are_read_by_column_and_checked_row_by_row() {
    let (dir, s) = with_results("results-ok", &results(|i| format!("{}", i as f64 / 100.0)));
    let scores = nab::load_results(&dir, "det", &s).unwrap();
    assert_eq!(scores[0].len(), 100);
    let threshold = nab::load_threshold(&dir, "det", &nab::Profile::STANDARD).unwrap();
    // NAB's rule: at or above the threshold.
    let d = nab::detections_at(&scores[0], threshold);
    assert!(!d[49] && d[50] && d[99]);

    let missing = nab::load_threshold(&dir, "det", &nab::Profile::REWARD_LOW_FP_RATE)
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("thresholds.json") && missing.contains("reward_low_FP_rate"),
        "{missing}"
    );

    let short: String = results(|_| "0".into())
        .lines()
        .take(50)
        .collect::<Vec<_>>()
        .join("\n");
    let (dir, s) = with_results("results-short", &short);
    let e = nab::load_results(&dir, "det", &s).unwrap_err().to_string();
    assert!(e.contains("det_x.csv") && e.contains("49 rows"), "{e}");

    let shifted = results(|_| "0".into()).replacen("2014-02-14 00:05:00", "2014-02-14 00:06:00", 1);
    let (dir, s) = with_results("results-shifted", &shifted);
    let e = nab::load_results(&dir, "det", &s).unwrap_err().to_string();
    assert!(e.contains("line 3") && e.contains("not row 2"), "{e}");

    let junk = results(|i| if i == 7 { "x".repeat(500) } else { "0".into() });
    let (dir, s) = with_results("results-junk", &junk);
    let e = nab::load_results(&dir, "det", &s).unwrap_err().to_string();
    assert!(
        e.contains("line 9") && e.contains("anomaly_score") && e.len() < 300,
        "{e}"
    );

    let no_column = results(|_| "0".into()).replacen("anomaly_score", "score", 1);
    let (dir, s) = with_results("results-nocol", &no_column);
    let e = nab::load_results(&dir, "det", &s).unwrap_err().to_string();
    assert!(e.contains("no `anomaly_score` column"), "{e}");
}

#[test]
fn detector_names_cannot_leave_the_results_folder() {
    let (dir, s) = with_results("results-escape", &results(|_| "0".into()));
    for name in ["", "..", "../det", "det/../det", "/etc", "a/b"] {
        let e = nab::load_results(&dir, name, &s).unwrap_err().to_string();
        assert!(e.contains("not a plain name"), "{name:?}: {e}");
    }
    let e = nab::load_results(&dir, "other", &s)
        .unwrap_err()
        .to_string();
    assert!(e.contains("other_x.csv") && e.contains("s/x.csv"), "{e}");
    // A result file that is a link out of the NAB folder is refused, its target never read.
    #[cfg(unix)]
    {
        std::fs::create_dir_all(dir.join("results/link/s")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("results/link/s/link_x.csv")).unwrap();
        let e = nab::load_results(&dir, "link", &s).unwrap_err().to_string();
        assert!(e.contains("leads out") && !e.contains("root:"), "{e}");
    }
}
