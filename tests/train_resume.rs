//! Exact resume: a run stopped after 2 epochs and resumed for 2 more ends with
//! the same weights, bit for bit, as 4 straight epochs — also when resumed
//! from a checkpoint taken in the middle of an epoch. The model is a real one
//! (a 2-layer char-GRU surname classifier with dropout, Adam, clipping and a
//! plateau schedule) on a slice of the `names` data, and it must also learn.

mod common;

use std::collections::HashMap;

use attend::data::{BatchConfig, Batcher, SeqBatch};
use attend::data::{Column, Delimiter, LabelledFormat, read_labelled};
use attend::nn::{
    Cell, Embedding, EmbeddingConfig, Linear, LinearConfig, Mode, ParamStore, Rnn, RnnConfig,
};
use attend::text::{Vocab, VocabConfig};
use attend::train::{
    AdamConfig, EarlyStoppingConfig, Metrics, ModelDir, OptimizerConfig, PlateauConfig,
    ScheduleConfig, Start, Summary, Task, TrainConfig, Trainer, cross_entropy,
};
use candle_core::{D, DType, Device, Tensor};

/// An encoded name and its language id.
type Example = (Vec<u32>, u32);
/// A history without wall-clock time: epoch, step, loss bits, lr bits, metric bits.
type Trace = Vec<(usize, u64, u64, u64, Vec<(String, u64)>)>;

struct NamesTask {
    store: ParamStore,
    embedding: Embedding,
    rnn: Rnn,
    out: Linear,
    train: Vec<Example>,
    valid: Vec<Example>,
    batcher: Batcher,
    pad: u32,
}

fn load_examples() -> (Vec<Example>, Vec<Example>, Vocab, usize) {
    let fmt = LabelledFormat {
        delimiter: Delimiter::Tsv,
        header: true,
        text: vec![Column::Name("name".into())],
        label: Column::Name("language".into()),
    };
    let all = read_labelled(&common::data_dir().join("names.tsv.gz"), &fmt).unwrap();
    // A fixed, spread-out slice: every 20th row covers all 18 languages.
    let rows: Vec<_> = all.iter().step_by(20).collect();
    let mut labels: Vec<String> = rows.iter().map(|e| e.label.clone()).collect();
    labels.sort();
    labels.dedup();
    let chars = rows.iter().flat_map(|e| e.text.chars().map(String::from));
    let vocab = Vocab::build(chars, &VocabConfig::default()).unwrap();
    let encoded: Vec<(Vec<u32>, u32)> = rows
        .iter()
        .map(|e| {
            let toks: Vec<String> = e.text.chars().map(String::from).collect();
            let label = labels.binary_search(&e.label).unwrap() as u32;
            (vocab.encode(&toks), label)
        })
        .collect();
    let (valid, train): (Vec<_>, Vec<_>) = encoded
        .into_iter()
        .enumerate()
        .partition(|(i, _)| i % 5 == 0);
    let strip = |v: Vec<(usize, (Vec<u32>, u32))>| v.into_iter().map(|(_, x)| x).collect();
    (strip(train), strip(valid), vocab, labels.len())
}

impl NamesTask {
    fn new(seed: u64) -> Self {
        let (train, valid, vocab, classes) = load_examples();
        let store = ParamStore::new(seed);
        let vb = store.var_builder(DType::F32, &Device::Cpu);
        let pad = vocab.pad_id().unwrap();
        let embedding = Embedding::new(
            &EmbeddingConfig {
                padding_idx: Some(pad as usize),
                ..EmbeddingConfig::new(vocab.len(), 16)
            },
            vb.pp("embedding"),
        )
        .unwrap();
        let rnn_cfg = RnnConfig {
            cell: Cell::Gru,
            input: 16,
            hidden: 32,
            layers: 2,
            bidirectional: false,
            dropout: 0.2,
        };
        let rnn = Rnn::new(&rnn_cfg, vb.pp("rnn")).unwrap();
        let out = Linear::new(
            &LinearConfig {
                input: 32,
                output: classes,
                bias: true,
            },
            vb.pp("out"),
        )
        .unwrap();
        let lengths = train.iter().map(|(x, _)| x.len()).collect();
        let cfg = BatchConfig {
            batch_size: 32,
            ..BatchConfig::default()
        };
        let batcher = Batcher::new(lengths, &cfg, seed).unwrap();
        NamesTask {
            store,
            embedding,
            rnn,
            out,
            train,
            valid,
            batcher,
            pad,
        }
    }

    /// Logits `[B, classes]` from the last layer's final hidden state.
    fn logits(&self, batch: &SeqBatch, mode: &mut Mode<'_>) -> attend::Result<Tensor> {
        let x = self.embedding.forward(&batch.ids)?;
        let (_, state) = self.rnn.forward(&x, &batch.lengths, None, mode)?;
        let h = state.h().get(1)?;
        self.out.forward(&h)
    }

    fn batch(&self, rows: &[&(Vec<u32>, u32)]) -> (SeqBatch, Tensor) {
        let seqs: Vec<&[u32]> = rows.iter().map(|(x, _)| x.as_slice()).collect();
        let labels: Vec<u32> = rows.iter().map(|(_, y)| *y).collect();
        let batch = SeqBatch::new(&seqs, self.pad, &Device::Cpu).unwrap();
        let n = labels.len();
        (batch, Tensor::from_vec(labels, n, &Device::Cpu).unwrap())
    }
}

impl Task for NamesTask {
    type Batch = (SeqBatch, Tensor);

    fn params(&self) -> &ParamStore {
        &self.store
    }

    fn train_batches(&self, epoch: usize) -> attend::Result<Vec<Self::Batch>> {
        Ok(self
            .batcher
            .epoch(epoch as u64)
            .iter()
            .map(|idx| self.batch(&idx.iter().map(|&i| &self.train[i]).collect::<Vec<_>>()))
            .collect())
    }

    fn loss(&self, (batch, labels): &Self::Batch, mode: &mut Mode<'_>) -> attend::Result<Tensor> {
        cross_entropy(&self.logits(batch, mode)?, labels)
    }

    fn batch_tokens(&self, (batch, _): &Self::Batch) -> usize {
        batch.lengths.iter().sum()
    }

    fn evaluate(&self) -> attend::Result<Metrics> {
        let rows: Vec<&(Vec<u32>, u32)> = self.valid.iter().collect();
        let (batch, labels) = self.batch(&rows);
        let logits = self.logits(&batch, &mut Mode::Eval)?;
        let loss = cross_entropy(&logits, &labels)?.to_scalar::<f32>()?;
        let pred = logits.argmax(D::Minus1)?;
        let correct = pred.eq(&labels)?.to_dtype(DType::F32)?.sum_all()?;
        let accuracy = correct.to_scalar::<f32>()? / rows.len() as f32;
        Ok(Metrics::from([
            ("loss".to_string(), f64::from(loss)),
            ("accuracy".to_string(), f64::from(accuracy)),
        ]))
    }
}

fn config(epochs: usize, checkpoint_every: u64) -> TrainConfig {
    TrainConfig {
        epochs,
        optimizer: OptimizerConfig::Adam(AdamConfig {
            lr: 0.01,
            ..AdamConfig::default()
        }),
        clip_norm: Some(1.0),
        schedule: ScheduleConfig::Plateau(PlateauConfig {
            patience: 0,
            ..PlateauConfig::default()
        }),
        early_stopping: Some(EarlyStoppingConfig {
            metric: "loss".into(),
            patience: 10,
            ..EarlyStoppingConfig::default()
        }),
        checkpoint_every,
        seed: 7,
        ..TrainConfig::default()
    }
}

fn weights(task: &NamesTask) -> HashMap<String, Vec<u32>> {
    // Compare bit patterns, so -0.0 vs 0.0 or a 1-ulp drift both fail.
    task.store
        .tensors()
        .into_iter()
        .map(|(k, t)| {
            let v: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
            (k, v.into_iter().map(f32::to_bits).collect())
        })
        .collect()
}

/// Trains `task` quietly into `dir`.
fn fit(cfg: TrainConfig, dir: ModelDir, task: &NamesTask, start: Start) -> Summary {
    Trainer::new(cfg, dir)
        .unwrap()
        .on_record(attend::viz::plot_history)
        .quiet(true)
        .fit(task, start)
        .unwrap()
}

/// Everything in a history but wall-clock time.
fn trace(h: &attend::train::History) -> Trace {
    h.epochs
        .iter()
        .map(|r| {
            let valid = r
                .valid
                .iter()
                .map(|(k, v)| (k.clone(), v.to_bits()))
                .collect();
            (
                r.epoch,
                r.step,
                r.train_loss.to_bits(),
                r.lr.to_bits(),
                valid,
            )
        })
        .collect()
}

#[test]
fn resumed_training_equals_straight_training_bit_for_bit() {
    // One thread, as the issue asks: one test in this binary, set before any tensor work.
    // SAFETY: no other thread exists yet in this test process's only test.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    let tmp = tempfile::tempdir().unwrap();

    // 4 straight epochs.
    let straight = NamesTask::new(1);
    let dir = ModelDir::create(tmp.path().join("straight")).unwrap();
    let summary = fit(config(4, 0), dir, &straight, Start::Fresh);
    let hist = &summary.state.history.epochs;
    assert_eq!(hist.len(), 4);

    // It learns: the loss falls and accuracy beats always guessing the
    // commonest language (Russian, ~47% of names).
    assert!(hist[3].train_loss < 0.8 * hist[0].train_loss, "{hist:?}");
    let acc = hist[3].valid["accuracy"];
    assert!(acc > 0.55, "validation accuracy {acc}");

    // The artifacts a run promises, and no clobbering of a finished run.
    let root = tmp.path().join("straight");
    let csv = std::fs::read_to_string(root.join("history.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(csv.starts_with("epoch,step,train_loss,lr,seconds,elapsed,valid_accuracy,valid_loss"));
    for file in ["loss.png", "loss.svg", "model.safetensors"] {
        assert!(root.join(file).is_file(), "{file} missing");
    }
    let again = Trainer::new(config(4, 0), ModelDir::open(&root).unwrap()).unwrap();
    let err = again.quiet(true).fit(&straight, Start::Fresh).unwrap_err();
    assert!(
        err.to_string().contains("already holds a training run"),
        "{err}"
    );

    // 2 epochs, stop; a new process would build the model afresh and resume to 4.
    let dir = ModelDir::create(tmp.path().join("resumed")).unwrap();
    let first = NamesTask::new(1);
    fit(config(2, 0), dir.clone(), &first, Start::Fresh);
    let again = NamesTask::new(1);
    let resumed = fit(config(4, 0), dir, &again, Start::Resume);
    assert!(
        weights(&again) == weights(&straight),
        "weights differ after resume"
    );
    assert_eq!(trace(&resumed.state.history), trace(&summary.state.history));

    // A crash right after a mid-epoch checkpoint: resume from it.
    let dir = ModelDir::create(tmp.path().join("mid")).unwrap();
    let first = NamesTask::new(1);
    let per_epoch = first.batcher.num_batches() as u64;
    let every = per_epoch / 2 + 1;
    fit(config(1, every), dir.clone(), &first, Start::Fresh);
    let mid = format!("step-{every:08}");
    assert!(dir.path().join("checkpoints").join(&mid).is_dir());
    std::fs::write(dir.path().join("checkpoints/LATEST"), &mid).unwrap();
    let again = NamesTask::new(1);
    fit(config(4, 0), dir, &again, Start::Resume);
    assert!(
        weights(&again) == weights(&straight),
        "weights differ after a mid-epoch resume"
    );
}
