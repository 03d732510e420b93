//! Word vectors — the type, the queries on it and its files — shared by the
//! task that makes them (`embed`, word2vec) and one that uses them
//! (`classify`, `--embeddings FILE`). They live in `data`, below both task
//! modules, because a task may not import another, and because vector files
//! are read and written like every other data file (through
//! [`open`](super::open) and [`atomic`](super::atomic)), with their
//! format in its own file beside the other readers.
//!
//! - [`Embeddings`] (this file): lookups (raw and unit length), cosine
//!   similarity, nearest neighbours and analogies by 3CosAdd (Mikolov et al.,
//!   2013, "Linguistic Regularities…") and 3CosMul (Levy & Goldberg, 2014),
//!   each optionally restricted to the most frequent words — the definitions
//!   of gensim's `KeyedVectors` (`most_similar`, `most_similar_cosmul`,
//!   `similarity`), so numbers compare one to one.
//! - `format`: word2vec text and binary, GloVe ([`VectorFormat`], [`load`],
//!   [`save`], [`read`], [`write`](fn@write)).

use std::collections::HashMap;

use candle_core::{Device, Tensor};

use crate::error::{Error, Result};

mod format;

pub use format::{LoadReport, VectorFormat, load, load_report, read, read_report, save, write};

/// Words with one vector each, in file (frequency) order.
#[derive(Clone, Debug)]
pub struct Embeddings {
    words: Vec<String>,
    index: HashMap<String, usize>,
    dim: usize,
    data: Vec<f32>,
    unit: Vec<f32>,
}

/// A neighbour: the word and its score (cosine for 3CosAdd).
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbour {
    /// The word.
    pub word: String,
    /// Its score.
    pub score: f32,
}

/// How an analogy `a : b :: c : ?` is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnalogyMethod {
    /// `argmax cos(x, b − a + c)` over unit vectors.
    CosAdd,
    /// `argmax cos'(x,b)·cos'(x,c) / (cos'(x,a) + 1e-6)` with `cos' = (1 + cos)/2`.
    CosMul,
}

impl Embeddings {
    /// Vectors `data` (`words.len() × dim`, row-major) for `words`. A word
    /// that appears twice keeps its first row for lookups.
    pub fn new(words: Vec<String>, dim: usize, data: Vec<f32>) -> Result<Self> {
        if data.len() != words.len() * dim {
            return Err(Error::Shape(format!(
                "{} words × {dim} dimensions need {} floats, got {}",
                words.len(),
                words.len() * dim,
                data.len()
            )));
        }
        let mut index = HashMap::with_capacity(words.len());
        for (i, w) in words.iter().enumerate() {
            index.entry(w.clone()).or_insert(i);
        }
        let mut unit = data.clone();
        if dim > 0 {
            for row in unit.chunks_exact_mut(dim) {
                let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
                // A zero vector stays zero (gensim would give NaNs).
                if norm > 0.0 {
                    row.iter_mut().for_each(|x| *x /= norm);
                }
            }
        }
        Ok(Embeddings {
            words,
            index,
            dim,
            data,
            unit,
        })
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether there are no words.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Dimensions.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The words in order.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// All vectors, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The row of `word`.
    pub fn id(&self, word: &str) -> Option<usize> {
        self.index.get(word).copied()
    }

    /// The vector of `word`.
    pub fn get(&self, word: &str) -> Option<&[f32]> {
        self.id(word).map(|i| self.row(i))
    }

    /// The vector of row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// The unit-length vector of row `i`.
    pub fn unit_row(&self, i: usize) -> &[f32] {
        &self.unit[i * self.dim..(i + 1) * self.dim]
    }

    /// The row of `word`, or an error that names it.
    pub fn require(&self, word: &str) -> Result<usize> {
        self.id(word).ok_or_else(|| {
            Error::Vocab(format!(
                "`{word}` is not in the vocabulary ({} words)",
                self.len()
            ))
        })
    }

    /// Cosine similarity of two words.
    pub fn similarity(&self, a: &str, b: &str) -> Result<f32> {
        Ok(self.cosine(self.require(a)?, self.require(b)?))
    }

    /// Cosine similarity of rows `i` and `j`.
    pub fn cosine(&self, i: usize, j: usize) -> f32 {
        self.unit_row(i)
            .iter()
            .zip(self.unit_row(j))
            .map(|(x, y)| x * y)
            .sum()
    }

    /// The `n` words nearest to the normalised mean of the unit vectors of
    /// `positive` minus those of `negative` (gensim's `most_similar`),
    /// among the first `restrict` rows, the query words left out.
    pub fn most_similar(
        &self,
        positive: &[&str],
        negative: &[&str],
        n: usize,
        restrict: Option<usize>,
    ) -> Result<Vec<Neighbour>> {
        let pos = positive
            .iter()
            .map(|w| self.require(w))
            .collect::<Result<Vec<_>>>()?;
        let neg = negative
            .iter()
            .map(|w| self.require(w))
            .collect::<Result<Vec<_>>>()?;
        if pos.is_empty() && neg.is_empty() {
            return Err(Error::Config("most_similar needs at least one word".into()));
        }
        let query = self.offset_query(&pos, &neg);
        let limit = self.limit(restrict);
        let scores = self.scores(&query, 1, limit)?;
        let exclude: Vec<usize> = pos.iter().chain(&neg).copied().collect();
        Ok(self.top(&scores, n, &exclude))
    }

    /// `b − a + c` answered by `method` among the first `restrict` rows: the
    /// `n` best words other than `a`, `b`, `c`.
    pub fn analogy(
        &self,
        [a, b, c]: [&str; 3],
        method: AnalogyMethod,
        n: usize,
        restrict: Option<usize>,
    ) -> Result<Vec<Neighbour>> {
        let (a, b, c) = (self.require(a)?, self.require(b)?, self.require(c)?);
        let scores = self.analogy_scores(&[[a, b, c]], method, self.limit(restrict))?;
        Ok(self.top(&scores, n, &[a, b, c]))
    }

    /// Scores of every row below `limit` for each question `[a, b, c]`,
    /// `questions.len() × limit` row-major, computed as matrix products.
    pub fn analogy_scores(
        &self,
        questions: &[[usize; 3]],
        method: AnalogyMethod,
        limit: usize,
    ) -> Result<Vec<f32>> {
        match method {
            AnalogyMethod::CosAdd => {
                let mut q = Vec::with_capacity(questions.len() * self.dim);
                for &[a, b, c] in questions {
                    q.extend(self.offset_query(&[b, c], &[a]));
                }
                self.scores(&q, questions.len(), limit)
            }
            AnalogyMethod::CosMul => {
                let mut q = Vec::with_capacity(questions.len() * 3 * self.dim);
                for &[a, b, c] in questions {
                    for w in [a, b, c] {
                        q.extend_from_slice(self.unit_row(w));
                    }
                }
                let cos = self.scores(&q, questions.len() * 3, limit)?;
                let shift = |x: f32| (1.0 + x) / 2.0;
                let mut out = Vec::with_capacity(questions.len() * limit);
                for three in cos.chunks_exact(3 * limit) {
                    let (ca, rest) = three.split_at(limit);
                    let (cb, cc) = rest.split_at(limit);
                    out.extend(
                        (0..limit).map(|i| shift(cb[i]) * shift(cc[i]) / (shift(ca[i]) + 1e-6)),
                    );
                }
                Ok(out)
            }
        }
    }

    /// The rows `restrict` allows.
    pub fn limit(&self, restrict: Option<usize>) -> usize {
        restrict.map_or(self.len(), |r| r.min(self.len()))
    }

    /// The `n` best-scoring rows of `scores` not in `exclude`, best first.
    pub fn top(&self, scores: &[f32], n: usize, exclude: &[usize]) -> Vec<Neighbour> {
        let mut idx: Vec<usize> = (0..scores.len())
            .filter(|i| !exclude.contains(i) && !scores[*i].is_nan())
            .collect();
        let by_score = |a: &usize, b: &usize| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b));
        if n < idx.len() {
            idx.select_nth_unstable_by(n, by_score);
            idx.truncate(n);
        }
        idx.sort_by(by_score);
        idx.into_iter()
            .map(|i| Neighbour {
                word: self.words[i].clone(),
                score: scores[i],
            })
            .collect()
    }

    /// The unit vector of the mean of `pos` unit vectors minus `neg` ones.
    fn offset_query(&self, pos: &[usize], neg: &[usize]) -> Vec<f32> {
        let mut q = vec![0f32; self.dim];
        for (&w, sign) in pos
            .iter()
            .map(|w| (w, 1.0))
            .chain(neg.iter().map(|w| (w, -1.0)))
        {
            for (x, y) in q.iter_mut().zip(self.unit_row(w)) {
                *x += sign * y;
            }
        }
        let norm = q.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            q.iter_mut().for_each(|x| *x /= norm);
        }
        q
    }

    /// `queries [k, dim] · unit[..limit]ᵀ` → `[k, limit]`.
    fn scores(&self, queries: &[f32], k: usize, limit: usize) -> Result<Vec<f32>> {
        if limit == 0 || k == 0 {
            return Ok(Vec::new());
        }
        let q = Tensor::from_slice(queries, (k, self.dim), &Device::Cpu)?;
        let m = Tensor::from_slice(
            &self.unit[..limit * self.dim],
            (limit, self.dim),
            &Device::Cpu,
        )?;
        Ok(q.matmul(&m.t()?)?.flatten_all()?.to_vec1()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Embeddings {
        let words = ["king", "queen", "man", "woman", "apple"]
            .map(String::from)
            .to_vec();
        #[rustfmt::skip]
        let data = vec![
            1.0, 1.0, 0.0,
            1.0, 0.0, 1.0,
            0.0, 1.0, 0.0,
            0.0, 0.0, 1.0,
            -1.0, 0.2, 0.2,
        ];
        Embeddings::new(words, 3, data).unwrap()
    }

    #[test]
    fn analogy_king_queen() {
        let e = toy();
        for m in [AnalogyMethod::CosAdd, AnalogyMethod::CosMul] {
            let best = e.analogy(["man", "king", "woman"], m, 1, None).unwrap();
            assert_eq!(best[0].word, "queen", "{m:?}");
        }
        // Restricted to the first two rows, and with the inputs left out,
        // only "queen" is a candidate.
        let r = e
            .analogy(["man", "king", "woman"], AnalogyMethod::CosAdd, 5, Some(2))
            .unwrap();
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn most_similar_is_cosine_and_skips_the_query() {
        let e = toy();
        let n = e.most_similar(&["king"], &[], 2, None).unwrap();
        // cos(king, man) = 1/√2, cos(king, queen) = 1/2.
        assert_eq!(n[0].word, "man");
        assert!((n[0].score - 0.5f32.sqrt()).abs() < 1e-6);
        assert_eq!(n[1].word, "queen");
        assert!((n[1].score - 0.5).abs() < 1e-6);
        assert!((e.similarity("man", "woman").unwrap()).abs() < 1e-6);
        let err = e
            .most_similar(&["pear"], &[], 2, None)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "vocabulary: `pear` is not in the vocabulary (5 words)");
    }
}
