//! Mapped regions: bounds checked before mapping, the three modes, unmapping.

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::abi::*;
use crate::error::Status;
use crate::export::block;

/// A file under the temporary directory, named uniquely for this test; removed when
/// dropped. Shared with the archive tests (`src/npz/tests.rs`).
pub(crate) struct TempFile(pub PathBuf);

impl TempFile {
    /// A unique path (`prefix`-pid-n-`tag`), no file yet.
    pub fn named(prefix: &str, tag: &str) -> TempFile {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!("{prefix}-{}-{}-{tag}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        TempFile(std::env::temp_dir().join(name))
    }
    /// A fresh file holding `bytes`.
    pub fn new(tag: &str, bytes: &[u8]) -> TempFile {
        let f = TempFile::named("pybuf-map", tag);
        std::fs::write(&f.0, bytes).unwrap();
        f
    }
    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.0).unwrap()
    }
    /// Lines of /proc/self/maps that map this file.
    pub fn mapped(&self) -> usize {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines().filter(|l| l.ends_with(self.0.to_str().unwrap())).count()
    }
    /// Open fds of this process that refer to this file.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .flatten()
            .filter(|e| std::fs::read_link(e.path()).is_ok_and(|t| t == self.0))
            .count()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `n` doubles 0.5, 1.5, ... after `pad` bytes of 0xEE.
fn doubles(pad: usize, n: usize) -> Vec<u8> {
    let mut v = vec![0xEE; pad];
    for i in 0..n {
        v.extend_from_slice(&(i as f64 + 0.5).to_ne_bytes());
    }
    v
}

fn layout<'a>(shape: &'a [isize], strides: Option<&'a [isize]>) -> Parts<'a> {
    Parts {
        base: std::ptr::null_mut(),
        size: 0,
        offset: 0,
        readonly: false,
        format: Some(b"d"),
        itemsize: 0,
        shape,
        strides,
        suboffsets: None,
    }
}

/// A view of `e`, boxed: a view is released at the address it was filled at.
fn view_of(e: &Arc<Exporter>, flags: i32) -> Result<Box<pybuf_buffer>> {
    let mut v = Box::new(pybuf_buffer::zeroed());
    e.export(&mut v, flags)?;
    Ok(v)
}

fn element(v: &pybuf_buffer, i: usize) -> f64 {
    // SAFETY: the tests ask for elements of 1-d views of doubles within their shape.
    unsafe { (v.buf as *const f64).add(i).read_unaligned() }
}

#[test]
#[cfg_attr(miri, ignore = "files and their mappings: foreign calls Miri does not run")]
fn read_only_map_at_an_unaligned_offset() {
    let pad = 4099; // not a multiple of any page size
    let f = TempFile::new("ro", &doubles(pad, 1000));
    let file = std::fs::File::open(&f.0).unwrap();
    let m = map_fd(file.as_raw_fd(), pad as u64, Some(8000), Mode::ReadOnly).unwrap();
    drop(file); // the mapping does not need the fd
    assert_eq!((m.len(), m.offset(), m.mode()), (8000, pad as u64, Mode::ReadOnly));
    let mut head = [0u8; 8];
    m.read_at(8, &mut head).unwrap();
    assert_eq!(f64::from_ne_bytes(head), 1.5);
    assert_eq!(m.read_at(7996, &mut head).unwrap_err().status(), Status::LengthMismatch);
    // Every second element, backwards from the last.
    let e = exporter(m, &Parts { offset: 7992, ..layout(&[500], Some(&[-16])) }).unwrap();
    assert_eq!(f.mapped(), 1);
    let v = view_of(&e, PYBUF_RECORDS_RO).unwrap();
    assert_eq!(v.readonly, 1);
    assert_eq!(element(&v, 0), 999.5);
    // reach-exempt: a test of mapped files, which Miri cannot run (ignored there).
    // SAFETY: index -2 is element 1 of the view (stride -16 bytes).
    assert_eq!(unsafe { (v.buf as *const f64).offset(-2).read_unaligned() }, 997.5);
    let err = view_of(&e, PYBUF_RECORDS).unwrap_err();
    assert_eq!(err.status(), Status::ReadOnly);
    let mut v = v;
    block::release(&mut v).unwrap();
    drop(e);
    assert_eq!(f.mapped(), 0, "unmapped with the exporter and its last view");
}

#[test]
#[cfg_attr(miri, ignore = "files and their mappings: foreign calls Miri does not run")]
fn the_last_view_keeps_the_mapping() {
    let f = TempFile::new("last", &doubles(0, 16));
    let m = map_path(&f.0, 0, None, Mode::ReadOnly).unwrap();
    assert_eq!(m.len(), 128);
    assert_eq!(f.open_fds(), 0, "map_path closes the file");
    let e = exporter(m, &layout(&[16], None)).unwrap();
    let mut v = view_of(&e, PYBUF_FULL_RO).unwrap();
    drop(e);
    assert_eq!(f.mapped(), 1, "a live view keeps the mapping");
    assert_eq!(element(&v, 15), 15.5);
    block::release(&mut v).unwrap();
    assert_eq!(f.mapped(), 0);
}

#[test]
#[cfg_attr(miri, ignore = "files and their mappings: foreign calls Miri does not run")]
fn shared_writes_reach_the_file_after_sync() {
    let f = TempFile::new("shared", &doubles(24, 8));
    let file = std::fs::OpenOptions::new().read(true).write(true).open(&f.0).unwrap();
    let m = map_fd(file.as_raw_fd(), 24, Some(64), Mode::Shared).unwrap();
    let e = exporter(m, &layout(&[8], None)).unwrap();
    let mut v = view_of(&e, PYBUF_CONTIG).unwrap();
    assert_eq!(v.readonly, 0);
    // reach-exempt: a test of mapped files, which Miri cannot run (ignored there).
    // SAFETY: element 3 of the writable view.
    unsafe { (v.buf as *mut f64).add(3).write_unaligned(-7.25) };
    sync(&e).unwrap();
    // Read back through the fd (not the mapping).
    let mut back = Vec::new();
    let mut rd = &file;
    rd.seek(SeekFrom::Start(0)).unwrap();
    rd.read_to_end(&mut back).unwrap();
    assert_eq!(&back[24 + 24..24 + 32], &(-7.25f64).to_ne_bytes());
    assert_eq!(&back[..24], &[0xEE; 24], "bytes before the region are untouched");
    // And a write to the file shows in the mapping.
    let mut wr = &file;
    wr.seek(SeekFrom::Start(24)).unwrap();
    wr.write_all(&42.0f64.to_ne_bytes()).unwrap();
    assert_eq!(element(&v, 0), 42.0);
    block::release(&mut v).unwrap();
}

#[test]
#[cfg_attr(miri, ignore = "files and their mappings: foreign calls Miri does not run")]
fn private_writes_stay_private() {
    let original = doubles(0, 8);
    let f = TempFile::new("private", &original);
    let file = std::fs::File::open(&f.0).unwrap(); // read-only is enough
    let e = exporter(map_fd(file.as_raw_fd(), 0, None, Mode::Private).unwrap(), &layout(&[8], None)).unwrap();
    let mut v = view_of(&e, PYBUF_FULL).unwrap();
    // reach-exempt: a test of mapped files, which Miri cannot run (ignored there).
    // SAFETY: element 0 of the writable (copy-on-write) view.
    unsafe { (v.buf as *mut f64).write_unaligned(99.0) };
    assert_eq!(element(&v, 0), 99.0);
    sync(&e).unwrap(); // nothing to flush
    assert_eq!(f.bytes(), original);
    let other = map_fd(file.as_raw_fd(), 0, Some(8), Mode::ReadOnly).unwrap();
    let mut first = [0u8; 8];
    other.read_at(0, &mut first).unwrap();
    assert_eq!(f64::from_ne_bytes(first), 0.5, "another mapping sees the file");
    block::release(&mut v).unwrap();
}

#[test]
#[cfg_attr(miri, ignore = "files and their mappings: foreign calls Miri does not run")]
fn read_only_parts_make_read_only_views_of_a_writable_mapping() {
    let f = TempFile::new("rop", &doubles(0, 4));
    let m = map_path(&f.0, 0, None, Mode::Shared).unwrap();
    let e = exporter(m, &Parts { readonly: true, ..layout(&[4], None) }).unwrap();
    assert!(e.readonly());
    assert_eq!(view_of(&e, PYBUF_WRITABLE).unwrap_err().status(), Status::ReadOnly);
}

#[test]
#[cfg_attr(miri, ignore = "files and their mappings: foreign calls Miri does not run")]
fn regions_past_the_end_are_refused_before_mapping() {
    let f = TempFile::new("short", &doubles(0, 10));
    let file = std::fs::File::open(&f.0).unwrap();
    let fd = file.as_raw_fd();
    for (offset, len) in [(0, 81), (80, 1), (4096, 8), (81, 0)] {
        let e = map_fd(fd, offset, Some(len), Mode::ReadOnly).unwrap_err();
        assert_eq!(e.status(), Status::InvalidFile, "{offset} {len}");
        assert!(e.message().contains("80-byte file"), "{}", e.message());
    }
    assert_eq!(map_fd(fd, 81, None, Mode::ReadOnly).unwrap_err().status(), Status::InvalidFile);
    assert_eq!(map_fd(fd, u64::MAX, Some(2), Mode::ReadOnly).unwrap_err().status(), Status::Overflow);
    // The array must lie within the region.
    let m = map_fd(fd, 8, Some(72), Mode::ReadOnly).unwrap();
    assert_eq!(exporter(m, &layout(&[10], None)).unwrap_err().status(), Status::LengthMismatch);
    let m = map_fd(fd, 0, None, Mode::ReadOnly).unwrap();
    let sub = [0isize];
    let e = exporter(m, &Parts { suboffsets: Some(&sub), ..layout(&[10], None) }).unwrap_err();
    assert_eq!(e.status(), Status::InvalidSuboffsets);
    assert_eq!(f.mapped(), 0, "failed exporters unmap");
}

#[test]
#[cfg_attr(miri, ignore = "files and their mappings: foreign calls Miri does not run")]
fn empty_regions_map_nothing() {
    let f = TempFile::new("empty", b"");
    let file = std::fs::File::open(&f.0).unwrap();
    for mode in [Mode::ReadOnly, Mode::Private] {
        let m = map_fd(file.as_raw_fd(), 0, None, mode).unwrap();
        assert!(m.is_empty() && !m.as_ptr().is_null() && (m.as_ptr() as usize).is_multiple_of(64));
        m.sync().unwrap();
        let e = exporter(m, &layout(&[0, 3], None)).unwrap();
        let mut v = view_of(&e, PYBUF_FULL_RO).unwrap();
        assert_eq!((v.len, v.ndim), (0, 2));
        block::release(&mut v).unwrap();
    }
    // At the end of a non-empty file, too.
    let g = TempFile::new("end", &[1, 2, 3]);
    let m = map_path(&g.0, 3, Some(0), Mode::ReadOnly).unwrap();
    assert!(exporter(m, &layout(&[0], None)).is_ok());
}

#[test]
#[cfg_attr(miri, ignore = "files and their mappings: foreign calls Miri does not run")]
fn bad_fds_and_modes() {
    assert_eq!(Mode::from_c(3).unwrap_err().status(), Status::InvalidArgument);
    assert_eq!(Mode::from_c(1).unwrap(), Mode::Shared);
    let e = map_fd(-1, 0, None, Mode::ReadOnly).unwrap_err();
    assert_eq!((e.status(), e.errno()), (Status::Io, libc::EBADF));
    assert!(e.message().starts_with("fstat: "), "{}", e.message());
    let mut fds = [0; 2];
    // reach-exempt: a test of mapped files, which Miri cannot run (ignored there).
    // SAFETY: pipe writes two fds into the array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let e = map_fd(fds[0], 0, Some(0), Mode::ReadOnly).unwrap_err();
    assert_eq!(e.status(), Status::InvalidArgument);
    assert!(e.message().contains("not a regular file"), "{}", e.message());
    // reach-exempt: a test of mapped files, which Miri cannot run (ignored there).
    // SAFETY: closing the two fds pipe gave us.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    // A shared mapping needs a writable fd.
    let f = TempFile::new("rdonly", &[0; 64]);
    let file = std::fs::File::open(&f.0).unwrap();
    let e = map_fd(file.as_raw_fd(), 0, None, Mode::Shared).unwrap_err();
    assert_eq!((e.status(), e.errno()), (Status::Io, libc::EACCES));
    assert!(e.message().contains("reading and writing"), "{}", e.message());
    let e = map_path(&f.0.with_extension("missing"), 0, None, Mode::ReadOnly).unwrap_err();
    assert_eq!((e.status(), e.errno()), (Status::Io, libc::ENOENT));
    // An exporter without a mapping has nothing to sync.
    let mut mem = [0u8; 8];
    let d = Description::new(&Parts { base: mem.as_mut_ptr(), size: 8, ..layout(&[1], None) }).unwrap();
    assert_eq!(sync(&Exporter::new(d, None)).unwrap_err().status(), Status::InvalidArgument);
}

/// A mapping of anonymous memory holding `bytes`, in `mode` (the mapping is writable
/// memory whatever the mode; the mode decides the views). Miri runs anonymous `mmap`, not
/// mappings of files: this is how the mapping's pointers, `read_at` and exporters of
/// mappings run under Miri.
fn anonymous(bytes: &[u8], mode: Mode) -> Mapping {
    let mut m = memmap2::MmapMut::map_anon(bytes.len()).unwrap();
    m.copy_from_slice(bytes);
    Mapping { map: Map::Writable(m.into()), mode, offset: 0 }
}

#[test]
fn exporters_of_mapped_memory() {
    for mode in [Mode::ReadOnly, Mode::Private] {
        let pad = 24;
        let m = anonymous(&doubles(pad, 16), mode);
        let mut head = [0u8; 8];
        m.read_at(pad + 8, &mut head).unwrap();
        assert_eq!(f64::from_ne_bytes(head), 1.5);
        m.read_at(pad + 15 * 8, &mut head).unwrap();
        assert_eq!(f64::from_ne_bytes(head), 15.5);
        assert_eq!(m.read_at(pad + 16 * 8 - 7, &mut head).unwrap_err().status(), Status::LengthMismatch);
        m.read_at(pad + 16 * 8, &mut []).unwrap();
        m.sync().unwrap(); // nothing to flush: not a shared mapping
        // Every second element, backwards from the last; the view outlives the exporter.
        let e = exporter(m, &Parts { offset: (pad + 15 * 8) as isize, ..layout(&[8], Some(&[-16])) }).unwrap();
        assert_eq!(e.readonly(), mode == Mode::ReadOnly);
        let mut v = view_of(&e, PYBUF_FULL_RO).unwrap();
        sync(&e).unwrap();
        drop(e);
        // SAFETY: element i of the view lies 16 * i bytes before element 0, in the mapping.
        let values: Vec<f64> = (0..8).map(|i| unsafe { (v.buf as *const f64).offset(-2 * i).read_unaligned() }).collect();
        assert_eq!(values, [15.5, 13.5, 11.5, 9.5, 7.5, 5.5, 3.5, 1.5]);
        assert_eq!(element(&v, 0), 15.5);
        block::release(&mut v).unwrap();
    }
    // Views of a private mapping write it; a read-only one refuses writable views.
    let e = exporter(anonymous(&doubles(0, 4), Mode::Private), &layout(&[4], None)).unwrap();
    let mut v = view_of(&e, PYBUF_CONTIG).unwrap();
    // SAFETY: element 2 of the writable view.
    unsafe { (v.buf as *mut f64).add(2).write_unaligned(-1.0) };
    assert_eq!(element(&v, 2), -1.0);
    block::release(&mut v).unwrap();
    let e = exporter(anonymous(&doubles(0, 4), Mode::ReadOnly), &layout(&[4], None)).unwrap();
    assert_eq!(view_of(&e, PYBUF_WRITABLE).unwrap_err().status(), Status::ReadOnly);
    // Arrays past the region or with suboffsets are refused (and the mapping dropped).
    let m = anonymous(&doubles(0, 4), Mode::ReadOnly);
    assert_eq!(exporter(m, &layout(&[5], None)).unwrap_err().status(), Status::LengthMismatch);
    let sub = [0isize];
    let m = anonymous(&doubles(0, 4), Mode::ReadOnly);
    assert_eq!(exporter(m, &Parts { suboffsets: Some(&sub), ..layout(&[4], None) }).unwrap_err().status(), Status::InvalidSuboffsets);
}
