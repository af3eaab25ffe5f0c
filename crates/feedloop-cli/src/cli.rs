//! Command-line arguments. Doc comments are the `--help` text.

use clap::{Args, Parser, Subcommand, ValueEnum};
use feedloop_datasets::{PolicyKind, PolicyParams};
use std::path::PathBuf;

/// feedloop — a streaming production-feedback pipeline for ML models.
///
/// Consumes model predictions, user corrections and latency events from Kafka,
/// lands every event exactly once as Parquet in object storage, and runs
/// analytics on it.
#[derive(Debug, Parser)]
#[command(name = "feedloop", version, about, long_about, max_term_width = 100)]
pub struct Cli {
    /// Log format on stderr (overrides `[log] format`).
    #[arg(long, global = true, value_enum, env = "FEEDLOOP_LOG_FORMAT")]
    pub log_format: Option<LogFormatArg>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the pipeline: consume the three topics and land every event exactly
    /// once. Stops gracefully (landing and committing what it holds) on SIGINT or
    /// SIGTERM.
    Run {
        /// Config file (TOML). Every key can also be set with FEEDLOOP_<SECTION>__<KEY>.
        #[arg(long, short, env = "FEEDLOOP_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Run the whole loop on an embedded Kafka (librdkafka's mock cluster) with
    /// synthetic traffic for two models. No set-up needed.
    Demo {
        /// Where the demo's landing zone goes. Wiped and rewritten on each run.
        #[arg(long, default_value = "./feedloop-demo")]
        data_dir: PathBuf,
        /// Predictions to generate per model (over three hours of event time).
        #[arg(long, default_value_t = 20_000)]
        predictions: usize,
        /// Seed of the synthetic traffic.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Publish JSON lines to a topic (backfills, tests). The key of each message
    /// is its `prediction_id` when it has one.
    Produce {
        #[arg(long, short, env = "FEEDLOOP_CONFIG")]
        config: Option<PathBuf>,
        /// Topic to publish to.
        #[arg(long, short)]
        topic: String,
        /// File of JSON events, one per line; `-` for standard input.
        file: PathBuf,
    },
    /// Run SQL (DataFusion) over the landing zone. Tables: predictions,
    /// corrections, latency.
    Query {
        #[arg(long, short, env = "FEEDLOOP_CONFIG")]
        config: Option<PathBuf>,
        /// Output format. `csv` prints a header line then rows, nothing else.
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
        /// The SQL statement.
        sql: String,
    },
    /// Compare a reference and a current dataset column by column, with the tests
    /// and thresholds of Evidently's DataDriftPreset (same numbers as scipy).
    ///
    /// Inputs are Parquet files or folders, or CSV files, as local paths or
    /// object-store URLs (s3://, gs://, az://).
    Drift {
        /// The reference data (what "normal" looks like).
        #[arg(long)]
        reference: String,
        /// The data to test for drift.
        #[arg(long)]
        current: String,
        /// Columns to compare (default: every column present on both sides).
        #[arg(long, value_delimiter = ',')]
        columns: Vec<String>,
        /// Force a test for a column: `col=psi` (ks, wasserstein, jensenshannon,
        /// chisquare, z, psi, kl_div, hellinger). Repeatable.
        #[arg(long = "stattest", value_name = "COL=TEST", value_parser = parse_stattest)]
        stattest: Vec<(String, feedloop_drift::StatTest)>,
        /// Override a column's threshold: `col=0.2`. Repeatable.
        #[arg(long, value_name = "COL=X", value_parser = parse_threshold)]
        threshold: Vec<(String, f64)>,
        /// Share of drifted columns from which the dataset counts as drifted.
        #[arg(long, default_value_t = 0.5)]
        drift_share: f64,
        /// Bounded memory: stream each column batch by batch into mergeable
        /// quantile sketches instead of holding it whole. Columns with few
        /// distinct values, booleans and strings stay exact; the others are
        /// estimates, marked `≈`, with error bounds in the JSON report.
        #[arg(long)]
        sketch: bool,
        /// KLL sketch size of --sketch (implies it): larger is more accurate
        /// (rank error ≈ 0.28 % at 1000, ≈ 1.3 % at 200).
        #[arg(long, value_name = "K", value_parser = clap::value_parser!(u16).range(8..=65535))]
        sketch_k: Option<u16>,
        /// `table` for people, `json` for tools (schemas/drift-report.v1.schema.json).
        #[arg(long, short, value_enum, default_value_t = DriftFormat::Table)]
        format: DriftFormat,
        /// Write the report to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Export a retraining dataset (Parquet, versioned, with a manifest) selected
    /// by a policy from the predictions and their corrections. The last stdout
    /// line is the dataset URL.
    Export(ExportArgs),
    /// Validate a config file, or events in a file against the event contracts.
    Validate {
        /// Config file to validate (the default config when neither this nor --events is given).
        #[arg(long, short, env = "FEEDLOOP_CONFIG")]
        config: Option<PathBuf>,
        /// JSON-lines file of events to validate (`-` for standard input).
        #[arg(long, requires = "stream")]
        events: Option<PathBuf>,
        /// Stream the events belong to.
        #[arg(long, value_enum)]
        stream: Option<StreamArg>,
        /// Print the JSON Schema of a stream and exit.
        #[arg(long, value_enum, conflicts_with_all = ["events", "config"])]
        print_schema: Option<StreamArg>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DriftFormat {
    Table,
    Json,
}

fn split_kv(s: &str) -> Result<(String, &str), String> {
    match s.rsplit_once('=') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k.to_string(), v)),
        _ => Err(format!("expected COLUMN=VALUE, got `{s}`")),
    }
}

fn parse_stattest(s: &str) -> Result<(String, feedloop_drift::StatTest), String> {
    let (k, v) = split_kv(s)?;
    Ok((k, v.parse()?))
}

fn parse_threshold(s: &str) -> Result<(String, f64), String> {
    let (k, v) = split_kv(s)?;
    let x: f64 = v.parse().map_err(|_| format!("`{v}` is not a number"))?;
    if !x.is_finite() || x < 0.0 {
        return Err(format!("threshold `{v}` must be a finite number ≥ 0"));
    }
    Ok((k, x))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StreamArg {
    Predictions,
    Corrections,
    Latency,
}

impl From<StreamArg> for feedloop_events::StreamKind {
    fn from(s: StreamArg) -> Self {
        match s {
            StreamArg::Predictions => feedloop_events::StreamKind::Predictions,
            StreamArg::Corrections => feedloop_events::StreamKind::Corrections,
            StreamArg::Latency => feedloop_events::StreamKind::Latency,
        }
    }
}

/// `--log-format`: the values of `[log] format`
/// ([`feedloop_server::config::LogFormat`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    Human,
    Json,
}

impl From<LogFormatArg> for feedloop_server::config::LogFormat {
    fn from(f: LogFormatArg) -> Self {
        match f {
            LogFormatArg::Human => feedloop_server::config::LogFormat::Human,
            LogFormatArg::Json => feedloop_server::config::LogFormat::Json,
        }
    }
}

/// Arguments of `feedloop export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[arg(long, short, env = "FEEDLOOP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Model whose predictions to export.
    #[arg(long)]
    pub model: String,
    /// Only this model version.
    #[arg(long)]
    pub version: Option<String>,
    /// Which predictions: wrong (corrected and wrong), corrected, sample (--rate),
    /// stratified (--cap, --by), uncertain (--boundary, --band), drifted (windows
    /// and segments with a raised alert in <storage>/alerts/), sql (--where).
    #[arg(long, value_parser = |s: &str| s.parse::<PolicyKind>())]
    pub policy: PolicyKind,
    /// Predictions with ts at or after this instant (RFC 3339).
    #[arg(long, value_parser = parse_rfc3339)]
    pub since: Option<i64>,
    /// Predictions with ts before this instant (RFC 3339).
    #[arg(long, value_parser = parse_rfc3339)]
    pub until: Option<i64>,
    /// Dataset name (default: the policy's name).
    #[arg(long)]
    pub name: Option<String>,
    /// The policy's parameters (--rate, --seed, --cap, --by, --boundary, --band,
    /// --alert-state, --where), as `[[export.datasets]]` entries take them.
    #[command(flatten)]
    pub params: PolicyParams,
    /// Print how many rows each policy would select; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

fn parse_rfc3339(s: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("`{s}` is not an RFC 3339 instant ({e}), e.g. 2026-11-23T10:00:00Z"))
}
