//! Error type of the crate, and the one rule every statistic applies to
//! its input first: a sample with no value is a [`DriftError::EmptyInput`].

use thiserror::Error;

/// Which of the two samples an error refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The reference (baseline) sample.
    Reference,
    /// The current (production) sample.
    Current,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Side::Reference => f.write_str("reference"),
            Side::Current => f.write_str("current"),
        }
    }
}

/// `Err(EmptyInput { side })` when the `side` sample `x` holds no value.
pub(crate) fn non_empty<T>(x: &[T], side: Side) -> Result<(), DriftError> {
    if x.is_empty() {
        Err(DriftError::EmptyInput { side })
    } else {
        Ok(())
    }
}

/// Everything that can go wrong when computing drift statistics.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DriftError {
    /// A sample has no usable value (after nulls, NaN and ±inf were dropped).
    #[error("the {side} sample is empty (after dropping nulls, NaN and infinities)")]
    EmptyInput {
        /// The empty side.
        side: Side,
    },
    /// A low-level statistic was handed NaN or ±inf (the column-level API drops them first).
    #[error(
        "the {side} sample contains NaN or an infinite value; drop them before calling this function"
    )]
    NonFinite {
        /// The offending side.
        side: Side,
    },
    /// Reference and current column hold different value types.
    #[error("reference column holds {reference} values but current column holds {current} values")]
    TypeMismatch {
        /// Value type of the reference column.
        reference: &'static str,
        /// Value type of the current column.
        current: &'static str,
    },
    /// A numeric-only test (KS, Wasserstein) was forced on a categorical column.
    #[error("the {test} test only applies to numeric columns, but this column is categorical")]
    NumericTestOnCategorical {
        /// The test that was requested.
        test: crate::StatTest,
    },
    /// A numeric kind was forced on a column whose values are not numbers.
    #[error("a {value_type} column cannot be treated as numeric")]
    NotNumeric {
        /// Value type of the column.
        value_type: &'static str,
    },
    /// Two arrays that must be aligned (proportions, counts) have different lengths.
    #[error("length mismatch: {left} vs {right} bins")]
    LengthMismatch {
        /// Length of the first array.
        left: usize,
        /// Length of the second array.
        right: usize,
    },
    /// A proportions/counts array is empty, negative, or sums to zero.
    #[error("invalid distribution: {0}")]
    InvalidDistribution(&'static str),
    /// A threshold that is NaN or infinite.
    #[error("threshold must be a finite number, got {0}")]
    InvalidThreshold(f64),
    /// A quantile-sketch size `k` outside what the KLL sketch accepts.
    #[error("the sketch size k must be within 8..=65535, got {k}")]
    InvalidSketchSize {
        /// The size that was asked for.
        k: u16,
    },
    /// A categorical comparison of two sketched columns that both had more
    /// distinct values than a sketch counts exactly.
    #[error(
        "both sketches saw more than {cap} distinct values, so their categories were not kept; a categorical comparison needs one side's exact values"
    )]
    CategoriesNotKept {
        /// How many distinct values a sketch counts exactly.
        cap: usize,
    },
    /// The quantile sketch library refused an operation.
    #[error("quantile sketch: {0}")]
    Sketch(String),
}
