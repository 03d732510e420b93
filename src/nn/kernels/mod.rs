//! Fused CPU kernels behind the layers' public API (DESIGN §5).
//!
//! The candle graph stays the reference path of every layer; a kernel is a
//! candle `CustomOp` with a hand-written backward pass that computes the same
//! numbers with far fewer passes over memory and no per-step graph nodes.
//! Tests compare both paths on values and gradients.
//!
//! Which path a layer takes is fixed when it is built ([`Kernel`], from the
//! process default [`default_kernel`] unless the layer is told otherwise), so
//! two layers in one process can be compared side by side.

/// `[pub] fn NAME / BODY<G: Bound, …>(args) -> R { … }`: defines `BODY`
/// (inlined wherever it is called) and `NAME`, which runs it compiled for AVX-512 or
/// AVX2 where the CPU has them ([`vector_isa`]). The crate is built for
/// baseline x86-64, so the kernels' element-wise loops would otherwise run
/// four lanes wide; compiled inside a `target_feature` function they run
/// eight or sixteen. The results are the same bit for bit: the loops are
/// IEEE operations in a fixed order, and Rust never fuses a multiply and an
/// add on its own (tested where it is used). Closures do not inherit the
/// target features of an inlined caller: bodies keep their hot loops as
/// plain loops and `#[inline(always)]` functions.
macro_rules! widest {
    ($(#[$doc:meta])* $vis:vis fn $name:ident / $body:ident<$($g:ident: $bound:path),+>($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $block:block) => {
        #[inline(always)]
        fn $body<$($g: $bound),+>($($arg: $ty),*) -> $ret $block

        $(#[$doc])*
        $vis fn $name<$($g: $bound),+>($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                /// # Safety
                /// The CPU has AVX-512F, AVX2 and FMA.
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn avx512<$($g: $bound),+>($($arg: $ty),*) -> $ret {
                    $body::<$($g),+>($($arg),*)
                }
                /// # Safety
                /// The CPU has AVX2 and FMA.
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2<$($g: $bound),+>($($arg: $ty),*) -> $ret {
                    $body::<$($g),+>($($arg),*)
                }
                match $crate::nn::kernels::vector_isa() {
                    // SAFETY: `vector_isa` found these instruction sets.
                    $crate::nn::kernels::simd::Isa::Avx512 => return unsafe { avx512::<$($g),+>($($arg),*) },
                    // SAFETY: as above.
                    $crate::nn::kernels::simd::Isa::Avx2 => return unsafe { avx2::<$($g),+>($($arg),*) },
                    $crate::nn::kernels::simd::Isa::Scalar => {}
                }
            }
            $body::<$($g),+>($($arg),*)
        }
    };
}
pub(crate) use widest;

pub mod activation;
pub(crate) mod cell_math;
pub mod cross_entropy;
pub mod dots;
pub mod gemm;
pub mod helper;
pub mod inplace;
pub mod linear;
pub mod linear_cross_entropy;
pub mod log_softmax;
pub mod packed;
pub mod recurrent;
pub(crate) mod rows;
pub(crate) mod runtime;
pub mod simd;
pub(crate) mod traced;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use serde::{Deserialize, Serialize};

use simd::Isa;

/// Which implementation a layer runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kernel {
    /// The plain candle graph: the reference every kernel is tested against.
    Reference,
    /// Fused kernels where one exists (recurrent layers and the softmax
    /// cross-entropy on the CPU, f32/f64); the reference path elsewhere.
    #[default]
    Fused,
}

static DEFAULT: AtomicU8 = AtomicU8::new(1);

/// The kernel layers built from now on take (`--kernel` sets it once at start-up).
pub fn set_default_kernel(kernel: Kernel) {
    DEFAULT.store(kernel as u8, Ordering::Relaxed);
}

/// The kernel new layers take: [`Kernel::Fused`] unless set otherwise.
pub fn default_kernel() -> Kernel {
    match DEFAULT.load(Ordering::Relaxed) {
        0 => Kernel::Reference,
        _ => Kernel::Fused,
    }
}

/// The float types the kernels run on, with the element-wise functions they need.
pub trait Real:
    Copy
    + Send
    + Sync
    + 'static
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
    + std::ops::AddAssign
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// `tanh(x)`.
    fn tanh(self) -> Self;
    /// `1 / (1 + e^{−x})`.
    fn sigmoid(self) -> Self;
    /// `e^x`.
    fn exp(self) -> Self;
    /// `ln x`.
    fn ln(self) -> Self;
    /// `√x`.
    fn sqrt(self) -> Self;
    /// The nearest value to an `f64`.
    fn of(x: f64) -> Self;
}

/// `Real` for a primitive float: the std functions under the trait's names.
macro_rules! impl_real {
    ($t:ty, $exp:path, $tanh:path) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline(always)]
            fn tanh(self) -> Self {
                $tanh(self)
            }
            #[inline(always)]
            fn sigmoid(self) -> Self {
                1.0 / (1.0 + $exp(-self))
            }
            #[inline(always)]
            fn exp(self) -> Self {
                $exp(self)
            }
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[allow(clippy::unnecessary_cast)]
            fn of(x: f64) -> Self {
                x as $t
            }
        }
    };
}

impl_real!(f32, fast::exp, fast::tanh);
impl_real!(f64, f64::exp, f64::tanh);

/// `exp` and `tanh` for f32 as short branch-free polynomials, inlined into the
/// kernels' loops: libm's scalar `expf`/`tanhf` calls were a tenth of a
/// training step (DESIGN §5). Both stay within a few ulp of the exact values
/// (tests below, against f64) — the reference graph's own rounding is larger.
/// f64 keeps std's functions: the f64 parity tests compare to 1e-12.
pub mod fast {
    /// `e^x`: `x = n ln 2 + r` with `|r| ≤ ln 2 / 2` (Cody–Waite, `ln 2` in two
    /// parts), `e^r` by its Taylor polynomial to `r⁶` (truncation below 2e-7
    /// relative), times `2^n` built in the exponent bits.
    #[inline(always)]
    pub fn exp(x: f32) -> f32 {
        const LOG2E: f32 = std::f32::consts::LOG2_E;
        const LN2_HI: f32 = 0.693_145_75;
        const LN2_LO: f32 = 1.428_606_8e-6;
        // Beyond these e^x over- or underflows f32 anyway.
        let x = x.clamp(-87.0, 88.0);
        // Round to nearest by adding and removing 1.5·2²³ (no `roundf` call,
        // so loops over this vectorise on plain SSE2); |x·log2 e| < 2²², exact.
        const SHIFT: f32 = 12_582_912.0;
        let shifted = x * LOG2E + SHIFT;
        let n = shifted - SHIFT;
        let r = x - n * LN2_HI - n * LN2_LO;
        let p = 1.0 / 720.0;
        let p = p * r + 1.0 / 120.0;
        let p = p * r + 1.0 / 24.0;
        let p = p * r + 1.0 / 6.0;
        let p = p * r + 0.5;
        let p = p * r + 1.0;
        let p = p * r + 1.0;
        // 2ⁿ from the integer bits of `shifted`: all of them share 2²³'s
        // exponent, so its bit pattern is SHIFT's plus n. (`n as i32` is a
        // saturating cast that LLVM lowers to one scalar conversion and NaN
        // check per lane, which kept these loops from vectorising.)
        let n_bits = shifted.to_bits().wrapping_sub(SHIFT.to_bits());
        p * f32::from_bits(n_bits.wrapping_add(127) << 23)
    }

    /// `tanh x`: `1 − 2 / (e^{2|x|} + 1)` with the sign of `x`, and for
    /// `|x| < 1/4`, where that form cancels, the odd Taylor series to `x⁹`
    /// (next term below 3e-9 relative).
    #[inline(always)]
    pub fn tanh(x: f32) -> f32 {
        let a = x.abs().min(10.0);
        let big = 1.0 - 2.0 / (exp(2.0 * a) + 1.0);
        let x2 = x * x;
        let p = 62.0 / 2835.0;
        let p = p * x2 - 17.0 / 315.0;
        let p = p * x2 + 2.0 / 15.0;
        let p = p * x2 - 1.0 / 3.0;
        let small = x + x * x2 * p;
        if a < 0.25 { small } else { big.copysign(x) }
    }

    #[cfg(test)]
    mod tests {
        /// Largest error over a dense grid, in units of the exact value's
        /// magnitude (floored at 1e-30 so zeros do not divide).
        fn worst(f: fn(f32) -> f32, exact: fn(f64) -> f64, lo: f32, hi: f32) -> f64 {
            let n = 200_000;
            (0..=n)
                .map(|i| lo + (hi - lo) * i as f32 / n as f32)
                .map(|x| {
                    let e = exact(x as f64);
                    (f(x) as f64 - e).abs() / e.abs().max(1e-30)
                })
                .fold(0.0, f64::max)
        }

        #[test]
        fn exp_is_within_a_few_ulp() {
            let w = worst(super::exp, f64::exp, -87.0, 88.0);
            assert!(w < 5e-7, "exp relative error {w:e}");
            assert_eq!(super::exp(0.0), 1.0);
            assert!(super::exp(-200.0) >= 0.0 && super::exp(-200.0) < 1e-37);
            assert!(super::exp(200.0).is_finite());
        }

        /// The scale 2ⁿ read from the shifted sum's bits is the one the
        /// plain integer conversion gives, over the whole clamped range.
        #[test]
        fn exponent_bits_equal_the_integer_conversion() {
            const SHIFT: f32 = 12_582_912.0;
            for i in 0..=2_000_000 {
                let x = -87.0 + 175.0 * i as f32 / 2_000_000.0;
                let shifted = x * std::f32::consts::LOG2_E + SHIFT;
                let n = shifted - SHIFT;
                let from_bits = shifted.to_bits().wrapping_sub(SHIFT.to_bits());
                assert_eq!(
                    from_bits.wrapping_add(127) << 23,
                    ((n as i32 + 127) as u32) << 23,
                    "x = {x}"
                );
            }
        }

        #[test]
        fn tanh_and_sigmoid_are_within_a_few_ulp() {
            let w = worst(super::tanh, f64::tanh, -12.0, 12.0);
            assert!(w < 6e-7, "tanh relative error {w:e}");
            let w = worst(super::tanh, f64::tanh, -0.3, 0.3);
            assert!(w < 6e-7, "tanh relative error near 0 {w:e}");
            assert_eq!(super::tanh(0.0), 0.0);
            assert_eq!(super::tanh(40.0), 1.0);
            assert_eq!(super::tanh(-40.0), -1.0);
            let sig = |x: f32| <f32 as super::super::Real>::sigmoid(x);
            let w = worst(sig, |x| 1.0 / (1.0 + (-x).exp()), -80.0, 80.0);
            assert!(w < 6e-7, "sigmoid relative error {w:e}");
        }
    }
}

/// The widest vector instruction set the kernels' `target_feature` code may
/// use here, detected once: AVX-512 only where AVX2 and FMA come with it (the
/// AVX-512 paths enable all three), else AVX2 with FMA, else none.
pub(crate) fn vector_isa() -> Isa {
    static HERE: OnceLock<Isa> = OnceLock::new();
    *HERE.get_or_init(|| match Isa::detect() {
        Isa::Avx512 if Isa::Avx2.available() => Isa::Avx512,
        Isa::Avx512 | Isa::Avx2 if Isa::Avx2.available() => Isa::Avx2,
        _ => Isa::Scalar,
    })
}

/// A contiguous CPU tensor's elements as a slice, read under its lock (the
/// backward passes of the kernels read their saved operands this way, with
/// no copy).
pub(crate) fn read_cpu<T: candle_core::WithDType, R>(
    t: &candle_core::Tensor,
    f: impl FnOnce(&[T]) -> candle_core::Result<R>,
) -> candle_core::Result<R> {
    let (storage, layout) = t.storage_and_layout();
    let candle_core::Storage::Cpu(cpu) = &*storage else {
        candle_core::bail!("kernel: CPU tensors only");
    };
    f(slice_of(cpu, layout)?)
}

/// A contiguous operand of a custom op as a slice.
pub(crate) fn slice_of<'a, T: candle_core::WithDType>(
    s: &'a candle_core::CpuStorage,
    l: &candle_core::Layout,
) -> candle_core::Result<&'a [T]> {
    let Some((a, b)) = l.contiguous_offsets() else {
        candle_core::bail!("kernel: operands must be contiguous");
    };
    Ok(&s.as_slice::<T>()?[a..b])
}

/// The largest absolute difference between two tensors of one shape, in
/// f64: what the kernels' tests hold under a tolerance.
#[cfg(test)]
pub(crate) fn max_abs_diff(a: &candle_core::Tensor, b: &candle_core::Tensor) -> crate::Result<f64> {
    Ok((a - b)?
        .abs()?
        .flatten_all()?
        .to_dtype(candle_core::DType::F64)?
        .max(0)?
        .to_scalar::<f64>()?)
}
