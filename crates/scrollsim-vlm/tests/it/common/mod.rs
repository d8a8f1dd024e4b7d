//! Shared test fixtures: a local HTTP server that records every request and answers from a
//! script (speaking whichever provider's format the test writes), real JPEG keyframes in a
//! real image store, and judge configs pointing at the server.
#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use scrollsim_core::{Decision, ImageHash, Persona, Video};
use scrollsim_media::ImageStore;
use scrollsim_vlm::{
    build_judge, Judge, JudgeConfig, JudgeEnv, JudgeRequest, JudgeSpec, ParserKind, ProbeOptions,
    StrategyKind, StudyPlan,
};

/// A study of `models` x `strategies` with persona arms and/or the control arm, probed with the
/// default options.
pub fn study_plan<'a>(
    models: &'a [String],
    strategies: &'a [StrategyKind],
    personas: bool,
    control: bool,
) -> StudyPlan<'a> {
    StudyPlan {
        models,
        strategies,
        personas,
        control,
        probe: ProbeOptions::default(),
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Seen {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }
}

/// A scripted reply.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    pub fn ok(body: serde_json::Value) -> Reply {
        Reply {
            status: 200,
            headers: vec![],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }
    pub fn status(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }
    pub fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn delayed(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }
}

type Script = dyn Fn(usize, &Seen) -> Reply + Send + Sync;

struct State {
    seen: Mutex<Vec<Seen>>,
    count: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    script: Box<Script>,
}

/// A local HTTP server answering every path from a script `(request index, request) -> reply`.
#[derive(Clone)]
pub struct MockServer {
    pub url: String,
    state: Arc<State>,
}

impl MockServer {
    pub async fn start(
        script: impl Fn(usize, &Seen) -> Reply + Send + Sync + 'static,
    ) -> MockServer {
        let state = Arc::new(State {
            seen: Mutex::new(Vec::new()),
            count: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            script: Box::new(script),
        });
        let st = state.clone();
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let st = st.clone();
                async move { handle(st, method, uri, headers, body).await }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        MockServer {
            url: format!("http://{addr}"),
            state,
        }
    }

    /// Requests received so far.
    pub fn count(&self) -> usize {
        self.state.count.load(Ordering::SeqCst)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }
}

async fn handle(
    st: Arc<State>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let seen = Seen {
        method,
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        headers,
        body,
    };
    let i = st.count.fetch_add(1, Ordering::SeqCst);
    let now = st.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    st.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let reply = (st.script)(i, &seen);
    st.seen.lock().unwrap().push(seen);
    tokio::time::sleep(reply.delay).await;
    st.in_flight.fetch_sub(1, Ordering::SeqCst);
    let mut resp = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    resp.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    for (k, v) in reply.headers {
        resp.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    resp
}

/// `n` distinct real JPEG keyframes (144x256, the paper's model size) in an image store.
pub fn keyframes(dir: &Path, n: usize) -> (Arc<ImageStore>, Vec<(ImageHash, Vec<u8>)>) {
    let store = ImageStore::open(&dir.join("images")).unwrap();
    let frames = (0..n)
        .map(|i| {
            let img = image::RgbImage::from_fn(144, 256, |x, y| {
                image::Rgb([
                    (x as usize * 3 + i * 40) as u8,
                    (y as usize + i * 17) as u8,
                    (i * 60) as u8,
                ])
            });
            let mut jpeg = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80)
                .encode_image(&img)
                .unwrap();
            let hash = store.put(&jpeg).unwrap();
            (hash, jpeg)
        })
        .collect();
    (Arc::new(store), frames)
}

pub fn video(id: &str, frames: &[(ImageHash, Vec<u8>)]) -> Video {
    serde_json::from_value(serde_json::json!({
        "id": id,
        "caption": format!("clip {id}"),
        "value_scores": scrollsim_core::PerValue::<f32>::default(),
        "keyframes": frames.iter().map(|(h, _)| serde_json::json!({"hash": h})).collect::<Vec<_>>(),
    }))
    .unwrap()
}

pub fn persona() -> Persona {
    toml::from_str(
        r#"
        id = "partygoer"
        name = "Weekend partygoer"
        traits = ["I never miss a music festival.", "I have three cats."]
        weights = { HE = 0.9, ST = 0.6 }
        "#,
    )
    .unwrap()
}

/// The repository's prompt templates.
pub fn prompt_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/prompts")
}

pub fn env(dir: &Path, store: Arc<ImageStore>) -> JudgeEnv {
    JudgeEnv::new(dir.join("cache/calls.redb"), prompt_dir()).with_images(store)
}

/// A `[judge]` config with one model `m` at the server, fast retries, from TOML `extra`
/// appended to the model table.
pub fn config(provider: &str, base_url: &str, cache: &str, extra: &str) -> JudgeConfig {
    let text = format!(
        r#"
        default_model = "m"
        cache = "{cache}"
        [retry]
        max_retries = 3
        base_delay_ms = 10
        max_delay_ms = 50
        [models.m]
        provider = "{provider}"
        base_url = "{base_url}"
        {extra}
        "#
    );
    let cfg: JudgeConfig = toml::from_str(&text).unwrap();
    cfg.validate().unwrap();
    cfg
}

/// What a judge is built in, as a session has it: `n` real keyframes in an image store under a
/// temporary directory (removed when the rig is dropped) and the environment over them.
pub struct Rig {
    pub dir: tempfile::TempDir,
    pub frames: Vec<(ImageHash, Vec<u8>)>,
    pub env: JudgeEnv,
}

impl Rig {
    pub fn new(n: usize) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let (store, frames) = keyframes(dir.path(), n);
        let env = env(dir.path(), store);
        Rig { dir, frames, env }
    }

    /// The judge of `cfg`'s model `m`; a build error fails the test.
    pub fn judge(
        &self,
        cfg: &JudgeConfig,
        strategy: StrategyKind,
        parser: ParserKind,
    ) -> Arc<dyn Judge> {
        build_judge(cfg, &spec(strategy, parser), &self.env).unwrap()
    }

    /// A video showing every keyframe of the rig.
    pub fn video(&self, id: &str) -> Video {
        video(id, &self.frames)
    }
}

/// A judge of the test config's model `m`.
pub fn spec(strategy: StrategyKind, parser: ParserKind) -> JudgeSpec {
    JudgeSpec {
        model: "m".into(),
        strategy,
        parser,
    }
}

/// One decision, asked as a session asks (no text vector); a judge error fails the test.
pub async fn decide(
    judge: &dyn Judge,
    persona: Option<&Persona>,
    video: &Video,
    seed: u64,
) -> Decision {
    judge
        .decide(&JudgeRequest {
            persona,
            video,
            text_vector: None,
            seed,
        })
        .await
        .unwrap()
}

/// The base URL a provider's config gives for the server: OpenAI's includes the version.
pub fn base_url(provider: &str, server: &MockServer) -> String {
    match provider {
        "openai" => format!("{}/v1", server.url),
        _ => server.url.clone(),
    }
}

/// A live (uncached) `[judge]` config whose model `m` speaks `provider`'s format to the
/// server, with TOML `extra` (which names the provider's model) in the model table.
pub fn live(provider: &str, server: &MockServer, extra: &str) -> JudgeConfig {
    config(provider, &base_url(provider, server), "live", extra)
}

/// A live `[judge]` config whose model `m` is `model` at the server's OpenAI-compatible `/v1`.
pub fn openai_live(server: &MockServer, model: &str) -> JudgeConfig {
    live("openai", server, &format!("model = \"{model}\""))
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Recorded-style success bodies in each provider's format.
pub fn openai_ok(text: &str) -> serde_json::Value {
    serde_json::json!({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1720000000, "model": "gpt-test-2024",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": null}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 412, "completion_tokens": 17, "total_tokens": 429}
    })
}

/// An OpenAI-compatible server's reply (as llama-cpp-python's) counting `prompt_tokens`.
pub fn openai_reply(text: &str, prompt_tokens: u64) -> Reply {
    Reply::ok(serde_json::json!({
        "id": "chatcmpl-x", "object": "chat.completion", "created": 1, "model": "gemma-3-270m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 20, "total_tokens": prompt_tokens + 20}
    }))
}

pub fn anthropic_ok(text: &str) -> serde_json::Value {
    serde_json::json!({
        "id": "msg_test", "type": "message", "role": "assistant", "model": "claude-test",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 512, "output_tokens": 21}
    })
}

pub fn gemini_ok(text: &str) -> serde_json::Value {
    serde_json::json!({
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 1100, "candidatesTokenCount": 12, "totalTokenCount": 1112},
        "modelVersion": "gemini-test-001"
    })
}

pub fn ok_for(provider: &str, text: &str) -> serde_json::Value {
    match provider {
        "openai" => openai_ok(text),
        "anthropic" => anthropic_ok(text),
        "gemini" => gemini_ok(text),
        p => panic!("unknown provider {p}"),
    }
}
