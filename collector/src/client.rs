//! Who sent the request being processed: the Collector's `client.Info`, carried in a tokio
//! task-local from the receiver through the synchronous part of the pipeline (up to a
//! `batch` processor, which — like the Collector's without `metadata_keys` — drops it).
//!
//! Receivers wrap their call into the pipeline in [`scope`]; processors read it with
//! [`current`] (the `attributes` and `resource` processors' `from_context`).

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

/// The client of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The peer's IP address (`client.address`).
    pub address: Option<IpAddr>,
    /// Request metadata (HTTP headers / gRPC metadata, keys lowercase), only when the
    /// receiver has `include_metadata: true`.
    pub metadata: Vec<(String, String)>,
    /// What the receiver's authenticator said of the client (`auth.<name>`).
    pub auth: crate::extension::auth::AuthData,
}

impl ClientInfo {
    /// The values of metadata key `key` (case-insensitive), in order.
    pub fn metadata_values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.metadata
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

impl ClientInfo {
    /// The client of an HTTP request: its peer address, and its headers when the receiver
    /// has `include_metadata: true`.
    pub fn from_http(addr: Option<IpAddr>, headers: Option<&http::HeaderMap>) -> Self {
        Self {
            auth: Default::default(),
            address: addr,
            metadata: headers.map_or_else(Vec::new, |h| {
                h.iter()
                    .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                    .collect()
            }),
        }
    }
}

tokio::task_local! {
    static CLIENT: Arc<ClientInfo>;
}

/// Runs `f` (a receiver's call into the pipeline) with `info` as the current client.
pub async fn scope<F: Future>(info: Arc<ClientInfo>, f: F) -> F::Output {
    CLIENT.scope(info, f).await
}

/// The current client, when the caller runs inside [`scope`] (read it once per request).
pub fn current() -> Option<Arc<ClientInfo>> {
    CLIENT.try_with(Arc::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn visible_inside_the_scope_only() {
        assert_eq!(current(), None);
        let info = Arc::new(ClientInfo {
            auth: Default::default(),
            address: Some("10.1.2.3".parse().unwrap()),
            metadata: vec![
                ("x-tenant".into(), "a".into()),
                ("X-Tenant".into(), "b".into()),
            ],
        });
        let got = scope(info.clone(), async {
            tokio::task::yield_now().await;
            current().map(|c| c.metadata_values("x-tenant").collect::<Vec<_>>().join(";"))
        })
        .await;
        assert_eq!(got.as_deref(), Some("a;b"));
        assert_eq!(current(), None);
    }
}
