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

/// What one batch folds into: an accumulator per (window index, model version).
pub type Folded<T> = Vec<((usize, ModelKey), T)>;

/// A run of `count` consecutive event-time windows of `size` ms from `start`:
/// a batch of landing rows is walked once for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    pub start: i64,
    pub size: i64,
    pub count: usize,
}

impl Windows {
    /// The single window `[start, end)`.
    pub fn one(start: i64, end: i64) -> Windows {
        Windows {
            start,
            size: (end - start).max(1),
            count: 1,
        }
    }

    /// End of the last window.
    pub fn end(&self) -> i64 {
        self.start + self.size * self.count as i64
    }

    /// Index of the window starting at `start`, if it is one of these.
    pub fn position(&self, start: i64) -> Option<usize> {
        self.index(start)
            .filter(|&i| self.start + self.size * i as i64 == start)
    }

    /// The window holding event time `ts`, if any.
    fn index(&self, ts: i64) -> Option<usize> {
        if ts < self.start {
            return None;
        }
        let i = usize::try_from((ts - self.start) / self.size).ok()?;
        (i < self.count).then_some(i)
    }

    /// Calls `f(row, window)` for every row of `batch` inside the windows.
    fn for_each_row(
        &self,
        batch: &RecordBatch,
        mut f: impl FnMut(usize, usize),
    ) -> Result<(), AnalyticsError> {
        let ts = column(batch, "ts")?;
        let ts = ts
            .as_primitive_opt::<TimestampMillisecondType>()
            .ok_or_else(|| bad_column("ts", ts.data_type()))?;
        for i in 0..batch.num_rows() {
            if ts.is_valid(i)
                && let Some(w) = self.index(ts.value(i))
            {
                f(i, w);
            }
        }
        Ok(())
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

/// Position of the accumulator of (window, model version) in `accs`, added
/// when new.
fn position_of<T: Default>(
    accs: &mut Vec<((usize, ModelKey), T)>,
    window: usize,
    key: (&str, &str),
) -> usize {
    let found = accs
        .iter()
        .position(|((w, k), _)| *w == window && k.0 == key.0 && k.1 == key.1);
    found.unwrap_or_else(|| {
        accs.push((
            (window, (key.0.to_string(), key.1.to_string())),
            T::default(),
        ));
        accs.len() - 1
    })
}

/// Rows of one batch by (window, model version): the accumulator position of
/// the last row is reused while the window and the version's dictionary keys
/// stay the same (rows arrive in runs), so most rows compare two integers.
struct RowOwner {
    last: usize,
    last_codes: Option<(usize, usize, usize)>,
}

impl RowOwner {
    fn new() -> Self {
        RowOwner {
            last: usize::MAX,
            last_codes: None,
        }
    }

    fn of<T: Default>(
        &mut self,
        accs: &mut Vec<((usize, ModelKey), T)>,
        models: &ModelColumn,
        row: usize,
        window: usize,
    ) -> usize {
        let codes = models.codes(row).map(|(m, v)| (window, m, v));
        if codes.is_none() || codes != self.last_codes || self.last >= accs.len() {
            self.last_codes = codes;
            self.last = position_of(accs, window, models.key(row));
        }
        self.last
    }
}

/// Feature samples of one batch's rows per (window, model version), with
/// their rows per value of each `segments` tag (rows without the tag are in
/// no segment). Merge the parts of several batches with [`merge_samples`].
pub fn fold_predictions(
    batch: &RecordBatch,
    windows: &Windows,
    segments: &[String],
) -> Result<Folded<Samples>, AnalyticsError> {
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
    // A row group without string or boolean values may leave those kinds out
    // (`crate::read`): a missing kind is an all-null one.
    let string = match values.column_by_name("string") {
        Some(a) => Strs::of(a, "features.string")?,
        None => Strs::Plain(StringArray::new_null(values.len())),
    };
    let flag = match values.column_by_name("boolean") {
        Some(a) => a
            .as_boolean_opt()
            .ok_or_else(|| bad_column("features.boolean", a.data_type()))?
            .clone(),
        None => BooleanArray::new_null(values.len()),
    };
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

    let mut walkers: Vec<((usize, ModelKey), Walker)> = Vec::new();
    let mut owner = RowOwner::new();
    windows.for_each_row(batch, |i, window| {
        let at = owner.of(&mut walkers, &models, i, window);
        let w = &mut walkers[at].1;
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
    })?;
    Ok(walkers
        .into_iter()
        .map(|(k, w)| (k, w.into_samples(&string, &label)))
        .collect())
}

/// Merges folded parts (in the given order) into samples per window (index
/// `0..windows.count`) and model version.
pub fn merge_samples(
    parts: impl IntoIterator<Item = Folded<Samples>>,
    windows: &Windows,
) -> Vec<BTreeMap<ModelKey, Samples>> {
    let mut groups: BTreeMap<(usize, ModelKey), Vec<Samples>> = BTreeMap::new();
    for (at, s) in parts.into_iter().flatten() {
        groups.entry(at).or_default().push(s);
    }
    let mut out: Vec<BTreeMap<ModelKey, Samples>> = vec![BTreeMap::new(); windows.count];
    for ((w, key), list) in groups {
        if let Some(window) = out.get_mut(w) {
            window.insert(key, Samples::merge_all(list));
        }
    }
    out
}

/// Feature samples per model version of the rows of `batches` with `ts` in
/// `[start, end)` (see [`fold_predictions`]), batches walked in parallel on
/// the caller's pool.
pub fn collect_samples(
    batches: &[RecordBatch],
    start: i64,
    end: i64,
    segments: &[String],
) -> Result<BTreeMap<ModelKey, Samples>, AnalyticsError> {
    let windows = Windows::one(start, end);
    let parts: Vec<_> = batches
        .par_iter()
        .map(|b| fold_predictions(b, &windows, segments))
        .collect::<Result<_, _>>()?;
    Ok(merge_samples(parts, &windows).pop().unwrap_or_default())
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

/// Latency events of one model version in one window, as folded.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LatencyAcc {
    rows: u64,
    ms: Vec<f64>,
    errors: u64,
    timeouts: u64,
}

impl LatencyAcc {
    fn merge(&mut self, other: LatencyAcc) {
        self.rows += other.rows;
        self.ms.extend(other.ms);
        self.errors += other.errors;
        self.timeouts += other.timeouts;
    }
}

/// Latency events of one batch per (window, model version).
pub fn fold_latency(
    batch: &RecordBatch,
    windows: &Windows,
) -> Result<Folded<LatencyAcc>, AnalyticsError> {
    let models = ModelColumn::of(batch)?;
    let ms = f64s(&column(batch, "latency_ms")?, "latency_ms")?;
    let ms: &Float64Array = ms.as_primitive();
    let status = Strs::of(&column(batch, "status")?, "status")?;
    let mut accs: Vec<((usize, ModelKey), LatencyAcc)> = Vec::new();
    let mut owner = RowOwner::new();
    windows.for_each_row(batch, |i, window| {
        let at = owner.of(&mut accs, &models, i, window);
        let a = &mut accs[at].1;
        a.rows += 1;
        if ms.is_valid(i) {
            a.ms.push(ms.value(i));
        }
        match status.get(i) {
            Some("error") => a.errors += 1,
            Some("timeout") => a.timeouts += 1,
            _ => {}
        }
    })?;
    Ok(accs)
}

/// Merges folded latency parts into accumulators per window and model version.
pub fn merge_latency(
    parts: impl IntoIterator<Item = Folded<LatencyAcc>>,
    windows: &Windows,
) -> Vec<BTreeMap<ModelKey, LatencyAcc>> {
    let mut out: Vec<BTreeMap<ModelKey, LatencyAcc>> = vec![BTreeMap::new(); windows.count];
    for ((w, key), a) in parts.into_iter().flatten() {
        if let Some(window) = out.get_mut(w) {
            window.entry(key).or_default().merge(a);
        }
    }
    out
}

/// Latency metrics per model version of the rows of `batches` with `ts` in
/// `[start, end)` (see [`latency_metrics`]).
pub fn latency(
    batches: &[RecordBatch],
    start: i64,
    end: i64,
) -> Result<Vec<Latency>, AnalyticsError> {
    let windows = Windows::one(start, end);
    let parts: Vec<_> = batches
        .iter()
        .map(|b| fold_latency(b, &windows))
        .collect::<Result<_, _>>()?;
    Ok(latency_metrics(
        merge_latency(parts, &windows).pop().unwrap_or_default(),
    ))
}

/// Latency metrics per model version: requests, p50/p95/p99 (numpy's linear
/// interpolation) and the shares of `error` and `timeout` statuses.
pub fn latency_metrics(acc: BTreeMap<ModelKey, LatencyAcc>) -> Vec<Latency> {
    acc.into_iter()
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
        .collect()
}
