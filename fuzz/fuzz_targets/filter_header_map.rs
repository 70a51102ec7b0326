//! A header map as Envoy serializes it (`fields::Fields::from_serialized`): never panics; a
//! map it takes is read back field by field into exactly the bytes it was given, and every
//! lookup finds what the walk over the fields finds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_filter::fields::Fields;

fuzz_target!(|data: &[u8]| {
    let Ok(fields) = Fields::from_serialized(data.to_vec()) else {
        return;
    };
    let pairs: Vec<(&[u8], &[u8])> = fields.pairs().collect();
    assert_eq!(pairs.len(), fields.len());
    if !data.is_empty() {
        assert_eq!(Fields::from_pairs(pairs.iter().copied()).as_bytes(), data);
    }
    for (name, value) in &pairs {
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        assert_eq!(fields.first(name), pairs.iter().find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| *v));
        assert!(fields.contains(name));
        let joined = fields.joined(name).map(|v| v.len());
        assert!(joined >= Some(value.len()));
    }
});
