//! The plain C tests in `c_tests/`, compiled with the `cc` crate's compiler and linked
//! against the static library that this `cargo test` built, one `#[test]` per file.
//!
//! Each C file is compiled with `-std=c99 -Wall -Wextra -Werror -I include` (the C++ header
//! test with `-std=c++11`), linked with `libpybuf.a` from this test executable's own
//! directory (`target/<profile>/deps`) and `-lpthread -ldl -lm`, and run; it must exit 0.
//! `test_layout.c` also needs Python's include directory, asked from `python3` (or
//! `$PYTHON`); it is skipped, with a message, when there are no Python headers.
//!
//! CTest runs the same files through `c_tests/CMakeLists.txt`.

// Not under Miri, which cannot run a C compiler or foreign code.
#![cfg(all(unix, not(miri)))]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The target triple: the test runs on the machine it was built for, so rustc's host.
fn triple() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let out = Command::new(&rustc)
        .arg("-vV")
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{rustc} -vV` to learn the target triple: {e}"));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no `host:` line in `{rustc} -vV`"))
}

/// `libpybuf.a` as `cargo test` built it for this test executable: in the executable's
/// directory (`target/<profile>/deps`), else the newest `libpybuf*.a` there, else one level up.
fn static_lib() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let deps = exe.parent().expect("the test executable's directory");
    let exact = deps.join("libpybuf.a");
    if exact.is_file() {
        return exact;
    }
    let newest = std::fs::read_dir(deps)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("libpybuf") && name.ends_with(".a")
        })
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok());
    if let Some(p) = newest {
        return p;
    }
    let up = deps.parent().map(|d| d.join("libpybuf.a"));
    match up {
        Some(p) if p.is_file() => p,
        _ => panic!(
            "libpybuf.a not found in {} (the crate's staticlib should be built by cargo test)",
            deps.display()
        ),
    }
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c_tests");
    std::fs::create_dir_all(&dir).expect("CARGO_TARGET_TMPDIR is writable");
    dir
}

fn show(out: &Output) -> String {
    format!(
        "--- stdout ---\n{}--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Python's include directory if it has Python.h.
fn python_include() -> Option<PathBuf> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let out = Command::new(&python)
        .args(["-c", "import sysconfig; print(sysconfig.get_paths()['include'])"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    dir.join("Python.h").is_file().then_some(dir)
}

/// Compile `c_tests/<file>` (C99, or C++11 for `.cpp`), link it with libpybuf, run it and
/// require exit status 0.
fn run_c_test(file: &str, extra_includes: &[PathBuf]) {
    let source = repo().join("c_tests").join(file);
    assert!(source.is_file(), "{} is missing", source.display());
    let cpp = file.ends_with(".cpp");
    let triple = triple();
    let compiler = cc::Build::new()
        .cpp(cpp)
        .target(&triple)
        .host(&triple)
        .opt_level(0)
        .debug(true)
        .warnings(false) // the warning flags are given explicitly below
        .cargo_metadata(false)
        .cargo_warnings(false)
        .emit_rerun_if_env_changed(false)
        .get_compiler();
    let stem = Path::new(file).file_stem().and_then(|s| s.to_str()).expect("a file name");
    let exe = out_dir().join(stem);
    let mut cmd = compiler.to_command();
    cmd.arg(if cpp { "-std=c++11" } else { "-std=c99" })
        .args(["-Wall", "-Wextra", "-Werror"])
        .arg("-I")
        .arg(repo().join("include"));
    for dir in extra_includes {
        cmd.arg("-I").arg(dir);
    }
    cmd.arg(&source)
        .arg(static_lib())
        .args(["-lpthread", "-ldl", "-lm"])
        .arg("-o")
        .arg(&exe);
    let built = cmd.output().unwrap_or_else(|e| panic!("cannot run the compiler {cmd:?}: {e}"));
    assert!(built.status.success(), "compiling {file} failed: {cmd:?}\n{}", show(&built));

    let ran = Command::new(&exe)
        .current_dir(out_dir())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
    assert!(ran.status.success(), "{file} failed ({}):\n{}", ran.status, show(&ran));
    print!("{}", String::from_utf8_lossy(&ran.stdout));
}

/// The source files the tests below cover; `every_c_test_file_is_run` keeps it complete.
const FILES: &[&str] = &[
    "test_acceptance.c",
    "test_array_interface.c",
    "test_bad_inputs.c",
    "test_contiguous.c",
    "test_copy.c",
    "test_dlpack.c",
    "test_dlpack_first.c",
    "test_dlpack_layout.c",
    "test_errors.c",
    "test_exporter.c",
    "test_fill_info.c",
    "test_format_api.c",
    "test_get_pointer.c",
    "test_hardening_format.c",
    "test_header_c99.c",
    "test_header_cxx.cpp",
    "test_io.c",
    "test_layout.c",
    "test_map.c",
    "test_npy.c",
    "test_npz.c",
    "test_out_of_memory.c",
    "test_share.c",
    "test_share_hostile.c",
    "test_size_from_format.c",
    "test_strides.c",
    "test_teardown.c",
    "test_threads.c",
    "test_version.c",
    "test_view.c",
    "test_view_values.c",
];

macro_rules! c_tests {
    ($($name:ident => $file:literal),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_c_test($file, &[]);
            }
        )*
    };
}

c_tests! {
    test_acceptance => "test_acceptance.c",
    test_bad_inputs => "test_bad_inputs.c",
    test_contiguous => "test_contiguous.c",
    test_copy => "test_copy.c",
    test_errors => "test_errors.c",
    test_exporter => "test_exporter.c",
    test_fill_info => "test_fill_info.c",
    test_format_api => "test_format_api.c",
    test_hardening_format => "test_hardening_format.c",
    test_get_pointer => "test_get_pointer.c",
    test_out_of_memory => "test_out_of_memory.c",
    test_size_from_format => "test_size_from_format.c",
    test_strides => "test_strides.c",
    test_teardown => "test_teardown.c",
    test_threads => "test_threads.c",
    test_version => "test_version.c",
    test_view => "test_view.c",
    test_view_values => "test_view_values.c",
    test_array_interface => "test_array_interface.c",
    test_dlpack => "test_dlpack.c",
    test_dlpack_first => "test_dlpack_first.c",
    test_dlpack_layout => "test_dlpack_layout.c",
    test_header_c99 => "test_header_c99.c",
    test_header_cxx => "test_header_cxx.cpp",
    test_map => "test_map.c",
    test_io => "test_io.c",
    test_npy => "test_npy.c",
    test_npz => "test_npz.c",
    test_share => "test_share.c",
    test_share_hostile => "test_share_hostile.c",
}

#[test]
fn test_layout() {
    match python_include() {
        Some(dir) => run_c_test("test_layout.c", &[dir]),
        None => eprintln!("test_layout.c skipped: no Python headers (python3 or $PYTHON)"),
    }
}

/// Every `c_tests/test_*.c` and `*.cpp` has a `#[test]` above.
#[test]
fn every_c_test_file_is_run() {
    let mut found: Vec<String> = std::fs::read_dir(repo().join("c_tests"))
        .expect("c_tests/ is readable")
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("test_") && (n.ends_with(".c") || n.ends_with(".cpp")))
        .collect();
    found.sort();
    assert_eq!(found, FILES, "c_tests/ and the FILES list (and the #[test]s) differ");
}

/// `test_teardown.c` calls every function that `pybuf.h` declares (issue 12: each exported
/// function must work from an `atexit` handler and a pthread key destructor).
#[test]
fn teardown_test_calls_every_exported_function() {
    let header = std::fs::read_to_string(repo().join("include/pybuf.h")).expect("include/pybuf.h");
    let test = std::fs::read_to_string(repo().join("c_tests/test_teardown.c")).expect("test_teardown.c");
    let mut missing = Vec::new();
    let mut declared = 0;
    for line in header.lines().filter(|l| !l.starts_with(' ') && !l.starts_with("typedef")) {
        let Some(open) = line.find('(') else { continue };
        let Some(at) = line[..open].rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) else { continue };
        let name = &line[at + 1..open];
        if !name.starts_with("pybuf_") {
            continue;
        }
        declared += 1;
        if !test.contains(&format!("{name}(")) {
            missing.push(name.to_owned());
        }
    }
    assert!(declared >= 64, "only {declared} functions found in pybuf.h");
    assert!(missing.is_empty(), "test_teardown.c does not call {missing:?}");
}
