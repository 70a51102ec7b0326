//! Path rendering and the counting rules; the malformed-input table is in tests/malformed.rs.

use super::{ErrorKind, Path};

#[test]
fn paths_render_like_field_accessors() {
    let root = Path::ROOT;
    let rs = root.item("resource_spans", 0);
    let ss = rs.item("scope_spans", 1);
    let sp = ss.item("spans", 3);
    let id = sp.field("trace_id");
    assert_eq!(
        id.render(),
        "resource_spans[0].scope_spans[1].spans[3].trace_id"
    );
    assert_eq!(root.render(), "");
    let e = id.error(ErrorKind::IdLength { got: 6, want: 16 }, 42);
    assert_eq!(
        e.to_string(),
        "resource_spans[0].scope_spans[1].spans[3].trace_id: length 6, want 16 (at byte 42)"
    );
    assert_eq!(
        (e.kind(), e.offset(), e.path()),
        (
            ErrorKind::IdLength { got: 6, want: 16 },
            42,
            id.render().as_str()
        )
    );
}
