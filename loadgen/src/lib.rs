//! meshtrace-loadgen: OTLP load shaped like the spans of an Istio mesh's Envoy sidecars, a
//! counting sink that decodes every span it receives, and a tiny HTTP upstream for proxy
//! benchmarks. `scripts/bench.sh` drives them; the collector's tests reuse the sink.

pub mod cpu;
pub mod duration;
pub mod layout;
pub mod mesh;
pub mod pool;
pub mod rng;
pub mod send;
pub mod shape;
pub mod sink;
pub mod upstream;
