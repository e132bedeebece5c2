//! Exporters and the lifetimes of the views they fill.
//!
//! - [`Exporter`]: memory described once ([`Description`]), shared by an atomic reference
//!   count (`Arc`). Every view it fills holds a reference and counts as a live export;
//!   the owner callback runs once, when the exporter and all its views are gone. An
//!   exporter may also hold a Rust value ([`Exporter::holding`]: a file mapping, an owned
//!   buffer), dropped at the same moment.
//! - [`block`]: the bookkeeping a pybuf-filled view carries in `view->internal`, and the
//!   registry that tells such views from foreign ones.

pub mod block;
mod description;

use std::any::Any;
use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use crate::abi::pybuf_buffer;
use crate::error::{Error, Result};

pub use description::{Description, Parts};

/// A function called once with the user pointer when an exporter and all its views are gone.
pub type OwnerFn = unsafe extern "C" fn(user: *mut c_void);

/// The owner callback and its user pointer.
#[derive(Debug)]
pub struct Owner {
    pub callback: OwnerFn,
    pub user: *mut c_void,
}

// SAFETY: the owner callback is called exactly once, from whichever thread drops the last
// reference; the C API documents that it must be callable from any thread.
unsafe impl Send for Owner {}
// SAFETY: shared access never calls the callback (only Drop does, with exclusive access).
unsafe impl Sync for Owner {}

/// An exporter: memory plus the views of it that are alive.
#[derive(Debug)]
pub struct Exporter {
    description: RwLock<Description>,
    exports: AtomicUsize,
    owner: Option<Owner>,
    /// A Rust value that owns the memory (a file mapping, a buffer), dropped after the
    /// owner callback when the exporter and all its views are gone.
    keep: Option<Box<dyn Any + Send + Sync>>,
}

impl Exporter {
    pub fn new(description: Description, owner: Option<Owner>) -> Arc<Exporter> {
        Arc::new(Exporter { description: RwLock::new(description), exports: AtomicUsize::new(0), owner, keep: None })
    }

    /// An exporter of memory that `keep` owns (a [`crate::map::Mapping`], a `Vec`): the
    /// description's memory must stay valid while `keep` lives and must not move when
    /// `keep` does (heap or mapped memory). `keep` is dropped when the exporter and all
    /// its views are gone.
    pub fn holding(description: Description, keep: Box<dyn Any + Send + Sync>) -> Arc<Exporter> {
        Arc::new(Exporter {
            description: RwLock::new(description),
            exports: AtomicUsize::new(0),
            owner: None,
            keep: Some(keep),
        })
    }

    /// The value this exporter holds ([`Exporter::holding`]), if it is a `T`.
    pub fn kept<T: Any>(&self) -> Option<&T> {
        self.keep.as_deref().and_then(|k| k.downcast_ref::<T>())
    }

    /// The number of live views.
    pub fn exports(&self) -> usize {
        self.exports.load(Ordering::Acquire)
    }

    /// Fill `view` for `flags` and count it as an export. The view's `internal` holds a
    /// block, registered for this view's address, with a reference to this exporter;
    /// `obj` is left as it was. On failure nothing is written.
    pub fn export(self: &Arc<Self>, view: &mut pybuf_buffer, flags: std::ffi::c_int) -> Result<()> {
        let description = self.description.read().unwrap_or_else(|e| e.into_inner());
        description.fill(view, flags)?;
        // Count the export while the read lock keeps `replace` out.
        self.exports.fetch_add(1, Ordering::AcqRel);
        view.internal = block::register(block::Block::exporter(Arc::clone(self)), view);
        Ok(())
    }

    /// Count one more export for a view derived from a view of this exporter (see
    /// `crate::view::ExportRef`); a view of it is alive, so `replace` is already refused.
    pub(crate) fn add_export(&self) {
        self.exports.fetch_add(1, Ordering::AcqRel);
    }

    /// Give back one export (called when a view's block is released).
    pub(crate) fn unexport(&self) {
        let before = self.exports.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(before > 0);
    }

    /// Replace the description (new memory, or the same memory resized), refused while
    /// views of the current one are alive.
    pub fn replace(&self, description: Description) -> Result<()> {
        self.replace_with(|_| Ok(description))
    }

    /// Replace the description by `f` of the current one, under the lock that keeps
    /// views from being made meanwhile; refused while views of the current one are alive.
    /// `f` may change the memory's mappings (no view can see them).
    pub fn replace_with(&self, f: impl FnOnce(&Description) -> Result<Description>) -> Result<()> {
        let mut current = self.description.write().unwrap_or_else(|e| e.into_inner());
        let live = self.exports.load(Ordering::Acquire);
        if live > 0 {
            return Err(Error::exports(format_args!(
                "existing exports of data ({live} live views): the memory cannot be replaced, resized or sealed"
            )));
        }
        *current = f(&current)?;
        Ok(())
    }

    /// Byte offset of element 0 from the start of the memory block.
    pub fn offset(&self) -> isize {
        self.description.read().unwrap_or_else(|e| e.into_inner()).offset()
    }

    /// Whether the memory is read-only.
    pub fn readonly(&self) -> bool {
        self.description.read().unwrap_or_else(|e| e.into_inner()).readonly()
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Some(owner) = &self.owner {
            // SAFETY: the creator gave this callback and pointer for exactly this call,
            // made once when the last reference goes.
            unsafe { (owner.callback)(owner.user) };
        }
    }
}

#[cfg(test)]
mod tests;
