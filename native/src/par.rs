//! Serial-or-parallel loops for the table kernels.
//!
//! With one thread (or little work) a kernel runs on the calling thread:
//! handing work to a rayon pool and waiting for it costs a thread wake-up,
//! which on a busy machine is slower than the work itself. Both paths visit
//! the same chunks and produce the same results.

use rayon::prelude::*;

/// `f(index, chunk)` for each `size`-item chunk of `data`, collected in order.
pub fn map_chunks<T: Sync, R: Send>(
    par: bool,
    data: &[T],
    size: usize,
    f: impl Fn(usize, &[T]) -> R + Sync + Send,
) -> Vec<R> {
    let size = size.max(1);
    if par {
        data.par_chunks(size)
            .enumerate()
            .map(|(i, c)| f(i, c))
            .collect()
    } else {
        data.chunks(size)
            .enumerate()
            .map(|(i, c)| f(i, c))
            .collect()
    }
}

/// `f(index, chunk)` for each `size`-item mutable chunk of `data`.
pub fn for_each_chunk_mut<T: Send>(
    par: bool,
    data: &mut [T],
    size: usize,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    let size = size.max(1);
    if par {
        data.par_chunks_mut(size)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
    } else {
        data.chunks_mut(size).enumerate().for_each(|(i, c)| f(i, c));
    }
}

/// `f(i)` for `i` in `0..n`, collected in order.
pub fn map_range<R: Send>(par: bool, n: usize, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
    if par {
        (0..n).into_par_iter().map(f).collect()
    } else {
        (0..n).map(f).collect()
    }
}

/// [`map_range`] with a working state made by `init` for each thread's
/// share of the range (not for each item).
pub fn map_range_with<S, R: Send>(
    par: bool,
    n: usize,
    init: impl Fn() -> S + Sync + Send,
    f: impl Fn(&mut S, usize) -> R + Sync + Send,
) -> Vec<R> {
    if par {
        (0..n).into_par_iter().map_init(init, f).collect()
    } else {
        let mut state = init();
        (0..n).map(|i| f(&mut state, i)).collect()
    }
}

/// `f(item)` for each item of `items`, with mutable access, collected in order.
pub fn map_mut<T: Send, R: Send>(
    par: bool,
    items: &mut [T],
    f: impl Fn(&mut T) -> R + Sync + Send,
) -> Vec<R> {
    if par {
        items.par_iter_mut().map(f).collect()
    } else {
        items.iter_mut().map(f).collect()
    }
}
