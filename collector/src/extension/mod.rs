//! Extensions: components outside the data path — the health check, debug pages (`zpages`),
//! CPU profiles (`pprof`), storage for persistent queues, and authenticators — and the [`Host`] through which other components find them.

pub mod auth;
pub mod file_storage;
pub mod health_check;
pub mod pprof;
pub mod zpages;

use auth::{ClientAuthenticator, ServerAuthenticator};
use file_storage::FileStorage;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The running extensions other components use, by id (`file_storage/queue`), as the
/// Collector's `component.Host` offers them.
#[derive(Default)]
pub struct Host {
    storages: BTreeMap<String, Arc<FileStorage>>,
    server_auth: BTreeMap<String, Arc<dyn ServerAuthenticator>>,
    client_auth: BTreeMap<String, Arc<dyn ClientAuthenticator>>,
}

impl Host {
    /// Records what extension `id` provides.
    pub fn add(&mut self, id: &str, ext: &dyn crate::component::Extension) {
        if let Some(s) = ext.storage() {
            self.storages.insert(id.to_owned(), s);
        }
        if let Some(a) = ext.server_auth() {
            self.server_auth.insert(id.to_owned(), a);
        }
        if let Some(a) = ext.client_auth() {
            self.client_auth.insert(id.to_owned(), a);
        }
    }

    /// The storage extension `id`.
    pub fn storage(&self, id: &str) -> Result<Arc<FileStorage>, String> {
        self.storages
            .get(id)
            .cloned()
            .ok_or_else(|| format!("storage extension {id:?} is not running (is it a file_storage listed in service.extensions?)"))
    }

    /// The server authenticator `id`.
    pub fn server_auth(&self, id: &str) -> Result<Arc<dyn ServerAuthenticator>, String> {
        self.server_auth.get(id).cloned().ok_or_else(|| {
            format!("extension {id:?} cannot authenticate incoming requests (basicauth needs `htpasswd`; is it listed in service.extensions?)")
        })
    }

    /// The client authenticator `id`.
    pub fn client_auth(&self, id: &str) -> Result<Arc<dyn ClientAuthenticator>, String> {
        self.client_auth.get(id).cloned().ok_or_else(|| {
            format!("extension {id:?} cannot authenticate outgoing requests (basicauth needs `client_auth`; is it listed in service.extensions?)")
        })
    }
}
