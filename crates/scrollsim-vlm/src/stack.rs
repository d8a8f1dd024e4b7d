//! Assembles one model's call stack from the layers (see [`crate::layers`] for the order and
//! why). One stack per configured model is shared by every judge that uses the model, so its
//! concurrency and rate limits hold across sessions.

use std::sync::Arc;
use std::time::Duration;

use tower::util::BoxCloneSyncService;
use tower::{BoxError, ServiceBuilder};

use crate::call::Call;
use crate::chat::{Answer, CallError};
use crate::config::{BudgetConfig, CacheMode, ModelConfig, RetryConfig};
use crate::layers::account::Account;
use crate::layers::budget::Budget;
use crate::layers::cache::Cache;
use crate::layers::rate::RateLimit;
use crate::layers::retry::RetryPolicy;
use crate::layers::Around;
use crate::ledger::Ledger;
use crate::provider::{wire_for, ApiKey, ClientError, HttpProvider};
use crate::recordings::CallCache;

/// A model's call stack, cloned per call.
pub type CallService = BoxCloneSyncService<Call, Answer, CallError>;

/// Everything a stack is built from.
pub struct StackConfig<'a> {
    /// The `[judge.models.<name>]` name (ledger tallies are kept under it).
    pub name: &'a str,
    pub model: &'a ModelConfig,
    pub key: Option<ApiKey>,
    pub cache: Option<Arc<CallCache>>,
    pub mode: CacheMode,
    pub budget: BudgetConfig,
    pub retry: RetryConfig,
    pub ledger: Ledger,
}

/// Builds the stack over the model's HTTP provider.
pub fn build_stack(cfg: StackConfig<'_>) -> Result<CallService, ClientError> {
    let timeout = Duration::from_secs_f64(cfg.model.limits.timeout_s);
    let client = HttpProvider::client(timeout.min(Duration::from_secs(30)))?;
    let http = HttpProvider::new(client, wire_for(cfg.model), cfg.key);
    let svc = ServiceBuilder::new()
        .layer(Around(Account {
            ledger: cfg.ledger.clone(),
            model: cfg.name.to_string(),
            prices: cfg.model.prices,
        }))
        .layer(Around(Cache::new(cfg.cache, cfg.mode)))
        .layer(Around(Budget {
            ledger: cfg.ledger,
            budget: cfg.budget,
            prices: cfg.model.prices,
        }))
        .concurrency_limit(cfg.model.limits.concurrency)
        .retry(RetryPolicy::new(cfg.retry))
        .layer(Around(RateLimit::new(
            cfg.model.limits.rpm,
            cfg.model.limits.tpm,
        )))
        .map_err(move |e: BoxError| timeout_error(e, timeout))
        .timeout(timeout)
        .service(http);
    Ok(BoxCloneSyncService::new(svc))
}

/// tower's timeout boxes errors: unbox ours, name the timeout.
fn timeout_error(e: BoxError, after: Duration) -> CallError {
    match e.downcast::<CallError>() {
        Ok(c) => *c,
        Err(e) if e.is::<tower::timeout::error::Elapsed>() => CallError::Timeout(after),
        Err(e) => CallError::Request(e.to_string()),
    }
}
