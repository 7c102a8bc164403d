//! How far one host's prediction can be trusted this round. The predictor turns whatever it is
//! given into a probability; a host whose exporter lacks the EDAC series, or did not answer this
//! round, gets a prediction built on neutral or old values. Rather than hide that, each input is
//! classed fresh, stale or missing, and the share of usable inputs is shown beside the risk (API,
//! dashboard, `/metrics`), so an operator knows which green host is green for lack of data.

use serde::Serialize;

/// Age at which a stale input is worth nothing: the shortest prediction horizon (5 minutes). A
/// value older than the horizon it is meant to forecast says nothing about it.
pub const STALE_WORTHLESS_S: f64 = 300.0;

/// Where one input stands this round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InputState {
    /// Read this round.
    Fresh,
    /// Not read this round; the value in use was read this many seconds ago.
    Stale(f64),
    /// Not available at all: its signal is neutral.
    Missing,
}

impl InputState {
    /// What the input is worth, in [0, 1]: 1 fresh, decaying linearly to 0 at
    /// [`STALE_WORTHLESS_S`] when stale, 0 missing.
    pub fn weight(self) -> f64 {
        match self {
            InputState::Fresh => 1.0,
            InputState::Stale(age) => (1.0 - age / STALE_WORTHLESS_S).clamp(0.0, 1.0),
            InputState::Missing => 0.0,
        }
    }
}

/// An input kept from an earlier reading.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StaleInput {
    /// The input (a metric name, or `<vm>:qemu-process`).
    pub input: String,
    /// Seconds since it was read.
    pub age_s: f64,
}

/// One host's prediction confidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Confidence {
    /// Mean worth of the host's inputs ([`InputState::weight`]), in [0, 1].
    pub fraction: f64,
    /// Inputs not available.
    pub missing: Vec<String>,
    /// Inputs in use from an earlier reading.
    pub stale: Vec<StaleInput>,
}

impl Default for Confidence {
    /// Every input fresh (the simulator's world, where nothing goes missing).
    fn default() -> Self {
        Confidence {
            fraction: 1.0,
            missing: Vec::new(),
            stale: Vec::new(),
        }
    }
}

impl Confidence {
    /// The confidence of a host whose inputs stand as given (no inputs: full confidence).
    pub fn of<S: Into<String>>(inputs: impl IntoIterator<Item = (S, InputState)>) -> Self {
        let mut c = Confidence::default();
        let (mut sum, mut n) = (0.0, 0usize);
        for (name, state) in inputs {
            sum += state.weight();
            n += 1;
            match state {
                InputState::Fresh => {}
                InputState::Stale(age_s) => c.stale.push(StaleInput {
                    input: name.into(),
                    age_s,
                }),
                InputState::Missing => c.missing.push(name.into()),
            }
        }
        if n > 0 {
            c.fraction = sum / n as f64;
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use InputState::*;

    #[test]
    fn missing_and_stale_inputs_lower_the_fraction_and_are_named() {
        assert_eq!(Confidence::of::<&str>([]), Confidence::default());
        let c = Confidence::of([
            ("edac", Missing),
            ("temp", Stale(150.0)),
            ("mem", Fresh),
            ("cpu", Stale(600.0)),
        ]);
        assert!((c.fraction - 1.5 / 4.0).abs() < 1e-12, "{c:?}");
        assert_eq!(c.missing, ["edac"]);
        assert_eq!(
            c.stale.iter().map(|s| s.input.as_str()).collect::<Vec<_>>(),
            ["temp", "cpu"]
        );
        assert_eq!(Confidence::of([("a", Fresh), ("b", Fresh)]).fraction, 1.0);
    }
}
