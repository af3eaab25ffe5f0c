//! Retraining datasets: select predictions (with their corrections) by a policy
//! and write them as an immutable, versioned Parquet dataset.
//!
//! [`export_dataset`] is the one-shot export (`feedloop export`);
//! [`run_scheduled_exports`] runs the `[[export.datasets]]` entries that are due
//! (the scheduler of `feedloop run` calls it on a timer); [`count_policies`] is
//! the dry run. Layout, manifest and commit protocol: [`feedloop_storage::datasets`].
//!
//! An export reads a **snapshot**: it lists the landing files of `predictions`
//! and `corrections` (and `alerts/` for the `drifted` policy) once, queries
//! exactly those files, and records them in the manifest (`source_files`).
//! Rows are ordered by `(ts, prediction_id, _topic, _partition, _offset)` and
//! parts are encoded deterministically, so the same export over the same data
//! gives byte-identical parts and therefore the same content-hash version.
//! The whole selection is held in memory while it is encoded (parts are
//! whole-object PUTs).
//!
//! **Columns**: `prediction_id, ts, model, model_version, output_label,
//! output_score, output_value, corrected_label, corrected_value,
//! correction_source, correction_ts, correction_count, is_corrected, is_wrong`,
//! then one `tag_<name>` VARCHAR column per tag, then one column per feature
//! (sorted by name), then the lineage `_topic, _partition, _offset`.
//! A feature's column type is the one type its non-null values have in the
//! selected rows (number → DOUBLE, string → VARCHAR, boolean → BOOLEAN); a
//! feature seen with several types becomes VARCHAR with numbers and booleans
//! rendered as text (`3`, `0.5`, `true`); a feature that is always null is
//! DOUBLE. A feature whose name is already taken by a column gets the name
//! `feature_<name>`. Privacy rules (`[export.privacy]`) drop a feature or tag,
//! or replace its values by the hex HMAC-SHA256 of their text form (VARCHAR).

use crate::feedback::{FeedbackOptions, PREDICTION_COLUMNS, feedback_sql, sql_str, ts_literal};
use crate::session::{AnalyticsError, LandingSession};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Float64Builder, RecordBatch, StringArray,
    StringBuilder,
};
use datafusion::arrow::compute::{cast, concat_batches};
use datafusion::arrow::datatypes::{
    DataType, Field, Schema, SchemaRef, TimeUnit, TimestampMillisecondType,
};
use datafusion::catalog::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use feedloop_events::StreamKind;
use feedloop_storage::datasets::{
    CommitOutcome, DatasetId, DatasetStore, EncodedPart, FailPoint, MANIFEST_FORMAT, Manifest,
    ManifestFile, SchemaColumn, SourceFile, TimeRange, content_version, encode_part, validate_name,
};
use feedloop_storage::{LandingZone, Storage, StorageError};
use object_store::path::Path;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// Folder (under the storage root) of the alerts table read by the `drifted` policy.
pub const ALERTS_DIR: &str = "alerts";

impl From<StorageError> for AnalyticsError {
    fn from(e: StorageError) -> Self {
        if e.is_retryable() {
            AnalyticsError::Execution(e.to_string())
        } else {
            AnalyticsError::Input(e.to_string())
        }
    }
}

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/// What to do with a feature or tag on export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrivacyRule {
    #[default]
    Keep,
    Drop,
    /// Hex HMAC-SHA256 of the value's text, keyed by `[export.privacy] hash_key`.
    Hash,
}

impl PrivacyRule {
    fn as_str(self) -> &'static str {
        match self {
            PrivacyRule::Keep => "keep",
            PrivacyRule::Drop => "drop",
            PrivacyRule::Hash => "hash",
        }
    }
}

/// `[export.privacy]`. `Debug` shows the key as `<redacted>`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacyConfig {
    /// Rule for features and tags not listed below.
    pub default: PrivacyRule,
    /// Rules per feature name.
    pub features: BTreeMap<String, PrivacyRule>,
    /// Rules per tag name.
    pub tags: BTreeMap<String, PrivacyRule>,
    /// HMAC key of `hash` rules (a secret: set it with
    /// `FEEDLOOP_EXPORT__PRIVACY__HASH_KEY`). Required when a rule is `hash`.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "secret_text"
    )]
    pub hash_key: Option<String>,
}

impl std::fmt::Debug for PrivacyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivacyConfig")
            .field("default", &self.default)
            .field("features", &self.features)
            .field("tags", &self.tags)
            .field("hash_key", &self.hash_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// An optional secret that may be written as a number or boolean (an all-digit
/// key, or one from `FEEDLOOP_…`, which the environment provider reads as a
/// number): taken as its text rather than rejected with an error quoting it.
fn secret_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        S(String),
        I(i64),
        U(u64),
        F(f64),
        B(bool),
    }
    Ok(Option::<Text>::deserialize(d)?.map(|t| match t {
        Text::S(s) => s,
        Text::I(v) => v.to_string(),
        Text::U(v) => v.to_string(),
        Text::F(v) => v.to_string(),
        Text::B(v) => v.to_string(),
    }))
}

impl PrivacyConfig {
    fn feature_rule(&self, name: &str) -> PrivacyRule {
        self.features.get(name).copied().unwrap_or(self.default)
    }

    fn tag_rule(&self, name: &str) -> PrivacyRule {
        self.tags.get(name).copied().unwrap_or(self.default)
    }

    fn uses_hash(&self) -> bool {
        self.default == PrivacyRule::Hash
            || self
                .features
                .values()
                .chain(self.tags.values())
                .any(|r| *r == PrivacyRule::Hash)
    }

    /// The rules as recorded in manifests (without the key).
    fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "default": self.default.as_str(),
            "features": self.features.iter().map(|(k, v)| (k.clone(), v.as_str())).collect::<BTreeMap<_, _>>(),
            "tags": self.tags.iter().map(|(k, v)| (k.clone(), v.as_str())).collect::<BTreeMap<_, _>>(),
            "hash": "hex HMAC-SHA256 of the value's text",
        })
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.uses_hash() && self.hash_key.as_deref().is_none_or(str::is_empty) {
            return Err("`export.privacy`: a `hash` rule needs `hash_key` (e.g. FEEDLOOP_EXPORT__PRIVACY__HASH_KEY)".into());
        }
        Ok(())
    }
}

/// HMAC-SHA256 (RFC 2104). `hmac` is not among the workspace's locked
/// dependencies, and HMAC over `sha2` is a few lines.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .into()
}

/// Which rows a dataset holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    Wrong,
    Corrected,
    Sample,
    Stratified,
    Uncertain,
    Drifted,
    Sql,
}

impl PolicyKind {
    pub const ALL: [PolicyKind; 7] = [
        PolicyKind::Wrong,
        PolicyKind::Corrected,
        PolicyKind::Sample,
        PolicyKind::Stratified,
        PolicyKind::Uncertain,
        PolicyKind::Drifted,
        PolicyKind::Sql,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::Wrong => "wrong",
            PolicyKind::Corrected => "corrected",
            PolicyKind::Sample => "sample",
            PolicyKind::Stratified => "stratified",
            PolicyKind::Uncertain => "uncertain",
            PolicyKind::Drifted => "drifted",
            PolicyKind::Sql => "sql",
        }
    }
}

impl std::str::FromStr for PolicyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        PolicyKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown policy `{s}` (wrong, corrected, sample, stratified, uncertain, drifted, sql)"))
    }
}

/// Parameters of the policies (each uses some; see [`Policy`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyParams {
    /// `sample`: share of predictions kept, in [0, 1].
    pub rate: Option<f64>,
    /// `sample`, `stratified`: seed of the deterministic hash (default 0).
    pub seed: Option<u64>,
    /// `stratified`: most rows per stratum.
    pub cap: Option<u64>,
    /// `stratified`: stratum keys: `label` (the corrected label, else the
    /// predicted one), `model_version`, `tag:<name>` (default `label`).
    pub by: Vec<String>,
    /// `uncertain`: decision boundary of `output_score` (default 0.5).
    pub boundary: Option<f64>,
    /// `uncertain`: half-width of the band around it (default 0.1).
    pub band: Option<f64>,
    /// `drifted`: alert states that count (default: any state except
    /// `ok`, `resolved`, `inactive`, `normal`).
    pub alert_states: Vec<String>,
    /// `sql`: a predicate over the `feedback` view's columns.
    #[serde(rename = "where")]
    pub where_clause: Option<String>,
}

/// A selection policy with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Policy {
    /// Every corrected prediction whose correction says it was wrong.
    Wrong,
    /// Every corrected prediction.
    Corrected,
    /// Uniform sample: kept iff `unit_hash(prediction_id, seed) < rate`.
    Sample { rate: f64, seed: u64 },
    /// At most `cap` rows per stratum, the ones with the smallest `unit_hash`.
    Stratified {
        cap: u64,
        by: Vec<String>,
        seed: u64,
    },
    /// `boundary − band ≤ output_score ≤ boundary + band`.
    Uncertain { boundary: f64, band: f64 },
    /// Predictions of a model version, in a window and segment that raised an alert.
    Drifted { states: Vec<String> },
    /// A SQL predicate over the `feedback` view.
    Sql { where_clause: String },
}

impl Policy {
    pub fn from_params(kind: PolicyKind, p: &PolicyParams) -> Result<Policy, String> {
        let seed = p.seed.unwrap_or(0);
        Ok(match kind {
            PolicyKind::Wrong => Policy::Wrong,
            PolicyKind::Corrected => Policy::Corrected,
            PolicyKind::Sample => {
                let rate = p.rate.ok_or("policy `sample` needs a rate (--rate)")?;
                if !(0.0..=1.0).contains(&rate) {
                    return Err(format!("rate must be in [0, 1], got {rate}"));
                }
                Policy::Sample { rate, seed }
            }
            PolicyKind::Stratified => {
                let cap = p
                    .cap
                    .ok_or("policy `stratified` needs a cap per stratum (--cap)")?;
                let by = if p.by.is_empty() {
                    vec!["label".to_string()]
                } else {
                    p.by.clone()
                };
                for k in &by {
                    if !(k == "label"
                        || k == "model_version"
                        || k.strip_prefix("tag:").is_some_and(|t| !t.is_empty()))
                    {
                        return Err(format!(
                            "stratum key `{k}`: expected label, model_version or tag:<name>"
                        ));
                    }
                }
                Policy::Stratified { cap, by, seed }
            }
            PolicyKind::Uncertain => {
                let boundary = p.boundary.unwrap_or(0.5);
                let band = p.band.unwrap_or(0.1);
                if !boundary.is_finite() || !band.is_finite() || band < 0.0 {
                    return Err("boundary and band must be finite, band ≥ 0".into());
                }
                Policy::Uncertain { boundary, band }
            }
            PolicyKind::Drifted => Policy::Drifted {
                states: p.alert_states.clone(),
            },
            PolicyKind::Sql => Policy::Sql {
                where_clause: p
                    .where_clause
                    .clone()
                    .filter(|w| !w.trim().is_empty())
                    .ok_or("policy `sql` needs --where")?,
            },
        })
    }

    pub fn kind(&self) -> PolicyKind {
        match self {
            Policy::Wrong => PolicyKind::Wrong,
            Policy::Corrected => PolicyKind::Corrected,
            Policy::Sample { .. } => PolicyKind::Sample,
            Policy::Stratified { .. } => PolicyKind::Stratified,
            Policy::Uncertain { .. } => PolicyKind::Uncertain,
            Policy::Drifted { .. } => PolicyKind::Drifted,
            Policy::Sql { .. } => PolicyKind::Sql,
        }
    }

    /// The parameters as recorded in the manifest.
    pub fn parameters(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Policy::Wrong | Policy::Corrected => json!({}),
            Policy::Sample { rate, seed } => json!({"rate": rate, "seed": seed}),
            Policy::Stratified { cap, by, seed } => json!({"cap": cap, "by": by, "seed": seed}),
            Policy::Uncertain { boundary, band } => json!({"boundary": boundary, "band": band}),
            Policy::Drifted { states } => json!({"alert_states": states}),
            Policy::Sql { where_clause } => json!({"where": where_clause}),
        }
    }
}

/// One `[[export.datasets]]` entry: a dataset exported on a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledDataset {
    pub name: String,
    pub model: String,
    #[serde(default)]
    pub model_version: Option<String>,
    pub policy: PolicyKind,
    /// How often to export (e.g. `"1d"`).
    #[serde(with = "humantime_serde")]
    pub every: Duration,
    /// Only predictions of the last `lookback` (default: all history).
    #[serde(default, with = "humantime_serde")]
    pub lookback: Option<Duration>,
    #[serde(default)]
    pub rate: Option<f64>,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub cap: Option<u64>,
    #[serde(default)]
    pub by: Vec<String>,
    #[serde(default)]
    pub boundary: Option<f64>,
    #[serde(default)]
    pub band: Option<f64>,
    #[serde(default)]
    pub alert_states: Vec<String>,
    #[serde(default, rename = "where")]
    pub where_clause: Option<String>,
}

impl ScheduledDataset {
    pub fn policy(&self) -> Result<Policy, String> {
        let p = PolicyParams {
            rate: self.rate,
            seed: self.seed,
            cap: self.cap,
            by: self.by.clone(),
            boundary: self.boundary,
            band: self.band,
            alert_states: self.alert_states.clone(),
            where_clause: self.where_clause.clone(),
        };
        Policy::from_params(self.policy, &p)
    }
}

/// `[export]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExportConfig {
    /// Rows per Parquet part.
    pub rows_per_part: usize,
    /// Rows per row group within a part.
    pub row_group_rows: usize,
    /// zstd level of parts.
    pub zstd_level: i32,
    /// Version folders without a manifest older than this are deleted by the next export.
    #[serde(with = "humantime_serde")]
    pub cleanup_grace: Duration,
    /// `[export.feedback]`: tolerance and unmatched horizon of the corrections join.
    pub feedback: FeedbackOptions,
    /// `[export.privacy]`.
    pub privacy: PrivacyConfig,
    /// `[[export.datasets]]`: scheduled exports run by `feedloop run`.
    pub datasets: Vec<ScheduledDataset>,
}

impl Default for ExportConfig {
    fn default() -> Self {
        ExportConfig {
            rows_per_part: 1_000_000,
            row_group_rows: 128 * 1024,
            zstd_level: 3,
            cleanup_grace: Duration::from_secs(3600),
            feedback: FeedbackOptions::default(),
            privacy: PrivacyConfig::default(),
            datasets: Vec::new(),
        }
    }
}

impl ExportConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.rows_per_part == 0 || self.row_group_rows == 0 {
            return Err("`export.rows_per_part` and `export.row_group_rows` must be ≥ 1".into());
        }
        if !(1..=22).contains(&self.zstd_level) {
            return Err("`export.zstd_level` must be in 1..=22".into());
        }
        self.feedback
            .validate()
            .map_err(|e| format!("`export.feedback`: {e}"))?;
        self.privacy.validate()?;
        let mut seen = BTreeSet::new();
        for (i, d) in self.datasets.iter().enumerate() {
            let at = format!("`export.datasets[{i}]`");
            validate_name("dataset", &d.name).map_err(|e| format!("{at}: {e}"))?;
            validate_name("model", &d.model).map_err(|e| format!("{at}: {e}"))?;
            d.policy().map_err(|e| format!("{at}: {e}"))?;
            if d.every.is_zero() {
                return Err(format!("{at}: `every` must be > 0"));
            }
            if !seen.insert((d.model.clone(), d.name.clone())) {
                return Err(format!(
                    "{at}: dataset `{}/{}` is defined twice",
                    d.model, d.name
                ));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Requests and results
// ---------------------------------------------------------------------------

/// One export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub model: String,
    /// Dataset name (default: the policy's name).
    pub name: Option<String>,
    pub model_version: Option<String>,
    /// Predictions with `ts ≥ since_ms` (epoch milliseconds).
    pub since_ms: Option<i64>,
    /// Predictions with `ts < until_ms`.
    pub until_ms: Option<i64>,
    pub policy: Policy,
    /// The export's "now" (epoch milliseconds), as the `feedback` views see it:
    /// corrections without a prediction older than `now_ms − horizon` are
    /// unmatched. The caller's clock (the CLI's, the scheduler's tick), never
    /// read here.
    pub now_ms: i64,
    /// Stop before the manifest (crash-safety tests).
    pub fail_point: FailPoint,
}

impl ExportRequest {
    pub fn new(model: impl Into<String>, policy: Policy, now_ms: i64) -> Self {
        ExportRequest {
            model: model.into(),
            name: None,
            model_version: None,
            since_ms: None,
            until_ms: None,
            policy,
            now_ms,
            fail_point: FailPoint::None,
        }
    }

    pub fn dataset_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| self.policy.kind().as_str().to_string())
    }
}

/// What an export wrote (or found already written).
#[derive(Debug, Clone)]
pub struct ExportOutcome {
    pub id: DatasetId,
    /// The version folder's URL (holds `_manifest.json`), with a trailing `/`.
    pub url: String,
    pub manifest: Manifest,
    /// False when the same version already existed: nothing was written.
    pub created: bool,
    pub bytes: u64,
    /// Leftover version folders (crashed exports) removed before this export.
    pub cleaned: Vec<String>,
}

// ---------------------------------------------------------------------------
// The deterministic sample hash
// ---------------------------------------------------------------------------

/// A number in [0, 1) fixed by `(prediction_id, seed)`: the first 8 bytes of
/// SHA-256(`"<seed>:<prediction_id>"`), big-endian, divided by 2^64.
pub fn unit_hash(prediction_id: &str, seed: i64) -> f64 {
    let d = Sha256::digest(format!("{seed}:{prediction_id}").as_bytes());
    let x = u64::from_be_bytes(d[..8].try_into().expect("8 bytes"));
    (x as f64) / 18_446_744_073_709_551_616.0
}

/// Registers `feedloop_unit_hash(prediction_id VARCHAR, seed BIGINT) → DOUBLE`.
pub fn register_unit_hash(session: &LandingSession) {
    let f = create_udf(
        "feedloop_unit_hash",
        vec![DataType::Utf8, DataType::Int64],
        DataType::Float64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let n = args.iter().find_map(|a| match a {
                ColumnarValue::Array(a) => Some(a.len()),
                _ => None,
            });
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let ids = cast(&arrays[0], &DataType::Utf8)?;
            let ids = ids.as_string::<i32>();
            let seeds = cast(&arrays[1], &DataType::Int64)?;
            let seeds = seeds.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            let mut b = Float64Builder::with_capacity(ids.len());
            for i in 0..ids.len() {
                if ids.is_valid(i) && seeds.is_valid(i) {
                    b.append_value(unit_hash(ids.value(i), seeds.value(i)));
                } else {
                    b.append_null();
                }
            }
            let out: ArrayRef = Arc::new(b.finish());
            Ok(match n {
                Some(_) => ColumnarValue::Array(out),
                None => {
                    ColumnarValue::Scalar(datafusion::common::ScalarValue::try_from_array(&out, 0)?)
                }
            })
        }),
    );
    session.context().register_udf(f);
}

// ---------------------------------------------------------------------------
// Snapshot
// ---------------------------------------------------------------------------

struct Snapshot {
    session: LandingSession,
    source_files: Vec<SourceFile>,
    /// Alert rows: (model, version, segment JSON, window start ms, window end ms, state).
    alerts: Option<Vec<AlertRow>>,
}

#[derive(Debug, Clone)]
struct AlertRow {
    model: String,
    version: String,
    segment: Option<String>,
    start_ms: i64,
    end_ms: i64,
    state: String,
}

async fn list_parquet(
    storage: &Storage,
    dir: &str,
) -> Result<Vec<object_store::ObjectMeta>, AnalyticsError> {
    Ok(storage
        .list(&Path::from(dir), None)
        .await?
        .into_iter()
        .filter(|m| {
            m.location.extension() == Some("parquet")
                && !m
                    .location
                    .parts()
                    .any(|p| p.as_ref().starts_with('_') || p.as_ref().starts_with('.'))
        })
        .collect())
}

async fn pinned_table(
    storage: &Storage,
    files: &[object_store::ObjectMeta],
    schema: SchemaRef,
) -> Result<Arc<dyn datafusion::catalog::TableProvider>, AnalyticsError> {
    if files.is_empty() {
        return Ok(Arc::new(MemTable::try_new(schema, vec![vec![]])?));
    }
    let urls = files
        .iter()
        .map(|m| ListingTableUrl::parse(storage.url_of(m.location.as_ref(), false)))
        .collect::<Result<Vec<_>, _>>()?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config)?))
}

async fn snapshot(
    storage: &Storage,
    opts: &FeedbackOptions,
    now_ms: i64,
    want_alerts: bool,
) -> Result<Snapshot, AnalyticsError> {
    let session = LandingSession::new(storage).await?;
    let ctx = session.context();
    let mut source_files = Vec::new();
    for stream in [StreamKind::Predictions, StreamKind::Corrections] {
        let files = list_parquet(storage, LandingZone::table_dir(stream).as_ref()).await?;
        let table = pinned_table(
            storage,
            &files,
            feedloop_events::arrow_schema::schema(stream),
        )
        .await?;
        ctx.deregister_table(stream.table_name())?;
        ctx.register_table(stream.table_name(), table)?;
        source_files.extend(files.iter().map(|m| SourceFile {
            path: m.location.to_string(),
            bytes: m.size,
        }));
    }
    crate::feedback::register_feedback(&session, opts, now_ms).await?;
    register_unit_hash(&session);
    let mut alerts = None;
    if want_alerts {
        let files = list_parquet(storage, ALERTS_DIR).await?;
        if !files.is_empty() {
            let table =
                pinned_table(storage, &files, infer_schema(storage, &files[0]).await?).await?;
            // Replace the session's live `alerts` table with this pinned snapshot.
            ctx.deregister_table("alerts")?;
            ctx.register_table("alerts", table)?;
            source_files.extend(files.iter().map(|m| SourceFile {
                path: m.location.to_string(),
                bytes: m.size,
            }));
            alerts = Some(read_alerts(&session).await?);
        }
    }
    Ok(Snapshot {
        session,
        source_files,
        alerts,
    })
}

async fn infer_schema(
    storage: &Storage,
    file: &object_store::ObjectMeta,
) -> Result<SchemaRef, AnalyticsError> {
    let bytes = storage.get(&file.location).await?;
    let reader =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
            .map_err(|e| AnalyticsError::Input(format!("alerts file {}: {e}", file.location)))?;
    Ok(reader.schema().clone())
}

fn to_ms(a: &ArrayRef, col: &str) -> Result<Vec<Option<i64>>, AnalyticsError> {
    let ms = match a.data_type() {
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => {
            cast(a, &DataType::Timestamp(TimeUnit::Millisecond, None))?
        }
        DataType::Int64 | DataType::Int32 | DataType::UInt64 => cast(
            &cast(a, &DataType::Int64)?,
            &DataType::Timestamp(TimeUnit::Millisecond, None),
        )?,
        other => {
            return Err(AnalyticsError::Input(format!(
                "alerts: column `{col}` has type {other}, expected a timestamp or epoch milliseconds"
            )));
        }
    };
    let ms = ms.as_primitive::<TimestampMillisecondType>();
    Ok((0..ms.len())
        .map(|i| ms.is_valid(i).then(|| ms.value(i)))
        .collect())
}

async fn read_alerts(session: &LandingSession) -> Result<Vec<AlertRow>, AnalyticsError> {
    let (_, batches) = session
        .sql("SELECT model, model_version, segment, window_start, window_end, state FROM alerts")
        .await
        .map_err(|e| AnalyticsError::Input(format!("alerts table: {e} (expected columns model, model_version, segment, window_start, window_end, state)")))?;
    let mut out = Vec::new();
    for b in batches {
        let s = |i: usize| -> Result<StringArray, AnalyticsError> {
            Ok(cast(b.column(i), &DataType::Utf8)?
                .as_string::<i32>()
                .clone())
        };
        let (m, v, seg, st) = (s(0)?, s(1)?, s(2)?, s(5)?);
        let (ws, we) = (
            to_ms(b.column(3), "window_start")?,
            to_ms(b.column(4), "window_end")?,
        );
        for r in 0..b.num_rows() {
            let (Some(start_ms), Some(end_ms)) = (ws[r], we[r]) else {
                continue;
            };
            if m.is_null(r) || v.is_null(r) {
                continue;
            }
            out.push(AlertRow {
                model: m.value(r).into(),
                version: v.value(r).into(),
                segment: seg.is_valid(r).then(|| seg.value(r).to_string()),
                start_ms,
                end_ms,
                state: if st.is_valid(r) {
                    st.value(r).to_string()
                } else {
                    String::new()
                },
            });
        }
    }
    Ok(out)
}

/// A SQL predicate over predictions for one alert's segment JSON (`{"tag": "value", …}`;
/// empty, `{}` or NULL = every prediction; a null value = tag absent).
fn segment_predicate(segment: Option<&str>) -> Result<String, String> {
    let Some(s) = segment.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok("true".into());
    };
    let v: serde_json::Value =
        serde_json::from_str(s).map_err(|e| format!("segment `{s}` is not JSON: {e}"))?;
    let obj = v
        .as_object()
        .ok_or_else(|| format!("segment `{s}` is not a JSON object"))?;
    let mut terms = vec!["true".to_string()];
    for (k, val) in obj {
        let acc = format!("tags[{}]", sql_str(k));
        terms.push(match val {
            serde_json::Value::Null => format!("{acc} IS NULL"),
            serde_json::Value::String(x) => format!("{acc} = {}", sql_str(x)),
            other => format!("{acc} = {}", sql_str(&other.to_string())),
        });
    }
    Ok(terms.join(" AND "))
}

const INACTIVE_STATES: [&str; 4] = ["ok", "resolved", "inactive", "normal"];

// ---------------------------------------------------------------------------
// Selection
// ---------------------------------------------------------------------------

/// The output columns of the feedback view (prediction columns, then the join's).
fn feedback_columns() -> Vec<&'static str> {
    let mut c = PREDICTION_COLUMNS.to_vec();
    c.extend([
        "corrected_label",
        "corrected_value",
        "correction_source",
        "correction_ts",
        "correction_count",
        "is_corrected",
        "is_wrong",
    ]);
    c
}

fn prediction_filter(req: &ExportRequest) -> String {
    let mut f = vec![format!("model = {}", sql_str(&req.model))];
    if let Some(v) = &req.model_version {
        f.push(format!("model_version = {}", sql_str(v)));
    }
    if let Some(s) = req.since_ms {
        f.push(format!("ts >= {}", ts_literal(s)));
    }
    if let Some(u) = req.until_ms {
        f.push(format!("ts < {}", ts_literal(u)));
    }
    f.join(" AND ")
}

/// The selection SQL of a policy, and remarks about it.
fn selection_sql(
    req: &ExportRequest,
    policy: &Policy,
    opts: &FeedbackOptions,
    alerts: Option<&[AlertRow]>,
) -> Result<(String, Vec<String>), AnalyticsError> {
    let base = feedback_sql(opts, Some(&prediction_filter(req)));
    let cols = feedback_columns().join(", ");
    let order = "ORDER BY ts, prediction_id, _topic, _partition, _offset";
    let mut notes = Vec::new();
    let filtered = |pred: String| format!("SELECT {cols} FROM ({base}) f WHERE {pred} {order}");
    let sql = match policy {
        Policy::Wrong => filtered("is_wrong".into()),
        Policy::Corrected => filtered("is_corrected".into()),
        Policy::Sample { rate, seed } => filtered(format!(
            "feedloop_unit_hash(prediction_id, CAST({} AS BIGINT)) < CAST('{rate:e}' AS DOUBLE)",
            *seed as i64
        )),
        Policy::Uncertain { boundary, band } => filtered(format!(
            "output_score >= CAST('{:e}' AS DOUBLE) AND output_score <= CAST('{:e}' AS DOUBLE)",
            boundary - band,
            boundary + band
        )),
        Policy::Sql { where_clause } => filtered(format!("({where_clause})")),
        Policy::Stratified { cap, by, seed } => {
            let keys: Vec<String> = by
                .iter()
                .map(|k| match k.as_str() {
                    "label" => "COALESCE(corrected_label, output_label)".to_string(),
                    "model_version" => "model_version".to_string(),
                    t => format!("tags[{}]", sql_str(t.trim_start_matches("tag:"))),
                })
                .collect();
            format!(
                "SELECT {cols} FROM (SELECT *, row_number() OVER (PARTITION BY {} \
                   ORDER BY feedloop_unit_hash(prediction_id, CAST({} AS BIGINT)), prediction_id, _topic, _partition, _offset) AS _stratum_rank \
                   FROM ({base}) f) WHERE _stratum_rank <= {cap} {order}",
                keys.join(", "),
                *seed as i64
            )
        }
        Policy::Drifted { states } => {
            let mut preds = BTreeSet::new();
            match alerts {
                None => notes.push(format!(
                    "no alerts table (no Parquet files under `{ALERTS_DIR}/`): the drifted policy selects nothing"
                )),
                Some(rows) => {
                    for a in rows {
                        let raised = if states.is_empty() {
                            !INACTIVE_STATES.contains(&a.state.to_ascii_lowercase().as_str())
                        } else {
                            states.iter().any(|s| s.eq_ignore_ascii_case(&a.state))
                        };
                        if !raised || a.model != req.model {
                            continue;
                        }
                        let seg = segment_predicate(a.segment.as_deref()).map_err(AnalyticsError::Input)?;
                        preds.insert(format!(
                            "(model_version = {} AND ts >= {} AND ts < {} AND {seg})",
                            sql_str(&a.version),
                            ts_literal(a.start_ms),
                            ts_literal(a.end_ms)
                        ));
                    }
                    if preds.is_empty() {
                        notes.push("no raised alert for this model in the alerts table: the drifted policy selects nothing".into());
                    }
                }
            }
            let pred = if preds.is_empty() {
                "false".to_string()
            } else {
                format!("({})", preds.into_iter().collect::<Vec<_>>().join(" OR "))
            };
            filtered(pred)
        }
    };
    Ok((sql, notes))
}

// ---------------------------------------------------------------------------
// Pivot: features and tags to typed columns
// ---------------------------------------------------------------------------

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
    let mut out: BTreeMap<String, Vec<Option<FVal>>> = BTreeMap::new();
    let offsets = map.value_offsets();
    let values = map.values();
    let (num, st, bo, plain);
    if feature_struct {
        let s = values.as_struct();
        num = Some(cast(
            s.column_by_name("number").expect("number slot"),
            &DataType::Float64,
        )?);
        st = Some(cast(
            s.column_by_name("string").expect("string slot"),
            &DataType::Utf8,
        )?);
        bo = Some(cast(
            s.column_by_name("boolean").expect("boolean slot"),
            &DataType::Boolean,
        )?);
        plain = None;
    } else {
        num = None;
        st = None;
        bo = None;
        plain = Some(cast(values, &DataType::Utf8)?);
    }
    for r in 0..n {
        if map.is_null(r) {
            continue;
        }
        for j in offsets[r] as usize..offsets[r + 1] as usize {
            let key = keys.value(j);
            let v = if feature_struct {
                let (num, st, bo) = (
                    num.as_ref().unwrap(),
                    st.as_ref().unwrap(),
                    bo.as_ref().unwrap(),
                );
                let (num, st, bo) = (
                    num.as_primitive::<datafusion::arrow::datatypes::Float64Type>(),
                    st.as_string::<i32>(),
                    bo.as_boolean(),
                );
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
            } else {
                let p = plain.as_ref().unwrap().as_string::<i32>();
                p.is_valid(j).then(|| FVal::Str(p.value(j).to_string()))
            };
            out.entry(key.to_string()).or_insert_with(|| vec![None; n])[r] = v;
        }
    }
    Ok(out)
}

struct Pivoted {
    batch: RecordBatch,
    schema_doc: Vec<SchemaColumn>,
}

fn pivot(rows: &RecordBatch, privacy: &PrivacyConfig) -> Result<Pivoted, AnalyticsError> {
    let key = privacy.hash_key.clone().unwrap_or_default().into_bytes();
    let hash = |s: &str| hex::encode(hmac_sha256(&key, s.as_bytes()));
    let col = |name: &str| {
        rows.column_by_name(name)
            .cloned()
            .ok_or_else(|| AnalyticsError::Execution(format!("feedback row lacks `{name}`")))
    };
    let mut out = Columns::default();
    let head = [
        "prediction_id",
        "ts",
        "model",
        "model_version",
        "output_label",
        "output_score",
        "output_value",
        "corrected_label",
        "corrected_value",
        "correction_source",
        "correction_ts",
        "correction_count",
        "is_corrected",
        "is_wrong",
    ];
    let lineage = ["_topic", "_partition", "_offset"];
    for c in head {
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
            let mut b = BooleanBuilder::new();
            vals.iter().for_each(|v| {
                b.append_option(if let Some(FVal::Bool(x)) = v {
                    Some(*x)
                } else {
                    None
                })
            });
            Arc::new(b.finish())
        } else {
            let mut b = Float64Builder::new();
            vals.iter().for_each(|v| {
                b.append_option(if let Some(FVal::Num(x)) = v {
                    Some(*x)
                } else {
                    None
                })
            });
            Arc::new(b.finish())
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
    (2..)
        .map(|i| format!("{base}_{i}"))
        .find(free)
        .expect("a free name")
}

// ---------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

fn validate_request(req: &ExportRequest, config: &ExportConfig) -> Result<(), AnalyticsError> {
    let input = |e: StorageError| AnalyticsError::Input(e.to_string());
    validate_name("model", &req.model).map_err(input)?;
    validate_name("dataset", &req.dataset_name()).map_err(input)?;
    config.validate().map_err(AnalyticsError::Input)?;
    if let (Some(s), Some(u)) = (req.since_ms, req.until_ms)
        && s >= u
    {
        return Err(AnalyticsError::Input(format!(
            "since ({}) is not before until ({})",
            rfc3339(s),
            rfc3339(u)
        )));
    }
    Ok(())
}

/// Exports one dataset. `progress` receives one-line status messages.
///
/// Before exporting, version folders without a manifest older than
/// `config.cleanup_grace` are deleted. Returns the version written, or the
/// identical version found already committed (`created = false`).
pub async fn export_dataset(
    storage: &Storage,
    config: &ExportConfig,
    req: &ExportRequest,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<ExportOutcome, AnalyticsError> {
    validate_request(req, config)?;
    let store = DatasetStore::new(storage.clone());
    let cleaned = store.clean_incomplete(config.cleanup_grace).await?.folders;
    for f in &cleaned {
        progress(&format!(
            "removed the incomplete dataset folder {f} (no manifest)"
        ));
    }
    let snap = snapshot(
        storage,
        &config.feedback,
        req.now_ms,
        req.policy.kind() == PolicyKind::Drifted,
    )
    .await?;
    progress(&format!(
        "snapshot: {} landing files",
        snap.source_files.len()
    ));
    let (sql, notes) = selection_sql(req, &req.policy, &config.feedback, snap.alerts.as_deref())?;
    for n in &notes {
        progress(n);
    }
    let df = snap.session.context().sql(&sql).await?;
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    let rows = concat_batches(&schema, &batches)?;
    drop(batches);
    progress(&format!("selected {} rows", rows.num_rows()));
    let pivoted = pivot(&rows, &config.privacy)?;
    drop(rows);
    let total = pivoted.batch.num_rows();
    let n_parts = total.div_ceil(config.rows_per_part).max(1);
    let mut parts: Vec<EncodedPart> = Vec::with_capacity(n_parts);
    for i in 0..n_parts {
        let start = i * config.rows_per_part;
        let len = config.rows_per_part.min(total - start);
        let slice = pivoted.batch.slice(start, len);
        let (level, rg) = (config.zstd_level, config.row_group_rows);
        let part = tokio::task::spawn_blocking(move || encode_part(&slice, level, rg))
            .await
            .map_err(|e| AnalyticsError::Execution(format!("encoder task failed: {e}")))??;
        parts.push(part);
        progress(&format!("encoded part {}/{n_parts} ({} rows)", i + 1, len));
    }

    let name = req.dataset_name();
    let parameters = req.policy.parameters();
    let privacy = config.privacy.describe();
    // The version names the content: same policy, parameters, privacy rules and rows → same version.
    let descriptor = serde_json::json!({
        "model": req.model, "name": name, "model_version": req.model_version,
        "policy": req.policy.kind().as_str(), "parameters": parameters, "privacy": privacy,
    });
    let version = content_version(&descriptor, &parts);
    let ts = pivoted
        .batch
        .column_by_name("ts")
        .expect("ts")
        .as_primitive::<TimestampMillisecondType>()
        .clone();
    let (min_ts, max_ts) = (
        datafusion::arrow::compute::min(&ts).map(rfc3339),
        datafusion::arrow::compute::max(&ts).map(rfc3339),
    );
    let mut all_notes = notes;
    if let Some(v) = &req.model_version {
        all_notes.push(format!("model_version = {v}"));
    }
    let manifest = Manifest {
        format_version: MANIFEST_FORMAT,
        model: req.model.clone(),
        name: name.clone(),
        version: version.clone(),
        row_count: total as u64,
        policy: req.policy.kind().as_str().into(),
        parameters,
        time_range: TimeRange {
            since: req.since_ms.map(rfc3339),
            until: req.until_ms.map(rfc3339),
            min_ts,
            max_ts,
        },
        source_files: snap.source_files,
        files: ManifestFile::for_parts(&parts),
        schema: pivoted.schema_doc,
        privacy,
        notes: all_notes,
        // When the version was written (orders versions): a record of the
        // real clock, unlike `req.now_ms`, which is what the selection sees.
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        feedloop_version: env!("CARGO_PKG_VERSION").into(),
    };
    let id = DatasetId {
        model: req.model.clone(),
        name,
        version,
    };
    let bytes: u64 = parts.iter().map(|p| p.bytes.len() as u64).sum();
    let outcome = store.commit(&parts, manifest, req.fail_point).await?;
    let created = matches!(outcome, CommitOutcome::Created(_));
    progress(&format!(
        "{} {} ({} rows, {} files)",
        if created {
            "wrote"
        } else {
            "already exported, unchanged:"
        },
        store.url(&id),
        total,
        parts.len()
    ));
    Ok(ExportOutcome {
        url: store.url(&id),
        id,
        manifest: outcome.manifest().clone(),
        created,
        bytes,
        cleaned,
    })
}

/// Dry run: how many rows each policy would select with `req`'s filters.
/// `params` gives the policies their parameters; policies that cannot run
/// without a missing parameter (`sample` without a rate, …) are left out.
/// Returns `(policy, rows)` in [`PolicyKind::ALL`] order, with the number of
/// predictions matching the filters first (as `"predictions"`).
pub async fn count_policies(
    storage: &Storage,
    config: &ExportConfig,
    req: &ExportRequest,
    params: &PolicyParams,
) -> Result<Vec<(String, u64)>, AnalyticsError> {
    validate_request(req, config)?;
    let snap = snapshot(storage, &config.feedback, req.now_ms, true).await?;
    let count = |sql: String| {
        let s = &snap.session;
        async move {
            let (_, b) = s.sql(&format!("SELECT count(*) FROM ({sql})")).await?;
            let a = cast(b[0].column(0), &DataType::Int64)?;
            Ok::<u64, AnalyticsError>(
                a.as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                    .value(0) as u64,
            )
        }
    };
    let mut out = vec![(
        "predictions".to_string(),
        count(feedback_sql(
            &config.feedback,
            Some(&prediction_filter(req)),
        ))
        .await?,
    )];
    for kind in PolicyKind::ALL {
        let policy = if kind == req.policy.kind() {
            req.policy.clone()
        } else {
            match Policy::from_params(kind, params) {
                Ok(p) => p,
                Err(_) => continue,
            }
        };
        let (sql, _) = selection_sql(req, &policy, &config.feedback, snap.alerts.as_deref())?;
        let sql = sql
            .rsplit_once(" ORDER BY ")
            .map_or(sql.clone(), |(s, _)| s.to_string());
        out.push((kind.as_str().to_string(), count(sql).await?));
    }
    Ok(out)
}

/// Reads a committed dataset version: its manifest and the rows of the files it
/// names (in order), checking each file's size and SHA-256. `version = None`
/// reads the latest committed version (by `created_at`). Folders without a
/// manifest are never read.
pub async fn read_dataset(
    storage: &Storage,
    model: &str,
    name: &str,
    version: Option<&str>,
) -> Result<(Manifest, Vec<RecordBatch>), AnalyticsError> {
    let store = DatasetStore::new(storage.clone());
    let manifest = match version {
        Some(v) => {
            store
                .read_manifest(&DatasetId {
                    model: model.into(),
                    name: name.into(),
                    version: v.into(),
                })
                .await?
        }
        None => store.list_versions(model, name).await?.pop(),
    }
    .ok_or_else(|| {
        AnalyticsError::Input(format!("no committed version of dataset {model}/{name}"))
    })?;
    let id = DatasetId {
        model: model.into(),
        name: name.into(),
        version: manifest.version.clone(),
    };
    let mut batches = Vec::new();
    for f in &manifest.files {
        let path = id.dir().join(f.path.as_str());
        let bytes = storage.get(&path).await?;
        if bytes.len() as u64 != f.bytes || hex::encode(Sha256::digest(&bytes)) != f.sha256 {
            return Err(AnalyticsError::Input(format!(
                "{path}: size or SHA-256 differs from the manifest"
            )));
        }
        let reader =
            datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                bytes,
            )
            .and_then(|b| b.build())
            .map_err(|e| AnalyticsError::Input(format!("{path}: {e}")))?;
        for b in reader {
            batches.push(b?);
        }
    }
    Ok((manifest, batches))
}

/// A scheduled export's result.
#[derive(Debug)]
pub struct ScheduledRun {
    pub model: String,
    pub name: String,
    pub result: Result<ExportOutcome, AnalyticsError>,
}

/// File (per dataset, beside its versions) recording when the schedule last ran.
pub const SCHEDULE_FILE: &str = "_schedule.json";

/// Runs every `[[export.datasets]]` entry that is due at `now_ms`: never run,
/// or last run at least `every` ago (recorded in
/// `datasets/<model>/<name>/_schedule.json`, so restarts keep the cadence).
/// Each due export covers `[now − lookback, now)` (all history without a
/// lookback). Call it on a timer (e.g. every minute); entries that are not due
/// cost one small read. A failed export, or a schedule marker that cannot be
/// read, is returned as an `Err` run and retried at the next call.
pub async fn run_scheduled_exports(
    storage: &Storage,
    config: &ExportConfig,
    now_ms: i64,
) -> Result<Vec<ScheduledRun>, AnalyticsError> {
    config.validate().map_err(AnalyticsError::Input)?;
    let mut runs = Vec::new();
    for d in &config.datasets {
        let marker = DatasetId::dataset_dir(&d.model, &d.name).join(SCHEDULE_FILE);
        // Not found: never ran. Unreadable (storage down, denied): skip this
        // turn rather than export again what may have run a minute ago.
        let last: Option<i64> = match storage.get_if_exists(&marker).await {
            Ok(b) => b
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v["last_run_ms"].as_i64()),
            Err(e) => {
                runs.push(ScheduledRun {
                    model: d.model.clone(),
                    name: d.name.clone(),
                    result: Err(e.into()),
                });
                continue;
            }
        };
        if last.is_some_and(|l| now_ms - l < d.every.as_millis() as i64) {
            continue;
        }
        let policy = d.policy().map_err(AnalyticsError::Input)?;
        let mut req = ExportRequest::new(d.model.clone(), policy, now_ms);
        req.name = Some(d.name.clone());
        req.model_version = d.model_version.clone();
        req.until_ms = Some(now_ms);
        req.since_ms = d.lookback.map(|l| now_ms - l.as_millis() as i64);
        let result = export_dataset(
            storage,
            config,
            &req,
            &|m| tracing::debug!(dataset = %d.name, "{m}"),
        )
        .await;
        // The caller reports each run (`feedloop run` logs and counts them).
        if let Ok(o) = &result {
            let body = serde_json::json!({"last_run_ms": now_ms, "last_version": o.id.version});
            storage
                .put_overwrite(&marker, bytes::Bytes::from(body.to_string()))
                .await?;
        }
        runs.push(ScheduledRun {
            model: d.model.clone(),
            name: d.name.clone(),
            result,
        });
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231() {
        // RFC 4231 test cases 2 and 6 (a key longer than the block).
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn segments_and_policies() {
        assert_eq!(segment_predicate(None).unwrap(), "true");
        assert_eq!(segment_predicate(Some("{}")).unwrap(), "true");
        assert_eq!(
            segment_predicate(Some(r#"{"country":"D'E","device":null}"#)).unwrap(),
            "true AND tags['country'] = 'D''E' AND tags['device'] IS NULL"
        );
        assert!(segment_predicate(Some("[1]")).is_err());
        assert!(Policy::from_params(PolicyKind::Sample, &PolicyParams::default()).is_err());
        assert!(
            Policy::from_params(
                PolicyKind::Stratified,
                &PolicyParams {
                    cap: Some(1),
                    by: vec!["tag:".into()],
                    ..Default::default()
                }
            )
            .is_err()
        );
        assert_eq!(
            "drifted".parse::<PolicyKind>().unwrap(),
            PolicyKind::Drifted
        );
        let u = unit_hash("p1", 7);
        assert!((0.0..1.0).contains(&u));
        assert_eq!(u, unit_hash("p1", 7));
        assert_ne!(u, unit_hash("p1", 8));
    }
}
