//! Overlapping the copy engine with the kernel. A large staged transfer on a blocking
//! endpoint runs on two threads: while this thread writes one unit, a second one gathers
//! the next ones into other staging buffers (a read: while this thread reads one unit, the
//! second scatters the ones before). On a machine with a core to spare, a
//! transposed or strided transfer then costs about what the kernel's copy costs.
//!
//! Peak extra memory: [`BUFFERS`] staging buffers. When they or the thread cannot be
//! had (no memory, a process at its thread limit, a call during process exit), the
//! transfer runs serially, as a non-blocking one always does.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use super::stream::{Cursor, Plan};
use super::{again, os_error, Direction, Endpoint, Moved, Transfer};
use crate::error::{Error, Result};

/// Staging buffers in flight between the two threads (each [`super::STAGE`] bytes): a
/// third absorbs the jitter of either side.
const BUFFERS: usize = 3;

/// Transfers with less than this left run serially: a thread costs tens of microseconds.
pub(super) const MIN_BYTES: u64 = 8 << 20;

/// A staging buffer filled by the gatherer: the unit's bytes, or why it failed.
type Filled = (Vec<u8>, Result<()>);

/// A unit to scatter: the buffer, where the unit is, and its length.
type Received = (Vec<u8>, Cursor, usize);

impl Transfer {
    /// Run blocking steps with at least `bytes` left on two threads (tests: 0).
    #[cfg(test)]
    pub(super) fn set_pipeline_min(&mut self, bytes: u64) {
        self.pipeline_min = bytes;
    }

    /// Whether [`Transfer::pipelined`] applies: staged, at a unit boundary, enough left.
    pub(super) fn can_pipeline(&self) -> bool {
        !self.plan.direct() && self.cursor.in_unit == 0 && !self.staged && self.total() - self.done() >= self.pipeline_min
    }

    /// Run the rest of the transfer on two threads. `None` when the second thread or
    /// buffer could not be had (nothing was done: run serially).
    ///
    /// # Safety
    /// As for [`Transfer::step`].
    pub(super) unsafe fn pipelined(&mut self, ep: &mut dyn Endpoint) -> Option<Result<()>> {
        let need = self.plan.stage_len();
        let mut more = Vec::with_capacity(BUFFERS - 1);
        for _ in 1..BUFFERS {
            more.push(crate::alloc::try_vec(need, 0u8, "another staging buffer").ok()?);
        }
        let first = if self.stage.len() >= need {
            std::mem::take(&mut self.stage)
        } else {
            crate::alloc::try_vec(need, 0u8, "the staging buffer of a transfer").ok()?
        };
        let Transfer { plan, cursor, stage, staged, direction, .. } = self;
        let plan: &Plan = plan;
        let outcome = std::thread::scope(|scope| {
            if *direction == Direction::Write {
                let (to_worker, work) = sync_channel::<Vec<u8>>(BUFFERS);
                let (to_main, filled) = sync_channel::<Filled>(BUFFERS);
                let start = cursor.clone();
                let worker = std::thread::Builder::new()
                    .name("pybuf-io-gather".into())
                    // SAFETY: forwarded; the worker gathers units this thread does not touch.
                    .spawn_scoped(scope, move || unsafe { gather_ahead(plan, start, work, to_main) });
                if worker.is_err() {
                    return Err(first);
                }
                for buf in std::iter::once(first).chain(more) {
                    let _ = to_worker.send(buf);
                }
                // SAFETY: forwarded.
                Ok(unsafe { write_units(plan, cursor, ep, filled, to_worker, stage, staged) })
            } else {
                let (to_worker, work) = sync_channel::<Received>(BUFFERS);
                let (to_main, free) = sync_channel::<Vec<u8>>(BUFFERS);
                let worker = std::thread::Builder::new()
                    .name("pybuf-io-scatter".into())
                    // SAFETY: forwarded; the worker scatters units this thread is done with.
                    .spawn_scoped(scope, move || unsafe { scatter_behind(plan, work, to_main) });
                if worker.is_err() {
                    return Err(first);
                }
                // SAFETY: forwarded.
                Ok(unsafe { read_units(plan, cursor, ep, free, to_worker, stage, [vec![first], more].concat()) })
            }
            // Leaving the scope joins the worker; every channel end this thread held was
            // moved into the functions above and is dropped by now, so the worker ends.
        });
        match outcome {
            // A failure left its unit in `stage`; after a success it is empty, and a
            // later serial step allocates one.
            Ok(result) => Some(result),
            Err(first) => {
                self.stage = first;
                None
            }
        }
    }
}

/// The worker of a write: gather unit after unit into the buffers it is given.
///
/// # Safety
/// The view's elements are readable; the buffers hold a unit each.
unsafe fn gather_ahead(plan: &Plan, mut at: Cursor, free: Receiver<Vec<u8>>, to_main: SyncSender<Filled>) {
    while at.unit_start < plan.total {
        let Ok(mut buf) = free.recv() else { return };
        // SAFETY: forwarded.
        let r = unsafe { at.gather(plan, &mut buf) };
        let failed = r.is_err();
        if to_main.send((buf, r)).is_err() || failed {
            return;
        }
        at.next_unit(plan);
    }
}

/// The main side of a write: write each gathered unit whole, hand its buffer back.
///
/// # Safety
/// As for [`Transfer::step`].
unsafe fn write_units(
    plan: &Plan,
    cursor: &mut Cursor,
    ep: &mut dyn Endpoint,
    filled: Receiver<Filled>,
    to_worker: SyncSender<Vec<u8>>,
    stage: &mut Vec<u8>,
    staged: &mut bool,
) -> Result<()> {
    while cursor.unit_start < plan.total {
        let (buf, gathered) = filled.recv().map_err(|_| Error::internal("the gathering thread of a transfer ended early"))?;
        if let Err(e) = gathered {
            *stage = buf;
            return Err(e);
        }
        let len = cursor.unit_len(plan);
        while cursor.in_unit < len {
            let rest = &buf[cursor.in_unit..len];
            let iov = [libc::iovec { iov_base: rest.as_ptr() as *mut _, iov_len: rest.len() }];
            // SAFETY: the iovec is the buffer's unsent bytes.
            let moved = unsafe { ep.write(&iov) };
            let outcome = match moved {
                Ok(Moved::Bytes(n)) => {
                    cursor.in_unit += n;
                    Ok(())
                }
                Ok(Moved::Again | Moved::End) => again(ep, true, Direction::Write, cursor.done(), plan.total),
                Err(libc::EINTR) => Ok(()),
                Err(e) => Err(os_error("write", e, ep, cursor.done(), plan.total)),
            };
            if let Err(e) = outcome {
                // Keep the unit: a later step resumes inside it.
                *stage = buf;
                *staged = true;
                return Err(e);
            }
        }
        cursor.next_unit(plan);
        let _ = to_worker.send(buf);
    }
    Ok(())
}

/// The worker of a read: scatter each received unit, hand its buffer back.
///
/// # Safety
/// The view's elements are writable; each unit comes whole, with its cursor.
unsafe fn scatter_behind(plan: &Plan, work: Receiver<Received>, to_main: SyncSender<Vec<u8>>) {
    while let Ok((buf, at, len)) = work.recv() {
        // SAFETY: forwarded. (Scattering cannot fail for a valid plan: the chunk and the
        // stage have the same shape.)
        let _ = unsafe { at.scatter(plan, &buf, len) };
        // The main thread may have finished or failed: the units already handed over are
        // stored all the same (the channel drains before it reports its end), and a
        // buffer sent back is never waited for (the channel has room for every buffer).
        let _ = to_main.send(buf);
    }
}

/// The main side of a read: read each unit whole into a free buffer, hand it to the
/// worker. On a failure the partly received unit is left in `stage` (with
/// `cursor.in_unit` its bytes) for the caller to store its whole elements.
///
/// # Safety
/// As for [`Transfer::step`].
unsafe fn read_units(
    plan: &Plan,
    cursor: &mut Cursor,
    ep: &mut dyn Endpoint,
    free: Receiver<Vec<u8>>,
    to_worker: SyncSender<Received>,
    stage: &mut Vec<u8>,
    mut spare: Vec<Vec<u8>>,
) -> Result<()> {
    while cursor.unit_start < plan.total {
        let mut buf = match spare.pop() {
            Some(b) => b,
            None => free.recv().map_err(|_| Error::internal("the scattering thread of a transfer ended early"))?,
        };
        let len = cursor.unit_len(plan);
        while cursor.in_unit < len {
            let rest = &mut buf[cursor.in_unit..len];
            let iov = [libc::iovec { iov_base: rest.as_mut_ptr().cast(), iov_len: rest.len() }];
            // SAFETY: the iovec is the buffer's unfilled bytes.
            let moved = unsafe { ep.read(&iov) };
            let outcome = match moved {
                Ok(Moved::Bytes(n)) => {
                    cursor.in_unit += n;
                    Ok(())
                }
                Ok(Moved::End) => Err(Error::eof(format_args!(
                    "end of file on {} after {} of {} bytes",
                    ep.describe(),
                    cursor.done(),
                    plan.total
                ))),
                Ok(Moved::Again) => again(ep, true, Direction::Read, cursor.done(), plan.total),
                Err(libc::EINTR) => Ok(()),
                Err(e) => Err(os_error("read", e, ep, cursor.done(), plan.total)),
            };
            if let Err(e) = outcome {
                // The caller stores the whole elements of this unit from `stage`, once the
                // worker has stored the units before it (the scope joins it first).
                *stage = buf;
                return Err(e);
            }
        }
        let at = cursor.clone();
        cursor.next_unit(plan);
        // The unit's place is handed over with it; this thread no longer touches it.
        // (Sending fails only if the worker ended, which it does not while we hold
        // its channel.)
        if to_worker.send((buf, at, len)).is_err() {
            return Err(Error::internal("the scattering thread of a transfer ended early"));
        }
    }
    Ok(())
}
