//! Category keys: how category values are ordered and compared — by type
//! (bool < int < float < string), then by value, with `-0.0 == 0.0` — one
//! order for the offline path (`column`) and for profiles (`profile`).

/// Hashable/orderable key for a float used as a category (`-0.0` → `0.0`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FKey(pub f64);
impl Eq for FKey {}
impl PartialOrd for FKey {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for FKey {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.0 + 0.0).total_cmp(&(o.0 + 0.0))
    }
}

/// Float values as category keys.
pub(crate) fn float_keys(x: &[f64]) -> Vec<FKey> {
    x.iter().map(|&v| FKey(v)).collect()
}

/// Borrowed, orderable category key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum CategoryKey<'a> {
    Bool(bool),
    Int(i64),
    Float(FKey),
    Str(&'a str),
}
