//! The persistent queue's on-disk format: segment files of framed records, and the ack file.
//! Pure functions over bytes (no I/O), so recovery can be unit-tested and fuzzed.
//!
//! A record (all integers little-endian):
//!
//! ```text
//! 0   magic   "MTq1"
//! 4   crc     CRC32C of bytes 8..end (length, sequence, signal, payload)
//! 8   len     u32, payload length
//! 12  seq     u64, the record's sequence number (strictly increasing across segments)
//! 20  signal  u8: 0 traces, 1 metrics, 2 logs
//! 21  payload an encoded Export*ServiceRequest
//! ```
//!
//! The ack file holds `"MTa1"`, the low watermark (u64: every record below it was delivered
//! or given up on) and a CRC32C of the watermark.
//!
//! Reading a segment back ([`scan`]) never trusts a length it has not checked: a record is
//! accepted only when its magic, length and CRC agree. After a bad frame the scanner looks
//! for the next offset where a whole valid record starts, so one corrupt record does not hide
//! the good ones after it. Bytes at the end that do not form a whole record are reported as a
//! truncated tail: a write cut short by a crash, which was never acknowledged.

use crate::otlp::Signal;

/// Starts every record.
pub const MAGIC: [u8; 4] = *b"MTq1";
/// Starts the ack file.
pub const ACK_MAGIC: [u8; 4] = *b"MTa1";
/// Bytes before the payload.
pub const HEADER_LEN: usize = 21;
/// Length of the ack file.
pub const ACK_LEN: usize = 16;
/// Largest payload accepted when reading back: anything larger is a corrupt length.
pub const MAX_PAYLOAD: usize = 1 << 30;

const fn crc_table() -> [u32; 256] {
    // CRC32C (Castagnoli), reflected polynomial.
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
            k += 1;
        }
        // A const fn cannot use `get_mut`; `i < 256` by the loop condition.
        #[allow(clippy::indexing_slicing)]
        {
            t[i] = c;
        }
        i += 1;
    }
    t
}

static CRC_TABLE: [u32; 256] = crc_table();

/// Continues a CRC32C over `data` (start with `0`).
pub fn crc32c_update(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in data {
        let idx = usize::from((c as u8) ^ b);
        c = (c >> 8) ^ CRC_TABLE.get(idx).copied().unwrap_or(0);
    }
    !c
}

/// CRC32C of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c_update(0, data)
}

fn signal_byte(s: Signal) -> u8 {
    match s {
        Signal::Traces => 0,
        Signal::Metrics => 1,
        Signal::Logs => 2,
    }
}

fn byte_signal(b: u8) -> Option<Signal> {
    match b {
        0 => Some(Signal::Traces),
        1 => Some(Signal::Metrics),
        2 => Some(Signal::Logs),
        _ => None,
    }
}

/// Appends one framed record to `out`. `payload` must be under 4 GiB (the queue refuses
/// larger batches before calling this).
pub fn encode_record(out: &mut Vec<u8>, seq: u64, signal: Signal, payload: &[u8]) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let start = out.len();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.push(signal_byte(signal));
    out.extend_from_slice(payload);
    let crc = crc32c(out.get(start + 8..).unwrap_or_default());
    if let Some(slot) = out.get_mut(start + 4..start + 8) {
        slot.copy_from_slice(&crc.to_le_bytes());
    }
}

/// One good record found in a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// Offset of the record's first byte in the segment.
    pub offset: usize,
    /// Sequence number.
    pub seq: u64,
    /// Signal.
    pub signal: Signal,
    /// The encoded request.
    pub payload: &'a [u8],
}

impl Record<'_> {
    /// Bytes the whole frame takes.
    pub fn frame_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }
}

/// What [`scan`] finds, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry<'a> {
    /// A record whose frame and CRC are intact.
    Record(Record<'a>),
    /// `len` bytes at `offset` that are not valid records (skipped).
    Corrupt {
        /// Where the bad bytes start.
        offset: usize,
        /// How many bytes were skipped.
        len: usize,
    },
    /// An incomplete record at the end of the segment (a write cut short).
    Truncated {
        /// Where it starts.
        offset: usize,
        /// Its length.
        len: usize,
    },
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = buf.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

fn u64_at(buf: &[u8], at: usize) -> Option<u64> {
    let b: [u8; 8] = buf.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

/// How a frame at some offset looks.
enum Frame<'a> {
    Good(Record<'a>),
    /// Looks like the start of a record that runs past the end of the buffer.
    Incomplete,
    Bad,
}

/// Decodes the frame at `at`.
fn frame_at(buf: &[u8], at: usize) -> Frame<'_> {
    let Some(rest) = buf.get(at..) else {
        return Frame::Bad;
    };
    if rest.len() < HEADER_LEN {
        // Too short for a header: incomplete if what is there is a prefix of a header.
        let m = rest.len().min(4);
        return if rest.get(..m) == MAGIC.get(..m) {
            Frame::Incomplete
        } else {
            Frame::Bad
        };
    }
    if rest.get(..4) != Some(&MAGIC[..]) {
        return Frame::Bad;
    }
    let (Some(crc), Some(len), Some(seq)) = (u32_at(rest, 4), u32_at(rest, 8), u64_at(rest, 12))
    else {
        return Frame::Bad;
    };
    let len = len as usize;
    if len > MAX_PAYLOAD {
        return Frame::Bad;
    }
    let Some(body) = rest.get(8..HEADER_LEN + len) else {
        return Frame::Incomplete;
    };
    if crc32c(body) != crc {
        return Frame::Bad;
    }
    let Some(signal) = rest.get(20).copied().and_then(byte_signal) else {
        return Frame::Bad;
    };
    Frame::Good(Record {
        offset: at,
        seq,
        signal,
        payload: rest.get(HEADER_LEN..HEADER_LEN + len).unwrap_or_default(),
    })
}

/// The next offset after `from` where a whole valid record starts.
fn resync(buf: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(rest) = buf.get(at..) {
        let i = rest.windows(4).position(|w| w == MAGIC)?;
        let cand = at + i;
        if let Frame::Good(_) = frame_at(buf, cand) {
            return Some(cand);
        }
        at = cand + 1;
    }
    None
}

/// The record that `buf` holds exactly (one whole frame, nothing after it), if intact.
pub fn decode_exact(buf: &[u8]) -> Option<Record<'_>> {
    match frame_at(buf, 0) {
        Frame::Good(r) if r.frame_len() == buf.len() => Some(r),
        _ => None,
    }
}

/// Splits a segment's bytes into good records and the regions that are not.
pub fn scan(buf: &[u8]) -> Vec<Entry<'_>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        match frame_at(buf, at) {
            Frame::Good(r) => {
                at += r.frame_len();
                out.push(Entry::Record(r));
            }
            Frame::Incomplete => match resync(buf, at + 1) {
                // A bad length that happened to point past the end: corrupt, not truncated.
                Some(next) => {
                    out.push(Entry::Corrupt {
                        offset: at,
                        len: next - at,
                    });
                    at = next;
                }
                None => {
                    out.push(Entry::Truncated {
                        offset: at,
                        len: buf.len() - at,
                    });
                    break;
                }
            },
            Frame::Bad => {
                let next = resync(buf, at + 1).unwrap_or(buf.len());
                out.push(Entry::Corrupt {
                    offset: at,
                    len: next - at,
                });
                at = next;
            }
        }
    }
    out
}

/// The ack file's bytes for `watermark`.
pub fn encode_ack(watermark: u64) -> [u8; ACK_LEN] {
    let mut out = [0u8; ACK_LEN];
    let w = watermark.to_le_bytes();
    let crc = crc32c(&w).to_le_bytes();
    for (dst, src) in out
        .iter_mut()
        .zip(ACK_MAGIC.iter().chain(w.iter()).chain(crc.iter()))
    {
        *dst = *src;
    }
    out
}

/// The watermark in an ack file, or `None` when it is not a valid one.
pub fn decode_ack(buf: &[u8]) -> Option<u64> {
    if buf.len() != ACK_LEN || buf.get(..4) != Some(&ACK_MAGIC[..]) {
        return None;
    }
    let w = u64_at(buf, 4)?;
    (crc32c(buf.get(4..12)?) == u32_at(buf, 12)?).then_some(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(records: &[(u64, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (seq, p) in records {
            encode_record(&mut out, *seq, Signal::Traces, p);
        }
        out
    }

    fn seqs(entries: &[Entry<'_>]) -> Vec<String> {
        entries
            .iter()
            .map(|e| match e {
                Entry::Record(r) => format!("r{}", r.seq),
                Entry::Corrupt { offset, len } => format!("corrupt@{offset}+{len}"),
                Entry::Truncated { offset, len } => format!("truncated@{offset}+{len}"),
            })
            .collect()
    }

    #[test]
    fn crc32c_check_value() {
        // The standard check value of CRC-32C.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c_update(crc32c(b"1234"), b"56789"), 0xE306_9283);
    }

    #[test]
    fn round_trip() {
        let buf = seg(&[(1, b"abc"), (2, b""), (3, &[0xff; 300])]);
        let e = scan(&buf);
        assert_eq!(seqs(&e), ["r1", "r2", "r3"]);
        let Entry::Record(r) = &e[2] else { panic!() };
        assert_eq!((r.payload.len(), r.signal), (300, Signal::Traces));
        assert!(scan(&[]).is_empty());
    }

    #[test]
    fn a_torn_last_record_is_a_truncated_tail() {
        let buf = seg(&[(1, b"abc"), (2, b"defgh")]);
        let first = HEADER_LEN + 3;
        for cut in first + 1..buf.len() {
            assert_eq!(
                seqs(&scan(&buf[..cut])),
                [
                    "r1".to_owned(),
                    format!("truncated@{first}+{}", cut - first)
                ],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_corrupt_record_is_skipped_and_the_ones_after_it_kept() {
        let buf = seg(&[(1, b"first"), (2, b"second"), (3, b"third")]);
        let second = HEADER_LEN + 5;
        let third = second + HEADER_LEN + 6;
        // Flip one bit anywhere in the second record: payload, header, magic or length.
        for i in second..third {
            let mut bad = buf.clone();
            bad[i] ^= 0x10;
            assert_eq!(
                seqs(&scan(&bad)),
                [
                    "r1".to_owned(),
                    format!("corrupt@{second}+{}", third - second),
                    "r3".to_owned()
                ],
                "bit flip at {i}"
            );
        }
    }

    #[test]
    fn garbage_before_and_between_records() {
        let mut buf = b"garbage".to_vec();
        buf.extend(seg(&[(7, b"x")]));
        buf.extend_from_slice(b"MTq1 but not a record");
        buf.extend(seg(&[(8, b"y")]));
        assert_eq!(
            seqs(&scan(&buf)),
            ["corrupt@0+7", "r7", "corrupt@29+21", "r8"]
        );
        // A huge declared length that runs past the end, followed by a good record.
        let mut buf = seg(&[(1, b"a")]);
        let at = buf.len();
        buf.extend_from_slice(&MAGIC);
        buf.extend_from_slice(&[0; 4]);
        buf.extend_from_slice(&u32::MAX.to_le_bytes());
        buf.extend_from_slice(&[0; 9]);
        buf.extend(seg(&[(2, b"b")]));
        assert_eq!(
            seqs(&scan(&buf)),
            ["r1".to_owned(), format!("corrupt@{at}+21"), "r2".to_owned()]
        );
    }

    #[test]
    fn ack_file() {
        assert_eq!(decode_ack(&encode_ack(42)), Some(42));
        let mut bad = encode_ack(42);
        bad[5] ^= 1;
        assert_eq!(decode_ack(&bad), None);
        assert_eq!(decode_ack(&encode_ack(42)[..15]), None);
        assert_eq!(decode_ack(b""), None);
    }
}
