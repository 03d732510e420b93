//! The gradient recorder ([`crate::nn::record`]) on whole translation
//! models: training with it gives the weights training through the graph
//! gives, for every decoder.

use candle_core::{DType, Device};
use rand::{SeedableRng, rngs::StdRng};

use crate::Result;
use crate::data::{PairBatch, PairSpecials};
use crate::nn::record::GradRecorder;
use crate::nn::{Cell, Mode, ParamStore};
use crate::seq2seq::{DecoderKind, Seq2Seq, Seq2SeqConfig};
use crate::train::{
    AdamConfig, OptimizerConfig, SgdConfig, batch_gradients, build_optimizer as build,
    clip_grad_norm_rows,
};

const SP: PairSpecials = PairSpecials {
    pad: 0,
    sos: 2,
    eos: 3,
};

fn config(decoder: DecoderKind, tie_embeddings: bool) -> Seq2SeqConfig {
    Seq2SeqConfig {
        src_vocab: 17,
        tgt_vocab: 19,
        embed: 8,
        hidden: 8,
        cell: Cell::Gru,
        layers: 1,
        bidirectional: false,
        dropout: 0.1,
        out_dropout: 0.0,
        decoder,
        feed_context: false,
        input_feeding: false,
        max_length: (decoder == DecoderKind::Tutorial).then_some(6),
        tie_embeddings,
        share_embeddings: false,
        pad_id: Some(0),
    }
}

/// Two shards of a batch whose rows repeat tokens within and across
/// shards and hold padding, different at every step.
fn shards(step: u32) -> Result<Vec<PairBatch>> {
    let s =
        |k: u32| -> Vec<Vec<u32>> { vec![vec![4 + k, 5, 4 + k, 3], vec![6 + (k + step) % 9, 3]] };
    let t = |k: u32| -> Vec<Vec<u32>> { vec![vec![4, 7 + k, 4], vec![8 + (k * step) % 9]] };
    (0..2)
        .map(|k| PairBatch::new(&s(k), &t(k), &SP, &Device::Cpu))
        .collect()
}

/// What one training run did: every parameter's values after it, how
/// many tables took row gradients and how many parameters' gradients
/// arrived beside the graph (absent from a shard's store until collected).
struct Run {
    values: Vec<Vec<f32>>,
    rows: usize,
    beside: usize,
}

/// Four steps of `optimizer` on two shards (clipped when `clip`), with
/// a recorder or without.
fn train(
    cfg: &Seq2SeqConfig,
    optimizer: &OptimizerConfig,
    record: bool,
    clip: Option<f64>,
) -> Result<Run> {
    let store = ParamStore::new(11);
    let model = Seq2Seq::new(cfg, store.var_builder(DType::F32, &Device::Cpu))?;
    let vars = store.vars();
    let mut opt = build(optimizer, vars.clone())?;
    let recorder = record.then(|| GradRecorder::start(&vars, opt.takes_rows()));
    let (mut rows, mut beside) = (0, 0);
    for step in 0..4 {
        let grads = shards(step)?
            .iter()
            .enumerate()
            .map(|(k, shard)| {
                let mut rng = StdRng::seed_from_u64(k as u64 + 10 * step as u64);
                let loss = model.loss(shard, 1.0, 0.1, &mut Mode::Train(&mut rng))?;
                Ok((loss * 0.5)?.backward()?)
            })
            .collect::<Result<Vec<_>>>()?;
        let missing: Vec<bool> = vars
            .iter()
            .map(|(_, v)| grads[0].get(v.as_tensor()).is_none())
            .collect();
        let (mut total, row_grads) = batch_gradients(grads, &vars, recorder.as_ref())?;
        for ((_, v), missing) in vars.iter().zip(missing) {
            beside += usize::from(missing && total.get(v.as_tensor()).is_some());
        }
        for r in &row_grads {
            // A recorded table has its gradient as rows only.
            assert!(total.get(r.var.as_tensor()).is_none());
            rows += 1;
        }
        if let Some(max) = clip {
            clip_grad_norm_rows(&vars, &mut total, &row_grads, max)?;
        }
        opt.step(&total)?;
        opt.step_rows(&row_grads)?;
    }
    let values = vars
        .iter()
        .map(|(_, v)| Ok(v.as_tensor().flatten_all()?.to_vec1::<f32>()?))
        .collect::<Result<_>>()?;
    Ok(Run {
        values,
        rows,
        beside,
    })
}

/// Training with a recorder gives the weights training through the
/// graph gives, bit for bit: plain SGD from row gradients (padding,
/// tokens repeated within and across shards, and global norm clipping
/// included) and Adam, both with the fused ops' weight gradients
/// recorded, for decoders that run all steps at once; for decoders that
/// run step by step (a weight's uses in a shard summed in one product)
/// and with the output layer tied to the target table (rows folded into
/// its dense gradient) equal to rounding.
#[test]
fn recorded_gradients_train_like_the_graph() -> Result<()> {
    let sgd = OptimizerConfig::Sgd(SgdConfig {
        lr: 0.5,
        ..SgdConfig::default()
    });
    let adam = OptimizerConfig::Adam(AdamConfig {
        lr: 0.01,
        ..AdamConfig::default()
    });
    // Decoders that run all steps at once use each weight once a shard:
    // the same bits. The step-by-step ones (Luong with input feeding,
    // Bahdanau) use the decoder's weights once a target step, and their
    // gradients are formed in one product over all steps, where the
    // graph adds one a step: equal to rounding.
    let configs = [
        (config(DecoderKind::Tutorial, false), true),
        (config(DecoderKind::General, false), true),
        (
            Seq2SeqConfig {
                input_feeding: true,
                ..config(DecoderKind::General, false)
            },
            false,
        ),
        (
            Seq2SeqConfig {
                cell: Cell::Lstm,
                layers: 2,
                bidirectional: true,
                ..config(DecoderKind::Additive, false)
            },
            false,
        ),
    ];
    for (cfg, exact) in &configs {
        for (opt, clip) in [(&sgd, None), (&sgd, Some(0.05)), (&adam, Some(0.05))] {
            let graph = train(cfg, opt, false, clip)?;
            let recorded = train(cfg, opt, true, clip)?;
            let decoder = cfg.decoder;
            let feeding = cfg.input_feeding;
            let name = format!("{decoder:?} feeding {feeding} {opt:?} clip {clip:?}");
            assert_eq!((graph.rows, graph.beside), (0, 0), "{name}");
            // Plain SGD: both tables as rows at every step.
            let tables = if matches!(opt, OptimizerConfig::Sgd(_)) {
                8
            } else {
                0
            };
            assert_eq!(recorded.rows, tables, "{name}: tables as rows");
            assert!(recorded.beside > 0, "{name}: no weight gradient recorded");
            match exact {
                true => assert!(graph.values == recorded.values, "{name}: weights differ"),
                false => assert_close(&graph, &recorded, &name),
            }
        }
    }
    let cfg = config(DecoderKind::General, true);
    let graph = train(&cfg, &sgd, false, Some(0.05))?;
    let recorded = train(&cfg, &sgd, true, Some(0.05))?;
    assert_eq!(recorded.rows, 4, "the source table alone as rows");
    assert_close(&graph, &recorded, "tied");
    Ok(())
}

/// Every weight of two runs equal to rounding (f32, four steps).
fn assert_close(a: &Run, b: &Run, name: &str) {
    for (x, y) in a.values.iter().zip(&b.values) {
        for (p, q) in x.iter().zip(y) {
            assert!(
                (p - q).abs() <= 1e-5 * p.abs().max(1.0),
                "{name}: {p} vs {q}"
            );
        }
    }
}
