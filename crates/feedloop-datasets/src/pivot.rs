//! Feedback rows to dataset columns: the `features` and `tags` maps become one
//! typed column each (named and typed as the crate docs say), with the privacy
//! rules applied; the manifest's schema is described on the way.

use crate::privacy::{PrivacyConfig, PrivacyRule, hmac_sha256};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, RecordBatch, StringArray, StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema};
use feedloop_analytics::AnalyticsError;
use feedloop_analytics::feedback::CORRECTION_COLUMNS;
use feedloop_storage::datasets::SchemaColumn;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One feature or tag value.
#[derive(Debug, Clone)]
enum FVal {
    Num(f64),
    Str(String),
    Bool(bool),
}

impl FVal {
    fn text(&self) -> String {
        match self {
            FVal::Num(x) => x.to_string(),
            FVal::Str(s) => s.clone(),
            FVal::Bool(b) => b.to_string(),
        }
    }
}

/// The values of a map column's entries, decoded once: features are structs
/// with one slot per type (`number`, `string`, `boolean`), tags are strings.
fn entry_values(
    values: &ArrayRef,
    feature_struct: bool,
) -> Result<Vec<Option<FVal>>, AnalyticsError> {
    if !feature_struct {
        let plain = cast(values, &DataType::Utf8)?;
        let plain = plain.as_string::<i32>();
        return Ok((0..plain.len())
            .map(|j| {
                plain
                    .is_valid(j)
                    .then(|| FVal::Str(plain.value(j).to_string()))
            })
            .collect());
    }
    let s = values.as_struct_opt().ok_or_else(|| {
        AnalyticsError::Execution(format!(
            "expected feature values as structs, got {}",
            values.data_type()
        ))
    })?;
    let slot = |name: &str, ty: &DataType| -> Result<ArrayRef, AnalyticsError> {
        let c = s.column_by_name(name).ok_or_else(|| {
            AnalyticsError::Execution(format!("feature values lack the `{name}` slot"))
        })?;
        Ok(cast(c, ty)?)
    };
    let num = slot("number", &DataType::Float64)?;
    let st = slot("string", &DataType::Utf8)?;
    let bo = slot("boolean", &DataType::Boolean)?;
    let (num, st, bo) = (
        num.as_primitive::<Float64Type>(),
        st.as_string::<i32>(),
        bo.as_boolean(),
    );
    Ok((0..values.len())
        .map(|j| {
            if values.is_null(j) {
                None
            } else if num.is_valid(j) {
                Some(FVal::Num(num.value(j)))
            } else if st.is_valid(j) {
                Some(FVal::Str(st.value(j).to_string()))
            } else if bo.is_valid(j) {
                Some(FVal::Bool(bo.value(j)))
            } else {
                None
            }
        })
        .collect())
}

/// `(names per row → value)` of a map column, as one dense vector per key.
fn map_columns(
    col: &ArrayRef,
    feature_struct: bool,
) -> Result<BTreeMap<String, Vec<Option<FVal>>>, AnalyticsError> {
    let n = col.len();
    let map = col.as_map_opt().ok_or_else(|| {
        AnalyticsError::Execution(format!("expected a map column, got {}", col.data_type()))
    })?;
    let keys = cast(map.keys(), &DataType::Utf8)?;
    let keys = keys.as_string::<i32>();
    let mut values = entry_values(map.values(), feature_struct)?;
    let offsets = map.value_offsets();
    let mut out: BTreeMap<String, Vec<Option<FVal>>> = BTreeMap::new();
    for r in 0..n {
        if map.is_null(r) {
            continue;
        }
        let (start, end) = (offsets[r] as usize, offsets[r + 1] as usize);
        for (j, v) in (start..end).zip(&mut values[start..end]) {
            out.entry(keys.value(j).to_string())
                .or_insert_with(|| vec![None; n])[r] = v.take();
        }
    }
    Ok(out)
}

/// The dataset's rows and the manifest's description of their columns.
pub(crate) struct Pivoted {
    pub(crate) batch: RecordBatch,
    pub(crate) schema_doc: Vec<SchemaColumn>,
}

/// The selected feedback rows as dataset columns: the fixed head, tag and
/// feature columns (privacy rules applied), then the lineage.
pub(crate) fn pivot(
    rows: &RecordBatch,
    privacy: &PrivacyConfig,
) -> Result<Pivoted, AnalyticsError> {
    let key = privacy.hash_key.clone().unwrap_or_default().into_bytes();
    let hash = |s: &str| hex::encode(hmac_sha256(&key, s.as_bytes()));
    let col = |name: &str| {
        rows.column_by_name(name)
            .cloned()
            .ok_or_else(|| AnalyticsError::Execution(format!("feedback row lacks `{name}`")))
    };
    let mut out = Columns::default();
    let outputs = [
        "prediction_id",
        "ts",
        "model",
        "model_version",
        "output_label",
        "output_score",
        "output_value",
    ];
    let lineage = ["_topic", "_partition", "_offset"];
    for c in outputs.into_iter().chain(CORRECTION_COLUMNS) {
        let mut a = col(c)?;
        // Plain types in the dataset: strings as Utf8, whatever the engine used.
        if matches!(a.data_type(), DataType::Utf8View | DataType::LargeUtf8) {
            a = cast(&a, &DataType::Utf8)?;
        }
        out.push(c.to_string(), a, c.to_string(), None);
    }
    // Reserve the lineage names so features cannot take them.
    let mut reserved: BTreeSet<String> = lineage.iter().map(|s| s.to_string()).collect();

    let tags = map_columns(&col("tags")?, false)?;
    for (k, vals) in &tags {
        let rule = privacy.tag_rule(k);
        if rule == PrivacyRule::Drop {
            continue;
        }
        let mut b = StringBuilder::new();
        for v in vals {
            match v {
                Some(v) if rule == PrivacyRule::Hash => b.append_value(hash(&v.text())),
                Some(v) => b.append_value(v.text()),
                None => b.append_null(),
            }
        }
        let name = unique_name(format!("tag_{k}"), &out.taken, &reserved);
        reserved.insert(name.clone());
        out.push(name, Arc::new(b.finish()), format!("tag:{k}"), Some(rule));
    }
    let features = map_columns(&col("features")?, true)?;
    for (k, vals) in &features {
        let rule = privacy.feature_rule(k);
        if rule == PrivacyRule::Drop {
            continue;
        }
        let kinds: BTreeSet<u8> = vals
            .iter()
            .flatten()
            .map(|v| match v {
                FVal::Num(_) => 0,
                FVal::Str(_) => 1,
                FVal::Bool(_) => 2,
            })
            .collect();
        let a: ArrayRef = if rule == PrivacyRule::Hash {
            Arc::new(StringArray::from_iter(
                vals.iter().map(|v| v.as_ref().map(|v| hash(&v.text()))),
            ))
        } else if kinds.len() > 1 || kinds.first() == Some(&1) {
            Arc::new(StringArray::from_iter(
                vals.iter().map(|v| v.as_ref().map(FVal::text)),
            ))
        } else if kinds.first() == Some(&2) {
            Arc::new(BooleanArray::from_iter(vals.iter().map(|v| match v {
                Some(FVal::Bool(x)) => Some(*x),
                _ => None,
            })))
        } else {
            Arc::new(Float64Array::from_iter(vals.iter().map(|v| match v {
                Some(FVal::Num(x)) => Some(*x),
                _ => None,
            })))
        };
        let base = if out.taken.contains(k) || reserved.contains(k) {
            format!("feature_{k}")
        } else {
            k.clone()
        };
        let name = unique_name(base, &out.taken, &reserved);
        out.push(name, a, format!("feature:{k}"), Some(rule));
    }
    for c in lineage {
        out.push(c.to_string(), col(c)?, c.to_string(), None);
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(out.fields)), out.arrays)?;
    Ok(Pivoted {
        batch,
        schema_doc: out.doc,
    })
}

#[derive(Default)]
struct Columns {
    fields: Vec<Field>,
    arrays: Vec<ArrayRef>,
    doc: Vec<SchemaColumn>,
    taken: BTreeSet<String>,
}

impl Columns {
    fn push(&mut self, name: String, a: ArrayRef, source: String, rule: Option<PrivacyRule>) {
        self.fields
            .push(Field::new(&name, a.data_type().clone(), true));
        self.doc.push(SchemaColumn {
            name: name.clone(),
            data_type: a.data_type().to_string(),
            nullable: true,
            source,
            privacy: rule.map(|r| r.as_str().to_string()),
        });
        self.taken.insert(name);
        self.arrays.push(a);
    }
}

fn unique_name(base: String, taken: &BTreeSet<String>, reserved: &BTreeSet<String>) -> String {
    let free = |n: &String| !taken.contains(n) && !reserved.contains(n);
    if free(&base) {
        return base;
    }
    let mut i = 2;
    loop {
        let name = format!("{base}_{i}");
        if free(&name) {
            return name;
        }
        i += 1;
    }
}
