//! Text classification: many-to-one RNN classifiers (characters or words)
//! with last-state, mean, max or attention pooling, trained with the generic
//! [`Trainer`](crate::train::Trainer), scored with accuracy, per-class
//! precision/recall/F1 and a confusion matrix, and explained by their
//! attention weights.

mod data;
mod ensemble;
mod model;
pub mod predictor;
mod pretrained;
pub mod recipe;
pub mod task;
mod text;

pub use model::{Classified, Classifier, ClassifierConfig, Encoder, Pooling};
pub use predictor::{Prediction, Predictor};
pub use recipe::{ClassifyConfig, Level, TextConfig};
pub use task::{ClassifyTask, Example, LabelBatch};
