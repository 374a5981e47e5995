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

    fn check_item<T>(&self, format: &str, what: &str) -> PyResult<usize> {
        let size = std::mem::size_of::<T>();
        let ok = self.format() == Some(format)
            && usize::try_from(self.view.itemsize).ok() == Some(size)
            && (self.view.buf as usize) % std::mem::align_of::<T>() == 0;
        if !ok {
            return Err(PyValueError::new_err(format!(
                "{what} must be an aligned buffer of format {format:?}"
            )));
        }
        Ok(usize::try_from(self.view.len).unwrap_or(0) / size)
    }

    /// The items as `f64` (format "d").
    pub(crate) fn as_f64(&self, what: &str) -> PyResult<&[f64]> {
        let n = self.check_item::<f64>("d", what)?;
        if n == 0 {
            return Ok(&[]);
        }
        // SAFETY: format, size and alignment checked; see `as_bytes`.
        Ok(unsafe { std::slice::from_raw_parts(self.view.buf.cast::<f64>(), n) })
    }

    fn as_mut_items<T>(&mut self, format: &str, what: &str) -> PyResult<&mut [T]> {
        let n = self.check_item::<T>(format, what)?;
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

    /// The items as `f32` (format "f").
    pub(crate) fn as_f32(&self, what: &str) -> PyResult<&[f32]> {
        let n = self.check_item::<f32>("f", what)?;
        if n == 0 {
            return Ok(&[]);
        }
        // SAFETY: format, size and alignment checked; see `as_bytes`.
        Ok(unsafe { std::slice::from_raw_parts(self.view.buf.cast::<f32>(), n) })
    }

    /// The items as `i32` (format "i").
    pub(crate) fn as_i32(&self, what: &str) -> PyResult<&[i32]> {
        let n = self.check_item::<i32>("i", what)?;
        if n == 0 {
            return Ok(&[]);
        }
        // SAFETY: format, size and alignment checked; see `as_bytes`.
        Ok(unsafe { std::slice::from_raw_parts(self.view.buf.cast::<i32>(), n) })
    }

    /// The items as `i64` (format "q", or "l" on LP64).
    pub(crate) fn as_i64(&self, what: &str) -> PyResult<&[i64]> {
        let n = if self.format() == Some("l") && std::mem::size_of::<std::ffi::c_long>() == 8 {
            self.check_item::<i64>("l", what)?
        } else {
            self.check_item::<i64>("q", what)?
        };
        if n == 0 {
            return Ok(&[]);
        }
        // SAFETY: format, size and alignment checked; see `as_bytes`.
        Ok(unsafe { std::slice::from_raw_parts(self.view.buf.cast::<i64>(), n) })
    }

    /// The items as mutable `f32` (format "f").
    pub(crate) fn as_mut_f32(&mut self, what: &str) -> PyResult<&mut [f32]> {
        self.as_mut_items::<f32>("f", what)
    }

    /// The items as mutable `f64` (format "d").
    pub(crate) fn as_mut_f64(&mut self, what: &str) -> PyResult<&mut [f64]> {
        self.as_mut_items::<f64>("d", what)
    }

    /// The items as mutable `i64` (format "q" or "l" on LP64).
    pub(crate) fn as_mut_i64(&mut self, what: &str) -> PyResult<&mut [i64]> {
        if self.format() == Some("l") && std::mem::size_of::<std::ffi::c_long>() == 8 {
            return self.as_mut_items::<i64>("l", what);
        }
        self.as_mut_items::<i64>("q", what)
    }

    /// The items as mutable `i32` (format "i").
    pub(crate) fn as_mut_i32(&mut self, what: &str) -> PyResult<&mut [i32]> {
        self.as_mut_items::<i32>("i", what)
    }

    /// The items as mutable `bool` (format "?").
    pub(crate) fn as_mut_bool(&mut self, what: &str) -> PyResult<&mut [bool]> {
        self.as_mut_items::<bool>("?", what)
    }
}

impl Drop for ContiguousBuffer {
    fn drop(&mut self) {
        // SAFETY: the view holds a successful export, released exactly once
        // here; callers drop it while attached (see the type's docs).
        unsafe { ffi::PyBuffer_Release(&mut *self.view) }
    }
}
