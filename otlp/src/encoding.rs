//! Request bodies in every `Content-Encoding` the OpenTelemetry Collector's HTTP receivers
//! accept, so an agent Collector can send with whichever `compression` its exporter names:
//! `gzip`, `zstd`, `zlib` and `deflate` (both the zlib format, as HTTP and the Collector read
//! `deflate`), `snappy` (the block format, or the framed one when the body starts with its
//! stream identifier), `x-snappy-framed` and `lz4` (the frame format).
//!
//! [`decompress`] stops one byte past a caller-given cap, as [`gzip::decompress`] does, so a
//! small body cannot make the collector allocate gigabytes: a snappy block is refused on its
//! declared length before any allocation, and a zstd frame may not ask for a window larger
//! than the cap needs.

use std::io::Read;

use crate::gzip::{self, GzipError};

/// A request body's `Content-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContentEncoding {
    /// No header, an empty one, or `identity`.
    Identity,
    /// `gzip` (and `x-gzip`).
    Gzip,
    /// `zlib` or `deflate`: the zlib format (RFC 1950).
    Zlib,
    /// `zstd`.
    Zstd,
    /// `snappy`: a snappy block, or a framed stream (told apart by its first bytes).
    Snappy,
    /// `x-snappy-framed`: the snappy framing format.
    SnappyFramed,
    /// `lz4`: the LZ4 frame format.
    Lz4,
}

/// The encodings [`ContentEncoding::parse`] knows, for error messages.
pub const SUPPORTED: &str = "gzip, zstd, zlib, deflate, snappy, x-snappy-framed, lz4";

impl ContentEncoding {
    /// The encoding a `Content-Encoding` header value names (case-insensitive, surrounding
    /// whitespace ignored); `None` when it is not one of [`SUPPORTED`].
    ///
    /// ```
    /// use meshtrace_otlp::encoding::ContentEncoding;
    /// assert_eq!(ContentEncoding::parse(" GZIP"), Some(ContentEncoding::Gzip));
    /// assert_eq!(ContentEncoding::parse("br"), None);
    /// ```
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        Some(match value.to_ascii_lowercase().as_str() {
            "" | "identity" => ContentEncoding::Identity,
            "gzip" | "x-gzip" => ContentEncoding::Gzip,
            "zlib" | "deflate" => ContentEncoding::Zlib,
            "zstd" => ContentEncoding::Zstd,
            "snappy" => ContentEncoding::Snappy,
            "x-snappy-framed" => ContentEncoding::SnappyFramed,
            "lz4" => ContentEncoding::Lz4,
            _ => return None,
        })
    }

    /// The encoding's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            ContentEncoding::Identity => "identity",
            ContentEncoding::Gzip => "gzip",
            ContentEncoding::Zlib => "zlib",
            ContentEncoding::Zstd => "zstd",
            ContentEncoding::Snappy => "snappy",
            ContentEncoding::SnappyFramed => "x-snappy-framed",
            ContentEncoding::Lz4 => "lz4",
        }
    }
}

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecompressError {
    /// The decompressed body would exceed the cap (HTTP 413).
    #[error("decompressed body exceeds {limit} bytes")]
    TooLarge {
        /// The cap in force.
        limit: usize,
    },
    /// Not valid data in that encoding (HTTP 400).
    #[error("invalid {encoding} data: {reason}")]
    Invalid {
        /// The encoding's name.
        encoding: &'static str,
        /// What was wrong.
        reason: String,
    },
}

/// The stream identifier chunk that starts every snappy framed stream.
const SNAPPY_STREAM_ID: &[u8] = b"\xff\x06\x00\x00sNaPpY";

/// Decodes `input` in `encoding` into at most `max_output` bytes.
///
/// ```
/// use meshtrace_otlp::encoding::{ContentEncoding, decompress};
/// let block = snap::raw::Encoder::new().compress_vec(b"hello").unwrap();
/// assert_eq!(decompress(ContentEncoding::Snappy, &block, 1024).unwrap(), b"hello");
/// ```
pub fn decompress(
    encoding: ContentEncoding,
    input: &[u8],
    max_output: usize,
) -> Result<Vec<u8>, DecompressError> {
    let invalid = |reason: String| DecompressError::Invalid {
        encoding: encoding.name(),
        reason,
    };
    match encoding {
        ContentEncoding::Identity => {
            if input.len() > max_output {
                return Err(DecompressError::TooLarge { limit: max_output });
            }
            Ok(input.to_vec())
        }
        // gzip's own function (also used alone): its errors tell truncation apart.
        ContentEncoding::Gzip => gzip::decompress(input, max_output).map_err(|e| match e {
            GzipError::TooLarge { limit } => DecompressError::TooLarge { limit },
            other => invalid(other.to_string()),
        }),
        ContentEncoding::Zlib => read_capped(
            flate2::read::ZlibDecoder::new(input),
            input.len(),
            max_output,
        )
        .map_err(|e| e.or_invalid(invalid)),
        ContentEncoding::Zstd => {
            let mut decoder =
                zstd::stream::read::Decoder::new(input).map_err(|e| invalid(e.to_string()))?;
            decoder
                .window_log_max(zstd_window_log(max_output))
                .map_err(|e| invalid(e.to_string()))?;
            read_capped(decoder, input.len(), max_output).map_err(|e| e.or_invalid(invalid))
        }
        ContentEncoding::Snappy if !input.starts_with(SNAPPY_STREAM_ID) => {
            let len = snap::raw::decompress_len(input).map_err(|e| invalid(e.to_string()))?;
            if len > max_output {
                return Err(DecompressError::TooLarge { limit: max_output });
            }
            snap::raw::Decoder::new()
                .decompress_vec(input)
                .map_err(|e| invalid(e.to_string()))
        }
        ContentEncoding::Snappy | ContentEncoding::SnappyFramed => read_capped(
            snap::read::FrameDecoder::new(input),
            input.len(),
            max_output,
        )
        .map_err(|e| e.or_invalid(invalid)),
        ContentEncoding::Lz4 => read_capped(
            lz4_flex::frame::FrameDecoder::new(input),
            input.len(),
            max_output,
        )
        .map_err(|e| e.or_invalid(invalid)),
    }
}

/// The largest zstd window a frame may ask for: what the cap needs, at least 8 MiB (what
/// streaming encoders declare at their default levels whatever the content: 2 MiB at level 3,
/// 8 MiB at the higher ones) and at most zstd's own default limit, 128 MiB.
fn zstd_window_log(max_output: usize) -> u32 {
    let needed = usize::BITS - max_output.saturating_sub(1).leading_zeros();
    needed.clamp(23, 27)
}

/// Why [`read_capped`] stopped.
pub(crate) enum ReadError {
    /// Past the cap.
    TooLarge(usize),
    /// The decoder failed.
    Io(std::io::Error),
}

impl ReadError {
    fn or_invalid(self, invalid: impl Fn(String) -> DecompressError) -> DecompressError {
        match self {
            ReadError::TooLarge(limit) => DecompressError::TooLarge { limit },
            ReadError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                invalid("truncated data".into())
            }
            ReadError::Io(e) => invalid(e.to_string()),
        }
    }
}

/// Reads a decoder to its end, one byte past `max_output` at most (every encoding, gzip's
/// too, goes through here).
pub(crate) fn read_capped(
    reader: impl Read,
    input_len: usize,
    max_output: usize,
) -> Result<Vec<u8>, ReadError> {
    // Start from a guess (protobuf usually compresses 3-10x) and let the Vec grow.
    let guess = input_len.saturating_mul(4).min(max_output).min(64 << 20);
    let mut out = Vec::with_capacity(guess);
    let cap = u64::try_from(max_output)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(ReadError::Io)?;
    if out.len() > max_output {
        return Err(ReadError::TooLarge(max_output));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
