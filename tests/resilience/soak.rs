//! A bounded soak in the test suite (the 10M-event one is `benches/soak.rs`):
//! `feedloop run` with window jobs and a scheduled export over a continuous
//! stream, sampled every round — no file-descriptor growth once warm, tokio's
//! threads within the runtime's caps, librdkafka's no more than when warm, and
//! every event landed once.

use crate::harness::{self, FeedloopProc, Nisshi};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounded_soak_leaks_no_file_descriptors_or_threads() {
    let broker = Nisshi::start();
    broker.create_feedloop_topics(4);
    broker.create_topic("feedloop-alerts", 1);
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("store");
    let cfg = harness::write_config(dir.path(), &broker.brokers, "soak", &storage, "500ms");
    let mut body = std::fs::read_to_string(&cfg).unwrap();
    body.push_str(
        "[windows]\nsize = \"1m\"\nallowed_lateness = \"2m\"\npoll_interval = \"1s\"\n\
         [[export.datasets]]\nname = \"soak\"\nmodel = \"spam-filter\"\npolicy = \"sample\"\nrate = 0.01\nevery = \"5s\"\n",
    );
    std::fs::write(&cfg, body).unwrap();
    let log = dir.path().join("run.log");
    let run = FeedloopProc::run(&cfg, &log);
    let pid = run.child.id();

    // 20 rounds of 10 minutes of event time each, produced as a live stream.
    // Warm-up: until a window has closed and an export version exists (every
    // component has started its pools); then each round is sampled.
    let spec = feedloop_traffic::TrafficSpec::default();
    let mut valid = 0usize;
    let mut warm: Option<(usize, usize)> = None;
    let mut samples = Vec::new();
    // (tokio threads, other threads): workers + blocking pool, librdkafka's and the rest.
    let threads_by_kind = || {
        let names = harness::thread_names(pid);
        let tokio = names.get("tokio-rt-worker").copied().unwrap_or(0);
        (tokio, names.values().sum::<usize>() - tokio, names)
    };
    let mut thread_samples = Vec::new();
    let p = harness::producer(&broker.brokers);
    for round in 0..20i64 {
        let t = feedloop_traffic::generate(&feedloop_traffic::TrafficSpec {
            predictions_per_model: 2_000,
            span_ms: 600_000,
            start_ms: spec.start_ms + round * 600_000,
            seed: round as u64,
            bad_rate: 0.001,
            ..spec.clone()
        });
        valid += t.predictions.len() - t.bad_predictions;
        harness::produce(&p, "predictions", &t.predictions).await;
        harness::produce(&p, "corrections", &t.corrections).await;
        harness::produce(&p, "latency", &t.latency).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let sample = harness::proc_sample(pid).expect("feedloop run is alive");
        if warm.is_none() {
            let windows = std::fs::read_dir(storage.join("metrics")).map_or(0, |d| d.count());
            let exported = std::fs::read_dir(storage.join("datasets")).is_ok();
            if windows > 0 && exported {
                // One more round for the pools to settle.
                warm = Some((sample.1, threads_by_kind().1));
                continue;
            }
        } else {
            samples.push(sample);
            thread_samples.push(threads_by_kind());
        }
    }
    let (warm_fds, warm_other_threads) = warm.expect("windows and exports never started");
    let st = storage.clone();
    let done = harness::wait_for(Duration::from_secs(120), || {
        let st = st.clone();
        async move { harness::landed(&st, "predictions").await.0 >= valid as i64 }
    })
    .await;
    // Once the stream has drained: what is still open now was kept.
    let mut settled = Vec::new();
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        settled.push(harness::proc_sample(pid).expect("feedloop run is alive"));
        thread_samples.push(threads_by_kind());
    }
    assert!(run.terminate(Duration::from_secs(60)), "unclean shutdown");
    assert!(done, "not everything landed");
    let (rows, _, offsets) = harness::landed(&storage, "predictions").await;
    assert_eq!((rows, offsets), (valid as i64, valid as i64));
    // A leak grows with the stream and stays; work in flight (a window job
    // or an export reading many files at once, more of them on a loaded
    // machine) opens descriptors for a moment and closes them.
    eprintln!(
        "soak: warm (fds, non-tokio threads) = ({warm_fds}, {warm_other_threads}); samples (rss MiB, fds, threads): {samples:?}; settled: {settled:?}; last threads by name: {:?}",
        thread_samples.last().map(|t| &t.2)
    );
    assert!(samples.len() >= 5, "too few warm rounds: {samples:?}");
    let settled_fds = settled.iter().map(|s| s.1).min().unwrap_or(usize::MAX);
    assert!(
        settled_fds <= warm_fds + 8,
        "file descriptors grew: warm {warm_fds}, after the stream {settled:?} (during: {samples:?})"
    );
    // tokio's threads: its workers (one per core) plus at most the blocking
    // pool's cap that `feedloop` sets; a burst of blocking calls may fill the
    // pool, never pass it.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let tokio_cap = cores + feedloop_cli::MAX_BLOCKING_THREADS;
    let max_tokio = thread_samples.iter().map(|t| t.0).max().unwrap_or(0);
    assert!(
        max_tokio <= tokio_cap,
        "{max_tokio} tokio threads, past {cores} workers + {} blocking",
        feedloop_cli::MAX_BLOCKING_THREADS
    );
    // Every other thread belongs to a long-lived client (librdkafka's per
    // client and broker, the producers' pollers): none is added once warm.
    let max_other = thread_samples.iter().map(|t| t.1).max().unwrap_or(0);
    assert!(
        max_other <= warm_other_threads,
        "threads other than tokio's grew from {warm_other_threads} to {max_other}: {:?}",
        thread_samples.iter().max_by_key(|t| t.1).map(|t| &t.2)
    );
}
