//! # feedloop-cli: the `feedloop` binary
//!
//! The binary's edge: argument parsing (clap, [`cli`]), config loading
//! ([`config`]), logging set-up, the async runtime, and one thin module per
//! subcommand in [`commands`]. The long-running service of `feedloop run` is
//! `feedloop_server`; `feedloop demo`'s traffic comes from `feedloop_traffic`.
//! Everything below the edge is library crates with typed errors; here they
//! become `anyhow` reports and exit codes (0 ok, 1 failure, 2 bad usage or config).

pub mod cli;
pub mod commands;
pub mod config;
pub mod output;

use clap::Parser;
use std::process::ExitCode;

/// The most threads the runtime's blocking pool may hold (tokio's default is
/// 512). Local object-store calls, Parquet encoding and broker metadata reads
/// run there; a burst of them (a window job catching up over many files) took
/// the pool past 100 threads, which then stayed, kept alive by the periodic
/// jobs. Past this cap blocking calls queue instead; 64 keeps both cores busy.
pub const MAX_BLOCKING_THREADS: usize = 64;

/// Entry point of the `feedloop` binary.
pub fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            if e.downcast_ref::<commands::UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The error and its causes, `outer: cause: …`, each cause once. Library
/// errors show their cause in their own message *and* keep it as their
/// `source()` (so logs and the HTTP API, which print one error, say why); a
/// cause whose text the message already holds is not repeated.
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.is_empty() {
            out = text;
        } else if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    #[derive(Debug, thiserror::Error)]
    #[error("query error: {0}")]
    struct Query(#[source] std::io::Error);

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = || std::io::Error::other("no such table: x");
        let e = anyhow::Error::new(Query(io())).context("cannot run the query");
        assert_eq!(
            error_chain(&e),
            "cannot run the query: query error: no such table: x"
        );
        let e = anyhow::Error::new(io()).context("reading the config");
        assert_eq!(error_chain(&e), "reading the config: no such table: x");
    }
}
