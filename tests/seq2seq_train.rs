//! End-to-end smoke tests (DESIGN §6.13): an attention model trained with the
//! generic `Trainer` learns to reverse random sequences (an exact-match floor a
//! broken model cannot reach), survives a save/load round trip unchanged, and
//! a short run on tutorial-filtered eng-fra pairs lowers its loss clearly.

mod common;

use std::time::Instant;

use attend::data::{BatchConfig, Pair, TutorialFilter, read_pairs};
use attend::nn::{Cell, ParamStore, Rebuild};
use attend::seq2seq::{
    DecodeConfig, DecoderKind, Example, Normalization, Seq2Seq, Seq2SeqConfig, TaskConfig, Text,
    TextConfig, TranslationTask, Translator,
};
use attend::text::{Vocab, VocabConfig, normalize_string};
use attend::train::{
    AdamConfig, ModelDir, OptimizerConfig, Start, TaskParts, TrainConfig, Trainer,
};
use candle_core::{DType, Device};
use rand::{Rng, SeedableRng, rngs::StdRng};

/// Random sequences over 12 symbols, lengths 3..=8, each paired with its reverse.
fn reverse_pairs(n: usize, seed: u64) -> Vec<Pair> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let len = rng.random_range(3..=8);
            let words: Vec<String> = (0..len)
                .map(|_| ((b'a' + rng.random_range(0..12u8)) as char).to_string())
                .collect();
            let rev: Vec<String> = words.iter().rev().cloned().collect();
            Pair::new(words.join(" "), rev.join(" "))
        })
        .collect()
}

struct Setup {
    task: TranslationTask,
    translator: Translator,
}

fn setup(
    train: &[Pair],
    valid: &[Pair],
    text: &Text,
    model: Seq2SeqConfig,
    task: &TaskConfig,
) -> Setup {
    let side = |f: fn(&Pair) -> &str| -> Vocab {
        let toks = train.iter().flat_map(|p| text.src_tokens(f(p)).unwrap());
        Vocab::build(toks, &VocabConfig::default()).unwrap()
    };
    let src_vocab = side(|p| &p.src);
    let tgt_vocab = side(|p| &p.tgt);
    let cfg = Seq2SeqConfig {
        src_vocab: src_vocab.len(),
        tgt_vocab: tgt_vocab.len(),
        pad_id: src_vocab.pad_id(),
        ..model
    };
    let store = ParamStore::new(1);
    let model = Seq2Seq::new(&cfg, store.var_builder(DType::F32, &Device::Cpu)).unwrap();
    let encode = |pairs: &[Pair]| -> Vec<Example> {
        pairs
            .iter()
            .map(|p| Example::new(p, text, &src_vocab, &tgt_vocab).unwrap())
            .collect()
    };
    let (tr, va) = (encode(train), encode(valid));
    let parts = TaskParts {
        model: model.clone(),
        params: store.clone(),
        train: tr,
        valid: va,
        seed: 3,
    };
    let task = TranslationTask::new(parts, tgt_vocab.clone(), text.clone(), task).unwrap();
    let translator = Translator::new(model, store, src_vocab, tgt_vocab, text.clone()).unwrap();
    Setup { task, translator }
}

fn train_config(epochs: usize, lr: f64) -> TrainConfig {
    TrainConfig {
        epochs,
        optimizer: OptimizerConfig::Adam(AdamConfig {
            lr,
            ..AdamConfig::default()
        }),
        clip_norm: Some(1.0),
        select_metric: "exact_match".into(),
        select_goal: attend::train::Goal::Max,
        seed: 5,
        ..TrainConfig::default()
    }
}

#[test]
fn learns_to_reverse_and_survives_a_round_trip() {
    let started = Instant::now();
    let text = Text::plain(TextConfig {
        normalize: Normalization::None,
        ..TextConfig::default()
    })
    .unwrap();
    let model = Seq2SeqConfig {
        embed: 32,
        hidden: 64,
        dropout: 0.0,
        decoder: DecoderKind::Additive,
        cell: Cell::Gru,
        ..Seq2SeqConfig::default()
    };
    let task = TaskConfig {
        batch: BatchConfig {
            batch_size: 32,
            ..BatchConfig::default()
        },
        ..TaskConfig::default()
    };
    let s = setup(
        &reverse_pairs(3000, 1),
        &reverse_pairs(200, 2),
        &text,
        model,
        &task,
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = ModelDir::create(tmp.path().join("rev")).unwrap();
    let summary = Trainer::new(train_config(8, 0.003), dir.clone())
        .unwrap()
        .quiet(true)
        .fit(&s.task, Start::Fresh)
        .unwrap();
    let last = summary.state.history.epochs.last().unwrap();
    eprintln!(
        "reverse: {:?} in {:.1}s",
        summary
            .state
            .history
            .epochs
            .iter()
            .map(|r| (r.train_loss, r.valid.clone()))
            .collect::<Vec<_>>(),
        started.elapsed().as_secs_f64()
    );
    let exact = last.valid["exact_match"];
    assert!(exact > 0.9, "exact match {exact}");

    // The trained translator reverses new sentences, and a saved copy
    // translates exactly as it does. Both sides decode with constant
    // weights, as a loaded model does (the trainable model's graph step and
    // the fused step agree only to float rounding).
    let probe = ["a b c d", "l k j i h g", "c c a"];
    let t = &s.translator;
    let twin = Translator::new(
        t.model().for_inference(t.params()).unwrap(),
        t.params().clone(),
        t.src_vocab().clone(),
        t.tgt_vocab().clone(),
        t.text().clone(),
    )
    .unwrap();
    assert!(twin.model().decoder().fused_step().is_some());
    let before = twin.translate(&probe, &DecodeConfig::default()).unwrap();
    assert_eq!(before[0].text, "d c b a");
    s.translator.save(&dir).unwrap();
    let loaded = Translator::load(dir.path()).unwrap();
    let after = loaded.translate(&probe, &DecodeConfig::default()).unwrap();
    assert_eq!(before, after);
    assert_eq!(after[0].source_tokens, ["a", "b", "c", "d", "<eos>"]);
    assert_eq!(after[0].attention.len(), 5, "4 tokens + <eos> step");
    assert!(after[0].attention.iter().all(|r| r.len() == 5));
}

/// All parameters, as bit patterns.
fn weights(store: &ParamStore) -> Vec<(String, Vec<u32>)> {
    store
        .vars()
        .into_iter()
        .map(|(n, v)| {
            let x: Vec<f32> = v.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            (n, x.into_iter().map(f32::to_bits).collect())
        })
        .collect()
}

#[test]
fn scheduled_sampling_with_dropout_resumes_bit_for_bit() {
    let text = Text::plain(TextConfig {
        normalize: Normalization::None,
        ..TextConfig::default()
    })
    .unwrap();
    let model = Seq2SeqConfig {
        embed: 16,
        hidden: 16,
        dropout: 0.2,
        out_dropout: 0.1,
        decoder: DecoderKind::Dot,
        ..Seq2SeqConfig::default()
    };
    let task = TaskConfig {
        teacher_forcing: 0.5,
        label_smoothing: 0.1,
        ..TaskConfig::default()
    };
    let (train, valid) = (reverse_pairs(300, 3), reverse_pairs(20, 4));
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, plan: &[(usize, Start)], threads: usize| -> Vec<(String, Vec<u32>)> {
        let dir = ModelDir::create(tmp.path().join(name)).unwrap();
        let mut last = Vec::new();
        for &(epochs, start) in plan {
            // A fresh process each time: the model is rebuilt from the seed.
            let s = setup(&train, &valid, &text, model.clone(), &task);
            Trainer::new(train_config(epochs, 0.01), dir.clone())
                .unwrap()
                .threads(threads)
                .quiet(true)
                .fit(&s.task, start)
                .unwrap();
            last = weights(s.translator.params());
        }
        last
    };
    let straight = run("straight", &[(3, Start::Fresh)], 1);
    let resumed = run("resumed", &[(1, Start::Fresh), (3, Start::Resume)], 1);
    assert!(straight == resumed, "weights differ after resume");
    // Batches split into two shards on two threads: just as reproducible, and
    // a resume keeps the shard count it started with even if asked for another.
    let sharded = run("sharded", &[(3, Start::Fresh)], 2);
    let sharded_resumed = run(
        "sharded-resumed",
        &[(1, Start::Fresh), (3, Start::Resume)],
        2,
    );
    assert!(
        sharded == sharded_resumed,
        "sharded weights differ after resume"
    );
    let sharded_other = run("sharded-other", &[(1, Start::Fresh), (3, Start::Resume)], 2);
    assert!(sharded == sharded_other);
    assert!(
        sharded != straight,
        "two shards draw their own dropout masks"
    );
}

#[test]
fn sharded_gradients_equal_the_whole_batch_gradient() {
    let text = Text::plain(TextConfig {
        normalize: Normalization::None,
        ..TextConfig::default()
    })
    .unwrap();
    let model = Seq2SeqConfig {
        embed: 16,
        hidden: 16,
        decoder: DecoderKind::Additive,
        // Shards draw their own dropout masks; compare without dropout.
        dropout: 0.0,
        out_dropout: 0.0,
        ..Seq2SeqConfig::default()
    };
    // One batch of 64, one plain SGD step: the update is the gradient itself.
    let task = TaskConfig {
        batch: attend::data::BatchConfig {
            batch_size: 64,
            ..Default::default()
        },
        ..TaskConfig::default()
    };
    let (train, valid) = (reverse_pairs(64, 7), reverse_pairs(8, 8));
    let tmp = tempfile::tempdir().unwrap();
    let after = |threads: usize| -> Vec<(String, Vec<f32>)> {
        let s = setup(&train, &valid, &text, model.clone(), &task);
        let cfg = TrainConfig {
            epochs: 1,
            optimizer: OptimizerConfig::Sgd(attend::train::SgdConfig {
                lr: 1.0,
                ..Default::default()
            }),
            seed: 5,
            ..TrainConfig::default()
        };
        let dir = ModelDir::create(tmp.path().join(format!("t{threads}"))).unwrap();
        Trainer::new(cfg, dir)
            .unwrap()
            .threads(threads)
            .quiet(true)
            .fit(&s.task, Start::Fresh)
            .unwrap();
        s.translator
            .params()
            .vars()
            .into_iter()
            .map(|(n, v)| (n, v.as_tensor().flatten_all().unwrap().to_vec1().unwrap()))
            .collect()
    };
    let (one, two, four) = (after(1), after(2), after(4));
    let fresh = setup(&train, &valid, &text, model.clone(), &task);
    let init: Vec<Vec<f32>> = fresh
        .translator
        .params()
        .vars()
        .into_iter()
        .map(|(_, v)| v.as_tensor().flatten_all().unwrap().to_vec1().unwrap())
        .collect();
    for other in [&two, &four] {
        for (((name, a), (_, b)), w0) in one.iter().zip(other.iter()).zip(&init) {
            // Compare the updates (= gradients, lr 1): equal up to f32
            // summation order, and not trivially zero.
            let ga: Vec<f32> = a.iter().zip(w0).map(|(x, w)| x - w).collect();
            let gb: Vec<f32> = b.iter().zip(w0).map(|(x, w)| x - w).collect();
            let scale = ga.iter().fold(0f32, |m, g| m.max(g.abs()));
            assert!(scale > 0.0, "{name} got no gradient");
            for (x, y) in ga.iter().zip(&gb) {
                assert!((x - y).abs() <= 1e-5 * scale + 1e-7, "{name}: {x} vs {y}");
            }
        }
    }
}

#[test]
fn loss_falls_on_tutorial_eng_fra_pairs() {
    let filter = TutorialFilter::default();
    let pairs: Vec<Pair> = read_pairs(&common::data_dir().join("eng-fra.txt.gz"))
        .unwrap()
        .into_iter()
        .map(|p| Pair::new(normalize_string(&p.tgt), normalize_string(&p.src)))
        .filter(|p| filter.keep(p))
        .step_by(20)
        .take(400)
        .collect();
    assert_eq!(pairs.len(), 400);
    let (train, valid) = pairs.split_at(360);
    let model = Seq2SeqConfig {
        embed: 64,
        hidden: 64,
        decoder: DecoderKind::General,
        cell: Cell::Lstm,
        bidirectional: true,
        ..Seq2SeqConfig::default()
    };
    let task = TaskConfig {
        teacher_forcing: 0.75,
        label_smoothing: 0.1,
        ..TaskConfig::default()
    };
    let s = setup(train, valid, &Text::tutorial(), model, &task);
    let tmp = tempfile::tempdir().unwrap();
    let dir = ModelDir::create(tmp.path()).unwrap();
    let summary = Trainer::new(train_config(5, 0.01), dir)
        .unwrap()
        .quiet(true)
        .fit(&s.task, Start::Fresh)
        .unwrap();
    let h = &summary.state.history.epochs;
    eprintln!(
        "eng-fra: {:?}",
        h.iter()
            .map(|r| (r.train_loss, r.valid.clone()))
            .collect::<Vec<_>>()
    );
    assert!(h[4].train_loss < 0.75 * h[0].train_loss, "{h:?}");
    assert!(h[4].valid["loss"] < h[0].valid["loss"], "{h:?}");
}
