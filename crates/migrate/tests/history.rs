//! The migration history reader on the real SoCC 2017 KVM migrations
//! (`live-migration/kvm-migrations.csv` in the data folder) and on the small fixture cut from it.

use promig_migrate::calibration::Measurement;
use promig_migrate::{Technique, read_history};
use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn the_real_kvm_history_reads_whole() {
    let path = promig_model::data::dir(None)
        .expect("the data folder (see the README)")
        .join("live-migration/kvm-migrations.csv");
    let rows = read_history(&path).unwrap();
    assert_eq!(rows.len(), 16_713);
    let workloads: BTreeSet<&str> = rows.iter().map(|r| r.workload.as_str()).collect();
    assert_eq!(
        workloads,
        BTreeSet::from(["bzip", "mem", "mplayer", "parsec"])
    );
    let techniques: BTreeSet<Technique> = rows.iter().map(|r| r.measurement.technique).collect();
    assert_eq!(techniques, BTreeSet::from(Technique::ALL));
    // Lines follow the file (header on line 1, no blank lines).
    assert_eq!(rows[0].line, 2);
    assert_eq!(rows.last().unwrap().line, 16_714);
    // Every row is a migration the model can be asked about.
    for r in &rows {
        r.measurement.input().validate().unwrap();
    }
}

#[test]
fn the_fixture_covers_every_technique_and_workload() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kvm-migrations-40.csv");
    let rows = read_history(&path).unwrap();
    assert_eq!(rows.len(), 40);
    for t in Technique::ALL {
        let of_t: Vec<&Measurement> = rows
            .iter()
            .map(|r| &r.measurement)
            .filter(|m| m.technique == t)
            .collect();
        assert_eq!(of_t.len(), 8, "{t:?}");
    }
}

#[test]
fn a_missing_file_is_named() {
    let e = read_history(Path::new("/nonexistent/history.csv")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/history.csv"), "{e}");
}
