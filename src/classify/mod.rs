//! Text classification: many-to-one RNN classifiers (characters or words)
//! with last-state, mean, max or attention pooling, trained with the generic
//! [`Trainer`](crate::train::Trainer), scored with accuracy, per-class
//! precision/recall/F1 and a confusion matrix, and explained by their
//! attention weights.

mod autotune;
mod cv;
mod data;
mod ensemble;
mod from_lm;
mod model;
mod predictor;
mod pretrained;
mod recipe;
mod task;
mod text;

pub use autotune::{AUTOTUNE_TABLE, AutotuneReport, Trial, autotune};
pub use cv::{CvOptions, CvReport, FoldScore, cross_validate, mean_std};
pub use data::{
    DatasetRows, LabelDataConfig, Labelled, Prepared, classes_of, held_out, inverse_weights,
    prepare, read_dataset,
};
pub use ensemble::{assemble_ensemble, planned_ensemble, train_ensemble};
pub use from_lm::{Extension, LmEncoder, unfreezing_groups};
pub use model::{Classified, Classifier, ClassifierConfig, Encoder, Pooling};
pub use predictor::{Prediction, Predictor};
pub use pretrained::Coverage;
pub use recipe::{ClassifyConfig, SavedClassifier, TrainReport, train, train_prepared};
pub use task::{ClassifyTask, Example, LabelBatch};
pub use text::{DEFAULT_MAX_TOKENS, MAX_BYTES_PER_TOKEN, MAX_MAX_TOKENS, TextConfig};
