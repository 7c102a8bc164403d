//! Errors of the policy crate.

/// What can go wrong when building a policy; each names the policy and, where one is at fault,
/// the parameter.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The name matches no registered policy.
    #[error("unknown policy {0:?} (known: {1})")]
    UnknownPolicy(String, String),
    /// Two policies registered under one name.
    #[error("a policy named {0:?} is already registered")]
    DuplicateName(String),
    /// More `-value` suffixes than the policy has parameters.
    #[error("{text:?}: policy {policy} takes at most {accepted} parameter(s), {given} given")]
    TooManyParameters {
        /// Policy name.
        policy: String,
        /// Values given.
        given: usize,
        /// Parameters declared.
        accepted: usize,
        /// What was written.
        text: String,
    },
    /// A parameter value is not a number.
    #[error("policy {policy}: parameter {param}: not a number: {value:?}")]
    NotANumber {
        /// Policy name.
        policy: String,
        /// Parameter name.
        param: &'static str,
        /// What was written.
        value: String,
    },
    /// A parameter value is NaN, infinite or outside its declared range.
    #[error("policy {policy}: parameter {param} = {value} is outside {}", crate::registry::range_text(*min, *max))]
    OutOfRange {
        /// Policy name.
        policy: String,
        /// Parameter name.
        param: &'static str,
        /// Value given.
        value: f64,
        /// Smallest accepted.
        min: f64,
        /// Largest accepted.
        max: f64,
    },
    /// A TOML table names a parameter the policy does not have.
    #[error("policy {policy}: unknown parameter {param:?} (known: {known})")]
    UnknownParameter {
        /// Policy name.
        policy: String,
        /// The unknown name.
        param: String,
        /// Declared names.
        known: String,
    },
}
