//! The committed `include/pybuf.h` must be exactly what cbindgen generates from the source.
//! Run with `PYBUF_BLESS=1` (or `make header`) to refresh the committed copy.

use std::path::Path;

#[test]
#[cfg_attr(miri, ignore = "reads files and runs no unsafe code")]
fn committed_header_matches_generated() {
    let generated = std::fs::read_to_string(env!("PYBUF_GENERATED_HEADER"))
        .expect("build.rs generated the header");
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/pybuf.h");
    if std::env::var_os("PYBUF_BLESS").is_some() {
        std::fs::write(&committed_path, &generated).expect("include/pybuf.h is writable");
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/pybuf.h differs from what cbindgen generates ({}); run `make header` and commit it",
        env!("PYBUF_GENERATED_HEADER")
    );
}
