//! Generates the C header with cbindgen into `$OUT_DIR/pybuf.h`.
//!
//! The committed `include/pybuf.h` must equal it: `tests/header.rs` compares the two
//! (and `make header` refreshes the committed copy).

use std::env;
use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("pybuf.h");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable and valid");
    let version = |key: &str| env::var(key).expect("cargo sets the version variables");
    let (major, minor, patch) = (
        version("CARGO_PKG_VERSION_MAJOR"),
        version("CARGO_PKG_VERSION_MINOR"),
        version("CARGO_PKG_VERSION_PATCH"),
    );
    let number = major.parse::<u32>().unwrap() * 10000
        + minor.parse::<u32>().unwrap() * 100
        + patch.parse::<u32>().unwrap();
    let versions = format!(
        "\n/** The version of this header (equal to Cargo.toml's), and as one number:\n    MAJOR * 10000 + MINOR * 100 + PATCH. Compare with pybuf_version() at run time. */\n\
         #define PYBUF_VERSION_MAJOR {major}\n#define PYBUF_VERSION_MINOR {minor}\n#define PYBUF_VERSION_PATCH {patch}\n\
         #define PYBUF_VERSION_NUMBER {number}\n#define PYBUF_VERSION_STRING \"{major}.{minor}.{patch}\"\n"
    );
    // The version macros first, then cbindgen.toml's own text (the DLPack declarations).
    config.after_includes = Some(versions + "\n" + &config.after_includes.unwrap_or_default());

    // The shared library's SONAME, from Cargo.toml's version: libpybuf.so.MAJOR. `make
    // install` names the file libpybuf.so.MAJOR.MINOR.PATCH, with libpybuf.so.MAJOR and
    // libpybuf.so linking to it; bindings/python/tests/test_install.py checks all three
    // against Cargo.toml.
    let abi = major.clone();
    let elf = ["linux", "android", "freebsd", "netbsd", "openbsd", "dragonfly", "illumos", "solaris"];
    if elf.contains(&env::var("CARGO_CFG_TARGET_OS").unwrap_or_default().as_str()) {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libpybuf.so.{abi}");
    }

    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write_to_file(&out);
    println!("cargo:rustc-env=PYBUF_GENERATED_HEADER={}", out.display());
}
