//! The fingerprint of a profile's bin layout (FNV-1a 64, stable across
//! builds): window counts are compatible with a profile iff they match.

use super::format::{FeatureProfile, ReferenceProfile};
use super::value::Category;

/// 64-bit FNV-1a.
struct Fnv(u64);
impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.bytes(s.as_bytes());
    }
}

impl ReferenceProfile {
    /// Fingerprint of the bin layout (feature names, kinds, value types,
    /// edges, categories, reference counts): window counts are compatible
    /// with a profile iff fingerprints match. FNV-1a 64, stable across builds.
    pub fn fingerprint(&self) -> u64 {
        let mut h = Fnv::new();
        h.u64(u64::from(self.format_version));
        h.u64(self.features.len() as u64);
        for (name, f) in &self.features {
            h.str(name);
            match f {
                FeatureProfile::Numeric(p) => {
                    h.bytes(b"N");
                    h.str(p.value_type.name());
                    h.u64(p.edges.len() as u64);
                    for e in &p.edges {
                        h.u64(e.to_bits());
                    }
                }
                FeatureProfile::Categorical(p) => {
                    h.bytes(b"C");
                    h.str(p.value_type.name());
                    h.u64(p.categories.len() as u64);
                    for c in &p.categories {
                        match c {
                            Category::Bool(b) => h.u64(u64::from(*b)),
                            Category::Int(i) => h.u64(*i as u64),
                            Category::Float(x) => h.u64((x + 0.0).to_bits()),
                            Category::Str(s) => h.str(s),
                        }
                    }
                }
            }
            for c in f.reference_counts() {
                h.u64(c);
            }
        }
        h.0
    }
}
