//! Transfers of random views (negative strides, suboffsets, every mode and unit boundary)
//! through an endpoint that injects faults: `EINTR`, short transfers, would-block,
//! `EPIPE`, end of file. The bytes must be those of `to_contiguous`/`from_contiguous`.

use super::*;
use crate::copy::tests::{cases, indices, pattern, random_shape, random_strides, Rng};
use crate::copy::{element_ptr, from_contiguous, to_contiguous};
use crate::layout::Geometry;
use crate::Status;

/// Faults an endpoint injects, each with a chance in 8 per call when enabled.
#[derive(Clone, Copy, Default)]
struct Faults {
    eintr: bool,
    short: bool,
    again: bool,
    /// Fail with this errno once this many bytes have moved.
    fail_at: Option<(usize, i32)>,
}

/// A byte sink (writes) or source (reads) that moves at most what `Faults` allows.
struct Mock {
    data: Vec<u8>,
    pos: usize,
    faults: Faults,
    rng: Rng,
    calls: usize,
    waits: usize,
}

impl Mock {
    fn new(data: Vec<u8>, faults: Faults, seed: u64) -> Mock {
        Mock { data, pos: 0, faults, rng: Rng::new(seed), calls: 0, waits: 0 }
    }

    /// Decide how many of `want` bytes this call moves, or the fault.
    fn admit(&mut self, want: usize) -> std::result::Result<usize, std::result::Result<Moved, i32>> {
        self.calls += 1;
        let f = self.faults;
        if f.eintr && self.rng.below(8) == 0 {
            return Err(Err(libc::EINTR));
        }
        if f.again && self.rng.below(8) == 0 {
            return Err(Ok(Moved::Again));
        }
        let mut n = want;
        if let Some((at, errno)) = f.fail_at {
            if self.pos >= at {
                return Err(Err(errno));
            }
            n = n.min(at - self.pos);
        }
        if f.short && self.rng.below(2) == 0 {
            n = 1 + self.rng.below(n.min(17));
        }
        Ok(n)
    }
}

/// The iovecs' bytes as (pointer, length) pieces, the first `n` bytes of them.
fn pieces(iov: &[libc::iovec], mut n: usize) -> Vec<(*mut u8, usize)> {
    let mut out = Vec::new();
    for v in iov {
        if n == 0 {
            break;
        }
        let k = v.iov_len.min(n);
        out.push((v.iov_base.cast::<u8>(), k));
        n -= k;
    }
    out
}

impl Endpoint for Mock {
    unsafe fn write(&mut self, iov: &[libc::iovec]) -> std::result::Result<Moved, i32> {
        let want: usize = iov.iter().map(|v| v.iov_len).sum();
        assert!(want > 0 && iov.len() <= sys::iov_max(), "{} iovecs, {want} bytes", iov.len());
        let n = match self.admit(want) {
            Ok(n) => n,
            Err(r) => return r,
        };
        for (p, k) in pieces(iov, n) {
            // SAFETY: the iovecs are readable (the trait's contract).
            self.data.extend_from_slice(unsafe { std::slice::from_raw_parts(p, k) });
        }
        self.pos += n;
        Ok(Moved::Bytes(n))
    }

    unsafe fn read(&mut self, iov: &[libc::iovec]) -> std::result::Result<Moved, i32> {
        let want: usize = iov.iter().map(|v| v.iov_len).sum();
        assert!(want > 0 && iov.len() <= sys::iov_max());
        let n = match self.admit(want) {
            Ok(n) => n.min(self.data.len() - self.pos),
            Err(r) => return r,
        };
        if n == 0 {
            return Ok(Moved::End);
        }
        let mut at = self.pos;
        for (p, k) in pieces(iov, n) {
            // SAFETY: the iovecs are writable (the trait's contract).
            unsafe { std::ptr::copy_nonoverlapping(self.data[at..].as_ptr(), p, k) };
            at += k;
        }
        self.pos += n;
        Ok(Moved::Bytes(n))
    }

    fn wait(&mut self, _: Direction) -> std::result::Result<(), i32> {
        self.waits += 1;
        Ok(())
    }

    fn describe(&self) -> String {
        "the mock".into()
    }
}

/// A random view over owned memory: plain strided (possibly negative strides), or with a
/// suboffset in dimension 0 (rows reached through a pointer table).
struct Case {
    itemsize: isize,
    shape: Vec<isize>,
    strides: Vec<isize>,
    suboffsets: Option<Vec<isize>>,
    /// The memory: one block, or the rows of a suboffset view.
    blocks: Vec<Vec<u8>>,
    pointers: Vec<*mut u8>,
    offset: isize,
}

impl Case {
    fn random(rng: &mut Rng) -> Case {
        let itemsize = [1, 2, 3, 8, 12, 16, 40][rng.below(7)];
        let mut shape = random_shape(rng);
        if rng.below(3) == 0 && !shape.is_empty() {
            let last = shape.len() - 1;
            shape[last] = 50 + rng.below(100) as isize; // long runs
        }
        if !shape.is_empty() && rng.below(4) == 0 {
            // A suboffset in dimension 0: each row its own block.
            let inner = random_strides(rng, &shape[1..], itemsize);
            let blocks: Vec<Vec<u8>> = (0..shape[0]).map(|_| pattern(rng, inner.size)).collect();
            let mut c = Case {
                itemsize,
                strides: [vec![std::mem::size_of::<*mut u8>() as isize], inner.strides].concat(),
                suboffsets: Some([vec![inner.offset], vec![-1; shape.len() - 1]].concat()),
                shape,
                blocks,
                pointers: Vec::new(),
                offset: 0,
            };
            c.pointers = c.blocks.iter_mut().map(|b| b.as_mut_ptr()).collect();
            return c;
        }
        let s = random_strides(rng, &shape, itemsize);
        let block = pattern(rng, s.size);
        Case { itemsize, shape, strides: s.strides, suboffsets: None, blocks: vec![block], pointers: Vec::new(), offset: s.offset }
    }

    fn geom(&self) -> Geometry<'_> {
        Geometry {
            len: self.shape.iter().product::<isize>() * self.itemsize,
            itemsize: self.itemsize,
            shape: &self.shape,
            strides: Some(&self.strides),
            suboffsets: self.suboffsets.as_deref(),
        }
    }

    fn side(&mut self) -> Side<'_> {
        let ptr = if self.suboffsets.is_some() {
            self.pointers.as_mut_ptr().cast::<u8>()
        } else {
            self.blocks[0].as_mut_ptr().wrapping_offset(self.offset)
        };
        Side { ptr, geom: self.geom() }
    }

    fn contiguous(&mut self, order: Order) -> Vec<u8> {
        let mut out = vec![0u8; self.geom().len as usize];
        // SAFETY: the case's memory holds every element; `out` has len bytes.
        unsafe { to_contiguous(out.as_mut_ptr(), self.side(), order).unwrap() };
        out
    }

    /// The memory after `from_contiguous` of `bytes` (a prefix of whole elements allowed).
    fn expected_after_read(&self, bytes: &[u8], order: Order) -> Vec<Vec<u8>> {
        let mut twin = Case { blocks: self.blocks.clone(), pointers: Vec::new(), ..self.clone_geometry() };
        twin.pointers = twin.blocks.iter_mut().map(|b| b.as_mut_ptr()).collect();
        // SAFETY: the twin's memory holds every element.
        unsafe { from_contiguous(twin.side(), bytes.as_ptr(), bytes.len(), order).unwrap() };
        twin.blocks
    }

    fn clone_geometry(&self) -> Case {
        Case {
            itemsize: self.itemsize,
            shape: self.shape.clone(),
            strides: self.strides.clone(),
            suboffsets: self.suboffsets.clone(),
            blocks: Vec::new(),
            pointers: Vec::new(),
            offset: self.offset,
        }
    }
}

const ORDERS: [Order; 3] = [Order::C, Order::F, Order::Any];

fn limits(rng: &mut Rng) -> (usize, usize) {
    ([1, 4, 16, 64, 1024][rng.below(5)], [1, 7, 32, 256, 4096, 1 << 20][rng.below(6)])
}

fn faults(rng: &mut Rng) -> Faults {
    Faults { eintr: rng.below(2) == 0, short: rng.below(2) == 0, again: rng.below(2) == 0, fail_at: None }
}

#[test]
fn writes_give_the_bytes_of_to_contiguous() {
    let mut rng = Rng::new(14);
    for case in 0..cases(3000) {
        let mut c = Case::random(&mut rng);
        let order = ORDERS[rng.below(3)];
        let want = c.contiguous(order);
        let (min_run, stage) = limits(&mut rng);
        let f = faults(&mut rng);
        let mut t = Transfer::with_limits(c.side(), order, Direction::Write, min_run, stage).unwrap();
        assert!(t.stage.len() <= stage.max(c.itemsize as usize), "case {case}: stage {} > {stage}", t.stage.len());
        let mut mock = Mock::new(Vec::new(), f, case as u64);
        let blocking = rng.below(2) == 0;
        t.set_pipeline_min([0, u64::MAX][rng.below(2)]);
        let mut steps = 0;
        loop {
            steps += 1;
            // SAFETY: the case's memory is valid; the mock's is separate.
            match unsafe { t.step(&mut mock, blocking) } {
                Ok(()) => break,
                Err(e) => {
                    assert!(!blocking, "case {case}: {e}");
                    assert_eq!(e.status(), Status::WouldBlock, "case {case}: {e}");
                    assert!(e.message().contains(&format!("{} of {} bytes", t.done(), t.total())), "{e}");
                }
            }
            assert!(steps < 1_000_000);
        }
        assert_eq!(mock.data, want, "case {case}: order {order:?}, shape {:?} strides {:?} subs {:?}, limits {min_run}/{stage}", c.shape, c.strides, c.suboffsets);
        assert_eq!(t.done(), want.len() as u64);
        // SAFETY: as above; a finished transfer moves nothing more.
        unsafe { t.step(&mut mock, false).unwrap() };
        assert_eq!(mock.data.len(), want.len());
    }
}

#[test]
fn reads_store_the_bytes_of_from_contiguous() {
    let mut rng = Rng::new(41);
    for case in 0..cases(3000) {
        let mut c = Case::random(&mut rng);
        let order = ORDERS[rng.below(3)];
        let len = c.geom().len as usize;
        let incoming = pattern(&mut rng, len);
        let want = c.expected_after_read(&incoming, order);
        let (min_run, stage) = limits(&mut rng);
        let mut mock = Mock::new(incoming.clone(), faults(&mut rng), case as u64);
        let mut t = Transfer::with_limits(c.side(), order, Direction::Read, min_run, stage).unwrap();
        let blocking = rng.below(2) == 0;
        t.set_pipeline_min([0, u64::MAX][rng.below(2)]);
        loop {
            // SAFETY: the case's memory is valid and writable; the mock's is separate.
            match unsafe { t.step(&mut mock, blocking) } {
                Ok(()) => break,
                Err(e) => assert_eq!(e.status(), Status::WouldBlock, "case {case}: {e}"),
            }
        }
        assert_eq!(c.blocks, want, "case {case}: order {order:?} shape {:?} strides {:?} subs {:?} limits {min_run}/{stage}", c.shape, c.strides, c.suboffsets);
        assert_eq!(mock.pos, len, "reads exactly len bytes");
    }
}

/// The index (in `order`) of every element, in stream order.
fn stream_indices(shape: &[isize], order: Order, c_contiguous_first: bool) -> Vec<Vec<isize>> {
    if order == Order::F || (order == Order::Any && !c_contiguous_first) {
        let rev: Vec<isize> = shape.iter().rev().copied().collect();
        indices(&rev).into_iter().map(|mut ix| { ix.reverse(); ix }).collect()
    } else {
        indices(shape)
    }
}

#[test]
fn end_of_file_stores_the_whole_elements_that_arrived() {
    let mut rng = Rng::new(7);
    for case in 0..cases(2000) {
        let mut c = Case::random(&mut rng);
        let len = c.geom().len as usize;
        if len == 0 {
            continue;
        }
        let order = ORDERS[rng.below(3)];
        let arrived = rng.below(len);
        let incoming = pattern(&mut rng, arrived);
        let (min_run, stage) = limits(&mut rng);
        let mut mock = Mock::new(incoming.clone(), faults(&mut rng), case as u64);
        let mut t = Transfer::with_limits(c.side(), order, Direction::Read, min_run, stage).unwrap();
        t.set_pipeline_min([0, u64::MAX][rng.below(2)]);
        let e = loop {
            // SAFETY: as in the other tests.
            match unsafe { t.step(&mut mock, true) } {
                Err(e) if e.status() == Status::WouldBlock => continue,
                r => break r.expect_err("the source ends early"),
            }
        };
        assert_eq!(e.status(), Status::EndOfFile, "case {case}: {e}");
        assert!(e.message().contains(&format!("after {arrived} of {len} bytes")), "{e}");
        // Whole elements that arrived: stored. Elements after the partial one: untouched.
        let itemsize = c.itemsize as usize;
        let whole = arrived / itemsize;
        let expected = c.expected_after_read(&incoming[..whole * itemsize], order);
        let geom_c_first = effective_is_c(&c.geom(), order);
        let shape = c.shape.clone();
        let all = stream_indices(&shape, order, geom_c_first);
        let got: Vec<Vec<u8>> = {
            let side = c.side();
            all.iter()
                .map(|ix| {
                    // SAFETY: indices within the shape of the case's valid view.
                    let p = unsafe { element_ptr(side.ptr, &side.geom, ix) };
                    // SAFETY: the element is readable.
                    unsafe { std::slice::from_raw_parts(p, itemsize) }.to_vec()
                })
                .collect()
        };
        for (k, (ix, got)) in all.iter().zip(&got).enumerate() {
            if k < whole {
                assert_eq!(got[..], incoming[k * itemsize..(k + 1) * itemsize], "case {case}: element {k} arrived");
            } else if k > whole {
                assert_eq!(*got, element_of(&c, &expected, ix), "case {case}: element {k} did not arrive");
            }
        }
    }
}

fn effective_is_c(geom: &Geometry<'_>, order: Order) -> bool {
    crate::copy::effective_order(geom, order) != Order::F
}

/// The element at `ix` in memory blocks `blocks` laid out as `c`.
fn element_of(c: &Case, blocks: &[Vec<u8>], ix: &[isize]) -> Vec<u8> {
    let mut twin = Case { blocks: blocks.to_vec(), ..c.clone_geometry() };
    twin.pointers = twin.blocks.iter_mut().map(|b| b.as_mut_ptr()).collect();
    let side = twin.side();
    // SAFETY: the twin's memory holds every element.
    let p = unsafe { element_ptr(side.ptr, &side.geom, ix) };
    // SAFETY: as above.
    unsafe { std::slice::from_raw_parts(p, c.itemsize as usize) }.to_vec()
}

#[test]
fn errors_keep_the_place_and_say_how_far() {
    let mut rng = Rng::new(3);
    for case in 0..cases(500) {
        let mut c = Case::random(&mut rng);
        let len = c.geom().len as usize;
        if len < 2 {
            continue;
        }
        let order = ORDERS[rng.below(3)];
        let want = c.contiguous(order);
        let at = 1 + rng.below(len - 1);
        let (min_run, stage) = limits(&mut rng);
        let f = Faults { fail_at: Some((at, libc::EPIPE)), ..faults(&mut rng) };
        let mut mock = Mock::new(Vec::new(), f, case as u64);
        let mut t = Transfer::with_limits(c.side(), order, Direction::Write, min_run, stage).unwrap();
        t.set_pipeline_min([0, u64::MAX][rng.below(2)]);
        // SAFETY: as in the other tests.
        let e = unsafe { t.step(&mut mock, true) }.expect_err("EPIPE");
        assert_eq!(e.status(), Status::Io);
        assert_eq!(e.errno(), libc::EPIPE);
        assert!(e.message().contains(&format!("{at} of {len} bytes moved")), "{e}");
        assert_eq!(t.done(), at as u64);
        // The peer recovers: the same transfer finishes, with no byte lost or repeated.
        mock.faults.fail_at = None;
        // SAFETY: as above.
        unsafe { t.step(&mut mock, true).unwrap() };
        assert_eq!(mock.data, want, "case {case}");
    }
}

#[test]
fn a_blocking_step_waits_instead_of_returning() {
    let mut c = Case { itemsize: 8, shape: vec![64, 64], strides: vec![8, 512], suboffsets: None, blocks: vec![vec![1; 32768]], pointers: vec![], offset: 0 };
    let mut mock = Mock::new(Vec::new(), Faults { again: true, ..Faults::default() }, 5);
    let mut t = Transfer::with_limits(c.side(), Order::C, Direction::Write, 64, 256).unwrap();
    // SAFETY: the memory holds the 64 x 64 transposed elements.
    unsafe { t.step(&mut mock, true).unwrap() };
    assert!(mock.waits > 0 && mock.waits < mock.calls);
    assert_eq!(mock.data.len(), 32768);
}

#[test]
fn plans_pick_runs_staging_or_items() {
    use super::stream::{Mode, Plan};
    let shape = [4isize, 300];
    let g = |strides: &'static [isize]| Geometry { len: 9600, itemsize: 8, shape: &shape, strides: Some(strides), suboffsets: None };
    let p = std::ptr::null_mut();
    // C-contiguous: one run of everything.
    assert_eq!(Plan::with_limits(p, &g(&[2400, 8]), Order::C, 1024, 1 << 20).mode, Mode::Runs { j: 0, run: 9600 });
    // Rows of 2400 bytes with gaps: a run per row.
    assert_eq!(Plan::with_limits(p, &g(&[4800, 8]), Order::C, 1024, 1 << 20).mode, Mode::Runs { j: 1, run: 2400 });
    // Every other item: staged, the whole view in one unit.
    assert_eq!(Plan::with_limits(p, &g(&[4800, 16]), Order::C, 1024, 1 << 20).mode, Mode::Staged { d: 0, block: 2400, rows: 436 });
    // F order of a C array: the reversed dims are not contiguous, staged.
    assert!(matches!(Plan::with_limits(p, &g(&[2400, 8]), Order::F, 1024, 1 << 20).mode, Mode::Staged { .. }));
    // 'A' of an F-contiguous array: one run.
    assert_eq!(Plan::with_limits(p, &g(&[8, 32]), Order::Any, 1024, 1 << 20).mode, Mode::Runs { j: 0, run: 9600 });
}

/// A 3 x 5 view of `itemsize`-byte items whose rows are reached through a pointer table
/// (a suboffset in dimension 0), each row with a gap between items.
fn suboffset_rows(itemsize: isize) -> Case {
    let shape = vec![3, 5];
    let mut rng = Rng::new(itemsize as u64);
    let blocks: Vec<Vec<u8>> = (0..3).map(|_| pattern(&mut rng, (10 * itemsize) as usize)).collect();
    let mut c = Case {
        itemsize,
        shape,
        strides: vec![std::mem::size_of::<*mut u8>() as isize, 2 * itemsize],
        suboffsets: Some(vec![0, -1]),
        blocks,
        pointers: Vec::new(),
        offset: 0,
    };
    c.pointers = c.blocks.iter_mut().map(|b| b.as_mut_ptr()).collect();
    c
}

#[test]
fn column_major_streams_of_suboffset_views_go_item_by_item() {
    use super::stream::Mode;
    // (itemsize, shortest direct run, stage): items moved in place (`direct`), or located
    // one by one into a stage of 1, 2 or all 15 items.
    for (itemsize, min_run, stage) in [(8, 8, 1 << 20), (16, 4, 64), (8, 1024, 8), (8, 1024, 16), (12, 1024, 1 << 20)] {
        let mut c = suboffset_rows(itemsize);
        let direct = itemsize as usize >= min_run;
        for faults in [Faults::default(), Faults { eintr: true, short: true, again: true, fail_at: None }] {
            let want = c.contiguous(Order::F);
            let mut t = Transfer::with_limits(c.side(), Order::F, Direction::Write, min_run, stage).unwrap();
            assert!(matches!(t.plan.mode, Mode::Items { direct: d, .. } if d == direct), "{:?}", t.plan.mode);
            let mut mock = Mock::new(Vec::new(), faults, itemsize as u64);
            // SAFETY: the case's memory holds every element; the mock's is separate.
            unsafe { t.step(&mut mock, true).unwrap() };
            assert_eq!(mock.data, want, "write: itemsize {itemsize}, limits {min_run}/{stage}");

            let incoming = pattern(&mut Rng::new(min_run as u64), want.len());
            let expected = c.expected_after_read(&incoming, Order::F);
            let mut mock = Mock::new(incoming, faults, stage as u64);
            let mut t = Transfer::with_limits(c.side(), Order::F, Direction::Read, min_run, stage).unwrap();
            // SAFETY: the case's memory is writable; the mock's is separate.
            unsafe { t.step(&mut mock, true).unwrap() };
            assert_eq!(c.blocks, expected, "read: itemsize {itemsize}, limits {min_run}/{stage}");
        }
    }
}

/// A pipe: (read end, write end), closed when dropped.
fn pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let mut fds = [-1; 2];
    // SAFETY: `fds` has room for the two fds.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: two new fds that nothing else owns.
    unsafe { (std::os::fd::OwnedFd::from_raw_fd(fds[0]), std::os::fd::OwnedFd::from_raw_fd(fds[1])) }
}

#[test]
fn views_through_a_pipe() {
    use std::os::fd::AsRawFd;
    // A transposed 6 x 7 block of u32 (runs of one item: staged) and a suboffset view in
    // C order, written to a pipe and read back into the same kinds of views. Under Miri
    // too, which runs writev and readv on pipes (not sendmsg, poll or files).
    let mut rng = Rng::new(99);
    let data = pattern(&mut rng, 6 * 7 * 4);
    let mut transposed = Case {
        itemsize: 4,
        shape: vec![7, 6],
        strides: vec![4, 28],
        suboffsets: None,
        blocks: vec![data],
        pointers: Vec::new(),
        offset: 0,
    };
    let mut rows = suboffset_rows(8);
    let (r, w) = pipe();
    let (r, w) = (r.as_raw_fd(), w.as_raw_fd());
    let mut sent = Vec::new();
    for (k, order) in [(0, Order::C), (1, Order::C), (0, Order::F)] {
        let c = if k == 0 { &mut transposed } else { &mut rows };
        sent.extend(c.contiguous(order));
        // SAFETY: the case's memory holds every element.
        unsafe { write_view(w, c.side(), order, None).unwrap() };
    }
    write_all(w, b"tail", None).unwrap();
    let mut got = vec![0u8; sent.len()];
    read_exact(r, &mut got, None).unwrap();
    assert_eq!(got, sent);
    let mut tail = [0u8; 4];
    read_exact(r, &mut tail, None).unwrap();
    assert_eq!(&tail, b"tail");

    // Back into views: the memory after from_contiguous.
    let incoming = pattern(&mut rng, transposed.geom().len as usize + rows.geom().len as usize);
    write_all(w, &incoming, None).unwrap();
    let (first, second) = incoming.split_at(transposed.geom().len as usize);
    let want = (transposed.expected_after_read(first, Order::F), rows.expected_after_read(second, Order::C));
    // SAFETY: the cases' memory is writable.
    unsafe {
        read_view(r, transposed.side(), Order::F, None).unwrap();
        read_view(r, rows.side(), Order::C, None).unwrap();
    }
    assert_eq!((transposed.blocks, rows.blocks), want);
}
