//! The OpenAI-compatible embedder against a local HTTP server speaking the `/v1/embeddings`
//! wire format; the server checks each request exactly and answers like the real API.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use scrollsim_embed::{
    build_text_embedder, EmbedError, Embedder, OpenAiEmbedder, OpenAiOptions, TextEmbedderConfig,
};
use serde_json::{json, Value};

#[derive(Default)]
struct Seen {
    requests: Vec<(Option<String>, Value)>,
}

type Shared = Arc<Mutex<Seen>>;

/// Answers with vector `[len(input_i), i + 1, 0, 2]` for input i, listed in reverse order (the
/// API gives an `index` for each; clients must not rely on order), like a recorded response.
async fn embeddings(
    State(seen): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let auth = headers
        .get("authorization")
        .map(|h| h.to_str().unwrap().to_string());
    seen.lock()
        .unwrap()
        .requests
        .push((auth.clone(), body.clone()));
    if auth.as_deref() != Some("Bearer sk-test-123") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(
                json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}),
            ),
        );
    }
    let inputs = body["input"].as_array().unwrap();
    let mut data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({"object": "embedding", "index": i,
                   "embedding": [t.as_str().unwrap().len() as f32, (i + 1) as f32, 0.0, 2.0]})
        })
        .collect();
    data.reverse();
    (
        StatusCode::OK,
        Json(
            json!({"object": "list", "data": data, "model": body["model"],
                    "usage": {"prompt_tokens": 8, "total_tokens": 8}}),
        ),
    )
}

async fn server() -> (String, Shared) {
    let seen: Shared = Arc::default();
    let app = Router::new()
        .route("/v1/embeddings", post(embeddings))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1/"), seen)
}

fn opts(base_url: &str, key_env: &str) -> OpenAiOptions {
    OpenAiOptions {
        base_url: base_url.into(),
        model: "text-embedding-3-small".into(),
        api_key_env: Some(key_env.into()),
        batch_size: 2,
        dim: Some(4),
        send_dimensions: false,
        timeout_s: 10.0,
    }
}

#[tokio::test]
async fn requests_are_exact_batched_and_answers_reordered_and_normalised() {
    let (url, seen) = server().await;
    std::env::set_var("SCROLLSIM_TEST_KEY_A", "sk-test-123");
    let e = OpenAiEmbedder::connect(&opts(&url, "SCROLLSIM_TEST_KEY_A"))
        .await
        .unwrap();
    let info = e.info();
    assert_eq!(
        (info.kind.as_str(), info.model.as_str(), info.dim),
        ("openai", "text-embedding-3-small", 4)
    );

    let texts: Vec<String> = ["beach", "party time", "x"].map(String::from).to_vec();
    let v = e.embed_texts(&texts).await.unwrap();

    let reqs = &seen.lock().unwrap().requests;
    assert_eq!(reqs.len(), 2, "batch_size 2: two requests for three texts");
    for (auth, _) in reqs.iter() {
        assert_eq!(auth.as_deref(), Some("Bearer sk-test-123"));
    }
    assert_eq!(
        reqs[0].1,
        json!({"model": "text-embedding-3-small", "input": ["beach", "party time"], "encoding_format": "float"})
    );
    assert_eq!(reqs[1].1["input"], json!(["x"]));

    // Input order restored from `index`, vectors normalised: [len, i+1, 0, 2] / norm.
    let expect = |len: f32, i: f32| {
        let n = (len * len + i * i + 4.0).sqrt();
        vec![len / n, i / n, 0.0, 2.0 / n]
    };
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
    assert!(close(&v[0], &expect(5.0, 1.0)), "{:?}", v[0]);
    assert!(close(&v[1], &expect(10.0, 2.0)), "{:?}", v[1]);
    assert!(close(&v[2], &expect(1.0, 1.0)), "{:?}", v[2]);
}

#[tokio::test]
async fn dimension_is_probed_when_not_configured() {
    let (url, seen) = server().await;
    std::env::set_var("SCROLLSIM_TEST_KEY_B", "sk-test-123");
    let cfg = TextEmbedderConfig::Openai(OpenAiOptions {
        dim: None,
        ..opts(&url, "SCROLLSIM_TEST_KEY_B")
    });
    let e = build_text_embedder(&cfg).await.unwrap();
    assert_eq!(e.info().dim, 4);
    assert_eq!(seen.lock().unwrap().requests.len(), 1, "one probe request");
}

#[tokio::test]
async fn errors_name_the_url_and_never_the_key() {
    let (url, _seen) = server().await;
    std::env::set_var("SCROLLSIM_TEST_KEY_C", "sk-wrong-456");
    let e = OpenAiEmbedder::connect(&opts(&url, "SCROLLSIM_TEST_KEY_C"))
        .await
        .unwrap();
    let err = e.embed_texts(&["a".to_string()]).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, EmbedError::Http { .. }), "{msg}");
    assert!(msg.contains(&format!("{url}embeddings")), "{msg}");
    assert!(
        msg.contains("401") && msg.contains("Incorrect API key"),
        "{msg}"
    );
    assert!(
        !msg.contains("sk-wrong-456"),
        "the key must never appear: {msg}"
    );
    assert!(
        !format!("{e:?}").contains("sk-wrong-456"),
        "nor in Debug output"
    );

    // Nothing listening: the error names the URL.
    let dead = "http://127.0.0.1:9/v1";
    let err = OpenAiEmbedder::connect(&OpenAiOptions {
        dim: None,
        api_key_env: None,
        ..opts(dead, "")
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("http://127.0.0.1:9/v1/embeddings"), "{err}");
}

#[tokio::test]
async fn a_missing_key_variable_is_named() {
    let err = OpenAiEmbedder::connect(&opts("http://127.0.0.1:9/v1", "SCROLLSIM_TEST_KEY_UNSET"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("SCROLLSIM_TEST_KEY_UNSET") && err.contains("not set"),
        "{err}"
    );
}

#[tokio::test]
async fn a_wrong_dimension_is_an_error() {
    let (url, _seen) = server().await;
    std::env::set_var("SCROLLSIM_TEST_KEY_D", "sk-test-123");
    let e = OpenAiEmbedder::connect(&OpenAiOptions {
        dim: Some(3),
        ..opts(&url, "SCROLLSIM_TEST_KEY_D")
    })
    .await
    .unwrap();
    let err = e.embed_texts(&["a".to_string()]).await.unwrap_err();
    assert!(
        matches!(
            err,
            EmbedError::Dimension {
                expected: 3,
                got: 4,
                ..
            }
        ),
        "{err}"
    );
}
