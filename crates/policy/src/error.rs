//! Errors of the policy crate.

/// What can go wrong when building a policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The name matches no known policy.
    #[error("unknown policy {0:?} (known: {known})", known = crate::KNOWN_POLICIES)]
    UnknownPolicy(String),
}
