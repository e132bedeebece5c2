//! The hand-over message decoder (`pybuf::share::wire`) on arbitrary bytes: what another
//! process may send to `pybuf_recv_view`. The first 8 bytes pick the segment size the
//! decoded view is checked against (as `fstat` would give it); the rest is the message.
//!
//! Checked: no panic, no work beyond linear (libFuzzer's timeout); a refusal is
//! INVALID_MESSAGE or UNSUPPORTED_VERSION with a message; an accepted message has at most
//! 64 dimensions, a non-negative shape, a format without NUL whose size is the itemsize,
//! encodes back to the same bytes, and — when it fits the segment — every element of its
//! view lies within the segment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pybuf::error::Status;
use pybuf::format::Format;
use pybuf::share::wire::{decode, declared_len};

fuzz_target!(|data: &[u8]| {
    let (size, bytes) = match data.split_first_chunk::<8>() {
        Some((s, rest)) => (u64::from_le_bytes(*s) % (1 << 40), rest),
        None => return,
    };
    let m = match decode(bytes) {
        Ok(m) => m,
        Err(e) => {
            assert!(
                matches!(e.status(), Status::InvalidMessage | Status::UnsupportedVersion),
                "{:?}: {}",
                e.status(),
                e.message()
            );
            assert!(!e.message().is_empty());
            return;
        }
    };
    assert_eq!(declared_len(bytes).expect("a decoded header"), bytes.len());
    assert!(m.shape.len() <= 64 && m.shape.len() == m.strides.len());
    assert!(m.shape.iter().all(|&n| n >= 0));
    assert!(!m.format.contains(&0));
    let format = Format::parse(&m.format).expect("an accepted format parses");
    assert_eq!(format.itemsize(), m.itemsize);
    assert_eq!(m.encode().expect("an accepted message encodes"), bytes);
    if m.check(size).is_ok() {
        // Every element's first and last byte lie in [0, size).
        let items: i128 = m.shape.iter().map(|&n| n as i128).product();
        if items > 0 {
            let (mut lo, mut hi) = (m.offset as i128, m.offset as i128 + m.itemsize as i128);
            for (&n, &s) in m.shape.iter().zip(&m.strides) {
                let span = s as i128 * (n as i128 - 1);
                if span < 0 { lo += span } else { hi += span }
            }
            assert!(lo >= 0 && hi <= size as i128, "view [{lo}, {hi}) outside a {size}-byte segment");
        }
    }
});
