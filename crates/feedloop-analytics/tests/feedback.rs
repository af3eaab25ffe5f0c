//! The corrections join over a landing zone, checked id by id: the
//! `feedback`, `latest_corrections` and `unmatched_corrections` views,
//! correction match stats and error metrics, in any arrival order and against
//! the caller's "now". (Exports built on them: `crates/feedloop-datasets/tests/export.rs`.)

#[path = "../../../tests/support/landing.rs"]
mod landing;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int64Type};
use feedloop_analytics::LandingSession;
use feedloop_analytics::feedback::{
    FeedbackOptions, correction_match_stats, error_metrics, error_metrics_windows,
    register_feedback,
};
use feedloop_events::StreamKind;
use feedloop_storage::Storage;
use landing::{Lz, corr, pred, strings};
use std::collections::BTreeMap;

const T0: i64 = 1_795_392_000_000; // 2026-11-23T00:00:00Z
const DAY: i64 = 86_400_000;

async fn feedback_rows(
    storage: &Storage,
    opts: &FeedbackOptions,
) -> BTreeMap<String, (Option<String>, Option<f64>, i64, Option<bool>)> {
    let s = LandingSession::new(storage).await.unwrap();
    // The `feedback` view does not depend on "now"; any instant will do.
    register_feedback(&s, opts, T0 + DAY).await.unwrap();
    let (schema, batches) = s
        .sql("SELECT prediction_id, corrected_label, corrected_value, correction_count, is_wrong FROM feedback")
        .await
        .unwrap();
    let b = datafusion::arrow::compute::concat_batches(&schema, &batches).unwrap();
    let ids = strings(&b, "prediction_id");
    let labels = strings(&b, "corrected_label");
    let values = b.column(2).as_primitive::<Float64Type>();
    let counts = b.column(3).as_primitive::<Int64Type>();
    let wrong = b.column(4).as_boolean();
    let mut out = BTreeMap::new();
    for i in 0..b.num_rows() {
        let prev = out.insert(
            ids[i].clone().unwrap(),
            (
                labels[i].clone(),
                values.is_valid(i).then(|| values.value(i)),
                counts.value(i),
                wrong.is_valid(i).then(|| wrong.value(i)),
            ),
        );
        assert!(
            prev.is_none(),
            "prediction {:?} appears twice in feedback",
            ids[i]
        );
    }
    out
}

#[tokio::test]
async fn join_semantics_in_any_arrival_order() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path().to_str().unwrap(), []).unwrap();
    let mut lz = Lz::new(storage.clone());
    // "Now" is fixed a day after the stream, not read from the clock: whether
    // a correction is still pending depends on its age (7-day horizon).
    let now = T0 + DAY;
    let opts = FeedbackOptions::default();

    // Corrections arrive first: p1's correction before its prediction; ghost ids never match.
    lz.land(
        StreamKind::Corrections,
        0,
        &[
            corr("p1", T0 + 5_000, Some("spam"), None),
            corr("ghost-old", now - 30 * DAY, Some("spam"), None),
            corr("ghost-new", now - 1_000, Some("spam"), None),
        ],
    )
    .await;
    let before = feedback_rows(&storage, &opts).await;
    assert!(before.is_empty());
    let s = LandingSession::new(&storage).await.unwrap();
    let st = correction_match_stats(&s, &opts, now).await.unwrap();
    assert_eq!((st.matched, st.pending, st.unmatched), (0, 2, 1));

    lz.land(
        StreamKind::Predictions,
        0,
        &[
            pred("p1", "spam", T0, Some("ham"), Some(0.2), None, "DE"),
            pred("p2", "spam", T0 + 1, Some("ham"), Some(0.3), None, "FR"),
            pred("p3", "spam", T0 + 2, Some("spam"), Some(0.9), None, "DE"),
            pred("p4", "spam", T0 + 3, Some("spam"), Some(0.8), None, "DE"),
            pred("p5", "spam", T0 + 4, Some("ham"), Some(0.1), None, "FR"),
            pred("h1", "house", T0, None, None, Some(100.0), "DE"),
            pred("h2", "house", T0, None, None, Some(100.0), "DE"),
        ],
    )
    .await;
    // The same prediction landed twice (a producer retry): kept once.
    lz.land(
        StreamKind::Predictions,
        1,
        &[pred(
            "p5",
            "spam",
            T0 + 4,
            Some("ham"),
            Some(0.1),
            None,
            "FR",
        )],
    )
    .await;
    lz.land(
        StreamKind::Corrections,
        0,
        &[
            // After, and long after (30 days) the prediction.
            corr("p2", T0 + 30 * DAY, Some("spam"), None),
            // Duplicates: the same correction twice.
            corr("p3", T0 + 10, Some("spam"), None),
            corr("p3", T0 + 10, Some("spam"), None),
            // The latest by ts wins, whatever the landing order…
            corr("p4", T0 + 200, Some("spam"), None),
            corr("p4", T0 + 100, Some("ham"), None),
            // …and on equal ts, the one landed last (higher offset).
            corr("p5", T0 + 50, Some("spam"), None),
            corr("p5", T0 + 50, Some("ham"), None),
            corr("h1", T0 + 1, None, Some(100.0 + 1e-12)),
            corr("h2", T0 + 1, None, Some(100.5)),
        ],
    )
    .await;

    let fb = feedback_rows(&storage, &opts).await;
    assert_eq!(fb.len(), 7);
    assert_eq!(fb["p1"], (Some("spam".into()), None, 1, Some(true)));
    assert_eq!(fb["p2"], (Some("spam".into()), None, 1, Some(true)));
    assert_eq!(fb["p3"], (Some("spam".into()), None, 2, Some(false)));
    assert_eq!(fb["p4"], (Some("spam".into()), None, 2, Some(false)));
    assert_eq!(fb["p5"], (Some("ham".into()), None, 2, Some(false)));
    assert_eq!(
        fb["h1"],
        (None, Some(100.0 + 1e-12), 1, Some(false)),
        "within the default relative tolerance"
    );
    assert_eq!(fb["h2"], (None, Some(100.5), 1, Some(true)));
    let loose = FeedbackOptions {
        abs_tolerance: 1.0,
        ..FeedbackOptions::default()
    };
    assert_eq!(feedback_rows(&storage, &loose).await["h2"].3, Some(false));

    let s = LandingSession::new(&storage).await.unwrap();
    register_feedback(&s, &opts, now).await.unwrap();
    let st = correction_match_stats(&s, &opts, now).await.unwrap();
    assert_eq!((st.matched, st.pending, st.unmatched), (10, 1, 1));
    let (_, b) = s
        .sql("SELECT prediction_id FROM unmatched_corrections")
        .await
        .unwrap();
    assert_eq!(
        strings(&b[0], "prediction_id"),
        vec![Some("ghost-old".to_string())]
    );
    // History is kept: every correction row is still in the table.
    let (_, b) = s.sql("SELECT count(*) FROM corrections").await.unwrap();
    assert_eq!(b[0].column(0).as_primitive::<Int64Type>().value(0), 12);

    // Error metrics of the window [T0, T0 + 3): p1, p2, p3 (+ h1, h2 of the other model).
    let m = error_metrics(&s, &opts, T0, T0 + 3, &["country".to_string()])
        .await
        .unwrap();
    let rows: Vec<String> = (0..m.num_rows())
        .map(|i| {
            let s = |c: &str| strings(&m, c)[i].clone().unwrap_or_default();
            format!(
                "{} {} {} n={} c={} k={} cov={} w={} er={}",
                s("model"),
                s("model_version"),
                s("segment"),
                s("predictions"),
                s("corrections"),
                s("corrected"),
                s("coverage"),
                s("wrong"),
                s("error_rate")
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            "house v1 {\"country\":\"DE\"} n=2 c=2 k=2 cov=1.0 w=1 er=0.5",
            "house v1 {} n=2 c=2 k=2 cov=1.0 w=1 er=0.5",
            "spam v1 {\"country\":\"DE\"} n=2 c=3 k=2 cov=1.0 w=1 er=0.5",
            "spam v1 {\"country\":\"FR\"} n=1 c=1 k=1 cov=1.0 w=1 er=1.0",
            "spam v1 {} n=3 c=4 k=3 cov=1.0 w=2 er=0.6666666666666666",
        ]
    );
    let empty = error_metrics(&s, &opts, T0 - DAY, T0 - 1, &[])
        .await
        .unwrap();
    assert_eq!(empty.num_rows(), 0);

    // A run of windows in one pass equals each window computed alone.
    let segs = ["country".to_string()];
    let all = |m: &RecordBatch| -> Vec<String> {
        let cols = [
            "window_start",
            "window_end",
            "model",
            "model_version",
            "segment",
            "predictions",
            "corrections",
            "corrected",
            "coverage",
            "wrong",
            "error_rate",
        ];
        (0..m.num_rows())
            .map(|i| {
                cols.iter()
                    .map(|c| strings(m, c)[i].clone().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    };
    let run = error_metrics_windows(&s, &opts, T0 - 1, 1, 5, &segs)
        .await
        .unwrap();
    let mut one_by_one = Vec::new();
    for w in T0 - 1..T0 + 4 {
        let m = error_metrics(&s, &opts, w, w + 1, &segs).await.unwrap();
        one_by_one.extend(all(&m));
    }
    assert!(one_by_one.len() >= 5, "{one_by_one:?}");
    assert_eq!(all(&run), one_by_one);
    assert!(
        error_metrics_windows(&s, &opts, T0, 0, 3, &segs)
            .await
            .is_err()
    );
}

/// The `unmatched_corrections` view ages corrections against the `now_ms` the
/// caller passes, never against the machine's clock: with "now" moved years
/// back or ahead it answers as of that instant, and always as
/// `correction_match_stats` does.
#[tokio::test]
async fn unmatched_corrections_age_against_the_callers_now() {
    const YEAR: i64 = 365 * DAY;
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path().to_str().unwrap(), []).unwrap();
    let mut lz = Lz::new(storage.clone());
    lz.land(
        StreamKind::Predictions,
        0,
        &[pred("p1", "spam", T0, Some("ham"), Some(0.2), None, "DE")],
    )
    .await;
    lz.land(
        StreamKind::Corrections,
        0,
        &[
            corr("p1", T0 + 5_000, Some("spam"), None),
            corr("g-0", T0, Some("spam"), None),
            corr("g-8d", T0 + 8 * DAY, Some("spam"), None),
            corr("g-2y", T0 + 2 * YEAR, Some("spam"), None),
        ],
    )
    .await;
    let opts = FeedbackOptions::default(); // 7-day horizon
    let unmatched = |now: i64| {
        let storage = storage.clone();
        let opts = opts.clone();
        async move {
            let s = LandingSession::new(&storage).await.unwrap();
            register_feedback(&s, &opts, now).await.unwrap();
            let (_, b) = s
                .sql("SELECT prediction_id FROM unmatched_corrections ORDER BY prediction_id")
                .await
                .unwrap();
            let ids: Vec<String> = b
                .iter()
                .flat_map(|b| strings(b, "prediction_id"))
                .map(Option::unwrap)
                .collect();
            let st = correction_match_stats(&s, &opts, now).await.unwrap();
            assert_eq!(st.matched, 1, "now = {now}");
            assert_eq!(st.unmatched as usize, ids.len(), "now = {now}");
            assert_eq!(st.pending as usize, 3 - ids.len(), "now = {now}");
            ids
        }
    };
    // Years before the stream: every ghost is still pending.
    assert!(unmatched(T0 - 20 * YEAR).await.is_empty());
    // Exactly the horizon after g-0's ts: not yet older than it (strict `<`).
    assert!(unmatched(T0 + 7 * DAY).await.is_empty());
    assert_eq!(unmatched(T0 + 7 * DAY + 1).await, ["g-0"]);
    assert_eq!(unmatched(T0 + 16 * DAY).await, ["g-0", "g-8d"]);
    // Years ahead: all three, the one stamped two years after the stream too.
    assert_eq!(unmatched(T0 + 30 * YEAR).await, ["g-0", "g-2y", "g-8d"]);
}
