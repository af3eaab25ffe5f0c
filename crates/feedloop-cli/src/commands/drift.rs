//! `feedloop drift`: an Evidently-compatible drift report over two datasets.

use crate::cli::DriftFormat;
use anyhow::Context;
use feedloop_report::{DriftRequest, run_drift_report};
use std::path::Path;

pub async fn drift(
    req: &DriftRequest,
    format: DriftFormat,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    let report = run_drift_report(req).await?;
    let text = match format {
        DriftFormat::Json => serde_json::to_string_pretty(&report.to_json())? + "\n",
        DriftFormat::Table => report.to_table(),
    };
    match output {
        Some(path) => {
            std::fs::write(path, &text)
                .with_context(|| format!("cannot write `{}`", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}
