//! The whole local mesh of the shipped demo config: the collector, an upstream, the app, and
//! Envoy as the app's sidecar with the filter on its inbound and outbound listeners.
//!
//! ```text
//! client -> Envoy inbound (SERVER span) -> app -> Envoy outbound (CLIENT span) -> upstream
//!                      \________ filter exports OTLP/HTTP ________/-> collector -> file
//! ```

use crate::app::App;
use crate::collector::Collector;
use crate::echo::EchoServer;
use crate::envoy::{DemoConfig, Envoy};
use crate::error::Result;
use crate::wasm::filter_wasm;

/// Everything running; stopped on drop.
pub struct Mesh {
    /// The collector (file exporter).
    pub collector: Collector,
    /// Envoy with the filter.
    pub envoy: Envoy,
    /// The app behind the inbound listener.
    pub app: App,
    /// The upstream behind the outbound listener (an echo server; `/status/<code>`).
    pub upstream: EchoServer,
    /// The inbound listener's port (where clients send requests).
    pub inbound: u16,
    /// The outbound listener's port.
    pub outbound: u16,
}

impl Mesh {
    /// Starts it all with `plugin_config` (`None`: the shipped file's).
    pub fn start(plugin_config: Option<&str>) -> Result<Mesh> {
        Self::start_inner(plugin_config, None)
    }

    /// As [`Mesh::start`], with Envoy's collector cluster pointing at `port` instead of the
    /// collector (a closed port, a server that never answers).
    pub fn start_with_collector_port(plugin_config: Option<&str>, port: u16) -> Result<Mesh> {
        Self::start_inner(plugin_config, Some(port))
    }

    fn start_inner(plugin_config: Option<&str>, collector_port: Option<u16>) -> Result<Mesh> {
        let wasm = filter_wasm()?;
        let collector = Collector::start(0)?;
        let upstream = EchoServer::start(0)?;
        let app = App::start()?;
        let config = DemoConfig {
            inbound_port: 0,
            outbound_port: 0,
            admin_port: 0,
            app_port: app.port(),
            upstream_port: upstream.port(),
            collector_port: collector_port.unwrap_or(collector.http_port()),
            wasm,
            plugin_config: plugin_config.map(str::to_owned),
        }
        .render(&DemoConfig::template()?)?;
        let envoy = Envoy::start(&config)?;
        let inbound = envoy.listener_port("inbound")?;
        let outbound = envoy.listener_port("outbound")?;
        app.set_outbound_port(outbound);
        Ok(Mesh {
            collector,
            envoy,
            app,
            upstream,
            inbound,
            outbound,
        })
    }
}
