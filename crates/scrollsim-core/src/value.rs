//! Schwartz's ten basic human values, in circumplex order, and a fixed map over them.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One of Schwartz's ten basic values. Serialized as its two-letter code (`"SD"`, `"UN"`),
/// which is what traces, tables and config files use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    SelfDirection,
    Stimulation,
    Hedonism,
    Achievement,
    Power,
    Security,
    Conformity,
    Tradition,
    Benevolence,
    Universalism,
}

/// Schwartz's four higher-order groups. Hedonism belongs to both Openness to change and
/// Self-enhancement, as in the circumplex.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum HigherOrder {
    OpennessToChange,
    SelfEnhancement,
    Conservation,
    SelfTranscendence,
}

impl HigherOrder {
    pub const ALL: [HigherOrder; 4] = [
        HigherOrder::OpennessToChange,
        HigherOrder::SelfEnhancement,
        HigherOrder::Conservation,
        HigherOrder::SelfTranscendence,
    ];

    pub fn name(self) -> &'static str {
        match self {
            HigherOrder::OpennessToChange => "Openness to change",
            HigherOrder::SelfEnhancement => "Self-enhancement",
            HigherOrder::Conservation => "Conservation",
            HigherOrder::SelfTranscendence => "Self-transcendence",
        }
    }

    /// The values in this group, in circumplex order.
    pub fn members(self) -> impl Iterator<Item = Value> {
        Value::ALL
            .into_iter()
            .filter(move |v| v.groups().contains(&self))
    }
}

impl Value {
    /// All ten values in circumplex order (the order of every table and radar chart).
    pub const ALL: [Value; 10] = [
        Value::SelfDirection,
        Value::Stimulation,
        Value::Hedonism,
        Value::Achievement,
        Value::Power,
        Value::Security,
        Value::Conformity,
        Value::Tradition,
        Value::Benevolence,
        Value::Universalism,
    ];

    /// Position in circumplex order, 0..10.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The two-letter short code used in traces, tables and config.
    pub fn code(self) -> &'static str {
        ["SD", "ST", "HE", "AC", "PO", "SE", "CO", "TR", "BE", "UN"][self.index()]
    }

    /// The value's name as Schwartz writes it.
    pub fn name(self) -> &'static str {
        [
            "Self-direction",
            "Stimulation",
            "Hedonism",
            "Achievement",
            "Power",
            "Security",
            "Conformity",
            "Tradition",
            "Benevolence",
            "Universalism",
        ][self.index()]
    }

    /// The higher-order groups this value belongs to (Hedonism belongs to two).
    pub fn groups(self) -> &'static [HigherOrder] {
        use HigherOrder::*;
        match self {
            Value::SelfDirection | Value::Stimulation => &[OpennessToChange],
            Value::Hedonism => &[OpennessToChange, SelfEnhancement],
            Value::Achievement | Value::Power => &[SelfEnhancement],
            Value::Security | Value::Conformity | Value::Tradition => &[Conservation],
            Value::Benevolence | Value::Universalism => &[SelfTranscendence],
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A string that is neither a value code nor a value name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Schwartz value {0:?}: expected a code (SD ST HE AC PO SE CO TR BE UN) or a name such as \"self-direction\"")]
pub struct UnknownValue(pub String);

impl FromStr for Value {
    type Err = UnknownValue;

    /// Accepts the code (`"SD"`) or the name in any case, with `-`, `_` or a space
    /// (`"self-direction"`, `"Self_Direction"`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Fast path for the codes traces are written with (no allocation).
        let code = match s {
            "SD" => Some(Value::SelfDirection),
            "ST" => Some(Value::Stimulation),
            "HE" => Some(Value::Hedonism),
            "AC" => Some(Value::Achievement),
            "PO" => Some(Value::Power),
            "SE" => Some(Value::Security),
            "CO" => Some(Value::Conformity),
            "TR" => Some(Value::Tradition),
            "BE" => Some(Value::Benevolence),
            "UN" => Some(Value::Universalism),
            _ => None,
        };
        if let Some(v) = code {
            return Ok(v);
        }
        let norm: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        Value::ALL
            .into_iter()
            .find(|v| {
                v.code().eq_ignore_ascii_case(&norm)
                    || v.name().replace('-', "").eq_ignore_ascii_case(&norm)
            })
            .ok_or_else(|| UnknownValue(s.to_string()))
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<str>::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

impl JsonSchema for Value {
    fn schema_name() -> Cow<'static, str> {
        "Value".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let codes: Vec<&str> = Value::ALL.iter().map(|v| v.code()).collect();
        json_schema!({
            "description": "A Schwartz value by its two-letter code, in circumplex order.",
            "type": "string",
            "enum": codes,
        })
    }
}

/// One `T` for each of the ten values, indexed by [`Value`]. Serialized as an object keyed by
/// value code (`{"SD": .., "ST": .., ...}`); reading requires all ten keys so a missing value is
/// an error rather than a silent zero.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PerValue<T>(pub [T; 10]);

impl<T> PerValue<T> {
    pub fn from_fn(mut f: impl FnMut(Value) -> T) -> Self {
        PerValue(std::array::from_fn(|i| f(Value::ALL[i])))
    }

    pub fn iter(&self) -> impl Iterator<Item = (Value, &T)> {
        Value::ALL.into_iter().zip(self.0.iter())
    }

    pub fn map<U>(&self, mut f: impl FnMut(Value, &T) -> U) -> PerValue<U> {
        PerValue::from_fn(|v| f(v, &self[v]))
    }

    pub fn values(&self) -> &[T; 10] {
        &self.0
    }
}

impl PerValue<f32> {
    /// The value with the highest entry (the first in circumplex order on ties).
    pub fn argmax(&self) -> Value {
        let mut best = Value::SelfDirection;
        for (v, x) in self.iter() {
            if *x > self[best] {
                best = v;
            }
        }
        best
    }

    /// Values ranked from highest to lowest entry (stable on ties).
    pub fn ranked(&self) -> Vec<Value> {
        let mut vs = Value::ALL.to_vec();
        vs.sort_by(|a, b| self[*b].total_cmp(&self[*a]));
        vs
    }

    /// Dot product with another vector over the ten values.
    pub fn dot(&self, other: &PerValue<f32>) -> f32 {
        self.0.iter().zip(other.0.iter()).map(|(a, b)| a * b).sum()
    }
}

impl<T> std::ops::Index<Value> for PerValue<T> {
    type Output = T;
    fn index(&self, v: Value) -> &T {
        &self.0[v.index()]
    }
}

impl<T> std::ops::IndexMut<Value> for PerValue<T> {
    fn index_mut(&mut self, v: Value) -> &mut T {
        &mut self.0[v.index()]
    }
}

impl<T: Serialize> Serialize for PerValue<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(10))?;
        for (v, x) in self.iter() {
            m.serialize_entry(v.code(), x)?;
        }
        m.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for PerValue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = PerValue<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object with one entry per Schwartz value code (SD ST HE AC PO SE CO TR BE UN)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut slots: [Option<T>; 10] = Default::default();
                while let Some(key) = map.next_key::<Cow<str>>()? {
                    let v: Value = key.parse().map_err(de::Error::custom)?;
                    if slots[v.index()].is_some() {
                        return Err(de::Error::custom(format!("value {v} given twice")));
                    }
                    slots[v.index()] = Some(map.next_value()?);
                }
                let missing: Vec<&str> = Value::ALL
                    .iter()
                    .filter(|v| slots[v.index()].is_none())
                    .map(|v| v.code())
                    .collect();
                if !missing.is_empty() {
                    return Err(de::Error::custom(format!(
                        "missing value(s) {}: all ten must be given",
                        missing.join(", ")
                    )));
                }
                Ok(PerValue(slots.map(|x| x.expect("checked above"))))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

impl<T: JsonSchema> JsonSchema for PerValue<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("PerValue_{}", T::schema_name()).into()
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let item = g.subschema_for::<T>();
        let props: serde_json::Map<String, serde_json::Value> = Value::ALL
            .iter()
            .map(|v| (v.code().to_string(), item.clone().to_value()))
            .collect();
        let codes: Vec<&str> = Value::ALL.iter().map(|v| v.code()).collect();
        json_schema!({
            "description": "One entry per Schwartz value, keyed by code.",
            "type": "object",
            "properties": props,
            "required": codes,
        })
    }
}

/// Sparse per-value weights as written in config (`{ BE = 0.9, TR = 0.6 }`): values not named
/// are zero. Used for persona weights, where a full table of ten would be noise.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SparseWeights(pub PerValue<f32>);

impl Serialize for SparseWeights {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let nonzero: Vec<_> = self.0.iter().filter(|(_, w)| **w != 0.0).collect();
        let mut m = s.serialize_map(Some(nonzero.len()))?;
        for (v, w) in nonzero {
            m.serialize_entry(v.code(), w)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for SparseWeights {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = std::collections::BTreeMap::<String, f32>::deserialize(d)?;
        let mut w = PerValue::<f32>::default();
        for (k, x) in raw {
            let v: Value = k.parse().map_err(de::Error::custom)?;
            if !x.is_finite() {
                return Err(de::Error::custom(format!(
                    "weight for {v} is not a finite number"
                )));
            }
            w[v] = x;
        }
        Ok(SparseWeights(w))
    }
}

impl JsonSchema for SparseWeights {
    fn schema_name() -> Cow<'static, str> {
        "SparseWeights".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let codes: Vec<&str> = Value::ALL.iter().map(|v| v.code()).collect();
        json_schema!({
            "description": "Weights over Schwartz values keyed by code; values not named are zero.",
            "type": "object",
            "propertyNames": { "enum": codes },
            "additionalProperties": { "type": "number" },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_names_and_groups() {
        assert_eq!(
            Value::ALL.map(|v| v.code()).join(" "),
            "SD ST HE AC PO SE CO TR BE UN"
        );
        assert_eq!(
            "self-direction".parse::<Value>().unwrap(),
            Value::SelfDirection
        );
        assert_eq!("un".parse::<Value>().unwrap(), Value::Universalism);
        assert_eq!(
            "Self_Direction".parse::<Value>().unwrap(),
            Value::SelfDirection
        );
        assert!("kindness".parse::<Value>().is_err());
        assert_eq!(Value::Hedonism.groups().len(), 2);
        let conservation: Vec<_> = HigherOrder::Conservation.members().collect();
        assert_eq!(
            conservation,
            vec![Value::Security, Value::Conformity, Value::Tradition]
        );
    }

    #[test]
    fn per_value_round_trip_and_missing_key_is_an_error() {
        let p = PerValue::from_fn(|v| v.index() as f32);
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.starts_with("{\"SD\":0.0,\"ST\":1.0"));
        let back: PerValue<f32> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        let err = serde_json::from_str::<PerValue<f32>>(r#"{"SD":1}"#).unwrap_err();
        assert!(err.to_string().contains("missing value(s) ST"), "{err}");
    }

    #[test]
    fn sparse_weights_fill_zeros_and_reject_unknown_codes() {
        let w: SparseWeights = toml::from_str("BE = 0.9\ntradition = 0.5").unwrap();
        assert_eq!(w.0[Value::Benevolence], 0.9);
        assert_eq!(w.0[Value::Tradition], 0.5);
        assert_eq!(w.0[Value::Power], 0.0);
        assert!(toml::from_str::<SparseWeights>("XX = 1.0").is_err());
    }

    #[test]
    fn argmax_and_rank() {
        let mut p = PerValue::<f32>::default();
        p[Value::Power] = 0.7;
        p[Value::Tradition] = 0.9;
        assert_eq!(p.argmax(), Value::Tradition);
        assert_eq!(&p.ranked()[..2], &[Value::Tradition, Value::Power]);
    }
}
