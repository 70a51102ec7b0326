//! Configuration errors: each names the file, the component id, the field path and why.

use std::fmt;

/// One problem found in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file the offending value came from (the last one that set it when merging).
    pub file: Option<String>,
    /// Where in the config: `receivers::otlp`, `service::pipelines::traces`, ...
    pub component: Option<String>,
    /// The field path inside the component (`protocols.grpc.endpoint`).
    pub field: Option<String>,
    /// Why it is wrong.
    pub reason: String,
}

impl ConfigError {
    /// An error about the whole configuration.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            file: None,
            component: None,
            field: None,
            reason: reason.into(),
        }
    }

    /// Sets the component (or section) this error is about.
    #[must_use]
    pub fn component(mut self, component: impl Into<String>) -> Self {
        self.component = Some(component.into());
        self
    }

    /// Sets the field path.
    #[must_use]
    pub fn field(mut self, field: impl Into<String>) -> Self {
        let f = field.into();
        self.field = if f.is_empty() || f == "." {
            None
        } else {
            Some(f)
        };
        self
    }

    /// Sets the file, unless one is already set.
    #[must_use]
    pub fn file(mut self, file: impl Into<String>) -> Self {
        if self.file.is_none() {
            self.file = Some(file.into());
        }
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        if let Some(c) = &self.component {
            write!(f, "{c}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        f.write_str(&self.reason)
    }
}

/// Every problem found; loading reports them all at once rather than the first only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "invalid configuration: {one}"),
            many => {
                write!(f, "invalid configuration ({} errors):", many.len())?;
                for e in many {
                    write!(f, "\n  - {e}")?;
                }
                Ok(())
            }
        }
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        Self(vec![e])
    }
}
