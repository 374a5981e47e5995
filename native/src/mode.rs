//! The most frequent value of a float column, as scikit-learn's
//! `SimpleImputer(strategy="most_frequent")` gets it from `scipy.stats.mode`
//! on the column's non-NaN values: the value with the highest count, the
//! smallest of those on ties.
//!
//! Values are counted in a hash table keyed by a bijective hash of their
//! bits (-0.0 is counted with +0.0: they compare equal). A column with few distinct values is
//! counted in one table that stays in cache; otherwise the values are first
//! partitioned by hash and each partition is counted in its own small table.
//! When the most frequent value is zero and both -0.0 and +0.0 occur, scipy
//! returns whichever numpy's sort put first, so that case is reported
//! rather than decided here.

use crate::float::Real;

/// The most frequent value of a column.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mode {
    /// The value; NaN when the column has no non-NaN value.
    pub value: f64,
    /// How many times it occurs.
    pub count: u64,
    /// The value is zero and the column holds both -0.0 and +0.0.
    pub mixed_zeros: bool,
    /// The column holds an infinite value.
    pub has_inf: bool,
}

/// Slots of the single table tried first (12 bytes each: fits in L2).
const SMALL_SLOTS: usize = 1 << 14;

/// Slots per distinct value at least (so tables never fill up): sparse
/// tables mean few collisions, and so few mispredicted branches when
/// probing.
const LOAD: usize = 2;
const _: () = assert!(LOAD >= 2);

/// Values per partition aimed at when partitioning.
const PART_TARGET: usize = 1024;

/// The key of a non-NaN value: its bits, with -0.0 counted as +0.0.
#[inline(always)]
fn key(v: f64) -> u64 {
    if v == 0.0 {
        0
    } else {
        v.to_bits()
    }
}

/// MurmurHash3's 64-bit finaliser, a bijection in which every input bit
/// affects every output bit: tables store it instead of the key.
#[inline(always)]
const fn mix(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// The inverse of [`mix`].
#[inline(always)]
fn unmix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0x9cb4_b2f8_1293_37db);
    h ^= h >> 33;
    h = h.wrapping_mul(0x4f74_430c_22a5_4005);
    h ^= h >> 33;
    h
}

/// A slot nobody uses: the hash of a NaN's bits, which are never a key.
const EMPTY: u64 = mix(0x7ff8_0000_0000_0000);

/// What was seen besides the counts.
#[derive(Clone, Copy)]
struct Seen {
    neg_zero: bool,
    pos_zero: bool,
    inf: bool,
    /// The smallest value: the mode when every value occurs once.
    min: f64,
    values: u64,
}

impl Seen {
    fn new() -> Self {
        Seen {
            neg_zero: false,
            pos_zero: false,
            inf: false,
            min: f64::INFINITY,
            values: 0,
        }
    }

    #[inline(always)]
    fn add(&mut self, v: f64) {
        self.values += 1;
        self.min = if v < self.min { v } else { self.min };
        if v == 0.0 {
            if v.is_sign_negative() {
                self.neg_zero = true;
            } else {
                self.pos_zero = true;
            }
        } else if v.is_infinite() {
            self.inf = true;
        }
    }
}

/// The best (most frequent, then smallest) key seen twice or more.
#[derive(Clone, Copy)]
struct Best {
    key: u64,
    count: u32,
}

impl Best {
    /// Offers the key of hash `h`, now seen `count` times.
    #[inline(always)]
    fn offer(&mut self, h: u64, count: u32) {
        if count < self.count {
            return;
        }
        let key = unmix(h);
        if count > self.count || f64::from_bits(key) < f64::from_bits(self.key) {
            *self = Best { key, count };
        }
    }
}

/// An open-addressing (linear probing) count table keyed by hash.
struct Counts {
    hashes: Vec<u64>,
    counts: Vec<u32>,
    used: Vec<usize>,
    mask: usize,
}

impl Counts {
    fn new(slots: usize) -> Self {
        let slots = slots.next_power_of_two().max(16);
        Counts {
            hashes: vec![EMPTY; slots],
            counts: vec![0; slots],
            used: Vec::new(),
            mask: slots - 1,
        }
    }

    fn distinct(&self) -> usize {
        self.used.len()
    }

    /// Counts the key of hash `h`; a repeated key is offered to `best`.
    #[inline(always)]
    fn add(&mut self, h: u64, best: &mut Best) {
        // Truncating the hash is fine: only its low bits pick the slot.
        #[allow(clippy::cast_possible_truncation)]
        let mut i = (h as usize) & self.mask;
        loop {
            let s = self.hashes[i];
            if s == h {
                let c = self.counts[i] + 1;
                self.counts[i] = c;
                best.offer(h, c);
                return;
            }
            if s == EMPTY {
                self.hashes[i] = h;
                self.counts[i] = 1;
                self.used.push(i);
                return;
            }
            i = (i + 1) & self.mask;
        }
    }

    fn clear(&mut self) {
        for &i in &self.used {
            self.hashes[i] = EMPTY;
            self.counts[i] = 0;
        }
        self.used.clear();
    }
}

/// Working memory of [`mode_with`], reusable from column to column.
#[derive(Default)]
pub struct Scratch {
    hashes: Vec<u64>,
}

impl Scratch {
    /// At least `len` slots; what they hold is left over and never read
    /// before being written.
    fn hashes(&mut self, len: usize) -> &mut [u64] {
        if self.hashes.len() < len {
            self.hashes.resize(len, 0);
        }
        &mut self.hashes[..len]
    }
}

/// Columns up to this length are counted in one table sized for them.
const ONE_TABLE_MAX: usize = 1 << 15;

/// The most frequent non-NaN value of `col` (see [`Mode`]).
pub fn mode<T: Real>(col: &[T]) -> Mode {
    mode_with(col, &mut Scratch::default())
}

/// [`mode`] with working memory kept between calls.
pub fn mode_with<T: Real>(col: &[T], scratch: &mut Scratch) -> Mode {
    if u32::try_from(col.len()).is_err() {
        return by_sorting(col);
    }
    // One table, given up (for long columns) once it holds too many
    // distinct values.
    let slots = if col.len() <= ONE_TABLE_MAX {
        col.len() * LOAD
    } else {
        SMALL_SLOTS
    };
    let mut table = Counts::new(slots);
    let limit = (table.mask + 1) / LOAD;
    let mut seen = Seen::new();
    let mut best = Best { key: 0, count: 0 };
    let mut complete = true;
    for &v in col {
        let v = v.to_f64();
        if v.is_nan() {
            continue;
        }
        seen.add(v);
        table.add(mix(key(v)), &mut best);
        if table.distinct() > limit {
            complete = false;
            break;
        }
    }
    if !complete {
        (seen, best) = partitioned(col, scratch);
    }
    finish(best, seen)
}

/// Counts `col` partition by partition: values are distributed by the top
/// bits of their hash, then each partition is counted in a table sized for
/// it, so that every table stays in cache.
fn partitioned<T: Real>(col: &[T], scratch: &mut Scratch) -> (Seen, Best) {
    let parts = (col.len() / PART_TARGET)
        .next_power_of_two()
        .clamp(2, 1 << 12);
    let shift = 64 - parts.trailing_zeros();
    // The top bits of a 64-bit hash fit in usize.
    #[allow(clippy::cast_possible_truncation)]
    let part_of = |h: u64| (h >> shift) as usize;
    // One pass into fixed-size partitions: a hash spreads distinct values
    // evenly, so only many copies of a few values overflow them, and those
    // take the exact two-pass route.
    let room = col.len() / parts + col.len() / parts / 4 + 64;
    let mut hashes = scratch.hashes(parts * room);
    let mut len = vec![0usize; parts];
    let mut seen = Seen::new();
    let mut fits = true;
    for &v in col {
        let v = v.to_f64();
        if v.is_nan() {
            continue;
        }
        seen.add(v);
        let h = mix(key(v));
        let p = part_of(h);
        let l = len[p];
        if l == room {
            fits = false;
            break;
        }
        hashes[p * room + l] = h;
        len[p] = l + 1;
    }
    let mut bounds: Vec<(usize, usize)> =
        (0..parts).map(|p| (p * room, p * room + len[p])).collect();
    if !fits {
        seen = Seen::new();
        let mut start = vec![0usize; parts + 1];
        for &v in col {
            let v = v.to_f64();
            if !v.is_nan() {
                seen.add(v);
                start[part_of(mix(key(v))) + 1] += 1;
            }
        }
        for p in 0..parts {
            start[p + 1] += start[p];
        }
        hashes = scratch.hashes(start[parts]);
        let mut fill = start.clone();
        for &v in col {
            let v = v.to_f64();
            if !v.is_nan() {
                let h = mix(key(v));
                let p = part_of(h);
                hashes[fill[p]] = h;
                fill[p] += 1;
            }
        }
        bounds = start.windows(2).map(|w| (w[0], w[1])).collect();
    }
    let largest = bounds.iter().map(|&(a, b)| b - a).max().unwrap_or(0);
    let mut table = Counts::new(largest * 2 * LOAD);
    let mut best = Best { key: 0, count: 0 };
    for &(a, b) in &bounds {
        for &h in &hashes[a..b] {
            table.add(h, &mut best);
        }
        table.clear();
    }
    (seen, best)
}

/// The mode by sorting (columns too long for 32-bit counts).
fn by_sorting<T: Real>(col: &[T]) -> Mode {
    let mut seen = Seen::new();
    let mut keys: Vec<u64> = Vec::with_capacity(col.len());
    for &v in col {
        let v = v.to_f64();
        if !v.is_nan() {
            seen.add(v);
            keys.push(key(v));
        }
    }
    keys.sort_unstable_by(|a, b| f64::from_bits(*a).total_cmp(&f64::from_bits(*b)));
    let mut best = Best { key: 0, count: 0 };
    for run in keys.chunk_by(|a, b| a == b) {
        let count = u32::try_from(run.len()).unwrap_or(u32::MAX);
        if run.len() >= 2 && count > best.count {
            best = Best { key: run[0], count };
        }
    }
    finish(best, seen)
}

fn finish(best: Best, seen: Seen) -> Mode {
    if seen.values == 0 {
        return Mode {
            value: f64::NAN,
            count: 0,
            mixed_zeros: false,
            has_inf: seen.inf,
        };
    }
    // No value seen twice: the smallest one.
    let best = if best.count == 0 {
        Best {
            key: key(seen.min),
            count: 1,
        }
    } else {
        best
    };
    let zero = best.key == 0;
    let value = if zero && seen.neg_zero && !seen.pos_zero {
        -0.0
    } else {
        f64::from_bits(best.key)
    };
    Mode {
        value,
        count: u64::from(best.count),
        mixed_zeros: zero && seen.neg_zero && seen.pos_zero,
        has_inf: seen.inf,
    }
}

#[cfg(test)]
mod tests;
