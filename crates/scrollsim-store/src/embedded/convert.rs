//! Conversions between our types and qdrant-edge's: filters, payload index schemas, points,
//! ids and stored videos, and the store error for an embedded path.

use std::collections::HashMap;
use std::path::Path;

use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::{
    Condition, DateTimeWrapper, FieldCondition, Filter as EdgeFilter, HasIdCondition, JsonPath,
    Match, Payload, PayloadFieldSchema, PayloadSchemaParams, PointId, PointStructPersisted, Range,
    VectorPersisted, VectorStructPersisted, WithPayloadInterface,
};
use qdrant_edge::{DatetimeIndexParams, FloatIndexParams, IntegerIndexParams, KeywordIndexParams};
use scrollsim_core::Video;
use uuid::Uuid;

use super::collection::Collection;
use crate::engine::{Cond, Prepared};
use crate::schema::{self, field, IndexKind};
use crate::{Result, StoreError, VectorName};

/// How a payload index of `kind` is created.
pub(super) fn index_schema(kind: IndexKind) -> PayloadFieldSchema {
    let graph = Some(kind.graph_links());
    PayloadFieldSchema::FieldParams(match kind {
        IndexKind::Keyword => PayloadSchemaParams::Keyword(KeywordIndexParams {
            enable_hnsw: graph,
            ..Default::default()
        }),
        IndexKind::Integer => PayloadSchemaParams::Integer(IntegerIndexParams {
            lookup: Some(false),
            range: Some(true),
            enable_hnsw: graph,
            ..Default::default()
        }),
        IndexKind::Float => PayloadSchemaParams::Float(FloatIndexParams {
            enable_hnsw: graph,
            ..Default::default()
        }),
        IndexKind::Datetime => PayloadSchemaParams::Datetime(DatetimeIndexParams {
            enable_hnsw: graph,
            ..Default::default()
        }),
    })
}

/// A payload key as an edge JSON path. Our keys are constants (checked by a test).
pub(super) fn json_path(key: &str) -> JsonPath {
    key.parse()
        .unwrap_or_else(|()| panic!("payload key {key:?} is not a JSON path"))
}

pub(super) fn embedded_err(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Embedded {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

pub(super) fn native(cond: &Cond<'_>) -> Option<EdgeFilter> {
    let f = cond.filter;
    let key = json_path;
    let any = |k: &str, vals: Vec<String>| {
        Condition::Field(FieldCondition::new_match(key(k), Match::from(vals)))
    };
    let mut must = Vec::new();
    if !f.platforms.is_empty() {
        must.push(any(
            field::PLATFORM,
            f.platforms.iter().map(|p| p.as_str().to_string()).collect(),
        ));
    }
    if !f.topics.is_empty() {
        must.push(any(field::TOPIC, f.topics.clone()));
    }
    if !f.labels_any.is_empty() {
        must.push(any(
            field::VALUES,
            f.labels_any.iter().map(|v| v.code().to_string()).collect(),
        ));
    }
    let range = |gte: Option<f64>, lte: Option<f64>, lt: Option<f64>| Range {
        gte: gte.map(OrderedFloat),
        lte: lte.map(OrderedFloat),
        lt: lt.map(OrderedFloat),
        gt: None,
    };
    if let Some((v, x)) = f.min_value_score {
        must.push(Condition::Field(FieldCondition::new_range(
            key(&schema::value_score_key(v)),
            range(Some(x as f64), None, None),
        )));
    }
    if f.posted_from.is_some() || f.posted_to.is_some() {
        let dt = |d: chrono::NaiveDate| {
            DateTimeWrapper(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
        };
        must.push(Condition::Field(FieldCondition::new_datetime_range(
            key(field::POSTED),
            Range {
                gte: f.posted_from.map(dt),
                lte: f.posted_to.map(dt),
                lt: None,
                gt: None,
            },
        )));
    }
    if let Some(d) = f.max_duration_s {
        must.push(Condition::Field(FieldCondition::new_range(
            key(field::DURATION_S),
            range(None, Some(d as f64), None),
        )));
    }
    if let Some((k, below)) = cond.below {
        must.push(Condition::Field(FieldCondition::new_range(
            key(k),
            range(None, None, Some(below as f64)),
        )));
    }
    let must_not = (!cond.exclude.is_empty()).then(|| {
        vec![Condition::HasId(
            cond.exclude
                .iter()
                .map(|u| PointId::Uuid(*u))
                .collect::<HasIdCondition>(),
        )]
    });
    if must.is_empty() && must_not.is_none() {
        return None;
    }
    Some(EdgeFilter {
        should: None,
        min_should: None,
        must: (!must.is_empty()).then_some(must),
        must_not,
    })
}

pub(super) fn with_video() -> WithPayloadInterface {
    static VIDEO: std::sync::LazyLock<JsonPath> =
        std::sync::LazyLock::new(|| json_path(field::VIDEO));
    WithPayloadInterface::Fields(vec![VIDEO.clone()])
}

/// A prepared point as qdrant-edge takes it.
pub(super) fn edge_point(p: Prepared) -> PointStructPersisted {
    let mut named = HashMap::with_capacity(2);
    named.insert(
        VectorName::Text.as_str().to_string(),
        VectorPersisted::Dense(p.text),
    );
    if let Some(img) = p.image {
        named.insert(
            VectorName::Image.as_str().to_string(),
            VectorPersisted::Dense(img),
        );
    }
    PointStructPersisted {
        id: PointId::Uuid(p.id),
        vector: VectorStructPersisted::Named(named),
        payload: Some(Payload(p.payload)),
    }
}

pub(super) fn uuid_of(coll: &Collection, id: &PointId) -> Result<Uuid> {
    match id {
        PointId::Uuid(u) => Ok(*u),
        PointId::NumId(n) => Err(coll.err(format!(
            "point {n} has a numeric id: not written by scrollsim"
        ))),
    }
}

pub(super) fn video_of(coll: &Collection, id: &PointId, payload: Option<Payload>) -> Result<Video> {
    let v = payload
        .and_then(|mut p| p.0.remove(field::VIDEO))
        .ok_or_else(|| {
            coll.err(format!(
                "point {id} has no `video` payload: not written by scrollsim"
            ))
        })?;
    schema::video_from_json(v)
        .map_err(|e| coll.err(format!("point {id}: stored video does not parse: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_payload_key_is_a_json_path() {
        for (key, _) in schema::payload_indexes() {
            let _ = json_path(&key);
        }
        let _ = (json_path(field::VIDEO), json_path(field::DIGEST));
    }
}
