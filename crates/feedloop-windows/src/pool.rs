//! The window job's own CPU threads (a rayon pool, one thread per core) and
//! how async code hands work to them: reading, folding and drift statistics
//! run there, never on the async runtime that ingest shares.

use feedloop_analytics::AnalyticsError;

/// The job's thread pool: one thread per core, named for `top` and profilers.
pub(crate) fn window_pool() -> Result<rayon::ThreadPool, AnalyticsError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .thread_name(|i| format!("feedloop-window-{i}"))
        .build()
        .map_err(|e| {
            AnalyticsError::Execution(format!("cannot start the window job's threads: {e}"))
        })
}

/// Runs `f` on `pool` and waits for it without blocking the async runtime.
pub(crate) async fn on_pool<T: Send + 'static>(
    pool: &rayon::ThreadPool,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AnalyticsError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A panic is caught here and becomes an error: a panic escaping a job
    // spawned on a rayon pool would abort the process.
    pool.spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.await {
        Ok(Ok(t)) => Ok(t),
        _ => Err(AnalyticsError::Execution(
            "a window job computation panicked".into(),
        )),
    }
}
