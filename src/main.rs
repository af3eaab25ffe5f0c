fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    feedloop_cli::main()
}

/// Caps glibc's malloc at 2 arenas (an explicit `MALLOC_ARENA_MAX` wins).
///
/// glibc gives threads that contend for the heap arenas of their own, up to
/// 8 per core, and memory freed in one arena is not reused by another. With
/// the ~140 threads of tokio, librdkafka and DataFusion, `feedloop run`'s RSS
/// kept climbing through a steady 25k events/s soak (356 → 621 MiB in 7 min);
/// with 2 arenas the same run stayed at 226–282 MiB and kept the same pace
/// (BENCHMARKS.md, "Soak"). Must run before any thread starts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; called once, before
        // any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
