//! The root context: parses the plugin configuration once (in `on_configure`) and hands each
//! HTTP context a shared, read-only [`Propagator`] and the VM's id generator.

use std::cell::RefCell;
use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::ContextType;

use crate::config::Config;
use crate::host::{self, HostRandom};
use crate::http::Http;
use crate::ids::RandomIds;
use crate::propagation::Propagator;

/// Ids for every request of this VM (one VM per worker thread, so no sharing across threads).
pub type VmIds = Rc<RefCell<RandomIds<HostRandom>>>;

/// The plugin's root context.
pub struct Root {
    propagator: Rc<Propagator>,
    ids: VmIds,
}

impl Root {
    /// A root with the default configuration until `on_configure` runs.
    pub fn new() -> Self {
        Root {
            propagator: Rc::new(Propagator::default()),
            ids: Rc::new(RefCell::new(RandomIds::new(HostRandom::default()))),
        }
    }
}

impl Default for Root {
    fn default() -> Self {
        Root::new()
    }
}

impl Context for Root {}

impl RootContext for Root {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        host::sync_log_level();
        true
    }

    /// Refuses a bad configuration: Envoy then rejects the filter (at startup, or the
    /// listener update in Istio) with this log line, instead of failing requests later.
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        host::sync_log_level();
        match Config::from_json(&host::plugin_configuration()) {
            Ok(config) => {
                log::info!(
                    "configured: sampling.percentage={} propagation.b3.extract={} propagation.b3.inject={} propagation.tracestate_max_length={}",
                    config.sampling.percentage,
                    config.propagation.b3.extract,
                    config.propagation.b3.inject.as_str(),
                    config.propagation.tracestate_max_length,
                );
                self.propagator = Rc::new(Propagator::new(&config));
                true
            }
            Err(e) => {
                log::error!("invalid plugin configuration: {e}");
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Http::new(
            Rc::clone(&self.propagator),
            Rc::clone(&self.ids),
        )))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
