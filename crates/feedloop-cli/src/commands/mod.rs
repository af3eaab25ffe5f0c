//! One module per subcommand; [`dispatch`] routes to them.

pub mod demo;
pub mod drift;
pub mod export;
pub mod produce;
pub mod query;
pub mod run;
pub mod validate;

use crate::cli::{Cli, Command};
use crate::config::ConfigFile;
use feedloop_server::config::{Config, LogConfig, LogFormat};
use std::process::ExitCode;

/// A mistake in how feedloop was invoked or configured (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Loads the config, turning its errors into [`UsageError`]s.
pub fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
    Config::load(path).map_err(|e| anyhow::Error::new(UsageError(format!("{e:#}"))))
}

/// Sets up `tracing` on stderr. Safe to call once per process.
/// Logging for the one-shot commands: `log`'s format, warnings and errors only
/// (`RUST_LOG` still wins).
fn init_quiet_logging(log: &LogConfig, format: Option<LogFormat>) {
    init_logging(
        &LogConfig {
            level: "warn".into(),
            ..log.clone()
        },
        format,
    );
}

pub fn init_logging(log: &LogConfig, format: Option<LogFormat>) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format.unwrap_or(log.format) {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Human => builder.with_target(false).compact().try_init(),
    };
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let log_format = cli.log_format.map(LogFormat::from);
    match cli.command {
        Command::Run { config } => {
            let config = load_config(config.as_deref())?;
            init_logging(&config.log, log_format);
            run::run(config).await.map(|_| ExitCode::SUCCESS)
        }
        Command::Demo {
            data_dir,
            predictions,
            seed,
        } => {
            init_quiet_logging(&LogConfig::default(), log_format);
            demo::demo(&data_dir, predictions, seed)
                .await
                .map(|_| ExitCode::SUCCESS)
        }
        Command::Produce {
            config,
            topic,
            file,
        } => {
            let config = load_config(config.as_deref())?;
            init_quiet_logging(&config.log, log_format);
            produce::produce(&config, &topic, &file)
                .await
                .map(|_| ExitCode::SUCCESS)
        }
        Command::Query {
            config,
            format,
            sql,
        } => {
            let config = load_config(config.as_deref())?;
            init_quiet_logging(&config.log, log_format);
            query::query(&config, format, &sql)
                .await
                .map(|_| ExitCode::SUCCESS)
        }
        Command::Drift {
            reference,
            current,
            columns,
            stattest,
            threshold,
            drift_share,
            sketch,
            sketch_k,
            format,
            output,
        } => {
            init_quiet_logging(&LogConfig::default(), log_format);
            let mut req = feedloop_report::DriftRequest::new(reference, current);
            req.columns = (!columns.is_empty()).then_some(columns);
            req.stattest = stattest.into_iter().collect();
            req.threshold = threshold.into_iter().collect();
            req.drift_share = drift_share;
            req.sketch = (sketch || sketch_k.is_some())
                .then(|| sketch_k.unwrap_or(feedloop_drift::DEFAULT_SKETCH_K));
            drift::drift(&req, format, output.as_deref())
                .await
                .map(|_| ExitCode::SUCCESS)
        }
        Command::Export(args) => {
            let config = load_config(args.config.as_deref())?;
            init_quiet_logging(&config.log, log_format);
            export::export_with(&config, args)
                .await
                .map(|_| ExitCode::SUCCESS)
        }
        Command::Validate {
            config,
            events,
            stream,
            print_schema,
        } => {
            init_quiet_logging(&LogConfig::default(), log_format);
            validate::validate(config.as_deref(), events.as_deref(), stream, print_schema).await
        }
    }
}
