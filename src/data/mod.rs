//! Datasets: readers (pairs, labelled text, corpora), filters, splits, batches, and named datasets.
