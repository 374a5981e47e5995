//! Serial-or-parallel loops for the table kernels, and the kernels' thread
//! pools.
//!
//! With one thread (or little work) a kernel runs on the calling thread:
//! handing work to a rayon pool and waiting for it costs a thread wake-up,
//! which on a busy machine is slower than the work itself. Both paths visit
//! the same chunks and produce the same results. Parallel work runs on
//! cached pools, one per kernel family and thread count ([`pool`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuildError, ThreadPoolBuilder};

/// The pool of `n_threads` threads of the kernel family `family` (its
/// threads are named `stratum-{family}-{i}`), built on first use and cached.
pub(crate) fn pool(
    family: &'static str,
    n_threads: usize,
) -> Result<Arc<ThreadPool>, ThreadPoolBuildError> {
    type Pools = HashMap<(&'static str, usize), Arc<ThreadPool>>;
    static POOLS: OnceLock<Mutex<Pools>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        // A panic while holding the lock cannot leave the map inconsistent
        // (insert is the only mutation), so recover from poisoning.
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(p) = pools.get(&(family, n_threads)) {
        return Ok(Arc::clone(p));
    }
    let p = Arc::new(
        ThreadPoolBuilder::new()
            .num_threads(n_threads)
            .thread_name(move |i| format!("stratum-{family}-{i}"))
            .build()?,
    );
    pools.insert((family, n_threads), Arc::clone(&p));
    Ok(p)
}

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
