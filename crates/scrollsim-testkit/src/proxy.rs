//! A loopback TCP proxy that can be cut and restored on the same port: a real server "goes
//! away" for the clients behind the proxy, and comes back, without anyone stopping it (outage
//! tests against a user's server).

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Forwards every connection to `upstream` until [`CutProxy::cut`].
pub struct CutProxy {
    addr: SocketAddr,
    upstream: String,
    task: Option<JoinHandle<()>>,
}

impl CutProxy {
    /// Listens on a free loopback port and forwards to `upstream`, a `host:port` or a URL
    /// (`http://host:port`).
    pub async fn start(upstream: &str) -> std::io::Result<CutProxy> {
        let upstream = upstream
            .split("://")
            .nth(1)
            .unwrap_or(upstream)
            .trim_end_matches('/')
            .to_string();
        let addr = TcpListener::bind("127.0.0.1:0").await?.local_addr()?;
        let mut proxy = CutProxy {
            addr,
            upstream,
            task: None,
        };
        proxy.restore().await?;
        Ok(proxy)
    }

    /// `http://127.0.0.1:<port>`: what clients connect to instead of the upstream.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Forwards again, on the same port.
    pub async fn restore(&mut self) -> std::io::Result<()> {
        self.cut().await;
        let listener = TcpListener::bind(self.addr).await?;
        let upstream = self.upstream.clone();
        self.task = Some(tokio::spawn(async move {
            // Dropped with the task: cutting closes every connection, not only the listener.
            let mut conns = JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                conns.spawn(async move {
                    if let Ok(mut out) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
            }
        }));
        Ok(())
    }

    /// Closes the listener and every open connection: connecting is refused until `restore`.
    pub async fn cut(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Deletes a collection a test made on a user's Qdrant server (gRPC `url`; the key from
/// `QDRANT_API_KEY` when set), so the server is left as the test found it.
pub async fn drop_server_collection(
    url: &str,
    name: &str,
) -> Result<(), qdrant_client::QdrantError> {
    let mut client = qdrant_client::Qdrant::from_url(url).skip_compatibility_check();
    if let Ok(key) = std::env::var("QDRANT_API_KEY") {
        client = client.api_key(key);
    }
    client.build()?.delete_collection(name).await?;
    Ok(())
}
