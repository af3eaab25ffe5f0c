//! `feedloop demo`: the whole loop on an embedded Kafka, no set-up.
//!
//! Starts librdkafka's in-process mock cluster, creates the topics, produces
//! synthetic traffic for two models (with a few malformed events), runs the real
//! ingest pipeline against it until everything is landed or dead-lettered, then
//! shows what landed, where, and what SQL over it says.

use crate::cli::OutputFormat;
use crate::config::ConfigFile;
use anyhow::{Context, bail};
use feedloop_analytics::LandingSession;
use feedloop_events::StreamKind;
use feedloop_ingest::{Ingest, IngestConfig, KafkaConfig};
use feedloop_server::config::Config;
use feedloop_storage::{LandingZone, Storage};
use feedloop_traffic::{Msg, TrafficSpec, generate};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MARKER: &str = ".feedloop-demo";
const PARTITIONS: i32 = 3;
const MINUTE: i64 = 60_000;

/// Prepares `dir`: refuses to touch a non-empty folder that is not a demo folder,
/// wipes a previous demo's output.
fn prepare_dir(dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    if dir.exists() {
        let non_empty = std::fs::read_dir(dir)?.next().is_some();
        if non_empty && !dir.join(MARKER).exists() {
            bail!(
                "`{}` exists and is not a feedloop demo folder; pass --data-dir to choose another",
                dir.display()
            );
        }
        for sub in feedloop_storage::layout::TOP_LEVEL {
            let p = dir.join(sub);
            if p.exists() {
                std::fs::remove_dir_all(&p)
                    .with_context(|| format!("cannot clear `{}`", p.display()))?;
            }
        }
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join(MARKER),
        "written by `feedloop demo`; safe to delete\n",
    )?;
    Ok(dir.canonicalize()?)
}

async fn produce_all(brokers: &str, topic: &str, msgs: &[Msg]) -> anyhow::Result<()> {
    let producer = feedloop_server::kafka_producer::producer(brokers, &Default::default())?;
    let mut inflight = futures::stream::FuturesUnordered::new();
    for (key, payload) in msgs {
        let mut rec: rdkafka::producer::FutureRecord<'_, str, [u8]> =
            rdkafka::producer::FutureRecord::to(topic).payload(payload.as_slice());
        if let Some(k) = key {
            rec = rec.key(k.as_str());
        }
        inflight.push(producer.send(rec, Duration::from_secs(30)));
        if inflight.len() >= 5000 {
            use futures::StreamExt;
            if let Some(r) = inflight.next().await {
                r.map_err(|(e, _)| e).context("produce failed")?;
            }
        }
    }
    use futures::StreamExt;
    while let Some(r) = inflight.next().await {
        r.map_err(|(e, _)| e).context("produce failed")?;
    }
    Ok(())
}

fn sample_dead_letters(brokers: &str, topic: &str, n: usize) -> Vec<String> {
    let consumer: BaseConsumer = match rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "feedloop-demo-dlq-reader")
        .set("enable.auto.commit", "false")
        .create()
    {
        Ok(c) => c,
        Err(_) => return vec![],
    };
    let mut tpl = rdkafka::TopicPartitionList::new();
    let _ = tpl.add_partition_offset(topic, 0, rdkafka::Offset::Beginning);
    if consumer.assign(&tpl).is_err() {
        return vec![];
    }
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while out.len() < n && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let header = |name: &str| {
                m.headers()
                    .and_then(|h| h.iter().find(|h| h.key == name).and_then(|h| h.value))
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .unwrap_or_default()
            };
            out.push(format!(
                "{}[{}]@{}: {}",
                header("feedloop.source.topic"),
                header("feedloop.source.partition"),
                header("feedloop.source.offset"),
                header("feedloop.error")
            ));
        }
    }
    out
}

pub async fn demo(data_dir: &Path, predictions: usize, seed: u64) -> anyhow::Result<()> {
    let started = Instant::now();
    let dir = prepare_dir(data_dir)?;
    println!(
        "feedloop demo: embedded Kafka (librdkafka mock cluster), landing zone in {}",
        dir.display()
    );

    let cluster = MockCluster::new(1).context("cannot start the mock Kafka cluster")?;
    let brokers = cluster.bootstrap_servers();
    let mut kafka = KafkaConfig {
        brokers: brokers.clone(),
        group_id: "feedloop-demo".into(),
        ..KafkaConfig::default()
    };
    kafka
        .options
        .insert("session.timeout.ms".into(), "6000".into());
    kafka
        .options
        .insert("heartbeat.interval.ms".into(), "500".into());
    for stream in StreamKind::ALL {
        cluster.create_topic(kafka.topics.for_stream(stream), PARTITIONS, 1)?;
    }
    cluster.create_topic(&kafka.topics.dead_letter, 1, 1)?;
    cluster.create_topic(&kafka.topics.alerts, 1, 1)?;

    // Three hours of event time in 5-minute windows; the first 12 windows are the
    // reference, and an incident runs from 2:00 to 2:20.
    let start_ms = TrafficSpec::default().start_ms;
    let incident = (start_ms + 120 * MINUTE, start_ms + 140 * MINUTE);
    let spec = TrafficSpec {
        predictions_per_model: predictions,
        seed,
        span_ms: 180 * MINUTE,
        incident: Some(incident),
        ..TrafficSpec::default()
    };
    let traffic = generate(&spec);
    let sent = [
        (
            StreamKind::Predictions,
            &traffic.predictions,
            traffic.bad_predictions,
        ),
        (
            StreamKind::Corrections,
            &traffic.corrections,
            traffic.bad_corrections,
        ),
        (StreamKind::Latency, &traffic.latency, traffic.bad_latency),
    ];
    for (stream, msgs, _) in &sent {
        produce_all(&brokers, kafka.topics.for_stream(*stream), msgs).await?;
    }
    let total: usize = sent.iter().map(|s| s.1.len()).sum();
    println!(
        "produced {} predictions, {} corrections, {} latency events for models spam-filter and house-price ({} deliberately malformed)",
        traffic.predictions.len(),
        traffic.corrections.len(),
        traffic.latency.len(),
        traffic.bad_predictions + traffic.bad_corrections + traffic.bad_latency
    );

    let storage = Storage::open(dir.to_str().context("data dir is not UTF-8")?, [])?;
    let landing = LandingZone::new(storage.clone());
    let ingest_cfg = IngestConfig {
        flush_interval: Duration::from_millis(500),
        ..IngestConfig::default()
    };
    let ingest = Ingest::new(kafka.clone(), ingest_cfg, landing);
    let metrics = ingest.metrics();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let pipeline = tokio::spawn(ingest.run(async move {
        let _ = stop_rx.await;
    }));
    println!(
        "running the pipeline (consumer group `{}`)…",
        kafka.group_id
    );
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let t = metrics.total();
        if t.landed + t.dead_lettered >= total as u64 {
            break;
        }
        if pipeline.is_finished() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = stop_tx.send(());
    pipeline.await.context("pipeline task failed")??;
    let t = metrics.total();
    if t.landed + t.dead_lettered < total as u64 {
        bail!(
            "only {} of {} events were landed or dead-lettered in time",
            t.landed + t.dead_lettered,
            total
        );
    }

    println!("\nlanded (exactly once, as Parquet):");
    for (stream, msgs, bad) in &sent {
        let c = metrics.stream(*stream).snapshot();
        println!(
            "  {:<12} {:>7} rows in {:>3} files   {:>3} dead-lettered (expected {})   {}",
            stream.table_name(),
            c.landed,
            c.files,
            c.dead_lettered,
            bad,
            storage.url_of(LandingZone::table_dir(*stream).as_ref(), true)
        );
        debug_assert_eq!(c.landed as usize + c.dead_lettered as usize, msgs.len());
    }
    let samples = sample_dead_letters(&brokers, &kafka.topics.dead_letter, 3);
    if !samples.is_empty() {
        println!(
            "\ndead letters carry their reason (topic `{}`):",
            kafka.topics.dead_letter
        );
        for s in samples {
            println!("  {s}");
        }
    }

    let alerts = analyse(&storage, &kafka, start_ms, incident).await?;
    let from_topic = count_topic(&brokers, &kafka.topics.alerts, alerts);
    println!(
        "  {from_topic} alert messages are on the Kafka topic `{}`",
        kafka.topics.alerts
    );

    let config_path = dir.join("feedloop.toml");
    let config = Config {
        storage: feedloop_storage::StorageConfig {
            url: dir.display().to_string(),
            ..Default::default()
        },
        ..Config::default()
    };
    std::fs::write(&config_path, config.to_redacted_toml())?;

    let session = LandingSession::new(&storage).await?;
    let queries = [
        (
            "predictions per model",
            "SELECT model, model_version, count(*) AS predictions, min(ts) AS first, max(ts) AS last FROM predictions GROUP BY 1, 2 ORDER BY 1",
        ),
        (
            "every feature of every model, one query",
            "SELECT model, e['key'] AS feature, count(e['value']['number']) AS numeric, count(e['value']['string']) AS text, count(e['value']['boolean']) AS flags, round(avg(e['value']['number']), 2) AS mean FROM (SELECT model, unnest(map_entries(features)) AS e FROM predictions) GROUP BY 1, 2 ORDER BY 1, 2",
        ),
        (
            "the metrics history (table `metrics`)",
            "SELECT metric, count(*) AS series_windows, count(DISTINCT window_start) AS windows FROM metrics GROUP BY 1 ORDER BY 1",
        ),
        (
            "user corrections joined to predictions",
            "SELECT p.model, count(*) AS corrections, sum(CASE WHEN c.label IS NOT NULL AND c.label <> p.output_label THEN 1 ELSE 0 END) AS wrong_labels FROM corrections c JOIN predictions p ON c.prediction_id = p.prediction_id GROUP BY 1 ORDER BY 1",
        ),
        (
            "latency",
            "SELECT model, count(*) AS requests, round(approx_percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms), 1) AS p50_ms, round(approx_percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms), 1) AS p99_ms, sum(CASE WHEN status <> 'ok' THEN 1 ELSE 0 END) AS failed FROM latency GROUP BY 1 ORDER BY 1",
        ),
    ];
    let stdout = std::io::stdout();
    for (title, sql) in queries {
        println!("\n{title}:");
        match session.sql(sql).await {
            Ok((schema, batches)) => crate::output::write_batches(
                &mut stdout.lock(),
                &schema,
                &batches,
                OutputFormat::Table,
            )?,
            Err(e) => println!("  (query failed: {e})"),
        }
    }
    drop(cluster);
    println!(
        "\ndone in {:.1}s. Query it yourself:\n  feedloop query --config {} \"SELECT * FROM predictions LIMIT 5\"",
        started.elapsed().as_secs_f64(),
        config_path.display()
    );
    let _ = Arc::clone(&metrics);
    Ok(())
}

fn clock(start_ms: i64, ms: i64) -> String {
    let m = (ms - start_ms) / MINUTE;
    format!("{}:{:02}", m / 60, m % 60)
}

/// Runs the window jobs over what landed, with alerts going to the Kafka topic.
/// Returns how many alerts were raised or resolved.
async fn analyse(
    storage: &Storage,
    kafka: &KafkaConfig,
    start_ms: i64,
    incident: (i64, i64),
) -> anyhow::Result<usize> {
    use feedloop_alerts::{AlertDispatcher, AlertsConfig, KafkaSink};
    use feedloop_server::alerting::AlertObserver;
    use feedloop_windows::{WindowJob, WindowsConfig};

    let windows = WindowsConfig {
        segments: vec!["country".into()],
        ..WindowsConfig::default()
    };
    // Production default is k = 2 on every window; the demo asks for 2 windows in a
    // row beyond 3σ so that sampling noise in its small windows never pages.
    let alerts_cfg = AlertsConfig {
        k: 3.0,
        consecutive: 2,
        ..AlertsConfig::default()
    };
    let sink = KafkaSink::new(&kafka.brokers, &kafka.topics.alerts, &kafka.options)?;
    let dispatcher = Arc::new(AlertDispatcher::new(vec![Arc::new(sink)], 1024));
    let observer = AlertObserver::new(alerts_cfg.clone(), Some(Arc::clone(&dispatcher)));
    let delivered = Arc::clone(&observer.delivered);
    let session = LandingSession::new(storage).await?;
    let started = Instant::now();
    let corrections = feedloop_windows::CorrectionMetrics::new(storage, Default::default()).await?;
    let mut job = WindowJob::open(windows.clone(), storage.clone(), session.context().clone())
        .await?
        .with_observer(Box::new(observer))?
        .with_source(Box::new(corrections));
    let reports = job.tick().await?;
    drop(job);
    if let Ok(d) = Arc::try_unwrap(dispatcher) {
        d.shutdown(Duration::from_secs(10)).await;
    }
    let rows: usize = reports.iter().map(|r| r.rows.len()).sum();
    println!(
        "\nwindow jobs: {} windows of 5 min closed in {:.1}s ({} metric rows); reference = each model version's first {} windows",
        reports.len(),
        started.elapsed().as_secs_f64(),
        rows,
        windows.reference_windows
    );
    println!(
        "incident injected in event time {}–{}: spam-filter sender_reputation drifts low, users mark most of its answers wrong and 25% of its requests fail; house-price latency ×4",
        clock(start_ms, incident.0),
        clock(start_ms, incident.1)
    );
    let alerts = delivered.lock().map(|a| a.clone()).unwrap_or_default();
    println!(
        "alerts (k = {}, {} windows in a row; the production default is k = 2):",
        alerts_cfg.k, alerts_cfg.consecutive
    );
    println!(
        "  {:<5} {:<8} {:<8} {:<12} {:<28} {:<18} summary",
        "time", "state", "severity", "model", "metric", "feature"
    );
    let mut before = 0;
    for a in &alerts {
        let ws = chrono::DateTime::parse_from_rfc3339(&a.window_start)
            .map(|t| t.timestamp_millis())
            .unwrap_or(0);
        if ws < incident.0 {
            before += 1;
        }
        let seg: String = a
            .segment
            .iter()
            .map(|(k, v)| format!("[{k}={v}]"))
            .collect();
        println!(
            "  {:<5} {:<8} {:<8} {:<12} {:<28} {:<18} {}",
            clock(start_ms, ws),
            serde_json::to_value(a.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            serde_json::to_value(a.severity)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            a.model,
            format!("{}{seg}", a.metric),
            a.feature.as_deref().unwrap_or("-"),
            a.summary
        );
    }
    println!("  alerts before the incident: {before}");
    Ok(alerts.len())
}

fn count_topic(brokers: &str, topic: &str, expect: usize) -> usize {
    let consumer: BaseConsumer = match rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "feedloop-demo-alert-reader")
        .create()
    {
        Ok(c) => c,
        Err(_) => return 0,
    };
    let mut tpl = rdkafka::TopicPartitionList::new();
    let _ = tpl.add_partition_offset(topic, 0, rdkafka::Offset::Beginning);
    if consumer.assign(&tpl).is_err() {
        return 0;
    }
    let mut n = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    while n < expect && Instant::now() < deadline {
        if let Some(Ok(_)) = consumer.poll(Duration::from_millis(100)) {
            n += 1;
        }
    }
    n
}
