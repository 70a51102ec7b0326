//! Where log lines go (`output_paths`), and the fields added to each (`initial_fields`).

use crate::config::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, IsTerminal as _, Write};
use std::sync::Arc;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// One entry of `output_paths`, as the Collector (zap) reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// `stdout`.
    Stdout,
    /// `stderr`.
    Stderr,
    /// A file path, or a `file://` URL's path; lines are appended.
    File(String),
}

impl Output {
    /// Reads one entry; the error says why it is refused.
    pub fn parse(entry: &str) -> Result<Self, String> {
        match entry {
            "stdout" => return Ok(Self::Stdout),
            "stderr" => return Ok(Self::Stderr),
            "" => return Err("an empty log output (use stderr, stdout or a file path)".into()),
            _ => {}
        }
        if let Some(rest) = entry.strip_prefix("file://") {
            // zap takes `file:///abs/path` and `file://localhost/abs/path`.
            let path = rest.strip_prefix("localhost").unwrap_or(rest);
            return if path.starts_with('/') {
                Ok(Self::File(path.to_owned()))
            } else {
                Err(format!(
                    "a file URL names a local absolute path (file:///var/log/otelcol.log), not {entry:?}"
                ))
            };
        }
        if let Some((scheme, _)) = entry.split_once("://") {
            return Err(format!(
                "log outputs of scheme {scheme:?} are not supported (use stderr, stdout, a file path or file:///path)"
            ));
        }
        Ok(Self::File(entry.to_owned()))
    }
}

#[derive(Debug)]
enum Sink {
    Stdout,
    Stderr,
    File(File),
}

/// Every output the lines go to; the [`MakeWriter`] of the format layer.
#[derive(Debug, Clone)]
pub struct Outputs(Arc<[Sink]>);

impl Outputs {
    /// Opens the outputs (stderr when none is given); a file is created if missing and
    /// appended to. The error names the entry's index and why it failed.
    pub fn open(entries: &[String]) -> Result<Self, (usize, String)> {
        if entries.is_empty() {
            return Ok(Self(Arc::from([Sink::Stderr])));
        }
        let mut sinks = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let sink = match Output::parse(entry).map_err(|e| (i, e))? {
                Output::Stdout => Sink::Stdout,
                Output::Stderr => Sink::Stderr,
                Output::File(path) => File::options()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map(Sink::File)
                    .map_err(|e| (i, format!("cannot open the log file {path}: {e}")))?,
            };
            sinks.push(sink);
        }
        Ok(Self(sinks.into()))
    }

    /// True when every line goes to one terminal, the only place colors belong.
    pub fn is_one_terminal(&self) -> bool {
        match &*self.0 {
            [Sink::Stdout] => io::stdout().is_terminal(),
            [Sink::Stderr] => io::stderr().is_terminal(),
            _ => false,
        }
    }
}

impl<'a> MakeWriter<'a> for Outputs {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(&self.0)
    }
}

/// Writes each line to every output. A failing output does not keep the line from the others,
/// and nothing reports the failure: the log is where it would be reported.
pub struct LineWriter<'a>(&'a [Sink]);

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for sink in self.0 {
            // One write call per line, so lines from several threads do not interleave in a
            // file opened for appending.
            let _ = match sink {
                Sink::Stdout => io::stdout().lock().write_all(buf),
                Sink::Stderr => io::stderr().lock().write_all(buf),
                Sink::File(f) => (&*f).write_all(buf),
            };
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An event format that adds `initial_fields` to every line: at the front of a JSON object,
/// at the end of a console line.
#[derive(Debug)]
pub struct WithFields<F> {
    inner: F,
    json: bool,
    /// `"k":v,` for JSON, ` k=v` for console; empty when there are no fields.
    text: String,
}

impl<F> WithFields<F> {
    /// `inner` with `fields` added to its lines.
    pub fn new(inner: F, fields: &BTreeMap<String, Value>, json: bool) -> Self {
        let mut text = String::new();
        for (k, v) in fields {
            let value = v.to_json();
            if json {
                text.push_str(&serde_json::Value::String(k.clone()).to_string());
                text.push(':');
                text.push_str(&value.to_string());
                text.push(',');
            } else {
                text.push(' ');
                text.push_str(k);
                text.push('=');
                match value {
                    serde_json::Value::String(s) => text.push_str(&s),
                    other => text.push_str(&other.to_string()),
                }
            }
        }
        Self { inner, json, text }
    }
}

impl<S, N, F> FormatEvent<S, N> for WithFields<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if self.text.is_empty() {
            return self.inner.format_event(ctx, writer, event);
        }
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        if self.json {
            match line.strip_prefix('{') {
                Some(rest) => {
                    writer.write_char('{')?;
                    writer.write_str(&self.text)?;
                    writer.write_str(rest)
                }
                None => writer.write_str(&line),
            }
        } else {
            let body = line.strip_suffix('\n').unwrap_or(&line);
            writer.write_str(body)?;
            writer.write_str(&self.text)?;
            writer.write_char('\n')
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("meshtrace-logs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn formatted(json: bool, fields: &str) -> String {
        use super::super::testing::Lines;
        use tracing_subscriber::layer::SubscriberExt as _;
        let fields: BTreeMap<String, Value> = match crate::config::value::from_yaml(fields).unwrap()
        {
            Value::Map(m) => m.into_iter().collect(),
            _ => BTreeMap::new(),
        };
        let lines = Lines::default();
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .without_time()
            .with_writer(lines.clone());
        let layer = if json {
            tracing_subscriber::Layer::boxed(layer.json().event_format(WithFields::new(
                fmt_json(),
                &fields,
                true,
            )))
        } else {
            tracing_subscriber::Layer::boxed(layer.event_format(WithFields::new(
                tracing_subscriber::fmt::format().without_time(),
                &fields,
                false,
            )))
        };
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(component = "otlp", "Everything is ready.");
        });
        lines.text()
    }

    fn fmt_json()
    -> tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Json, ()> {
        tracing_subscriber::fmt::format().json().without_time()
    }

    #[test]
    fn initial_fields_are_on_every_line() {
        let target = "meshtrace_collector::telemetry::logs::output::tests";
        let cases = [
            (
                false,
                "{}",
                format!(" INFO {target}: Everything is ready. component=\"otlp\"\n"),
            ),
            (
                false,
                "{service: gateway, replica: 2, canary: false}",
                format!(
                    " INFO {target}: Everything is ready. component=\"otlp\" canary=false replica=2 service=gateway\n"
                ),
            ),
            (
                true,
                "{}",
                format!(
                    "{{\"level\":\"INFO\",\"fields\":{{\"message\":\"Everything is ready.\",\"component\":\"otlp\"}},\"target\":\"{target}\"}}\n"
                ),
            ),
            (
                true,
                "{service: gateway, replica: 2, \"a\\\"b\": [1, x]}",
                format!(
                    "{{\"a\\\"b\":[1,\"x\"],\"replica\":2,\"service\":\"gateway\",\"level\":\"INFO\",\"fields\":{{\"message\":\"Everything is ready.\",\"component\":\"otlp\"}},\"target\":\"{target}\"}}\n"
                ),
            ),
        ];
        for (json, fields, want) in cases {
            let got = formatted(json, fields);
            assert_eq!(got, want, "json {json}, fields {fields}");
            if json {
                serde_json::from_str::<serde_json::Value>(&got).unwrap();
            }
        }
    }

    #[test]
    fn outputs_as_the_collector_reads_them() {
        let cases: &[(&str, Result<Output, &str>)] = &[
            ("stderr", Ok(Output::Stderr)),
            ("stdout", Ok(Output::Stdout)),
            (
                "/var/log/otelcol.log",
                Ok(Output::File("/var/log/otelcol.log".into())),
            ),
            (
                "logs/otelcol.log",
                Ok(Output::File("logs/otelcol.log".into())),
            ),
            (
                "file:///var/log/a.log",
                Ok(Output::File("/var/log/a.log".into())),
            ),
            (
                "file://localhost/var/log/a.log",
                Ok(Output::File("/var/log/a.log".into())),
            ),
            (
                "file://host/var/log/a.log",
                Err("a file URL names a local absolute path"),
            ),
            (
                "http://logs:8080",
                Err("log outputs of scheme \"http\" are not supported"),
            ),
            ("", Err("an empty log output")),
        ];
        for (entry, want) in cases {
            let got = Output::parse(entry);
            match (want, &got) {
                (Ok(w), Ok(g)) => assert_eq!(w, g, "{entry}"),
                (Err(w), Err(g)) => assert!(g.starts_with(w), "{entry}: {g}"),
                _ => panic!("{entry}: {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn every_line_goes_to_every_output() {
        let dir = scratch("every");
        let a = dir.join("a.log");
        let b = dir.join("b.log");
        std::fs::write(&a, "earlier\n").unwrap();
        let outputs =
            Outputs::open(&[a.display().to_string(), format!("file://{}", b.display())]).unwrap();
        assert!(!outputs.is_one_terminal());
        outputs.make_writer().write_all(b"one\n").unwrap();
        outputs.make_writer().write_all(b"two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "earlier\none\ntwo\n");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "one\ntwo\n");
    }

    #[test]
    fn an_output_that_cannot_be_opened_is_named_by_its_index() {
        let missing = scratch("missing").join("no/such/dir/x.log");
        let err = Outputs::open(&["stderr".into(), missing.display().to_string()]).unwrap_err();
        assert_eq!(err.0, 1);
        assert!(err.1.starts_with("cannot open the log file "), "{}", err.1);
        assert!(err.1.contains("No such file or directory"), "{}", err.1);
        assert_eq!(Outputs::open(&["ftp://x".into()]).unwrap_err().0, 0);
    }
}
