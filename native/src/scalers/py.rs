//! Python bindings of the table reductions and transforms.
//!
//! Each function takes the n x m table as a C-contiguous float32 or float64
//! buffer with its layout ("C" or "F"), and runs with the GIL released on
//! `n_threads` threads.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::Layout;
use crate::float::Real;
use crate::py::run;
use crate::pybuf::ContiguousBuffer;

fn layout(order: &str) -> PyResult<Layout> {
    match order {
        "C" => Ok(Layout::C),
        "F" => Ok(Layout::F),
        _ => Err(PyValueError::new_err(format!("unknown layout {order:?}"))),
    }
}

/// A float32 or float64 table.
enum Table<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
}

fn table(buf: &ContiguousBuffer, n: usize, m: usize) -> PyResult<Table<'_>> {
    let (t, len) = if buf.format() == Some("f") {
        let x = buf.as_f32("X")?;
        (Table::F32(x), x.len())
    } else {
        let x = buf.as_f64("X")?;
        (Table::F64(x), x.len())
    };
    if Some(len) != n.checked_mul(m) {
        return Err(PyValueError::new_err(
            "X's buffer does not hold n * m items",
        ));
    }
    Ok(t)
}

fn vector(v: &Bound<'_, PyAny>, m: usize, what: &str) -> PyResult<Vec<f64>> {
    let buf = ContiguousBuffer::get(v, what)?;
    let s = buf.as_f64(what)?;
    if s.len() != m {
        return Err(PyValueError::new_err(format!(
            "{what} must have one item per column"
        )));
    }
    Ok(s.to_vec())
}

fn to_f64<T: Real>(v: Vec<T>) -> Vec<f64> {
    v.into_iter().map(Real::to_f64).collect()
}

fn counts(c: Vec<u64>) -> Vec<i64> {
    c.into_iter()
        .map(|c| i64::try_from(c).unwrap_or(i64::MAX))
        .collect()
}

/// NaN taken as zero.
fn or_zero<A: Real>(v: A) -> A {
    if v.is_nan() {
        A::ZERO
    } else {
        v
    }
}

/// column_stats(X, n, m, order, n_threads, wide=False) -> (nan_counts, sums)
///
/// Per-column NaN counts and sums with NaN taken as 0, in numpy's
/// summation order for `X.sum(axis=0)` (`order`: "C" or "F"; `X` is the
/// C-contiguous float32/float64 buffer of the n x m table, i.e. its
/// transpose for "F"), in one pass. float32 tables are summed in
/// float32, or in float64 with `wide`.
#[pyfunction]
#[pyo3(signature = (x, n, m, order, n_threads, wide = false))]
pub fn column_stats(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    n: usize,
    m: usize,
    order: &str,
    n_threads: usize,
    wide: bool,
) -> PyResult<(Vec<i64>, Vec<f64>)> {
    let lay = layout(order)?;
    let buf = ContiguousBuffer::get(x, "column_stats")?;
    let work = n.saturating_mul(m);
    match table(&buf, n, m)? {
        Table::F64(x) => run(py, n_threads, work, |t| {
            let (sums, nan) = super::column_sums_counts(t, x, n, m, lay, &|_, v: f64| or_zero(v));
            (counts(nan), sums)
        }),
        Table::F32(x) => run(py, n_threads, work, |t| {
            let (sums, nan) = if wide {
                super::column_sums_counts(t, x, n, m, lay, &|_, v: f32| or_zero(f64::from(v)))
            } else {
                let (s, c) = super::column_sums_counts(t, x, n, m, lay, &|_, v: f32| or_zero(v));
                (to_f64(s), c)
            };
            (counts(nan), sums)
        }),
    }
}

fn centered<T: Real>(
    threads: usize,
    x: &[T],
    n: usize,
    m: usize,
    lay: Layout,
    t: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let corr = super::column_sums(threads, x, n, m, lay, &|j, v: T| or_zero(v.to_f64() - t[j]));
    let sq = super::column_sums(threads, x, n, m, lay, &|j, v: T| {
        let d = v.to_f64() - t[j];
        or_zero(d * d)
    });
    (corr, sq)
}

/// centered_sums(X, n, m, order, t, n_threads) -> (sum(X - t), sum((X - t)**2))
///
/// Per column, in float64, NaN taken as 0, in numpy's summation order.
#[pyfunction]
pub fn centered_sums(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    n: usize,
    m: usize,
    order: &str,
    t: &Bound<'_, PyAny>,
    n_threads: usize,
) -> PyResult<(Vec<f64>, Vec<f64>)> {
    let lay = layout(order)?;
    let t = vector(t, m, "t")?;
    let buf = ContiguousBuffer::get(x, "centered_sums")?;
    let work = n.saturating_mul(m);
    match table(&buf, n, m)? {
        Table::F64(x) => run(py, n_threads, work, |th| centered(th, x, n, m, lay, &t)),
        Table::F32(x) => run(py, n_threads, work, |th| centered(th, x, n, m, lay, &t)),
    }
}

/// column_min_max(X, n, m, order, n_threads) -> (nanmin, nanmax, mixed_zeros)
///
/// NaN for all-NaN columns; `mixed_zeros[j]`: column j's minimum or
/// maximum is zero and it holds both -0.0 and +0.0 (numpy's choice of
/// zero then depends on its SIMD lanes).
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn column_min_max(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    n: usize,
    m: usize,
    order: &str,
    n_threads: usize,
) -> PyResult<(Vec<f64>, Vec<f64>, Vec<bool>)> {
    let lay = layout(order)?;
    let buf = ContiguousBuffer::get(x, "column_min_max")?;
    let work = n.saturating_mul(m);
    match table(&buf, n, m)? {
        Table::F64(x) => run(py, n_threads, work, |t| {
            let r = super::nan_min_max(t, x, n, m, lay);
            (r.lo, r.hi, r.mixed_zeros)
        }),
        Table::F32(x) => run(py, n_threads, work, |t| {
            let r = super::nan_min_max(t, x, n, m, lay);
            (to_f64(r.lo), to_f64(r.hi), r.mixed_zeros)
        }),
    }
}

/// column_medians(X, n, m, order, n_threads) -> (medians, has_inf)
///
/// NaN-ignoring medians (computed in the table's float type), and
/// whether any value is infinite.
#[pyfunction]
pub fn column_medians(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    n: usize,
    m: usize,
    order: &str,
    n_threads: usize,
) -> PyResult<(Vec<f64>, bool)> {
    let lay = layout(order)?;
    let buf = ContiguousBuffer::get(x, "column_medians")?;
    let work = n.saturating_mul(m);
    match table(&buf, n, m)? {
        Table::F64(x) => run(py, n_threads, work, |t| super::nan_medians(t, x, n, m, lay)),
        Table::F32(x) => run(py, n_threads, work, |t| {
            let (v, inf) = super::nan_medians(t, x, n, m, lay);
            (to_f64(v), inf)
        }),
    }
}

/// column_modes(X, n, m, order, n_threads) -> (modes, mixed_zeros, has_inf)
///
/// NaN-ignoring most frequent values (the smallest on ties; NaN for an
/// all-NaN column); `mixed_zeros[j]`: column j's mode is zero and it
/// holds both -0.0 and +0.0 (which one scipy returns is not decided
/// here); `has_inf`: some value is infinite.
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn column_modes(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    n: usize,
    m: usize,
    order: &str,
    n_threads: usize,
) -> PyResult<(Vec<f64>, Vec<bool>, bool)> {
    let lay = layout(order)?;
    let buf = ContiguousBuffer::get(x, "column_modes")?;
    let work = n.saturating_mul(m);
    let modes = match table(&buf, n, m)? {
        Table::F64(x) => run(py, n_threads, work, |t| super::nan_modes(t, x, n, m, lay))?,
        Table::F32(x) => run(py, n_threads, work, |t| super::nan_modes(t, x, n, m, lay))?,
    };
    let inf = modes.iter().any(|r| r.has_inf);
    Ok((
        modes.iter().map(|r| r.value).collect(),
        modes.iter().map(|r| r.mixed_zeros).collect(),
        inf,
    ))
}

/// The element-wise transform of `affine_transform` in `T`.
#[allow(clippy::too_many_arguments)]
fn transform<T: Real>(
    threads: usize,
    x: Option<&[T]>,
    out: &mut [T],
    n: usize,
    m: usize,
    lay: Layout,
    kind: &str,
    a: Option<&[f64]>,
    b: Option<&[f64]>,
    lo: f64,
    hi: f64,
) -> Result<bool, String> {
    let cast = |v: Option<&[f64]>| match v {
        Some(v) => v.iter().map(|&x| T::from_f64(x)).collect::<Vec<T>>(),
        None => vec![T::ZERO; m],
    };
    let (va, vb) = (cast(a), cast(b));
    macro_rules! pass {
        ($g:expr) => {
            super::map_table(threads, x, out, n, m, lay, &va, &vb, &$g)
        };
    }
    match kind {
        "standard" => Ok(match (a.is_some(), b.is_some()) {
            (true, true) => pass!(|v: T, s: T, d: T| (v - s) / d),
            (true, false) => pass!(|v: T, s: T, _: T| v - s),
            (false, true) => pass!(|v: T, _: T, d: T| v / d),
            (false, false) => pass!(|v: T, _: T, _: T| v),
        }),
        "minmax" => {
            if a.is_none() || b.is_none() {
                return Err("minmax needs a and b".into());
            }
            let (lo, hi) = (T::from_f64(lo), T::from_f64(hi));
            if lo <= hi {
                Ok(pass!(|v: T, mul: T, add: T| {
                    let r = v * mul + add;
                    if r < lo {
                        lo
                    } else if r > hi {
                        hi
                    } else {
                        r
                    }
                }))
            } else {
                Ok(pass!(|v: T, mul: T, add: T| v * mul + add))
            }
        }
        "fill" => {
            if b.is_none() {
                return Err("fill needs b".into());
            }
            Ok(pass!(|v: T, _: T, fill: T| if v.is_nan() {
                fill
            } else {
                v
            }))
        }
        _ => Err(format!("unknown transform {kind:?}")),
    }
}

/// affine_transform(X, out, n, m, order, kind, a, b, lo, hi, n_threads)
///
/// Writes into `out` (same shape, layout and float type as `X`; may be
/// `X` itself), with `a`, `b` (float64 vectors) cast to the table's type:
/// kind "standard": `(x - a[j]) / b[j]` (either step skipped when its
/// vector is None); kind "minmax": `x * a[j] + b[j]`, clipped to
/// `[lo, hi]` when `lo <= hi`; kind "fill": `b[j]` where x is NaN.
/// Returns whether any value of `X` was infinite.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (x, out, n, m, order, kind, a, b, lo, hi, n_threads))]
pub fn affine_transform(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    out: &Bound<'_, PyAny>,
    n: usize,
    m: usize,
    order: &str,
    kind: &str,
    a: Option<&Bound<'_, PyAny>>,
    b: Option<&Bound<'_, PyAny>>,
    lo: f64,
    hi: f64,
    n_threads: usize,
) -> PyResult<bool> {
    let lay = layout(order)?;
    let a = a.map(|v| vector(v, m, "a")).transpose()?;
    let b = b.map(|v| vector(v, m, "b")).transpose()?;
    let in_place = x.is(out);
    let ibuf = if in_place {
        None
    } else {
        Some(ContiguousBuffer::get(x, "affine_transform")?)
    };
    let xs = ibuf.as_ref().map(|buf| table(buf, n, m)).transpose()?;
    let mut obuf = ContiguousBuffer::get_writable(out, "out")?;
    let work = n.saturating_mul(m);
    let (a, b) = (a.as_deref(), b.as_deref());
    let result = if obuf.format() == Some("f") {
        let xs = match xs {
            None => None,
            Some(Table::F32(x)) => Some(x),
            Some(Table::F64(_)) => return Err(PyValueError::new_err("X and out differ in type")),
        };
        let o = obuf.as_mut_f32("out")?;
        if Some(o.len()) != n.checked_mul(m) {
            return Err(PyValueError::new_err(
                "out's buffer does not hold n * m items",
            ));
        }
        run(py, n_threads, work, |t| {
            transform(t, xs, o, n, m, lay, kind, a, b, lo, hi)
        })?
    } else {
        let xs = match xs {
            None => None,
            Some(Table::F64(x)) => Some(x),
            Some(Table::F32(_)) => return Err(PyValueError::new_err("X and out differ in type")),
        };
        let o = obuf.as_mut_f64("out")?;
        if Some(o.len()) != n.checked_mul(m) {
            return Err(PyValueError::new_err(
                "out's buffer does not hold n * m items",
            ));
        }
        run(py, n_threads, work, |t| {
            transform(t, xs, o, n, m, lay, kind, a, b, lo, hi)
        })?
    };
    result.map_err(PyValueError::new_err)
}
