//! The PyTorch seq2seq tutorial's trained model, imported: greedy translations
//! of its 300 held-out sentences equal PyTorch's token for token, and every
//! attention row matches within 1e-4. Broken imports say what is wrong.

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

use attend::seq2seq::{DecodeConfig, import_tutorial};
use candle_core::{Device, Tensor};
use serde::Deserialize;

#[derive(Deserialize)]
struct Decodes {
    decodes: Vec<Decode>,
}

#[derive(Deserialize)]
struct Decode {
    source: String,
    output: Vec<String>,
    attention: Vec<Vec<f64>>,
}

fn dir() -> PathBuf {
    common::fixtures_dir().join("tutorial_seq2seq")
}

fn decodes() -> Vec<Decode> {
    let path = dir().join("tutorial_decodes.json.gz");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap();
    serde_json::from_str::<Decodes>(&text).unwrap().decodes
}

#[test]
fn greedy_translations_and_attention_equal_pytorch() {
    let tr = import_tutorial(
        &dir().join("tutorial_model.safetensors"),
        &dir().join("tutorial_vocab.json"),
    )
    .unwrap();
    let cases = decodes();
    assert_eq!(cases.len(), 300);
    let sources: Vec<&str> = cases.iter().map(|c| c.source.as_str()).collect();
    // Batched (and length-sorted inside) like real use; batch 1 is covered by
    // the padding tests of the model.
    let out = tr.translate(&sources, &DecodeConfig::default()).unwrap();
    let mut identical = 0;
    let mut worst = 0.0f64;
    let mut mismatches = Vec::new();
    for (case, got) in cases.iter().zip(&out) {
        // The fixture ends an output with `<EOS>` when the model emitted it.
        let finished = case.output.last().map(String::as_str) == Some("<EOS>");
        let want: Vec<&str> = case.output[..case.output.len() - usize::from(finished)]
            .iter()
            .map(String::as_str)
            .collect();
        if got.tokens == want && got.finished == finished {
            identical += 1;
        } else {
            mismatches.push(format!("{:?}: {:?} vs {:?}", case.source, got.tokens, want));
            continue;
        }
        assert_eq!(got.attention.len(), case.attention.len(), "{}", case.source);
        for (a, e) in got.attention.iter().zip(&case.attention) {
            assert_eq!(a.len(), e.len(), "attention over max_length slots");
            for (x, y) in a.iter().zip(e) {
                worst = worst.max((f64::from(*x) - y).abs());
            }
        }
        // The encoder read the sentence's words and EOS.
        let words = case.source.split(' ').count();
        assert_eq!(got.source_tokens.len(), words + 1);
        assert_eq!(got.source_tokens.last().map(String::as_str), Some("<eos>"));
    }
    eprintln!("tutorial parity: {identical}/300 identical, worst attention diff {worst:.2e}");
    assert_eq!(identical, 300, "mismatches: {mismatches:#?}");
    assert!(worst < 1e-4, "worst attention difference {worst}");
}

#[test]
fn odd_inputs_never_crash() {
    let tr = import_tutorial(
        &dir().join("tutorial_model.safetensors"),
        &dir().join("tutorial_vocab.json"),
    )
    .unwrap();
    let long = "je suis tres tres tres tres tres tres tres tres tres tres content .";
    let out = tr
        .translate(
            &["", "zzzz qqqq", long, "Je suis Content!"],
            &DecodeConfig::default(),
        )
        .unwrap();
    assert!(out[0].tokens.is_empty() && out[0].source_tokens.is_empty());
    assert!(
        out[1].tokens.is_empty(),
        "only unknown words: nothing to translate"
    );
    assert_eq!(out[2].source_tokens.len(), 10, "cut to max_length slots");
    assert_eq!(out[2].source_tokens[9], "<eos>");
    assert!(!out[2].tokens.is_empty());
    assert_eq!(
        out[3].source_tokens,
        ["je", "suis", "content", "!", "<eos>"]
    );
    assert!(out[3].tokens.len() <= 10);
}

fn fixture_tensors() -> HashMap<String, Tensor> {
    candle_core::safetensors::load(dir().join("tutorial_model.safetensors"), &Device::Cpu).unwrap()
}

#[test]
fn broken_weights_name_the_tensor() {
    let tmp = tempfile::tempdir().unwrap();
    let vocab = dir().join("tutorial_vocab.json");
    let path = tmp.path().join("w.safetensors");

    let mut t = fixture_tensors();
    t.remove("decoder.attn.bias");
    t.remove("encoder.gru.weight_hh_l0");
    candle_core::safetensors::save(&t, &path).unwrap();
    let err = import_tutorial(&path, &vocab).unwrap_err().to_string();
    assert!(
        err.contains("decoder.attn.bias") && err.contains("encoder.gru.weight_hh_l0"),
        "{err}"
    );
    assert!(err.contains("w.safetensors"), "{err}");

    let mut t = fixture_tensors();
    t.insert(
        "decoder.out.bias".into(),
        Tensor::zeros(7, candle_core::DType::F32, &Device::Cpu).unwrap(),
    );
    candle_core::safetensors::save(&t, &path).unwrap();
    let err = import_tutorial(&path, &vocab).unwrap_err().to_string();
    assert!(
        err.contains("decoder.out.bias") && err.contains("[7]") && err.contains("[2803]"),
        "{err}"
    );

    let err = import_tutorial(&tmp.path().join("nope.safetensors"), &vocab)
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope.safetensors"), "{err}");
}
