//! Which side of a comparison a column or file belongs to ([`Which`]), and the
//! input error every reader of the report raises ([`input`]).

use feedloop_analytics::AnalyticsError;

/// The side of the comparison: the reference (baseline) or the current data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    Reference,
    Current,
}

impl std::fmt::Display for Which {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Which::Reference => "reference",
            Which::Current => "current",
        })
    }
}

/// A bad-input error (a missing column, an unreadable file, a bad option).
pub(crate) fn input(msg: impl Into<String>) -> AnalyticsError {
    AnalyticsError::Input(msg.into())
}
