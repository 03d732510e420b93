//! Named datasets (DESIGN §4): `eng-fra`, `names`, `imdb`, … with their file
//! names as in shared/data, formats, sha256 of the decompressed bytes, and a
//! public URL where shared/data/README.md proves the bytes identical to a
//! public file. Finding the files is [`super::resolve`]'s job.

use super::inline_labels::InlineFormat;
use super::labelled::{Column, Delimiter, LabelledFormat};

/// What a file holds and how to read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataFormat {
    /// Sentence pairs; the names of the two columns ("eng", "fra").
    Pairs([String; 2]),
    /// Labelled text.
    Labelled(LabelledFormat),
    /// Labelled lines with the label inline (`label text`).
    Inline(InlineFormat),
    /// A plain corpus: words only.
    Corpus,
    /// Word-analogy questions (`: section` lines, then `a b c d`).
    Analogy,
    /// Word-similarity pairs with a score per line.
    Similarity,
}

/// A named dataset.
#[derive(Clone, Debug)]
pub struct DatasetInfo {
    /// The name used on the command line.
    pub name: &'static str,
    /// File name in the data directory (as in shared/data).
    pub file: &'static str,
    /// sha256 of the decompressed bytes (what a download must match).
    pub sha256_raw: &'static str,
    /// A public URL serving exactly those bytes, where one is known.
    pub url: Option<&'static str>,
    /// How to read it.
    pub format: fn() -> DataFormat,
    /// Its own test set, for a labelled dataset that comes with one.
    pub test_set: Option<fn() -> TestSet>,
    /// How its lesson trains a classifier, where that differs from the
    /// classify recipe's defaults (the surname lesson's).
    pub classify: Option<ClassifyDefaults>,
}

/// A dataset lesson's classifier settings, applied where neither flags nor
/// the config file chose.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassifyDefaults {
    /// Word tokens (lowercased, punctuation split, kept if seen at least
    /// twice) instead of characters.
    pub words: bool,
    /// Training epochs.
    pub epochs: Option<usize>,
    /// Embedding width.
    pub embed: Option<usize>,
    /// Dropout (embeddings, between layers, head).
    pub dropout: Option<f32>,
    /// Early stopping after this many epochs without a better validation score.
    pub patience: Option<u64>,
}

impl ClassifyDefaults {
    /// Word-level classification of short texts: the sentence sets (SST,
    /// MR, Subj) and any file read as words that is not a lesson dataset.
    /// Chosen on SST-2/SST-1 dev and MR/Subj validation splits
    /// (BENCHMARKS.md, "Sentence classification"): wider embeddings and
    /// dropout 0.5 against the overfitting of a few thousand sentences,
    /// up to 20 epochs with the best kept and a stop after 5 without gain.
    pub const SENTENCES: ClassifyDefaults = ClassifyDefaults {
        words: true,
        epochs: Some(20),
        embed: Some(128),
        dropout: Some(0.5),
        patience: Some(5),
    };
}

/// Where a labelled dataset's test rows come from when it has its own test
/// set, as the lessons score on it: the split's test fraction is then
/// unused, and the validation rows are a stratified fraction of the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TestSet {
    /// A column of the dataset's own file says which rows are for training
    /// (`train`) and which for the test (`test`). The file is read again with
    /// this format, whose label is that column and whose text is a column
    /// every row has, so that its rows line up with the dataset's.
    SplitColumn(LabelledFormat),
    /// Other named datasets of the same format hold the official validation
    /// and test rows (SST's dev and test files): nothing is split off.
    Files {
        /// The registry name of the validation set.
        valid: &'static str,
        /// The registry name of the test set.
        test: &'static str,
    },
    /// The rows of another named dataset, whose labels are class ids counted
    /// from 1.
    Dataset {
        /// The registry name of the test set.
        name: &'static str,
        /// Its text and class-id columns.
        format: LabelledFormat,
        /// The class names, that of id 1 first.
        classes: &'static [&'static str],
    },
}

impl DatasetInfo {
    /// The file name without `.gz`: what a download is stored as.
    pub fn raw_file(&self) -> &'static str {
        self.file.strip_suffix(".gz").unwrap_or(self.file)
    }
}

fn labelled(delimiter: Delimiter, header: bool, text: &[Column], label: Column) -> DataFormat {
    DataFormat::Labelled(format(delimiter, header, text, label))
}

fn format(delimiter: Delimiter, header: bool, text: &[Column], label: Column) -> LabelledFormat {
    LabelledFormat {
        delimiter,
        header,
        text: text.to_vec(),
        label,
    }
}

fn name(s: &str) -> Column {
    Column::Name(s.to_string())
}

/// Every named dataset.
pub static DATASETS: &[DatasetInfo] = &[
    DatasetInfo {
        name: "eng-fra",
        file: "eng-fra.txt.gz",
        sha256_raw: "6b0f3decdb78600485b58efb541f5a2ab69ba888742ac04180e013084e40de7c",
        url: None,
        format: || DataFormat::Pairs(["eng".into(), "fra".into()]),
        test_set: None,
        classify: None,
    },
    DatasetInfo {
        name: "names",
        file: "names.tsv.gz",
        sha256_raw: "df009118647467e88b7825c31e4dbe431394a4a8934334f640b006bcc7a69aa9",
        url: None,
        format: || labelled(Delimiter::Tsv, true, &[name("name")], name("language")),
        test_set: None,
        classify: None,
    },
    DatasetInfo {
        name: "imdb",
        file: "imdb.tsv.gz",
        sha256_raw: "1b0a44e4d1bc25eae2cdf153b8a0a7d90d503f9018819319007d0ca6c99068fe",
        url: None,
        format: || labelled(Delimiter::Tsv, true, &[name("text")], name("label")),
        // Every row has an id; the `split` column holds train or test.
        test_set: Some(|| {
            TestSet::SplitColumn(format(Delimiter::Tsv, true, &[name("id")], name("split")))
        }),
        // Reviews are long (230 words on average) and plentiful: three
        // epochs of 100-wide word vectors reach 90 % (BENCHMARKS.md) where
        // the surname recipe's fifteen would take forty minutes.
        classify: Some(ClassifyDefaults {
            words: true,
            epochs: Some(3),
            embed: Some(100),
            dropout: None,
            patience: None,
        }),
    },
    DatasetInfo {
        name: "ag-news-titles",
        file: "ag_news_titles_10k.csv.gz",
        sha256_raw: "f089194a1048f715569622ca1e683d5488d2864699be3eaf9e5fef27246705c1",
        url: Some(
            "https://raw.githubusercontent.com/madewithml/boilerplate/11e6ac3a2ea25ed4a17fd8f39dc6794e15bbb784/datasets/news.csv",
        ),
        format: || labelled(Delimiter::Csv, true, &[name("X")], name("y")),
        // The original AG News test file, titles only as the training rows
        // are, its class ids named as in the training file.
        test_set: Some(|| TestSet::Dataset {
            name: "ag-news-test",
            format: format(Delimiter::Csv, false, &[Column::Index(1)], Column::Index(0)),
            classes: &["World", "Sports", "Business", "Sci/Tech"],
        }),
        // A word-level lesson.
        classify: Some(ClassifyDefaults {
            words: true,
            epochs: None,
            embed: None,
            dropout: None,
            patience: None,
        }),
    },
    DatasetInfo {
        name: "ag-news-test",
        file: "ag_news_test.csv.gz",
        sha256_raw: "521465c2428ed7f02f8d6db6ffdd4b5447c1c701962353eb2c40d548c3c85699",
        url: Some(
            "https://raw.githubusercontent.com/Shane-Neeley/CharCnn_Keras/593e7af2de515835b42004b1b32dff6c069e9cf8/data/ag_news_csv/test.csv",
        ),
        // "class","title","description": the text is title + description.
        format: || {
            labelled(
                Delimiter::Csv,
                false,
                &[Column::Index(1), Column::Index(2)],
                Column::Index(0),
            )
        },
        test_set: None,
        classify: None,
    },
    DatasetInfo {
        name: "text8",
        file: "text8-wiki2015.gz",
        sha256_raw: "c4020def32b1ab60fd6ad1197bb1a4ab0729a9e5be1bb2d915957ee10dd38ba7",
        url: None,
        format: || DataFormat::Corpus,
        test_set: None,
        classify: None,
    },
    DatasetInfo {
        name: "questions-words",
        file: "questions-words.txt.gz",
        sha256_raw: "8c29b3332afc46f3fb8be04cb5297bf96f39aa7131272dff57869b4485b22a36",
        url: Some(
            "https://raw.githubusercontent.com/tmikolov/word2vec/20c129af10659f7c50e86e3be406df663beff438/questions-words.txt",
        ),
        format: || DataFormat::Analogy,
        test_set: None,
        classify: None,
    },
    DatasetInfo {
        name: "wordsim353",
        file: "wordsim353.tsv.gz",
        sha256_raw: "1edf400ed472e796b3be562cf7970b10d749a07874a96ddc77e75fd1006b446c",
        url: Some(
            "https://raw.githubusercontent.com/mrmechko/simcross/ffc5c7598185be00260d81fd71274db32e6bceda/wordsim353/combined.tab",
        ),
        format: || DataFormat::Similarity,
        test_set: None,
        classify: None,
    },
    DatasetInfo {
        name: "simlex999",
        file: "simlex999.tsv.gz",
        sha256_raw: "ca00ff8515a36cde32d13c2b83def23f5a167b67db93ebfcfb7dae039ba22c0b",
        url: Some(
            "https://raw.githubusercontent.com/mrmechko/simcross/ffc5c7598185be00260d81fd71274db32e6bceda/SimLex-999/SimLex-999.txt",
        ),
        format: || DataFormat::Similarity,
        test_set: None,
        classify: None,
    },
    DatasetInfo {
        name: "men3000",
        file: "men3000.txt.gz",
        sha256_raw: "87a5b7229e6cf32426063da921e83031b9efeab3101d4413eaa3f44fcbce3a45",
        url: Some(
            "https://raw.githubusercontent.com/mrmechko/simcross/ffc5c7598185be00260d81fd71274db32e6bceda/MEN/MEN_dataset_natural_form_full",
        ),
        format: || DataFormat::Similarity,
        test_set: None,
        classify: None,
    },
    // The sentence-classification sets of Kim (2014), `label text` lines
    // in the data directory's `sentences/` folder: SST-2 and SST-1 with
    // their official dev and test files, MR and Subj whole (papers report
    // 10-fold cross-validation on them: `classify cv`).
    DatasetInfo {
        name: "sst2",
        file: "sentences/sst2.train.txt.gz",
        sha256_raw: "71c04bcc41291fa47454dd670df701b14ee9249156babeaac404cfe2c8d74338",
        url: None,
        format: || DataFormat::Inline(InlineFormat::LabelFirst),
        test_set: Some(|| TestSet::Files {
            valid: "sst2-dev",
            test: "sst2-test",
        }),
        classify: Some(ClassifyDefaults::SENTENCES),
    },
    DatasetInfo {
        name: "sst2-dev",
        file: "sentences/sst2.dev.txt.gz",
        sha256_raw: "02fedc82855dbdcabe82c65ed1af6c6570788eaac51073cdb35ee8c7784426d1",
        url: None,
        format: || DataFormat::Inline(InlineFormat::LabelFirst),
        test_set: None,
        classify: None,
    },
    DatasetInfo {
        name: "sst2-test",
        file: "sentences/sst2.test.txt.gz",
        sha256_raw: "6a80dc9b9a0db2d3b37f2f809304febad31c90ab67a5b4157b7d9f881c53ef5b",
        url: None,
        format: || DataFormat::Inline(InlineFormat::LabelFirst),
        test_set: None,
        classify: None,
    },
    DatasetInfo {
        name: "sst1",
        file: "sentences/sst1.train.txt.gz",
        sha256_raw: "9b52b5f686ed438d4d0274c385369251b3d579b578fddd340ba8a9bae2ca4bee",
        url: None,
        format: || DataFormat::Inline(InlineFormat::LabelFirst),
        test_set: Some(|| TestSet::Files {
            valid: "sst1-dev",
            test: "sst1-test",
        }),
        classify: Some(ClassifyDefaults::SENTENCES),
    },
    DatasetInfo {
        name: "sst1-dev",
        file: "sentences/sst1.dev.txt.gz",
        sha256_raw: "b2f76c62b960f9fda5c6d751edb125abab4f878eb94a8754239b7f4af647f4c3",
        url: None,
        format: || DataFormat::Inline(InlineFormat::LabelFirst),
        test_set: None,
        classify: None,
    },
    DatasetInfo {
        name: "sst1-test",
        file: "sentences/sst1.test.txt.gz",
        sha256_raw: "0e2ebb450c231f7b3d67fc932066e7bb26ae7bad8c88488f45ed44ef02eb3c73",
        url: None,
        format: || DataFormat::Inline(InlineFormat::LabelFirst),
        test_set: None,
        classify: None,
    },
    DatasetInfo {
        name: "mr",
        file: "sentences/mr.all.txt.gz",
        sha256_raw: "0b40c1d44d4d22b82d2918e3f56efd1964170ce2f632965764759fc1c0a813b7",
        url: None,
        format: || DataFormat::Inline(InlineFormat::LabelFirst),
        test_set: None,
        classify: Some(ClassifyDefaults::SENTENCES),
    },
    DatasetInfo {
        name: "subj",
        file: "sentences/subj.all.txt.gz",
        sha256_raw: "9d00f5ca008b998b383da6399677d774f7714c80ee39575e6de84c0ebdb508ea",
        url: None,
        format: || DataFormat::Inline(InlineFormat::LabelFirst),
        test_set: None,
        classify: Some(ClassifyDefaults::SENTENCES),
    },
    // Multi30k's official splits, one file a language (see
    // `seq2seq::Multi30k`): named so that the resolver finds them in the
    // data directory's `multi30k/` folder.
    DatasetInfo {
        name: "multi30k/train.de",
        file: "multi30k/train.de.gz",
        sha256_raw: "2c2b73fd2b548fbcde3a875e0a78d6ee94d498bfdee6bd3eae3945779e9ddf72",
        url: None,
        format: || DataFormat::Corpus,
        test_set: None,
        classify: None,
    },
    DatasetInfo {
        name: "multi30k/train.en",
        file: "multi30k/train.en.gz",
        sha256_raw: "460a15fbd157e34a7a9957ee388c1ca247fe47af3ef25fb50442af6c274e0fc6",
        url: None,
        format: || DataFormat::Corpus,
        test_set: None,
        classify: None,
    },
    DatasetInfo {
        name: "multi30k/train.fr",
        file: "multi30k/train.fr.gz",
        sha256_raw: "5925a3c18f1587b6b54b87743106e6e8ab93618edb6f65d19eac0621f853a10d",
        url: None,
        format: || DataFormat::Corpus,
        test_set: None,
        classify: None,
    },
    DatasetInfo {
        name: "multi30k/val.de",
        file: "multi30k/val.de.gz",
        sha256_raw: "660e09eb7e1da2f856ea13ee5ad3cf6d36b3d5b0b733c857e94c5747a3dfc660",
        url: None,
        format: || DataFormat::Corpus,
        test_set: None,
        classify: None,
    },
    DatasetInfo {
        name: "multi30k/val.en",
        file: "multi30k/val.en.gz",
        sha256_raw: "1f2a23d992769b5b3d209b0a10dd0b77c08cceb1f20dfb97ed0aafa49d107227",
        url: None,
        format: || DataFormat::Corpus,
        test_set: None,
        classify: None,
    },
    DatasetInfo {
        name: "multi30k/val.fr",
        file: "multi30k/val.fr.gz",
        sha256_raw: "5304e444d842e962b2dda4d816b70b22a1765b15401642b7ca37a67477e708dc",
        url: None,
        format: || DataFormat::Corpus,
        test_set: None,
        classify: None,
    },
    DatasetInfo {
        name: "multi30k/test_2016_flickr.de",
        file: "multi30k/test_2016_flickr.de.gz",
        sha256_raw: "4be6b5b3236b79c25475c6bb829800a7ce559e9ba7a1f6c2394fe4d40be46d16",
        url: None,
        format: || DataFormat::Corpus,
        test_set: None,
        classify: None,
    },
    DatasetInfo {
        name: "multi30k/test_2016_flickr.en",
        file: "multi30k/test_2016_flickr.en.gz",
        sha256_raw: "399a4382932c1aadd3ceb9bef1008d388a64c76d4ae4e9d4728c6f4301cac182",
        url: None,
        format: || DataFormat::Corpus,
        test_set: None,
        classify: None,
    },
    DatasetInfo {
        name: "multi30k/test_2016_flickr.fr",
        file: "multi30k/test_2016_flickr.fr.gz",
        sha256_raw: "cb3160d69b002bb638e66cc7612fcd56cb0af82eadc9c142dedc438afb885ef6",
        url: None,
        format: || DataFormat::Corpus,
        test_set: None,
        classify: None,
    },
];

/// The dataset called `name`, if there is one.
pub fn lookup(name: &str) -> Option<&'static DatasetInfo> {
    DATASETS.iter().find(|d| d.name == name)
}

/// The known dataset names, comma-separated, for messages.
pub fn known_names() -> String {
    DATASETS
        .iter()
        .map(|d| d.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_matches_the_data_readme() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/README.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        for d in DATASETS {
            // Files in a folder (multi30k/train.de.gz) are listed by their
            // folder and their checksums.
            let listed = match d.file.split_once('/') {
                Some((folder, _)) => format!("data/{folder}/"),
                None => format!("data/{}", d.file),
            };
            assert!(readme.contains(&listed), "{} not in README", d.file);
            assert!(
                readme.contains(d.sha256_raw),
                "{}: raw sha256 not in README",
                d.name
            );
        }
    }

    #[test]
    fn own_test_sets_belong_to_labelled_datasets_and_name_known_ones() {
        for d in DATASETS {
            let Some(test_set) = d.test_set else { continue };
            assert!(
                matches!(
                    (d.format)(),
                    DataFormat::Labelled(_) | DataFormat::Inline(_)
                ),
                "{}: a test set of a dataset that is not labelled",
                d.name
            );
            match test_set() {
                TestSet::Dataset { name, classes, .. } => {
                    let test =
                        lookup(name).unwrap_or_else(|| panic!("{}: no dataset {name}", d.name));
                    assert!(matches!((test.format)(), DataFormat::Labelled(_)));
                    assert!(!classes.is_empty());
                }
                TestSet::Files { valid, test } => {
                    for name in [valid, test] {
                        let part =
                            lookup(name).unwrap_or_else(|| panic!("{}: no dataset {name}", d.name));
                        assert_eq!((part.format)(), (d.format)(), "{name}");
                    }
                }
                TestSet::SplitColumn(_) => {}
            }
        }
    }
}
