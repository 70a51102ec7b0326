//! gzip for request and response bodies (`Content-Encoding: gzip`, gRPC `grpc-encoding: gzip`).
//!
//! [`decompress`] stops at a caller-given output cap, so a small "gzip bomb" cannot make the
//! collector allocate gigabytes: decompression stops one byte past the cap and fails with
//! [`GzipError::TooLarge`] (answer HTTP 413 / gRPC `RESOURCE_EXHAUSTED`). Concatenated gzip
//! members (RFC 1952 §2.2, what `cat a.gz b.gz` produces) decode as one stream.

use std::io::Write;

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use crate::encoding::ReadError;

/// Why a gzip body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GzipError {
    /// The decompressed data would exceed the cap.
    #[error("decompressed body exceeds {limit} bytes")]
    TooLarge {
        /// The cap in force.
        limit: usize,
    },
    /// The stream ends before its trailer (or the input is empty).
    #[error("truncated gzip data")]
    Truncated,
    /// Not gzip, or corrupt (bad header, bad deflate data, CRC or length mismatch).
    #[error("corrupt gzip data: {0}")]
    Corrupt(String),
}

/// Decompresses a gzip body (one or more members) of at most `max_output` bytes.
///
/// ```
/// use meshtrace_otlp::gzip;
/// let gz = gzip::compress(b"hello", 6);
/// assert_eq!(gzip::decompress(&gz, 1024).unwrap(), b"hello");
/// assert!(matches!(gzip::decompress(&gz, 4), Err(gzip::GzipError::TooLarge { limit: 4 })));
/// ```
pub fn decompress(input: &[u8], max_output: usize) -> Result<Vec<u8>, GzipError> {
    if input.is_empty() {
        return Err(GzipError::Truncated);
    }
    crate::encoding::read_capped(MultiGzDecoder::new(input), input.len(), max_output).map_err(|e| {
        match e {
            ReadError::TooLarge(limit) => GzipError::TooLarge { limit },
            ReadError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                GzipError::Truncated
            }
            ReadError::Io(e) => GzipError::Corrupt(e.to_string()),
        }
    })
}

/// Compresses `input` as one gzip member at `level` (0 = store … 9 = best; above 9 means 9).
pub fn compress(input: &[u8], level: u32) -> Vec<u8> {
    compress_after(Vec::with_capacity(input.len() / 4 + 64), input, level)
}

/// Appends `input`, compressed as one gzip member at `level`, to `out` and returns it: lets a
/// caller put a frame header (a gRPC message prefix) in front without copying the result.
///
/// ```
/// use meshtrace_otlp::gzip;
/// let framed = gzip::compress_after(vec![0; 5], b"hello", 1);
/// assert_eq!(gzip::decompress(&framed[5..], 1024).unwrap(), b"hello");
/// ```
pub fn compress_after(mut out: Vec<u8>, input: &[u8], level: u32) -> Vec<u8> {
    out.reserve(input.len() / 4 + 64);
    let mut enc = GzEncoder::new(out, Compression::new(level.min(9)));
    // Writing into a Vec cannot fail; an empty result would only hide an impossible error.
    enc.write_all(input)
        .and_then(|()| enc.finish())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_levels() {
        let data: Vec<u8> = (0..20_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for level in [0, 1, 6, 9, 42] {
            let gz = compress(&data, level);
            assert_eq!(decompress(&gz, data.len()).unwrap(), data, "level {level}");
        }
    }

    #[test]
    fn bomb_stops_at_the_cap() {
        // 4 MiB of zeros compresses to ~4 KiB: a 1000x bomb.
        let zeros = vec![0u8; 4 << 20];
        let gz = compress(&zeros, 6);
        assert!(gz.len() < 16 << 10, "{}", gz.len());
        assert_eq!(
            decompress(&gz, 1 << 20),
            Err(GzipError::TooLarge { limit: 1 << 20 })
        );
        // Exactly at the cap is fine.
        assert_eq!(decompress(&gz, 4 << 20).unwrap().len(), 4 << 20);
        assert_eq!(
            decompress(&gz, (4 << 20) - 1),
            Err(GzipError::TooLarge {
                limit: (4 << 20) - 1
            })
        );
    }

    #[test]
    fn multi_member() {
        let mut gz = compress(b"hello ", 6);
        gz.extend(compress(b"world", 1));
        assert_eq!(decompress(&gz, 100).unwrap(), b"hello world");
        assert_eq!(decompress(&gz, 8), Err(GzipError::TooLarge { limit: 8 }));
    }

    #[test]
    fn corrupt_and_truncated() {
        let gz = compress(b"some payload that is long enough to matter", 6);
        assert_eq!(decompress(&[], 100), Err(GzipError::Truncated));
        for cut in [1, 5, 10, gz.len() / 2, gz.len() - 1] {
            let r = decompress(&gz[..cut], 1000);
            assert!(
                matches!(r, Err(GzipError::Truncated | GzipError::Corrupt(_))),
                "cut {cut}: {r:?}"
            );
        }
        assert!(matches!(
            decompress(b"not gzip at all", 100),
            Err(GzipError::Corrupt(_))
        ));
        // Flip a byte in the CRC.
        let mut bad = gz.clone();
        let n = bad.len();
        bad[n - 6] ^= 0xff;
        assert!(matches!(decompress(&bad, 1000), Err(GzipError::Corrupt(_))));
        // Trailing garbage after a valid member.
        let mut trailing = gz.clone();
        trailing.extend_from_slice(b"garbage!garbage!");
        assert!(decompress(&trailing, 1000).is_err());
    }
}
