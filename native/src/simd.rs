//! Code compiled with AVX2 where the CPU has it (the crate targets baseline
//! x86-64). Results do not change: floating-point operations stay IEEE
//! operations, lane by lane (Rust never fuses a multiply and an add).

/// `f()` compiled with AVX2 enabled where the CPU supports it. Mark the
/// closure `#[inline(always)]` so that its body is compiled inside.
#[inline(always)]
pub(crate) fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn enabled<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { enabled(f) };
        }
    }
    f()
}
