//! SQL literals for the query text feedloop builds: strings (quotes doubled),
//! timestamps and doubles. Every value spliced into generated SQL goes through
//! one of these, never through `format!` alone.

/// A SQL string literal: single-quoted, quotes doubled (`it's` → `'it''s'`).
pub fn string_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A DataFusion literal of type `Timestamp(Millisecond, "UTC")` (the type of every `ts`).
pub fn ts_literal(ms: i64) -> String {
    format!("arrow_cast({ms}, 'Timestamp(Millisecond, Some(\"UTC\"))')")
}

/// A DOUBLE literal that round-trips `x` exactly (scientific notation).
pub fn f64_literal(x: f64) -> String {
    format!("CAST('{x:e}' AS DOUBLE)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(string_literal("it's"), "'it''s'");
        assert_eq!(string_literal("''"), "''''''");
        assert_eq!(
            ts_literal(5),
            "arrow_cast(5, 'Timestamp(Millisecond, Some(\"UTC\"))')"
        );
        assert_eq!(f64_literal(0.25), "CAST('2.5e-1' AS DOUBLE)");
    }
}
