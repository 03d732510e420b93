//! Classification metrics as scikit-learn's `classification_report` and
//! `confusion_matrix` compute them: accuracy; per-class precision, recall,
//! F1 and support; macro (unweighted) and weighted (by support) averages.
//!
//! A class with no prediction has precision 0, one with no example recall 0,
//! and F1 is 0 where precision + recall is 0 — scikit-learn's
//! `zero_division=0`.

use serde::Serialize;

use crate::{Error, Result};

/// Precision, recall and F1 of one class or of an average.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Prf {
    /// Of the examples predicted as the class, the fraction that are.
    pub precision: f64,
    /// Of the examples of the class, the fraction predicted as it.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

/// One class's row of the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassRow {
    /// The class's name.
    pub class: String,
    /// Precision, recall, F1.
    #[serde(flatten)]
    pub prf: Prf,
    /// Examples of the class.
    pub support: usize,
}

/// A confusion matrix: `counts[gold][predicted]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Confusion {
    /// Class names, in index order.
    pub classes: Vec<String>,
    /// `counts[i][j]`: examples of class `i` predicted as `j`.
    pub counts: Vec<Vec<usize>>,
}

impl Confusion {
    /// Counts `(gold, predicted)` pairs of class indices below `classes.len()`.
    pub fn new(classes: &[String], gold: &[u32], predicted: &[u32]) -> Result<Self> {
        if gold.len() != predicted.len() {
            return Err(Error::Shape(format!(
                "{} gold labels but {} predictions",
                gold.len(),
                predicted.len()
            )));
        }
        let k = classes.len();
        let mut counts = vec![vec![0usize; k]; k];
        for (&g, &p) in gold.iter().zip(predicted) {
            let (g, p) = (g as usize, p as usize);
            if g >= k || p >= k {
                return Err(Error::Shape(format!(
                    "class index {} outside the {k} classes",
                    g.max(p)
                )));
            }
            counts[g][p] += 1;
        }
        Ok(Confusion {
            classes: classes.to_vec(),
            counts,
        })
    }

    /// Examples counted.
    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }

    /// The full report.
    pub fn report(&self) -> Report {
        let k = self.classes.len();
        let total = self.total();
        let correct: usize = (0..k).map(|i| self.counts[i][i]).sum();
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let per_class: Vec<ClassRow> = (0..k)
            .map(|i| {
                let tp = self.counts[i][i];
                let support: usize = self.counts[i].iter().sum();
                let predicted: usize = (0..k).map(|g| self.counts[g][i]).sum();
                let (precision, recall) = (ratio(tp, predicted), ratio(tp, support));
                let f1 = if precision + recall == 0.0 {
                    0.0
                } else {
                    2.0 * precision * recall / (precision + recall)
                };
                ClassRow {
                    class: self.classes[i].clone(),
                    prf: Prf {
                        precision,
                        recall,
                        f1,
                    },
                    support,
                }
            })
            .collect();
        let average = |weight: &dyn Fn(&ClassRow) -> f64| {
            let w: f64 = per_class.iter().map(weight).sum();
            let mean = |f: &dyn Fn(&Prf) -> f64| {
                if w == 0.0 {
                    0.0
                } else {
                    per_class.iter().map(|r| weight(r) * f(&r.prf)).sum::<f64>() / w
                }
            };
            Prf {
                precision: mean(&|p| p.precision),
                recall: mean(&|p| p.recall),
                f1: mean(&|p| p.f1),
            }
        };
        Report {
            accuracy: ratio(correct, total),
            macro_avg: average(&|_| 1.0),
            weighted: average(&|r| r.support as f64),
            per_class,
            examples: total,
        }
    }

    /// The matrix as an aligned text table (rows: gold, columns: predicted).
    pub fn table(&self) -> String {
        let width = self
            .classes
            .iter()
            .map(|c| c.chars().count())
            .chain(self.counts.iter().flatten().map(|n| n.to_string().len()))
            .max()
            .unwrap_or(1)
            .max(4);
        let mut out = format!("{:>width$}", "gold\\pred");
        for c in &self.classes {
            out.push_str(&format!(" {c:>width$}"));
        }
        out.push('\n');
        for (c, row) in self.classes.iter().zip(&self.counts) {
            out.push_str(&format!("{c:>width$}"));
            for n in row {
                out.push_str(&format!(" {n:>width$}"));
            }
            out.push('\n');
        }
        out
    }
}

/// Everything `classify eval` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Fraction of examples predicted correctly.
    pub accuracy: f64,
    /// Unweighted mean over classes.
    #[serde(rename = "macro")]
    pub macro_avg: Prf,
    /// Mean over classes weighted by support.
    pub weighted: Prf,
    /// One row per class, in class order.
    pub per_class: Vec<ClassRow>,
    /// Examples scored.
    pub examples: usize,
}

impl Report {
    /// scikit-learn's `classification_report` layout.
    pub fn text(&self) -> String {
        let width = self
            .per_class
            .iter()
            .map(|r| r.class.chars().count())
            .max()
            .unwrap_or(0)
            .max(12);
        let mut out = format!(
            "{:>width$} {:>9} {:>9} {:>9} {:>9}\n",
            "", "precision", "recall", "f1-score", "support"
        );
        for r in &self.per_class {
            out.push_str(&format!(
                "{:>width$} {:>9.4} {:>9.4} {:>9.4} {:>9}\n",
                r.class, r.prf.precision, r.prf.recall, r.prf.f1, r.support
            ));
        }
        out.push_str(&format!(
            "\n{:>width$} {:>9} {:>9} {:>9.4} {:>9}\n",
            "accuracy", "", "", self.accuracy, self.examples
        ));
        for (name, p) in [
            ("macro avg", &self.macro_avg),
            ("weighted avg", &self.weighted),
        ] {
            out.push_str(&format!(
                "{name:>width$} {:>9.4} {:>9.4} {:>9.4} {:>9}\n",
                p.precision, p.recall, p.f1, self.examples
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    /// Hand-computed (and equal to scikit-learn's `classification_report` for
    /// y_true = [0,0,0,1,1,2], y_pred = [0,1,0,1,2,2] with a fourth class never seen).
    #[test]
    fn report_matches_hand_computed_values() {
        let c = Confusion::new(&names(4), &[0, 0, 0, 1, 1, 2], &[0, 1, 0, 1, 2, 2]).unwrap();
        assert_eq!(c.counts[0], [2, 1, 0, 0]);
        let r = c.report();
        assert!((r.accuracy - 4.0 / 6.0).abs() < 1e-15);
        let p = |i: usize| r.per_class[i].prf;
        assert_eq!((p(0).precision, p(0).recall), (1.0, 2.0 / 3.0));
        assert!((p(0).f1 - 0.8).abs() < 1e-15);
        assert_eq!((p(1).precision, p(1).recall, p(1).f1), (0.5, 0.5, 0.5));
        assert!((p(2).f1 - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!((p(3), r.per_class[3].support), (Prf::default(), 0));
        // Macro over all four classes (the unseen one counts as 0), weighted by support.
        assert!((r.macro_avg.f1 - (0.8 + 0.5 + 2.0 / 3.0) / 4.0).abs() < 1e-15);
        assert!((r.weighted.f1 - (3.0 * 0.8 + 2.0 * 0.5 + 2.0 / 3.0) / 6.0).abs() < 1e-15);
        assert!(r.text().contains("weighted avg"));
        assert!(c.table().lines().count() == 5);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(Confusion::new(&names(2), &[0, 1], &[0]).is_err());
        assert!(Confusion::new(&names(2), &[0, 2], &[0, 1]).is_err());
    }
}
