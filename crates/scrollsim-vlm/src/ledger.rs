//! The shared ledger of model calls: per-model tallies (calls, cache hits, errors, tokens,
//! cost) for progress bars and reports, and the budget's account of what live calls have spent
//! and reserved. One ledger is shared by every judge built from one [`crate::JudgeEnv`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::config::BudgetConfig;

/// Calls made for one model.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ModelTally {
    /// Live calls that completed (answered or failed after their retries).
    pub calls: u64,
    /// Answers (or recorded failures) read back from the record/replay cache.
    pub cached: u64,
    /// Calls that ended without an answer (live or recorded).
    pub errors: u64,
    /// Tokens of live calls as the provider reported them.
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Cost of live calls from the configured prices.
    pub cost_usd: f64,
}

impl ModelTally {
    fn add(&mut self, o: &ModelTally) {
        self.calls += o.calls;
        self.cached += o.cached;
        self.errors += o.errors;
        self.prompt_tokens += o.prompt_tokens;
        self.completion_tokens += o.completion_tokens;
        self.cost_usd += o.cost_usd;
    }

    pub fn tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// A copy of the ledger at one moment.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LedgerSnapshot {
    pub models: BTreeMap<String, ModelTally>,
    pub total: ModelTally,
    /// Set once the budget refused a call.
    pub budget_exhausted: bool,
}

#[derive(Debug, Default)]
struct State {
    models: BTreeMap<String, ModelTally>,
    spent_tokens: u64,
    spent_usd: f64,
    reserved_tokens: u64,
    reserved_usd: f64,
    exhausted: bool,
}

/// Shared, cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    state: Arc<Mutex<State>>,
}

impl Ledger {
    pub fn new() -> Self {
        Ledger::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not take accounting down with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot(&self) -> LedgerSnapshot {
        let s = self.lock();
        let mut total = ModelTally::default();
        for t in s.models.values() {
            total.add(t);
        }
        LedgerSnapshot {
            models: s.models.clone(),
            total,
            budget_exhausted: s.exhausted,
        }
    }

    /// Adds to a model's tally.
    pub(crate) fn record(&self, model: &str, delta: ModelTally) {
        let mut s = self.lock();
        match s.models.get_mut(model) {
            Some(t) => t.add(&delta),
            None => {
                s.models.insert(model.to_string(), delta);
            }
        }
    }

    /// Reserves the most a new call may cost, or says why the budget refuses it. The
    /// reservation is released (and the actual spend booked) by [`Reservation::settle`], or
    /// released when dropped.
    pub(crate) fn reserve(
        &self,
        budget: &BudgetConfig,
        tokens: u64,
        usd: f64,
    ) -> Result<Reservation, BudgetRefusal> {
        let mut s = self.lock();
        let refusal = passed(
            budget.max_tokens,
            s.spent_tokens + s.reserved_tokens + tokens,
        )
        .map(|max| BudgetRefusal::Tokens {
            max,
            spent: s.spent_tokens,
            reserved: s.reserved_tokens,
            need: tokens,
        })
        .or_else(|| {
            passed(budget.max_usd, s.spent_usd + s.reserved_usd + usd).map(|max| {
                BudgetRefusal::Usd {
                    max,
                    spent: s.spent_usd,
                    reserved: s.reserved_usd,
                    need: usd,
                }
            })
        });
        if let Some(refusal) = refusal {
            s.exhausted = true;
            return Err(refusal);
        }
        s.reserved_tokens += tokens;
        s.reserved_usd += usd;
        Ok(Reservation {
            ledger: self.clone(),
            tokens,
            usd,
            open: true,
        })
    }
}

/// Why the budget refuses a call: what it would pass, and by how much.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BudgetRefusal {
    #[error("token budget {max} reached: {spent} spent, {reserved} reserved by calls in flight, this call may need {need} (judge.budget.max_tokens)")]
    Tokens {
        max: u64,
        spent: u64,
        reserved: u64,
        need: u64,
    },
    #[error("cost budget ${max:.2} reached: ${spent:.4} spent, ${reserved:.4} reserved by calls in flight, this call may cost ${need:.4} (judge.budget.max_usd)")]
    Usd {
        max: f64,
        spent: f64,
        reserved: f64,
        need: f64,
    },
}

/// The cap, when `committed` would pass it.
fn passed<T: PartialOrd + Copy>(cap: Option<T>, committed: T) -> Option<T> {
    cap.filter(|&max| committed > max)
}

/// Budget held for a call in flight.
#[derive(Debug)]
pub(crate) struct Reservation {
    ledger: Ledger,
    tokens: u64,
    usd: f64,
    open: bool,
}

impl Reservation {
    /// Releases the reservation and books what the call actually spent.
    pub fn settle(mut self, tokens: u64, usd: f64) {
        let ledger = self.ledger.clone();
        let mut s = ledger.lock();
        self.release(&mut s);
        s.spent_tokens += tokens;
        s.spent_usd += usd;
    }

    /// Gives back what was held, once.
    fn release(&mut self, s: &mut State) {
        if std::mem::take(&mut self.open) {
            s.reserved_tokens -= self.tokens;
            s.reserved_usd = (s.reserved_usd - self.usd).max(0.0);
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.open {
            let ledger = self.ledger.clone();
            self.release(&mut ledger.lock());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_count_against_the_cap_until_settled() {
        let l = Ledger::new();
        let b = BudgetConfig {
            max_usd: None,
            max_tokens: Some(1000),
        };
        let r1 = l.reserve(&b, 600, 0.0).unwrap();
        assert!(l
            .reserve(&b, 600, 0.0)
            .unwrap_err()
            .to_string()
            .contains("600 reserved"));
        r1.settle(300, 0.0);
        let r2 = l.reserve(&b, 600, 0.0).unwrap();
        drop(r2);
        let err = l.reserve(&b, 701, 0.0).unwrap_err();
        assert_eq!(
            err,
            BudgetRefusal::Tokens {
                max: 1000,
                spent: 300,
                reserved: 0,
                need: 701
            }
        );
        assert!(err.to_string().contains("300 spent"), "{err}");
        assert!(l.snapshot().budget_exhausted);
    }

    #[test]
    fn tallies_sum_per_model() {
        let l = Ledger::new();
        l.record(
            "a",
            ModelTally {
                calls: 1,
                prompt_tokens: 10,
                cost_usd: 0.5,
                ..Default::default()
            },
        );
        l.record(
            "a",
            ModelTally {
                cached: 1,
                ..Default::default()
            },
        );
        l.record(
            "b",
            ModelTally {
                calls: 1,
                errors: 1,
                ..Default::default()
            },
        );
        let s = l.snapshot();
        assert_eq!(s.models["a"].calls, 1);
        assert_eq!(s.models["a"].cached, 1);
        assert_eq!(s.total.calls, 2);
        assert_eq!(s.total.errors, 1);
        assert!((s.total.cost_usd - 0.5).abs() < 1e-12);
    }
}
