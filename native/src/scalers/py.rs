//! Python bindings of the table reductions and transforms.
//!
//! Each function takes the n x m table as a C-contiguous float32 or float64
//! buffer with its layout ("C" or "F"), and runs with the GIL released on
//! `n_threads` threads. A binding is written once, generic over the float
//! type: a [`Reduction`] for the reductions, [`Transform`] for the
//! element-wise pass.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::Layout;
use crate::binding::{run, with_float, Float, FloatFn};
use crate::float::Real;
use crate::pybuf::ContiguousBuffer;

/// The shape and memory order of a table.
#[derive(Clone, Copy)]
struct Shape {
    n: usize,
    m: usize,
    layout: Layout,
}

impl Shape {
    /// `order`: "C" (row-major) or "F" (column-major).
    fn new(n: usize, m: usize, order: &str) -> PyResult<Self> {
        let layout = match order {
            "C" => Layout::C,
            "F" => Layout::F,
            _ => return Err(PyValueError::new_err(format!("unknown layout {order:?}"))),
        };
        Ok(Shape { n, m, layout })
    }

    /// The work of one pass, which decides whether it is worth threads.
    fn items(self) -> usize {
        self.n.saturating_mul(self.m)
    }
}

/// The table `X` in `buf`, as `T` items, checked to hold `n * m` of them.
fn table<T: Float>(buf: &ContiguousBuffer, s: Shape) -> PyResult<&[T]> {
    let x = buf.as_slice::<T>("X")?;
    if Some(x.len()) != s.n.checked_mul(s.m) {
        return Err(PyValueError::new_err(
            "X's buffer does not hold n * m items",
        ));
    }
    Ok(x)
}

fn vector(v: &Bound<'_, PyAny>, m: usize, what: &str) -> PyResult<Vec<f64>> {
    let buf = ContiguousBuffer::get(v, what)?;
    let s = buf.as_slice::<f64>(what)?;
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

/// A reduction of a table of either float type, run by [`reduce`].
trait Reduction: Send {
    type Out: Send;
    fn run<T: Real>(self, threads: usize, x: &[T], s: Shape) -> Self::Out;
}

/// Runs `r` on the table in `x`'s buffer (float32 if its format is "f",
/// else float64) with the GIL released, on `n_threads` threads.
fn reduce<R: Reduction>(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    what: &str,
    s: Shape,
    n_threads: usize,
    r: R,
) -> PyResult<R::Out> {
    struct Call<'a, 'py, R> {
        py: Python<'py>,
        buf: &'a ContiguousBuffer,
        s: Shape,
        n_threads: usize,
        r: R,
    }
    impl<R: Reduction> FloatFn for Call<'_, '_, R> {
        type Out = R::Out;
        fn call<T: Float>(self) -> PyResult<R::Out> {
            let Call {
                py,
                buf,
                s,
                n_threads,
                r,
            } = self;
            let x = table::<T>(buf, s)?;
            run(py, n_threads, s.items(), |t| r.run(t, x, s))
        }
    }
    let buf = ContiguousBuffer::get(x, what)?;
    with_float(
        buf.is_f32(),
        Call {
            py,
            buf: &buf,
            s,
            n_threads,
            r,
        },
    )
}

/// Per-column NaN counts and sums (see `column_stats`).
struct Stats {
    wide: bool,
}

impl Reduction for Stats {
    type Out = (Vec<i64>, Vec<f64>);
    fn run<T: Real>(self, threads: usize, x: &[T], s: Shape) -> Self::Out {
        let Shape { n, m, layout } = s;
        let (sums, nan) = if self.wide {
            super::column_sums_counts(threads, x, n, m, layout, &|_, v: T| or_zero(v.to_f64()))
        } else {
            let (sums, nan) =
                super::column_sums_counts(threads, x, n, m, layout, &|_, v: T| or_zero(v));
            (to_f64(sums), nan)
        };
        (counts(nan), sums)
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
    let s = Shape::new(n, m, order)?;
    reduce(py, x, "column_stats", s, n_threads, Stats { wide })
}

/// Per-column sums of `X - t` and `(X - t)**2` (see `centered_sums`).
struct Centered {
    t: Vec<f64>,
}

impl Reduction for Centered {
    type Out = (Vec<f64>, Vec<f64>);
    fn run<T: Real>(self, threads: usize, x: &[T], s: Shape) -> Self::Out {
        let Shape { n, m, layout } = s;
        let t = &self.t;
        let corr = super::column_sums(threads, x, n, m, layout, &|j, v: T| {
            or_zero(v.to_f64() - t[j])
        });
        let sq = super::column_sums(threads, x, n, m, layout, &|j, v: T| {
            let d = v.to_f64() - t[j];
            or_zero(d * d)
        });
        (corr, sq)
    }
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
    let s = Shape::new(n, m, order)?;
    let t = vector(t, m, "t")?;
    reduce(py, x, "centered_sums", s, n_threads, Centered { t })
}

/// Per-column NaN-ignoring minima and maxima (see `column_min_max`).
struct MinMax;

impl Reduction for MinMax {
    type Out = (Vec<f64>, Vec<f64>, Vec<bool>);
    fn run<T: Real>(self, threads: usize, x: &[T], s: Shape) -> Self::Out {
        let r = super::nan_min_max(threads, x, s.n, s.m, s.layout);
        (to_f64(r.lo), to_f64(r.hi), r.mixed_zeros)
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
    let s = Shape::new(n, m, order)?;
    reduce(py, x, "column_min_max", s, n_threads, MinMax)
}

/// Per-column NaN-ignoring medians (see `column_medians`).
struct Medians;

impl Reduction for Medians {
    type Out = (Vec<f64>, bool);
    fn run<T: Real>(self, threads: usize, x: &[T], s: Shape) -> Self::Out {
        let (v, inf) = super::nan_medians(threads, x, s.n, s.m, s.layout);
        (to_f64(v), inf)
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
    let s = Shape::new(n, m, order)?;
    reduce(py, x, "column_medians", s, n_threads, Medians)
}

/// Per-column most frequent values (see `column_modes`).
struct Modes;

impl Reduction for Modes {
    type Out = (Vec<f64>, Vec<bool>, bool);
    fn run<T: Real>(self, threads: usize, x: &[T], s: Shape) -> Self::Out {
        let modes = super::nan_modes(threads, x, s.n, s.m, s.layout);
        (
            modes.iter().map(|r| r.value).collect(),
            modes.iter().map(|r| r.mixed_zeros).collect(),
            modes.iter().any(|r| r.has_inf),
        )
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
    let s = Shape::new(n, m, order)?;
    reduce(py, x, "column_modes", s, n_threads, Modes)
}

/// The coefficients of `affine_transform`, as float64 vectors.
struct Coefficients<'a> {
    kind: &'a str,
    a: Option<&'a [f64]>,
    b: Option<&'a [f64]>,
    lo: f64,
    hi: f64,
}

/// The element-wise pass of `affine_transform` in `T`.
fn transform<T: Real>(
    threads: usize,
    x: Option<&[T]>,
    out: &mut [T],
    s: Shape,
    c: &Coefficients<'_>,
) -> Result<bool, String> {
    let Shape { n, m, layout } = s;
    let Coefficients { kind, a, b, lo, hi } = *c;
    let cast = |v: Option<&[f64]>| match v {
        Some(v) => v.iter().map(|&x| T::from_f64(x)).collect::<Vec<T>>(),
        None => vec![T::ZERO; m],
    };
    let (va, vb) = (cast(a), cast(b));
    macro_rules! pass {
        ($g:expr) => {
            super::map_table(threads, x, out, n, m, layout, &va, &vb, &$g)
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

/// `affine_transform` once `X` (if not `out` itself) is checked and both
/// buffers are of the float type `T`.
struct Transform<'a, 'py> {
    py: Python<'py>,
    x: Option<&'a ContiguousBuffer>,
    out: &'a mut ContiguousBuffer,
    s: Shape,
    n_threads: usize,
    coefficients: Coefficients<'a>,
}

impl FloatFn for Transform<'_, '_> {
    type Out = bool;
    fn call<T: Float>(self) -> PyResult<bool> {
        let Transform {
            py,
            x,
            out,
            s,
            n_threads,
            coefficients,
        } = self;
        let x = x.map(|buf| table::<T>(buf, s)).transpose()?;
        let out = out.as_mut_slice::<T>("out")?;
        if Some(out.len()) != s.n.checked_mul(s.m) {
            return Err(PyValueError::new_err(
                "out's buffer does not hold n * m items",
            ));
        }
        run(py, n_threads, s.items(), |t| {
            transform(t, x, out, s, &coefficients)
        })?
        .map_err(PyValueError::new_err)
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
    let s = Shape::new(n, m, order)?;
    let a = a.map(|v| vector(v, m, "a")).transpose()?;
    let b = b.map(|v| vector(v, m, "b")).transpose()?;
    let xbuf = if x.is(out) {
        None
    } else {
        Some(ContiguousBuffer::get(x, "affine_transform")?)
    };
    // `X` is checked as the type its format gives before `out` is looked at.
    if let Some(buf) = &xbuf {
        if buf.is_f32() {
            table::<f32>(buf, s)?;
        } else {
            table::<f64>(buf, s)?;
        }
    }
    let mut obuf = ContiguousBuffer::get_writable(out, "out")?;
    let f32 = obuf.is_f32();
    if xbuf.as_ref().is_some_and(|buf| buf.is_f32() != f32) {
        return Err(PyValueError::new_err("X and out differ in type"));
    }
    let coefficients = Coefficients {
        kind,
        a: a.as_deref(),
        b: b.as_deref(),
        lo,
        hi,
    };
    with_float(
        f32,
        Transform {
            py,
            x: xbuf.as_ref(),
            out: &mut obuf,
            s,
            n_threads,
            coefficients,
        },
    )
}
