//! Command-line arguments. Doc comments are the `--help` text.

use crate::config::LogFormat;
use clap::{Parser, Subcommand, ValueEnum};
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
    pub log_format: Option<LogFormat>,
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
        /// Predictions to generate per model.
        #[arg(long, default_value_t = 10_000)]
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
