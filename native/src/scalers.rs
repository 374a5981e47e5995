//! Column reductions and element-wise transforms for dense float tables
//! (scikit-learn's `StandardScaler`, `MinMaxScaler`, `SimpleImputer`).
//!
//! A table is `n` rows by `m` columns in one buffer, row-major (`Layout::C`)
//! or column-major (`Layout::F`). Sums reproduce numpy's `sum(axis=0)`
//! exactly: for a column-major table each column is contiguous and numpy
//! adds it with its pairwise summation; for a row-major table numpy adds the
//! rows one after the other. Parallelism is over columns (or, for one long
//! column, over the independent halves of the pairwise tree), so results do
//! not depend on the number of threads.

use crate::par::{for_each_chunk_mut, map_chunks, map_range};

/// Memory order of an `n` x `m` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Row-major: element (i, j) at `i * m + j`.
    C,
    /// Column-major: element (i, j) at `j * n + i`.
    F,
}

/// The float types of a table (`f32`, `f64`), with what the kernels need.
pub trait Real:
    Copy
    + Send
    + Sync
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::AddAssign
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    const TWO: Self;
    const NAN: Self;
    const INFINITY: Self;
    const NEG_INFINITY: Self;
    fn is_nan(self) -> bool;
    fn is_infinite(self) -> bool;
    fn to_f64(self) -> f64;
    /// Rounds to nearest, as numpy's `astype`.
    fn from_f64(v: f64) -> Self;
}

macro_rules! impl_real {
    ($t:ty) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const TWO: Self = 2.0;
            const NAN: Self = <$t>::NAN;
            const INFINITY: Self = <$t>::INFINITY;
            const NEG_INFINITY: Self = <$t>::NEG_INFINITY;
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            fn is_infinite(self) -> bool {
                <$t>::is_infinite(self)
            }
            fn to_f64(self) -> f64 {
                f64::from(self)
            }
            #[allow(clippy::cast_possible_truncation)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
        }
    };
}

impl_real!(f32);
impl_real!(f64);

/// numpy's unrolling block for pairwise summation.
const PW_BLOCKSIZE: usize = 128;

/// numpy's pairwise sum of `f(a[i])` in the accumulator type `A`
/// (`pairwise_sum_DOUBLE` / `_FLOAT`).
pub fn pairwise_sum<T: Copy + Sync, A: Real>(
    par: bool,
    a: &[T],
    f: &(impl Fn(T) -> A + Sync),
) -> A {
    let n = a.len();
    if n < 8 {
        let mut res = A::ZERO;
        for &v in a {
            res += f(v);
        }
        res
    } else if n <= PW_BLOCKSIZE {
        let mut r = [A::ZERO; 8];
        for (k, slot) in r.iter_mut().enumerate() {
            *slot = f(a[k]);
        }
        let whole = n - n % 8;
        let mut i = 8;
        while i < whole {
            for (k, slot) in r.iter_mut().enumerate() {
                *slot += f(a[i + k]);
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[whole..] {
            res += f(v);
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        let (lo, hi) = a.split_at(n2);
        if par && n >= 1 << 17 {
            let (x, y) = rayon::join(|| pairwise_sum(par, lo, f), || pairwise_sum(par, hi, f));
            x + y
        } else {
            pairwise_sum(par, lo, f) + pairwise_sum(par, hi, f)
        }
    }
}

/// Per-column `sum(f(j, x[i, j]) for i)` in numpy's order for `axis=0`
/// (accumulated in `A`), on `threads` threads (1: the calling thread only).
pub fn column_sums<T: Copy + Sync, A: Real>(
    threads: usize,
    x: &[T],
    n: usize,
    m: usize,
    layout: Layout,
    f: &(impl Fn(usize, T) -> A + Sync),
) -> Vec<A> {
    debug_assert_eq!(x.len(), n * m);
    let par = threads > 1;
    if n == 0 || m == 0 {
        return vec![A::ZERO; m];
    }
    match layout {
        Layout::F => map_chunks(par, x, n, |j, col| {
            A::ZERO + pairwise_sum(par, col, &|v| f(j, v))
        }),
        // One column of a row-major table is contiguous too: numpy then
        // reduces it as a single inner loop, pairwise.
        Layout::C if m == 1 => vec![A::ZERO + pairwise_sum(par, x, &|v| f(0, v))],
        Layout::C => {
            let block = column_block(threads, m);
            let mut out = vec![A::ZERO; m];
            for_each_chunk_mut(par, &mut out, block, |b, acc| {
                let j0 = b * block;
                for row in x.chunks_exact(m) {
                    for (k, a) in acc.iter_mut().enumerate() {
                        *a += f(j0 + k, row[j0 + k]);
                    }
                }
            });
            out
        }
    }
}

fn column_block(threads: usize, m: usize) -> usize {
    m.div_ceil(threads.max(1)).max(8).min(m.max(1))
}

/// Per-column count of NaNs.
pub fn nan_counts<T: Real>(
    threads: usize,
    x: &[T],
    n: usize,
    m: usize,
    layout: Layout,
) -> Vec<i64> {
    let sums = column_sums(threads, x, n, m, layout, &|_, v: T| {
        if v.is_nan() {
            1.0f64
        } else {
            0.0
        }
    });
    sums.into_iter().map(|s| s as i64).collect()
}

/// Min, max and non-NaN count of a strided run, in 8 lanes.
fn min_max_run<T: Real>(x: &[T], start: usize, step: usize, len: usize) -> (T, T, usize) {
    let mut lo = [T::INFINITY; 8];
    let mut hi = [T::NEG_INFINITY; 8];
    let mut seen = [0usize; 8];
    let mut fold = |k: usize, v: T| {
        lo[k] = if v < lo[k] { v } else { lo[k] };
        hi[k] = if v > hi[k] { v } else { hi[k] };
        seen[k] += usize::from(!v.is_nan());
    };
    if step == 1 {
        let run = &x[start..start + len];
        let mut chunks = run.chunks_exact(8);
        for c in &mut chunks {
            for (k, &v) in c.iter().enumerate() {
                fold(k, v);
            }
        }
        for &v in chunks.remainder() {
            fold(0, v);
        }
    } else {
        for i in 0..len {
            fold(i % 8, x[start + i * step]);
        }
    }
    let l = lo
        .iter()
        .copied()
        .fold(T::INFINITY, |a, b| if b < a { b } else { a });
    let h = hi
        .iter()
        .copied()
        .fold(T::NEG_INFINITY, |a, b| if b > a { b } else { a });
    (l, h, seen.iter().sum())
}

/// Per-column NaN-ignoring min and max (NaN for an all-NaN column).
pub fn nan_min_max<T: Real>(
    threads: usize,
    x: &[T],
    n: usize,
    m: usize,
    layout: Layout,
) -> (Vec<T>, Vec<T>) {
    let par = threads > 1;
    let pairs = map_range(par, m, |j| {
        let (l, h, seen) = match layout {
            Layout::F => min_max_run(x, j * n, 1, n),
            Layout::C => min_max_run(x, j, m, n),
        };
        if seen == 0 {
            (T::NAN, T::NAN)
        } else {
            (l, h)
        }
    });
    pairs.into_iter().unzip()
}

/// Rows per chunk of an element-wise pass over a row-major table.
fn row_chunk(m: usize) -> usize {
    ((1 << 15) / m.max(1) + 1) * m.max(1)
}

/// `out[i, j] = g(j, x[i, j])` for tables of the same shape and layout.
/// Returns whether any input value was infinite.
pub fn map_elements<T: Real>(
    threads: usize,
    x: &[T],
    out: &mut [T],
    n: usize,
    m: usize,
    layout: Layout,
    g: &(impl Fn(usize, T) -> T + Sync),
) -> bool {
    debug_assert_eq!(x.len(), out.len());
    if n == 0 || m == 0 {
        return false;
    }
    let par = threads > 1;
    let size = match layout {
        Layout::F => n,
        Layout::C => row_chunk(m),
    };
    let mut chunks: Vec<(&mut [T], bool)> = out.chunks_mut(size).map(|c| (c, false)).collect();
    for_each_chunk_mut(par, &mut chunks, 1, |c, item| {
        let (o, flag) = &mut item[0];
        let xs = &x[c * size..c * size + o.len()];
        let mut inf = false;
        match layout {
            Layout::F => {
                for (o, &v) in o.iter_mut().zip(xs) {
                    inf |= v.is_infinite();
                    *o = g(c, v);
                }
            }
            Layout::C => {
                for (orow, xrow) in o.chunks_exact_mut(m).zip(xs.chunks_exact(m)) {
                    for (j, (o, &v)) in orow.iter_mut().zip(xrow).enumerate() {
                        inf |= v.is_infinite();
                        *o = g(j, v);
                    }
                }
            }
        }
        *flag = inf;
    });
    chunks.into_iter().any(|(_, f)| f)
}

/// In-place version of [`map_elements`].
pub fn map_in_place<T: Real>(
    threads: usize,
    x: &mut [T],
    n: usize,
    m: usize,
    layout: Layout,
    g: &(impl Fn(usize, T) -> T + Sync),
) -> bool {
    if n == 0 || m == 0 {
        return false;
    }
    let par = threads > 1;
    let size = match layout {
        Layout::F => n,
        Layout::C => row_chunk(m),
    };
    let mut chunks: Vec<(&mut [T], bool)> = x.chunks_mut(size).map(|c| (c, false)).collect();
    for_each_chunk_mut(par, &mut chunks, 1, |c, item| {
        let (chunk, flag) = &mut item[0];
        let mut inf = false;
        match layout {
            Layout::F => {
                for v in chunk.iter_mut() {
                    inf |= v.is_infinite();
                    *v = g(c, *v);
                }
            }
            Layout::C => {
                for row in chunk.chunks_exact_mut(m) {
                    for (j, v) in row.iter_mut().enumerate() {
                        inf |= v.is_infinite();
                        *v = g(j, *v);
                    }
                }
            }
        }
        *flag = inf;
    });
    chunks.into_iter().any(|(_, f)| f)
}

/// The non-NaN values of column `j`.
fn column_values<T: Real>(x: &[T], n: usize, m: usize, layout: Layout, j: usize) -> Vec<T> {
    match layout {
        Layout::F => x[j * n..(j + 1) * n]
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .collect(),
        Layout::C => (0..n)
            .map(|i| x[i * m + j])
            .filter(|v| !v.is_nan())
            .collect(),
    }
}

fn order<T: Real>(a: &T, b: &T) -> std::cmp::Ordering {
    a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal)
}

/// Per-column median of the non-NaN values, as numpy's masked median
/// computes it: `(low + high) / 2` of the middle pair (the middle value
/// twice for an odd count), in `T`. NaN for an all-NaN column.
pub fn nan_medians<T: Real>(threads: usize, x: &[T], n: usize, m: usize, layout: Layout) -> Vec<T> {
    map_range(threads > 1, m, |j| {
        let mut v = column_values(x, n, m, layout, j);
        let c = v.len();
        if c == 0 {
            return T::NAN;
        }
        let h = c / 2;
        let (left, high, _) = v.select_nth_unstable_by(h, order);
        let high = *high;
        let low = if c % 2 == 1 {
            high
        } else {
            left.iter()
                .copied()
                .fold(T::NEG_INFINITY, |a, b| if b > a { b } else { a })
        };
        (T::ZERO + low + high) / T::TWO
    })
}

/// Per-column most frequent non-NaN value, the smallest one on ties (as
/// `scipy.stats.mode`). NaN for an all-NaN column.
pub fn nan_modes<T: Real>(threads: usize, x: &[T], n: usize, m: usize, layout: Layout) -> Vec<T> {
    map_range(threads > 1, m, |j| {
        let mut v = column_values(x, n, m, layout, j);
        if v.is_empty() {
            return T::NAN;
        }
        v.sort_unstable_by(order);
        let (mut best, mut best_count) = (v[0], 0usize);
        let mut i = 0;
        while i < v.len() {
            let mut k = i + 1;
            while k < v.len() && v[k] == v[i] {
                k += 1;
            }
            if k - i > best_count {
                best = v[i];
                best_count = k - i;
            }
            i = k;
        }
        best
    })
}

#[cfg(feature = "pyo3")]
pub(crate) mod py {
    use pyo3::exceptions::PyValueError;
    use pyo3::prelude::*;

    use super::{Layout, Real};
    use crate::encoders::py::run;
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

    /// column_stats(X, n, m, order, n_threads, wide=False) -> (nan_counts, sums)
    ///
    /// Per-column NaN counts and sums with NaN taken as 0, in numpy's
    /// summation order for `X.sum(axis=0)` (`order`: "C" or "F"; `X` is the
    /// C-contiguous float32/float64 buffer of the n x m table, i.e. its
    /// transpose for "F"). float32 tables are summed in float32, or in
    /// float64 with `wide`.
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
                let counts = super::nan_counts(t, x, n, m, lay);
                let sums = super::column_sums(t, x, n, m, lay, &|_, v: f64| {
                    if v.is_nan() {
                        0.0
                    } else {
                        v
                    }
                });
                (counts, sums)
            }),
            Table::F32(x) => run(py, n_threads, work, |t| {
                let counts = super::nan_counts(t, x, n, m, lay);
                let sums = if wide {
                    super::column_sums(t, x, n, m, lay, &|_, v: f32| {
                        if v.is_nan() {
                            0.0
                        } else {
                            f64::from(v)
                        }
                    })
                } else {
                    to_f64(super::column_sums(t, x, n, m, lay, &|_, v: f32| {
                        if v.is_nan() {
                            0.0
                        } else {
                            v
                        }
                    }))
                };
                (counts, sums)
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
        let corr = super::column_sums(threads, x, n, m, lay, &|j, v: T| {
            let d = v.to_f64() - t[j];
            if d.is_nan() {
                0.0
            } else {
                d
            }
        });
        let sq = super::column_sums(threads, x, n, m, lay, &|j, v: T| {
            let d = v.to_f64() - t[j];
            let d2 = d * d;
            if d2.is_nan() {
                0.0
            } else {
                d2
            }
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

    /// column_min_max(X, n, m, order, n_threads) -> (nanmin, nanmax)
    #[pyfunction]
    pub fn column_min_max(
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        n: usize,
        m: usize,
        order: &str,
        n_threads: usize,
    ) -> PyResult<(Vec<f64>, Vec<f64>)> {
        let lay = layout(order)?;
        let buf = ContiguousBuffer::get(x, "column_min_max")?;
        let work = n.saturating_mul(m);
        match table(&buf, n, m)? {
            Table::F64(x) => run(py, n_threads, work, |t| super::nan_min_max(t, x, n, m, lay)),
            Table::F32(x) => run(py, n_threads, work, |t| {
                let (lo, hi) = super::nan_min_max(t, x, n, m, lay);
                (to_f64(lo), to_f64(hi))
            }),
        }
    }

    /// column_medians(X, n, m, order, n_threads) -> NaN-ignoring medians
    /// (computed in the table's float type)
    #[pyfunction]
    pub fn column_medians(
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        n: usize,
        m: usize,
        order: &str,
        n_threads: usize,
    ) -> PyResult<Vec<f64>> {
        let lay = layout(order)?;
        let buf = ContiguousBuffer::get(x, "column_medians")?;
        let work = n.saturating_mul(m);
        match table(&buf, n, m)? {
            Table::F64(x) => run(py, n_threads, work, |t| super::nan_medians(t, x, n, m, lay)),
            Table::F32(x) => run(py, n_threads, work, |t| {
                to_f64(super::nan_medians(t, x, n, m, lay))
            }),
        }
    }

    /// column_modes(X, n, m, order, n_threads) -> NaN-ignoring modes
    #[pyfunction]
    pub fn column_modes(
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        n: usize,
        m: usize,
        order: &str,
        n_threads: usize,
    ) -> PyResult<Vec<f64>> {
        let lay = layout(order)?;
        let buf = ContiguousBuffer::get(x, "column_modes")?;
        let work = n.saturating_mul(m);
        match table(&buf, n, m)? {
            Table::F64(x) => run(py, n_threads, work, |t| super::nan_modes(t, x, n, m, lay)),
            Table::F32(x) => run(py, n_threads, work, |t| {
                to_f64(super::nan_modes(t, x, n, m, lay))
            }),
        }
    }

    fn apply<T: Real>(
        threads: usize,
        x: Option<&[T]>,
        out: &mut [T],
        (n, m, lay): (usize, usize, Layout),
        g: &(impl Fn(usize, T) -> T + Sync),
    ) -> bool {
        match x {
            Some(x) => super::map_elements(threads, x, out, n, m, lay, g),
            None => super::map_in_place(threads, out, n, m, lay, g),
        }
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
        let cast =
            |v: Option<&[f64]>| v.map(|v| v.iter().map(|&x| T::from_f64(x)).collect::<Vec<T>>());
        let (a, b) = (cast(a), cast(b));
        let shape = (n, m, lay);
        match kind {
            "standard" => Ok(match (a.as_deref(), b.as_deref()) {
                (Some(sub), Some(div)) => {
                    apply(threads, x, out, shape, &|j, v| (v - sub[j]) / div[j])
                }
                (Some(sub), None) => apply(threads, x, out, shape, &|j, v| v - sub[j]),
                (None, Some(div)) => apply(threads, x, out, shape, &|j, v| v / div[j]),
                (None, None) => apply(threads, x, out, shape, &|_, v| v),
            }),
            "minmax" => {
                let (Some(mul), Some(add)) = (a.as_deref(), b.as_deref()) else {
                    return Err("minmax needs a and b".into());
                };
                let (lo, hi) = (T::from_f64(lo), T::from_f64(hi));
                if lo <= hi {
                    Ok(apply(threads, x, out, shape, &|j, v| {
                        let r = v * mul[j] + add[j];
                        if r < lo {
                            lo
                        } else if r > hi {
                            hi
                        } else {
                            r
                        }
                    }))
                } else {
                    Ok(apply(threads, x, out, shape, &|j, v| v * mul[j] + add[j]))
                }
            }
            "fill" => {
                let Some(fill) = b.as_deref() else {
                    return Err("fill needs b".into());
                };
                Ok(apply(threads, x, out, shape, &|j, v| {
                    if v.is_nan() {
                        fill[j]
                    } else {
                        v
                    }
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
                Some(Table::F64(_)) => {
                    return Err(PyValueError::new_err("X and out differ in type"))
                }
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
                Some(Table::F32(_)) => {
                    return Err(PyValueError::new_err("X and out differ in type"))
                }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f64]) -> f64 {
        a.iter().fold(0.0, |s, v| s + v)
    }

    #[test]
    fn short_pairwise_is_sequential() {
        let a = [1e16, 1.0, -1e16, 1.0];
        assert_eq!(pairwise_sum(false, &a, &|v| v), naive(&a));
    }

    #[test]
    fn pairwise_block_order() {
        // 16 items: two groups of 8 accumulators, combined as a tree.
        let a: Vec<f64> = (0..16)
            .map(|i| if i % 8 == 0 { 1e16 } else { 1.0 })
            .collect();
        let r = pairwise_sum(false, &a, &|v| v);
        let mut acc = [0.0; 8];
        for (k, s) in acc.iter_mut().enumerate() {
            *s = a[k] + a[8 + k];
        }
        let want =
            ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        assert_eq!(r, want);
    }

    #[test]
    fn layouts_agree_on_exact_data() {
        let (n, m) = (1000, 3);
        let c: Vec<f64> = (0..n * m).map(|k| (k % 17) as f64).collect();
        let mut f = vec![0.0; n * m];
        for i in 0..n {
            for j in 0..m {
                f[j * n + i] = c[i * m + j];
            }
        }
        let id = |_: usize, v: f64| v;
        assert_eq!(
            column_sums(1, &c, n, m, Layout::C, &id),
            column_sums(2, &f, n, m, Layout::F, &id)
        );
        assert_eq!(
            nan_medians(1, &c, n, m, Layout::C),
            nan_medians(1, &f, n, m, Layout::F)
        );
    }

    #[test]
    fn medians_and_modes_ignore_nan() {
        let x = [3.0, f64::NAN, 1.0, 2.0, 2.0, f64::NAN, 5.0];
        assert_eq!(nan_medians(1, &x, 7, 1, Layout::F), vec![2.0]);
        assert_eq!(nan_medians(1, &x[..4], 4, 1, Layout::F), vec![2.0]);
        assert_eq!(nan_medians(1, &[1.0, 4.0], 2, 1, Layout::F), vec![2.5]);
        assert_eq!(nan_modes(1, &x, 7, 1, Layout::F), vec![2.0]);
        assert_eq!(
            nan_modes(1, &[3.0, 1.0, 3.0, 1.0], 4, 1, Layout::F),
            vec![1.0]
        );
        assert!(nan_medians(1, &[f64::NAN], 1, 1, Layout::F)[0].is_nan());
        assert!(nan_modes(1, &[f64::NAN], 1, 1, Layout::F)[0].is_nan());
    }

    #[test]
    fn min_max_skip_nan() {
        let x = [f64::NAN, 2.0, -1.0, f64::NAN, f64::NAN, f64::NAN];
        let (lo, hi) = nan_min_max(1, &x, 3, 2, Layout::F);
        assert_eq!((lo[0], hi[0]), (-1.0, 2.0));
        assert!(lo[1].is_nan() && hi[1].is_nan());
    }
}
