//! The circuit breaker against a local gRPC endpoint that goes away: once a call has given up
//! on the server, the store reports the outage (naming the URL) and later calls fail at once
//! without reaching the network; when the server is back, the next probe closes the breaker.
//! The endpoint speaks Qdrant's wire format for the two calls used here (health check and
//! collection exists); the real server is exercised by `real_server_outage` when
//! `QDRANT_URL` is set.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use ::qdrant_client::qdrant as q;
use ::qdrant_client::qdrant::collections_server::{Collections, CollectionsServer};
use ::qdrant_client::qdrant::qdrant_server::{Qdrant as QdrantService, QdrantServer};
use scrollsim_store::{open_store, Backend, StoreConfig, StoreError, VideoStore};
use tokio::sync::oneshot;
use tonic::{Request, Response, Status};

/// Answers the health check and says no collection exists; counts every call.
#[derive(Clone)]
struct StandIn {
    calls: Arc<AtomicU32>,
}

#[tonic::async_trait]
impl QdrantService for StandIn {
    async fn health_check(
        &self,
        _: Request<q::HealthCheckRequest>,
    ) -> Result<Response<q::HealthCheckReply>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(q::HealthCheckReply {
            title: "qdrant".into(),
            version: "1.18.3".into(),
            commit: None,
        }))
    }
}

#[tonic::async_trait]
impl Collections for StandIn {
    async fn collection_exists(
        &self,
        _: Request<q::CollectionExistsRequest>,
    ) -> Result<Response<q::CollectionExistsResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(q::CollectionExistsResponse {
            result: Some(q::CollectionExists { exists: false }),
            time: 0.0,
        }))
    }
    async fn get(
        &self,
        _: Request<q::GetCollectionInfoRequest>,
    ) -> Result<Response<q::GetCollectionInfoResponse>, Status> {
        Err(Status::unimplemented("get"))
    }
    async fn list(
        &self,
        _: Request<q::ListCollectionsRequest>,
    ) -> Result<Response<q::ListCollectionsResponse>, Status> {
        Err(Status::unimplemented("list"))
    }
    async fn create(
        &self,
        _: Request<q::CreateCollection>,
    ) -> Result<Response<q::CollectionOperationResponse>, Status> {
        Err(Status::unimplemented("create"))
    }
    async fn update(
        &self,
        _: Request<q::UpdateCollection>,
    ) -> Result<Response<q::CollectionOperationResponse>, Status> {
        Err(Status::unimplemented("update"))
    }
    async fn delete(
        &self,
        _: Request<q::DeleteCollection>,
    ) -> Result<Response<q::CollectionOperationResponse>, Status> {
        Err(Status::unimplemented("delete"))
    }
    async fn update_aliases(
        &self,
        _: Request<q::ChangeAliases>,
    ) -> Result<Response<q::CollectionOperationResponse>, Status> {
        Err(Status::unimplemented("update_aliases"))
    }
    async fn list_collection_aliases(
        &self,
        _: Request<q::ListCollectionAliasesRequest>,
    ) -> Result<Response<q::ListAliasesResponse>, Status> {
        Err(Status::unimplemented("list_collection_aliases"))
    }
    async fn list_aliases(
        &self,
        _: Request<q::ListAliasesRequest>,
    ) -> Result<Response<q::ListAliasesResponse>, Status> {
        Err(Status::unimplemented("list_aliases"))
    }
    async fn collection_cluster_info(
        &self,
        _: Request<q::CollectionClusterInfoRequest>,
    ) -> Result<Response<q::CollectionClusterInfoResponse>, Status> {
        Err(Status::unimplemented("collection_cluster_info"))
    }
    async fn update_collection_cluster_setup(
        &self,
        _: Request<q::UpdateCollectionClusterSetupRequest>,
    ) -> Result<Response<q::UpdateCollectionClusterSetupResponse>, Status> {
        Err(Status::unimplemented("update_collection_cluster_setup"))
    }
    async fn create_shard_key(
        &self,
        _: Request<q::CreateShardKeyRequest>,
    ) -> Result<Response<q::CreateShardKeyResponse>, Status> {
        Err(Status::unimplemented("create_shard_key"))
    }
    async fn delete_shard_key(
        &self,
        _: Request<q::DeleteShardKeyRequest>,
    ) -> Result<Response<q::DeleteShardKeyResponse>, Status> {
        Err(Status::unimplemented("delete_shard_key"))
    }
    async fn list_shard_keys(
        &self,
        _: Request<q::ListShardKeysRequest>,
    ) -> Result<Response<q::ListShardKeysResponse>, Status> {
        Err(Status::unimplemented("list_shard_keys"))
    }
}

/// A running stand-in; dropping `stop` (or sending on it) takes it away.
struct Server {
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(addr: SocketAddr, s: StandIn) -> Server {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let (stop, rx) = oneshot::channel::<()>();
        let done = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(QdrantServer::new(s.clone()))
                .add_service(CollectionsServer::new(s))
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    async {
                        let _ = rx.await;
                    },
                )
                .await
                .unwrap();
        });
        Server { stop, done }
    }

    /// Stops accepting and closes every connection.
    async fn go_away(self) {
        let _ = self.stop.send(());
        self.done.await.unwrap();
    }
}

/// The stand-in server on `addr`, counting the calls that reach it in `calls`.
async fn stand_in(addr: SocketAddr, calls: &Arc<AtomicU32>) -> Server {
    Server::start(
        addr,
        StandIn {
            calls: calls.clone(),
        },
    )
    .await
}

fn config(url: &str, cooldown_s: f64) -> StoreConfig {
    StoreConfig {
        backend: Backend::Server,
        url: url.into(),
        timeout_s: 0.5,
        retries: 2,
        retry_base_ms: 5,
        breaker_cooldown_s: cooldown_s,
        ..Default::default()
    }
}

async fn free_addr() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

async fn exists(store: &dyn VideoStore) -> Result<(), StoreError> {
    // Opening an existing collection by name asks the server whether it exists.
    store
        .open_collection(&scrollsim_store::CollectionSpec {
            name: "gone".into(),
            text_dim: 4,
            image_dim: None,
        })
        .await
}

#[tokio::test]
async fn a_server_that_goes_away_opens_the_breaker_and_later_calls_fail_at_once() {
    let addr = free_addr().await;
    let url = format!("http://{addr}");
    let calls = Arc::new(AtomicU32::new(0));
    let server = stand_in(addr, &calls).await;
    let store = open_store(&config(&url, 3600.0), std::path::Path::new("unused"))
        .await
        .unwrap();
    assert!(store.outage().is_none());

    server.go_away().await;
    let first = exists(store.as_ref()).await.unwrap_err();
    assert!(
        matches!(&first, StoreError::Unreachable { url: u, .. } if *u == url),
        "{first:?}"
    );
    let outage = store.outage().expect("the breaker is open");
    assert_eq!(outage.url, url);
    assert!(outage.to_string().contains(&url), "{outage}");

    // Back on the same address: a call now is refused by the breaker without reaching it.
    let before = calls.load(Ordering::SeqCst);
    let back = stand_in(addr, &calls).await;
    let second = exists(store.as_ref()).await.unwrap_err();
    assert!(
        matches!(&second, StoreError::Down { url: u, .. } if *u == url),
        "{second:?}"
    );
    assert!(second.to_string().contains(&url), "{second}");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        before,
        "no call reached the server"
    );
    back.go_away().await;
}

#[tokio::test]
async fn the_breaker_closes_when_a_probe_finds_the_server_back() {
    let addr = free_addr().await;
    let url = format!("http://{addr}");
    let calls = Arc::new(AtomicU32::new(0));
    let server = stand_in(addr, &calls).await;
    // Cooldown zero: every call while open is a probe.
    let store = open_store(&config(&url, 0.0), std::path::Path::new("unused"))
        .await
        .unwrap();
    server.go_away().await;
    assert!(exists(store.as_ref()).await.is_err());
    assert!(store.outage().is_some());

    let back = stand_in(addr, &calls).await;
    let before = calls.load(Ordering::SeqCst);
    // The probe reaches the server (collection_exists answers; creating it is not served here).
    let err = exists(store.as_ref()).await.unwrap_err();
    assert!(
        calls.load(Ordering::SeqCst) > before,
        "the probe reached the server"
    );
    assert!(!matches!(err, StoreError::Down { .. }), "{err:?}");
    assert!(store.outage().is_none(), "an answer closes the breaker");
    back.go_away().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_server_outage_when_qdrant_url_is_set() {
    let Ok(url) = std::env::var("QDRANT_URL") else {
        println!("skipped: QDRANT_URL not set (a real Qdrant server to cut off behind a proxy)");
        return;
    };
    let mut proxy = scrollsim_testkit::CutProxy::start(&url).await.unwrap();
    let via = proxy.url();
    let name = format!("scrollsim_breaker_{}", std::process::id());
    let cfg = StoreConfig {
        collection: name.clone(),
        api_key_env: std::env::var("QDRANT_API_KEY")
            .ok()
            .map(|_| "QDRANT_API_KEY".to_string()),
        ..config(&via, 0.0)
    };
    let store = open_store(&cfg, std::path::Path::new("unused"))
        .await
        .unwrap();
    let spec = scrollsim_store::CollectionSpec {
        name: name.clone(),
        text_dim: 4,
        image_dim: None,
    };
    store.open_collection(&spec).await.unwrap();
    let filter = scrollsim_store::Filter::default();
    assert_eq!(store.count(&filter).await.unwrap(), 0);

    proxy.cut().await;
    let err = store.count(&filter).await.unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::Unreachable { .. } | StoreError::Timeout { .. }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(&via), "{err}");
    let outage = store.outage().expect("the breaker is open");
    assert_eq!(outage.url, via);

    proxy.restore().await.unwrap();
    assert_eq!(
        store.count(&filter).await.unwrap(),
        0,
        "the probe finds it back"
    );
    assert!(store.outage().is_none());

    // Leave the user's server as we found it.
    scrollsim_testkit::drop_server_collection(&url, &name)
        .await
        .unwrap();
    proxy.cut().await;
}
