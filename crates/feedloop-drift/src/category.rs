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

/// Borrowed, orderable category key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum CategoryKey<'a> {
    Bool(bool),
    Int(i64),
    Float(FKey),
    Str(&'a str),
}

/// Per-category counts of both sides of a column: the keys ascending, each
/// present on at least one side, with its reference and current counts.
/// Built from counts (dictionary keys, sorted runs), never per-row inserts.
/// A sketched column may end with one pooled row standing for several values
/// ([`CategoryTable::push_pooled`]): it has counts but no key.
#[derive(Debug, Clone, Default)]
pub(crate) struct CategoryTable<'a> {
    pub(crate) keys: Vec<CategoryKey<'a>>,
    pub(crate) reference: Vec<u64>,
    pub(crate) current: Vec<u64>,
}

impl<'a> CategoryTable<'a> {
    /// From `(key, reference count, current count)` rows in ascending key
    /// order with distinct keys; rows counting nothing are left out.
    pub(crate) fn from_sorted_rows(
        rows: impl Iterator<Item = (CategoryKey<'a>, u64, u64)>,
    ) -> Self {
        let mut t = CategoryTable::default();
        for (k, r, c) in rows {
            if r + c > 0 {
                t.keys.push(k);
                t.reference.push(r);
                t.current.push(c);
            }
        }
        t
    }

    /// From per-side counts in any order; a key may repeat (its counts add).
    pub(crate) fn from_counts(
        reference: impl IntoIterator<Item = (CategoryKey<'a>, u64)>,
        current: impl IntoIterator<Item = (CategoryKey<'a>, u64)>,
    ) -> Self {
        let mut map: std::collections::BTreeMap<CategoryKey<'a>, (u64, u64)> =
            std::collections::BTreeMap::new();
        for (k, n) in reference {
            map.entry(k).or_default().0 += n;
        }
        for (k, n) in current {
            map.entry(k).or_default().1 += n;
        }
        Self::from_sorted_rows(map.into_iter().map(|(k, (r, c))| (k, r, c)))
    }

    /// Adds a last row that pools several values (counts only, no key); a
    /// row counting nothing is left out.
    pub(crate) fn push_pooled(&mut self, reference: u64, current: u64) {
        if reference + current > 0 {
            self.reference.push(reference);
            self.current.push(current);
        }
    }

    /// Non-null reference values.
    pub(crate) fn n_reference(&self) -> u64 {
        self.reference.iter().sum()
    }

    /// Non-null current values.
    pub(crate) fn n_current(&self) -> u64 {
        self.current.iter().sum()
    }
}
