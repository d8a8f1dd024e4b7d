//! A fresh embedded store for a test or a benchmark.

use std::sync::Arc;

use scrollsim_store::{
    open_store, CollectionSpec, StoreConfig, StoreError, VideoPoint, VideoStore,
};

/// A fresh embedded store (qdrant-edge under a new temporary directory, the default
/// collection) holding `points`, indexed. The directory lives as long as the returned guard.
pub async fn store_with(
    points: Vec<VideoPoint>,
) -> Result<(tempfile::TempDir, Arc<dyn VideoStore>), StoreError> {
    let dir = tempfile::tempdir().map_err(|e| StoreError::Embedded {
        path: std::env::temp_dir().display().to_string(),
        detail: e.to_string(),
    })?;
    let config = StoreConfig::default();
    let store = open_store(&config, dir.path()).await?;
    let text_dim = points.first().map_or(0, |p| p.text.len());
    let image_dim = points.first().and_then(|p| p.image.as_ref()).map(Vec::len);
    store
        .open_collection(&CollectionSpec {
            name: config.collection,
            text_dim,
            image_dim,
        })
        .await?;
    store.upsert(points).await?;
    store.wait_indexed().await?;
    Ok((dir, store))
}
