//! Unit tests of segments, the message codec and the hand-over within one process (the
//! C tests hand views to other processes).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::sock::{self, RecvFlags};
use super::wire::{self, Message};
use super::*;
use crate::abi::{pybuf_buffer, PYBUF_FULL_RO, PYBUF_RECORDS};
use crate::error::Status;

fn socketpair(ty: i32) -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: socketpair writes two fds into the array.
    assert_eq!(unsafe { libc::socketpair(libc::AF_UNIX, ty | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) }, 0);
    // SAFETY: two new fds that nothing else owns.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn parts<'a>(shape: &'a [isize], strides: Option<&'a [isize]>, format: &'a [u8]) -> Parts<'a> {
    Parts {
        base: std::ptr::null_mut(),
        size: -1,
        offset: 0,
        readonly: false,
        format: Some(format),
        itemsize: 0,
        shape,
        strides,
        suboffsets: None,
    }
}

/// A view of `e` (released by the caller with `release`), boxed: pybuf knows a view by
/// its address.
fn view_of(e: &Arc<Exporter>, flags: i32) -> Box<pybuf_buffer> {
    let mut v = Box::new(pybuf_buffer::zeroed());
    e.export(&mut v, flags).expect("export");
    v
}

fn release(v: &mut pybuf_buffer) {
    crate::export::block::release(v).expect("release");
}

fn geometry(v: &pybuf_buffer) -> layout::Geometry<'_> {
    let n = v.ndim as usize;
    // reach-exempt: a helper of the segment tests, which Miri cannot run (memfd, mmap).
    // SAFETY: a view pybuf filled with PYBUF_FULL_RO: shape and strides hold ndim entries.
    unsafe {
        layout::Geometry {
            len: v.len,
            itemsize: v.itemsize,
            shape: std::slice::from_raw_parts(v.shape, n),
            strides: Some(std::slice::from_raw_parts(v.strides, n)),
            suboffsets: None,
        }
    }
}

fn fill(e: &Arc<Exporter>, n: usize) {
    let seg = segment_of(e).expect("a segment");
    for k in 0..n {
        // reach-exempt: a helper of the segment tests, which Miri cannot run (memfd, mmap).
        // SAFETY: the segment holds at least n f64s at its start (the tests size it so).
        unsafe { seg.as_ptr().cast::<f64>().add(k).write(k as f64) };
    }
}

#[test]
fn message_round_trips_and_every_header_field_is_checked() {
    let m = Message {
        readonly: true,
        itemsize: 8,
        offset: 64,
        shape: vec![3, 4],
        strides: vec![8, 24],
        format: b"<d".to_vec(),
    };
    let bytes = m.encode().unwrap();
    assert_eq!(bytes.len(), wire::HEADER + 32 + 2);
    assert_eq!(wire::decode(&bytes).unwrap(), m);
    m.check(64 + 96).unwrap();
    assert_eq!(m.check(64 + 95).unwrap_err().status(), Status::InvalidMessage);
    let cases: &[(usize, u8, Status)] = &[
        (0, b'X', Status::InvalidMessage),      // magic
        (4, 2, Status::UnsupportedVersion),     // version
        (6, 3, Status::InvalidMessage),         // unknown flag
        (8, 0xff, Status::InvalidMessage),      // total
        (12, 65, Status::InvalidMessage),       // ndim
        (16, 0, Status::InvalidMessage),        // format length
        (20, 1, Status::InvalidMessage),        // reserved
        (24, 4, Status::InvalidMessage),        // itemsize disagrees with "<d"
        (47, 0x80, Status::InvalidMessage),     // shape[0] negative
        (wire::HEADER + 32, 0, Status::InvalidMessage), // NUL in the format
        (wire::HEADER + 33, b'Q' + 100, Status::InvalidMessage), // format that does not parse
    ];
    for &(at, byte, status) in cases {
        let mut b = bytes.clone();
        b[at] = byte;
        let e = wire::decode(&b).unwrap_err();
        assert_eq!(e.status(), status, "byte {at} = {byte}: {e:?}");
        assert!(!e.message().is_empty());
    }
    for cut in 0..bytes.len() {
        assert!(wire::decode(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    // Overflowing shape x strides.
    let big = Message { shape: vec![1 << 40, 1 << 40], strides: vec![1 << 40, 8], ..m.clone() };
    assert_eq!(wire::decode(&big.encode().unwrap()).unwrap_err().status(), Status::InvalidMessage);
}

#[test]
#[cfg_attr(miri, ignore = "memfd, shm_open, sockets and mmap are beyond Miri")]
fn a_transposed_view_goes_over_stream_and_seqpacket_and_writes_are_shared() {
    for ty in [libc::SOCK_STREAM, libc::SOCK_SEQPACKET] {
        let e = create(None, &Layout { parts: parts(&[3, 5], None, b"d"), npy: false }).unwrap();
        fill(&e, 15);
        let (a, b) = socketpair(ty);
        // The transpose: shape (5, 3), strides (8, 40).
        let mut v = view_of(&e, PYBUF_FULL_RO);
        let g = geometry(&v);
        let t = layout::Geometry { shape: &[5, 3], strides: Some(&[8, 40]), ..g };
        sock::send(a.as_raw_fd(), v.buf.cast(), &t, b"d", false).unwrap();
        release(&mut v);
        drop(e); // the receiver's views outlive the sender's exporter
        let r = sock::recv(b.as_raw_fd(), RecvFlags::default()).unwrap();
        let mut rv = view_of(&r, PYBUF_RECORDS);
        let rg = geometry(&rv);
        assert_eq!((rg.shape, rg.strides), (&[5isize, 3][..], Some(&[8isize, 40][..])));
        assert_eq!(rv.readonly, 0);
        // Element (i, j) of the transpose is element (j, i) = 5j + i of the original.
        let at = |i: isize, j: isize| {
            // reach-exempt: a test of segments, which Miri cannot run (memfd, mmap, sendmsg; ignored there).
            // SAFETY: (i, j) is inside the received view's shape.
            unsafe { rv.buf.cast::<u8>().offset(8 * i + 40 * j).cast::<f64>().read() }
        };
        for i in 0..5 {
            for j in 0..3 {
                assert_eq!(at(i, j), (5 * j + i) as f64);
            }
        }
        release(&mut rv);
    }
}

#[test]
#[cfg_attr(miri, ignore = "memfd, shm_open, sockets and mmap are beyond Miri")]
fn views_outside_segments_and_suboffsets_are_refused() {
    let (a, _b) = socketpair(libc::SOCK_STREAM);
    let mut data = [0f64; 4];
    let g = layout::Geometry { len: 32, itemsize: 8, shape: &[4], strides: None, suboffsets: None };
    let e = sock::send(a.as_raw_fd(), data.as_mut_ptr().cast(), &g, b"d", false).unwrap_err();
    assert_eq!(e.status(), Status::NotShared, "{e:?}");
    // A view that starts in a segment and runs past it.
    let s = create(None, &Layout { parts: parts(&[4], None, b"d"), npy: false }).unwrap();
    let seg = segment_of(&s).unwrap();
    let far = layout::Geometry { len: 8 * 8, shape: &[8], ..g };
    let over_end = 8 * 4096; // past the mapping's page
    let g2 = layout::Geometry { len: 16, shape: &[2], strides: Some(&[over_end]), ..g };
    assert_eq!(sock::send(a.as_raw_fd(), seg.as_ptr(), &g2, b"d", false).unwrap_err().status(), Status::NotShared);
    assert!(sock::send(a.as_raw_fd(), seg.as_ptr(), &far, b"d", false).is_err());
}

#[test]
#[cfg_attr(miri, ignore = "memfd, shm_open, sockets and mmap are beyond Miri")]
fn received_fds_are_closed_on_refusal_and_the_socket_would_block_when_empty() {
    let (a, b) = socketpair(libc::SOCK_SEQPACKET);
    // reach-exempt: a test of segments, which Miri cannot run (memfd, mmap, sendmsg; ignored there).
    // SAFETY: F_SETFL on our own fd.
    unsafe { libc::fcntl(b.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    let e = sock::recv(b.as_raw_fd(), RecvFlags::default()).unwrap_err();
    assert_eq!(e.status(), Status::WouldBlock);
    // A named segment is refused unless unsealed is allowed.
    let name = format!("pybuf-unit-{}", std::process::id());
    let s = create(Some(name.as_bytes()), &Layout { parts: parts(&[8], None, b"d"), npy: false }).unwrap();
    unlink(name.as_bytes()).unwrap();
    let mut v = view_of(&s, PYBUF_FULL_RO);
    let g = geometry(&v);
    sock::send(a.as_raw_fd(), v.buf.cast(), &g, b"d", false).unwrap();
    let e = sock::recv(b.as_raw_fd(), RecvFlags::default()).unwrap_err();
    assert_eq!(e.status(), Status::InvalidMessage, "{e:?}");
    sock::send(a.as_raw_fd(), v.buf.cast(), &g, b"d", false).unwrap();
    let r = sock::recv(b.as_raw_fd(), RecvFlags { unsealed: true, ..Default::default() }).unwrap();
    release(&mut v);
    drop((r, s));
}

#[test]
#[cfg_attr(miri, ignore = "memfd, shm_open, sockets and mmap are beyond Miri")]
fn a_sealed_segment_is_read_only_everywhere() {
    let (a, b) = socketpair(libc::SOCK_STREAM);
    let e = create(None, &Layout { parts: parts(&[16], None, b"d"), npy: false }).unwrap();
    fill(&e, 16);
    let mut v = view_of(&e, PYBUF_FULL_RO);
    assert_eq!(seal(&e).unwrap_err().status(), Status::ExportsExist);
    let g = geometry(&v);
    sock::send(a.as_raw_fd(), v.buf.cast(), &g, b"d", false).unwrap();
    let e2 = sock::recv(b.as_raw_fd(), RecvFlags { sealed: true, ..Default::default() }).unwrap_err();
    assert_eq!(e2.status(), Status::InvalidMessage);
    release(&mut v);
    seal(&e).unwrap();
    assert!(e.readonly());
    let mut v = view_of(&e, PYBUF_FULL_RO);
    assert_eq!(v.readonly, 1);
    sock::send(a.as_raw_fd(), v.buf.cast(), &geometry(&v), b"d", false).unwrap();
    let r = sock::recv(b.as_raw_fd(), RecvFlags { sealed: true, ..Default::default() }).unwrap();
    assert!(r.readonly());
    // reach-exempt: a test of segments, which Miri cannot run (memfd, mmap, sendmsg; ignored there).
    // SAFETY: element 3 of the sealed, still readable segment.
    assert_eq!(unsafe { v.buf.cast::<f64>().add(3).read() }, 3.0);
    release(&mut v);
}

#[test]
#[cfg_attr(miri, ignore = "memfd, shm_open, sockets and mmap are beyond Miri")]
fn npy_layout_writes_numpys_header_and_reopens() {
    let name = format!("pybuf-unit-npy-{}", std::process::id());
    let e = create(Some(name.as_bytes()), &Layout { parts: parts(&[2, 3], None, b"<i"), npy: true }).unwrap();
    let seg = segment_of(&e).unwrap();
    let head = header::write(b"<i", 4, &[2, 3], false).unwrap();
    assert_eq!(e.offset() as usize, head.len());
    assert_eq!(head.len() % 64, 0);
    let mut got = vec![0u8; head.len()];
    read(seg, 0, &mut got);
    assert_eq!(got, head);
    let o = open(name.as_bytes(), None, true, true).unwrap();
    let mut v = view_of(&o, PYBUF_FULL_RO);
    assert_eq!(geometry(&v).shape, &[2, 3]);
    assert_eq!(v.readonly, 1);
    release(&mut v);
    unlink(name.as_bytes()).unwrap();
    assert_eq!(unlink(name.as_bytes()).unwrap_err().status(), Status::Io);
}

#[test]
fn shm_names_follow_python() {
    assert_eq!(shm_name(b"abc").unwrap().as_bytes(), b"/abc");
    assert_eq!(shm_name(b"/abc").unwrap().as_bytes(), b"/abc");
    for bad in [&b""[..], b"/", b"a/b", b"a\0b"] {
        assert_eq!(shm_name(bad).unwrap_err().status(), Status::InvalidArgument, "{bad:?}");
    }
}

#[test]
fn control_messages_carry_fds() {
    // The control data of a hand-over, written as send_message writes it and read as
    // recvmsg's are: under Miri too (which has no sendmsg or recvmsg), with a socket
    // pair's fds standing for a segment's.
    let (a, b) = socketpair(libc::SOCK_STREAM);
    let bytes = [7u8; 3];
    let mut iov = libc::iovec { iov_base: bytes.as_ptr() as *mut libc::c_void, iov_len: bytes.len() };
    let mut control = sock::Control([0; 256]);
    let msg = sock::with_fd(&mut iov, &mut control, a.as_raw_fd());
    assert_eq!((msg.msg_iovlen, msg.msg_iov.cast_const()), (1, &iov as *const libc::iovec));
    // SAFETY: one well-formed SCM_RIGHTS message carrying `a`'s fd, which `a` gives up.
    let fds = unsafe { sock::take_fds(&msg) };
    assert_eq!(fds.iter().map(|f| f.as_raw_fd()).collect::<Vec<_>>(), [a.as_raw_fd()]);
    std::mem::forget(a);
    drop(fds);

    // Several control messages, as recvmsg may write them: two fds, then a message of
    // another type (skipped), then one more fd.
    let (c, d) = socketpair(libc::SOCK_STREAM);
    let raw = [b.as_raw_fd(), c.as_raw_fd(), d.as_raw_fd()];
    let mut buf = [0u8; 8];
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let mut control = sock::Control([0; 256]);
    let mut msg = sock::for_recv(&mut iov, &mut control);
    let parts: [(libc::c_int, &[libc::c_int]); 3] =
        [(libc::SCM_RIGHTS, &raw[..2]), (libc::SCM_CREDENTIALS, &[1, 2, 3]), (libc::SCM_RIGHTS, &raw[2..])];
    let mut used = 0;
    msg.msg_controllen = 256; // the whole buffer while the messages are written
    // SAFETY: the control buffer (256 bytes, aligned for cmsghdr) holds the three messages
    // (80 bytes): each header is written before CMSG_NXTHDR reads its length.
    unsafe {
        let mut h = libc::CMSG_FIRSTHDR(&msg);
        for (ty, ints) in parts {
            assert!(!h.is_null());
            (*h).cmsg_level = libc::SOL_SOCKET;
            (*h).cmsg_type = ty;
            (*h).cmsg_len = libc::CMSG_LEN(std::mem::size_of_val(ints) as u32) as _;
            for (k, &x) in ints.iter().enumerate() {
                std::ptr::write_unaligned(libc::CMSG_DATA(h).cast::<libc::c_int>().add(k), x);
            }
            used += libc::CMSG_SPACE(std::mem::size_of_val(ints) as u32) as usize;
            h = libc::CMSG_NXTHDR(&msg, h);
        }
    }
    msg.msg_controllen = used as _;
    // SAFETY: well-formed messages (above) whose fds `b`, `c` and `d` give up.
    let fds = unsafe { sock::take_fds(&msg) };
    assert_eq!(fds.iter().map(|f| f.as_raw_fd()).collect::<Vec<_>>(), raw);
    std::mem::forget((b, c, d));
}
