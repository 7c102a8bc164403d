//! The cost model answers on any input, however absurd (NaN, infinities, negative, 1e303), and
//! in bounded time: it is called inside the simulator's and the controller's loops, where a hang
//! is worse than a wrong answer. Validation turns the absurd ones away before they get there.

use promig_migrate::{DowntimeRamp, MigrationInput, MigrationModel, QemuModel, Technique};
use proptest::prelude::*;

fn any_number() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(1e303),
        Just(-1.0),
        0.0..1e6,
        proptest::num::f64::ANY,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn every_technique_returns_on_any_input(
        memory in any_number(),
        dirty in any_number(),
        wws in any_number(),
        bandwidth in any_number(),
        latency in any_number(),
        touched in proptest::option::of(any_number()),
        technique in 0usize..5,
        ramp in any::<bool>(),
    ) {
        let input = MigrationInput {
            memory_mib: memory,
            dirty_pages_per_s: dirty,
            wws_mib: wws,
            bandwidth_bps: bandwidth,
            latency_ms: latency,
            touched_mib: touched,
        };
        let mut model = QemuModel::of(Technique::ALL[technique]);
        if ramp {
            model.params.ramp = Some(DowntimeRamp::default());
        }
        let e = model.estimate(&input);
        // Whatever it says, "converged" comes with a finite time when the input was valid.
        if input.validate().is_ok() && e.converged {
            prop_assert!(e.total_s.is_finite() && e.downtime_s.is_finite(), "{input:?} -> {e:?}");
        }
    }
}

#[test]
fn validation_names_the_field() {
    let ok = MigrationInput {
        memory_mib: 4096.0,
        dirty_pages_per_s: 1000.0,
        wws_mib: 1024.0,
        bandwidth_bps: 1e9,
        latency_ms: 0.1,
        touched_mib: None,
    };
    assert!(ok.validate().is_ok());
    for (bad, field) in [
        (
            MigrationInput {
                memory_mib: 1e303,
                ..ok
            },
            "memory_mib",
        ),
        (
            MigrationInput {
                latency_ms: f64::NAN,
                ..ok
            },
            "latency_ms",
        ),
        (
            MigrationInput {
                bandwidth_bps: 0.0,
                ..ok
            },
            "bandwidth_bps",
        ),
        (
            MigrationInput {
                dirty_pages_per_s: -1.0,
                ..ok
            },
            "dirty_pages_per_s",
        ),
        (
            MigrationInput {
                touched_mib: Some(f64::INFINITY),
                ..ok
            },
            "touched_mib",
        ),
    ] {
        assert_eq!(bad.validate().unwrap_err().field, field);
    }
}
