//! Gradients recorded beside candle's graph, where its bookkeeping costs
//! more than the arithmetic: the weight gradients of the fused ops, and
//! embedding tables' gradients as rows (PyTorch's
//! `nn.Embedding(sparse=True)`).
//!
//! **Weights.** candle adds every gradient an op returns into its store as
//! `zeros_like(weight) + gradient`: a fill and an out-of-place addition the
//! size of the weight, for each use (a fifth of a batch-1 step of the
//! tutorial model). While a [`GradRecorder`] lives, a fused op
//! (through `apply_op3`) reads a recorded parameter directly instead of through
//! the graph: in its place the graph sees a one-value *marker* variable,
//! and the op's backward pass leaves the parameter's gradient with the
//! recorder (and a zero for the marker). [`GradRecorder::collect`] then puts
//! each shard's gradients into that shard's store, found by its marker, in
//! the order candle's backward pass would have added them (last use
//! first). A weight of a product `x · Wᵀ` (the linear and recurrent ops)
//! used more than once in a shard is left as its factors, `dy` and `x`,
//! and all its uses become one product `dW = Σ dyᵀ · x`, written once: a
//! decoder that runs step by step uses its weights once a target step, and
//! wrote (and added) a weight-sized gradient for each. A weight used once
//! gets the same bits as through the graph; several uses, the same sum in
//! another order.
//!
//! **Rows.** Through the graph a lookup's backward pass zero-fills a
//! gradient the size of the table and adds the rows into it, and the
//! optimizer then passes over the whole table: at batch 1 the tutorial
//! model's two tables (1.8 M values for 16 looked-up rows) cost more than
//! the rest of its step. When the recorder also records rows (for an
//! optimizer that updates only rows with a gradient, exactly: plain SGD),
//! a lookup takes its rows from the detached table and adds a fresh *row
//! variable*, `[n, D]` of −0.0 (adding −0.0 leaves every value as it is, bit
//! for bit), so backward delivers the rows' gradients to the row variable,
//! `n·D` values, and none to the table. [`GradRecorder::collect`] merges each
//! table's rows into a [`RowGrad`]: per shard in lookup order from zero,
//! then across shards in shard order, as `index_add` and the shard sum add
//! them into the dense gradient, so a row holds the dense gradient's bits
//! (for one lookup of a table per shard; several are added in forward
//! order where the graph takes backward order). The padding row never gets
//! a gradient.
//!
//! Ops and lookups find what is recorded in a process-wide table keyed by
//! the parameter's tensor id, so the layers need no extra argument; only
//! the parameters a recorder was started for are recorded, and the
//! recorder forgets them when dropped (so one recorder for a parameter at
//! a time, as the trainer keeps one per run). A recorder expects one
//! backward pass per forward pass, collected before the next.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::thread::ThreadId;

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, CustomOp3, DType, Layout, Shape, Tensor, TensorId, Var, WithDType};

use crate::nn::kernels::gemm::{Op, matmul_new};
use crate::nn::kernels::{Real, inplace, read_cpu};
use crate::{Error, Result};

/// One lookup's row variable and ids.
struct Lookup {
    rows: Tensor,
    ids: Vec<u32>,
    padding: Option<u32>,
}

/// A recorded parameter's gradient from one use: the gradient itself, or,
/// for the weight `W` of a product `x · Wᵀ`, its factors `dy` (`[n, out]`)
/// and `x` (`[n, in]`), `dW = dyᵀ · x`. The factored uses of one weight in
/// a shard then form their gradient in one product, written once, where
/// each use would write a weight-sized gradient (a decoder that runs step
/// by step uses its weights once a target step).
pub(crate) enum UseGrad {
    Dense(Tensor),
    Factors { dy: Tensor, x: Tensor },
}

impl UseGrad {
    /// The gradient itself, where it is one.
    pub(crate) fn dense(self) -> candle_core::Result<Tensor> {
        match self {
            UseGrad::Dense(g) => Ok(g),
            UseGrad::Factors { .. } => candle_core::bail!("a gradient left as factors"),
        }
    }
}

/// A fused op that can hand a recorded weight's gradient back as factors.
pub(crate) trait RecordableOp: CustomOp3 + Send + Sync + 'static {
    /// [`CustomOp3::bwd`] (for the op's own arguments `args`), with the
    /// gradient of each argument marked in `factored` as
    /// [`UseGrad::Factors`] where the op has them (the others dense);
    /// `None` where the op gives dense gradients only.
    fn bwd_factored(
        &self,
        args: [&Tensor; 3],
        grad: &Tensor,
        factored: [bool; 3],
    ) -> candle_core::Result<Option<[Option<UseGrad>; 3]>> {
        let _ = (args, grad, factored);
        Ok(None)
    }
}

/// Slot where one fused op leaves a recorded parameter's gradient.
type Slot = Arc<Mutex<Option<UseGrad>>>;

/// Where one fused op leaves a recorded parameter's gradient, and the
/// marker that says which shard's graph ran it.
struct Direct {
    marker: Tensor,
    slot: Slot,
    /// The thread that ran the op's forward pass: a shard's graph runs
    /// on one thread, forward and backward.
    thread: ThreadId,
}

/// What is recorded for one parameter since the last collect.
#[derive(Default)]
struct Recorded {
    /// `Some` when its lookups are recorded as rows.
    lookups: Option<Vec<Lookup>>,
    /// Fused ops that read it, in forward order.
    direct: Vec<Direct>,
}

/// Recorded parameters, by tensor id.
fn registry() -> MutexGuard<'static, HashMap<TensorId, Recorded>> {
    static REGISTRY: LazyLock<Mutex<HashMap<TensorId, Recorded>>> = LazyLock::new(Mutex::default);
    // A panic while holding the lock leaves plain data behind: keep using it.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Live recorders: ops and lookups skip the lock while there are none.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// A slot's content, the lock's poisoning ignored (plain data).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A table's gradient as rows: `rows[i]` is the gradient of row `ids[i]`
/// (ascending, distinct); every other row's is zero.
#[derive(Clone, Debug)]
pub struct RowGrad {
    /// The table.
    pub var: Var,
    /// The rows with a gradient, ascending.
    pub ids: Vec<u32>,
    /// `[ids.len(), D]`, in the table's dtype.
    pub rows: Tensor,
}

/// Records the gradients of some parameters beside the graph (see the
/// module docs) for as long as it lives.
#[derive(Debug)]
pub struct GradRecorder {
    params: Vec<Var>,
}

impl GradRecorder {
    /// Starts recording the parameters `vars` (their gradients from fused
    /// ops), and with `rows` the lookups of every two-dimensional one as
    /// row gradients.
    pub fn start(vars: &[(String, Var)], rows: bool) -> Self {
        let params: Vec<Var> = vars.iter().map(|(_, v)| v.clone()).collect();
        let mut reg = registry();
        for p in &params {
            let lookups = (rows && p.rank() == 2).then(Vec::new);
            let recorded = Recorded {
                lookups,
                ..Recorded::default()
            };
            reg.insert(p.id(), recorded);
        }
        LIVE.fetch_add(1, Ordering::SeqCst);
        GradRecorder { params }
    }

    /// Completes the shards' gradient stores (in shard order; each shard's
    /// loss already weighted) with the recorded weight gradients, and
    /// returns the recorded tables' row gradients; forgets everything noted
    /// so far, with a gradient or not (a forward pass outside training, say).
    pub fn collect(&self, shards: &mut [GradStore]) -> Result<Vec<RowGrad>> {
        let pending: Vec<(Var, Recorded)> = {
            let mut reg = registry();
            self.params
                .iter()
                .filter_map(|p| {
                    let r = reg.get_mut(&p.id())?;
                    let taken = Recorded {
                        lookups: r.lookups.as_mut().map(std::mem::take),
                        direct: std::mem::take(&mut r.direct),
                    };
                    Some((p.clone(), taken))
                })
                .collect()
        };
        let mut out = Vec::new();
        for (var, recorded) in pending {
            for grads in shards.iter_mut() {
                // Last use first, as the backward pass reaches them.
                let (mut dys, mut xs) = (Vec::new(), Vec::new());
                for d in recorded.direct.iter().rev() {
                    if grads.get(&d.marker).is_none() {
                        continue;
                    }
                    match lock(&d.slot).take() {
                        Some(UseGrad::Dense(g)) => add_gradient(grads, &var, g)?,
                        Some(UseGrad::Factors { dy, x }) => {
                            dys.push(dy);
                            xs.push(x);
                        }
                        None => {}
                    }
                }
                if !dys.is_empty() {
                    add_gradient(grads, &var, product_of(&dys, &xs)?)?;
                }
            }
            let Some(lookups) = recorded.lookups.filter(|l| !l.is_empty()) else {
                continue;
            };
            let stores: Vec<&GradStore> = shards.iter().collect();
            let merged = match var.dtype() {
                DType::F32 => merge::<f32>(&var, &lookups, &stores)?,
                DType::F64 => merge::<f64>(&var, &lookups, &stores)?,
                other => {
                    return Err(Error::Config(format!(
                        "row gradients need an f32 or f64 table, not {other:?}"
                    )));
                }
            };
            out.extend(merged);
        }
        Ok(out)
    }
}

/// Adds `g` into `grads`' gradient of `var` (in place: a stored gradient
/// is a buffer made for it alone, as `sum_gradients` relies on too), or
/// stores it.
fn add_gradient(grads: &mut GradStore, var: &Var, g: Tensor) -> Result<()> {
    let sum = match grads.get(var.as_tensor()) {
        Some(acc) if inplace::update1(acc, &g, &inplace::AddAssign)? => return Ok(()),
        Some(acc) => (acc + g)?,
        None => g,
    };
    grads.insert(var.as_tensor(), sum);
    Ok(())
}

/// `Σ dyᵀ · x` over the factored uses, as one product over all their rows.
fn product_of(dys: &[Tensor], xs: &[Tensor]) -> Result<Tensor> {
    let (dy, x) = match (dys, xs) {
        ([dy], [x]) => (dy.clone(), x.clone()),
        _ => (Tensor::cat(dys, 0)?, Tensor::cat(xs, 0)?),
    };
    let ((n, out), (_, input)) = (dy.dims2()?, x.dims2()?);
    fn go<T: Real + WithDType>(
        dy: &Tensor,
        x: &Tensor,
        (n, out, input): (usize, usize, usize),
    ) -> Result<Tensor> {
        let w = read_cpu::<T, _>(dy, |dy| {
            read_cpu::<T, _>(x, |x| Ok(matmul_new(dy, Op::T, x, Op::N, out, n, input)))
        })?;
        Ok(Tensor::from_vec(w, (out, input), dy.device())?)
    }
    match dy.dtype() {
        DType::F32 => go::<f32>(&dy, &x, (n, out, input)),
        DType::F64 => go::<f64>(&dy, &x, (n, out, input)),
        other => Err(Error::Config(format!("recorded gradients in {other:?}"))),
    }
}

impl Drop for GradRecorder {
    fn drop(&mut self) {
        let mut reg = registry();
        for p in &self.params {
            reg.remove(&p.id());
        }
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Adds the row gradients of tables that also have a dense gradient in
/// `grads` (a table tied to an output layer) into that gradient, and
/// returns the others. Equal to the dense path up to summation order.
pub fn fold_into_dense(grads: &mut GradStore, rows: Vec<RowGrad>) -> Result<Vec<RowGrad>> {
    let mut rest = Vec::with_capacity(rows.len());
    for r in rows {
        match grads.get(r.var.as_tensor()) {
            Some(dense) => {
                let ids = Tensor::new(r.ids.as_slice(), dense.device())?;
                let sum = dense.index_add(&ids, &r.rows, 0)?;
                grads.insert(r.var.as_tensor(), sum);
            }
            None => rest.push(r),
        }
    }
    Ok(rest)
}

/// One table's lookups merged into a [`RowGrad`] (`None` when no lookup
/// got a gradient).
fn merge<T: WithDType + std::ops::AddAssign>(
    var: &Var,
    lookups: &[Lookup],
    shards: &[&GradStore],
) -> Result<Option<RowGrad>> {
    let d = var.dim(1)?;
    let mut total: HashMap<u32, Vec<T>> = HashMap::new();
    for grads in shards {
        // This shard's rows, each from zero in lookup order.
        let mut shard: HashMap<u32, Vec<T>> = HashMap::new();
        let mut order = Vec::new();
        for lk in lookups {
            let Some(g) = grads.get(&lk.rows) else {
                continue;
            };
            read_cpu::<T, _>(&g.contiguous()?, |g| {
                for (&id, row) in lk.ids.iter().zip(g.chunks(d)) {
                    if Some(id) == lk.padding {
                        continue;
                    }
                    let acc = shard.entry(id).or_insert_with(|| {
                        order.push(id);
                        vec![T::zero(); d]
                    });
                    for (a, &v) in acc.iter_mut().zip(row) {
                        *a += v;
                    }
                }
                Ok(())
            })?;
        }
        for id in order {
            let Some(row) = shard.remove(&id) else {
                continue;
            };
            let acc = total.entry(id).or_insert_with(|| vec![T::zero(); d]);
            for (a, v) in acc.iter_mut().zip(row) {
                *a += v;
            }
        }
    }
    if total.is_empty() {
        return Ok(None);
    }
    let mut ids: Vec<u32> = total.keys().copied().collect();
    ids.sort_unstable();
    let mut rows = Vec::with_capacity(ids.len() * d);
    for id in &ids {
        if let Some(r) = total.get(id) {
            rows.extend_from_slice(r);
        }
    }
    let rows = Tensor::from_vec(rows, (ids.len(), d), var.device())?;
    Ok(Some(RowGrad {
        var: var.clone(),
        ids,
        rows,
    }))
}

/// The rows `ids` (`[N]`, u32) of `table` with their gradient recorded as
/// rows, when a [`GradRecorder`] records `table`'s rows and it is f32 or
/// f64 on the CPU: `[N, D]`; `None` otherwise (the caller looks up through
/// the graph). Ids equal to `padding` get no gradient.
pub(crate) fn lookup(
    table: &Tensor,
    ids: &Tensor,
    padding: Option<usize>,
) -> Result<Option<Tensor>> {
    let recorded = |reg: &HashMap<TensorId, Recorded>| {
        reg.get(&table.id()).is_some_and(|r| r.lookups.is_some())
    };
    if LIVE.load(Ordering::SeqCst) == 0
        || !table.device().is_cpu()
        || !matches!(table.dtype(), DType::F32 | DType::F64)
        || !recorded(&registry())
    {
        return Ok(None);
    }
    let rows = table.detach().embedding(ids)?;
    // −0.0, not 0.0: `x + (−0.0)` is `x` for every `x`, −0.0 included.
    let var = Var::from_tensor(&rows.zeros_like()?.neg()?)?;
    let out = (rows + var.as_tensor())?;
    let lookup = Lookup {
        rows: var.as_tensor().clone(),
        ids: ids.to_vec1::<u32>()?,
        padding: padding.map(|p| p as u32),
    };
    // The recorder may have stopped since the check: then it is not noted.
    if let Some(list) = registry()
        .get_mut(&table.id())
        .and_then(|r| r.lookups.as_mut())
    {
        list.push(lookup);
    }
    Ok(Some(out))
}

/// `a1.apply_op3(a2, a3, op)`, with the arguments a [`GradRecorder`]
/// records read by the op directly and their gradients left with the
/// recorder (see the module docs); just that call when none is.
pub(crate) fn apply_op3<O: RecordableOp>(
    a1: &Tensor,
    a2: &Tensor,
    a3: &Tensor,
    op: O,
) -> candle_core::Result<Tensor> {
    let args = [a1, a2, a3];
    if LIVE.load(Ordering::SeqCst) == 0 || !a1.device().is_cpu() {
        return a1.apply_op3(a2, a3, op);
    }
    let mut reg = registry();
    let recorded = args.map(|t| t.is_variable() && reg.contains_key(&t.id()));
    let Some(first) = recorded.iter().position(|&r| r) else {
        drop(reg);
        return a1.apply_op3(a2, a3, op);
    };
    let marker = Var::zeros(1, args[first].dtype(), args[first].device())?;
    let marker = marker.as_tensor();
    // Each recorded argument, and the slot its gradient is left in.
    let real: [Option<(Tensor, Slot)>; 3] = std::array::from_fn(|i| {
        let r = reg.get_mut(&args[i].id()).filter(|_| recorded[i])?;
        let slot = Slot::default();
        r.direct.push(Direct {
            marker: marker.clone(),
            slot: slot.clone(),
            thread: std::thread::current().id(),
        });
        Some((args[i].clone(), slot))
    });
    drop(reg);
    let pick = |i: usize| if recorded[i] { marker } else { args[i] };
    pick(0).apply_op3(pick(1), pick(2), Recording { real, op })
}

/// A fused op whose recorded arguments (`real`, each with the slot its
/// gradient is left in) stand outside the graph, a marker in their place.
struct Recording<O> {
    real: [Option<(Tensor, Slot)>; 3],
    op: O,
}

/// Runs `f` on `t`'s CPU storage and layout where `t` is given, else on `(s, l)`.
fn with_storage<R>(
    t: Option<&Tensor>,
    (s, l): (&CpuStorage, &Layout),
    f: impl FnOnce(&CpuStorage, &Layout) -> candle_core::Result<R>,
) -> candle_core::Result<R> {
    match t {
        None => f(s, l),
        Some(t) => {
            let (storage, layout) = t.storage_and_layout();
            let candle_core::Storage::Cpu(cpu) = &*storage else {
                candle_core::bail!("recorded gradients: CPU tensors only");
            };
            f(cpu, layout)
        }
    }
}

impl<O: RecordableOp> CustomOp3 for Recording<O> {
    fn name(&self) -> &'static str {
        self.op.name()
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let [r1, r2, r3] = self.real.each_ref().map(|r| r.as_ref().map(|(t, _)| t));
        with_storage(r1, (s1, l1), |s1, l1| {
            with_storage(r2, (s2, l2), |s2, l2| {
                with_storage(r3, (s3, l3), |s3, l3| {
                    self.op.cpu_fwd(s1, l1, s2, l2, s3, l3)
                })
            })
        })
    }

    fn bwd(
        &self,
        a1: &Tensor,
        a2: &Tensor,
        a3: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let args = [a1, a2, a3];
        let real: [&Tensor; 3] =
            std::array::from_fn(|i| self.real[i].as_ref().map_or(args[i], |(t, _)| t));
        // Factors pay where a weight has several uses in this shard (its
        // graph's thread); a single use keeps its dense gradient.
        let factored: [bool; 3] = {
            let me = std::thread::current().id();
            let reg = registry();
            std::array::from_fn(|i| {
                self.real[i].is_some()
                    && reg.get(&real[i].id()).is_some_and(|r| {
                        r.direct.iter().filter(|d| d.thread == me).nth(1).is_some()
                    })
            })
        };
        let mut uses = match self.op.bwd_factored(real, grad, factored)? {
            Some(uses) => uses,
            None => {
                let (g1, g2, g3) = self.op.bwd(real[0], real[1], real[2], res, grad)?;
                [g1, g2, g3].map(|g| g.map(UseGrad::Dense))
            }
        };
        let mut out: [Option<Tensor>; 3] = [None, None, None];
        let mut marked = false;
        for (i, recorded) in self.real.iter().enumerate() {
            match recorded {
                Some((_, slot)) => {
                    *lock(slot) = uses[i].take();
                    // One zero for the marker says this shard's graph ran the op.
                    if !marked {
                        out[i] = Some(args[i].zeros_like()?);
                        marked = true;
                    }
                }
                None => out[i] = uses[i].take().map(UseGrad::dense).transpose()?,
            }
        }
        let [g1, g2, g3] = out;
        Ok((g1, g2, g3))
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
