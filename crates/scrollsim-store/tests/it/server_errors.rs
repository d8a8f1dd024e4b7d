//! How the server backend fails: against a local gRPC endpoint that speaks Qdrant's health
//! check (the wire format only; the real server is exercised by the conformance suite when
//! `QDRANT_URL` is set). Every error must name the URL; transient failures are retried.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use qdrant_client::qdrant::qdrant_server::{Qdrant as QdrantService, QdrantServer};
use qdrant_client::qdrant::{HealthCheckReply, HealthCheckRequest};
use scrollsim_store::{open_store, Backend, StoreConfig, StoreError};
use tonic::{Request, Response, Status};

/// Answers health checks: fails with Unavailable `failures` times, sleeps `delay`, then
/// reports `version`.
struct Health {
    version: &'static str,
    delay: Duration,
    failures: u32,
    calls: Arc<AtomicU32>,
}

#[tonic::async_trait]
impl QdrantService for Health {
    async fn health_check(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckReply>, Status> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if n < self.failures {
            return Err(Status::unavailable("warming up"));
        }
        tokio::time::sleep(self.delay).await;
        Ok(Response::new(HealthCheckReply {
            title: "qdrant".into(),
            version: self.version.into(),
            commit: None,
        }))
    }
}

/// Serves `health` on a free loopback port; returns its URL.
async fn serve(health: Health) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(QdrantServer::new(health))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    url
}

fn config(url: &str) -> StoreConfig {
    StoreConfig {
        backend: Backend::Server,
        url: url.into(),
        timeout_s: 0.5,
        retries: 3,
        retry_base_ms: 5,
        ..Default::default()
    }
}

fn health(version: &'static str, delay_ms: u64, failures: u32) -> (Health, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    (
        Health {
            version,
            delay: Duration::from_millis(delay_ms),
            failures,
            calls: calls.clone(),
        },
        calls,
    )
}

async fn open_err(cfg: &StoreConfig) -> StoreError {
    match open_store(cfg, std::path::Path::new("unused")).await {
        Err(e) => e,
        Ok(_) => panic!("store opened"),
    }
}

#[tokio::test]
async fn an_old_server_version_is_refused_naming_the_url() {
    let (h, _) = health("1.3.0", 0, 0);
    let url = serve(h).await;
    let err = open_err(&config(&url)).await;
    assert!(
        matches!(&err, StoreError::Version { server, .. } if server == "1.3.0"),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&url) && msg.contains("1.3.0") && msg.contains(">= 1.12"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_slow_server_times_out_naming_the_url_after_retrying() {
    let (h, calls) = health("1.13.0", 5_000, 0);
    let url = serve(h).await;
    let cfg = StoreConfig {
        retries: 1,
        ..config(&url)
    };
    let err = open_err(&cfg).await;
    assert!(
        matches!(&err, StoreError::Timeout { op, .. } if op == "health check"),
        "{err:?}"
    );
    assert!(err.to_string().contains(&url), "{err}");
    // A timeout is transient: 1 attempt + 1 retry, and qdrant-client itself reconnects once
    // per attempt on a cancelled call.
    assert_eq!(calls.load(Ordering::SeqCst), 2 * 2);
}

#[tokio::test]
async fn unavailable_is_retried_with_backoff_until_the_server_answers() {
    let (h, calls) = health("1.13.0", 0, 2);
    let url = serve(h).await;
    // The collection does not exist on this stand-in, so opening stops after the health check
    // with an error from the collections service: proof that the health check passed.
    let err = open_err(&config(&url)).await;
    // Attempt 1 meets both failures (qdrant-client reconnects once itself); our retry succeeds.
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "two Unavailable answers, then success"
    );
    assert!(
        !matches!(
            err,
            StoreError::Version { .. } | StoreError::Unreachable { .. }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(&url), "{err}");
}

#[tokio::test]
async fn a_server_that_stays_unavailable_is_unreachable_after_the_retry_budget() {
    let (h, calls) = health("1.13.0", 0, u32::MAX);
    let url = serve(h).await;
    let err = open_err(&config(&url)).await;
    assert!(
        matches!(&err, StoreError::Unreachable { url: u, .. } if *u == url),
        "{err:?}"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2 * 4,
        "1 attempt + 3 retries, each reconnecting once"
    );
}
