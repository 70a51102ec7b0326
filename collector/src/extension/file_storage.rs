//! `file_storage`: a directory where components keep state across restarts. Exporters with
//! `sending_queue.storage: file_storage/NAME` keep their persistent queue in it, one
//! sub-directory per exporter and signal (`exporter_otlp_grpc_NAME_traces`), in the format of
//! [`crate::exporter::helper::persistent`].

use crate::component::{
    ComponentError, ComponentId, Context, Extension, ExtensionConfig, Validate,
};
use crate::config::{ConfigError, Value, duration};
use crate::pipeline::BoxFuture;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// `extensions: file_storage:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileStorageConfig {
    /// Where the data lives (default `/var/lib/otelcol/file_storage`, as in the Collector).
    /// Mount a persistent volume here: an `emptyDir` is lost with the pod.
    #[serde(default = "default_directory")]
    pub directory: String,
    /// How long to wait for the lock on a queue directory held by another process (default 1s).
    #[serde(default = "default_timeout", deserialize_with = "duration::de")]
    pub timeout: Duration,
    /// `fdatasync` every write before acknowledging it (default false). Off, data survives a
    /// crash of the collector process; on, it also survives a crash of the machine.
    #[serde(default)]
    pub fsync: bool,
    /// Create `directory` (and its parents) when missing (default false).
    #[serde(default)]
    pub create_directory: bool,
    /// Permissions of a directory created by `create_directory`, in octal (default `0750`).
    #[serde(default = "default_permissions")]
    pub directory_permissions: String,
    /// Delete what is stored at start (default false): data left by a previous run is dropped.
    #[serde(default)]
    pub recreate: bool,
    /// The Collector's bbolt compaction settings: accepted, no effect (segments are deleted as
    /// soon as everything in them is delivered, so there is nothing to compact).
    #[serde(default)]
    pub compaction: Option<Value>,
}

fn default_directory() -> String {
    "/var/lib/otelcol/file_storage".into()
}
fn default_timeout() -> Duration {
    Duration::from_secs(1)
}
fn default_permissions() -> String {
    "0750".into()
}

impl FileStorageConfig {
    fn permissions(&self) -> Option<u32> {
        u32::from_str_radix(self.directory_permissions.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o7777)
    }
}

impl Validate for FileStorageConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        if self.directory.trim().is_empty() {
            e.push(ConfigError::new("must not be empty").field("directory"));
        }
        if self.permissions().is_none() {
            e.push(
                ConfigError::new(format!(
                    "invalid permissions {:?} (octal, e.g. \"0750\")",
                    self.directory_permissions
                ))
                .field("directory_permissions"),
            );
        }
        e
    }
}

impl ExtensionConfig for FileStorageConfig {
    fn build(&self, ctx: &Context) -> Result<Box<dyn Extension>, ComponentError> {
        Ok(Box::new(FileStorageExtension {
            cfg: self.clone(),
            ctx: ctx.clone(),
            handle: Arc::new(FileStorage {
                directory: PathBuf::from(&self.directory),
                fsync: self.fsync,
                timeout: self.timeout,
                recreate: self.recreate,
            }),
        }))
    }
}

/// What exporters use: where their queues go and how they write.
#[derive(Debug)]
pub struct FileStorage {
    /// The base directory.
    pub directory: PathBuf,
    /// Sync every write.
    pub fsync: bool,
    /// Lock wait.
    pub timeout: Duration,
    /// Drop old data at start.
    pub recreate: bool,
}

impl FileStorage {
    /// The directory for one component's data, named like the Collector's files
    /// (`exporter_otlp_grpc_NAME_traces`); unusual characters are replaced by `~`.
    pub fn dir_for(&self, kind: &str, id: &ComponentId, what: &str) -> PathBuf {
        let raw = format!(
            "{kind}_{}_{}_{what}",
            id.type_name(),
            id.to_string().split_once('/').map(|(_, n)| n).unwrap_or("")
        );
        let name: String = raw
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '~'
                }
            })
            .collect();
        self.directory.join(name)
    }
}

struct FileStorageExtension {
    cfg: FileStorageConfig,
    ctx: Context,
    handle: Arc<FileStorage>,
}

impl Extension for FileStorageExtension {
    fn start(&mut self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let dir = &self.handle.directory;
            if !dir.is_dir() {
                if !self.cfg.create_directory {
                    return Err(self.ctx.error(format!(
                        "directory {} does not exist (create it, mount a volume there, or set create_directory: true)",
                        dir.display()
                    )));
                }
                let mut b = std::fs::DirBuilder::new();
                b.recursive(true);
                std::os::unix::fs::DirBuilderExt::mode(
                    &mut b,
                    self.cfg.permissions().unwrap_or(0o750),
                );
                b.create(dir).map_err(|e| {
                    self.ctx
                        .error(format!("cannot create directory {}: {e}", dir.display()))
                })?;
            }
            // Fail now, not at the first request, when the directory is not writable.
            let probe = dir.join(".meshtrace-write-test");
            std::fs::write(&probe, b"")
                .and_then(|()| std::fs::remove_file(&probe))
                .map_err(|e| {
                    self.ctx
                        .error(format!("directory {} is not writable: {e}", dir.display()))
                })?;
            tracing::info!(component = %self.ctx.label(), directory = %dir.display(), fsync = self.cfg.fsync, "file storage ready");
            Ok(())
        })
    }

    fn shutdown(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    fn storage(&self) -> Option<Arc<FileStorage>> {
        Some(self.handle.clone())
    }
}
