//! Token ↔ id vocabularies (DESIGN §3): specials first, then tokens by count
//! (descending) and first occurrence, with counts kept. The JSON form is in
//! `vocab_json.rs`.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, excerpt};

/// The special tokens a vocabulary starts with, in id order. Roles are known by
/// name: `<pad>`, `<unk>`, `<sos>`, `<eos>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Specials(pub Vec<String>);

impl Specials {
    /// Padding.
    pub const PAD: &'static str = "<pad>";
    /// Unknown token.
    pub const UNK: &'static str = "<unk>";
    /// Start of sequence.
    pub const SOS: &'static str = "<sos>";
    /// End of sequence.
    pub const EOS: &'static str = "<eos>";

    /// `<pad>`=0 `<unk>`=1 `<sos>`=2 `<eos>`=3, the project default.
    pub fn standard() -> Self {
        Specials::of(&[Self::PAD, Self::UNK, Self::SOS, Self::EOS])
    }

    /// `<sos>`=0 `<eos>`=1 and nothing else, as the PyTorch seq2seq lesson's
    /// `Lang` has it (SOS_token = 0, EOS_token = 1), for importing its models.
    pub fn tutorial() -> Self {
        Specials::of(&[Self::SOS, Self::EOS])
    }

    /// Specials from a list of names.
    pub fn of(names: &[&str]) -> Self {
        Specials(names.iter().map(|s| s.to_string()).collect())
    }
}

impl Default for Specials {
    fn default() -> Self {
        Specials::standard()
    }
}

/// How to build a [`Vocab`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VocabConfig {
    /// Tokens seen fewer times than this are left out (become `<unk>`).
    pub min_freq: u64,
    /// At most this many entries, specials included; `None` for no limit.
    pub max_size: Option<usize>,
    /// The special tokens, in id order.
    pub specials: Specials,
}

impl Default for VocabConfig {
    fn default() -> Self {
        VocabConfig {
            min_freq: 1,
            max_size: None,
            specials: Specials::standard(),
        }
    }
}

/// Counts tokens in the order they arrive, for [`Vocab`].
#[derive(Clone, Debug, Default)]
pub struct VocabBuilder {
    // token -> (count, first occurrence)
    counts: HashMap<String, (u64, usize)>,
}

impl VocabBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one token.
    pub fn add(&mut self, token: &str) {
        let next = self.counts.len();
        match self.counts.get_mut(token) {
            Some((c, _)) => *c += 1,
            None => {
                self.counts.insert(token.to_string(), (1, next));
            }
        }
    }

    /// Counts `n` occurrences of one token at once (from a count table).
    pub fn add_count(&mut self, token: &str, n: u64) {
        let next = self.counts.len();
        match self.counts.get_mut(token) {
            Some((c, _)) => *c += n,
            None => {
                self.counts.insert(token.to_string(), (n, next));
            }
        }
    }

    /// Counts every token of `tokens`.
    pub fn add_all<S: AsRef<str>>(&mut self, tokens: impl IntoIterator<Item = S>) {
        for t in tokens {
            self.add(t.as_ref());
        }
    }

    /// Distinct tokens counted so far.
    pub fn distinct(&self) -> usize {
        self.counts.len()
    }

    /// Builds the vocabulary: specials first (counts of specials that occur in
    /// the data go to them), then tokens with at least `min_freq` occurrences,
    /// most frequent first, ties broken by first occurrence, cut at `max_size`.
    pub fn build(self, cfg: &VocabConfig) -> Result<Vocab> {
        let specials = &cfg.specials.0;
        if let Some(max) = cfg.max_size
            && max < specials.len()
        {
            return Err(Error::Vocab(format!(
                "max_size {max} leaves no room for the {} special tokens",
                specials.len()
            )));
        }
        let mut counts = self.counts;
        let mut tokens = Vec::with_capacity(counts.len() + specials.len());
        let mut token_counts = Vec::with_capacity(tokens.capacity());
        for s in specials {
            token_counts.push(counts.remove(s).map_or(0, |(c, _)| c));
            tokens.push(s.clone());
        }
        let mut rest: Vec<(String, u64, usize)> = counts
            .into_iter()
            .filter(|(_, (c, _))| *c >= cfg.min_freq)
            .map(|(t, (c, first))| (t, c, first))
            .collect();
        rest.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
        let room = cfg.max_size.map_or(usize::MAX, |m| m - specials.len());
        for (t, c, _) in rest.into_iter().take(room) {
            tokens.push(t);
            token_counts.push(c);
        }
        Vocab::from_parts(cfg.specials.clone(), tokens, token_counts)
    }
}

/// A vocabulary: ids are positions in `tokens`, specials first.
#[derive(Clone, Debug, PartialEq)]
pub struct Vocab {
    specials: Specials,
    tokens: Vec<String>,
    counts: Vec<u64>,
    index: HashMap<String, u32>,
}

impl Vocab {
    /// Counts `tokens` and builds a vocabulary (see [`VocabBuilder::build`]).
    pub fn build<S: AsRef<str>>(
        tokens: impl IntoIterator<Item = S>,
        cfg: &VocabConfig,
    ) -> Result<Self> {
        let mut b = VocabBuilder::new();
        b.add_all(tokens);
        b.build(cfg)
    }

    /// A vocabulary from its parts, tokens in id order (an imported word
    /// list, say). Checks the invariants every vocabulary keeps: tokens
    /// unique, the specials are the first entries in order, one count per token.
    pub fn from_parts(specials: Specials, tokens: Vec<String>, counts: Vec<u64>) -> Result<Self> {
        if counts.len() != tokens.len() {
            return Err(Error::Vocab(format!(
                "{} tokens but {} counts",
                tokens.len(),
                counts.len()
            )));
        }
        if u32::try_from(tokens.len()).is_err() {
            return Err(Error::Vocab("more than 2^32 tokens".into()));
        }
        for (i, s) in specials.0.iter().enumerate() {
            if tokens.get(i) != Some(s) {
                return Err(Error::Vocab(format!(
                    "special token `{}` must have id {i}, found {}",
                    excerpt(s),
                    tokens
                        .get(i)
                        .map_or("nothing".into(), |t| format!("`{}`", excerpt(t)))
                )));
            }
        }
        let mut index = HashMap::with_capacity(tokens.len());
        for (i, t) in tokens.iter().enumerate() {
            match index.entry(t.clone()) {
                Entry::Occupied(e) => {
                    return Err(Error::Vocab(format!(
                        "token `{}` appears twice (ids {} and {i})",
                        excerpt(t),
                        e.get()
                    )));
                }
                Entry::Vacant(e) => {
                    e.insert(i as u32);
                }
            }
        }
        Ok(Vocab {
            specials,
            tokens,
            counts,
            index,
        })
    }

    /// Number of entries, specials included.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the vocabulary has no entries at all.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The id of `token`, if it is in the vocabulary.
    pub fn id(&self, token: &str) -> Option<u32> {
        self.index.get(token).copied()
    }

    /// The token with id `id`, if there is one.
    pub fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// How often the token with id `id` was counted when building.
    pub fn count(&self, id: u32) -> Option<u64> {
        self.counts.get(id as usize).copied()
    }

    /// All tokens in id order.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// Build-time counts in id order.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// The special tokens.
    pub fn specials(&self) -> &Specials {
        &self.specials
    }

    /// Id of `<pad>`, if the vocabulary has one.
    pub fn pad_id(&self) -> Option<u32> {
        self.special_id(Specials::PAD)
    }
    /// Id of `<unk>`, if the vocabulary has one.
    pub fn unk_id(&self) -> Option<u32> {
        self.special_id(Specials::UNK)
    }
    /// Id of `<sos>`, if the vocabulary has one.
    pub fn sos_id(&self) -> Option<u32> {
        self.special_id(Specials::SOS)
    }
    /// Id of `<eos>`, if the vocabulary has one.
    pub fn eos_id(&self) -> Option<u32> {
        self.special_id(Specials::EOS)
    }

    fn special_id(&self, name: &str) -> Option<u32> {
        self.specials
            .0
            .iter()
            .position(|s| s == name)
            .map(|i| i as u32)
    }

    /// Ids of `tokens`; a token not in the vocabulary becomes `<unk>`. A
    /// vocabulary without `<unk>` (a tutorial import) skips unknown tokens;
    /// use [`Vocab::try_encode`] to have them reported instead.
    pub fn encode<S: AsRef<str>>(&self, tokens: &[S]) -> Vec<u32> {
        let unk = self.unk_id();
        tokens
            .iter()
            .filter_map(|t| self.id(t.as_ref()).or(unk))
            .collect()
    }

    /// Like [`Vocab::encode`], but an unknown token in a vocabulary without
    /// `<unk>` is an error.
    pub fn try_encode<S: AsRef<str>>(&self, tokens: &[S]) -> Result<Vec<u32>> {
        let unk = self.unk_id();
        tokens
            .iter()
            .map(|t| {
                self.id(t.as_ref()).or(unk).ok_or_else(|| {
                    Error::Vocab(format!(
                        "`{}` is not in the vocabulary, which has no <unk>",
                        excerpt(t.as_ref())
                    ))
                })
            })
            .collect()
    }

    /// Tokens of `ids`; an id out of range decodes to `<unk>` (or `<unk?>`
    /// when the vocabulary has none) rather than failing.
    pub fn decode(&self, ids: &[u32]) -> Vec<String> {
        ids.iter()
            .map(|&i| match self.token(i) {
                Some(t) => t.to_string(),
                None => self
                    .unk_id()
                    .and_then(|u| self.token(u))
                    .unwrap_or("<unk?>")
                    .to_string(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<&str> {
        s.split(' ').collect()
    }

    #[test]
    fn order_is_count_then_first_occurrence() {
        let v = Vocab::build(toks("b a c a b d a"), &VocabConfig::default()).unwrap();
        assert_eq!(
            v.tokens(),
            ["<pad>", "<unk>", "<sos>", "<eos>", "a", "b", "c", "d"]
        );
        assert_eq!(v.count(4), Some(3));
        assert_eq!(v.count(5), Some(2));
        assert_eq!(v.count(0), Some(0));
        assert_eq!(
            (v.pad_id(), v.unk_id(), v.sos_id(), v.eos_id()),
            (Some(0), Some(1), Some(2), Some(3))
        );
    }

    #[test]
    fn min_freq_and_max_size() {
        let cfg = VocabConfig {
            min_freq: 2,
            ..Default::default()
        };
        let v = Vocab::build(toks("x y y z z z"), &cfg).unwrap();
        assert_eq!(&v.tokens()[4..], ["z", "y"]);
        let cfg = VocabConfig {
            max_size: Some(5),
            ..Default::default()
        };
        let v = Vocab::build(toks("x y y z z z"), &cfg).unwrap();
        assert_eq!(v.len(), 5);
        assert_eq!(v.token(4), Some("z"));
        let cfg = VocabConfig {
            max_size: Some(3),
            ..Default::default()
        };
        assert!(matches!(
            Vocab::build(toks("x"), &cfg),
            Err(Error::Vocab(_))
        ));
    }

    #[test]
    fn unknown_tokens_and_bad_ids_never_panic() {
        let v = Vocab::build(toks("a b"), &VocabConfig::default()).unwrap();
        assert_eq!(v.encode(&["a", "zzz", "b"]), [4, 1, 5]);
        assert_eq!(v.decode(&[4, 99, 5]), ["a", "<unk>", "b"]);
        let cfg = VocabConfig {
            specials: Specials::tutorial(),
            ..Default::default()
        };
        let t = Vocab::build(toks("a b"), &cfg).unwrap();
        assert_eq!(
            (t.sos_id(), t.eos_id(), t.unk_id()),
            (Some(0), Some(1), None)
        );
        assert_eq!(t.encode(&["a", "zzz"]), [2]);
        assert!(t.try_encode(&["zzz"]).is_err());
        assert_eq!(t.decode(&[7]), ["<unk?>"]);
    }
}
