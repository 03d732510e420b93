//! An attention matrix with the tokens on both of its axes, checked once.
//!
//! Row `i` holds the weights the decoder put on each source token while it
//! produced output token `i` (Bahdanau et al., 2015, Fig. 3): the picture
//! both [`super::heatmap`] and [`super::terminal`] draw.

use candle_core::{DType, Tensor};

use crate::{Error, Result};

/// Attention weights of one translated sentence, validated on construction:
/// one row per output token, one column per source token.
#[derive(Clone, Debug, PartialEq)]
pub struct AttentionMap {
    source: Vec<String>,
    output: Vec<String>,
    weights: Vec<Vec<f32>>,
}

impl AttentionMap {
    /// Checks the shape: `weights.len() == output.len()` and every row has
    /// `source.len()` entries; otherwise [`Error::Shape`] naming both sizes.
    ///
    /// `source` is the x axis, including `<eos>` if the model attended to it;
    /// `output` is the y axis.
    pub fn new(source: Vec<String>, output: Vec<String>, weights: Vec<Vec<f32>>) -> Result<Self> {
        if weights.len() != output.len() {
            return Err(Error::Shape(format!(
                "attention map has {} rows of weights for {} output tokens",
                weights.len(),
                output.len()
            )));
        }
        if let Some((i, row)) = weights
            .iter()
            .enumerate()
            .find(|(_, r)| r.len() != source.len())
        {
            return Err(Error::Shape(format!(
                "attention row {} ({:?}) has {} weights for {} source tokens",
                i + 1,
                output[i],
                row.len(),
                source.len()
            )));
        }
        Ok(AttentionMap {
            source,
            output,
            weights,
        })
    }

    /// Builds a map from a `[output_len, source_len]` tensor of weights, as
    /// the decoder's attention steps stacked along the first axis.
    pub fn from_tensor(source: Vec<String>, output: Vec<String>, weights: &Tensor) -> Result<Self> {
        let rows = match weights.dims() {
            [_, _] => weights.to_dtype(DType::F32)?.to_vec2::<f32>()?,
            dims => {
                return Err(Error::Shape(format!(
                    "attention weights must be [output_len, source_len], got {dims:?}"
                )));
            }
        };
        Self::new(source, output, rows)
    }

    /// Source tokens (the x axis).
    pub fn source(&self) -> &[String] {
        &self.source
    }

    /// Output tokens (the y axis).
    pub fn output(&self) -> &[String] {
        &self.output
    }

    /// Weights, `[output_len][source_len]`.
    pub fn weights(&self) -> &[Vec<f32>] {
        &self.weights
    }

    /// The map over whole words instead of subword pieces: a word starts at
    /// a piece marked with `marker` (SentencePiece's `▁`), at a special
    /// token (`<eos>`) and after one; a source word's weight is the sum of
    /// its pieces' (the attention mass on the word), an output word's row
    /// the mean of its pieces' rows. Labels lose the marker.
    pub fn merge_pieces(&self, marker: char) -> Result<Self> {
        let (src_words, src_groups) = words(&self.source, marker);
        let (out_words, out_groups) = words(&self.output, marker);
        let weights = out_groups
            .iter()
            .map(|rows| {
                src_groups
                    .iter()
                    .map(|cols| {
                        let sum: f32 = rows
                            .iter()
                            .map(|&r| cols.iter().map(|&c| self.weights[r][c]).sum::<f32>())
                            .sum();
                        sum / rows.len() as f32
                    })
                    .collect()
            })
            .collect();
        Self::new(src_words, out_words, weights)
    }

    /// The largest finite weight, or 0 when there is none.
    pub fn max_weight(&self) -> f32 {
        self.weights
            .iter()
            .flatten()
            .copied()
            .filter(|w| w.is_finite())
            .fold(0.0, f32::max)
    }
}

/// Words of `pieces` and the piece indices of each.
fn words(pieces: &[String], marker: char) -> (Vec<String>, Vec<Vec<usize>>) {
    let special = |p: &str| p.starts_with('<') && p.ends_with('>') && p.len() > 2;
    let (mut words, mut groups): (Vec<String>, Vec<Vec<usize>>) = (Vec::new(), Vec::new());
    let mut after_special = true;
    for (i, p) in pieces.iter().enumerate() {
        let starts = after_special || special(p) || p.starts_with(marker);
        let text = p.trim_start_matches(marker);
        match (starts, words.last_mut(), groups.last_mut()) {
            (false, Some(w), Some(g)) => {
                w.push_str(text);
                g.push(i);
            }
            _ => {
                words.push(text.to_string());
                groups.push(vec![i]);
            }
        }
        after_special = special(p);
    }
    (words, groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn shape_errors_name_both_sizes() {
        let e = AttentionMap::new(toks("a b"), toks("x y"), vec![vec![0.5, 0.5]]);
        let msg = e.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("1 rows") && msg.contains("2 output"), "{msg}");

        let e = AttentionMap::new(toks("a b"), toks("x"), vec![vec![1.0, 0.0, 0.0]]);
        let msg = e.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.contains("3 weights") && msg.contains("2 source"),
            "{msg}"
        );
        assert!(matches!(
            AttentionMap::new(toks("a"), toks("x"), vec![vec![]]),
            Err(Error::Shape(_))
        ));
    }

    #[test]
    fn pieces_merge_into_words_summing_source_and_averaging_output() -> Result<()> {
        let m = AttentionMap::new(
            toks("▁Ein ▁Hu nd . <eos>"),
            toks("▁A ▁do g <eos>"),
            vec![
                vec![0.8, 0.1, 0.1, 0.0, 0.0],
                vec![0.0, 0.5, 0.3, 0.2, 0.0],
                vec![0.0, 0.3, 0.5, 0.1, 0.1],
                vec![0.0, 0.0, 0.0, 0.1, 0.9],
            ],
        )?;
        let w = m.merge_pieces('▁')?;
        assert_eq!(w.source(), ["Ein", "Hund.", "<eos>"]);
        assert_eq!(w.output(), ["A", "dog", "<eos>"]);
        let dog = &w.weights()[1];
        assert!(
            (dog[1] - 0.95).abs() < 1e-6 && (dog[2] - 0.05).abs() < 1e-6,
            "{dog:?}"
        );
        let total: f32 = dog.iter().sum();
        assert!((total - 1.0).abs() < 1e-6, "rows still sum to 1");
        Ok(())
    }

    #[test]
    fn from_tensor_and_max() -> Result<()> {
        let t = Tensor::new(&[[0.25f32, 0.75], [0.9, 0.1]], &candle_core::Device::Cpu)?;
        let m = AttentionMap::from_tensor(toks("a b"), toks("x y"), &t)?;
        assert_eq!(m.weights()[1], vec![0.9, 0.1]);
        assert_eq!(m.max_weight(), 0.9);
        let flat = Tensor::new(&[0.5f32, 0.5], &candle_core::Device::Cpu)?;
        assert!(AttentionMap::from_tensor(toks("a b"), toks("x"), &flat).is_err());
        let empty = AttentionMap::new(toks("a b"), vec![], vec![])?;
        assert_eq!(empty.max_weight(), 0.0);
        Ok(())
    }
}
