//! The one interface data flows through: every processor and exporter is a [`Consumer`] of
//! [`Batch`]es, and a [`Fanout`] sends one batch to several consumers.

use crate::otlp::Batch;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A boxed, `Send` future (the trait objects in the pipeline cannot use `async fn`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a consumer did not take a batch.
///
/// Receivers turn it into the client's answer: [`ConsumeError::Retryable`] becomes HTTP 503
/// (429 when `throttled`; both with `Retry-After` when a delay is known) or gRPC
/// `UNAVAILABLE` (with `RetryInfo` when a delay is known), so clients such as Envoy back off
/// and retry; [`ConsumeError::Permanent`] becomes HTTP 400 or gRPC
/// `INVALID_ARGUMENT`, and the client must not retry it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsumeError {
    /// Might succeed later: a backend is down, a queue is full, memory is short.
    #[error("{reason}")]
    Retryable {
        /// What went wrong.
        reason: String,
        /// How long the client should wait before retrying, when known.
        retry_after: Option<Duration>,
        /// Back-pressure (a full queue, a backend's 429): HTTP 429 rather than 503.
        throttled: bool,
    },
    /// Will never succeed: the data is bad or the backend refuses it for good.
    #[error("{reason}")]
    Permanent {
        /// What went wrong.
        reason: String,
    },
}

impl ConsumeError {
    /// A retryable error without a known delay.
    pub fn retryable(reason: impl Into<String>) -> Self {
        Self::Retryable {
            reason: reason.into(),
            retry_after: None,
            throttled: false,
        }
    }

    /// A retryable error for a service that is unavailable for now, with the delay the
    /// client should wait (HTTP 503 + `Retry-After`, gRPC `UNAVAILABLE` + `RetryInfo`).
    pub fn unavailable_for(reason: impl Into<String>, delay: Duration) -> Self {
        Self::Retryable {
            reason: reason.into(),
            retry_after: Some(delay),
            throttled: false,
        }
    }

    /// A permanent error.
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self::Permanent {
            reason: reason.into(),
        }
    }

    /// True for [`ConsumeError::Retryable`].
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. })
    }
}

/// Takes batches of one signal. Implemented by every processor and exporter.
///
/// `consume` returning `Ok` means the consumer now owns the data: a batching processor or a
/// queued exporter must not lose it afterwards, except on a shutdown deadline.
pub trait Consumer: Send + Sync + 'static {
    /// Hands `batch` over.
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>>;
}

/// Sends each batch to every consumer in turn (a receiver feeding several pipelines, a
/// pipeline feeding several exporters). The batch is reference-counted bytes: cloning it is
/// cheap and no consumer can change what another sees.
///
/// When some consumers fail, the error returned is retryable if any failure was retryable
/// (the client retries and the consumers that succeeded see the data again: at-least-once),
/// permanent otherwise.
pub struct Fanout {
    consumers: Vec<Arc<dyn Consumer>>,
}

impl Fanout {
    /// A consumer for `consumers`; a single consumer is returned as is.
    pub fn build(mut consumers: Vec<Arc<dyn Consumer>>) -> Arc<dyn Consumer> {
        if consumers.len() == 1
            && let Some(one) = consumers.pop()
        {
            return one;
        }
        Arc::new(Fanout { consumers })
    }
}

impl Consumer for Fanout {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let mut retryable: Option<ConsumeError> = None;
            let mut permanent: Option<ConsumeError> = None;
            for c in &self.consumers {
                match c.consume(batch.clone()).await {
                    Ok(()) => {}
                    Err(e) if e.is_retryable() => retryable = retryable.or(Some(e)),
                    Err(e) => permanent = permanent.or(Some(e)),
                }
            }
            match (retryable, permanent) {
                (Some(e), _) | (None, Some(e)) => Err(e),
                (None, None) => Ok(()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::Signal;
    use std::sync::Mutex;

    struct Recorder(Mutex<usize>, Option<ConsumeError>);

    impl Consumer for Recorder {
        fn consume(&self, _batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
            Box::pin(async move {
                *self.0.lock().unwrap() += 1;
                self.1.clone().map_or(Ok(()), Err)
            })
        }
    }

    fn rec(err: Option<ConsumeError>) -> Arc<Recorder> {
        Arc::new(Recorder(Mutex::new(0), err))
    }

    #[tokio::test]
    async fn every_consumer_sees_every_batch_and_errors_combine() {
        let ok = rec(None);
        let perm = rec(Some(ConsumeError::permanent("bad")));
        let retry = rec(Some(ConsumeError::retryable("later")));
        let f = Fanout::build(vec![ok.clone(), perm.clone(), retry.clone()]);
        let e = f.consume(Batch::empty(Signal::Traces)).await.unwrap_err();
        assert_eq!(e, ConsumeError::retryable("later"));
        assert_eq!(*ok.0.lock().unwrap(), 1);
        assert_eq!(*perm.0.lock().unwrap(), 1);
        assert_eq!(*retry.0.lock().unwrap(), 1);

        let f = Fanout::build(vec![ok.clone(), perm.clone()]);
        assert_eq!(
            f.consume(Batch::empty(Signal::Traces)).await.unwrap_err(),
            ConsumeError::permanent("bad")
        );
        let f = Fanout::build(vec![ok.clone(), ok.clone()]);
        assert!(f.consume(Batch::empty(Signal::Traces)).await.is_ok());
        assert_eq!(*ok.0.lock().unwrap(), 4);
    }
}
