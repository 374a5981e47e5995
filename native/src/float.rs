//! The float element types of the kernels (`f32`, `f64`) behind one trait,
//! so that a kernel, or a binding, is written once for both.

/// The float element types (`f32`, `f64`), with what the kernels need.
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
    /// The unsigned integer of the same width.
    type Bits: Copy + PartialEq;
    const ZERO: Self;
    const ONE: Self;
    const TWO: Self;
    const NAN: Self;
    const INFINITY: Self;
    const NEG_INFINITY: Self;
    /// The bits of -0.0.
    const NEG_ZERO_BITS: Self::Bits;
    fn is_nan(self) -> bool;
    fn is_infinite(self) -> bool;
    fn to_bits(self) -> Self::Bits;
    fn to_f64(self) -> f64;
    /// Rounds to nearest, as numpy's `astype`.
    fn from_f64(v: f64) -> Self;
}

macro_rules! impl_real {
    ($t:ty, $bits:ty) => {
        impl Real for $t {
            type Bits = $bits;
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const TWO: Self = 2.0;
            const NAN: Self = <$t>::NAN;
            const INFINITY: Self = <$t>::INFINITY;
            const NEG_INFINITY: Self = <$t>::NEG_INFINITY;
            const NEG_ZERO_BITS: $bits = 1 << (<$bits>::BITS - 1);
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            #[inline(always)]
            fn is_infinite(self) -> bool {
                <$t>::is_infinite(self)
            }
            #[inline(always)]
            fn to_bits(self) -> $bits {
                <$t>::to_bits(self)
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                f64::from(self)
            }
            #[inline(always)]
            #[allow(clippy::cast_possible_truncation)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
        }
    };
}

impl_real!(f32, u32);
impl_real!(f64, u64);
