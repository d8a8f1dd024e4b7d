//! Books every call that leaves the stack into the shared [`Ledger`]: live calls with their
//! tokens and cost, cache hits, errors.

use std::task::{Context, Poll};

use tower::{Layer, Service, ServiceExt};

use super::BoxFut;
use crate::call::Call;
use crate::chat::{Answer, CallError};
use crate::config::Prices;
use crate::ledger::{Ledger, ModelTally};

#[derive(Clone)]
pub struct AccountLayer {
    ledger: Ledger,
    model: String,
    prices: Option<Prices>,
}

impl AccountLayer {
    /// `model` is the config name the tallies are kept under.
    pub fn new(ledger: Ledger, model: String, prices: Option<Prices>) -> Self {
        AccountLayer {
            ledger,
            model,
            prices,
        }
    }
}

impl<S> Layer<S> for AccountLayer {
    type Service = Account<S>;
    fn layer(&self, inner: S) -> Account<S> {
        Account {
            inner,
            cfg: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Account<S> {
    inner: S,
    cfg: AccountLayer,
}

impl<S> Service<Call> for Account<S>
where
    S: Service<Call, Response = Answer, Error = CallError> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Answer;
    type Error = CallError;
    type Future = BoxFut<Result<Answer, CallError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), CallError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: Call) -> Self::Future {
        let inner = self.inner.clone();
        let cfg = self.cfg.clone();
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
