//! The bookkeeping of views that pybuf fills, kept in `view->internal`.
//!
//! Each such view points to a heap [`Block`] whose address is in a global registry, so
//! `pybuf_release` can tell a pybuf view (registered) from a foreign one (never
//! dereferenced) and from one released already (removed), without trusting memory it
//! does not own. Views filled by `pybuf_fill_info` need no block and carry a static
//! marker instead.

use std::any::Any;
use std::collections::HashSet;
use std::ffi::c_void;
use std::sync::{Arc, Mutex};

use super::Exporter;
use crate::abi::pybuf_buffer;

/// A C exporter's release function (`releasebuffer` of `pybuf_procs`).
pub type ReleaseFn = unsafe extern "C" fn(exporter: *mut c_void, view: *mut pybuf_buffer);

/// What a view holds.
pub enum Hold {
    /// A reference to a built-in exporter, counted as one export.
    Exporter(Arc<Exporter>),
    /// A description owned by the view itself (`pybuf_fill_view`): the view's arrays and
    /// format point into its heap data, which does not move with it.
    Owned(super::Description),
    /// A view filled by a custom exporter: on release, its `internal` is restored and its
    /// release function called.
    Custom { release: Option<ReleaseFn>, exporter: *mut c_void, internal: *mut c_void },
    /// A view derived from another (`pybuf_slice`, `pybuf_cast`, ...): its own arrays and
    /// format, and an export of the built-in exporter of its memory, if any.
    Derived(crate::view::Owned),
    /// A share of something that owns the view's memory and arrays (a DLPack tensor the
    /// view was filled from), released when its last holder goes; others may take a share
    /// with [`Hold::shared`].
    Shared(Arc<dyn Any + Send + Sync>),
}

impl Hold {
    /// Another share of what a `Shared` hold owns, if it is a `T`.
    pub fn shared<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        match self {
            Hold::Shared(a) => a.clone().downcast::<T>().ok(),
            _ => None,
        }
    }
}

/// The heap bookkeeping of one view.
pub struct Block {
    pub hold: Hold,
    /// The address of the view this block was registered for: a copy of the view (at
    /// another address) cannot release it.
    home: usize,
}

impl Block {
    pub fn exporter(e: Arc<Exporter>) -> Block {
        Block { hold: Hold::Exporter(e), home: 0 }
    }

    pub fn new(hold: Hold) -> Block {
        Block { hold, home: 0 }
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        if let Hold::Exporter(e) = &self.hold {
            e.unexport();
        }
    }
}

const SHARDS: usize = 64;

/// Live block addresses, sharded to keep threads apart.
static REGISTRY: [Mutex<Option<HashSet<usize>>>; SHARDS] = [const { Mutex::new(None) }; SHARDS];

fn shard(addr: usize) -> &'static Mutex<Option<HashSet<usize>>> {
    // Blocks are at least 8-byte aligned; mix the higher bits in.
    &REGISTRY[(addr >> 4 ^ addr >> 10) % SHARDS]
}

/// Move `block` to the heap, register it for the view at `home`, and return the address
/// for `view->internal`.
pub fn register(mut block: Block, home: *const pybuf_buffer) -> *mut c_void {
    block.home = home as usize;
    let ptr = Box::into_raw(Box::new(block));
    let addr = ptr as usize;
    shard(addr).lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(HashSet::new).insert(addr);
    ptr.cast()
}

/// What `take` found at an `internal` address.
pub enum Taken {
    /// A registered block for this view, now unregistered and owned by the caller.
    Block(Box<Block>),
    /// A registered block of a view at another address (this view is a copy of it).
    Elsewhere(usize),
    /// Not a registered block.
    Unknown,
}

/// Take back the block at `internal` if it is registered for the view at `home`,
/// unregistering it.
pub fn take(internal: *mut c_void, home: *const pybuf_buffer) -> Taken {
    let addr = internal as usize;
    let mut guard = shard(addr).lock().unwrap_or_else(|e| e.into_inner());
    let Some(set) = guard.as_mut() else { return Taken::Unknown };
    if !set.contains(&addr) {
        return Taken::Unknown;
    }
    // SAFETY: a registered address is a live block from `Box::into_raw`; it is freed only
    // after being removed under this shard's lock, which we hold.
    let registered_home = unsafe { (*internal.cast::<Block>()).home };
    if registered_home != home as usize {
        return Taken::Elsewhere(registered_home);
    }
    set.remove(&addr);
    drop(guard);
    // SAFETY: just removed from the registry, so this is the one owner taking it back.
    Taken::Block(unsafe { Box::from_raw(internal.cast::<Block>()) })
}

/// Whether `internal` is a live registered block.
pub fn is_registered(internal: *mut c_void) -> bool {
    let addr = internal as usize;
    shard(addr).lock().unwrap_or_else(|e| e.into_inner()).as_ref().is_some_and(|set| set.contains(&addr))
}

/// Run `f` on the live registered block at `internal`, under the registry lock (so that
/// no other thread frees it meanwhile); `None` when `internal` is not a live block.
pub fn with_block<R>(internal: *mut c_void, f: impl FnOnce(&Block) -> R) -> Option<R> {
    let addr = internal as usize;
    let guard = shard(addr).lock().unwrap_or_else(|e| e.into_inner());
    if !guard.as_ref().is_some_and(|set| set.contains(&addr)) {
        return None;
    }
    // SAFETY: a registered address is a live block from `Box::into_raw`; it is freed only
    // after being removed under this shard's lock, which we hold.
    Some(f(unsafe { &*internal.cast::<Block>() }))
}

/// Whether `internal` is the marker of a view that `pybuf_release` has released.
pub fn is_released(internal: *mut c_void) -> bool {
    internal == marker(&RELEASED)
}

/// A status-free count of registered blocks (for tests).
pub fn live_blocks() -> usize {
    REGISTRY.iter().map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map_or(0, |h| h.len())).sum()
}

/// The `internal` marker of a view filled by `pybuf_fill_info` (no block needed).
static FILLED: u8 = 0;
/// The `internal` marker of a view that `pybuf_release` has released.
static RELEASED: u8 = 0;

fn marker(m: &'static u8) -> *mut c_void {
    m as *const u8 as *mut c_void
}

/// The `internal` value for a view that needs no bookkeeping.
pub fn filled_marker() -> *mut c_void {
    marker(&FILLED)
}

/// Release a view that pybuf filled: give back what its block holds and mark it released.
/// Released views are left alone; a view pybuf did not fill is refused, untouched.
pub fn release(view: &mut pybuf_buffer) -> crate::error::Result<()> {
    let internal = view.internal;
    if internal == marker(&RELEASED) {
        return Ok(());
    }
    if internal == marker(&FILLED) {
        view.internal = marker(&RELEASED);
        return Ok(());
    }
    let home: *const pybuf_buffer = view;
    let block = match take(internal, home) {
        Taken::Block(block) => block,
        Taken::Elsewhere(original) => {
            return Err(crate::error::Error::foreign(format_args!(
                "the view at {home:p} is a copy of the view pybuf filled at {original:#x}; release that one"
            )))
        }
        Taken::Unknown => {
            return Err(crate::error::Error::foreign(format_args!(
                "view (internal = {internal:p}) was not filled by pybuf (or was released already through a copy); \
                 release it with the function of the exporter that filled it"
            )))
        }
    };
    release_block(view, block);
    Ok(())
}

/// Give back what `block` (a block of the view at `view`'s address, no longer registered)
/// holds, and mark the view released.
///
/// A custom exporter's block (`Hold::Custom`) restores the `internal` its getbuffer set and
/// calls its release function; that `internal` may itself be a block of this view (the
/// exporter filled it with `pybuf_fill_view`, a built-in exporter, or another custom
/// exporter through `pybuf_object_get_buffer`, to any depth). Each such block that the
/// release function did not give back is given back in turn, innermost last, so every
/// level of a delegation chain is released exactly once.
pub fn release_block(view: &mut pybuf_buffer, block: Box<Block>) {
    let home: *const pybuf_buffer = view;
    let mut next = Some(block);
    while let Some(block) = next.take() {
        let custom = match &block.hold {
            Hold::Custom { release, exporter, internal } => Some((*release, *exporter, *internal)),
            _ => None,
        };
        drop(block);
        if let Some((release, exporter, inner)) = custom {
            view.internal = inner;
            if let Some(release) = release {
                // SAFETY: the custom exporter registered this function for its own views; it
                // receives the view with the `internal` value it set.
                unsafe { release(exporter, view) };
            }
            // The block beneath (if `inner` is one of this view's), unless the release
            // function gave it back itself (with `pybuf_release`, which unregisters it).
            if let Taken::Block(b) = take(inner, home) {
                next = Some(b);
            }
        }
    }
    view.internal = marker(&RELEASED);
}
