//! Tests of `task` (kept beside it, in their own file).

use candle_core::Device;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::lm::{Decay, LmConfig};
use crate::nn::Cell;

const SPECIALS: LmSpecials = LmSpecials {
    pad: 0,
    sos: 2,
    eos: 3,
};

fn task(train: LmData, cfg: &TaskConfig) -> Result<LmTask> {
    let lm = LmConfig {
        vocab: 10,
        embed: 6,
        hidden: 8,
        cell: Cell::Lstm,
        dropout: 0.0,
        ..LmConfig::default()
    };
    let params = ParamStore::new(11);
    let model = LanguageModel::new(&lm, params.var_builder(DType::F32, &Device::Cpu))?;
    let valid = LmData::Stream((0..50).map(|i| 4 + i % 6).collect());
    let parts = TaskParts {
        model,
        params,
        train,
        valid,
        seed: 0,
    };
    LmTask::new(parts, SPECIALS, Some(1.0), cfg)
}

#[test]
fn schedules_rise_from_zero_to_their_maximum() {
    for (decay, k) in [
        (Decay::Linear, 1000.0),
        (Decay::Exponential, 0.999),
        (Decay::InverseSigmoid, 100.0),
    ] {
        let s = ScheduledSampling { decay, k, max: 0.4 };
        assert!(s.validate().is_ok());
        let p: Vec<f64> = [0u64, 10, 100, 1_000, 100_000]
            .iter()
            .map(|&i| s.probability(i))
            .collect();
        assert!(p[0] < 0.01, "{decay:?} starts near teacher forcing: {p:?}");
        assert!(p.windows(2).all(|w| w[0] <= w[1]), "{decay:?} rises: {p:?}");
        assert!((p[4] - 0.4).abs() < 1e-6, "{decay:?} reaches max: {p:?}");
    }
    let bad = ScheduledSampling {
        decay: Decay::Exponential,
        k: 1.5,
        max: 0.5,
    };
    assert!(bad.validate().is_err());
}

#[test]
fn streams_are_cut_like_batchify_and_read_in_order() -> Result<()> {
    let ids: Vec<u32> = (0..41).map(|i| 4 + i % 6).collect();
    let cfg = TaskConfig {
        batch_size: 2,
        bptt: 7,
        ..TaskConfig::default()
    };
    let t = task(LmData::Stream(ids.clone()), &cfg)?;
    // 41 tokens, 2 streams of 20 (one left over), 19 targets each: chunks of 7, 7, 5.
    let batches = t.train_batches(0)?;
    assert_eq!(batches.len(), 3);
    let (input, target, len) = t.stream_chunk(&ids, 2, &(0..2));
    assert_eq!(len, 5);
    assert_eq!(&input[..5], &ids[14..19]);
    assert_eq!(&target[5..], &ids[20 + 15..20 + 20]);
    let second = t.train_batches(1)?;
    assert!(matches!(second[0], LmBatch::Stream { step: 3, .. }));
    Ok(())
}

#[test]
fn the_hidden_state_carries_over_chunks_and_is_saved() -> Result<()> {
    let ids: Vec<u32> = (0..200).map(|i| 4 + (i * 7 % 6)).collect();
    let cfg = TaskConfig {
        batch_size: 4,
        bptt: 10,
        ..TaskConfig::default()
    };
    let t = task(LmData::Stream(ids), &cfg)?;
    let batches = t.train_batches(0)?;
    let mut rng = StdRng::seed_from_u64(0);
    t.loss(&batches[0], &mut Mode::Train(&mut rng))?;
    let saved = t.carry()?;
    let warm = t
        .loss(&batches[1], &mut Mode::Train(&mut rng))?
        .to_scalar::<f32>()?;
    assert!(saved.contains_key("h.0") && saved.contains_key("c.0"));
    // From a cold state the same chunk scores differently.
    t.restore_carry(HashMap::new())?;
    t.lock().clear();
    let cold = t
        .loss(&batches[1], &mut Mode::Train(&mut rng))?
        .to_scalar::<f32>()?;
    assert_ne!(warm, cold);
    // Restoring the saved state gives the warm loss back.
    t.restore_carry(saved)?;
    let again = t
        .loss(&batches[1], &mut Mode::Train(&mut rng))?
        .to_scalar::<f32>()?;
    assert_eq!(warm, again);
    Ok(())
}

#[test]
fn shards_sum_to_the_whole_batch_loss() -> Result<()> {
    let lines: Vec<EncodedLine> = (0..9)
        .map(|i| EncodedLine {
            ids: (0..(2 + i % 4)).map(|j| 4 + ((i + j) % 6) as u32).collect(),
            condition: None,
        })
        .collect();
    let cfg = TaskConfig {
        batch_size: 9,
        ..TaskConfig::default()
    };
    let t = task(LmData::Lines(lines), &cfg)?;
    let batch = &t.train_batches(0)?[0];
    let whole = t.loss(batch, &mut Mode::Eval)?.to_scalar::<f32>()?;
    let shards = t.split(batch, 2)?;
    assert_eq!(shards.len(), 2);
    let mut sum = 0.0;
    for (s, w) in &shards {
        sum += w * f64::from(t.loss(s, &mut Mode::Eval)?.to_scalar::<f32>()?);
    }
    assert!((sum - f64::from(whole)).abs() < 1e-5, "{sum} vs {whole}");
    Ok(())
}

#[test]
fn scheduled_sampling_trains_through_the_step_loop() -> Result<()> {
    let ids: Vec<u32> = (0..120).map(|i| 4 + (i % 6)).collect();
    let cfg = TaskConfig {
        batch_size: 2,
        bptt: 8,
        scheduled_sampling: Some(ScheduledSampling {
            decay: Decay::Linear,
            k: 1.0,
            max: 1.0,
        }),
        ..TaskConfig::default()
    };
    let t = task(LmData::Stream(ids), &cfg)?;
    let batches = t.train_batches(1)?;
    let mut rng = StdRng::seed_from_u64(0);
    let loss = t.loss(&batches[0], &mut Mode::Train(&mut rng))?;
    let grads = loss.backward()?;
    for (name, var) in t.params().vars() {
        assert!(
            grads.get(var.as_tensor()).is_some(),
            "{name} gets a gradient"
        );
    }
    Ok(())
}
