//! Stricter JSON shapes than serde's derive.
//!
//! A derived `Deserialize` for a struct with named fields also accepts a
//! sequence of the field values in order (`["alice", "secret"]` for
//! `{username, password}`). No client means that and the API contract does
//! not allow it, so request bodies and nested objects go through
//! [`ObjectOnly`], which accepts a map and nothing else.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// `T`, deserialised from a map (a JSON object) only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectOnly<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for MapVisitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(MapVisitor(PhantomData)).map(ObjectOnly)
    }
}
