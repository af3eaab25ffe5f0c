//! `feedloop export` end to end: a crash between parts and manifest leaves no
//! visible dataset and a rerun completes it; identical runs give the same
//! version and bytes; `--dry-run` writes nothing; the same dataset written to
//! moto's S3 server and read back.

mod harness;

use feedloop_datasets::read_dataset;
use feedloop_events::StreamKind;
use feedloop_storage::{LandingZone, Storage};
use serde_json::json;
use std::path::Path;
use std::process::{Command, Output};

const T0: i64 = 1_795_392_000_000;

/// 100 predictions of `spam`; every 5th corrected, wrong unless a multiple of 10.
async fn land_fixture(storage: &Storage) {
    let zone = LandingZone::new(storage.clone());
    let preds: Vec<_> = (0..100)
        .map(|i| {
            let country = ["DE", "FR"][i as usize % 2];
            json!({"prediction_id": format!("p{i:03}"), "model": "spam", "model_version": "v1", "ts": T0 + i * 1000,
                   "features": {"links": i % 7, "lang": "en", "email": format!("u{i}@x")},
                   "output": {"label": if i % 2 == 0 { "ham" } else { "spam" }, "score": (i % 10) as f64 / 10.0},
                   "tags": {"country": country}})
        })
        .collect();
    harness::land_json(&zone, StreamKind::Predictions, 0, 0, &preds[..60]).await;
    harness::land_json(&zone, StreamKind::Predictions, 1, 0, &preds[60..]).await;
    let corrs: Vec<_> = (0..100)
        .filter(|i| i % 5 == 0)
        .map(|i| {
            let out = if i % 2 == 0 { "ham" } else { "spam" };
            let other = if out == "ham" { "spam" } else { "ham" };
            json!({"prediction_id": format!("p{i:03}"), "ts": T0 + i * 1000 + 500, "label": if i % 10 == 0 { out } else { other }})
        })
        .collect();
    harness::land_json(&zone, StreamKind::Corrections, 0, 0, &corrs).await;
}

fn write_config(dir: &Path, storage_url: &str, options_toml: &str) -> std::path::PathBuf {
    let p = dir.join("feedloop.toml");
    std::fs::write(
        &p,
        format!(
            "[storage]\nurl = \"{storage_url}\"\n[storage.options]\n{options_toml}\n\
             [export]\nrows_per_part = 4\n[export.privacy.features]\nemail = \"drop\"\n"
        ),
    )
    .unwrap();
    p
}

fn export(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(harness::feedloop_bin());
    c.args(["export", "--config"]).arg(config).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("cannot run feedloop export")
}

fn last_line(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn export_survives_a_crash_and_reruns_identically() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let storage = Storage::open(data.to_str().unwrap(), []).unwrap();
    land_fixture(&storage).await;
    let config = write_config(dir.path(), data.to_str().unwrap(), "");
    let args = [
        "--model",
        "spam",
        "--policy",
        "wrong",
        "--until",
        "2026-11-24T00:00:00Z",
    ];

    // Crash between the parts and the manifest.
    let crashed = export(
        &config,
        &args,
        &[("FEEDLOOP_TEST_FAILPOINT", "before_manifest")],
    );
    assert!(!crashed.status.success());
    assert!(
        String::from_utf8_lossy(&crashed.stderr).contains("injected failure"),
        "{}",
        String::from_utf8_lossy(&crashed.stderr)
    );
    let wrong_dir = data.join("datasets/spam/wrong");
    let versions: Vec<_> = std::fs::read_dir(&wrong_dir).unwrap().flatten().collect();
    assert_eq!(versions.len(), 1);
    assert!(versions[0].path().join("part-00000.parquet").is_file());
    assert!(!versions[0].path().join("_manifest.json").exists());
    assert!(
        read_dataset(&storage, "spam", "wrong", None).await.is_err(),
        "readers see no version"
    );

    // The rerun completes it; the last stdout line is the dataset URL.
    let ok = export(&config, &args, &[]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let url = last_line(&ok);
    assert!(url.starts_with("file://") && url.ends_with('/'), "{url}");
    assert_eq!(
        url.trim_end_matches('/'),
        format!(
            "file://{}",
            versions[0].path().canonicalize().unwrap().display()
        )
    );
    let stderr = String::from_utf8_lossy(&ok.stderr);
    assert!(stderr.contains("10 rows, 3 files"), "{stderr}");

    let (manifest, batches) = read_dataset(&storage, "spam", "wrong", None).await.unwrap();
    assert_eq!(manifest.row_count, 10);
    let ids: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            let a = b.column_by_name("prediction_id").unwrap();
            let a = a
                .as_any()
                .downcast_ref::<arrow::array::StringArray>()
                .unwrap();
            a.iter().map(|s| s.unwrap().to_string()).collect::<Vec<_>>()
        })
        .collect();
    let expected: Vec<String> = (0..100)
        .filter(|i| i % 5 == 0 && i % 10 != 0)
        .map(|i| format!("p{i:03}"))
        .collect();
    assert_eq!(ids, expected);
    assert!(batches[0].schema().field_with_name("email").is_err());
    assert!(batches[0].schema().field_with_name("links").is_ok());

    // An identical run: same URL, nothing new written.
    let again = export(&config, &args, &[]);
    assert!(again.status.success());
    assert_eq!(last_line(&again), url);
    assert!(String::from_utf8_lossy(&again.stderr).contains("unchanged"));
    assert_eq!(std::fs::read_dir(&wrong_dir).unwrap().count(), 1);

    // Dry run: counts per policy, nothing written.
    let dry = export(
        &config,
        &[
            "--model",
            "spam",
            "--policy",
            "sample",
            "--rate",
            "0.5",
            "--dry-run",
        ],
        &[],
    );
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let out = String::from_utf8_lossy(&dry.stdout);
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["wrong", "10"]),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["corrected", "20"]),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("sample") && l.ends_with('*')),
        "{out}"
    );
    assert!(!data.join("datasets/spam/sample").exists());

    // Usage errors exit 2.
    let bad = export(&config, &["--model", "spam", "--policy", "sample"], &[]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[tokio::test]
async fn the_same_dataset_on_s3_and_back() {
    let moto = harness::Moto::start();
    moto.create_bucket("feedloop-datasets");
    let opts = moto.storage_options();
    let s3 = Storage::open(
        "s3://feedloop-datasets/root",
        opts.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .unwrap();
    land_fixture(&s3).await;
    let dir = tempfile::tempdir().unwrap();
    let local = Storage::open(dir.path().join("data").to_str().unwrap(), []).unwrap();
    land_fixture(&local).await;

    let args = [
        "--model",
        "spam",
        "--policy",
        "corrected",
        "--name",
        "all-corrected",
    ];
    let s3_config = write_config(
        dir.path(),
        "s3://feedloop-datasets/root",
        &moto.storage_options_toml(),
    );
    let crashed = export(
        &s3_config,
        &args,
        &[("FEEDLOOP_TEST_FAILPOINT", "before_manifest")],
    );
    assert!(!crashed.status.success());
    assert!(
        read_dataset(&s3, "spam", "all-corrected", None)
            .await
            .is_err()
    );
    let out = export(&s3_config, &args, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = last_line(&out);
    assert!(
        url.starts_with("s3://feedloop-datasets/root/datasets/spam/all-corrected/"),
        "{url}"
    );

    let local_dir = tempfile::tempdir().unwrap();
    let local_config = write_config(
        local_dir.path(),
        dir.path().join("data").to_str().unwrap(),
        "",
    );
    let lo = export(&local_config, &args, &[]);
    assert!(
        lo.status.success(),
        "{}",
        String::from_utf8_lossy(&lo.stderr)
    );

    let (m_s3, b_s3) = read_dataset(&s3, "spam", "all-corrected", None)
        .await
        .unwrap();
    let (m_local, b_local) = read_dataset(&local, "spam", "all-corrected", None)
        .await
        .unwrap();
    assert_eq!(m_s3.row_count, 20);
    assert_eq!(
        m_s3.version, m_local.version,
        "same data, same content version"
    );
    assert_eq!(m_s3.files, m_local.files, "byte-identical parts");
    assert_eq!(b_s3, b_local);
    assert!(url.ends_with(&format!("{}/", m_s3.version)));
    // The version is immutable: a rerun finds it and writes nothing.
    let again = export(&s3_config, &args, &[]);
    assert_eq!(last_line(&again), url);
    assert!(String::from_utf8_lossy(&again.stderr).contains("unchanged"));
}
