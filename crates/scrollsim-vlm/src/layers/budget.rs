//! Stops NEW live calls once the budget (tokens or USD, over all models) would be passed. It
//! sits below the cache, so recorded answers are always served. Each call reserves its worst
//! case (estimated prompt tokens + `max_tokens`) before it starts, so calls in flight cannot
//! together overshoot the cap; the reservation becomes the actual spend when the call ends.

use tower::ServiceExt;

use super::{Answering, AroundCall, Next};
use crate::call::Call;
use crate::chat::CallError;
use crate::config::{BudgetConfig, Prices};
use crate::ledger::Ledger;

#[derive(Clone)]
pub struct Budget {
    pub ledger: Ledger,
    pub budget: BudgetConfig,
    pub prices: Option<Prices>,
}

impl AroundCall for Budget {
    fn around(self, call: Call, next: Next) -> Answering {
        let cfg = self;
        Box::pin(async move {
            if cfg.budget.max_tokens.is_none() && cfg.budget.max_usd.is_none() {
                return next.oneshot(call).await;
            }
            let max_out = call.request.settings.max_tokens as u64;
            let est_usd = cfg
                .prices
                .map_or(0.0, |p| p.cost(call.est_prompt_tokens, max_out));
            let reservation = cfg
                .ledger
                .reserve(&cfg.budget, call.est_total_tokens(), est_usd)
                .map_err(CallError::Budget)?;
            let result = next.oneshot(call).await;
            let (tokens, usd) = match &result {
                Ok(a) => {
                    let u = a.response.usage;
                    let usd = cfg
                        .prices
                        .map_or(0.0, |p| p.cost(u.prompt_tokens, u.completion_tokens));
                    (u.prompt_tokens + u.completion_tokens, usd)
                }
                Err(_) => (0, 0.0),
            };
            reservation.settle(tokens, usd);
            result
        })
    }
}
