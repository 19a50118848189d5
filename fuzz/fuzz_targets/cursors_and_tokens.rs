//! Everything a client sends that is parsed as a credential or a cursor:
//! keyset and offset cursors, session JWTs, scopes. Garbage is an error,
//! never a panic; what decodes re-encodes to the same cursor.
#![no_main]
use libfuzzer_sys::fuzz_target;
use photostream_api::auth::{AuthKeys, Scope};
use photostream_api::pagination::{decode_keyset, decode_offset, encode_keyset, encode_offset};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(k) = decode_keyset(text) {
        assert_eq!(decode_keyset(&encode_keyset(&k)).ok(), Some(k));
    }
    if let Ok(o) = decode_offset(text) {
        assert_eq!(decode_offset(&encode_offset(o)).ok(), Some(o));
    }
    let keys = AuthKeys::new(b"fuzzing-key-fuzzing-key-fuzzing-key!", "photostream", "photostream-api", 3600);
    assert!(keys.verify(text).is_err(), "a forged token verified: {text:?}");
    let _ = Scope::parse(text);
});
