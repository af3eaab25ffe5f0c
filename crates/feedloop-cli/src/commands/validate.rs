//! `feedloop validate`: a config, or events against the contracts.

use crate::cli::StreamArg;
use crate::config::ConfigFile;
use feedloop_events::{Limits, StreamKind, decode};
use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

pub async fn validate(
    config: Option<&Path>,
    events: Option<&Path>,
    stream: Option<StreamArg>,
    print_schema: Option<StreamArg>,
) -> anyhow::Result<ExitCode> {
    if let Some(s) = print_schema {
        println!("{}", feedloop_events::json_schemas::for_stream(s.into()));
        return Ok(ExitCode::SUCCESS);
    }
    let limits = match (config, events) {
        (Some(_), _) | (None, None) => {
            let c = super::load_config(config)?;
            if events.is_none() {
                println!(
                    "config OK{}",
                    config
                        .map(|p| format!(": {}", p.display()))
                        .unwrap_or_default()
                );
                print!("{}", c.to_redacted_toml());
                return Ok(ExitCode::SUCCESS);
            }
            c.ingest.limits
        }
        (None, Some(_)) => Limits::default(),
    };
    let (Some(path), Some(stream)) = (events, stream) else {
        return Ok(ExitCode::SUCCESS);
    };
    let stream: StreamKind = stream.into();
    let reader: Box<dyn BufRead> = if path == Path::new("-") {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(std::fs::File::open(path).map_err(
            |e| {
                anyhow::Error::new(super::UsageError(format!(
                    "cannot open `{}`: {e}",
                    path.display()
                )))
            },
        )?))
    };
    let (mut ok, mut bad) = (0u64, 0u64);
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line?;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match decode(stream, line, &limits) {
            Ok(_) => ok += 1,
            Err(e) => {
                bad += 1;
                println!("line {}: {e}", i + 1);
            }
        }
    }
    println!("{ok} valid, {bad} invalid {stream} events");
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
