//! `file`: one line per request, in the OTLP JSON encoding (`format: json`, the default), or
//! length-prefixed protobuf (`format: proto`), as the Collector's file exporter writes them.

use super::helper::{ExporterHelper, HelperSettings, Payload, Sender};
use crate::component::{ComponentError, Context, Exporter, ExporterConfig, Validate};
use crate::config::{ConfigError, Value, duration};
use crate::otlp::{Signal, json};
use crate::pipeline::{BoxFuture, ConsumeError};
use serde::Deserialize;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// OTLP JSON, one request per line (default).
    #[default]
    Json,
    /// Each request as a 4-byte big-endian length and the protobuf bytes.
    Proto,
}

/// `exporters: file:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The file to write (required).
    pub path: String,
    /// `json` (default) or `proto`.
    #[serde(default)]
    pub format: Format,
    /// Append to an existing file instead of truncating it (default false).
    #[serde(default)]
    pub append: bool,
    /// Accepted for compatibility: every request is flushed as it is written.
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub flush_interval: Option<Duration>,
    /// Create the parent directory when missing (default false).
    #[serde(default)]
    pub create_directory: bool,
    /// File rotation: not supported yet.
    #[serde(default)]
    pub rotation: Option<Value>,
    /// Compression: not supported yet.
    #[serde(default)]
    pub compression: Option<String>,
    /// Grouping by resource attribute: not supported yet.
    #[serde(default)]
    pub group_by: Option<Value>,
}

impl Validate for FileConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        if self.path.is_empty() {
            e.push(ConfigError::new("must not be empty").field("path"));
        }
        for (f, set) in [
            ("rotation", self.rotation.is_some()),
            ("compression", self.compression.is_some()),
            ("group_by", self.group_by.is_some()),
        ] {
            if set {
                e.push(ConfigError::new(format!("{f} is not supported yet")).field(f));
            }
        }
        e
    }
}

/// Files shared between the signals of one exporter id (traces, metrics and logs may go to the
/// same path), keyed by path.
type SharedFile = Arc<Mutex<BufWriter<File>>>;

static OPEN: Mutex<Vec<(String, SharedFile)>> = Mutex::new(Vec::new());

fn open(cfg: &FileConfig) -> Result<SharedFile, String> {
    let mut open = OPEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    open.retain(|(_, f)| Arc::strong_count(f) > 1);
    if let Some((_, f)) = open.iter().find(|(p, _)| *p == cfg.path) {
        return Ok(f.clone());
    }
    if cfg.create_directory
        && let Some(parent) = std::path::Path::new(&cfg.path).parent()
    {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .append(cfg.append)
        .truncate(!cfg.append)
        .open(&cfg.path)
        .map_err(|e| format!("cannot open {}: {e}", cfg.path))?;
    let f = Arc::new(Mutex::new(BufWriter::new(file)));
    open.push((cfg.path.clone(), f.clone()));
    Ok(f)
}

impl ExporterConfig for FileConfig {
    fn build(&self, ctx: &Context, signal: Signal) -> Result<Arc<dyn Exporter>, ComponentError> {
        let file = open(self).map_err(|e| ctx.error(e))?;
        Ok(ExporterHelper::new(
            ctx,
            signal,
            Arc::new(FileSender {
                file,
                format: self.format,
            }),
            HelperSettings::direct(),
        ))
    }
}

struct FileSender {
    file: Arc<Mutex<BufWriter<File>>>,
    format: Format,
}

impl Sender for FileSender {
    fn send(&self, payload: Payload) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let batch = payload.into_batch()?;
            let record = match self.format {
                Format::Json => {
                    let mut line = json::from_protobuf(batch.signal(), batch.bytes())
                        .map_err(|e| ConsumeError::permanent(e.to_string()))?;
                    line.push(b'\n');
                    line
                }
                Format::Proto => {
                    let b = batch.bytes();
                    let len = u32::try_from(b.len()).map_err(|_| {
                        ConsumeError::permanent("request too large for the proto format")
                    })?;
                    let mut v = Vec::with_capacity(b.len() + 4);
                    v.extend_from_slice(&len.to_be_bytes());
                    v.extend_from_slice(b);
                    v
                }
            };
            let mut f = self
                .file
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f.write_all(&record)
                .and_then(|()| f.flush())
                .map_err(|e| ConsumeError::retryable(format!("write failed: {e}")))
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = self
                .file
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .flush();
        })
    }
}
