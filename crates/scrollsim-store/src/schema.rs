//! How a video is laid out in Qdrant, shared by both backends: the point id, the payload (the
//! `Video` itself plus flat, indexed copies of the fields filters use) and the derived keys that
//! make sampling and ordered paging cheap.

use scrollsim_core::{Value, Video, VideoId};
use serde_json::{json, Map, Value as Json};
use uuid::Uuid;

/// Namespace of point ids: UUID v5 of `https://scrollsim.dev/video` in the URL namespace.
const NAMESPACE: Uuid = Uuid::from_u128(0x72a4_f241_59dc_583f_8c0a_f160_98ff_8f8b);

/// The Qdrant point id of a video: UUID v5 of its id, so re-ingesting replaces the point.
pub fn point_id(id: &VideoId) -> Uuid {
    Uuid::new_v5(&NAMESPACE, id.as_str().as_bytes())
}

/// Payload keys. A point's payload is `{"video": <the Video as JSON>, "k": <derived keys>}`;
/// filters and indexes address the video's own fields by path (`video.platform`), so nothing is
/// stored twice. Two top-level keys rather than a flat copy of each filtered field: qdrant-edge
/// 0.7.2 pays ~5 µs of CPU per top-level payload key per upserted point, which a flat layout
/// (13 keys) turned into two thirds of the upsert cost (measured; docs/store.md).
pub mod field {
    /// The whole `Video` as JSON: what `get`, `search` and friends return.
    pub const VIDEO: &str = "video";
    pub const PLATFORM: &str = "video.platform";
    pub const TOPIC: &str = "video.topic";
    /// Value codes the video is labelled with (`["UN", "BE"]`).
    pub const VALUES: &str = "video.values";
    /// Object of per-value scores keyed by code; indexed as `video.value_scores.SD` and so on.
    pub const VALUE_SCORES: &str = "video.value_scores";
    /// `YYYY-MM-DD`, which Qdrant's datetime index reads as midnight UTC.
    pub const POSTED: &str = "video.posted";
    pub const DURATION_S: &str = "video.duration_s";
    pub const VIEWS: &str = "video.views";
    /// The derived keys below live in this object.
    pub const KEYS: &str = "k";
    /// A stable pseudo-random integer in `[0, 2^53)` per video: `sample` scrolls it from a
    /// seeded start.
    pub const SAMPLE_KEY: &str = "k.sample";
    /// Unique-ish float keys for ordered scrolls: the order value plus a fraction from the
    /// sample key, so ties are rare and paging stays exact (see `store::page_by_key`).
    pub const ORDER_VIEWS: &str = "k.views";
    pub const ORDER_POSTED: &str = "k.posted";
    /// xxh3 of the video JSON and its vectors: changes whenever the stored content changes.
    pub const DIGEST: &str = "k.digest";
}

/// Kinds of payload index the store creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    Keyword,
    Integer,
    Float,
    Datetime,
}

impl IndexKind {
    /// Whether the HNSW build adds links for this field's values, so filtered vector search
    /// stays connected (Qdrant's payload-aware graph). Keyword fields, the policies' filters
    /// (platform, topic, value labels), get them. Numeric fields do not: Qdrant builds a
    /// sub-graph per range block, which at 50k videos and 16 numeric fields made the index
    /// build 40x slower (670 s against 16 s at 20k, measured); numeric filters are checked per
    /// candidate, or scanned exactly when they match few videos.
    pub fn graph_links(self) -> bool {
        matches!(self, IndexKind::Keyword)
    }
}

/// Every payload index: the filtered fields and the internal keys.
pub fn payload_indexes() -> Vec<(String, IndexKind)> {
    let mut out = vec![
        (field::PLATFORM.to_string(), IndexKind::Keyword),
        (field::TOPIC.to_string(), IndexKind::Keyword),
        (field::VALUES.to_string(), IndexKind::Keyword),
        (field::POSTED.to_string(), IndexKind::Datetime),
        (field::DURATION_S.to_string(), IndexKind::Float),
        (field::VIEWS.to_string(), IndexKind::Integer),
        (field::SAMPLE_KEY.to_string(), IndexKind::Integer),
        (field::ORDER_VIEWS.to_string(), IndexKind::Float),
        (field::ORDER_POSTED.to_string(), IndexKind::Float),
    ];
    out.extend(
        Value::ALL
            .iter()
            .map(|v| (value_score_key(*v), IndexKind::Float)),
    );
    out
}

/// `value_scores.SD` etc.
pub fn value_score_key(v: Value) -> String {
    format!("{}.{}", field::VALUE_SCORES, v.code())
}

/// 2^53: sample keys stay exact when an engine carries them as f64.
pub const SAMPLE_KEY_SPAN: u64 = 1 << 53;

/// The video's sample key, from its point id (stable across re-ingests).
pub fn sample_key(point: &Uuid) -> u64 {
    let b = point.as_bytes();
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) >> 11
}

/// Where `sample(seed)` starts scrolling: a splitmix64 mix of the seed, in the key span.
pub fn sample_start(seed: u64) -> u64 {
    scrollsim_core::mix::splitmix64(seed) >> 11
}

/// Order keys missing a value sort below every real one.
const MISSING: f64 = -1.0e9;

/// A point's ordered-scroll key for `order`: the value plus a tie-breaking fraction.
pub fn order_key(order: crate::OrderBy, video: &Video, point: &Uuid) -> f64 {
    let frac = sample_key(point) as f64 / SAMPLE_KEY_SPAN as f64;
    let base = match order {
        crate::OrderBy::ViewsDesc => video.views.map(|v| v as f64),
        crate::OrderBy::PostedDesc => video.posted.map(|d| {
            (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as f64
        }),
    };
    base.unwrap_or(MISSING) + frac
}

/// The payload key holding [`order_key`] for `order`.
pub fn order_field(order: crate::OrderBy) -> &'static str {
    match order {
        crate::OrderBy::ViewsDesc => field::ORDER_VIEWS,
        crate::OrderBy::PostedDesc => field::ORDER_POSTED,
    }
}

/// The full payload of a point. `digest` is the content digest to record: `None` computes it
/// from the video and the vectors as given; a copy passes the one its source recorded (see
/// [`crate::ContentDigest`]).
pub fn payload(
    video: &Video,
    point: &Uuid,
    text: &[f32],
    image: Option<&[f32]>,
    digest: Option<u64>,
) -> Result<Map<String, Json>, serde_json::Error> {
    let video_json = serde_json::to_value(video)?;
    let digest = digest.unwrap_or_else(|| content_digest(&video_json, text, image));
    let keys = json!({
        "sample": sample_key(point),
        "views": order_key(crate::OrderBy::ViewsDesc, video, point),
        "posted": order_key(crate::OrderBy::PostedDesc, video, point),
        "digest": format!("{digest:016x}"),
    });
    let mut m = Map::with_capacity(2);
    m.insert(field::VIDEO.into(), video_json);
    m.insert(field::KEYS.into(), keys);
    Ok(m)
}

/// The content digest from a payload returned for [`field::DIGEST`] (engines return selected
/// nested keys nested: `{"k": {"digest": ..}}`).
pub fn digest_of(payload: &Map<String, Json>) -> Option<u64> {
    let hex = payload.get(field::KEYS)?.get("digest")?.as_str()?;
    u64::from_str_radix(hex, 16).ok()
}

fn content_digest(video: &Json, text: &[f32], image: Option<&[f32]>) -> u64 {
    use xxhash_rust::xxh3::Xxh3;
    let mut h = Xxh3::new();
    h.update(video.to_string().as_bytes());
    // One update per vector, not per float: xxh3 is fast on long inputs only.
    let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    h.update(&bytes(text));
    h.update(b"|image|");
    h.update(&bytes(image.unwrap_or_default()));
    h.digest()
}

/// The corpus digest: xxh3 over (point id, content digest) sorted by id, first 12 hex digits.
pub fn corpus_digest(mut entries: Vec<(Uuid, u64)>) -> String {
    entries.sort_unstable();
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for (id, d) in &entries {
        h.update(id.as_bytes());
        h.update(&d.to_le_bytes());
    }
    format!("{:012x}", h.digest() >> 16)
}

/// Reads a stored `video` payload value back.
pub fn video_from_json(v: Json) -> Result<Video, serde_json::Error> {
    serde_json::from_value(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_is_uuid_v5_of_the_documented_url() {
        assert_eq!(
            NAMESPACE,
            Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://scrollsim.dev/video")
        );
    }

    #[test]
    fn point_ids_are_stable_and_distinct() {
        let a = point_id(&VideoId::new("tt-001"));
        assert_eq!(a, point_id(&VideoId::new("tt-001")));
        assert_ne!(a, point_id(&VideoId::new("tt-002")));
        assert_eq!(a.get_version_num(), 5);
    }

    /// Every point stores its content digest, and the corpus id a trace records is made of
    /// them: the same video must give the same digest in every build. This pins the encoding
    /// the digest hashes (JSON key order, which serde_json's `preserve_order` feature decides
    /// and qdrant-edge turns on; float formatting). If it fails, existing stores' corpus ids no
    /// longer match a new ingest of the same videos: change the store's format deliberately
    /// (and say so in the changelog) rather than updating the value here.
    #[test]
    fn content_digest_is_the_same_in_every_build() {
        let video: Video = serde_json::from_value(json!({
            "id": "tt-001",
            "platform": "tiktok",
            "caption": "Forgave my brother after three years",
            "hashtags": ["family", "forgiveness"],
            "duration_s": 31.5,
            "views": 1200,
            "value_scores": {
                "SD": 0.14, "ST": 0.16, "HE": 0.18, "AC": 0.19, "PO": 0.19,
                "SE": 0.11, "CO": 0.21, "TR": 0.23, "BE": 0.34, "UN": 0.2
            },
            "posted": "2024-05-01",
            "values": ["BE"],
        }))
        .unwrap();
        let payload = payload(
            &video,
            &point_id(&video.id),
            &[0.25, -0.5, 1.0],
            Some(&[0.125, 2.0]),
            None,
        )
        .unwrap();
        assert_eq!(digest_of(&payload), Some(0xc85f_c520_8298_5ad5));
    }

    /// A copy records the digest its source recorded, whatever vectors it writes.
    #[test]
    fn a_given_digest_is_recorded_as_given() {
        let video = Video::new(VideoId::new("tt-002"));
        let id = point_id(&video.id);
        let computed = digest_of(&payload(&video, &id, &[0.6, 0.8], None, None).unwrap());
        let kept = payload(&video, &id, &[0.6, 0.8], None, Some(0x0123_4567_89ab_cdef)).unwrap();
        assert_eq!(digest_of(&kept), Some(0x0123_4567_89ab_cdef));
        assert_ne!(computed, Some(0x0123_4567_89ab_cdef));
    }

    #[test]
    fn sample_keys_fit_in_53_bits() {
        for i in 0..1000u64 {
            assert!(sample_key(&point_id(&VideoId::new(format!("v{i}")))) < SAMPLE_KEY_SPAN);
            assert!(sample_start(i) < SAMPLE_KEY_SPAN);
        }
    }
}
