//! TEMPORARY (branch `npy`): stand-ins for `crate::io` (the lead's scatter/gather I/O) and
//! `crate::map` (branch `map`), with their announced signatures, until those land on main.
//! Remove this file when merging main, and import `crate::io` / `crate::map` instead.

#![allow(dead_code)]

/// Stand-in for `crate::io`.
pub mod io {
    use std::os::fd::RawFd;

    use crate::copy::Side;
    use crate::error::{Error, Result};
    use crate::layout::Order;
    use crate::view::walk::Walk;
    use crate::view::Layout;

    fn errno() -> i32 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
    }

    /// Write all of `bytes` (at `offset`, else at the fd's position).
    pub fn write_all(fd: RawFd, bytes: &[u8], offset: Option<u64>) -> Result<()> {
        let mut done = 0usize;
        while done < bytes.len() {
            let rest = &bytes[done..];
            // SAFETY: `rest` is readable for its length.
            let n = unsafe {
                match offset {
                    Some(o) => libc::pwrite(fd, rest.as_ptr().cast(), rest.len(), (o + done as u64) as libc::off_t),
                    None => libc::write(fd, rest.as_ptr().cast(), rest.len()),
                }
            };
            if n < 0 {
                let e = errno();
                if e == libc::EINTR {
                    continue;
                }
                return Err(Error::os(if offset.is_some() { "pwrite" } else { "write" }, e, format_args!("fd {fd}, {done} of {} bytes written", bytes.len())));
            }
            done += n as usize;
        }
        Ok(())
    }

    /// Read exactly `buf.len()` bytes (at `offset`, else at the fd's position).
    pub fn read_exact(fd: RawFd, buf: &mut [u8], offset: Option<u64>) -> Result<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let rest = &mut buf[done..];
            // SAFETY: `rest` is writable for its length.
            let n = unsafe {
                match offset {
                    Some(o) => libc::pread(fd, rest.as_mut_ptr().cast(), rest.len(), (o + done as u64) as libc::off_t),
                    None => libc::read(fd, rest.as_mut_ptr().cast(), rest.len()),
                }
            };
            if n < 0 {
                let e = errno();
                if e == libc::EINTR {
                    continue;
                }
                return Err(Error::os(if offset.is_some() { "pread" } else { "read" }, e, format_args!("fd {fd}, {done} of {} bytes read", buf.len())));
            }
            if n == 0 {
                return Err(Error::eof(format_args!("end of file after {done} of {} bytes (fd {fd})", buf.len())));
            }
            done += n as usize;
        }
        Ok(())
    }

    const STAGING: usize = 1 << 20;

    fn resolve(side: &Side<'_>, order: Order) -> Order {
        crate::copy::effective_order(&side.geom, order)
    }

    /// Write the elements of `side` in `order`: directly when contiguous in that order,
    /// else gathered through a 1 MiB staging buffer.
    ///
    /// # Safety
    /// Every element of `side` is readable.
    pub unsafe fn write_view(fd: RawFd, side: Side<'_>, order: Order, offset: Option<u64>) -> Result<()> {
        let order = resolve(&side, order);
        let len = side.geom.len as usize;
        if side.geom.is_contiguous(order) || len == 0 {
            if len == 0 {
                return Ok(());
            }
            // SAFETY: a contiguous view's bytes are [ptr, ptr + len), readable.
            let bytes = unsafe { std::slice::from_raw_parts(side.ptr as *const u8, len) };
            return write_all(fd, bytes, offset);
        }
        let item = side.geom.itemsize as usize;
        let per = (STAGING / item).max(1);
        let mut stage = crate::alloc::try_vec(per * item, 0u8, "a staging buffer")?;
        let mut walk = Walk::new(Layout::new(side.ptr, &side.geom, true), order);
        let mut filled = 0usize;
        let mut written = 0u64;
        // SAFETY: the walk visits elements of the view (readable by the contract).
        while let Some(p) = unsafe { walk.next() } {
            // SAFETY: `p` is an element of `item` readable bytes; the stage has room.
            unsafe { std::ptr::copy_nonoverlapping(p, stage.as_mut_ptr().add(filled), item) };
            filled += item;
            if filled == stage.len() {
                write_all(fd, &stage[..filled], offset.map(|o| o + written))?;
                written += filled as u64;
                filled = 0;
            }
        }
        write_all(fd, &stage[..filled], offset.map(|o| o + written))
    }

    /// Read exactly `side.geom.len` bytes into the elements of `side`, in `order`.
    ///
    /// # Safety
    /// Every element of `side` is writable.
    pub unsafe fn read_view(fd: RawFd, side: Side<'_>, order: Order, offset: Option<u64>) -> Result<()> {
        let order = resolve(&side, order);
        let len = side.geom.len as usize;
        if len == 0 {
            return Ok(());
        }
        if side.geom.is_contiguous(order) {
            // SAFETY: a contiguous view's bytes are [ptr, ptr + len), writable.
            let bytes = unsafe { std::slice::from_raw_parts_mut(side.ptr, len) };
            return read_exact(fd, bytes, offset);
        }
        let item = side.geom.itemsize as usize;
        let per = (STAGING / item).max(1);
        let mut stage = crate::alloc::try_vec(per * item, 0u8, "a staging buffer")?;
        let mut walk = Walk::new(Layout::new(side.ptr, &side.geom, false), order);
        let mut left = len;
        let mut read = 0u64;
        while left > 0 {
            let chunk = left.min(stage.len());
            read_exact(fd, &mut stage[..chunk], offset.map(|o| o + read))?;
            for k in 0..chunk / item {
                // SAFETY: the walk has an element for every item of the view.
                let p = unsafe { walk.next() }.expect("an element per item");
                // SAFETY: `p` is an element of `item` writable bytes.
                unsafe { std::ptr::copy_nonoverlapping(stage.as_ptr().add(k * item), p, item) };
            }
            read += chunk as u64;
            left -= chunk;
        }
        Ok(())
    }
}

/// Stand-in for `crate::map` (branch `map`): the same names and signatures.
pub mod map {
    use std::any::Any;
    use std::ffi::c_void;
    use std::os::fd::RawFd;
    use std::sync::Arc;

    use crate::error::{Error, Result};
    use crate::export::{Description, Exporter, Owner, Parts};

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Mode {
        ReadOnly,
        Shared,
        Private,
    }

    impl Mode {
        pub fn writable(self) -> bool {
            self != Mode::ReadOnly
        }
    }

    enum Map {
        Empty,
        ReadOnly(memmap2::Mmap),
        Writable(memmap2::MmapMut),
    }

    pub struct Mapping {
        map: Map,
        mode: Mode,
    }

    #[repr(align(64))]
    struct Aligned;

    impl Mapping {
        pub fn as_ptr(&self) -> *mut u8 {
            match &self.map {
                Map::Empty => std::ptr::NonNull::<Aligned>::dangling().as_ptr().cast(),
                Map::ReadOnly(m) => m.as_ptr() as *mut u8,
                Map::Writable(m) => m.as_ptr() as *mut u8,
            }
        }
        pub fn len(&self) -> usize {
            match &self.map {
                Map::Empty => 0,
                Map::ReadOnly(m) => m.len(),
                Map::Writable(m) => m.len(),
            }
        }
    }

    pub fn file_size(fd: RawFd) -> Result<u64> {
        // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat writes only into `st`.
        if unsafe { libc::fstat(fd, &mut st) } != 0 {
            let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO);
            return Err(Error::os("fstat", errno, format_args!("fd {fd}")));
        }
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(Error::argument(format_args!("fd {fd} is not a regular file")));
        }
        Ok(st.st_size as u64)
    }

    pub fn map_fd(fd: RawFd, offset: u64, len: Option<u64>, mode: Mode) -> Result<Mapping> {
        let size = file_size(fd)?;
        let len = len.unwrap_or(size.saturating_sub(offset));
        let end = offset.checked_add(len).ok_or_else(|| Error::overflow("offset + length overflows"))?;
        if end > size {
            return Err(Error::invalid_file(format_args!("the region [{offset}, {end}) lies past the end of the {size}-byte file")));
        }
        if len == 0 {
            return Ok(Mapping { map: Map::Empty, mode });
        }
        let mut options = memmap2::MmapOptions::new();
        options.offset(offset).len(len as usize);
        // SAFETY: the region lies within the file (checked above); reached only through raw pointers.
        let mapped = unsafe {
            match mode {
                Mode::ReadOnly => options.map(fd).map(Map::ReadOnly),
                Mode::Shared => options.map_mut(fd).map(Map::Writable),
                Mode::Private => options.map_copy(fd).map(Map::Writable),
            }
        };
        let map = mapped.map_err(|e| Error::os("mmap", e.raw_os_error().unwrap_or(libc::EIO), format_args!("fd {fd}")))?;
        Ok(Mapping { map, mode })
    }

    unsafe extern "C" fn drop_kept(user: *mut c_void) {
        // SAFETY: `user` is the Box made by `holding`, given back once.
        drop(unsafe { Box::from_raw(user.cast::<Box<dyn Any + Send + Sync>>()) });
    }

    /// Stand-in for `Exporter::holding`.
    pub fn holding(description: Description, keep: Box<dyn Any + Send + Sync>) -> Arc<Exporter> {
        let user = Box::into_raw(Box::new(keep)).cast::<c_void>();
        Exporter::new(description, Some(Owner { callback: drop_kept, user }))
    }

    pub fn exporter(mapping: Mapping, parts: &Parts<'_>) -> Result<Arc<Exporter>> {
        let size = isize::try_from(mapping.len()).map_err(|_| Error::overflow("the mapped region is too large"))?;
        let parts = Parts { base: mapping.as_ptr(), size, readonly: parts.readonly || !mapping.mode.writable(), ..*parts };
        let description = Description::new(&parts)?;
        Ok(holding(description, Box::new(mapping)))
    }

    // SAFETY: the mapping is plain memory owned by this value.
    unsafe impl Send for Mapping {}
    // SAFETY: as above; shared access only reads the pointer and length.
    unsafe impl Sync for Mapping {}
}
