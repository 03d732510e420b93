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

pub mod cross_entropy;
pub mod gemm;
pub mod recurrent;

use std::sync::atomic::{AtomicU8, Ordering};

use serde::{Deserialize, Serialize};

pub use recurrent::RecurrentSequence;

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
    /// The nearest value to an `f64`.
    fn of(x: f64) -> Self;
}

/// `Real` for a primitive float: the std functions under the trait's names.
macro_rules! impl_real {
    ($t:ty) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            fn sigmoid(self) -> Self {
                1.0 / (1.0 + (-self).exp())
            }
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[allow(clippy::unnecessary_cast)]
            fn of(x: f64) -> Self {
                x as $t
            }
        }
    };
}

impl_real!(f32);
impl_real!(f64);
