// Shared by the meshtrace-otlp fuzz targets (included with `include!`).

use meshtrace_otlp::Signal;

/// First byte chooses the signal; the rest is the payload.
fn signal_and_payload(data: &[u8]) -> Option<(Signal, &[u8])> {
    let (&first, rest) = data.split_first()?;
    Some((Signal::ALL[usize::from(first) % 3], rest))
}
