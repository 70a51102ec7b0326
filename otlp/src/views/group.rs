//! The shape all three signals share: a request holds resource groups (`ResourceSpans`,
//! `ResourceMetrics`, `ResourceLogs`: resource = 1, scope groups = 2, schema_url = 3), each
//! holding scope groups (`ScopeSpans`, …: scope = 1, items = 2, schema_url = 3).

use std::marker::PhantomData;

use crate::wire::{Fields, Val};

use super::common::{ResourceView, ScopeView, last_len, last_len_opt};
use super::utf8;

/// An item of a scope group (span, metric, log record), readable from its encoding.
pub trait Item<'a>: Sized {
    /// Reads one encoded item.
    fn parse(buf: &'a [u8]) -> Self;
}

/// Length-delimited fields `num` of `buf`.
pub(crate) fn messages(buf: &[u8], num: u32) -> impl Iterator<Item = &[u8]> + Clone + '_ {
    Fields::ok(buf).filter_map(move |f| match f.val {
        Val::Len(b) if f.num == num => Some(b),
        _ => None,
    })
}

/// A `ResourceSpans` / `ResourceMetrics` / `ResourceLogs`.
#[derive(Debug)]
pub struct ResourceGroup<'a, T> {
    buf: &'a [u8],
    _items: PhantomData<fn() -> T>,
}

impl<T> Clone for ResourceGroup<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for ResourceGroup<'_, T> {}

impl<'a, T: Item<'a> + 'a> ResourceGroup<'a, T> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        ResourceGroup {
            buf,
            _items: PhantomData,
        }
    }

    /// The resource (an absent one reads as empty; see [`ResourceView::is_present`]).
    pub fn resource(&self) -> ResourceView<'a> {
        ResourceView::new(last_len_opt(self.buf, 1))
    }

    /// `schema_url`.
    pub fn schema_url(&self) -> &'a str {
        utf8(last_len(self.buf, 3))
    }

    /// The scope groups.
    pub fn scopes(&self) -> impl Iterator<Item = ScopeGroup<'a, T>> + Clone + use<'a, T> {
        messages(self.buf, 2).map(ScopeGroup::new)
    }

    /// The encoded message.
    pub fn raw(&self) -> &'a [u8] {
        self.buf
    }
}

/// A `ScopeSpans` / `ScopeMetrics` / `ScopeLogs`.
#[derive(Debug)]
pub struct ScopeGroup<'a, T> {
    buf: &'a [u8],
    _items: PhantomData<fn() -> T>,
}

impl<T> Clone for ScopeGroup<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for ScopeGroup<'_, T> {}

impl<'a, T: Item<'a> + 'a> ScopeGroup<'a, T> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        ScopeGroup {
            buf,
            _items: PhantomData,
        }
    }

    /// The instrumentation scope (an absent one reads as empty).
    pub fn scope(&self) -> ScopeView<'a> {
        ScopeView::new(last_len_opt(self.buf, 1))
    }

    /// `schema_url`.
    pub fn schema_url(&self) -> &'a str {
        utf8(last_len(self.buf, 3))
    }

    /// The items (spans, metrics, log records).
    pub fn items(&self) -> impl Iterator<Item = T> + Clone + use<'a, T> {
        messages(self.buf, 2).map(T::parse)
    }

    /// The encoded message.
    pub fn raw(&self) -> &'a [u8] {
        self.buf
    }
}

/// The resource and `schema_url` of one encoded resource group of any signal
/// (`ResourceSpans`, `ResourceMetrics` and `ResourceLogs` number them alike), as
/// [`crate::batching::partition_resources`] hands groups out.
pub fn group_resource(group: &[u8]) -> (ResourceView<'_>, &str) {
    (
        ResourceView::new(last_len_opt(group, 1)),
        utf8(last_len(group, 3)),
    )
}
