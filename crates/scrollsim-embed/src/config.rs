//! The `[embedder]` config section and the builders that turn it into embedders.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{
    blocking, ClipEmbedder, EmbedError, Embedder, MiniLmEmbedder, OpenAiEmbedder, Result,
    ValueScoring, MINILM_DEFAULT_PATH,
};

/// `[embedder]`: which model embeds video text, which (if any) embeds keyframes, and how value
/// scores are computed from the vectors.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedderConfig {
    #[serde(default)]
    pub text: TextEmbedderConfig,
    #[serde(default)]
    pub image: ImageEmbedderConfig,
    #[serde(default)]
    pub value_scores: ValueScoring,
}

/// `[embedder.text]`, chosen by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TextEmbedderConfig {
    /// all-MiniLM-L6-v2 with candle (384 dimensions). The default.
    Minilm(MiniLmOptions),
    /// CLIP's text tower (the same space as its image vectors).
    Clip(ClipOptions),
    /// Any OpenAI-compatible `/v1/embeddings` endpoint.
    Openai(OpenAiOptions),
}

impl Default for TextEmbedderConfig {
    fn default() -> Self {
        TextEmbedderConfig::Minilm(MiniLmOptions::default())
    }
}

/// `[embedder.image]`, chosen by `kind`: `none` (the default: no image vectors) or `clip`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImageEmbedderConfig {
    #[default]
    None,
    Clip(ClipOptions),
}

/// all-MiniLM-L6-v2 from a local directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MiniLmOptions {
    /// Directory with config.json, model.safetensors and tokenizer.json.
    #[serde(default = "default_minilm_path")]
    pub path: PathBuf,
    /// Texts per forward pass.
    #[serde(default = "default_text_batch")]
    pub batch_size: usize,
    /// Longer texts are truncated (the model was trained with 256).
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
    /// Which engine runs the network; both give the same vectors.
    #[serde(default)]
    pub runtime: MiniLmRuntime,
    /// ONNX Runtime's shared library. Unset: `$ORT_DYLIB_PATH`, else
    /// `onnxruntime/libonnxruntime.so` beside the model directory (where scripts/setup.sh
    /// puts it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onnxruntime: Option<PathBuf>,
}

impl Default for MiniLmOptions {
    fn default() -> Self {
        MiniLmOptions {
            path: default_minilm_path(),
            batch_size: default_text_batch(),
            max_tokens: default_max_tokens(),
            runtime: MiniLmRuntime::default(),
            onnxruntime: None,
        }
    }
}

/// `[embedder.text] runtime` for all-MiniLM-L6-v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MiniLmRuntime {
    /// ONNX Runtime when its library and `model.onnx` are installed, else candle (with a
    /// warning that says why).
    #[default]
    Auto,
    /// ONNX Runtime, or an error at start-up.
    Onnx,
    /// The candle encoder (no native library).
    Candle,
}

/// CLIP from a local directory in Hugging Face layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipOptions {
    /// Directory with config.json, model.safetensors and tokenizer.json (for example the files
    /// of openai/clip-vit-base-patch32). No model hub is reached: the files must be there.
    pub path: PathBuf,
    /// Images or texts per forward pass.
    #[serde(default = "default_clip_batch")]
    pub batch_size: usize,
}

/// An OpenAI-compatible embeddings endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiOptions {
    /// Base URL up to and including `/v1`; requests go to `<base_url>/embeddings`.
    pub base_url: String,
    pub model: String,
    /// NAME of the environment variable holding the API key (never the key itself). Unset for
    /// endpoints without authentication.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Texts per request.
    #[serde(default = "default_openai_batch")]
    pub batch_size: usize,
    /// Output dimension. When unset it is learnt from one probe request at start-up. Sent as
    /// `dimensions` only when `send_dimensions` is true (models that can shorten vectors).
    #[serde(default)]
    pub dim: Option<usize>,
    #[serde(default)]
    pub send_dimensions: bool,
    /// Per-request timeout in seconds.
    #[serde(default = "default_timeout_s")]
    pub timeout_s: f64,
}

fn default_minilm_path() -> PathBuf {
    MINILM_DEFAULT_PATH.into()
}
fn default_text_batch() -> usize {
    32
}
fn default_max_tokens() -> usize {
    256
}
fn default_clip_batch() -> usize {
    16
}
fn default_openai_batch() -> usize {
    64
}
fn default_timeout_s() -> f64 {
    60.0
}

/// The embedders a run uses: text always, image when configured.
#[derive(Clone)]
pub struct Embedders {
    pub text: Arc<dyn Embedder>,
    pub image: Option<Arc<dyn Embedder>>,
}

/// Builds the text embedder. Local models load on a blocking thread; an OpenAI-compatible
/// endpoint without a configured `dim` is probed once.
pub async fn build_text_embedder(cfg: &TextEmbedderConfig) -> Result<Arc<dyn Embedder>> {
    Ok(match cfg {
        TextEmbedderConfig::Minilm(o) => {
            let o = o.clone();
            Arc::new(blocking(move || MiniLmEmbedder::load(&o)).await?)
        }
        TextEmbedderConfig::Clip(o) => {
            let o = o.clone();
            Arc::new(blocking(move || ClipEmbedder::load(&o)).await?)
        }
        TextEmbedderConfig::Openai(o) => Arc::new(OpenAiEmbedder::connect(o).await?),
    })
}

/// Builds the image embedder, or `None` when `kind = "none"`.
pub async fn build_image_embedder(cfg: &ImageEmbedderConfig) -> Result<Option<Arc<dyn Embedder>>> {
    match cfg {
        ImageEmbedderConfig::None => Ok(None),
        ImageEmbedderConfig::Clip(o) => {
            let o = o.clone();
            let e: Arc<dyn Embedder> = Arc::new(blocking(move || ClipEmbedder::load(&o)).await?);
            Ok(Some(e))
        }
    }
}

/// Builds both; when text and image are the same CLIP checkpoint it is loaded once.
pub async fn build_embedders(cfg: &EmbedderConfig) -> Result<Embedders> {
    let image = build_image_embedder(&cfg.image).await?;
    let text = match (&cfg.text, &cfg.image, &image) {
        (TextEmbedderConfig::Clip(t), ImageEmbedderConfig::Clip(i), Some(shared)) if t == i => {
            shared.clone()
        }
        _ => build_text_embedder(&cfg.text).await?,
    };
    if let Some(img) = &image {
        if !img.info().images {
            return Err(EmbedError::Config {
                key: "embedder.image.kind".into(),
                detail: format!("{} does not embed images", img.info().kind),
            });
        }
    }
    Ok(Embedders { text, image })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_kinds_parse() {
        let c: EmbedderConfig = toml::from_str("").unwrap();
        assert_eq!(c.text, TextEmbedderConfig::Minilm(MiniLmOptions::default()));
        assert_eq!(c.image, ImageEmbedderConfig::None);
        let c: EmbedderConfig = toml::from_str(
            r#"
            [text]
            kind = "openai"
            base_url = "http://localhost:8000/v1"
            model = "bge-small"
            api_key_env = "EMBED_KEY"
            [image]
            kind = "clip"
            path = "models/clip"
            "#,
        )
        .unwrap();
        match &c.text {
            TextEmbedderConfig::Openai(o) => {
                assert_eq!(o.api_key_env.as_deref(), Some("EMBED_KEY"));
                assert_eq!(o.batch_size, 64);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(c.image, ImageEmbedderConfig::Clip(ref o) if o.batch_size == 16));
        let c: EmbedderConfig = toml::from_str(
            "[text]\nkind = \"minilm\"\nruntime = \"candle\"\nonnxruntime = \"/opt/ort.so\"",
        )
        .unwrap();
        match &c.text {
            TextEmbedderConfig::Minilm(o) => {
                assert_eq!(o.runtime, MiniLmRuntime::Candle);
                assert_eq!(o.onnxruntime.as_deref(), Some("/opt/ort.so".as_ref()));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(MiniLmOptions::default().runtime, MiniLmRuntime::Auto);
    }

    #[test]
    fn unknown_keys_and_kinds_are_errors() {
        let e = toml::from_str::<EmbedderConfig>("[text]\nkind = \"minilm\"\npaht = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("paht"), "{e}");
        let e = toml::from_str::<EmbedderConfig>("[image]\nkind = \"dalle\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("dalle"), "{e}");
        let e = toml::from_str::<EmbedderConfig>("[text]\nkind = \"minilm\"\nruntime = \"tvm\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("tvm"), "{e}");
        let e = toml::from_str::<EmbedderConfig>("[txt]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("txt"), "{e}");
    }
}
