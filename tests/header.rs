//! The committed `include/pybuf.h` must be exactly what cbindgen generates from the source.
//! Run with `PYBUF_BLESS=1` (or `make header`) to refresh the committed copy.
//!
//! cbindgen runs here, as a dev-dependency, and not in build.rs: see build.rs for why.

use std::path::Path;

/// The header as cbindgen generates it with `cbindgen.toml`, with the version macros
/// (Cargo.toml's version) first, then cbindgen.toml's own text (the DLPack declarations).
fn generate() -> String {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable and valid");
    let (major, minor, patch) = (
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
    );
    let number = major.parse::<u32>().unwrap() * 10000
        + minor.parse::<u32>().unwrap() * 100
        + patch.parse::<u32>().unwrap();
    let versions = format!(
        "\n/** The version of this header (equal to Cargo.toml's), and as one number:\n    MAJOR * 10000 + MINOR * 100 + PATCH. Compare with pybuf_version() at run time. */\n\
         #define PYBUF_VERSION_MAJOR {major}\n#define PYBUF_VERSION_MINOR {minor}\n#define PYBUF_VERSION_PATCH {patch}\n\
         #define PYBUF_VERSION_NUMBER {number}\n#define PYBUF_VERSION_STRING \"{major}.{minor}.{patch}\"\n"
    );
    config.after_includes = Some(versions + "\n" + &config.after_includes.unwrap_or_default());
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut out);
    String::from_utf8(out).expect("the header is UTF-8")
}

#[test]
#[cfg_attr(miri, ignore = "reads files and runs no unsafe code")]
fn committed_header_matches_generated() {
    let generated = generate();
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/pybuf.h");
    if std::env::var_os("PYBUF_BLESS").is_some() {
        std::fs::write(&committed_path, &generated).expect("include/pybuf.h is writable");
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/pybuf.h differs from what cbindgen generates; run `make header` and commit it"
    );
}
