//! Archives: round trips through `save` and `Archive`, mapped and copied members, damaged
//! archives.

use std::io::Write;

use super::*;
use crate::abi::*;
use crate::copy::Side;
use crate::error::Status;
use crate::export::block;
use crate::layout::Geometry;
use crate::map::tests::TempFile;

/// A unique `.npz` path (no file yet), removed when dropped.
fn archive_path(tag: &str) -> TempFile {
    TempFile::named("pybuf-npz", &format!("{tag}.npz"))
}

/// The bytes of `side` in C order (the reference: the copy engine).
fn c_bytes(side: Side<'_>) -> Vec<u8> {
    let mut out = vec![0u8; side.geom.len as usize];
    // SAFETY: `out` holds len bytes; the sides in these tests are valid views of live memory.
    unsafe { crate::copy::to_contiguous(out.as_mut_ptr(), side, crate::layout::Order::C) }.unwrap();
    out
}

/// A boxed view of `e` (a view is released at the address it was filled at).
fn view_of(e: &Arc<Exporter>, flags: i32) -> Result<Box<pybuf_buffer>> {
    let mut v = Box::new(pybuf_buffer::zeroed());
    e.export(&mut v, flags)?;
    Ok(v)
}

/// The C-order bytes of a loaded view.
fn view_bytes(v: &pybuf_buffer) -> Vec<u8> {
    let mut implied = [0isize; 1];
    // SAFETY: a view pybuf filled.
    let view = unsafe { crate::ffi::view(v, &mut implied) }.unwrap();
    c_bytes(Side { ptr: view.buf, geom: view.geom })
}

fn shape_of(v: &pybuf_buffer) -> Vec<isize> {
    // SAFETY: a view with ndim shape entries (or none for 0-d).
    (0..v.ndim as usize).map(|k| unsafe { *v.shape.add(k) }).collect()
}

fn format_of(v: &pybuf_buffer) -> String {
    // SAFETY: a view filled with PYBUF_FORMAT.
    unsafe { std::ffi::CStr::from_ptr(v.format) }.to_str().unwrap().to_owned()
}

/// Four arrays: a C-contiguous 3x4 of doubles, its transpose (F-contiguous), every second
/// column of a 6x8 of int32 (neither), a 0-d int16; and a 2-MiB uint8 array seen with
/// stride 2 (gathered in blocks), an empty one.
struct Arrays {
    d: Vec<f64>,
    i: Vec<i32>,
    s: [i16; 1],
    big: Vec<u8>,
}

fn arrays() -> Arrays {
    Arrays {
        d: (0..12).map(|k| k as f64 * 1.5).collect(),
        i: (0..48).map(|k| k * 7 - 100).collect(),
        s: [-12345],
        big: (0..(4 << 20)).map(|k: u32| (k.wrapping_mul(2654435761) >> 24) as u8).collect(),
    }
}

const SHAPE_34: [isize; 2] = [3, 4];
const SHAPE_43: [isize; 2] = [4, 3];
const STRIDES_T: [isize; 2] = [8, 32];
const SHAPE_64: [isize; 2] = [6, 4];
const STRIDES_COLS: [isize; 2] = [32, 8];
const SHAPE_BIG: [isize; 2] = [1024, 1024];
const STRIDES_BIG: [isize; 2] = [4096, 2];
const SHAPE_EMPTY: [isize; 2] = [0, 5];

/// A suboffset-free geometry of static arrays.
fn g(len: isize, itemsize: isize, shape: &'static [isize], strides: Option<&'static [isize]>) -> Geometry<'static> {
    Geometry { len, itemsize, shape, strides, suboffsets: None }
}

fn entries(a: &mut Arrays) -> Vec<Entry<'_>> {
    let d = a.d.as_mut_ptr().cast::<u8>();
    vec![
        Entry { name: "c", side: Side { ptr: d, geom: g(96, 8, &SHAPE_34, None) }, format: b"<d" },
        Entry { name: "t", side: Side { ptr: d, geom: g(96, 8, &SHAPE_43, Some(&STRIDES_T)) }, format: b"<d" },
        Entry {
            name: "cols",
            side: Side { ptr: a.i.as_mut_ptr().cast(), geom: g(96, 4, &SHAPE_64, Some(&STRIDES_COLS)) },
            format: b"<i",
        },
        Entry { name: "zero_d", side: Side { ptr: a.s.as_mut_ptr().cast(), geom: g(2, 2, &[], None) }, format: b"<h" },
        Entry {
            name: "big",
            side: Side { ptr: a.big.as_mut_ptr(), geom: g(1 << 20, 1, &SHAPE_BIG, Some(&STRIDES_BIG)) },
            format: b"B",
        },
        Entry { name: "empty", side: Side { ptr: d, geom: g(0, 8, &SHAPE_EMPTY, None) }, format: b"<d" },
    ]
}

#[test]
#[cfg_attr(miri, ignore = "archive files and their mappings: foreign calls Miri does not run")]
fn archives_are_shared_between_threads() {
    fn sync_and_send<T: Sync + Send>() {}
    sync_and_send::<Archive>();
    // Four threads loading every member of one archive at once, mapped and inflated.
    let mut a = arrays();
    let f = archive_path("threads");
    let es = entries(&mut a);
    // reach-exempt: a test of archive files, which Miri cannot run (ignored there).
    // SAFETY: views of live arrays.
    unsafe { save(&f.0, &es[..4], true) }.unwrap();
    let g = archive_path("threads-stored");
    // reach-exempt: a test of archive files, which Miri cannot run (ignored there).
    // SAFETY: as above.
    unsafe { save(&g.0, &es[..4], false) }.unwrap();
    let expected: Vec<Vec<u8>> = es[..4].iter().map(|e| c_bytes(e.side)).collect();
    let archives = [Archive::open(&f.0).unwrap(), Archive::open(&g.0).unwrap()];
    std::thread::scope(|s| {
        for t in 0..4 {
            let (archives, expected) = (&archives, &expected);
            s.spawn(move || {
                for round in 0..20 {
                    let ar = &archives[(t + round) % 2];
                    for (k, want) in expected.iter().enumerate() {
                        let e = ar.load(k, Mode::ReadOnly, round % 3 == 0).unwrap();
                        let mut v = view_of(&e, PYBUF_FULL_RO).unwrap();
                        assert_eq!(&view_bytes(&v), want);
                        block::release(&mut v).unwrap();
                    }
                }
            });
        }
    });
}

#[test]
#[cfg_attr(miri, ignore = "archive files and their mappings: foreign calls Miri does not run")]
fn round_trips_stored_and_deflated() {
    let mut a = arrays();
    for deflate in [false, true] {
        let f = archive_path(if deflate { "deflated" } else { "stored" });
        let es = entries(&mut a);
        // reach-exempt: a test of archive files, which Miri cannot run (ignored there).
        // SAFETY: the entries are views of live arrays.
        unsafe { save(&f.0, &es, deflate) }.unwrap();
        let ar = Archive::open(&f.0).unwrap();
        let names: Vec<&str> = ar.members().iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["c.npy", "t.npy", "cols.npy", "zero_d.npy", "big.npy", "empty.npy"]);
        for (k, e) in es.iter().enumerate() {
            let m = &ar.members()[k];
            assert_eq!(m.method, if deflate { Method::Deflated } else { Method::Stored });
            assert_eq!(ar.find(e.name), Some(k));
            assert_eq!(ar.find(&m.name), Some(k));
            for copy in [false, true] {
                let ex = ar.load(k, Mode::ReadOnly, copy).unwrap();
                let mut v = view_of(&ex, PYBUF_FULL_RO).unwrap();
                assert_eq!(shape_of(&v), e.side.geom.shape, "{}", e.name);
                assert_eq!(view_bytes(&v), c_bytes(e.side), "{} deflate {deflate} copy {copy}", e.name);
                assert_eq!(format_of(&v).trim_start_matches('<'), std::str::from_utf8(e.format).unwrap().trim_start_matches('<'));
                // Owned copies are 64-byte aligned; so are mapped members that save wrote.
                if v.len > 0 {
                    assert!((v.buf as usize).is_multiple_of(64), "{} at {:p}", e.name, v.buf);
                }
                assert_eq!(view_of(&ex, PYBUF_WRITABLE).unwrap_err().status(), Status::ReadOnly);
                block::release(&mut v).unwrap();
            }
        }
        // The transpose is saved in Fortran order: its view has F strides.
        let ex = ar.load(1, Mode::ReadOnly, false).unwrap();
        let mut v = view_of(&ex, PYBUF_F_CONTIGUOUS).unwrap();
        block::release(&mut v).unwrap();
        drop(ex);
        assert_eq!(ar.find("nothing"), None);
        assert_eq!(ar.load(6, Mode::ReadOnly, false).unwrap_err().status(), Status::IndexOutOfRange);
        drop(ar);
        assert_eq!((f.open_fds(), f.mapped()), (0, 0));
    }
}

#[test]
#[cfg_attr(miri, ignore = "archive files and their mappings: foreign calls Miri does not run")]
fn mapped_members_outlive_the_archive_and_private_writes_stay() {
    let mut a = arrays();
    let f = archive_path("private");
    let es = entries(&mut a);
    // reach-exempt: a test of archive files, which Miri cannot run (ignored there).
    // SAFETY: views of live arrays.
    unsafe { save(&f.0, &es[..1], false) }.unwrap();
    let before = std::fs::read(&f.0).unwrap();
    let ar = Archive::open(&f.0).unwrap();
    let e = ar.load(0, Mode::Private, false).unwrap();
    let err = ar.load(0, Mode::Shared, false).unwrap_err();
    assert_eq!(err.status(), Status::InvalidArgument);
    assert!(err.message().contains("CRC-32"), "{}", err.message());
    drop(ar);
    assert_eq!(f.open_fds(), 0, "the archive's fd is closed; the mapping stays");
    assert_eq!(f.mapped(), 1);
    let mut v = view_of(&e, PYBUF_FULL).unwrap();
    // reach-exempt: a test of archive files, which Miri cannot run (ignored there).
    // SAFETY: element 0 of a writable view of doubles.
    unsafe { (v.buf as *mut f64).write(-1.0) };
    assert_eq!(std::fs::read(&f.0).unwrap(), before);
    // reach-exempt: a test of archive files, which Miri cannot run (ignored there).
    // Saving over the archive replaces the file: the mapping keeps the old one.
    // SAFETY: views of live arrays.
    unsafe { save(&f.0, &es[1..2], false) }.unwrap();
    // reach-exempt: a test of archive files, which Miri cannot run (ignored there).
    // SAFETY: elements 0 and 1 of the view.
    assert_eq!(unsafe { ((v.buf as *const f64).read(), (v.buf as *const f64).add(1).read()) }, (-1.0, 1.5));
    assert_eq!(Archive::open(&f.0).unwrap().members()[0].name, "t.npy");
    block::release(&mut v).unwrap();
    drop(e);
    assert_eq!(f.mapped(), 0);
}

/// Write `f` with the zip crate: `members` as (name, bytes, deflated).
fn zip_of(f: &TempFile, members: &[(&str, &[u8], bool)], zip64: bool) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(&f.0).unwrap());
    for (name, bytes, deflated) in members {
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(if *deflated { CompressionMethod::Deflated } else { CompressionMethod::Stored })
            .large_file(zip64);
        z.start_file(*name, o).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
}

fn npy_of(values: &[f64]) -> Vec<u8> {
    let mut out = header::write(b"<d", 8, &[values.len() as isize], false).unwrap();
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

#[test]
#[cfg_attr(miri, ignore = "archive files and their mappings: foreign calls Miri does not run")]
fn zip64_archives_and_foreign_members() {
    let f = archive_path("zip64");
    let npy = npy_of(&[1.0, 2.0, 3.0]);
    zip_of(&f, &[("a.npy", &npy, false), ("b.npy", &npy, true), ("notes.txt", b"hello", false)], true);
    let ar = Archive::open(&f.0).unwrap();
    assert_eq!(ar.members().len(), 3);
    for k in 0..2 {
        let e = ar.load(k, Mode::ReadOnly, false).unwrap();
        let mut v = view_of(&e, PYBUF_FULL_RO).unwrap();
        assert_eq!(view_bytes(&v), npy[npy.len() - 24..]);
        block::release(&mut v).unwrap();
    }
    // Not an .npy file: a clear refusal naming the member.
    let e = ar.load(2, Mode::ReadOnly, false).unwrap_err();
    assert_eq!(e.status(), Status::InvalidFile);
    assert!(e.message().contains("notes.txt"), "{}", e.message());
    let mut text = String::new();
    ar.with_reader(2, |r| r.read_to_string(&mut text).map_err(|e| io_error(e, "x"))).unwrap();
    assert_eq!(text, "hello");
}

#[test]
#[cfg_attr(miri, ignore = "archive files and their mappings: foreign calls Miri does not run")]
fn damaged_archives_are_refused_without_leaks() {
    let f = archive_path("whole");
    let npy = npy_of(&(0..40).map(f64::from).collect::<Vec<_>>());
    zip_of(&f, &[("a.npy", &npy, false), ("b.npy", &npy, true)], false);
    let whole = std::fs::read(&f.0).unwrap();
    let g = archive_path("damaged");
    let mut refused = 0;
    // Every truncation point: the archive is refused, or (a cut inside nothing that
    // matters cannot exist: the directory is at the end) each member fails cleanly.
    for cut in 0..whole.len() {
        std::fs::write(&g.0, &whole[..cut]).unwrap();
        match Archive::open(&g.0) {
            Err(e) => {
                assert!(matches!(e.status(), Status::InvalidFile | Status::Io), "cut {cut}: {e:?}");
                refused += 1;
            }
            Ok(ar) => {
                for k in 0..ar.members().len() {
                    if let Ok(e) = ar.load(k, Mode::ReadOnly, false) {
                        let mut v = view_of(&e, PYBUF_FULL_RO).unwrap();
                        assert_eq!(view_bytes(&v), npy[npy.len() - 320..], "cut {cut}");
                        block::release(&mut v).unwrap();
                    }
                }
            }
        }
        assert_eq!((g.open_fds(), g.mapped()), (0, 0), "cut {cut}");
    }
    assert!(refused > whole.len() / 2, "{refused} of {} truncations refused", whole.len());
    // Every byte flipped in turn: never a panic, a crash or a leak; a flipped byte in the
    // deflated data is a CRC or deflate error.
    for at in 0..whole.len() {
        let mut bad = whole.clone();
        bad[at] ^= 0x5A;
        std::fs::write(&g.0, &bad).unwrap();
        if let Ok(ar) = Archive::open(&g.0) {
            for k in 0..ar.members().len() {
                for copy in [false, true] {
                    match ar.load(k, Mode::ReadOnly, copy) {
                        Ok(e) => {
                            let mut v = view_of(&e, PYBUF_FULL_RO).unwrap();
                            let _ = view_bytes(&v);
                            block::release(&mut v).unwrap();
                        }
                        Err(e) => assert!(
                            matches!(e.status(), Status::InvalidFile | Status::UnsupportedFormat | Status::Io
                                | Status::UnsupportedVersion | Status::InvalidFormat | Status::Unrepresentable),
                            "byte {at}: {e:?}"
                        ),
                    }
                }
            }
        }
        assert_eq!((g.open_fds(), g.mapped()), (0, 0), "byte {at}");
    }
    // A flipped byte in the deflated member's data: refused by its CRC-32 (or inflate).
    let ar = Archive::open(&f.0).unwrap();
    let b = &ar.members()[1];
    let mut bad = whole.clone();
    bad[(b.data_start + b.compressed_size / 2) as usize] ^= 1;
    std::fs::write(&g.0, &bad).unwrap();
    let e = Archive::open(&g.0).unwrap().load(1, Mode::ReadOnly, false).unwrap_err();
    assert_eq!(e.status(), Status::InvalidFile, "{e:?}");
    // A stored member whose .npy header promises more data than the member holds.
    let long = header::write(b"<d", 8, &[41], false).unwrap();
    let mut short = long.clone();
    short.extend_from_slice(&npy[npy.len() - 320..]);
    zip_of(&g, &[("s.npy", &short, false)], false);
    let e = Archive::open(&g.0).unwrap().load(0, Mode::ReadOnly, false).unwrap_err();
    assert_eq!(e.status(), Status::InvalidFile);
    assert!(e.message().contains("promises"), "{}", e.message());
    // A header shorter than the longest prefix (found by fuzzing: the reader must not
    // take data bytes for header bytes).
    let tiny = b"\x93NUMPY\x01\x00\x01\x00{abcdefgh";
    zip_of(&g, &[("s.npy", tiny, false), ("d.npy", tiny, true)], false);
    let ar = Archive::open(&g.0).unwrap();
    for k in 0..2 {
        for copy in [false, true] {
            assert_eq!(ar.load(k, Mode::ReadOnly, copy).unwrap_err().status(), Status::InvalidFile);
        }
    }
    // Not a ZIP at all.
    std::fs::write(&g.0, b"PK\x03\x04 this is not an archive").unwrap();
    assert_eq!(Archive::open(&g.0).unwrap_err().status(), Status::InvalidFile);
    assert_eq!(Archive::open(&g.0.with_extension("missing")).unwrap_err().status(), Status::Io);
}

#[test]
#[cfg_attr(miri, ignore = "archive files and their mappings: foreign calls Miri does not run")]
fn names_and_views_are_checked_before_writing() {
    let mut a = arrays();
    let f = archive_path("names");
    let mut es = entries(&mut a);
    es[1].name = "c";
    // reach-exempt: a test of archive files, which Miri cannot run (ignored there).
    // SAFETY: views of live arrays.
    let e = unsafe { save(&f.0, &es, false) }.unwrap_err();
    assert_eq!(e.status(), Status::InvalidArgument);
    assert!(!f.0.exists());
    es[1].name = "";
    // reach-exempt: a test of archive files, which Miri cannot run (ignored there).
    // SAFETY: as above.
    assert_eq!(unsafe { save(&f.0, &es, true) }.unwrap_err().status(), Status::InvalidArgument);
    es[1].name = "t";
    es[0].format = b"O";
    // reach-exempt: a test of archive files, which Miri cannot run (ignored there).
    // SAFETY: as above.
    assert!(unsafe { save(&f.0, &es, false) }.is_err());
    assert!(!f.0.exists(), "nothing is left at the path");
    let dir = f.0.parent().unwrap();
    let stem = f.0.file_name().unwrap().to_str().unwrap();
    let left = std::fs::read_dir(dir).unwrap().flatten().filter(|e| e.file_name().to_str().unwrap().starts_with(stem)).count();
    assert_eq!(left, 0, "no temporary file remains");
}

/// A file written with holes: runs of zero bytes are skipped by seeking (the file stays
/// sparse), everything else is written. `Seek` is passed through.
struct Sparse {
    file: std::fs::File,
    end: u64,
}

impl Write for Sparse {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use std::io::Seek;
        if buf.iter().all(|&b| b == 0) {
            self.file.seek(std::io::SeekFrom::Current(buf.len() as i64))?;
        } else {
            self.file.write_all(buf)?;
        }
        let pos = self.file.stream_position()?;
        self.end = self.end.max(pos);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        // A trailing hole still counts in the file's size.
        if self.file.metadata()?.len() < self.end {
            self.file.set_len(self.end)?;
        }
        self.file.flush()
    }
}

impl std::io::Seek for Sparse {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.file.seek(pos)
    }
}

/// A member over 4 GiB (ZIP64 sizes and offsets): written by `write_archive` from a
/// broadcast view (stride 0: every element the same zero) into a sparse file, listed with
/// its true size, and mapped in O(1).
#[test]
#[cfg_attr(miri, ignore = "archive files and their mappings: foreign calls Miri does not run")]
fn members_over_4_gib() {
    let f = archive_path("zip64-big");
    let n: isize = (1 << 29) + 16; // 4 GiB + 128 bytes of float64
    let zero = [0.0f64; 1];
    let shape = [n];
    let strides = [0isize];
    let small = [1.5f64, 2.5];
    let small_shape = [2isize];
    let entries = [
        Entry {
            name: "big",
            side: Side {
                ptr: zero.as_ptr() as *mut u8,
                geom: Geometry { len: n * 8, itemsize: 8, shape: &shape, strides: Some(&strides), suboffsets: None },
            },
            format: b"<d",
        },
        Entry {
            name: "after",
            side: Side {
                ptr: small.as_ptr() as *mut u8,
                geom: Geometry { len: 16, itemsize: 8, shape: &small_shape, strides: None, suboffsets: None },
            },
            format: b"<d",
        },
    ];
    let out = Sparse { file: std::fs::File::create(&f.0).unwrap(), end: 0 };
    // reach-exempt: a test of archive files, which Miri cannot run (ignored there).
    // SAFETY: a broadcast view of one live double, and a view of two.
    unsafe { write_archive(out, &entries, false) }.unwrap();
    let ar = Archive::open(&f.0).unwrap();
    let big = &ar.members()[0];
    assert_eq!(big.size, n as u64 * 8 + 128);
    assert!(big.size > u32::MAX as u64);
    let after = &ar.members()[1];
    assert!(after.data_start > u32::MAX as u64, "the second member starts past 4 GiB");
    let e = ar.load(0, Mode::ReadOnly, false).unwrap();
    let mut v = view_of(&e, PYBUF_FULL_RO).unwrap();
    assert_eq!(shape_of(&v), [n]);
    assert_eq!(v.len, n * 8);
    // reach-exempt: a test of archive files, which Miri cannot run (ignored there).
    // SAFETY: the last element of the mapped array.
    assert_eq!(unsafe { (v.buf as *const f64).offset(n - 1).read_unaligned() }, 0.0);
    block::release(&mut v).unwrap();
    let e = ar.load(1, Mode::ReadOnly, true).unwrap();
    let mut v = view_of(&e, PYBUF_FULL_RO).unwrap();
    assert_eq!(view_bytes(&v), [1.5f64.to_ne_bytes(), 2.5f64.to_ne_bytes()].concat());
    block::release(&mut v).unwrap();
}

/// The members of an archive in memory, each read by `read_member` (as `Archive::load`
/// reads a deflated member or a copy), with whether its data is 64-byte aligned in the
/// archive.
fn members_in_memory(bytes: &[u8]) -> Vec<(String, Arc<Exporter>, bool)> {
    let mut zip = ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..zip.len())
        .map(|k| {
            let mut z = zip.by_index(k).unwrap();
            let m = Member {
                name: z.name().unwrap().into_owned(),
                c_name: Vec::new(),
                method: if z.compression() == CompressionMethod::Stored { Method::Stored } else { Method::Deflated },
                encrypted: false,
                size: z.size(),
                compressed_size: z.compressed_size(),
                crc32: z.crc32(),
                data_start: z.data_start().unwrap(),
            };
            let e = read_member(&mut z, &m, true).unwrap();
            (m.name, e, m.data_start.is_multiple_of(64))
        })
        .collect()
}

#[test]
fn archives_written_and_read_in_memory() {
    // The archive of write_archive (as save writes it, without the file) read back
    // through the zip crate and read_member: under Miri too, which runs neither files nor
    // mappings.
    let mut d: Vec<f64> = (0..12).map(|k| k as f64 * 1.5).collect();
    let mut i: Vec<i32> = (0..48).map(|k| k * 7 - 100).collect();
    let mut s = [-12345i16];
    // Two rows of three int32 reached through a pointer table (a suboffset in dimension 0).
    let mut rows: Vec<Vec<i32>> = vec![vec![1, 2, 3], vec![-4, -5, -6]];
    let table: Vec<*mut u8> = rows.iter_mut().map(|r| r.as_mut_ptr().cast()).collect();
    let dp = d.as_mut_ptr().cast::<u8>();
    let entries = [
        Entry { name: "c", side: Side { ptr: dp, geom: g(96, 8, &SHAPE_34, None) }, format: b"<d" },
        Entry { name: "t", side: Side { ptr: dp, geom: g(96, 8, &SHAPE_43, Some(&STRIDES_T)) }, format: b"<d" },
        Entry {
            name: "cols",
            side: Side { ptr: i.as_mut_ptr().cast(), geom: g(96, 4, &SHAPE_64, Some(&STRIDES_COLS)) },
            format: b"<i",
        },
        Entry { name: "zero_d", side: Side { ptr: s.as_mut_ptr().cast(), geom: g(2, 2, &[], None) }, format: b"<h" },
        Entry {
            name: "rows",
            side: Side {
                ptr: table.as_ptr() as *mut u8,
                geom: Geometry { suboffsets: Some(&[0, -1]), ..g(24, 4, &[2, 3], Some(&[8, 4])) },
            },
            format: b"<i",
        },
        Entry { name: "empty", side: Side { ptr: dp, geom: g(0, 8, &SHAPE_EMPTY, None) }, format: b"<d" },
    ];
    for deflate in [false, true] {
        let mut out = std::io::Cursor::new(Vec::new());
        // SAFETY: the entries are views of live arrays.
        unsafe { write_archive(&mut out, &entries, deflate) }.unwrap();
        let members = members_in_memory(out.get_ref());
        assert_eq!(members.len(), entries.len());
        for ((name, e, aligned), entry) in members.iter().zip(&entries) {
            assert_eq!(*name, format!("{}.npy", entry.name));
            assert!(deflate || *aligned, "{name}: stored data is 64-byte aligned");
            let mut v = view_of(e, PYBUF_FULL_RO).unwrap();
            assert_eq!(shape_of(&v), entry.side.geom.shape, "{name}");
            assert_eq!(view_bytes(&v), c_bytes(entry.side), "{name}, deflate {deflate}");
            assert_eq!(format_of(&v).trim_start_matches('<'), std::str::from_utf8(entry.format).unwrap().trim_start_matches('<'));
            if v.len > 0 {
                assert!((v.buf as usize).is_multiple_of(64), "{name}: owned memory is 64-byte aligned");
            }
            assert_eq!(view_of(e, PYBUF_WRITABLE).unwrap_err().status(), Status::ReadOnly);
            block::release(&mut v).unwrap();
        }
    }
    // A member whose .npy header promises more than it holds, or whose data runs on.
    let npy = npy_of(&[1.0, 2.0]);
    let mut out = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut out);
    for (name, bytes) in [("short.npy", &npy[..npy.len() - 1]), ("long.npy", &[&npy[..], &[0]].concat()[..])] {
        z.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
    let mut zip = ZipArchive::new(std::io::Cursor::new(out.into_inner())).unwrap();
    for k in 0..2 {
        let mut z = zip.by_index(k).unwrap();
        let m = Member {
            name: z.name().unwrap().into_owned(),
            c_name: Vec::new(),
            method: Method::Deflated,
            encrypted: false,
            size: z.size(),
            compressed_size: z.compressed_size(),
            crc32: z.crc32(),
            data_start: 0,
        };
        assert_eq!(read_member(&mut z, &m, false).unwrap_err().status(), Status::InvalidFile, "{}", m.name);
    }
}

/// The elements of `side` in `order` by the copy engine (the reference).
fn contiguous(side: Side<'_>, order: crate::layout::Order) -> Vec<u8> {
    let mut out = vec![0u8; side.geom.len as usize];
    // SAFETY: `out` holds len bytes; the sides in these tests are valid views of live memory.
    unsafe { crate::copy::to_contiguous(out.as_mut_ptr(), side, order) }.unwrap();
    out
}

#[test]
fn views_larger_than_a_block_are_written_in_blocks() {
    use super::write::write_elements_in;
    use crate::layout::Order;
    // Past the block limit (1 MiB; small ones here), a view that is not contiguous is
    // gathered in blocks of whole slabs along its outer axis, or, when one slab is larger
    // than a block, slab by slab (following the outer axis' suboffset), one dimension
    // fewer each time.
    let mut rng = crate::copy::tests::Rng::new(23);
    let mut mem: Vec<u8> = (0..4096).map(|_| rng.next() as u8).collect();
    let mut rows: Vec<Vec<u8>> = (0..3).map(|_| (0..64).map(|_| rng.next() as u8).collect()).collect();
    let table: Vec<*mut u8> = rows.iter_mut().map(|r| r.as_mut_ptr()).collect();
    let base = mem.as_mut_ptr();
    type Layout = (&'static [isize], &'static [isize], Option<&'static [isize]>);
    let layouts: [(Layout, bool); 5] = [
        // Every other double of 4 rows of 6.
        ((&[4, 6], &[96, 16], None), false),
        // A transposed 3 x 5 x 4 block (rows of F order are not runs).
        ((&[3, 5, 4], &[8, 24, 120], None), false),
        // Every third double of 2 x 3 x 4, backwards along the middle axis.
        ((&[2, 3, 4], &[288, -96, 24], None), false),
        // 3 rows of 5 doubles reached through a pointer table.
        ((&[3, 5], &[8, 8], Some(&[0, -1])), true),
        // 3 rows of 2 x 3 int16 (every other one), through the table, 4 bytes in.
        ((&[3, 2, 3], &[8, 24, 4], Some(&[4, -1, -1])), true),
    ];
    for ((shape, strides, subs), indirect) in layouts {
        let itemsize = if indirect && shape.len() == 3 { 2 } else { 8 };
        let len = shape.iter().product::<isize>() * itemsize;
        let ptr = if indirect { table.as_ptr() as *mut u8 } else if strides[1] < 0 { base.wrapping_add(200) } else { base };
        let side = Side { ptr, geom: Geometry { len, itemsize, shape, strides: Some(strides), suboffsets: subs } };
        let orders: &[Order] = if indirect { &[Order::C] } else { &[Order::C, Order::F] };
        for &order in orders {
            let want = contiguous(side, order);
            for limit in [1, 8, 30, 48, 100, len as usize - 1, len as usize, 1 << 20] {
                let mut out = Vec::new();
                // SAFETY: the view's elements lie in `mem` or in `rows`.
                unsafe { write_elements_in(&mut out, side, order, &mut Vec::new(), limit) }.unwrap();
                assert_eq!(out, want, "shape {shape:?} strides {strides:?} subs {subs:?} {order:?}, blocks of {limit}");
            }
        }
    }
}
