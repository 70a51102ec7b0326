//! Checks plugin configuration files with the filter's own parser, as Envoy would load them:
//!
//! ```sh
//! cargo run -p meshtrace-filter --example check_config -- config.json [more.json …]
//! ```
//!
//! Exit status 0 when every file is accepted (the effective settings are printed), 1 with
//! the parser's message (`field: problem`) for the first one refused, 2 on usage errors.
//! Istio's `pluginConfig` is YAML: give the JSON Istio hands the filter
//! (`kubectl get wasmplugin X -o jsonpath='{.spec.pluginConfig}'`).

use std::process::ExitCode;

use meshtrace_filter::config::Config;

fn main() -> ExitCode {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: check_config FILE.json [FILE.json …]");
        return ExitCode::from(2);
    }
    for file in &files {
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{file}: {e}");
                return ExitCode::from(2);
            }
        };
        match Config::from_json(&bytes) {
            Ok(config) => println!("{file}: ok: {}", config.summary()),
            Err(e) => {
                eprintln!("{file}: invalid plugin configuration: {e}");
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}
