//! Translation model directories: every decoder kind round-trips through
//! save/load with identical translations, and each way a directory can be
//! broken gives an error naming the file (and, for weights, the tensor and
//! both shapes).

use std::collections::HashMap;
use std::path::Path;

use attend::data::Pair;
use attend::nn::{Cell, ParamStore};
use attend::seq2seq::{
    DecodeConfig, DecoderKind, Normalization, Seq2Seq, Seq2SeqConfig, Text, TextConfig, Translator,
};
use attend::text::{Vocab, VocabConfig};
use attend::train::ModelDir;
use candle_core::{DType, Device, Tensor};

const SENTENCES: [&str; 4] = [
    "le chat noir",
    "",
    "un deux trois quatre cinq six",
    "inconnu chat",
];

fn translator(kind: DecoderKind, cell: Cell, bidirectional: bool) -> Translator {
    let pairs = [
        Pair::new("le chat noir", "the black cat"),
        Pair::new(
            "un deux trois quatre cinq six",
            "one two three four five six",
        ),
    ];
    let vocab = |f: fn(&Pair) -> &str| {
        let toks = pairs
            .iter()
            .flat_map(|p| f(p).split(' ').map(str::to_string));
        Vocab::build(toks, &VocabConfig::default()).unwrap()
    };
    let (src, tgt) = (vocab(|p| &p.src), vocab(|p| &p.tgt));
    let tutorial = kind == DecoderKind::Tutorial;
    let cfg = Seq2SeqConfig {
        src_vocab: src.len(),
        tgt_vocab: tgt.len(),
        embed: if tutorial { 8 } else { 6 },
        hidden: 8,
        cell,
        layers: 2,
        bidirectional: bidirectional && !tutorial,
        decoder: kind,
        max_length: tutorial.then_some(5),
        ..Seq2SeqConfig::default()
    };
    let store = ParamStore::new(9);
    // Built without gradient tracking, as a loaded model is, so both sides of
    // the round trip decode through the same kernels (the fused host step
    // where it applies); the graph and fused steps are compared in the
    // library's own tests.
    let vb = store
        .clone()
        .for_inference()
        .var_builder(DType::F32, &Device::Cpu);
    let model = Seq2Seq::new(&cfg, vb).unwrap();
    let text = Text::plain(TextConfig {
        normalize: Normalization::None,
        ..TextConfig::default()
    })
    .unwrap();
    Translator::new(model, store, src, tgt, text).unwrap()
}

fn translate(t: &Translator) -> Vec<attend::seq2seq::Translation> {
    let cfg = DecodeConfig {
        batch_size: 2,
        ..DecodeConfig::default()
    };
    t.translate(&SENTENCES, &cfg).unwrap()
}

#[test]
fn every_kind_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    for kind in [
        DecoderKind::None,
        DecoderKind::Additive,
        DecoderKind::Dot,
        DecoderKind::General,
        DecoderKind::Tutorial,
    ] {
        for (cell, bidi) in [(Cell::Gru, false), (Cell::Lstm, true)] {
            let t = translator(kind, cell, bidi);
            let dir = ModelDir::create(tmp.path().join(format!("{kind:?}-{cell:?}"))).unwrap();
            t.save(&dir).unwrap();
            let back = Translator::load(dir.path()).unwrap();
            let (a, b) = (translate(&t), translate(&back));
            assert_eq!(a, b, "{kind:?} {cell:?}");
            assert!(a[1].tokens.is_empty() && a[1].source_tokens.is_empty());
            assert_eq!(a[3].source_tokens, ["<unk>", "chat", "<eos>"]);
            if kind == DecoderKind::Tutorial {
                // Cut to the decoder's 5 slots: the first 4 words and <eos>.
                assert_eq!(a[2].source_tokens.len(), 5);
                assert!(a[2].tokens.len() <= 5);
            }
            for tr in &a {
                assert_eq!(
                    tr.attention.is_empty(),
                    kind == DecoderKind::None || tr.source_tokens.is_empty()
                );
            }
        }
    }
}

/// Saves a fresh model into `root/name` and lets `break_it` damage it; returns the load error.
fn broken(root: &Path, name: &str, break_it: impl FnOnce(&Path)) -> String {
    let path = root.join(name);
    let t = translator(DecoderKind::Additive, Cell::Gru, false);
    t.save(&ModelDir::create(&path).unwrap()).unwrap();
    break_it(&path);
    match Translator::load(&path) {
        Ok(_) => panic!("{name}: a broken model directory loaded"),
        Err(e) => e.to_string(),
    }
}

fn edit_weights(path: &Path, f: impl FnOnce(&mut HashMap<String, Tensor>)) {
    let file = path.join("model.safetensors");
    let mut t = candle_core::safetensors::load(&file, &Device::Cpu).unwrap();
    f(&mut t);
    candle_core::safetensors::save(&t, &file).unwrap();
}

fn edit_config(path: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let file = path.join("config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&file, serde_json::to_string(&v).unwrap()).unwrap();
}

#[test]
fn broken_directories_say_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let expect = |err: String, parts: &[&str]| {
        for p in parts {
            assert!(err.contains(p), "`{p}` not in: {err}");
        }
    };

    let e = Translator::load(root.join("nowhere"))
        .unwrap_err()
        .to_string();
    expect(e, &["nowhere"]);
    expect(
        broken(root, "no-config", |p| {
            std::fs::remove_file(p.join("config.json")).unwrap()
        }),
        &["config.json"],
    );
    expect(
        broken(root, "bad-json", |p| {
            std::fs::write(p.join("config.json"), "{\"kind\":").unwrap()
        }),
        &["config.json"],
    );
    expect(
        broken(root, "kind", |p| {
            edit_config(p, |v| v["kind"] = "classifier".into())
        }),
        &["config.json", "classifier"],
    );
    expect(
        broken(root, "unknown-field", |p| {
            edit_config(p, |v| v["model"]["hiden"] = 3.into())
        }),
        &["config.json", "hiden"],
    );
    expect(
        broken(root, "no-vocab", |p| {
            std::fs::remove_file(p.join("src_vocab.json")).unwrap()
        }),
        &["src_vocab.json"],
    );
    expect(
        broken(root, "vocab-size", |p| {
            let small = Vocab::build(["x"], &VocabConfig::default()).unwrap();
            let mut json = Vec::new();
            small.write_json(&mut json).unwrap();
            std::fs::write(p.join("tgt_vocab.json"), json).unwrap();
        }),
        &["tgt_vocab.json", "entries"],
    );
    expect(
        broken(root, "no-weights", |p| {
            std::fs::remove_file(p.join("model.safetensors")).unwrap()
        }),
        &["model.safetensors"],
    );
    expect(
        broken(root, "garbage", |p| {
            std::fs::write(p.join("model.safetensors"), b"garbage").unwrap()
        }),
        &["model.safetensors"],
    );
    expect(
        broken(root, "missing-tensor", |p| {
            edit_weights(p, |t| {
                t.remove("decoder.attention.W_q");
            })
        }),
        &["model.safetensors", "missing", "decoder.attention.W_q"],
    );
    expect(
        broken(root, "extra-tensor", |p| {
            edit_weights(p, |t| {
                t.insert(
                    "decoder.extra".into(),
                    Tensor::zeros(2, DType::F32, &Device::Cpu).unwrap(),
                );
            })
        }),
        &["model.safetensors", "decoder.extra"],
    );
    expect(
        broken(root, "shape", |p| {
            edit_weights(p, |t| {
                t.insert(
                    "decoder.out.bias".into(),
                    Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap(),
                );
            })
        }),
        &["model.safetensors", "decoder.out.bias", "[3]", "[13]"],
    );
    // A config that disagrees with the weights: the first tensor it meets, with both shapes.
    expect(
        broken(root, "hidden", |p| {
            edit_config(p, |v| v["model"]["hidden"] = 16.into())
        }),
        &["model.safetensors", "has shape", "[8", "[16"],
    );
}

/// The `decode` section travels with the model: what was saved comes back,
/// and a directory written before the section existed decodes as it always
/// did, with 5 beams.
#[test]
fn the_decode_section_round_trips_and_defaults_to_beam_search() {
    use attend::decode::{SampleOptions, Search};
    let tmp = tempfile::tempdir().unwrap();
    let decode = DecodeConfig {
        batch_size: 3,
        search: Search::Sample {
            options: SampleOptions {
                temperature: 0.7,
                ..SampleOptions::default()
            },
            seed: 5,
        },
        ..DecodeConfig::default()
    };
    let t = translator(DecoderKind::Additive, Cell::Gru, false).with_decode(decode);
    let path = tmp.path().join("m");
    t.save(&ModelDir::create(&path).unwrap()).unwrap();
    assert_eq!(*Translator::load(&path).unwrap().decode_config(), decode);
    edit_config(&path, |v| {
        v.as_object_mut().unwrap().remove("decode");
    });
    let old = Translator::load(&path).unwrap();
    assert_eq!(*old.decode_config(), DecodeConfig::beam());
    assert!(matches!(
        old.decode_config().search,
        Search::Beam(b) if b.size == 5
    ));
    // A hand-edited section is checked on loading, naming the file.
    edit_config(&path, |v| {
        v["decode"] = serde_json::json!({"search": {"type": "beam", "size": 0}});
    });
    let Err(err) = Translator::load(&path) else {
        panic!("a beam of 0 loaded");
    };
    let msg = err.to_string();
    assert!(
        msg.contains("config.json") && msg.contains("beam size"),
        "{msg}"
    );
}
