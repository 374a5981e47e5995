//! Read-only access to the raw bytes behind Python's buffer protocol.
//!
//! `pyo3::buffer::PyUntypedBuffer` refuses buffers without a shape (0-d
//! exporters such as numpy scalars), so this is a minimal RAII wrapper over
//! `PyObject_GetBuffer` / `PyBuffer_Release` that only exposes C-contiguous
//! buffers as byte slices.

use std::ffi::c_char;

use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;

/// A buffer exported by a Python object, released on drop.
///
/// Must be dropped while attached to the interpreter (i.e. not inside
/// `Python::detach`); borrow its bytes into the detached closure instead.
pub(crate) struct ContiguousBuffer {
    // Boxed so the `Py_buffer` keeps its address until it is released, as
    // some exporters expect.
    view: Box<ffi::Py_buffer>,
}

impl ContiguousBuffer {
    /// Exports `obj`'s buffer (any format, read-only is fine). Raises
    /// TypeError (from Python) for objects without the buffer protocol and
    /// ValueError for buffers that are not C-contiguous.
    pub(crate) fn get(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Self> {
        let mut view = Box::new(ffi::Py_buffer::new());
        // SAFETY: `obj` is a live object, `view` is a valid, writable
        // Py_buffer, and we are attached to the interpreter.
        let rc = unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), &mut *view, ffi::PyBUF_FULL_RO) };
        if rc != 0 {
            return Err(PyErr::fetch(obj.py()));
        }
        // From here on `Drop` releases the export, including on error.
        let buf = Self { view };
        // SAFETY: `view` was filled by a successful PyObject_GetBuffer.
        let contiguous = unsafe { ffi::PyBuffer_IsContiguous(&*buf.view, b'C' as c_char) } != 0;
        if !contiguous {
            return Err(PyValueError::new_err(format!(
                "{what} requires a C-contiguous buffer"
            )));
        }
        if buf.view.len < 0 {
            return Err(PyValueError::new_err(format!(
                "{what}: buffer reports a negative length"
            )));
        }
        Ok(buf)
    }

    /// The buffer's bytes, in memory order.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        let len = usize::try_from(self.view.len).unwrap_or(0);
        let ptr = self.view.buf.cast::<u8>().cast_const();
        if len == 0 || ptr.is_null() {
            return &[];
        }
        // SAFETY: the exporter guarantees `len` readable bytes at `ptr` for a
        // C-contiguous buffer, and the export is held until `self` is
        // dropped, which the borrow prevents while the slice lives. As with
        // hashlib (which also releases the GIL while hashing), a thread that
        // mutates the memory concurrently only gets an unspecified result.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

impl ContiguousBuffer {
    /// Exports `obj`'s buffer for writing (C-contiguous, writable).
    pub(crate) fn get_writable(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Self> {
        let mut view = Box::new(ffi::Py_buffer::new());
        // SAFETY: as in `get`.
        let rc = unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), &mut *view, ffi::PyBUF_FULL) };
        if rc != 0 {
            return Err(PyErr::fetch(obj.py()));
        }
        let buf = Self { view };
        // SAFETY: `view` was filled by a successful PyObject_GetBuffer.
        let contiguous = unsafe { ffi::PyBuffer_IsContiguous(&*buf.view, b'C' as c_char) } != 0;
        if !contiguous || buf.view.len < 0 {
            return Err(PyValueError::new_err(format!(
                "{what} requires a C-contiguous buffer"
            )));
        }
        Ok(buf)
    }

    /// The struct-module format of the items ("d", "q", "O", ...), if given.
    pub(crate) fn format(&self) -> Option<&str> {
        if self.view.format.is_null() {
            return None;
        }
        // SAFETY: a non-null format is a NUL-terminated string owned by the
        // exporter for the lifetime of the export.
        let raw = unsafe { std::ffi::CStr::from_ptr(self.view.format) };
        raw.to_str()
            .ok()
            .map(|f| f.trim_start_matches(['@', '=', '<']))
    }

    /// Whether the items are float32 (format "f").
    pub(crate) fn is_f32(&self) -> bool {
        self.format() == Some("f")
    }

    /// The number of `T` items, after checking the format, item size and
    /// alignment.
    fn check_item<T: Item>(&self, what: &str) -> PyResult<usize> {
        let size = std::mem::size_of::<T>();
        let ok = self.format().is_some_and(|f| T::FORMATS.contains(&f))
            && usize::try_from(self.view.itemsize).ok() == Some(size)
            && (self.view.buf as usize) % std::mem::align_of::<T>() == 0;
        if !ok {
            return Err(PyValueError::new_err(format!(
                "{what} must be an aligned buffer of format {:?}",
                T::FORMATS[0]
            )));
        }
        Ok(usize::try_from(self.view.len).unwrap_or(0) / size)
    }

    /// The items as `T` (checked: format, item size and alignment).
    pub(crate) fn as_slice<T: Item>(&self, what: &str) -> PyResult<&[T]> {
        let n = self.check_item::<T>(what)?;
        if n == 0 {
            return Ok(&[]);
        }
        // SAFETY: format, size and alignment checked; see `as_bytes`.
        Ok(unsafe { std::slice::from_raw_parts(self.view.buf.cast::<T>(), n) })
    }

    /// The items as mutable `T` (checked as in `as_slice`; the export must
    /// be writable).
    pub(crate) fn as_mut_slice<T: Item>(&mut self, what: &str) -> PyResult<&mut [T]> {
        let n = self.check_item::<T>(what)?;
        if self.view.readonly != 0 {
            return Err(PyValueError::new_err(format!("{what} is read-only")));
        }
        if n == 0 {
            return Ok(&mut []);
        }
        // SAFETY: a writable export of `n` items of type T (format, size and
        // alignment checked), held until `self` is dropped.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.view.buf.cast::<T>(), n) })
    }
}

/// An item type of a typed buffer: its struct-module format codes (the
/// first is the one named in errors). `bool` is for written buffers only
/// (a read one could hold other bytes than 0 and 1).
pub(crate) trait Item: Copy {
    const FORMATS: &'static [&'static str];
}

impl Item for f32 {
    const FORMATS: &'static [&'static str] = &["f"];
}

impl Item for f64 {
    const FORMATS: &'static [&'static str] = &["d"];
}

impl Item for i32 {
    const FORMATS: &'static [&'static str] = &["i"];
}

/// "l" is accepted where it is 8 bytes wide (LP64): the item size is checked.
impl Item for i64 {
    const FORMATS: &'static [&'static str] = &["q", "l"];
}

impl Item for bool {
    const FORMATS: &'static [&'static str] = &["?"];
}

impl Drop for ContiguousBuffer {
    fn drop(&mut self) {
        // SAFETY: the view holds a successful export, released exactly once
        // here; callers drop it while attached (see the type's docs).
        unsafe { ffi::PyBuffer_Release(&mut *self.view) }
    }
}
