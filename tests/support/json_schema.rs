//! JSON Schema checks for the schemas of `schemas/`, shared by the crates'
//! tests: `#[path = "../../../tests/support/json_schema.rs"] mod json_schema;`
//! (a folder of `tests/` without `main.rs` is not a test target of its own).
//!
//! A schema is loaded only if it declares draft 2020-12, its `$id` names its
//! file, it is valid against the 2020-12 meta-schema, and it compiles with
//! `format` asserted and unknown formats rejected, so that `pattern`,
//! `format` (`date-time`, `uri`, `uuid`, `email`, …), `$ref`, `if`/`then` and
//! the rest are enforced by a maintained validator (the `jsonschema` crate)
//! rather than by a hand-written subset.

#![allow(dead_code)]

use serde_json::Value;
use std::path::PathBuf;

pub const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";
pub const ID_PREFIX: &str = "https://feedloop.dev/schemas/";

/// `schemas/<file>` of the repository.
pub fn path(file: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|d| d.join("schemas"))
        .find(|d| d.join("README.md").is_file())
        .expect("no schemas/ folder above the crate")
        .join(file)
}

/// Violations of the draft 2020-12 meta-schema, as `<path in the schema>: <message>`.
pub fn meta_errors(schema: &Value) -> Vec<String> {
    jsonschema::draft202012::meta::validator()
        .iter_errors(schema)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// Compiles `schema` as draft 2020-12 with formats asserted and unknown formats an error.
pub fn compile(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .should_ignore_unknown_formats(false)
        .build(schema)
        .map_err(|e| e.to_string())
}

pub struct Schema {
    pub file: String,
    pub doc: Value,
    validator: jsonschema::Validator,
}

impl Schema {
    /// Loads `schemas/<file>`; panics unless it is a valid, compilable 2020-12 schema.
    pub fn load(file: &str) -> Schema {
        let text = std::fs::read_to_string(path(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(doc["$schema"], DRAFT_2020_12, "{file}: $schema");
        assert_eq!(doc["$id"], format!("{ID_PREFIX}{file}"), "{file}: $id");
        let meta = meta_errors(&doc);
        assert!(
            meta.is_empty(),
            "{file} breaks the 2020-12 meta-schema: {meta:#?}"
        );
        let validator = compile(&doc).unwrap_or_else(|e| panic!("{file}: {e}"));
        Schema {
            file: file.into(),
            doc,
            validator,
        }
    }

    /// Every error of `v`, as (instance path, message).
    pub fn errors(&self, v: &Value) -> Vec<(String, String)> {
        self.validator
            .iter_errors(v)
            .map(|e| (e.instance_path().to_string(), e.to_string()))
            .collect()
    }

    pub fn assert_valid(&self, v: &Value, what: &str) {
        let errors = self.errors(v);
        assert!(
            errors.is_empty(),
            "{what} is invalid against {}: {errors:#?}\n{v:#}",
            self.file
        );
    }

    /// Asserts that `v` is invalid with an error at instance path `at` (a JSON
    /// pointer, "" for the document), so a document broken in one place is
    /// rejected for that reason and not another.
    pub fn assert_rejects(&self, v: &Value, at: &str, what: &str) {
        let errors = self.errors(v);
        assert!(
            errors.iter().any(|(p, _)| p == at),
            "{what}: expected an error at {at:?} against {}, got {errors:#?}",
            self.file
        );
    }

    /// The schema's `examples` (at least one).
    pub fn examples(&self) -> &[Value] {
        let ex = self.doc["examples"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: no examples", self.file));
        assert!(!ex.is_empty(), "{}: no examples", self.file);
        ex
    }

    /// Every example validates against its own schema.
    pub fn assert_examples_valid(&self) {
        for (i, ex) in self.examples().iter().enumerate() {
            self.assert_valid(ex, &format!("examples[{i}]"));
        }
    }
}

/// A copy of `v` with the field at `pointer` (a JSON pointer) set to `to`, or
/// removed when `to` is `None`: a valid document broken in one place.
pub fn with_field(v: &Value, pointer: &str, to: Option<Value>) -> Value {
    let mut bad = v.clone();
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    let obj = bad
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no object at {parent}"));
    match to {
        Some(v) => obj.insert(key.into(), v),
        None => obj.remove(key),
    };
    bad
}
