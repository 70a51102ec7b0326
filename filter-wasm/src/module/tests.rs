//! The export rewrite on small hand-made modules (exact bytes) and on any bytes (never a
//! panic).

use super::*;

/// `(name, kind, index)` as an export entry.
fn export(name: &str, kind: u8, index: u32) -> Vec<u8> {
    let mut e = Vec::new();
    write_u32(&mut e, name.len() as u32);
    e.extend_from_slice(name.as_bytes());
    e.push(kind);
    write_u32(&mut e, index);
    e
}

fn section(id: u8, body: &[u8]) -> Vec<u8> {
    let mut s = vec![id];
    write_u32(&mut s, body.len() as u32);
    s.extend_from_slice(body);
    s
}

fn exports(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    write_u32(&mut body, entries.len() as u32);
    for e in entries {
        body.extend_from_slice(e);
    }
    section(EXPORT_SECTION, &body)
}

/// A type section, the exports, a custom section of 200 bytes (a two-byte size).
fn module(entries: &[Vec<u8>]) -> Vec<u8> {
    [
        HEADER.to_vec(),
        section(1, &[1, 0x60, 0, 0]),
        exports(entries),
        section(0, &[b'x'; 200]),
    ]
    .concat()
}

#[test]
fn removes_the_named_exports_and_keeps_every_other_byte() {
    let memory = export("memory", 2, 0);
    let headers = export("proxy_on_request_headers", 0, 7);
    let body = export("proxy_on_response_body", 0, 300);
    let trailers = export("proxy_on_response_trailers", 0, 9);
    let all = module(&[
        memory.clone(),
        headers.clone(),
        body.clone(),
        trailers.clone(),
    ]);
    let cases: Vec<(&[&str], Vec<u8>)> = vec![
        (&[], all.clone()),
        (&["nothing_like_it"], all.clone()),
        (
            &["proxy_on_response_body"],
            module(&[memory.clone(), headers.clone(), trailers.clone()]),
        ),
        (UNUSED_EXPORTS, module(&[memory.clone(), headers.clone()])),
        (
            &[
                "memory",
                "proxy_on_request_headers",
                "proxy_on_response_body",
                "proxy_on_response_trailers",
            ],
            module(&[]),
        ),
    ];
    for (names, want) in cases {
        assert_eq!(remove_exports(&all, names), Ok(want), "{names:?}");
    }
    assert_eq!(
        export_names(&remove_exports(&all, UNUSED_EXPORTS).unwrap()),
        Ok(vec![
            "memory".to_owned(),
            "proxy_on_request_headers".to_owned()
        ])
    );
    // Twice is once.
    let once = remove_exports(&all, UNUSED_EXPORTS).unwrap();
    assert_eq!(remove_exports(&once, UNUSED_EXPORTS), Ok(once.clone()));
}

#[test]
fn a_module_without_exports_is_unchanged() {
    let m = [HEADER.to_vec(), section(1, &[1, 0x60, 0, 0])].concat();
    assert_eq!(remove_exports(&m, UNUSED_EXPORTS), Ok(m.clone()));
    assert_eq!(remove_exports(HEADER, UNUSED_EXPORTS), Ok(HEADER.to_vec()));
}

#[test]
fn bad_modules_are_errors() {
    let entries = [
        export("memory", 2, 0),
        export("proxy_on_response_body", 0, 1),
    ];
    let m = module(&entries);
    assert_eq!(remove_exports(b"", &[]), Err(ModuleError::NotWasm));
    assert_eq!(
        remove_exports(b"\0asm\x02\0\0\0", &[]),
        Err(ModuleError::NotWasm)
    );
    // Every cut inside a section is an error, never a panic or a silently shorter module.
    let type_end = HEADER.len() + 6;
    let export_end = type_end + exports(&entries).len();
    for cut in HEADER.len() + 1..m.len() {
        let r = remove_exports(&m[..cut], UNUSED_EXPORTS);
        if cut == type_end || cut == export_end {
            assert!(r.is_ok(), "cut at a section boundary {cut}");
        } else {
            assert!(
                matches!(r, Err(ModuleError::Malformed(_))),
                "cut {cut}: {r:?}"
            );
        }
    }
    // An export count larger than the entries that follow.
    let lying = [
        HEADER.to_vec(),
        section(EXPORT_SECTION, &[3, 1, b'a', 0, 0]),
    ]
    .concat();
    assert!(matches!(
        remove_exports(&lying, &[]),
        Err(ModuleError::Malformed(_))
    ));
    // Bytes left in the section after its entries.
    let extra = [
        HEADER.to_vec(),
        section(EXPORT_SECTION, &[1, 1, b'a', 0, 0, 0xff]),
    ]
    .concat();
    assert!(matches!(
        remove_exports(&extra, &[]),
        Err(ModuleError::Malformed(_))
    ));
    // A LEB128 longer than 5 bytes, and a 5th byte beyond 32 bits.
    let mut pos = 0;
    assert!(read_u32(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01], &mut pos).is_err());
    let mut pos = 0;
    assert!(read_u32(&[0xff, 0xff, 0xff, 0xff, 0x1f], &mut pos).is_err());
    let mut pos = 0;
    assert_eq!(
        read_u32(&[0xff, 0xff, 0xff, 0xff, 0x0f], &mut pos),
        Ok(u32::MAX)
    );
}

proptest::proptest! {
    #[test]
    fn any_bytes_after_the_header_never_panic(
        tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
    ) {
        let m = [HEADER, &tail[..]].concat();
        let _ = remove_exports(&m, UNUSED_EXPORTS);
    }

    #[test]
    fn leb128_round_trips(v in proptest::prelude::any::<u32>()) {
        let mut out = Vec::new();
        write_u32(&mut out, v);
        let mut pos = 0;
        proptest::prop_assert_eq!(read_u32(&out, &mut pos), Ok(v));
        proptest::prop_assert_eq!(pos, out.len());
    }
}
