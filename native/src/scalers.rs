//! Column reductions and element-wise transforms for dense float tables
//! (scikit-learn's `StandardScaler`, `MinMaxScaler`, `SimpleImputer`).
//!
//! A table is `n` rows by `m` columns in one buffer, row-major (`Layout::C`)
//! or column-major (`Layout::F`). Sums reproduce numpy's `sum(axis=0)`
//! exactly: for a column-major table each column is contiguous and numpy
//! adds it with its pairwise summation; for a row-major table numpy adds the
//! rows one after the other. Parallelism is over columns, row blocks whose
//! results do not depend on their order (minima and maxima), or the
//! independent halves of the pairwise tree, so results do not depend on the
//! number of threads. Inner loops have fixed lanes, separate arrays per
//! quantity and no early exits, so that the compiler vectorises them.

use crate::float::Real;
use crate::mode::Scratch;
use crate::par::{for_each_chunk_mut, map_chunks, map_range, map_range_with};
use crate::simd::with_avx2;

/// Memory order of an `n` x `m` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Row-major: element (i, j) at `i * m + j`.
    C,
    /// Column-major: element (i, j) at `j * n + i`.
    F,
}

impl Layout {
    /// Whether each column is one contiguous run (column-major, or a
    /// single column): numpy then reduces it as one inner loop.
    fn contiguous_columns(self, m: usize) -> bool {
        self == Layout::F || m == 1
    }
}

/// numpy's unrolling block for pairwise summation.
const PW_BLOCKSIZE: usize = 128;

/// Lanes of numpy's pairwise-sum blocks (and of the other reductions).
const LANES: usize = 8;

/// Items below which a reduction is not split between threads.
const PAR_MIN: usize = 1 << 17;

/// Where numpy's pairwise summation splits a run of `n > PW_BLOCKSIZE`
/// items: after `n / 2` rounded down to a multiple of 8.
fn pairwise_split(n: usize) -> usize {
    let half = n / 2;
    half - half % 8
}

/// The sum of `f(v)` over a run of at most `PW_BLOCKSIZE` items in numpy's
/// order (`pairwise_sum_DOUBLE`'s leaves: 8 accumulators added as a tree),
/// and the number of NaN items.
#[inline(always)]
#[allow(clippy::needless_range_loop)]
fn block_sum<T: Real, A: Real>(a: &[T], f: &impl Fn(T) -> A) -> (A, u64) {
    let n = a.len();
    if n < LANES {
        let mut res = A::ZERO;
        let mut nan = 0u64;
        for &v in a {
            res += f(v);
            nan += u64::from(v.is_nan());
        }
        return (res, nan);
    }
    let mut r = [A::ZERO; LANES];
    let mut c = [0u64; LANES];
    for k in 0..LANES {
        r[k] = f(a[k]);
        c[k] = u64::from(a[k].is_nan());
    }
    let whole = n - n % LANES;
    for chunk in a[LANES..whole].chunks_exact(LANES) {
        for k in 0..LANES {
            r[k] += f(chunk[k]);
            c[k] += u64::from(chunk[k].is_nan());
        }
    }
    let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    let mut nan: u64 = c.iter().sum();
    for &v in &a[whole..] {
        res += f(v);
        nan += u64::from(v.is_nan());
    }
    (res, nan)
}

/// numpy's pairwise sum of `f(a[i])` in `A`, and the number of NaN items.
/// Iterative (an explicit stack instead of recursion), so that the leaves
/// inline into one loop.
#[inline(always)]
fn pairwise_sum_count<T: Real, A: Real>(a: &[T], f: &impl Fn(T) -> A) -> (A, u64) {
    if a.len() <= PW_BLOCKSIZE {
        return block_sum(a, f);
    }
    enum Step {
        Run(usize, usize),
        Add,
    }
    let mut steps = Vec::with_capacity(64);
    let mut sums: Vec<(A, u64)> = Vec::with_capacity(64);
    steps.push(Step::Run(0, a.len()));
    while let Some(step) = steps.pop() {
        match step {
            Step::Run(start, len) if len <= PW_BLOCKSIZE => {
                sums.push(block_sum(&a[start..start + len], f));
            }
            Step::Run(start, len) => {
                let half = pairwise_split(len);
                steps.push(Step::Add);
                steps.push(Step::Run(start + half, len - half));
                steps.push(Step::Run(start, half));
            }
            Step::Add => {
                if let (Some(hi), Some(lo)) = (sums.pop(), sums.pop()) {
                    sums.push((lo.0 + hi.0, lo.1 + hi.1));
                }
            }
        }
    }
    sums.pop().unwrap_or((A::ZERO, 0))
}

/// [`pairwise_sum_count`] with the top of the tree split between threads
/// (`par`) for long runs: the same additions, so the same result.
pub fn pairwise_sum<T: Real, A: Real>(
    par: bool,
    a: &[T],
    f: &(impl Fn(T) -> A + Sync),
) -> (A, u64) {
    if par && a.len() >= PAR_MIN {
        let (lo, hi) = a.split_at(pairwise_split(a.len()));
        let (x, y) = rayon::join(|| pairwise_sum(par, lo, f), || pairwise_sum(par, hi, f));
        (x.0 + y.0, x.1 + y.1)
    } else {
        pairwise_sum_count(a, f)
    }
}

/// Adds the rows of a row-major block one after the other: `acc[k] +=
/// f(j0 + k, row[j0 + k])`, and counts NaN items, for the columns
/// `j0..j0 + acc.len()`.
#[inline(always)]
fn add_rows<T: Real, A: Real>(
    x: &[T],
    m: usize,
    j0: usize,
    acc: &mut [A],
    nan: &mut [u64],
    f: &impl Fn(usize, T) -> A,
) {
    let w = acc.len();
    let nan = &mut nan[..w];
    for row in x.chunks_exact(m) {
        let row = &row[j0..j0 + w];
        for k in 0..w {
            acc[k] += f(j0 + k, row[k]);
            nan[k] += u64::from(row[k].is_nan());
        }
    }
}

/// Per-column `sum(f(j, x[i, j]) for i)` in numpy's order for `axis=0`
/// (accumulated in `A`), and per-column NaN counts, on `threads` threads
/// (1: the calling thread only).
pub fn column_sums_counts<T: Real, A: Real>(
    threads: usize,
    x: &[T],
    n: usize,
    m: usize,
    layout: Layout,
    f: &(impl Fn(usize, T) -> A + Sync),
) -> (Vec<A>, Vec<u64>) {
    debug_assert_eq!(x.len(), n * m);
    let par = threads > 1;
    if n == 0 || m == 0 {
        return (vec![A::ZERO; m], vec![0; m]);
    }
    if layout.contiguous_columns(m) {
        return map_chunks(par, x, n, |j, col| {
            let (s, c) = pairwise_sum(par, col, &|v| f(j, v));
            (A::ZERO + s, c)
        })
        .into_iter()
        .unzip();
    }
    let block = column_block(threads, m);
    let mut out: Vec<(A, u64)> = vec![(A::ZERO, 0); m];
    for_each_chunk_mut(par, &mut out, block, |b, part| {
        let j0 = b * block;
        let mut acc = vec![A::ZERO; part.len()];
        let mut nan = vec![0u64; part.len()];
        add_rows(x, m, j0, &mut acc, &mut nan, f);
        for (o, (s, c)) in part.iter_mut().zip(acc.into_iter().zip(nan)) {
            *o = (s, c);
        }
    });
    out.into_iter().unzip()
}

/// Per-column `sum(f(j, x[i, j]) for i)` in numpy's order for `axis=0`.
pub fn column_sums<T: Real, A: Real>(
    threads: usize,
    x: &[T],
    n: usize,
    m: usize,
    layout: Layout,
    f: &(impl Fn(usize, T) -> A + Sync),
) -> Vec<A> {
    column_sums_counts(threads, x, n, m, layout, f).0
}

fn column_block(threads: usize, m: usize) -> usize {
    m.div_ceil(threads.max(1)).max(8).min(m.max(1))
}

/// Running NaN-ignoring minimum and maximum.
#[derive(Clone, Copy, Debug)]
struct Extremes<T> {
    lo: T,
    hi: T,
}

impl<T: Real> Extremes<T> {
    #[inline(always)]
    fn empty() -> Self {
        Extremes {
            lo: T::INFINITY,
            hi: T::NEG_INFINITY,
        }
    }

    /// Folds in `v` (NaN compares false, so it changes nothing).
    #[inline(always)]
    fn add(&mut self, v: T) {
        self.lo = if v < self.lo { v } else { self.lo };
        self.hi = if v > self.hi { v } else { self.hi };
    }

    #[inline(always)]
    fn merge(&mut self, o: &Self) {
        self.lo = if o.lo < self.lo { o.lo } else { self.lo };
        self.hi = if o.hi > self.hi { o.hi } else { self.hi };
    }
}

/// [`Extremes`] of a contiguous run, in `LANES` independent lanes (kept
/// as separate arrays so that they map onto vector registers).
#[inline(always)]
#[allow(clippy::needless_range_loop)]
fn run_extremes<T: Real>(a: &[T]) -> Extremes<T> {
    let mut lo = [T::INFINITY; LANES];
    let mut hi = [T::NEG_INFINITY; LANES];
    let mut chunks = a.chunks_exact(LANES);
    for c in &mut chunks {
        for k in 0..LANES {
            let v = c[k];
            lo[k] = if v < lo[k] { v } else { lo[k] };
            hi[k] = if v > hi[k] { v } else { hi[k] };
        }
    }
    let mut all = Extremes::empty();
    for &v in chunks.remainder() {
        all.add(v);
    }
    for k in 0..LANES {
        all.merge(&Extremes {
            lo: lo[k],
            hi: hi[k],
        });
    }
    all
}

/// Per-column [`Extremes`] of a row-major table, as separate arrays.
struct ColumnExtremes<T> {
    lo: Vec<T>,
    hi: Vec<T>,
}

impl<T: Real> ColumnExtremes<T> {
    fn new(m: usize) -> Self {
        ColumnExtremes {
            lo: vec![T::INFINITY; m],
            hi: vec![T::NEG_INFINITY; m],
        }
    }

    /// Folds in the rows of `x` (`m` values each).
    #[inline(always)]
    fn add_rows(&mut self, x: &[T], m: usize) {
        let (lo, hi) = (&mut self.lo[..m], &mut self.hi[..m]);
        for row in x.chunks_exact(m) {
            for j in 0..m {
                let v = row[j];
                lo[j] = if v < lo[j] { v } else { lo[j] };
                hi[j] = if v > hi[j] { v } else { hi[j] };
            }
        }
    }
}

/// Whether `values` holds both -0.0 and +0.0.
fn both_zeros<T: Real>(mut values: impl Iterator<Item = T>) -> bool {
    let (mut neg, mut pos) = (false, false);
    values.any(|v| {
        if v == T::ZERO {
            let negative = v.to_bits() == T::NEG_ZERO_BITS;
            neg |= negative;
            pos |= !negative;
        }
        neg && pos
    })
}

/// Per-column NaN-ignoring minima and maxima.
#[derive(Clone, Debug, PartialEq)]
pub struct MinMax<T> {
    /// Minima, NaN for an all-NaN column.
    pub lo: Vec<T>,
    /// Maxima, NaN for an all-NaN column.
    pub hi: Vec<T>,
    /// Columns whose minimum or maximum is zero while they hold both -0.0
    /// and +0.0: which zero numpy returns then depends on its SIMD lanes.
    pub mixed_zeros: Vec<bool>,
}

/// Rows (or items of a column) per task of the min/max reductions.
const EXTREMES_TASK: usize = 1 << 16;

/// Per-column NaN-ignoring min and max (see [`MinMax`]).
pub fn nan_min_max<T: Real>(
    threads: usize,
    x: &[T],
    n: usize,
    m: usize,
    layout: Layout,
) -> MinMax<T> {
    debug_assert_eq!(x.len(), n * m);
    let par = threads > 1;
    let mut acc = vec![Extremes::<T>::empty(); m];
    if n > 0 && m > 0 {
        if layout.contiguous_columns(m) {
            // Pieces of columns, so that one long column is split too.
            let per = n.div_ceil(EXTREMES_TASK).max(1);
            let piece = n.div_ceil(per);
            let parts = map_range(par, m * per, |t| {
                let (j, p) = (t / per, t % per);
                let start = j * n + (p * piece).min(n);
                let end = j * n + ((p + 1) * piece).min(n);
                run_extremes(&x[start..end])
            });
            for (t, e) in parts.iter().enumerate() {
                acc[t / per].merge(e);
            }
        } else {
            let rows = (EXTREMES_TASK / m).max(1);
            let parts = map_chunks(par, x, rows * m, |_, block| {
                let mut part = ColumnExtremes::new(m);
                part.add_rows(block, m);
                part
            });
            for part in &parts {
                for (j, a) in acc.iter_mut().enumerate() {
                    a.merge(&Extremes {
                        lo: part.lo[j],
                        hi: part.hi[j],
                    });
                }
            }
        }
    }
    let mut out = MinMax {
        lo: Vec::with_capacity(m),
        hi: Vec::with_capacity(m),
        mixed_zeros: Vec::with_capacity(m),
    };
    for (j, e) in acc.into_iter().enumerate() {
        let empty = e.lo == T::INFINITY && e.hi == T::NEG_INFINITY;
        out.lo.push(if empty { T::NAN } else { e.lo });
        out.hi.push(if empty { T::NAN } else { e.hi });
        // Rare enough (a zero minimum or maximum) for a second look.
        let zero = e.lo == T::ZERO || e.hi == T::ZERO;
        out.mixed_zeros.push(
            zero && match layout {
                Layout::F => both_zeros(x[j * n..(j + 1) * n].iter().copied()),
                Layout::C => both_zeros(x.iter().skip(j).step_by(m).copied()),
            },
        );
    }
    out
}

/// Items per task of an element-wise pass.
const MAP_TASK: usize = 1 << 16;

/// A piece of a table for an element-wise pass: `len` items from `start`,
/// all in column `col` (column-major) or whole rows (row-major).
struct Piece<'a, T> {
    out: &'a mut [T],
    start: usize,
    col: usize,
    inf: bool,
}

/// Splits `out` into pieces of about `MAP_TASK` items.
fn pieces<T>(out: &mut [T], n: usize, m: usize, layout: Layout) -> Vec<Piece<'_, T>> {
    let mut v = Vec::new();
    let mut rest = out;
    let mut start = 0;
    if layout == Layout::F {
        for col in 0..m {
            let mut left = n;
            while left > 0 {
                let len = left.min(MAP_TASK);
                let (a, b) = rest.split_at_mut(len);
                v.push(Piece {
                    out: a,
                    start,
                    col,
                    inf: false,
                });
                rest = b;
                start += len;
                left -= len;
            }
        }
    } else {
        let step = (MAP_TASK / m + 1) * m;
        while !rest.is_empty() {
            let len = rest.len().min(step);
            let (a, b) = rest.split_at_mut(len);
            v.push(Piece {
                out: a,
                start,
                col: 0,
                inf: false,
            });
            rest = b;
            start += len;
        }
    }
    v
}

/// `out[i] = g(x[i], a[j], b[j])`, with `j` the column of item `i`: one
/// column (`rows` None, `a` and `b` hold its coefficients), or whole rows
/// (`rows` Some(l): `a` and `b` hold the coefficients of `l` items, a whole
/// number of rows). `x` None: `out` is transformed in place. Returns whether
/// any input item was infinite.
#[inline(always)]
fn map_piece<T: Real>(
    x: Option<&[T]>,
    out: &mut [T],
    ab: (&[T], &[T]),
    rows: Option<usize>,
    g: &impl Fn(T, T, T) -> T,
) -> bool {
    let mut inf = false;
    match rows {
        None => {
            let (a, b) = (ab.0[0], ab.1[0]);
            match x {
                Some(x) => {
                    for (o, &v) in out.iter_mut().zip(x) {
                        inf |= v.is_infinite();
                        *o = g(v, a, b);
                    }
                }
                None => {
                    for o in out.iter_mut() {
                        let v = *o;
                        inf |= v.is_infinite();
                        *o = g(v, a, b);
                    }
                }
            }
        }
        Some(l) => {
            // Whole rows: the coefficients repeat every `l` items.
            let (a, b) = (&ab.0[..l], &ab.1[..l]);
            match x {
                Some(x) => {
                    for (oc, xc) in out.chunks_mut(l).zip(x.chunks(l)) {
                        for (k, (o, &v)) in oc.iter_mut().zip(xc).enumerate() {
                            inf |= v.is_infinite();
                            *o = g(v, a[k], b[k]);
                        }
                    }
                }
                None => {
                    for oc in out.chunks_mut(l) {
                        for (k, o) in oc.iter_mut().enumerate() {
                            let v = *o;
                            inf |= v.is_infinite();
                            *o = g(v, a[k], b[k]);
                        }
                    }
                }
            }
        }
    }
    inf
}

/// `out[i, j] = g(x[i, j], a[j], b[j])` for tables of the same shape and
/// layout (`x` None: in place). Returns whether any input value was
/// infinite.
#[allow(clippy::too_many_arguments)]
pub fn map_table<T: Real>(
    threads: usize,
    x: Option<&[T]>,
    out: &mut [T],
    n: usize,
    m: usize,
    layout: Layout,
    a: &[T],
    b: &[T],
    g: &(impl Fn(T, T, T) -> T + Sync),
) -> bool {
    debug_assert!(x.is_none_or(|x| x.len() == out.len()));
    if n == 0 || m == 0 {
        return false;
    }
    // Row-major: coefficients tiled over several rows, so that the inner
    // loop runs over a contiguous, vector-friendly run.
    let reps = (64 / m).max(1);
    let (ta, tb): (Vec<T>, Vec<T>) = if layout == Layout::C {
        (a.repeat(reps), b.repeat(reps))
    } else {
        (Vec::new(), Vec::new())
    };
    let mut parts = pieces(out, n, m, layout);
    for_each_chunk_mut(threads > 1, &mut parts, 1, |_, p| {
        let p = &mut p[0];
        let len = p.out.len();
        let xs = x.map(|x| &x[p.start..p.start + len]);
        p.inf = if layout == Layout::F {
            let ab = (&a[p.col..=p.col], &b[p.col..=p.col]);
            // AVX2 for element-wise passes only: their 32-byte stores fill
            // memory fresh from the allocator markedly faster than 16-byte
            // ones, while the reductions compile to better code without it.
            with_avx2(|| map_piece(xs, p.out, ab, None, g))
        } else {
            with_avx2(|| map_piece(xs, p.out, (&ta, &tb), Some(m * reps), g))
        };
    });
    parts.iter().any(|p| p.inf)
}

/// The non-NaN values of column `j`, and whether any is infinite.
fn column_values<T: Real>(x: &[T], n: usize, m: usize, layout: Layout, j: usize) -> (Vec<T>, bool) {
    let v: Vec<T> = match layout {
        Layout::F => x[j * n..(j + 1) * n]
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .collect(),
        Layout::C => (0..n)
            .map(|i| x[i * m + j])
            .filter(|v| !v.is_nan())
            .collect(),
    };
    let inf = v.iter().any(|v| v.is_infinite());
    (v, inf)
}

fn order<T: Real>(a: &T, b: &T) -> std::cmp::Ordering {
    a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal)
}

/// Per-column median of the non-NaN values, as numpy's masked median
/// computes it: `(low + high) / 2` of the middle pair (the middle value
/// twice for an odd count), in `T`. NaN for an all-NaN column. Also returns
/// whether any value is infinite.
pub fn nan_medians<T: Real>(
    threads: usize,
    x: &[T],
    n: usize,
    m: usize,
    layout: Layout,
) -> (Vec<T>, bool) {
    let per_column = map_range(threads > 1, m, |j| {
        let (mut v, inf) = column_values(x, n, m, layout, j);
        let c = v.len();
        if c == 0 {
            return (T::NAN, inf);
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
        ((T::ZERO + low + high) / T::TWO, inf)
    });
    let inf = per_column.iter().any(|&(_, inf)| inf);
    (per_column.into_iter().map(|(v, _)| v).collect(), inf)
}

/// Rows per block when copying the columns out of a row-major table.
const GATHER_ROWS: usize = 512;

/// The columns of a row-major table, each as one vector.
fn gather_columns<T: Real>(x: &[T], n: usize, m: usize) -> Vec<Vec<T>> {
    let mut cols: Vec<Vec<T>> = (0..m).map(|_| Vec::with_capacity(n)).collect();
    for block in x.chunks(GATHER_ROWS * m) {
        for (j, col) in cols.iter_mut().enumerate() {
            col.extend(block.iter().skip(j).step_by(m));
        }
    }
    cols
}

/// Per-column most frequent non-NaN value (see [`crate::mode`]).
pub fn nan_modes<T: Real>(
    threads: usize,
    x: &[T],
    n: usize,
    m: usize,
    layout: Layout,
) -> Vec<crate::mode::Mode> {
    let par = threads > 1;
    let mode = crate::mode::mode_with;
    if layout.contiguous_columns(m) || n == 0 {
        map_range_with(par, m, Scratch::default, |s, j| {
            mode(&x[j * n..(j + 1) * n], s)
        })
    } else {
        let cols = gather_columns(x, n, m);
        map_range_with(par, m, Scratch::default, |s, j| mode(&cols[j], s))
    }
}

#[cfg(feature = "pyo3")]
pub(crate) mod py;

#[cfg(test)]
mod tests;
