use std::io::Write;

use super::{ContentEncoding as E, DecompressError, decompress, zstd_window_log};

/// `data` encoded as `enc` by the reference encoder of each format.
fn encode(enc: E, data: &[u8]) -> Vec<u8> {
    match enc {
        E::Identity => data.to_vec(),
        E::Gzip => crate::gzip::compress(data, 6),
        E::Zlib => {
            let mut w = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            w.write_all(data).unwrap();
            w.finish().unwrap()
        }
        E::Zstd => zstd::encode_all(data, 3).unwrap(),
        E::Snappy => snap::raw::Encoder::new().compress_vec(data).unwrap(),
        E::SnappyFramed => {
            let mut w = snap::write::FrameEncoder::new(Vec::new());
            w.write_all(data).unwrap();
            w.into_inner().unwrap()
        }
        E::Lz4 => {
            let mut w = lz4_flex::frame::FrameEncoder::new(Vec::new());
            w.write_all(data).unwrap();
            w.finish().unwrap()
        }
    }
}

const ALL: [E; 7] = [
    E::Identity,
    E::Gzip,
    E::Zlib,
    E::Zstd,
    E::Snappy,
    E::SnappyFramed,
    E::Lz4,
];

fn sample() -> Vec<u8> {
    (0..20_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect()
}

#[test]
fn header_values() {
    let cases = [
        ("", Some(E::Identity)),
        ("identity", Some(E::Identity)),
        ("gzip", Some(E::Gzip)),
        ("GZIP", Some(E::Gzip)),
        (" x-gzip ", Some(E::Gzip)),
        ("deflate", Some(E::Zlib)),
        ("zlib", Some(E::Zlib)),
        ("zstd", Some(E::Zstd)),
        ("Zstd", Some(E::Zstd)),
        ("snappy", Some(E::Snappy)),
        ("x-snappy-framed", Some(E::SnappyFramed)),
        ("lz4", Some(E::Lz4)),
        ("br", None),
        ("gzip, zstd", None),
    ];
    for (value, want) in cases {
        assert_eq!(E::parse(value), want, "{value:?}");
    }
}

#[test]
fn every_encoding_reads_back_up_to_the_cap_and_not_past_it() {
    let data = sample();
    for enc in ALL {
        let body = encode(enc, &data);
        assert_eq!(decompress(enc, &body, data.len()).unwrap(), data, "{enc:?}");
        assert_eq!(
            decompress(enc, &body, data.len() - 1),
            Err(DecompressError::TooLarge {
                limit: data.len() - 1
            }),
            "{enc:?}"
        );
    }
    // `snappy` also reads the framed format, told apart by its stream identifier.
    let framed = encode(E::SnappyFramed, &data);
    assert_eq!(decompress(E::Snappy, &framed, data.len()).unwrap(), data);
}

#[test]
fn small_bodies_that_inflate_past_the_cap_are_refused() {
    let zeros = vec![0u8; 16 << 20];
    for enc in ALL {
        let body = encode(enc, &zeros);
        if enc != E::Identity {
            assert!(body.len() < 1 << 20, "{enc:?}: {} bytes", body.len());
        }
        assert_eq!(
            decompress(enc, &body, 1 << 20),
            Err(DecompressError::TooLarge { limit: 1 << 20 }),
            "{enc:?}"
        );
    }
    // A snappy block that only claims a huge length is refused on the claim.
    let claim = [0x80, 0x80, 0x80, 0x80, 0x08, 0x00];
    assert_eq!(
        decompress(E::Snappy, &claim, 1 << 20),
        Err(DecompressError::TooLarge { limit: 1 << 20 })
    );
}

#[test]
fn corrupt_or_truncated_bodies_are_invalid() {
    let data = sample();
    for enc in ALL.into_iter().filter(|e| *e != E::Identity) {
        let body = encode(enc, &data);
        let truncated = &body[..body.len() / 2];
        let garbage = b"definitely not compressed data";
        for bad in [truncated, &garbage[..]] {
            match decompress(enc, bad, 1 << 20) {
                Err(DecompressError::Invalid { encoding, .. }) => {
                    assert_eq!(encoding, enc.name())
                }
                other => panic!("{enc:?}: {other:?}"),
            }
        }
    }
}

#[test]
fn a_zstd_frame_may_not_ask_for_more_window_than_the_cap_needs() {
    assert_eq!(zstd_window_log(1), 23);
    assert_eq!(zstd_window_log(20 << 20), 25);
    assert_eq!(zstd_window_log(1 << 30), 27);
    let data = sample();
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    enc.window_log(27).unwrap();
    enc.write_all(&data).unwrap();
    let wide = enc.finish().unwrap();
    assert!(matches!(
        decompress(E::Zstd, &wide, 1 << 20),
        Err(DecompressError::Invalid { .. })
    ));
    assert_eq!(decompress(E::Zstd, &wide, 200 << 20).unwrap(), data);
}
