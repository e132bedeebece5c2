//! The committed `include/pybuf.h` must be exactly what this file generates from the source
//! with cbindgen, and every declaration in it must belong to exactly one topic group.
//! Run with `PYBUF_BLESS=1` (or `make header`) to refresh the committed copy.
//!
//! cbindgen runs here, as a dev-dependency, and not in build.rs: see build.rs for why.
//! cbindgen writes items in source order; [`generate`] regroups them by topic ([`GROUPS`]):
//! each group is a Doxygen `\defgroup` with a banner, its types and constants, then its
//! functions. `make docs` builds the HTML reference from those groups (docs/Doxyfile).

use std::collections::HashMap;
use std::path::Path;

/// A topic of the header: its Doxygen group name, its title, its banner text (comment
/// lines, without the leading ` * `), and the items it declares, in the order given.
struct Group {
    id: &'static str,
    title: &'static str,
    banner: &'static str,
    items: &'static [&'static str],
}

/// The DLPack group's place for cbindgen.toml's `after_includes` (the dlpack.h structs).
const DLPACK_DECLARATIONS: &str = "<dlpack.h declarations>";
/// The version group's place for the version macros (from Cargo.toml's version).
const VERSION_MACROS: &str = "<version macros>";

const GROUPS: &[Group] = &[
    Group {
        id: "pybuf_abi",
        title: "ABI and flags",
        banner: "pybuf_buffer is byte for byte CPython's Py_buffer, pybuf_ssize_t its Py_ssize_t, and the\n\
                 PYBUF_* request flags equal CPython's PyBUF_*: a view filled by CPython, numpy or\n\
                 Cython can be passed to pybuf and back without conversion.",
        items: &[
            "pybuf_ssize_t", "pybuf_buffer", "PYBUF_MAX_NDIM", "PYBUF_SIMPLE", "PYBUF_WRITABLE",
            "PYBUF_FORMAT", "PYBUF_ND", "PYBUF_STRIDES", "PYBUF_C_CONTIGUOUS", "PYBUF_F_CONTIGUOUS",
            "PYBUF_ANY_CONTIGUOUS", "PYBUF_INDIRECT", "PYBUF_CONTIG", "PYBUF_CONTIG_RO",
            "PYBUF_STRIDED", "PYBUF_STRIDED_RO", "PYBUF_RECORDS", "PYBUF_RECORDS_RO", "PYBUF_FULL",
            "PYBUF_FULL_RO", "PYBUF_READ", "PYBUF_WRITE",
        ],
    },
    Group {
        id: "pybuf_consumer",
        title: "Consumers mirroring CPython",
        banner: "The PyBuffer_* functions of CPython's C API, for any pybuf_buffer, with the same results,\n\
                 except that a NULL or malformed view is refused with a status instead of crashing.",
        items: &[
            "pybuf_is_contiguous", "pybuf_get_pointer", "pybuf_fill_contiguous_strides",
            "pybuf_fill_info", "pybuf_release",
        ],
    },
    Group {
        id: "pybuf_errors",
        title: "Errors",
        banner: "Fallible functions return 0 (or a value) on success and a negative pybuf_status (or -1,\n\
                 NULL) on failure. Every pybuf call records its outcome for the calling thread:\n\
                 pybuf_last_status() and pybuf_last_error() describe it until the next pybuf call on that\n\
                 thread, so copy the message before calling pybuf again.",
        items: &["pybuf_status", "pybuf_last_error", "pybuf_last_status", "pybuf_last_errno", "pybuf_status_name"],
    },
    Group {
        id: "pybuf_exporters",
        title: "Exporters",
        banner: "The built-in exporter: describe memory once (pybuf_exporter_desc), then hand out views of\n\
                 it to any number of consumers and threads; the memory is given back (owner) when the\n\
                 last view and reference are gone. pybuf_fill_view fills one view of described memory\n\
                 without an exporter.",
        items: &[
            "pybuf_exporter", "pybuf_owner_fn", "pybuf_exporter_desc", "pybuf_exporter_new",
            "pybuf_exporter_clone", "pybuf_exporter_free", "pybuf_exporter_get_buffer",
            "pybuf_exporter_exports", "pybuf_exporter_replace", "pybuf_fill_view",
        ],
    },
    Group {
        id: "pybuf_custom_exporters",
        title: "Custom exporters",
        banner: "Any object with getbuffer and releasebuffer functions (pybuf_procs), as a Python type's\n\
                 tp_as_buffer: pybuf_object_get_buffer is PyObject_GetBuffer for it, and an exporter may\n\
                 delegate to others to any depth.",
        items: &["pybuf_procs", "pybuf_object", "pybuf_exporter_as_object", "pybuf_object_get_buffer"],
    },
    Group {
        id: "pybuf_views",
        title: "Views",
        banner: "memoryview's operations for any pybuf_buffer: derived views, equality and validation.\n\
                 \n\
                 Derived views. Every derivation (slice, index, sub-view, transpose, permute, cast,\n\
                 broadcast) reads a source view and fills a new one, dst, without copying memory. dst\n\
                 is written only on success, and never read (release it first if it held a view); it\n\
                 must not be src itself. The derived view owns its shape, strides (non-NULL when\n\
                 ndim > 0), suboffsets (non-NULL when the source had them and ndim > 0) and a copy of\n\
                 its format (NULL when the source's is), kept in a block in `internal`; a 0-d result\n\
                 has NULL arrays. Its obj is NULL: pybuf takes no reference to anything. Release it\n\
                 with pybuf_release (this same struct, not a copy), in any order with respect to its\n\
                 source and to other views derived from either; it may be derived again, to any depth.\n\
                 \n\
                 The memory must stay valid while the derived view is used. When the source is a view\n\
                 of a built-in exporter (pybuf_exporter_get_buffer), or a view derived from one, the\n\
                 derived view holds an export of that exporter: it counts in pybuf_exporter_exports (so\n\
                 pybuf_exporter_replace is refused) and keeps the memory alive until it is released,\n\
                 even after the source view is released. For any other source (CPython, numpy, a\n\
                 custom exporter, pybuf_fill_info, pybuf_fill_view) pybuf holds nothing: the caller\n\
                 keeps the source, and so the memory, alive as long as the derived view is used.\n\
                 \n\
                 Threads: a derivation reads src and writes dst; any number of threads may derive from\n\
                 one source at once, and release their views in any order. See docs/views.md.",
        items: &[
            "PYBUF_SLICE_NONE", "pybuf_slice", "pybuf_index", "pybuf_subview", "pybuf_transpose",
            "pybuf_permute", "pybuf_cast", "pybuf_broadcast", "pybuf_broadcast_to", "pybuf_equal",
            "PYBUF_VALIDATE_LAYOUT", "PYBUF_VALIDATE_FORMAT", "PYBUF_VALIDATE_MEMORY",
            "pybuf_validate", "pybuf_extent",
        ],
    },
    Group {
        id: "pybuf_items",
        title: "Items and iteration",
        banner: "Element values as struct.unpack and struct.pack read and write them, for every format,\n\
                 and iteration over the elements of a view in C, Fortran or memory order.",
        items: &[
            "PYBUF_VALUE_INT", "PYBUF_VALUE_UINT", "PYBUF_VALUE_DOUBLE", "PYBUF_VALUE_COMPLEX",
            "PYBUF_VALUE_BOOL", "PYBUF_VALUE_BYTES", "pybuf_value", "pybuf_item_fields",
            "pybuf_get_item", "pybuf_set_item", "pybuf_iter", "pybuf_iter_new", "pybuf_iter_next",
            "pybuf_iter_free",
        ],
    },
    Group {
        id: "pybuf_formats",
        title: "Formats",
        banner: "PEP 3118 format strings: sizes as struct.calcsize, a parsed handle with its fields,\n\
                 leaves and runs of values, and type checks of a view. The grammar and the differences\n\
                 from struct and NumPy are in docs/formats.md.",
        items: &[
            "pybuf_size_from_format", "pybuf_byte_order", "pybuf_format", "pybuf_format_field",
            "pybuf_format_repeat", "pybuf_format_leaf", "pybuf_format_run", "pybuf_format_runs",
            "pybuf_format_parse", "pybuf_format_free", "pybuf_format_itemsize",
            "pybuf_format_alignment", "pybuf_format_field_count", "pybuf_format_get_field",
            "pybuf_format_leaf_count", "pybuf_format_get_leaf", "pybuf_format_canonical",
            "pybuf_format_equal", "pybuf_format_compatible", "pybuf_format_runs_new",
            "pybuf_format_runs_next", "pybuf_format_runs_free", "pybuf_check_format",
            "pybuf_check_format_ex",
        ],
    },
    Group {
        id: "pybuf_copy",
        title: "Copy",
        banner: "Copies between views and contiguous memory (PyBuffer_ToContiguous,\n\
                 PyBuffer_FromContiguous) and between two views, correct when they overlap. See\n\
                 docs/copy-engine.md.",
        items: &["pybuf_to_contiguous", "pybuf_from_contiguous", "pybuf_copy"],
    },
    Group {
        id: "pybuf_copy_plan",
        title: "Copy plans",
        banner: "A copy planned once and executed many times at other base addresses: whole, on threads\n\
                 of pybuf's own when asked (pybuf_copy_plan_set_threads), or part by part on the\n\
                 caller's threads (OpenMP, TBB, a pool). Executing allocates nothing. See\n\
                 docs/copy-engine.md.",
        items: &[
            "pybuf_copy_plan", "pybuf_copy_plan_new", "pybuf_copy_plan_execute", "pybuf_copy_plan_parts",
            "pybuf_copy_plan_execute_part", "PYBUF_COPY_PLAN_MAX_THREADS", "pybuf_copy_plan_set_threads",
            "pybuf_copy_plan_free",
        ],
    },
    Group {
        id: "pybuf_io",
        title: "File descriptors",
        banner: "A view's elements to and from files, pipes and sockets without a contiguous copy: the\n\
                 bytes pybuf_to_contiguous would produce, moved by writev/readv straight from (into)\n\
                 strided memory. Blocking calls, and resumable transfers for non-blocking fds. See\n\
                 docs/files.md.",
        items: &[
            "pybuf_write_fd", "pybuf_read_fd", "pybuf_pwrite_fd", "pybuf_pread_fd", "PYBUF_IO_WRITE",
            "PYBUF_IO_READ", "pybuf_io", "pybuf_io_new", "pybuf_io_step", "pybuf_io_done",
            "pybuf_io_total", "pybuf_io_free",
        ],
    },
    Group {
        id: "pybuf_dlpack",
        title: "DLPack",
        banner: "Views to and from DLPack tensors (1.x DLManagedTensorVersioned and the legacy\n\
                 DLManagedTensor), without copying. The DLPack structs follow, as dlpack.h declares\n\
                 them. See docs/interop.md.",
        items: &[
            DLPACK_DECLARATIONS, "pybuf_to_dlpack", "pybuf_to_dlpack_legacy", "pybuf_from_dlpack",
            "pybuf_from_dlpack_legacy",
        ],
    },
    Group {
        id: "pybuf_array_interface",
        title: "Array interface",
        banner: "Conversions between PEP 3118 formats and NumPy's __array_interface__ typestr and descr\n\
                 (the notation of the array interface protocol). See docs/interop.md.",
        items: &[
            "pybuf_format_to_typestr", "pybuf_format_to_descr", "pybuf_format_from_typestr",
            "pybuf_format_from_descr",
        ],
    },
    Group {
        id: "pybuf_mapped_files",
        title: "Mapped files",
        banner: "A region of a file as an exporter's memory (mmap): read-only, shared-writable (writes\n\
                 reach the file; pybuf_exporter_sync flushes them) or private (copy-on-write). The region\n\
                 is checked against the file's size before mapping, and unmapped when the exporter and\n\
                 its last view are gone. See docs/files.md.",
        items: &[
            "PYBUF_MAP_READONLY", "PYBUF_MAP_SHARED", "PYBUF_MAP_PRIVATE", "pybuf_map_fd",
            "pybuf_map_path", "pybuf_exporter_sync",
        ],
    },
    Group {
        id: "pybuf_npz",
        title: ".npz archives",
        banner: "NumPy's .npz archives (np.savez, np.savez_compressed): list the members, load one as an\n\
                 exporter (a stored member mapped in place, zero-copy; a deflated one, or a copy,\n\
                 inflated into aligned memory), and write an archive of views that np.load reads.\n\
                 See docs/files.md.",
        items: &[
            "PYBUF_NPZ_COPY", "PYBUF_NPZ_DEFLATE", "pybuf_npz", "pybuf_npz_member", "pybuf_npz_open",
            "pybuf_npz_open_fd", "pybuf_npz_count", "pybuf_npz_member_info", "pybuf_npz_find",
            "pybuf_npz_load", "pybuf_npz_close", "pybuf_npz_save",
        ],
    },
    Group {
        id: "pybuf_version",
        title: "Version",
        banner: "The version of the header (compile time) and of the library (run time).",
        items: &[VERSION_MACROS, "pybuf_version", "pybuf_version_string"],
    },
    Group {
        id: "pybuf_npy",
        title: ".npy files",
        banner: "NumPy's .npy files without Python: save any view byte for byte as np.save does, load a\n\
                 file as an exporter by mapping it (or reading a stream), and read a file's data into a\n\
                 view of any strides. See docs/files.md.",
        items: &[
            "PYBUF_NPY_READONLY", "PYBUF_NPY_WRITABLE", "PYBUF_NPY_PRIVATE", "pybuf_npy_save",
            "pybuf_npy_write_fd", "pybuf_npy_load", "pybuf_npy_load_fd", "pybuf_npy_read",
            "pybuf_npy_read_fd",
        ],
    },
    Group {
        id: "pybuf_share",
        title: "Processes: shared memory and hand-over",
        banner: "Exporters whose memory is a shared segment (anonymous memfd, sealed against shrinking;\n\
                 or a POSIX shared-memory name, as Python's multiprocessing.shared_memory uses), and\n\
                 views handed to another process over a Unix-domain socket in constant time: the\n\
                 segment's fd and the view's description, checked by a receiver that trusts nothing.\n\
                 See docs/processes.md.",
        items: &[
            "PYBUF_SHARE_NPY", "PYBUF_SHARE_READONLY", "PYBUF_SEND_READONLY", "PYBUF_SEND_COPY",
            "PYBUF_RECV_READONLY", "PYBUF_RECV_SEALED", "PYBUF_RECV_UNSEALED", "pybuf_share_new",
            "pybuf_share_open", "pybuf_share_copy", "pybuf_share_seal", "pybuf_share_fd",
            "pybuf_share_unlink", "pybuf_send_view", "pybuf_recv_view",
        ],
    },
    Group {
        id: "pybuf_datatype",
        title: "Datatypes (MPI)",
        banner: "A view as nested strided blocks of typed values: the unit (a C type, raw bytes, or a\n\
                 struct of members covering every byte of the item), the contiguous block, and the\n\
                 dimensions around it in C order, merged where the strides allow. It is what an MPI\n\
                 derived datatype needs, with nothing of MPI in it: include/pybuf_mpi.h builds the\n\
                 MPI_Datatype from it. See docs/mpi.md.",
        items: &[
            "pybuf_datatype_kind", "pybuf_datatype_member", "pybuf_datatype_struct",
            "pybuf_datatype_dim", "pybuf_datatype", "pybuf_datatype_new", "pybuf_datatype_free",
        ],
    },
];

/// The name a cbindgen item declares: the macro, the function, or the typedef's name.
fn declared_name(code: &str) -> Option<String> {
    let code = code.trim();
    if let Some(rest) = code.strip_prefix("#define ") {
        return rest.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().map(str::to_owned);
    }
    if code.starts_with("typedef") {
        if !code.contains('{') {
            if let Some(start) = code.find("(*") {
                let rest = &code[start + 2..];
                return rest.split(')').next().map(str::to_owned);
            }
        }
        let end = code.trim_end_matches(';');
        return end.rsplit(|c: char| !(c.is_alphanumeric() || c == '_')).next().map(str::to_owned);
    }
    let open = code.find('(')?;
    code[..open].rsplit(|c: char| !(c.is_alphanumeric() || c == '_')).next().map(str::to_owned)
}

/// The code of a chunk, its comments left out.
fn code_of(chunk: &str) -> String {
    let mut code = String::new();
    let mut in_comment = false;
    for line in chunk.lines() {
        let t = line.trim_start();
        if in_comment {
            in_comment = !t.contains("*/");
            continue;
        }
        if t.starts_with("/*") {
            in_comment = !t.contains("*/");
            continue;
        }
        code.push_str(line);
        code.push('\n');
    }
    code
}

/// Blank-line separated chunks of `region`, keyed by the name each declares.
fn chunks(region: &str) -> Vec<(String, String)> {
    region
        .split("\n\n")
        .map(|c| c.trim_matches(|ch| ch == '\n'))
        .filter(|c| !c.trim().is_empty())
        .map(|c| {
            let name = declared_name(&code_of(c)).unwrap_or_else(|| panic!("no name in:\n{c}"));
            (name, c.to_owned())
        })
        .collect()
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> (&'a str, &'a str, &'a str) {
    let a = s.find(start).unwrap_or_else(|| panic!("cbindgen output lacks {start:?}")) + start.len();
    let b = a + s[a..].find(end).unwrap_or_else(|| panic!("cbindgen output lacks {end:?}"));
    (&s[..a], &s[a..b], &s[b + end.len()..])
}

/// The header: cbindgen's output with `cbindgen.toml`, regrouped by topic ([`GROUPS`]).
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
        "/** The version of this header (equal to Cargo.toml's), and as one number:\n    MAJOR * 10000 + MINOR * 100 + PATCH. Compare with pybuf_version() at run time. */\n\
         #define PYBUF_VERSION_MAJOR {major}\n#define PYBUF_VERSION_MINOR {minor}\n#define PYBUF_VERSION_PATCH {patch}\n\
         #define PYBUF_VERSION_NUMBER {number}\n#define PYBUF_VERSION_STRING \"{major}.{minor}.{patch}\""
    );
    // The dlpack.h declarations go into the DLPack group, not after the includes.
    let dlpack = config.after_includes.take().unwrap_or_default().trim().to_owned();
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut out);
    let raw = String::from_utf8(out).expect("the header is UTF-8");

    let (prefix, types, rest) = between(&raw, "#include <stdint.h>\n", "#ifdef __cplusplus\nextern \"C\" {\n#endif // __cplusplus\n");
    let (_, functions, _) = between(rest, "", "#ifdef __cplusplus\n}  // extern \"C\"\n#endif  // __cplusplus\n");
    let mut items: HashMap<String, String> = HashMap::new();
    for (name, chunk) in chunks(types).into_iter().chain(chunks(functions)) {
        assert!(items.insert(name.clone(), chunk).is_none(), "{name} is declared twice");
    }
    items.insert(DLPACK_DECLARATIONS.to_owned(), dlpack);
    items.insert(VERSION_MACROS.to_owned(), versions);

    let mut header = prefix.to_owned();
    header.push_str("\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n");
    for g in GROUPS {
        let banner: String = g.banner.lines().map(|l| if l.is_empty() { " *\n".to_owned() } else { format!(" * {l}\n") }).collect();
        let rule = "=".repeat(80);
        header.push_str(&format!("\n/* {rule}\n * {}\n * {rule} */\n\n", g.title));
        header.push_str(&format!("/**\n * \\defgroup {} {}\n{banner} * @{{\n */\n", g.id, g.title));
        for name in g.items {
            let chunk = items.remove(*name).unwrap_or_else(|| panic!("{name} (group {}) is not in cbindgen's output", g.id));
            header.push('\n');
            header.push_str(&chunk);
            header.push('\n');
        }
        header.push_str(&format!("\n/** @}} */ /* end of {} */\n", g.id));
    }
    let mut left: Vec<_> = items.into_keys().collect();
    left.sort();
    assert!(left.is_empty(), "exported but in no group of tests/header.rs GROUPS: {left:?}");
    header.push_str("\n#ifdef __cplusplus\n}  /* extern \"C\" */\n#endif\n\n#endif  /* PYBUF_H */\n");
    header
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

/// Every declaration of the committed header (macro, type, function) lies in exactly one
/// Doxygen group: inside one `\defgroup ... @{` ... `@}` block, no nesting, no `\ingroup`
/// that would add it to a second group; the include guards excepted. (cbindgen's items
/// all have a group, or `generate` fails: this checks the committed text.)
#[test]
#[cfg_attr(miri, ignore = "reads files and runs no unsafe code")]
fn every_declaration_is_in_exactly_one_group() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/pybuf.h"))
        .expect("include/pybuf.h is readable");
    assert!(!text.contains("\\ingroup") && !text.contains("@ingroup"), "\\ingroup adds a second group");
    assert!(!text.contains("module documentation"), "the header refers to Rust-only docs");
    let mut group: Option<String> = None;
    let mut seen: HashMap<String, String> = HashMap::new();
    let (mut ungrouped, mut twice) = (Vec::new(), Vec::new());
    let mut in_comment = false;
    let mut cplusplus = false; // in the C++ branch of `#ifdef __cplusplus`: skipped, as C does
    let mut depth = 0usize; // braces and parentheses: only top-level lines declare
    let mut groups = 0;
    for line in text.lines() {
        let t = line.trim_start();
        if in_comment || t.starts_with("/*") {
            if let Some(pos) = t.find("\\defgroup ") {
                assert!(group.is_none(), "group opened inside {group:?}: {line}");
                group = Some(t[pos + 10..].split_whitespace().next().unwrap().to_owned());
                groups += 1;
            }
            if t.contains("@}") {
                assert!(group.take().is_some(), "@}} without an open group");
            }
            in_comment = !t.contains("*/");
            continue;
        }
        if t.starts_with("#ifdef __cplusplus") {
            cplusplus = true;
            continue;
        }
        if cplusplus {
            cplusplus = !(t.starts_with("#else") || t.starts_with("#endif"));
            continue;
        }
        let before = depth;
        if !t.starts_with('#') {
            for c in t.chars() {
                match c {
                    '{' | '(' => depth += 1,
                    '}' | ')' => depth -= 1,
                    _ => {}
                }
            }
        }
        let name = if before == 0 && (t.starts_with("#define") || (!t.starts_with('#') && !t.is_empty())) {
            declared_name(t)
        } else if before > 0 && depth == 0 && t.starts_with('}') {
            // `} name;` closes a typedef'd struct or enum
            declared_name(&format!("typedef {t}"))
        } else {
            None
        };
        if let Some(name) = name.filter(|n| !n.ends_with("_H") && !n.ends_with("_H_") && !n.is_empty()) {
            match &group {
                None => ungrouped.push(name.clone()),
                Some(g) => {
                    // the same name twice in one group: preprocessor alternatives (DLPACK_DLL)
                    if let Some(prev) = seen.insert(name.clone(), g.clone()).filter(|prev| prev != g) {
                        twice.push(format!("{name} ({prev}, {g})"));
                    }
                }
            }
        }
    }
    assert!(group.is_none(), "a group is never closed");
    assert_eq!(groups, GROUPS.len());
    assert!(ungrouped.is_empty(), "declared outside every group: {ungrouped:?}");
    assert!(twice.is_empty(), "declared in two groups (or twice): {twice:?}");
    for f in ["pybuf_slice", "pybuf_buffer", "PYBUF_SIMPLE", "DLManagedTensorVersioned", "PYBUF_VERSION_MAJOR"] {
        assert!(seen.contains_key(f), "{f} not found: the scan is broken");
    }
}
