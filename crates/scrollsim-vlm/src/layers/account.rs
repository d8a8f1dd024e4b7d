//! Books every call that leaves the stack into the shared [`Ledger`]: live calls with their
//! tokens and cost, cache hits, errors.

use tower::{Service, ServiceExt};

use super::{AroundCall, BoxFut};
use crate::call::Call;
use crate::chat::{Answer, CallError};
use crate::config::Prices;
use crate::ledger::{Ledger, ModelTally};

#[derive(Clone)]
pub struct Account {
    ledger: Ledger,
    model: String,
    prices: Option<Prices>,
}

impl Account {
    /// `model` is the config name the tallies are kept under.
    pub fn new(ledger: Ledger, model: String, prices: Option<Prices>) -> Self {
        Account {
            ledger,
            model,
            prices,
        }
    }
}

impl AroundCall for Account {
    fn around<S>(self, call: Call, inner: S) -> BoxFut<Result<Answer, CallError>>
    where
        S: Service<Call, Response = Answer, Error = CallError> + Send + 'static,
        S::Future: Send,
    {
        let cfg = self;
        Box::pin(async move {
            let result = inner.oneshot(call).await;
            let delta = match &result {
                Ok(a) if a.cached => ModelTally {
                    cached: 1,
                    ..Default::default()
                },
                Ok(a) => {
                    let u = a.response.usage;
                    ModelTally {
                        calls: 1,
                        prompt_tokens: u.prompt_tokens,
                        completion_tokens: u.completion_tokens,
                        cost_usd: cfg
                            .prices
                            .map_or(0.0, |p| p.cost(u.prompt_tokens, u.completion_tokens)),
                        ..Default::default()
                    }
                }
                Err(CallError::Recorded(_)) => ModelTally {
                    cached: 1,
                    errors: 1,
                    ..Default::default()
                },
                Err(e) if e.is_recordable() => ModelTally {
                    calls: 1,
                    errors: 1,
                    ..Default::default()
                },
                // Refused before reaching the provider (budget, replay miss, cache failure).
                Err(_) => ModelTally::default(),
            };
            cfg.ledger.record(&cfg.model, delta);
            result
        })
    }
}
