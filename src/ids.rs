//! The ids of ctx's things, each a type with one formatter ([`Display`]) and one parser
//! ([`FromStr`]): layers, items, gates and gate runs. Everything that shows, stores or
//! compares an id goes through these types; nothing formats an id by hand.
//!
//! | id | form | example |
//! |---|---|---|
//! | [`LayerId`] | `<kind>:<name>` | `domain:payment` |
//! | [`ItemId`] | `<layer>/<section>/<key>[@<service>][:<file>]` | `integration:order-service/patterns/api@payment-service` |
//! | [`GateId`] | `<layer>/<key>` | `domain:payment/payment-tests` |
//! | [`RunId`] | `<YYYYMMDD>T<HHMMSS>Z-<6 hex>` | `20261121T012700Z-3fa9c1` |
//!
//! Layer and item names never contain `/`, `:` or `@` (validation's name rules), so each
//! form parses back without ambiguity; a file part may contain anything.
//!
//! [`Display`]: std::fmt::Display
//! [`FromStr`]: std::str::FromStr

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use crate::config::workspace::{LayerKind, Section};

/// An id that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a {what} id (expected {form})")]
pub struct IdError {
    text: String,
    what: &'static str,
    form: &'static str,
}

impl IdError {
    fn new(text: &str, what: &'static str, form: &'static str) -> Self {
        Self {
            text: text.to_owned(),
            what,
            form,
        }
    }
}

/// A layer's identity: serialised as `{"kind": "domain", "name": "payment"}` in
/// bundles, shown as `domain:payment`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LayerId {
    pub kind: LayerKind,
    /// Shared by every item of the layer (a large tree has thousands).
    pub name: std::sync::Arc<str>,
}

impl LayerId {
    pub fn new(kind: LayerKind, name: impl Into<std::sync::Arc<str>>) -> Self {
        Self {
            kind,
            name: name.into(),
        }
    }
}

impl fmt::Display for LayerId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}", self.kind.as_str(), self.name)
    }
}

fn layer_kind(text: &str) -> Option<LayerKind> {
    [
        LayerKind::Org,
        LayerKind::Domain,
        LayerKind::Strategy,
        LayerKind::Integration,
        LayerKind::Service,
        LayerKind::Feature,
        LayerKind::Execution,
    ]
    .into_iter()
    .find(|kind| kind.as_str() == text)
}

fn section(text: &str) -> Option<Section> {
    [
        Section::Patterns,
        Section::Constraints,
        Section::QualityGates,
        Section::Examples,
    ]
    .into_iter()
    .find(|section| section.as_str() == text)
}

impl FromStr for LayerId {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, IdError> {
        let error = || IdError::new(text, "layer", "`<kind>:<name>`");
        let (kind, name) = text.split_once(':').ok_or_else(error)?;
        let kind = layer_kind(kind).ok_or_else(error)?;
        if name.is_empty() || name.contains(['/', ':', '@']) {
            return Err(error());
        }
        Ok(Self::new(kind, name))
    }
}

/// An item of a bundle: its layer, section and key; for shared patterns the service that
/// publishes it; for a pattern that expands to several files (a glob or a folder), the
/// file. Example files are items of their own whose key is the file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemId {
    pub layer: LayerId,
    pub section: Section,
    /// Shared by the items of each of a pattern's files.
    pub key: std::sync::Arc<str>,
    pub from_service: Option<String>,
    /// Shared with the tree's index and the file's content (one copy per file).
    pub file: Option<std::sync::Arc<str>>,
}

impl ItemId {
    pub fn new(layer: LayerId, section: Section, key: impl Into<std::sync::Arc<str>>) -> Self {
        Self {
            layer,
            section,
            key: key.into(),
            from_service: None,
            file: None,
        }
    }

    /// The same item, one file of it.
    #[must_use]
    pub fn with_file(&self, file: impl Into<std::sync::Arc<str>>) -> Self {
        Self {
            file: Some(file.into()),
            ..self.clone()
        }
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}/{}/{}",
            self.layer,
            self.section.as_str(),
            self.key
        )?;
        if let Some(service) = &self.from_service {
            write!(formatter, "@{service}")?;
        }
        if let Some(file) = &self.file {
            write!(formatter, ":{file}")?;
        }
        Ok(())
    }
}

impl FromStr for ItemId {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, IdError> {
        let error = || {
            IdError::new(
                text,
                "item",
                "`<kind>:<name>/<section>/<key>[@<service>][:<file>]`",
            )
        };
        let (layer, rest) = text.split_once('/').ok_or_else(error)?;
        let layer: LayerId = layer.parse().map_err(|_| error())?;
        let (section_text, rest) = rest.split_once('/').ok_or_else(error)?;
        let section = section(section_text).ok_or_else(error)?;
        let (head, file) = match rest.split_once(':') {
            Some((head, file)) => (head, Some(file.to_owned())),
            None => (rest, None),
        };
        let (key, from_service) = match head.split_once('@') {
            Some((key, service)) => (key, Some(service.to_owned())),
            None => (head, None),
        };
        if key.is_empty() || from_service.as_deref() == Some("") || file.as_deref() == Some("") {
            return Err(error());
        }
        Ok(Self {
            layer,
            section,
            key: key.into(),
            from_service,
            file: file.map(Into::into),
        })
    }
}

/// A quality gate: the layer whose (merged) gate it is, and its key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GateId {
    pub layer: LayerId,
    pub key: String,
}

impl GateId {
    pub fn new(layer: LayerId, key: impl Into<String>) -> Self {
        Self {
            layer,
            key: key.into(),
        }
    }
}

impl fmt::Display for GateId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.layer, self.key)
    }
}

impl FromStr for GateId {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, IdError> {
        let error = || IdError::new(text, "gate", "`<kind>:<name>/<key>`");
        let (layer, key) = text.split_once('/').ok_or_else(error)?;
        let layer: LayerId = layer.parse().map_err(|_| error())?;
        if key.is_empty() || key.contains(['/', ':', '@']) {
            return Err(error());
        }
        Ok(Self::new(layer, key))
    }
}

/// One `ctx gates` run: sortable by start time, unique per run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(String);

impl RunId {
    /// A new id for a run starting now: `20261121T012700Z-3fa9c1`.
    pub fn mint() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let seconds = now.as_secs();
        let date =
            crate::date::Date::from_days_since_epoch(i64::try_from(seconds / 86_400).unwrap_or(0));
        let of_day = seconds % 86_400;
        Self(format!(
            "{}T{:02}{:02}{:02}Z-{}",
            date.to_string().replace('-', ""),
            of_day / 3600,
            of_day % 3600 / 60,
            of_day % 60,
            crate::process::random_hex(6, "run")
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl FromStr for RunId {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, IdError> {
        let error = || IdError::new(text, "run", "`YYYYMMDDTHHMMSSZ-xxxxxx`");
        let bytes = text.as_bytes();
        let digits = |range: std::ops::Range<usize>| {
            bytes
                .get(range)
                .is_some_and(|part| part.iter().all(u8::is_ascii_digit))
        };
        let ok = bytes.len() == 23
            && digits(0..8)
            && bytes[8] == b'T'
            && digits(9..15)
            && bytes[15] == b'Z'
            && bytes[16] == b'-'
            && bytes[17..]
                .iter()
                .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(byte));
        if !ok {
            return Err(error());
        }
        Ok(Self(text.to_owned()))
    }
}

macro_rules! serialize_as_text {
    ($($id:ty),*) => {$(
        impl Serialize for $id {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
    )*};
}

serialize_as_text!(ItemId, GateId, RunId);

/// Serialise any id (a [`LayerId`] too) in its text form: `#[serde(serialize_with)]`.
pub fn as_text<T: fmt::Display, S: Serializer>(id: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_parses_back_to_itself() {
        let layer = LayerId::new(LayerKind::Integration, "order-service");
        assert_eq!(layer.to_string(), "integration:order-service");
        assert_eq!(layer.to_string().parse::<LayerId>(), Ok(layer.clone()));
        let mut item = ItemId::new(layer.clone(), Section::Patterns, "api");
        item.from_service = Some(String::from("payment-service"));
        let file = item.with_file("src/a:b@c.py");
        assert_eq!(
            file.to_string(),
            "integration:order-service/patterns/api@payment-service:src/a:b@c.py"
        );
        for id in [item, file] {
            assert_eq!(id.to_string().parse::<ItemId>(), Ok(id));
        }
        let gate = GateId::new(LayerId::new(LayerKind::Domain, "payment"), "unit-tests");
        assert_eq!(gate.to_string(), "domain:payment/unit-tests");
        assert_eq!(gate.to_string().parse::<GateId>(), Ok(gate));
        let run = RunId::mint();
        assert_eq!(run.to_string().parse::<RunId>(), Ok(run));
    }

    #[test]
    fn malformed_ids_are_refused() {
        for text in ["payment", "nothing:x", "domain:", "domain:a/b"] {
            assert!(text.parse::<LayerId>().is_err(), "{text}");
        }
        for text in ["domain:a", "domain:a/", "domain:a/b/c", "x:a/b"] {
            assert!(text.parse::<GateId>().is_err(), "{text}");
        }
        for text in [
            "domain:a/patterns",
            "domain:a/nope/k",
            "domain:a/patterns/k@",
        ] {
            assert!(text.parse::<ItemId>().is_err(), "{text}");
        }
        for text in ["20261121T012700Z", "20261121T012700Z-3fa9cZ", "x"] {
            assert!(text.parse::<RunId>().is_err(), "{text}");
        }
    }
}
