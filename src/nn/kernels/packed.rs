//! `dst[m, n] (+)= a[m, k] · b` with `b` packed once for many products: a
//! recurrent layer multiplies its state by the same `W_hh` on every time
//! step, forward and backward.
//!
//! The `gemm` crate repacks `b` on every call. For a step's product that
//! repacking is most of the work when `b` is large and `a` has a shard's
//! few dozen rows: on a Zen 3 core (AVX2) `gemm` ran 32 × 512 × 2,048 (a
//! hidden-512 LSTM step) at 24–42 GFLOP/s and 32 × 1,024 × 4,096 at 16–22,
//! where this kernel, packing once, ran 52–71 and 40–51 (32 × 256 × 768, a
//! GRU-256 step: 56–69 against 59–78). So the layer packs `b` into panels of
//! [`NR`] columns once per sequence, and each step runs a register tile over
//! a slice of the depth of one or two panels, the slice staying in L1 while
//! every row block of `a` passes it:
//!
//! - AVX2: 6 rows × one panel (two 8-float registers a row, twelve
//!   accumulators), `KC` deep;
//! - AVX-512: 8 rows × two panels (one 16-float register a row and panel,
//!   sixteen accumulators), `KC_WIDE` deep, masked loads and stores at the
//!   last panel's edge.
//!
//! Every output element sums its depth in the same order whichever tile (or
//! thread) computes it, so the two tiles and any split agree bit for bit.
//! f64 (the parity tests) and machines without AVX2 keep the `gemm` crate,
//! through [`matmul_ld`].

use std::any::TypeId;
use std::borrow::Cow;

use super::gemm::{FEW_ROWS, Op, matmul_ld, transpose};
use super::{Real, helper, vector_isa};
use crate::nn::kernels::simd::Isa;

/// Columns of a panel: two AVX2 registers of eight floats, or one AVX-512
/// register of sixteen.
pub const NR: usize = 16;
/// Rows of a register tile: 6 × 2 accumulators, two loads of `b` and one
/// broadcast of `a` fill 15 of the 16 AVX registers.
const MR: usize = 6;
/// Depth of the slice of a panel a tile runs over: 256 × 16 floats = 16 KB,
/// half of L1, beside the six rows of `a` it meets.
const KC: usize = 256;
/// Rows of the AVX-512 tile: 8 × 2 accumulators, two loads of `b` and one
/// broadcast of `a` use 19 of the 32 registers; a shard of 32 rows is four
/// tiles.
const MR_WIDE: usize = 8;
/// Depth of the AVX-512 tile's slice: two panels 128 deep (16 KB) beside a
/// shard's 32 rows of `a` as deep (16 KB) fit a 48 KB L1.
const KC_WIDE: usize = 128;
/// Multiply-adds from which a product is split over two cores (as `gemm`'s).
const SPLIT: usize = 1 << 18;

/// The right-hand side of a product every time step repeats, `dst (+)= a ·
/// B` (a recurrent op's weights): `Packed` once per sequence where the
/// steps' rows are more than `FEW_ROWS`, else read as stored (few rows
/// run best on `B` as stored: see `matmul_ld`).
pub struct StepProduct<'a, T: Clone>(Step<'a, T>);

enum Step<'a, T: Clone> {
    Packed(Packed<'a, T>),
    Plain {
        b: &'a [T],
        op: Op,
        ld: usize,
        k: usize,
        n: usize,
    },
}

impl<'a, T: Real> StepProduct<'a, T> {
    /// `B` (`[k, n]` read through `op` from `b` with leading dimension `ld`)
    /// for products of `rows` rows.
    pub fn new(b: &'a [T], op: Op, ld: usize, (k, n): (usize, usize), rows: usize) -> Self {
        match rows > FEW_ROWS {
            true => StepProduct(Step::Packed(Packed::new(b, op, ld, k, n))),
            false => StepProduct(Step::Plain { b, op, ld, k, n }),
        }
    }

    /// `dst[r] (+)= a[r] · B` for the `m` rows of `a` (leading dimension `a_ld`).
    #[inline(always)]
    pub fn apply(&self, dst: (&mut [T], usize), (a, a_ld): (&[T], usize), m: usize, acc: bool) {
        match &self.0 {
            Step::Packed(p) => p.matmul(dst, (a, a_ld), m, acc),
            Step::Plain { b, op, ld, k, n } => {
                matmul_ld(dst, (a, Op::N, a_ld), (b, *op, *ld), m, *k, *n, acc)
            }
        }
    }
}

/// `b` (`[k, n]`) ready for repeated products.
pub struct Packed<'a, T: Clone> {
    k: usize,
    n: usize,
    repr: Repr<'a, T>,
}

enum Repr<'a, T: Clone> {
    /// f32 panels: panel `q` holds rows `0..k` of columns `q·NR..q·NR + NR`,
    /// `NR` floats a row, zeros past `n`; the tile that multiplies them.
    Panels(Vec<f32>, Tiles),
    /// `b` as the `gemm` crate reads it, row-major with its leading dimension.
    Plain(Cow<'a, [T]>, usize),
}

/// The register tiles of this kernel, by instruction set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tiles {
    /// 6 rows × 16 columns in 8-float registers.
    Avx2,
    /// 8 rows × 32 columns in 16-float registers.
    Avx512,
}

impl Tiles {
    /// The tile of an instruction set, if it has one.
    fn of(isa: Isa) -> Option<Tiles> {
        match isa {
            Isa::Avx512 => Some(Tiles::Avx512),
            Isa::Avx2 => Some(Tiles::Avx2),
            Isa::Scalar => None,
        }
    }

    /// Whether this CPU runs the tile (AVX-512 machines run both).
    #[cfg(test)]
    fn available(self) -> bool {
        !matches!(
            (self, vector_isa()),
            (_, Isa::Scalar) | (Tiles::Avx512, Isa::Avx2)
        )
    }
}

impl<'a, T: Real> Packed<'a, T> {
    /// `b` read through `b_op` (`[k, n]` as the product reads it, stored with
    /// leading dimension `b_ld`), packed where this machine has the kernel;
    /// else kept as `gemm` reads it fastest (a transposed `b` transposed
    /// once, a plain one borrowed).
    ///
    /// # Panics
    /// When `b` is too short for its shape.
    pub fn new(b: &'a [T], b_op: Op, b_ld: usize, k: usize, n: usize) -> Self {
        // f32 products take the tile of this machine's widest instruction set.
        let tiles = if TypeId::of::<T>() == TypeId::of::<f32>() {
            Tiles::of(vector_isa())
        } else {
            None
        };
        Self::build(b, b_op, b_ld, (k, n), tiles)
    }

    fn build(
        b: &'a [T],
        b_op: Op,
        b_ld: usize,
        (k, n): (usize, usize),
        tiles: Option<Tiles>,
    ) -> Self {
        let (rows, cols) = match b_op {
            Op::N => (k, n),
            Op::T => (n, k),
        };
        assert!(
            b_ld >= cols && (rows == 0 || cols == 0 || b.len() >= (rows - 1) * b_ld + cols),
            "packed: b too small for its shape"
        );
        let repr = match tiles {
            Some(tiles) => {
                // SAFETY: `T` is `f32` (checked by the caller), same layout.
                let b = unsafe { std::slice::from_raw_parts(b.as_ptr().cast::<f32>(), b.len()) };
                Repr::Panels(pack(b, b_op, b_ld, k, n), tiles)
            }
            None => match b_op {
                Op::N => Repr::Plain(Cow::Borrowed(b), b_ld),
                Op::T => Repr::Plain(Cow::Owned(transpose(b, n, k, b_ld)), n),
            },
        };
        Packed { k, n, repr }
    }

    /// `dst[r·dst_ld + j] (+)= Σ_p a[r·a_ld + p] · b[p, j]` for `r < m`, `j < n`.
    ///
    /// # Panics
    /// When a buffer is too short for its rows.
    pub fn matmul(
        &self,
        (dst, dst_ld): (&mut [T], usize),
        (a, a_ld): (&[T], usize),
        m: usize,
        accumulate: bool,
    ) {
        let (k, n) = (self.k, self.n);
        match &self.repr {
            Repr::Plain(b, b_ld) => {
                matmul_ld(
                    (dst, dst_ld),
                    (a, Op::N, a_ld),
                    (b, Op::N, *b_ld),
                    m,
                    k,
                    n,
                    accumulate,
                );
            }
            Repr::Panels(panels, tiles) => {
                let fits = |len: usize, ld: usize, cols: usize| {
                    m == 0 || (ld >= cols && len >= (m - 1) * ld + cols)
                };
                assert!(
                    fits(dst.len(), dst_ld, n) && fits(a.len(), a_ld, k),
                    "packed: buffers too small for their shapes"
                );
                if m == 0 || n == 0 {
                    return;
                }
                let run = Run {
                    dst: dst.as_mut_ptr().cast::<f32>(),
                    dst_ld,
                    a: a.as_ptr().cast::<f32>(),
                    a_ld,
                    panels: panels.as_ptr(),
                    m,
                    k,
                    n,
                    accumulate,
                    tiles: *tiles,
                };
                let mut half = n.div_ceil(NR) / 2;
                if *tiles == Tiles::Avx512 && half > 1 {
                    // Whole pairs of panels on the left: one lone panel at most.
                    half &= !1;
                }
                if m * n * k >= SPLIT && half > 0 {
                    let (left, right) = run.split(half);
                    // SAFETY: the panels exist only where their tile runs;
                    // the assert keeps rows inside their buffers; the halves
                    // write disjoint columns of `dst`, which outlives both.
                    helper::join(|| unsafe { left.go() }, move || unsafe { right.go() });
                } else {
                    // SAFETY: as above, one product.
                    unsafe { run.go() };
                }
            }
        }
    }
}

/// `b` in panels of [`NR`] columns, zero padded. Written front to back
/// (nothing zero-filled first: that was a third of the packing's time).
fn pack(b: &[f32], b_op: Op, b_ld: usize, k: usize, n: usize) -> Vec<f32> {
    let count = n.div_ceil(NR);
    let mut out = Vec::with_capacity(count * k * NR);
    for q in 0..count {
        let (j0, w) = (q * NR, NR.min(n - q * NR));
        match b_op {
            Op::N => {
                for p in 0..k {
                    out.extend_from_slice(&b[p * b_ld + j0..p * b_ld + j0 + w]);
                    out.resize(out.len() + NR - w, 0.0);
                }
            }
            // Column j of the product is row j of the stored `b`: the panel
            // is the transpose of `w` stored rows, taken `NR` deep at a time
            // so the rows' cache lines are reused while they are read.
            Op::T => {
                let rows: [&[f32]; NR] = std::array::from_fn(|c| match c < w {
                    true => &b[(j0 + c) * b_ld..(j0 + c) * b_ld + k],
                    false => &[],
                });
                for p in 0..k {
                    out.extend((0..NR).map(|c| rows[c].get(p).copied().unwrap_or(0.0)));
                }
            }
        }
    }
    out
}

/// One f32 product on panels.
#[derive(Clone, Copy)]
struct Run {
    dst: *mut f32,
    dst_ld: usize,
    a: *const f32,
    a_ld: usize,
    /// The first panel this run computes.
    panels: *const f32,
    m: usize,
    k: usize,
    /// Columns from the first panel's first.
    n: usize,
    accumulate: bool,
    /// The tile that runs it.
    tiles: Tiles,
}

// SAFETY: a `Run` is sent only to the helper thread by `helper::join`, which
// returns after the helper is done with it; the buffers outlive the call.
unsafe impl Send for Run {}

impl Run {
    /// The product's first `panels` panels, and the rest.
    fn split(self, panels: usize) -> (Self, Self) {
        let cols = panels * NR;
        let right = Run {
            dst: self.dst.wrapping_add(cols),
            panels: self.panels.wrapping_add(panels * self.k * NR),
            n: self.n - cols,
            ..self
        };
        (Run { n: cols, ..self }, right)
    }

    /// # Safety
    /// The instruction sets of `tiles` exist; `a` holds `m` rows of `k`
    /// floats `a_ld` apart, `dst` `m` rows of `n` `dst_ld` apart, untouched
    /// by anyone else meanwhile; `panels` holds `⌈n / NR⌉` panels of `k` rows.
    unsafe fn go(self) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller's.
        unsafe {
            match self.tiles {
                Tiles::Avx2 => x86::product(self),
                Tiles::Avx512 => x86::product_wide(self),
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{KC, KC_WIDE, MR, MR_WIDE, NR, Run};

    /// Slices of [`KC`] of the depth, outermost, so that a slice of a panel
    /// stays in L1 while every row block of `a` passes it.
    ///
    /// # Safety
    /// [`Run::go`]'s.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn product(run: Run) {
        let Run { m, k, n, .. } = run;
        let count = n.div_ceil(NR);
        let mut k0 = 0;
        while k0 < k {
            let kc = KC.min(k - k0);
            // After the first slice the tile adds to what the earlier ones wrote.
            let load = run.accumulate || k0 > 0;
            for q in 0..count {
                let w = NR.min(n - q * NR);
                // SAFETY (the pointer arithmetic): panel q's rows k0..k0 + kc,
                // rows i..i + r of `a` from column k0 and of `dst` from column
                // q·NR are inside their buffers (the caller's).
                let b = unsafe { run.panels.add((q * k + k0) * NR) };
                let mut i = 0;
                while i < m {
                    let r = (m - i).min(MR);
                    let a = unsafe { run.a.add(i * run.a_ld + k0) };
                    let c = unsafe { run.dst.add(i * run.dst_ld + q * NR) };
                    let t = Tile {
                        a,
                        a_ld: run.a_ld,
                        b,
                        kc,
                        c,
                        c_ld: run.dst_ld,
                        w,
                        load,
                    };
                    // SAFETY: as above; AVX2 and FMA are the caller's.
                    unsafe {
                        match r {
                            6 => t.run::<6>(),
                            5 => t.run::<5>(),
                            4 => t.run::<4>(),
                            3 => t.run::<3>(),
                            2 => t.run::<2>(),
                            _ => t.run::<1>(),
                        }
                    }
                    i += r;
                }
            }
            k0 += kc;
        }
    }

    /// One register tile: `R` rows of `a` (`kc` deep) against a slice of a
    /// panel, into `R` rows of `w ≤ NR` columns of `dst`.
    struct Tile {
        a: *const f32,
        a_ld: usize,
        b: *const f32,
        kc: usize,
        c: *mut f32,
        c_ld: usize,
        w: usize,
        load: bool,
    }

    impl Tile {
        /// # Safety
        /// AVX2 and FMA exist; the tile's rows and the panel slice are
        /// inside their buffers.
        #[inline(always)]
        unsafe fn run<const R: usize>(&self) {
            // SAFETY: register arithmetic and loads/stores inside the
            // caller's buffers; a short last panel goes through `edge`.
            unsafe {
                let mut acc = [[_mm256_setzero_ps(); 2]; R];
                if self.load {
                    for (i, row) in acc.iter_mut().enumerate() {
                        let c = self.c.add(i * self.c_ld);
                        if self.w == NR {
                            *row = [_mm256_loadu_ps(c), _mm256_loadu_ps(c.add(8))];
                        } else {
                            let mut edge = [0f32; NR];
                            std::ptr::copy_nonoverlapping(c, edge.as_mut_ptr(), self.w);
                            *row = [
                                _mm256_loadu_ps(edge.as_ptr()),
                                _mm256_loadu_ps(edge.as_ptr().add(8)),
                            ];
                        }
                    }
                }
                for p in 0..self.kc {
                    let b0 = _mm256_loadu_ps(self.b.add(p * NR));
                    let b1 = _mm256_loadu_ps(self.b.add(p * NR + 8));
                    for (i, row) in acc.iter_mut().enumerate() {
                        let x = _mm256_broadcast_ss(&*self.a.add(i * self.a_ld + p));
                        row[0] = _mm256_fmadd_ps(x, b0, row[0]);
                        row[1] = _mm256_fmadd_ps(x, b1, row[1]);
                    }
                }
                for (i, row) in acc.iter().enumerate() {
                    let c = self.c.add(i * self.c_ld);
                    if self.w == NR {
                        _mm256_storeu_ps(c, row[0]);
                        _mm256_storeu_ps(c.add(8), row[1]);
                    } else {
                        let mut edge = [0f32; NR];
                        _mm256_storeu_ps(edge.as_mut_ptr(), row[0]);
                        _mm256_storeu_ps(edge.as_mut_ptr().add(8), row[1]);
                        std::ptr::copy_nonoverlapping(edge.as_ptr(), c, self.w);
                    }
                }
            }
        }
    }

    const _: () = assert!(MR == 6 && NR == 16);

    /// [`product`] with the AVX-512 tile: panels two at a time (a lone last
    /// one alone), [`KC_WIDE`]-deep slices.
    ///
    /// # Safety
    /// [`Run::go`]'s, with AVX-512F.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) unsafe fn product_wide(run: Run) {
        let Run { m, k, n, .. } = run;
        let count = n.div_ceil(NR);
        let mut k0 = 0;
        while k0 < k {
            let kc = KC_WIDE.min(k - k0);
            let load = run.accumulate || k0 > 0;
            let mut q = 0;
            while q < count {
                let pair = count - q >= 2;
                let w = (n - q * NR).min(if pair { 2 * NR } else { NR });
                // SAFETY (the pointer arithmetic): panels q (and q + 1),
                // rows k0..k0 + kc, rows i..i + r of `a` from column k0 and
                // of `dst` from column q·NR are inside their buffers.
                let b0 = unsafe { run.panels.add((q * k + k0) * NR) };
                let b1 = if pair {
                    unsafe { run.panels.add(((q + 1) * k + k0) * NR) }
                } else {
                    b0
                };
                let mut i = 0;
                while i < m {
                    let r = (m - i).min(MR_WIDE);
                    let t = WideTile {
                        a: unsafe { run.a.add(i * run.a_ld + k0) },
                        a_ld: run.a_ld,
                        b: [b0, b1],
                        kc,
                        c: unsafe { run.dst.add(i * run.dst_ld + q * NR) },
                        c_ld: run.dst_ld,
                        w,
                        load,
                    };
                    // SAFETY: as above; AVX-512F is the caller's.
                    unsafe {
                        if pair {
                            t.rows::<2>(r);
                        } else {
                            t.rows::<1>(r);
                        }
                    }
                    i += r;
                }
                q += if pair { 2 } else { 1 };
            }
            k0 += kc;
        }
    }

    /// `R` rows of `a` (`kc` deep) against slices of `P` panels, into `R`
    /// rows of `w ≤ P·NR` columns of `dst`.
    struct WideTile {
        a: *const f32,
        a_ld: usize,
        b: [*const f32; 2],
        kc: usize,
        c: *mut f32,
        c_ld: usize,
        w: usize,
        load: bool,
    }

    impl WideTile {
        /// # Safety
        /// [`WideTile::run`]'s.
        #[inline(always)]
        unsafe fn rows<const P: usize>(&self, r: usize) {
            // SAFETY: the caller's.
            unsafe {
                match r {
                    8 => self.run::<8, P>(),
                    7 => self.run::<7, P>(),
                    6 => self.run::<6, P>(),
                    5 => self.run::<5, P>(),
                    4 => self.run::<4, P>(),
                    3 => self.run::<3, P>(),
                    2 => self.run::<2, P>(),
                    _ => self.run::<1, P>(),
                }
            }
        }

        /// # Safety
        /// AVX-512F exists; the tile's rows and the panel slices are inside
        /// their buffers; the masks keep loads and stores of `dst` inside
        /// its `w` columns.
        #[inline(always)]
        unsafe fn run<const R: usize, const P: usize>(&self) {
            let mask = |t: usize| -> __mmask16 {
                let cols = self.w.saturating_sub(t * NR).min(NR);
                if cols == NR {
                    0xffff
                } else {
                    ((1u32 << cols) - 1) as __mmask16
                }
            };
            let masks: [__mmask16; P] = std::array::from_fn(mask);
            // SAFETY: register arithmetic, and loads/stores inside the
            // caller's buffers (masked at the edge of `dst`).
            unsafe {
                let mut acc = [[_mm512_setzero_ps(); P]; R];
                if self.load {
                    for (i, row) in acc.iter_mut().enumerate() {
                        let c = self.c.add(i * self.c_ld);
                        for (t, v) in row.iter_mut().enumerate() {
                            *v = _mm512_maskz_loadu_ps(masks[t], c.add(t * NR));
                        }
                    }
                }
                for p in 0..self.kc {
                    let b: [__m512; P] =
                        std::array::from_fn(|t| _mm512_loadu_ps(self.b[t].add(p * NR)));
                    for (i, row) in acc.iter_mut().enumerate() {
                        let x = _mm512_set1_ps(*self.a.add(i * self.a_ld + p));
                        for (v, bt) in row.iter_mut().zip(&b) {
                            *v = _mm512_fmadd_ps(x, *bt, *v);
                        }
                    }
                }
                for (i, row) in acc.iter().enumerate() {
                    let c = self.c.add(i * self.c_ld);
                    for (t, v) in row.iter().enumerate() {
                        _mm512_mask_storeu_ps(c.add(t * NR), masks[t], *v);
                    }
                }
            }
        }
    }

    const _: () = assert!(MR_WIDE == 8 && NR == 16);
}

#[cfg(test)]
#[path = "packed_tests.rs"]
mod tests;
