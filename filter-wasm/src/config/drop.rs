//! `drop`: requests whose spans are dropped inside the proxy (probes, health checks, noise).

/// `drop` section. A request matching any rule of any list makes no span, and the filter
/// leaves its trace headers untouched (the proxy is transparent for it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DropConfig {
    /// Paths, without the query string: `{"exact": "/healthz"}` or `{"prefix": "/debug/"}`.
    /// Default: none.
    pub paths: Vec<PathRule>,
    /// `User-Agent` patterns with `*`, case-sensitive: `kube-probe/*`.
    /// Default: none.
    pub user_agents: Vec<String>,
    /// Methods, exactly as sent (`OPTIONS`).
    /// Default: none.
    pub methods: Vec<String>,
    /// Hosts (the authority without its port), patterns with `*`, case-insensitive:
    /// `*.internal`.
    /// Default: none.
    pub hosts: Vec<String>,
}

/// One path rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathRule {
    /// The whole path.
    Exact(String),
    /// A prefix of the path.
    Prefix(String),
}

impl DropConfig {
    /// Whether no rule is configured.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
            && self.user_agents.is_empty()
            && self.methods.is_empty()
            && self.hosts.is_empty()
    }
}
