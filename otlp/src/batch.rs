//! [`Batch`]: an encoded, validated export request and its item count.

use bytes::Bytes;

use crate::{Limits, Signal, ValidationError, validate};

/// An encoded `Export{Trace,Metrics,Logs}ServiceRequest` that passed [`validate`], with its
/// signal and item count. Cloning is cheap (the bytes are reference counted); the bytes are
/// what exporters send as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    signal: Signal,
    bytes: Bytes,
    items: usize,
}

impl Batch {
    /// Validates `bytes` as a request of `signal` and counts its items.
    pub fn new_validated(
        signal: Signal,
        bytes: Bytes,
        limits: &Limits,
    ) -> Result<Batch, ValidationError> {
        let items = validate(signal, &bytes, limits)?;
        Ok(Batch {
            signal,
            bytes,
            items,
        })
    }

    /// A batch built by this crate from validated parts (concat, split, rewrite): the caller
    /// guarantees `bytes` is valid and holds `items` items.
    pub(crate) fn from_trusted(signal: Signal, bytes: Bytes, items: usize) -> Batch {
        Batch {
            signal,
            bytes,
            items,
        }
    }

    /// An empty request (zero bytes is a valid, empty `Export*ServiceRequest`).
    pub fn empty(signal: Signal) -> Batch {
        Batch {
            signal,
            bytes: Bytes::new(),
            items: 0,
        }
    }

    /// Which request type the bytes hold.
    pub fn signal(&self) -> Signal {
        self.signal
    }

    /// The encoded request.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Spans, data points or log records in the request.
    pub fn items(&self) -> usize {
        self.items
    }

    /// Encoded size in bytes.
    pub fn len_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// The encoded request, for sending.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// True when the request holds no bytes at all. A request may hold resources without
    /// items (`items() == 0`) and still not be empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}
