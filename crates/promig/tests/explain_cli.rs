//! `promig explain`: a short `simulate --json` run of the RL agent (48 intervals) explained back
//! for a VM it moved; a VM it never moved, a report without explanations and a file that is not
//! a report are refused with the file named.

mod common;

use common::promig;

#[test]
fn a_moved_vm_is_explained_and_bad_questions_are_refused() {
    let dir = std::env::temp_dir().join(format!("promig-explain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ok, json, err) = promig(&["simulate", "--policy", "none,rl", "--steps", "48", "--json"]);
    assert!(ok, "{err}");
    let report = dir.join("run.json");
    std::fs::write(&report, &json).unwrap();
    let runs: serde_json::Value = serde_json::from_str(&json).unwrap();
    let rl = &runs[1];
    assert_eq!(rl["policy"], "rl");
    assert!(
        runs[0].get("explanations").is_none(),
        "none explains nothing"
    );
    let moves = rl["explanations"]
        .as_array()
        .expect("rl explains its moves");
    assert!(!moves.is_empty());
    let vm = moves[0]["vm"].as_u64().unwrap();
    let count = moves
        .iter()
        .filter(|e| e["vm"].as_u64() == Some(vm))
        .count();
    let path = report.to_str().unwrap();
    let (ok, out, err) = promig(&["explain", path, &format!("vm-{vm}")]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("vm-{vm} moved {count} time")),
        "{out}"
    );
    assert_eq!(out.matches("\nat ").count(), count, "{out}");
    assert!(
        out.contains("waiting scored") && out.contains("* host "),
        "{out}"
    );
    let first_feature = moves[0]["options"][0]["weighed_most"][0]["feature"]
        .as_str()
        .unwrap();
    assert!(out.contains(first_feature), "{out}");

    let (ok, _, err) = promig(&["explain", path, "999999"]);
    assert!(
        !ok && err.contains("never moved") && err.contains(path),
        "{err}"
    );
    let (ok, none_json, _) = promig(&["simulate", "--policy", "none", "--steps", "4", "--json"]);
    assert!(ok);
    let none = dir.join("none.json");
    std::fs::write(&none, none_json).unwrap();
    let (ok, _, err) = promig(&["explain", none.to_str().unwrap(), "1"]);
    assert!(!ok && err.contains("no explanations"), "{err}");
    let junk = dir.join("junk.json");
    std::fs::write(&junk, "[1, 2]").unwrap();
    let (ok, _, err) = promig(&["explain", junk.to_str().unwrap(), "1"]);
    assert!(!ok && err.contains("not a report"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
