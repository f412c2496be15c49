//! Items as the Markdown template sees them: minijinja objects that convert a field only
//! when the template reads it.
//!
//! Converting a bundle of thousands of files into template values up front costs more
//! memory than the bundle itself (every item a map of some 25 values, once for `bundle`,
//! once for `items`, once per group). An [`ItemObject`] holds the item and answers
//! `item.<field>` by serialising just that field, through the item's own `Serialize`
//! (so a field skipped in JSON is undefined in the template, exactly as before).

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Value};
use serde::Serialize;
use serde::ser::{self, Impossible, SerializeStruct};

use super::model::ItemJson;

/// An item, answering also the rendering aids the template uses (`fence`: a fence
/// longer than any backtick run in the content; `ends_with_newline`), worked out when
/// read rather than held for every item.
#[derive(Debug)]
pub struct ItemObject {
    pub item: ItemJson,
}

impl ItemObject {
    pub fn new(item: ItemJson) -> Self {
        Self { item }
    }

    fn fence(&self) -> String {
        self.item
            .content
            .as_ref()
            .map_or_else(|| String::from("```"), |content| content.fence())
    }

    fn ends_with_newline(&self) -> bool {
        self.item
            .content
            .as_ref()
            .is_none_or(|content| content.ends_with_newline())
    }
}

impl Object for ItemObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "fence" => Some(Value::from(self.fence())),
            "ends_with_newline" => Some(Value::from(self.ends_with_newline())),
            // What templates read of every item (the built-in one filters all items by
            // section and status five times over), read directly: as serialised, and
            // without serialising the fields before them.
            "status" => Some(Value::from(self.item.status.as_str())),
            "section" => Some(Value::from(self.item.section().as_str())),
            "key" => Some(Value::from(self.item.key())),
            "tokens" => Some(Value::from(self.item.tokens)),
            "language" => self.item.language.map(Value::from),
            name => match self.item.serialize(Pick { name }) {
                Ok(found) => found,
                Err(stopped) => stopped.found,
            },
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: Vec<Value> = self
            .item
            .serialize(Keys)
            .unwrap_or_default()
            .into_iter()
            .map(Value::from)
            .collect();
        keys.extend([Value::from("fence"), Value::from("ends_with_newline")]);
        Enumerator::Values(keys)
    }
}

/// Why serialising stopped: the value is not a struct (`found` empty), or [`Pick`] found
/// its field, in `found` (stopping there skips the fields after it).
#[derive(Debug, Default)]
struct Stop {
    found: Option<Value>,
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.found {
            Some(_) => "field found",
            None => "not a struct",
        })
    }
}

impl std::error::Error for Stop {}

impl ser::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Self::default()
    }
}

/// A serializer that keeps one struct field, as a template value.
struct Pick<'n> {
    name: &'n str,
}

struct PickStruct<'n> {
    name: &'n str,
}

impl SerializeStruct for PickStruct<'_> {
    type Ok = Option<Value>;
    type Error = Stop;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        if key == self.name {
            return Err(Stop {
                found: Some(Value::from(minijinja::value::Serde(value))),
            });
        }
        Ok(())
    }

    /// Every field passed, none of them the one asked for.
    fn end(self) -> Result<Option<Value>, Stop> {
        Ok(None)
    }
}

/// A serializer that lists a struct's serialised (not skipped) field names.
struct Keys;

struct KeysStruct(Vec<&'static str>);

impl SerializeStruct for KeysStruct {
    type Ok = Vec<&'static str>;
    type Error = Stop;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        _: &T,
    ) -> Result<(), Stop> {
        self.0.push(key);
        Ok(())
    }

    fn end(self) -> Result<Vec<&'static str>, Stop> {
        Ok(self.0)
    }
}

/// Everything but structs is refused by [`Pick`] and [`Keys`].
macro_rules! only_structs {
    ($ok:ty) => {
        type Ok = $ok;
        type Error = Stop;
        type SerializeSeq = Impossible<$ok, Stop>;
        type SerializeTuple = Impossible<$ok, Stop>;
        type SerializeTupleStruct = Impossible<$ok, Stop>;
        type SerializeTupleVariant = Impossible<$ok, Stop>;
        type SerializeMap = Impossible<$ok, Stop>;
        type SerializeStructVariant = Impossible<$ok, Stop>;

        fn serialize_bool(self, _: bool) -> Result<$ok, Stop> {
            Err(Stop::default())
        }
        fn serialize_i8(self, _: i8) -> Result<$ok, Stop> {
            Err(Stop::default())
        }
        fn serialize_i16(self, _: i16) -> Result<$ok, Stop> {
            Err(Stop::default())
        }
        fn serialize_i32(self, _: i32) -> Result<$ok, Stop> {
            Err(Stop::default())
        }
        fn serialize_i64(self, _: i64) -> Result<$ok, Stop> {
            Err(Stop::default())
        }
        fn serialize_u8(self, _: u8) -> Result<$ok, Stop> {
            Err(Stop::default())
        }
        fn serialize_u16(self, _: u16) -> Result<$ok, Stop> {
            Err(Stop::default())
        }
        fn serialize_u32(self, _: u32) -> Result<$ok, Stop> {
            Err(Stop::default())
        }
        fn serialize_u64(self, _: u64) -> Result<$ok, Stop> {
            Err(Stop::default())
        }
        fn serialize_f32(self, _: f32) -> Result<$ok, Stop> {
            Err(Stop::default())
        }
        fn serialize_f64(self, _: f64) -> Result<$ok, Stop> {
            Err(Stop::default())
        }
        fn serialize_char(self, _: char) -> Result<$ok, Stop> {
            Err(Stop::default())
        }
        fn serialize_str(self, _: &str) -> Result<$ok, Stop> {
            Err(Stop::default())
        }
        fn serialize_bytes(self, _: &[u8]) -> Result<$ok, Stop> {
            Err(Stop::default())
        }
        fn serialize_none(self) -> Result<$ok, Stop> {
            Err(Stop::default())
        }
        fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<$ok, Stop> {
            Err(Stop::default())
        }
        fn serialize_unit(self) -> Result<$ok, Stop> {
            Err(Stop::default())
        }
        fn serialize_unit_struct(self, _: &'static str) -> Result<$ok, Stop> {
            Err(Stop::default())
        }
        fn serialize_unit_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
        ) -> Result<$ok, Stop> {
            Err(Stop::default())
        }
        fn serialize_newtype_struct<T: ?Sized + Serialize>(
            self,
            _: &'static str,
            _: &T,
        ) -> Result<$ok, Stop> {
            Err(Stop::default())
        }
        fn serialize_newtype_variant<T: ?Sized + Serialize>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<$ok, Stop> {
            Err(Stop::default())
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Stop> {
            Err(Stop::default())
        }
        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Stop> {
            Err(Stop::default())
        }
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, Stop> {
            Err(Stop::default())
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, Stop> {
            Err(Stop::default())
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Stop> {
            Err(Stop::default())
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, Stop> {
            Err(Stop::default())
        }
    };
}

impl<'n> ser::Serializer for Pick<'n> {
    type SerializeStruct = PickStruct<'n>;
    only_structs!(Option<Value>);

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<PickStruct<'n>, Stop> {
        Ok(PickStruct { name: self.name })
    }
}

impl ser::Serializer for Keys {
    type SerializeStruct = KeysStruct;
    only_structs!(Vec<&'static str>);

    fn serialize_struct(self, _: &'static str, fields: usize) -> Result<KeysStruct, Stop> {
        Ok(KeysStruct(Vec::with_capacity(fields)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::OriginJson;
    use super::*;
    use crate::resolve::merge::Status;

    fn item() -> ItemJson {
        ItemJson {
            id: "domain:d/patterns/p".parse().unwrap(),
            origin: OriginJson {
                file: "domains/d.yaml".into(),
                line: 3,
            },
            own_path: Some("src/a.py".into()),
            lines: None,
            why: None,
            text: None,
            topics: vec![String::from("auth")],
            tokens: 7,
            status: Status::Included,
            overrides: Vec::new(),
            language: Some("python"),
            content: None,
            rare: Some(Box::new(super::super::model::Rare {
                run: Some(String::from("make test")),
                blocking: Some(true),
                note: Some(String::from("a note")),
                ..Default::default()
            })),
        }
    }

    /// The object serves exactly the JSON item's fields (skipped ones undefined), plus
    /// the two rendering aids.
    #[test]
    fn fields_match_the_json_item() {
        let json = serde_json::to_value(item()).unwrap();
        let value = Value::from_object(ItemObject::new(item()));
        for (key, expected) in json.as_object().unwrap() {
            let got = value.get_attr(key).unwrap();
            assert_eq!(
                serde_json::to_value(&got).unwrap(),
                *expected,
                "field `{key}`"
            );
        }
        assert!(value.get_attr("why").unwrap().is_undefined());
        // The fields read directly, for every status and section, and without a language.
        for status in [
            Status::Included,
            Status::OmittedBudget,
            Status::OmittedBinary,
            Status::OmittedSize,
            Status::OmittedUnreadable,
            Status::Expired,
            Status::Disabled,
            Status::Overridden,
            Status::FilteredAgent,
            Status::FilteredFeature,
            Status::Skipped,
            Status::OmittedError,
        ] {
            for id in [
                "domain:d/patterns/p",
                "domain:d/constraints/c",
                "domain:d/quality_gates/g",
                "domain:d/examples/e",
            ] {
                let other = ItemJson {
                    id: id.parse().unwrap(),
                    status,
                    language: None,
                    ..item()
                };
                let json = serde_json::to_value(&other).unwrap();
                let value = Value::from_object(ItemObject::new(other));
                for key in ["status", "section", "key", "tokens"] {
                    let got = serde_json::to_value(value.get_attr(key).unwrap()).unwrap();
                    assert_eq!(got, json[key], "{id} {status:?} `{key}`");
                }
                assert!(value.get_attr("language").unwrap().is_undefined());
            }
        }
        assert!(value.get_attr("no_such_field").unwrap().is_undefined());
        assert_eq!(value.get_attr("fence").unwrap().as_str(), Some("```"));
        let keys: Vec<String> = value
            .try_iter()
            .unwrap()
            .map(|key| key.to_string())
            .collect();
        let mut expected: Vec<String> = json.as_object().unwrap().keys().cloned().collect();
        expected.extend([String::from("fence"), String::from("ends_with_newline")]);
        assert_eq!(keys, expected);
    }
}
