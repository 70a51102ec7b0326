//! Plugin configuration: never panics; what is accepted is valid and builds a propagator.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_filter::config::Config;
use meshtrace_filter::propagation::Propagator;

fuzz_target!(|data: &[u8]| {
    match Config::from_json(data) {
        Ok(config) => {
            assert_eq!(config.validate(), Ok(()));
            let _ = Propagator::new(&config);
        }
        Err(e) => assert!(!e.field.is_empty() && !e.problem.is_empty()),
    }
});
