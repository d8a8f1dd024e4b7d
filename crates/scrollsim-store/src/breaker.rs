//! The circuit breaker of a store: one per store, shared by every call and so by every session
//! of a run. A call that gave up on a server that is not there (unreachable, or past its
//! deadline on every retry) opens it; while it is open, calls fail at once with
//! [`StoreError::Down`] instead of each spending its own retries, and calls already retrying
//! stop at their next attempt. After `cooldown` one call at a time is let through to probe the
//! server; its success closes the breaker.
//!
//! Callers that start new work (the run loop, before each session) ask [`VideoStore::outage`]
//! and start nothing while the store is down: a run then stops with one message and is
//! continued with `--resume` once the server is back.
//!
//! [`VideoStore::outage`]: crate::VideoStore::outage

use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::StoreError;

/// The store is known to be down: which server, since when, and the failure that said so.
#[derive(Debug, Clone, PartialEq)]
pub struct Outage {
    pub url: String,
    /// The failure that opened the breaker (names the operation).
    pub detail: String,
    pub since: Instant,
}

impl std::fmt::Display for Outage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Qdrant server at {} is down (for {:.1} s; {})",
            self.url,
            self.since.elapsed().as_secs_f64(),
            self.detail
        )
    }
}

impl Outage {
    pub fn error(&self) -> StoreError {
        StoreError::Down {
            url: self.url.clone(),
            detail: self.detail.clone(),
        }
    }
}

#[derive(Debug)]
struct State {
    outage: Option<Outage>,
    /// When a probe was last let through while open.
    probed: Option<Instant>,
}

/// Closed (calls go through) or open (calls fail fast, one probe per `cooldown`).
#[derive(Debug)]
pub struct Breaker {
    url: String,
    cooldown: Duration,
    state: Mutex<State>,
}

impl Breaker {
    pub fn new(url: impl Into<String>, cooldown: Duration) -> Self {
        Breaker {
            url: url.into(),
            cooldown,
            state: Mutex::new(State {
                outage: None,
                probed: None,
            }),
        }
    }

    /// The outage, while the breaker is open.
    pub fn outage(&self) -> Option<Outage> {
        self.state.lock().outage.clone()
    }

    pub fn is_open(&self) -> bool {
        self.state.lock().outage.is_some()
    }

    /// Before a call: `Err` while open, except for one probe per cooldown.
    pub fn admit(&self) -> Result<(), StoreError> {
        let mut s = self.state.lock();
        let Some(outage) = &s.outage else {
            return Ok(());
        };
        let last = s.probed.unwrap_or(outage.since);
        if last.elapsed() >= self.cooldown {
            s.probed = Some(Instant::now());
            return Ok(());
        }
        Err(outage.error())
    }

    /// A call succeeded: the server answers.
    pub fn success(&self) {
        let mut s = self.state.lock();
        if let Some(o) = s.outage.take() {
            tracing::info!(
                "Qdrant server at {} answers again after {:.1} s",
                o.url,
                o.since.elapsed().as_secs_f64()
            );
        }
        s.probed = None;
    }

    /// A call gave up because the server is not there. Opens the breaker (once: the first
    /// failure is the one reported).
    pub fn trip(&self, detail: impl Into<String>) {
        let mut s = self.state.lock();
        if s.outage.is_none() {
            let detail = detail.into();
            tracing::error!(
                "Qdrant server at {} is down ({detail}): failing further calls at once",
                self.url
            );
            s.outage = Some(Outage {
                url: self.url.clone(),
                detail,
                since: Instant::now(),
            });
        }
        s.probed = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_on_a_trip_fails_fast_and_closes_on_success() {
        let b = Breaker::new("http://q:6334", Duration::from_secs(3600));
        assert!(b.admit().is_ok());
        assert!(b.outage().is_none());
        b.trip("search: Unavailable");
        b.trip("count: Unavailable");
        let o = b.outage().expect("open");
        assert_eq!(
            o.detail, "search: Unavailable",
            "the first failure is reported"
        );
        assert!(o.to_string().contains("http://q:6334"));
        match b.admit() {
            Err(StoreError::Down { url, detail }) => {
                assert_eq!(url, "http://q:6334");
                assert_eq!(detail, "search: Unavailable");
            }
            other => panic!("expected Down, got {other:?}"),
        }
        b.success();
        assert!(b.outage().is_none());
        assert!(b.admit().is_ok());
    }

    #[test]
    fn lets_one_probe_through_per_cooldown() {
        let b = Breaker::new("http://q:6334", Duration::ZERO);
        b.trip("x");
        // Cooldown zero: every call is a probe, and the breaker stays open until one succeeds.
        assert!(b.admit().is_ok());
        assert!(b.is_open());
        let slow = Breaker::new("http://q:6334", Duration::from_secs(3600));
        slow.trip("x");
        assert!(slow.admit().is_err());
    }
}
