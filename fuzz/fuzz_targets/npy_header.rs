//! The `.npy` header parser (`pybuf::npy::header::parse`) on arbitrary bytes: a `.npy`
//! file's start, damaged anywhere.
//!
//! Checked: no panic, no work beyond linear (libFuzzer's timeout), a refusal is
//! INVALID_FILE or UNSUPPORTED_VERSION with a message; a parsed header lies within the
//! input, has a shape that fits and a format that parses to its item size, and written
//! back as `np.save` would write it parses again to the same format, item size, shape and
//! order (the writer's header may be longer than the input's, so the limit is lifted for
//! that second parse).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pybuf::error::Status;
use pybuf::format::Format;
use pybuf::npy::header::{parse, parse_with_limit, write};

fuzz_target!(|data: &[u8]| {
    let h = match parse(data) {
        Ok(h) => h,
        Err(e) => {
            assert!(
                matches!(e.status(), Status::InvalidFile | Status::UnsupportedVersion),
                "{:?}: {}",
                e.status(),
                e.message()
            );
            assert!(!e.message().is_empty());
            return;
        }
    };
    assert!(h.data_offset <= data.len());
    assert!(matches!(h.version, (1, 0) | (2, 0) | (3, 0)));
    assert!(h.shape.iter().all(|&n| n >= 0));
    let items = h.shape.iter().try_fold(1isize, |n, &d| n.checked_mul(d)).expect("the shape fits");
    assert_eq!(items.checked_mul(h.itemsize), Some(h.data_len));
    let format = Format::parse(h.format.as_bytes()).expect("the format of a parsed header parses");
    assert_eq!(format.itemsize(), h.itemsize);

    let written = write(h.format.as_bytes(), h.itemsize, &h.shape, h.fortran_order)
        .unwrap_or_else(|e| panic!("a parsed header ({:?}) is written back: {}", h.format, e.message()));
    assert_eq!(written.len() % 64, 0);
    assert_eq!(written.last(), Some(&b'\n'));
    let again = parse_with_limit(&written, usize::MAX)
        .unwrap_or_else(|e| panic!("a written header parses again ({:?}): {}", h.format, e.message()));
    assert_eq!(again.data_offset, written.len());
    assert_eq!((again.itemsize, &again.shape, again.fortran_order), (h.itemsize, &h.shape, h.fortran_order));
    let back = Format::parse(again.format.as_bytes()).expect("parses");
    assert!(
        back == format || back.check_view(h.itemsize, &format).is_ok(),
        "format {:?} came back as {:?}",
        h.format,
        again.format
    );
    // Writing is a fixed point: the header written from the re-parsed one is the same.
    let twice = write(again.format.as_bytes(), again.itemsize, &again.shape, again.fortran_order).expect("written");
    assert_eq!(twice, written);
});
