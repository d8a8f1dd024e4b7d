//! Video records: what the store holds for each video and what a trace step records.

use std::fmt;

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use crate::ids::{ImageHash, VideoId};
use crate::value::{PerValue, Value};

/// The platform a video was posted on, lowercased (`tiktok`, `youtube`, `instagram`, or any
/// other name a user's corpus carries).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Platform(String);

impl Platform {
    pub fn new(name: &str) -> Self {
        Platform(name.trim().to_lowercase())
    }
    pub fn tiktok() -> Self {
        Platform::new("tiktok")
    }
    pub fn youtube() -> Self {
        Platform::new("youtube")
    }
    pub fn instagram() -> Self {
        Platform::new("instagram")
    }
    pub fn unknown() -> Self {
        Platform::new("unknown")
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Platform {
    fn default() -> Self {
        Platform::unknown()
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Platform {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Platform::new(&String::deserialize(d)?))
    }
}

/// Whether an item is a moving video or a single screenshot (the paper's dataset is
/// screenshots).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    #[default]
    Video,
    Image,
}

/// One keyframe: the image a model sees and a larger copy for people, both by content hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Keyframe {
    /// The model-size JPEG (default 144x256, as in the paper): what judges are shown and what
    /// cache keys name.
    pub hash: ImageHash,
    /// A larger JPEG of the same frame for the viewer and reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<ImageHash>,
    /// Seconds into the video (absent for still images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_s: Option<f32>,
}

/// Everything scrollsim knows about one video. Stored as the point payload in Qdrant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Video {
    pub id: VideoId,
    #[serde(default)]
    pub platform: Platform,
    #[serde(default)]
    pub kind: MediaKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Post date (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posted: Option<NaiveDate>,
    #[serde(default)]
    pub caption: String,
    /// Hashtags without the leading `#`.
    #[serde(default)]
    pub hashtags: Vec<String>,
    /// The paper's topics: family, health, hobbies, society, technology, lifestyle (free text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// A description of the content (from metadata or a model), used in text embeddings and
    /// by the text-only ablation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f32>,
    /// Popularity signal (views) used by the `popular` policy and platform presets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub views: Option<u64>,
    /// Keyframes in display order, by hash into the image store.
    #[serde(default)]
    pub keyframes: Vec<Keyframe>,
    /// Relevance of the video to each value (cosine similarity to the value's keyword seeds).
    pub value_scores: PerValue<f32>,
    /// The values assigned to the video from its scores (see [`ValueLabeling`]): what
    /// "a video of value X" means in exposure and like-rate tables.
    #[serde(default)]
    pub values: Vec<Value>,
    /// Ground-truth value label from metadata, when a curator gave one (the fixtures do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Value>,
    /// The media file, relative to the ingest root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Who made the video and under what licence it may be used (metadata `source` and
    /// `licence`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// Where a video came from and on what terms it may be shown: what a researcher needs to cite
/// or clear the material a study showed. Kept in every trace step that shows the video.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Provenance {
    /// Who made it or where it was taken from: a creator, a dataset, an archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Its licence: an SPDX identifier (`CC-BY-3.0`, `CC0-1.0`) or the terms in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence: Option<String>,
}

impl Provenance {
    /// None when neither field is known (so records without provenance stay as they were).
    pub fn new(source: Option<String>, licence: Option<String>) -> Option<Provenance> {
        let clean = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let (source, licence) = (clean(source), clean(licence));
        (source.is_some() || licence.is_some()).then_some(Provenance { source, licence })
    }
}

impl Video {
    /// A video known by its id alone: every other field empty or unknown. Fill in what is
    /// known with `Video { caption, ..Video::new(id) }`.
    pub fn new(id: VideoId) -> Video {
        Video {
            id,
            platform: Platform::default(),
            kind: MediaKind::default(),
            url: None,
            posted: None,
            caption: String::new(),
            hashtags: Vec::new(),
            topic: None,
            description: None,
            duration_s: None,
            views: None,
            keyframes: Vec::new(),
            value_scores: PerValue::default(),
            values: Vec::new(),
            label: None,
            source: None,
            provenance: None,
        }
    }

    /// The text a text embedder sees for this video: caption, hashtags and description. One
    /// definition shared by ingest and the offline persona model.
    pub fn embedding_text(&self) -> String {
        let mut parts = Vec::new();
        if !self.caption.trim().is_empty() {
            parts.push(self.caption.trim().to_string());
        }
        if !self.hashtags.is_empty() {
            parts.push(
                self.hashtags
                    .iter()
                    .map(|h| format!("#{h}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        if let Some(d) = self.description.as_deref().filter(|d| !d.trim().is_empty()) {
            parts.push(d.trim().to_string());
        }
        parts.join("\n")
    }
}

/// How continuous value scores become value labels. The paper assigned "one or more" values by
/// keyword matching [A]; the cut-offs are ours [R] and live in config.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValueLabeling {
    /// At most this many labels per video.
    pub max_labels: usize,
    /// A value other than the top one is labelled when its score is at least this fraction of
    /// the top score.
    pub relative: f32,
}

impl Default for ValueLabeling {
    fn default() -> Self {
        ValueLabeling {
            max_labels: 2,
            relative: 0.9,
        }
    }
}

impl ValueLabeling {
    /// Labels in descending score order; the top value is always labelled.
    pub fn assign(&self, scores: &PerValue<f32>) -> Vec<Value> {
        let ranked = scores.ranked();
        let top = scores[ranked[0]];
        ranked
            .into_iter()
            .take(self.max_labels.max(1))
            .enumerate()
            .filter(|(i, v)| *i == 0 || (top > 0.0 && scores[*v] >= self.relative * top))
            .map(|(_, v)| v)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labeling_keeps_top_and_near_ties() {
        let mut s = PerValue::<f32>::default();
        s[Value::Hedonism] = 0.50;
        s[Value::Stimulation] = 0.46;
        s[Value::Power] = 0.30;
        let l = ValueLabeling::default();
        assert_eq!(l.assign(&s), vec![Value::Hedonism, Value::Stimulation]);
        let strict = ValueLabeling {
            max_labels: 3,
            relative: 0.95,
        };
        assert_eq!(strict.assign(&s), vec![Value::Hedonism]);
    }

    #[test]
    fn embedding_text_joins_fields() {
        let v: Video = serde_json::from_value(serde_json::json!({
            "id": "v1", "caption": "Beach day!", "hashtags": ["summer", "party"],
            "value_scores": PerValue::<f32>::default(),
        }))
        .unwrap();
        assert_eq!(v.embedding_text(), "Beach day!\n#summer #party");
        assert_eq!(v.platform, Platform::unknown());
    }
}
