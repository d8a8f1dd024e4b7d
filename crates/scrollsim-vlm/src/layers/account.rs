//! Books every call that leaves the stack into the shared [`Ledger`]: live calls with their
//! tokens and cost, cache hits, errors.

use tower::ServiceExt;

use super::{Answering, AroundCall, Next};
use crate::call::Call;
use crate::chat::CallError;
use crate::config::Prices;
use crate::ledger::{Ledger, ModelTally};

#[derive(Clone)]
pub struct Account {
    pub ledger: Ledger,
    /// The config name the tallies are kept under.
    pub model: String,
    pub prices: Option<Prices>,
}

impl AroundCall for Account {
    fn around(self, call: Call, next: Next) -> Answering {
        let cfg = self;
        Box::pin(async move {
            let result = next.oneshot(call).await;
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
