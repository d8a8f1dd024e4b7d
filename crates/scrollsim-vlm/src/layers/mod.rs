//! The call stack's layers, one job each, composed in [`crate::stack`] (outermost first):
//! [`account`] (ledger tallies) → [`cache`] (record/replay) → [`budget`] (stop new calls at the
//! cap) → concurrency limit (tower) → [`retry`] (backoff, jitter, Retry-After) → [`rate`]
//! (requests and tokens per minute) → timeout (tower) → the HTTP provider.
//!
//! Each of our layers is an [`AroundCall`]: what it does around one call, given the rest of the
//! stack as a boxed [`Next`]. [`Around`] is the tower plumbing they share. They apply no
//! backpressure in `poll_ready`: each call clones the inner service and drives it with
//! `oneshot`, so a cache hit never waits for a concurrency permit.

pub mod account;
pub mod budget;
pub mod cache;
pub mod rate;
pub mod retry;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tower::util::BoxCloneService;
use tower::{Layer, Service};

use crate::call::Call;
use crate::chat::{Answer, CallError};

/// The future type of the crate's layers.
pub type BoxFut<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A call's outcome, as a layer returns it.
pub type Answering = BoxFut<Result<Answer, CallError>>;

/// The rest of the stack below a layer, boxed once so each layer names one type (the box costs
/// an allocation per layer and call, nothing beside an HTTP round trip).
pub type Next = BoxCloneService<Call, Answer, CallError>;

/// One layer's work around a call; `next` is the rest of the stack below it.
pub trait AroundCall: Clone + Send + 'static {
    fn around(self, call: Call, next: Next) -> Answering;
}

/// An [`AroundCall`] as a tower layer.
#[derive(Debug, Clone)]
pub struct Around<A>(pub A);

impl<A: Clone, S> Layer<S> for Around<A> {
    type Service = AroundService<A, S>;
    fn layer(&self, inner: S) -> Self::Service {
        AroundService {
            around: self.0.clone(),
            inner,
        }
    }
}

/// The service an [`Around`] layer makes.
#[derive(Debug, Clone)]
pub struct AroundService<A, S> {
    around: A,
    inner: S,
}

impl<A, S> Service<Call> for AroundService<A, S>
where
    A: AroundCall,
    S: Service<Call, Response = Answer, Error = CallError> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Answer;
    type Error = CallError;
    type Future = Answering;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), CallError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: Call) -> Self::Future {
        self.around
            .clone()
            .around(call, Next::new(self.inner.clone()))
    }
}
