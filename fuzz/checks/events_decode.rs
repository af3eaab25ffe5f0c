// Invariants of the event decoders, shared (via `include!`) by the fuzz target
// `fuzz/fuzz_targets/events_decode.rs` and the regression test
// `crates/feedloop-events/tests/fuzz_regressions.rs`. Keep it free of inner
// attributes and `//!` comments so it can be included anywhere.
//
// Input: one raw Kafka message payload. It is decoded as every stream
// (predictions, corrections, latency) under the default limits and under tight
// limits, and every outcome is checked:
// * `decode` never panics;
// * the cheap pre-checks hold exactly (empty, too large, not UTF-8, not an object);
// * an error renders to a non-empty, bounded reason, and a rule violation names
//   its field;
// * an event satisfies the rules it was validated against (names, limits, finite
//   numbers, sorted unique feature and tag names, timestamp range);
// * an event encodes into a one-row Arrow batch of its stream's schema whose
//   values are the event's, and is refused by the builders of the other streams;
// * decoding is deterministic, and an event valid under the tight limits is the
//   same event under the default ones.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int32Type, Int64Type, TimestampMillisecondType};
use feedloop_events::arrow_schema::schema;
use feedloop_events::validate::is_valid_model_name;
use feedloop_events::wire::{MAX_TS_MS, MIN_TS_MS};
use feedloop_events::{
    BatchBuilder, DecodeError, Event, FeatureValue, Limits, Lineage, StreamKind, decode,
};

/// Limits small enough that short fuzz inputs reach every limit check.
pub fn tight_limits() -> Limits {
    Limits {
        max_event_bytes: 256,
        max_string_bytes: 8,
        max_features: 3,
        max_tags: 2,
        max_name_bytes: 4,
    }
}

/// Checks every invariant for one payload; panics (with the reason) when one breaks.
pub fn check_decode(payload: &[u8]) {
    for stream in StreamKind::ALL {
        let default = check_one(stream, payload, &Limits::default());
        let tight = check_one(stream, payload, &tight_limits());
        // Tight limits are below the defaults everywhere: what passes them
        // passes the defaults, as the same event.
        if let Ok(event) = tight {
            assert_eq!(
                default,
                Ok(event),
                "{stream}: valid under tight limits only"
            );
        }
    }
}

fn check_one(stream: StreamKind, payload: &[u8], limits: &Limits) -> Result<Event, DecodeError> {
    let result = decode(stream, payload, limits);
    assert_eq!(
        result,
        decode(stream, payload, limits),
        "{stream}: decode is not deterministic"
    );
    match &result {
        Ok(event) => check_event(stream, payload, limits, event),
        Err(e) => check_error(stream, payload, limits, e),
    }
    result
}

fn check_error(stream: StreamKind, payload: &[u8], limits: &Limits, e: &DecodeError) {
    let reason = e.to_string();
    assert!(
        !reason.trim().is_empty(),
        "{stream}: empty reason for {e:?}"
    );
    assert!(!e.kind().is_empty(), "{stream}: empty kind for {e:?}");
    // The reason goes into a Kafka header of the dead letter: it may quote the
    // payload, but must stay within a small multiple of it.
    assert!(
        reason.len() <= 2 * payload.len() + 512,
        "{stream}: a {}-byte reason for a {}-byte payload: {reason:.200}",
        reason.len(),
        payload.len()
    );
    let utf8 = std::str::from_utf8(payload).is_ok();
    match e {
        DecodeError::Empty => assert!(payload.is_empty(), "{stream}: `empty` for a payload"),
        DecodeError::TooLarge { size, limit } => {
            assert_eq!(*size, payload.len());
            assert_eq!(*limit, limits.max_event_bytes);
            assert!(size > limit);
        }
        DecodeError::InvalidUtf8 { at } => {
            assert!(!utf8, "{stream}: `invalid_utf8` for UTF-8");
            assert!(std::str::from_utf8(&payload[..*at]).is_ok());
        }
        DecodeError::Shape { field, message } => {
            assert!(utf8 && !payload.is_empty() && payload.len() <= limits.max_event_bytes);
            assert!(
                !message.trim().is_empty(),
                "{stream}: shape error without message"
            );
            if let Some(f) = field {
                assert!(!f.is_empty(), "{stream}: shape error naming an empty field");
            }
        }
        DecodeError::Invalid { field, reason } => {
            assert!(utf8 && !payload.is_empty() && payload.len() <= limits.max_event_bytes);
            assert!(
                !field.trim().is_empty(),
                "{stream}: rule violation without field"
            );
            assert!(
                !reason.trim().is_empty(),
                "{stream}: rule violation without reason"
            );
        }
    }
    // The pre-checks run before parsing, in this order.
    if payload.is_empty() {
        assert_eq!(*e, DecodeError::Empty);
    } else if payload.len() > limits.max_event_bytes {
        assert!(matches!(e, DecodeError::TooLarge { .. }), "{stream}: {e:?}");
    } else if !utf8 {
        assert!(
            matches!(e, DecodeError::InvalidUtf8 { .. }),
            "{stream}: {e:?}"
        );
    }
}

fn check_name(what: &str, name: &str, limits: &Limits) {
    assert!(!name.is_empty(), "accepted an empty {what} name");
    assert!(
        name.len() <= limits.max_name_bytes,
        "accepted a long {what} name"
    );
    assert!(
        !name.chars().any(char::is_control),
        "accepted a {what} name with control characters: {name:?}"
    );
}

fn check_string(what: &str, s: &str, limits: &Limits) {
    assert!(
        s.len() <= limits.max_string_bytes,
        "accepted a {}-byte {what}",
        s.len()
    );
}

fn check_sorted_unique<V>(what: &str, entries: &[(String, V)]) {
    assert!(
        entries.windows(2).all(|w| w[0].0 < w[1].0),
        "{what} are not sorted by name without duplicates"
    );
}

fn check_event(stream: StreamKind, payload: &[u8], limits: &Limits, event: &Event) {
    assert!(!payload.is_empty() && payload.len() <= limits.max_event_bytes);
    assert!(std::str::from_utf8(payload).is_ok());
    let ts = match (stream, event) {
        (StreamKind::Predictions, Event::Prediction(p)) => {
            assert!(!p.prediction_id.is_empty());
            check_string("prediction_id", &p.prediction_id, limits);
            assert!(is_valid_model_name(&p.model), "model {:?}", p.model);
            assert!(
                is_valid_model_name(&p.model_version),
                "version {:?}",
                p.model_version
            );
            assert!(p.features.len() <= limits.max_features);
            check_sorted_unique("features", &p.features);
            for (name, v) in &p.features {
                check_name("feature", name, limits);
                match v {
                    FeatureValue::Number(x) => assert!(x.is_finite(), "feature {name} = {x}"),
                    FeatureValue::String(s) => check_string("feature value", s, limits),
                    FeatureValue::Null | FeatureValue::Bool(_) => {}
                }
            }
            let o = &p.output;
            assert!(o.label.is_some() || o.score.is_some() || o.value.is_some());
            if let Some(l) = &o.label {
                check_string("output.label", l, limits);
            }
            assert!(o.score.is_none_or(f64::is_finite) && o.value.is_none_or(f64::is_finite));
            assert!(p.tags.len() <= limits.max_tags);
            check_sorted_unique("tags", &p.tags);
            for (name, v) in &p.tags {
                check_name("tag", name, limits);
                check_string("tag value", v, limits);
            }
            p.ts
        }
        (StreamKind::Corrections, Event::Correction(c)) => {
            assert!(!c.prediction_id.is_empty());
            check_string("prediction_id", &c.prediction_id, limits);
            assert!(c.label.is_some() || c.value.is_some());
            for s in [&c.label, &c.source].into_iter().flatten() {
                check_string("label/source", s, limits);
            }
            assert!(c.value.is_none_or(f64::is_finite));
            c.ts
        }
        (StreamKind::Latency, Event::Latency(l)) => {
            if let Some(id) = &l.prediction_id {
                assert!(!id.is_empty());
                check_string("prediction_id", id, limits);
            }
            assert!(is_valid_model_name(&l.model), "model {:?}", l.model);
            assert!(
                is_valid_model_name(&l.model_version),
                "version {:?}",
                l.model_version
            );
            assert!(
                l.latency_ms.is_finite() && l.latency_ms >= 0.0,
                "latency_ms {}",
                l.latency_ms
            );
            l.ts
        }
        (stream, event) => panic!("decoding as {stream} returned {event:?}"),
    };
    assert!(
        (MIN_TS_MS..=MAX_TS_MS).contains(&ts),
        "ts {ts} out of range"
    );
    check_batch(stream, event, ts);
}

fn check_batch(stream: StreamKind, event: &Event, ts: i64) {
    let lineage = Lineage {
        offset: 42,
        kafka_ts: Some(7),
    };
    let mut b = BatchBuilder::new(stream, "fuzz-topic", 3);
    b.append(event, lineage)
        .unwrap_or_else(|e| panic!("{stream}: own builder refused the event: {e}"));
    assert_eq!(b.len(), 1);
    let batch = b
        .finish()
        .unwrap_or_else(|e| panic!("{stream}: finish failed: {e}"));
    assert!(b.is_empty(), "finish did not reset the builder");
    assert_eq!(batch.num_rows(), 1, "{stream}: one event, not one row");
    assert_eq!(batch.schema(), schema(stream), "{stream}: batch schema");
    let col = |name: &str| {
        batch
            .column_by_name(name)
            .unwrap_or_else(|| panic!("{stream}: no column {name}"))
    };
    let ts_col = col("ts").as_primitive::<TimestampMillisecondType>();
    assert_eq!(ts_col.value(0), ts);
    assert_eq!(col("_topic").as_string::<i32>().value(0), "fuzz-topic");
    assert_eq!(col("_partition").as_primitive::<Int32Type>().value(0), 3);
    assert_eq!(col("_offset").as_primitive::<Int64Type>().value(0), 42);
    assert_eq!(
        col("_kafka_ts")
            .as_primitive::<TimestampMillisecondType>()
            .value(0),
        7
    );
    match event {
        Event::Prediction(p) => {
            assert_eq!(
                col("prediction_id").as_string::<i32>().value(0),
                p.prediction_id
            );
            assert_eq!(col("model").as_string::<i32>().value(0), p.model);
            let features = col("features").as_map();
            assert_eq!(features.value_length(0) as usize, p.features.len());
            let entries = features.value(0);
            let names = entries.column(0).as_string::<i32>();
            let values = entries.column(1).as_struct();
            let numbers = values.column(0).as_primitive::<Float64Type>();
            let strings = values.column(1).as_string::<i32>();
            let bools = values.column(2).as_boolean();
            for (i, (name, v)) in p.features.iter().enumerate() {
                assert_eq!(names.value(i), name);
                let set = [numbers.is_valid(i), strings.is_valid(i), bools.is_valid(i)];
                let want = match v {
                    FeatureValue::Null => [false; 3],
                    FeatureValue::Number(x) => {
                        assert_eq!(numbers.value(i).to_bits(), x.to_bits());
                        [true, false, false]
                    }
                    FeatureValue::String(s) => {
                        assert_eq!(strings.value(i), s);
                        [false, true, false]
                    }
                    FeatureValue::Bool(b) => {
                        assert_eq!(bools.value(i), *b);
                        [false, false, true]
                    }
                };
                assert_eq!(set, want, "feature {name}: slots set");
                assert_eq!(values.is_valid(i), !matches!(v, FeatureValue::Null));
            }
            assert_eq!(col("tags").as_map().value_length(0) as usize, p.tags.len());
            let score = col("output_score").as_primitive::<Float64Type>();
            assert_eq!(score.is_valid(0), p.output.score.is_some());
        }
        Event::Correction(c) => {
            assert_eq!(
                col("prediction_id").as_string::<i32>().value(0),
                c.prediction_id
            );
            assert_eq!(
                col("label").as_string::<i32>().is_valid(0),
                c.label.is_some()
            );
        }
        Event::Latency(l) => {
            assert_eq!(col("model").as_string::<i32>().value(0), l.model);
            let ms = col("latency_ms").as_primitive::<Float64Type>().value(0);
            assert_eq!(ms.to_bits(), l.latency_ms.to_bits());
            assert_eq!(col("status").as_string::<i32>().value(0), l.status.as_str());
        }
    }
    for other in StreamKind::ALL.into_iter().filter(|s| *s != stream) {
        let mut b = BatchBuilder::new(other, "fuzz-topic", 3);
        assert!(
            b.append(event, lineage).is_err(),
            "a {stream} event was appended to a {other} batch"
        );
        assert_eq!(b.finish().map(|b| b.num_rows()).ok(), Some(0));
    }
}
