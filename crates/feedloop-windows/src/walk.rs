//! Reading a window straight out of the loaded Arrow batches, column by
//! column: feature values into per-feature buffers per model version (the
//! `features` map walked entry by entry, no unnest, no per-row strings),
//! volume per segment, and latency percentiles. No SQL runs per window.

use std::collections::{BTreeMap, HashMap};

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, MapArray, PrimitiveArray, RecordBatch,
    StringArray,
};
use arrow::datatypes::{DataType, Int32Type, TimestampMillisecondType};
use feedloop_analytics::AnalyticsError;
use rayon::prelude::*;

use crate::compute::ModelKey;
use crate::profiles::{FeatureSample, OUTPUT_LABEL, OUTPUT_SCORE, OUTPUT_VALUE, Samples};

/// Rows of one model version (and segment: tag → value, empty for all rows).
pub type Volume = (ModelKey, BTreeMap<String, String>, f64);

/// Latency metrics of one model version, by metric name.
pub type Latency = (ModelKey, Vec<(&'static str, f64)>);

/// The rows of a batch with `ts` in `[start, end)`.
enum Rows {
    All(usize),
    Some(Vec<usize>),
}

impl Rows {
    fn of(batch: &RecordBatch, start: i64, end: i64) -> Result<Rows, AnalyticsError> {
        let ts = column(batch, "ts")?;
        let ts = ts
            .as_primitive_opt::<TimestampMillisecondType>()
            .ok_or_else(|| bad_column("ts", ts.data_type()))?;
        let inside = |i: usize| ts.is_valid(i) && (start..end).contains(&ts.value(i));
        let n = batch.num_rows();
        if (0..n).all(inside) {
            return Ok(Rows::All(n));
        }
        Ok(Rows::Some((0..n).filter(|&i| inside(i)).collect()))
    }

    fn for_each(&self, mut f: impl FnMut(usize)) {
        match self {
            Rows::All(n) => (0..*n).for_each(f),
            Rows::Some(v) => v.iter().for_each(|&i| f(i)),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Rows::All(n) => *n == 0,
            Rows::Some(v) => v.is_empty(),
        }
    }
}

fn bad_column(name: &str, t: &DataType) -> AnalyticsError {
    AnalyticsError::Execution(format!("landing column `{name}` has unexpected type {t}"))
}

fn column(batch: &RecordBatch, name: &str) -> Result<ArrayRef, AnalyticsError> {
    batch
        .column_by_name(name)
        .cloned()
        .ok_or_else(|| AnalyticsError::Execution(format!("landing column `{name}` is missing")))
}

/// A string column as `Utf8` (cast when the reader produced another string type).
fn utf8(a: &ArrayRef, name: &str) -> Result<ArrayRef, AnalyticsError> {
    match a.data_type() {
        DataType::Utf8 => Ok(a.clone()),
        t => arrow::compute::cast(a, &DataType::Utf8).map_err(|_| bad_column(name, t)),
    }
}

fn f64s(a: &ArrayRef, name: &str) -> Result<ArrayRef, AnalyticsError> {
    match a.data_type() {
        DataType::Float64 => Ok(a.clone()),
        t => arrow::compute::cast(a, &DataType::Float64).map_err(|_| bad_column(name, t)),
    }
}

/// A string column read without casting: a dictionary of UTF-8 values (what
/// [`crate::read`] asks the Parquet reader for, so rows are told apart by
/// integer key), or plain UTF-8 (any other string type is cast to it).
enum Strs {
    Plain(StringArray),
    Dict {
        keys: PrimitiveArray<Int32Type>,
        values: StringArray,
    },
}

impl Strs {
    fn of(a: &ArrayRef, name: &str) -> Result<Strs, AnalyticsError> {
        if let Some(d) = a.as_dictionary_opt::<Int32Type>() {
            let values = utf8(d.values(), name)?;
            return Ok(Strs::Dict {
                keys: d.keys().clone(),
                values: values.as_string::<i32>().clone(),
            });
        }
        Ok(Strs::Plain(utf8(a, name)?.as_string::<i32>().clone()))
    }

    /// The dictionary key of row `i` (`None` for a null or a plain string).
    fn code(&self, i: usize) -> Option<usize> {
        match self {
            Strs::Plain(_) => None,
            Strs::Dict { keys, values } => keys
                .is_valid(i)
                .then(|| usize::try_from(keys.value(i)).ok())
                .flatten()
                .filter(|&k| k < values.len() && values.is_valid(k)),
        }
    }

    /// The string of row `i`, `None` when null.
    fn get(&self, i: usize) -> Option<&str> {
        match self {
            Strs::Plain(a) => a.is_valid(i).then(|| a.value(i)),
            Strs::Dict { values, .. } => self.code(i).map(|k| values.value(k)),
        }
    }

    /// The dictionary's value of key `code`.
    fn decode(&self, code: usize) -> Option<&str> {
        match self {
            Strs::Plain(_) => None,
            Strs::Dict { values, .. } => {
                (code < values.len() && values.is_valid(code)).then(|| values.value(code))
            }
        }
    }
}

/// A map column of a batch: its offsets, keys and values.
struct MapColumn {
    map: MapArray,
    keys: Strs,
}

impl MapColumn {
    fn of(batch: &RecordBatch, name: &str) -> Result<Self, AnalyticsError> {
        let a = column(batch, name)?;
        let map = a
            .as_map_opt()
            .ok_or_else(|| bad_column(name, a.data_type()))?
            .clone();
        let keys = Strs::of(map.keys(), name)?;
        Ok(MapColumn { map, keys })
    }

    fn values(&self) -> &ArrayRef {
        self.map.values()
    }

    /// The entries of row `i`.
    fn entries(&self, i: usize) -> std::ops::Range<usize> {
        let o = self.map.value_offsets();
        o[i] as usize..o[i + 1] as usize
    }
}

/// Slot index meaning "not resolved yet".
const UNKNOWN: usize = usize::MAX;

/// One model version's features while a batch is walked: slots in first-seen
/// order, found through the feature-name dictionary key (one array lookup per
/// value), or for plain keys by name with the next slot tried first (rows list
/// their features in the same order, so the guess almost always holds).
/// Dictionary-coded string values are counted by key and named once, at the end.
#[derive(Default)]
struct Walker {
    rows: u64,
    segments: BTreeMap<(String, String), u64>,
    slots: Vec<(String, FeatureSample)>,
    index: HashMap<String, usize>,
    /// Slot of each feature-name dictionary key of the batch.
    key_slots: Vec<usize>,
    /// Per slot, counts of string values by dictionary key of `features.string`.
    coded: Vec<Vec<u64>>,
    /// Counts of `output_label` by its dictionary key.
    coded_labels: Vec<u64>,
    /// Slots of `output_score` and `output_value`, once resolved.
    score_slot: Option<usize>,
    value_slot: Option<usize>,
}

fn count_code(counts: &mut Vec<u64>, code: usize) {
    if counts.len() <= code {
        counts.resize(code + 1, 0);
    }
    counts[code] += 1;
}

impl Walker {
    fn slot(&mut self, guess: usize, name: &str) -> usize {
        if let Some((n, _)) = self.slots.get(guess)
            && n == name
        {
            return guess;
        }
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.slots
            .push((name.to_string(), FeatureSample::default()));
        self.coded.push(Vec::new());
        self.index.insert(name.to_string(), self.slots.len() - 1);
        self.slots.len() - 1
    }

    /// The slot of map entry `e`, whose key is `keys`' row `e`.
    fn slot_of_entry(&mut self, guess: usize, keys: &Strs, e: usize) -> Option<usize> {
        let Some(code) = keys.code(e) else {
            return keys.get(e).map(|name| self.slot(guess, name));
        };
        if let Some(&s) = self.key_slots.get(code)
            && s != UNKNOWN
        {
            return Some(s);
        }
        let s = self.slot(guess, keys.decode(code)?);
        if self.key_slots.len() <= code {
            self.key_slots.resize(code + 1, UNKNOWN);
        }
        self.key_slots[code] = s;
        Some(s)
    }

    /// The samples, with the dictionary-coded strings named (`strings` is
    /// the batch's `features.string`, `labels` its `output_label`).
    fn into_samples(mut self, strings: &Strs, labels: &Strs) -> Samples {
        for (slot, counts) in std::mem::take(&mut self.coded).into_iter().enumerate() {
            for (code, n) in counts.into_iter().enumerate().filter(|&(_, n)| n > 0) {
                if let Some(s) = strings.decode(code) {
                    self.slots[slot].1.add_string(s, n);
                }
            }
        }
        let labels_counted = std::mem::take(&mut self.coded_labels);
        if labels_counted.iter().any(|&n| n > 0) {
            let slot = self.slot(UNKNOWN, OUTPUT_LABEL);
            for (code, n) in labels_counted
                .into_iter()
                .enumerate()
                .filter(|&(_, n)| n > 0)
            {
                if let Some(s) = labels.decode(code) {
                    self.slots[slot].1.add_string(s, n);
                }
            }
        }
        Samples {
            rows: self.rows,
            segments: self.segments,
            features: self.slots.into_iter().collect(),
        }
    }
}

/// The model version of each row, looked up once per change of version.
struct ModelColumn {
    model: Strs,
    version: Strs,
}

impl ModelColumn {
    fn of(batch: &RecordBatch) -> Result<Self, AnalyticsError> {
        Ok(ModelColumn {
            model: Strs::of(&column(batch, "model")?, "model")?,
            version: Strs::of(&column(batch, "model_version")?, "model_version")?,
        })
    }

    fn key(&self, i: usize) -> (&str, &str) {
        (
            self.model.get(i).unwrap_or_default(),
            self.version.get(i).unwrap_or_default(),
        )
    }

    /// Dictionary keys of row `i`'s model and version, when both are coded.
    fn codes(&self, i: usize) -> Option<(usize, usize)> {
        Some((self.model.code(i)?, self.version.code(i)?))
    }
}

/// Finds (or adds) the walker of a row's model version; consecutive rows of
/// one version reuse the last position.
fn walker_of<'w>(
    walkers: &'w mut Vec<(ModelKey, Walker)>,
    last: &mut usize,
    key: (&str, &str),
) -> &'w mut Walker {
    let hit = walkers
        .get(*last)
        .is_some_and(|(k, _)| k.0 == key.0 && k.1 == key.1);
    if !hit {
        *last = match walkers
            .iter()
            .position(|(k, _)| k.0 == key.0 && k.1 == key.1)
        {
            Some(p) => p,
            None => {
                walkers.push(((key.0.to_string(), key.1.to_string()), Walker::default()));
                walkers.len() - 1
            }
        };
    }
    &mut walkers[*last].1
}

fn walk_predictions(
    batch: &RecordBatch,
    start: i64,
    end: i64,
    segments: &[String],
) -> Result<Vec<(ModelKey, Samples)>, AnalyticsError> {
    let rows = Rows::of(batch, start, end)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let models = ModelColumn::of(batch)?;
    let features = MapColumn::of(batch, "features")?;
    let keys = &features.keys;
    let values = features
        .values()
        .as_struct_opt()
        .ok_or_else(|| bad_column("features", features.values().data_type()))?;
    let field = |name: &str| {
        values
            .column_by_name(name)
            .cloned()
            .ok_or_else(|| AnalyticsError::Execution(format!("feature values lack `{name}`")))
    };
    let number = f64s(&field("number")?, "features.number")?;
    let number: &Float64Array = number.as_primitive();
    let string = Strs::of(&field("string")?, "features.string")?;
    let flag = field("boolean")?;
    let flag: &BooleanArray = flag
        .as_boolean_opt()
        .ok_or_else(|| bad_column("features.boolean", flag.data_type()))?;
    let score = f64s(&column(batch, "output_score")?, "output_score")?;
    let score: &Float64Array = score.as_primitive();
    let value = f64s(&column(batch, "output_value")?, "output_value")?;
    let value: &Float64Array = value.as_primitive();
    let label = Strs::of(&column(batch, "output_label")?, "output_label")?;
    let tags = if segments.is_empty() {
        None
    } else {
        let tags = MapColumn::of(batch, "tags")?;
        let values = Strs::of(tags.values(), "tags")?;
        Some((tags, values))
    };

    let mut walkers: Vec<(ModelKey, Walker)> = Vec::new();
    let mut last = 0usize;
    let mut last_codes = None;
    rows.for_each(|i| {
        let codes = models.codes(i);
        let w = if codes.is_some() && codes == last_codes && last < walkers.len() {
            &mut walkers[last].1
        } else {
            last_codes = codes;
            walker_of(&mut walkers, &mut last, models.key(i))
        };
        w.rows += 1;
        if let Some((tags, values)) = &tags {
            for tag in segments {
                // The last entry of a tag wins, as `tags[tag]` reads a map.
                let found = tags
                    .entries(i)
                    .rev()
                    .find(|&e| tags.keys.get(e) == Some(tag.as_str()));
                if let Some(v) = found.and_then(|e| values.get(e)) {
                    *w.segments.entry((tag.clone(), v.to_string())).or_default() += 1;
                }
            }
        }
        let mut guess = 0usize;
        for e in features.entries(i) {
            let Some(slot) = w.slot_of_entry(guess, keys, e) else {
                continue;
            };
            guess = slot + 1;
            if number.is_valid(e) {
                w.slots[slot].1.numbers.push(number.value(e));
            } else if let Some(code) = string.code(e) {
                count_code(&mut w.coded[slot], code);
            } else if let Some(s) = string.get(e) {
                w.slots[slot].1.add_string(s, 1);
            } else if flag.is_valid(e) {
                w.slots[slot].1.add_bool(flag.value(e), 1);
            } else {
                w.slots[slot].1.nulls += 1;
            }
        }
        if score.is_valid(i) {
            let slot = match w.score_slot {
                Some(s) => s,
                None => {
                    let s = w.slot(UNKNOWN, OUTPUT_SCORE);
                    *w.score_slot.insert(s)
                }
            };
            w.slots[slot].1.numbers.push(score.value(i));
        }
        if let Some(code) = label.code(i) {
            count_code(&mut w.coded_labels, code);
        } else if let Some(l) = label.get(i) {
            let slot = w.slot(UNKNOWN, OUTPUT_LABEL);
            w.slots[slot].1.add_string(l, 1);
        }
        if value.is_valid(i) {
            let slot = match w.value_slot {
                Some(s) => s,
                None => {
                    let s = w.slot(UNKNOWN, OUTPUT_VALUE);
                    *w.value_slot.insert(s)
                }
            };
            w.slots[slot].1.numbers.push(value.value(i));
        }
    });
    Ok(walkers
        .into_iter()
        .map(|(k, w)| (k, w.into_samples(&string, &label)))
        .collect())
}

/// Feature samples per model version of the rows of `batches` with `ts` in
/// `[start, end)`, with their rows per value of each `segments` tag (rows
/// without the tag are in no segment): batches are walked in parallel (on the
/// caller's pool) and their samples merged in batch order.
pub fn collect_samples(
    batches: &[RecordBatch],
    start: i64,
    end: i64,
    segments: &[String],
) -> Result<BTreeMap<ModelKey, Samples>, AnalyticsError> {
    let parts: Vec<Vec<(ModelKey, Samples)>> = batches
        .par_iter()
        .map(|b| walk_predictions(b, start, end, segments))
        .collect::<Result<_, _>>()?;
    let mut out: BTreeMap<ModelKey, Samples> = BTreeMap::new();
    for (key, s) in parts.into_iter().flatten() {
        out.entry(key).or_default().merge(s);
    }
    Ok(out)
}

/// Volume per model version of walked samples: every version's rows, then
/// every version's rows per segment (tag, value).
pub fn volume(samples: &BTreeMap<ModelKey, Samples>) -> Vec<Volume> {
    let overall = samples
        .iter()
        .map(|(k, s)| (k.clone(), BTreeMap::new(), s.rows as f64));
    let by_segment = samples.iter().flat_map(|(k, s)| {
        s.segments.iter().map(|((tag, value), n)| {
            (
                k.clone(),
                BTreeMap::from([(tag.clone(), value.clone())]),
                *n as f64,
            )
        })
    });
    overall.chain(by_segment).collect()
}

/// Latency metrics per model version: requests, p50/p95/p99 (numpy's linear
/// interpolation) and the shares of `error` and `timeout` statuses.
pub fn latency(
    batches: &[RecordBatch],
    start: i64,
    end: i64,
) -> Result<Vec<Latency>, AnalyticsError> {
    #[derive(Default)]
    struct Acc {
        rows: u64,
        ms: Vec<f64>,
        errors: u64,
        timeouts: u64,
    }
    let mut accs: Vec<(ModelKey, Acc)> = Vec::new();
    for batch in batches {
        let rows = Rows::of(batch, start, end)?;
        if rows.is_empty() {
            continue;
        }
        let models = ModelColumn::of(batch)?;
        let ms = f64s(&column(batch, "latency_ms")?, "latency_ms")?;
        let ms: &Float64Array = ms.as_primitive();
        let status = Strs::of(&column(batch, "status")?, "status")?;
        let mut last = 0usize;
        let mut last_codes = None;
        rows.for_each(|i| {
            let codes = models.codes(i);
            if codes.is_none() || codes != last_codes || last >= accs.len() {
                last_codes = codes;
                let (m, v) = models.key(i);
                last = match accs.iter().position(|(k, _)| k.0 == m && k.1 == v) {
                    Some(p) => p,
                    None => {
                        accs.push(((m.to_string(), v.to_string()), Acc::default()));
                        accs.len() - 1
                    }
                };
            }
            let a = &mut accs[last].1;
            a.rows += 1;
            if ms.is_valid(i) {
                a.ms.push(ms.value(i));
            }
            match status.get(i) {
                Some("error") => a.errors += 1,
                Some("timeout") => a.timeouts += 1,
                _ => {}
            }
        });
    }
    let acc: BTreeMap<ModelKey, Acc> = accs.into_iter().collect();
    Ok(acc
        .into_iter()
        .map(|(key, a)| {
            let n = a.rows;
            let sorted = feedloop_drift::profile::SortedValues::new(a.ms);
            let q = |p: f64| feedloop_drift::quantile(sorted.as_slice(), p);
            let mut vals = vec![("requests", n as f64)];
            if let (Some(p50), Some(p95), Some(p99)) = (q(0.5), q(0.95), q(0.99)) {
                vals.extend([
                    ("latency_p50", p50),
                    ("latency_p95", p95),
                    ("latency_p99", p99),
                ]);
            }
            if n > 0 {
                vals.push(("request_error_rate", a.errors as f64 / n as f64));
                vals.push(("timeout_rate", a.timeouts as f64 / n as f64));
            }
            (key, vals)
        })
        .collect())
}
