//! `feedloop query`: SQL over the landing zone.

use crate::cli::OutputFormat;
use feedloop_analytics::LandingSession;
use feedloop_server::config::Config;

pub async fn query(config: &Config, format: OutputFormat, sql: &str) -> anyhow::Result<()> {
    let storage = super::run::open_storage(config)?;
    let session = LandingSession::new(&storage).await?;
    let (schema, batches) = session.sql(sql).await?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    crate::output::write_batches(&mut out, &schema, &batches, format)?;
    std::io::Write::flush(&mut out)?;
    Ok(())
}
