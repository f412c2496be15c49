//! `ctx schema`: the JSON Schema of the config documents, for editors.
//!
//! The schema is a `oneOf` over the five kinds; each branch is the wire struct's schema
//! with the leading `kind` added as a constant, so editors complete and check keys.

use schemars::generate::SchemaSettings;

use crate::cli::SchemaArgs;
use crate::config::model::{Agent, Domain, Feature, Org, Service, Strategy};
use crate::error::Error;
use crate::exit::ExitStatus;
use crate::output::Printer;

pub fn run(_args: &SchemaArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    crate::commands::print_json(printer, &document_schema(), "the schema")?;
    Ok(ExitStatus::Success)
}

/// The schema of one config document (any kind).
pub fn document_schema() -> serde_json::Value {
    let mut definitions = serde_json::Map::new();
    let mut branches = Vec::new();
    let mut add = |kind: &str, schema: schemars::Schema| {
        let mut value = schema.to_value();
        if let Some(object) = value.as_object_mut() {
            object.remove("$schema");
            if let Some(serde_json::Value::Object(found)) = object.remove("definitions") {
                definitions.extend(found);
            }
            if let Some(properties) = object
                .get_mut("properties")
                .and_then(serde_json::Value::as_object_mut)
            {
                properties.insert(String::from("kind"), serde_json::json!({ "const": kind }));
                // `kind` comes first in documents; show it first in editors too.
                properties.sort_keys();
            }
            let required = object
                .entry("required")
                .or_insert_with(|| serde_json::json!([]));
            if let Some(required) = required.as_array_mut() {
                required.insert(0, serde_json::Value::from("kind"));
            }
            object.insert(
                String::from("title"),
                serde_json::Value::from(format!("kind: {kind}")),
            );
        }
        branches.push(value);
    };
    let generator = || SchemaSettings::draft07().into_generator();
    add("org", generator().into_root_schema_for::<Org>());
    add("domain", generator().into_root_schema_for::<Domain>());
    add("strategy", generator().into_root_schema_for::<Strategy>());
    add("service", generator().into_root_schema_for::<Service>());
    add("feature", generator().into_root_schema_for::<Feature>());
    add("agent", generator().into_root_schema_for::<Agent>());
    definitions.sort_keys();
    serde_json::json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://ctx.dev/schema/config.json",
        "title": "ctx config document",
        "description": "One YAML document of a ctx workspace: org, domain, service, feature or agent",
        "oneOf": branches,
        "definitions": definitions,
    })
}
