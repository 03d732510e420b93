//! A saved search with a caller's choices over it: what `translate run`'s
//! flags and the server's request fields do to a model's `decode` section,
//! written once so the command line and the HTTP API decode alike.

use super::{BeamOptions, SampleOptions, Search};

/// The knobs a caller may set over a saved [`Search`]; `None`/`false`
/// leaves the saved value.
///
/// `greedy`, `sample` or a beam knob (`beam`, `alpha`, `n_best`) choose the
/// search, starting from the saved search's knobs when it is of the same
/// kind and from the knobs' defaults when not; without them the saved
/// search stays (a sampling knob alone picks sampling). Conflicts (greedy
/// and beam at once) are the caller's to reject: [`SearchOverrides::apply`]
/// takes greedy first, then sampling, then beam search.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SearchOverrides {
    /// The most probable token at every step.
    pub greedy: bool,
    /// Sample instead of searching.
    pub sample: bool,
    /// Beam search with this many beams.
    pub beam: Option<usize>,
    /// Beam search's length-penalty exponent.
    pub alpha: Option<f64>,
    /// Hypotheses beam search returns.
    pub n_best: Option<usize>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Sample among the k most probable tokens.
    pub top_k: Option<usize>,
    /// Sample among the most probable tokens holding this probability.
    pub top_p: Option<f64>,
    /// Seed of the draws (over a saved sampling seed).
    pub seed: Option<u64>,
}

impl SearchOverrides {
    /// Whether a beam knob is set.
    pub fn beam_knob(&self) -> bool {
        self.beam.is_some() || self.alpha.is_some() || self.n_best.is_some()
    }

    /// Whether a sampling knob is set.
    pub fn sampling_knob(&self) -> bool {
        self.temperature.is_some() || self.top_k.is_some() || self.top_p.is_some()
    }

    /// `saved` with these choices over it; `default_seed` seeds sampling
    /// when neither `seed` nor a saved sampling search gives one. The
    /// result is not validated (a caller's bad knob is reported by
    /// [`Search::validate`]).
    pub fn apply(&self, saved: Search, default_seed: u64) -> Search {
        if self.greedy {
            Search::Greedy
        } else if self.sample
            || (!self.beam_knob()
                && (self.sampling_knob() || matches!(saved, Search::Sample { .. })))
        {
            self.sampling(saved, default_seed)
        } else if self.beam_knob() || matches!(saved, Search::Beam(_)) {
            let base = match saved {
                Search::Beam(options) => options,
                _ => BeamOptions::default(),
            };
            let size = self.beam.unwrap_or(base.size);
            Search::Beam(BeamOptions {
                size,
                alpha: self.alpha.unwrap_or(base.alpha),
                // A narrower beam keeps as many of the saved n-best as fit.
                n_best: self.n_best.unwrap_or(base.n_best.min(size)),
            })
        } else {
            Search::Greedy
        }
    }

    /// Sampling with these knobs over `saved`'s when it samples, else over
    /// [`SampleOptions::default`].
    pub fn sampling(&self, saved: Search, default_seed: u64) -> Search {
        let (base, seed) = match saved {
            Search::Sample { options, seed } => (options, seed),
            _ => (SampleOptions::default(), default_seed),
        };
        Search::Sample {
            options: SampleOptions {
                temperature: self.temperature.unwrap_or(base.temperature),
                top_k: self.top_k.or(base.top_k),
                top_p: self.top_p.or(base.top_p),
            },
            seed: self.seed.unwrap_or(seed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEAM: Search = Search::Beam(BeamOptions {
        size: 5,
        alpha: 1.0,
        n_best: 3,
    });

    #[test]
    fn nothing_set_keeps_the_saved_search() {
        let none = SearchOverrides::default();
        assert_eq!(none.apply(BEAM, 7), BEAM);
        assert_eq!(none.apply(Search::Greedy, 7), Search::Greedy);
    }

    #[test]
    fn a_beam_knob_keeps_the_saved_beam_knobs() {
        let o = SearchOverrides {
            beam: Some(2),
            ..Default::default()
        };
        let want = Search::Beam(BeamOptions {
            size: 2,
            alpha: 1.0,
            n_best: 2,
        });
        assert_eq!(o.apply(BEAM, 7), want);
        let from_greedy = o.apply(Search::Greedy, 7);
        assert_eq!(
            from_greedy,
            Search::Beam(BeamOptions {
                size: 2,
                ..BeamOptions::default()
            })
        );
    }

    #[test]
    fn greedy_and_sampling_replace_a_saved_beam() {
        let greedy = SearchOverrides {
            greedy: true,
            ..Default::default()
        };
        assert_eq!(greedy.apply(BEAM, 7), Search::Greedy);
        let hot = SearchOverrides {
            temperature: Some(0.5),
            ..Default::default()
        };
        assert_eq!(
            hot.apply(BEAM, 7),
            Search::Sample {
                options: SampleOptions {
                    temperature: 0.5,
                    ..SampleOptions::default()
                },
                seed: 7
            }
        );
        let seeded = SearchOverrides {
            sample: true,
            seed: Some(3),
            ..Default::default()
        };
        assert!(matches!(
            seeded.apply(BEAM, 7),
            Search::Sample { seed: 3, .. }
        ));
    }
}
