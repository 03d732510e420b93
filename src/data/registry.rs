//! Named datasets (DESIGN §4): `eng-fra`, `names`, `imdb`, … resolve to files
//! in `$ATTEND_DATA_DIR`, else in the user cache (`$XDG_CACHE_HOME/attend` or
//! `~/.cache/attend`), else — for datasets whose bytes are proven identical to
//! a public file (shared/data/README.md) — a verified download into the cache.
//! A path that exists always wins, so a path works wherever a name does.

use std::path::{Path, PathBuf};

use super::download::fetch_verified;
use super::labelled::{Column, Delimiter, LabelledFormat};
use crate::error::{Error, Result};

/// What a file holds and how to read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataFormat {
    /// Sentence pairs; the names of the two columns ("eng", "fra").
    Pairs([String; 2]),
    /// Labelled text.
    Labelled(LabelledFormat),
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
}

impl DatasetInfo {
    /// The file name without `.gz`: what a download is stored as.
    pub fn raw_file(&self) -> &'static str {
        self.file.strip_suffix(".gz").unwrap_or(self.file)
    }
}

fn labelled(delimiter: Delimiter, header: bool, text: &[Column], label: Column) -> DataFormat {
    DataFormat::Labelled(LabelledFormat {
        delimiter,
        header,
        text: text.to_vec(),
        label,
    })
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
    },
    DatasetInfo {
        name: "names",
        file: "names.tsv.gz",
        sha256_raw: "df009118647467e88b7825c31e4dbe431394a4a8934334f640b006bcc7a69aa9",
        url: None,
        format: || labelled(Delimiter::Tsv, true, &[name("name")], name("language")),
    },
    DatasetInfo {
        name: "imdb",
        file: "imdb.tsv.gz",
        sha256_raw: "1b0a44e4d1bc25eae2cdf153b8a0a7d90d503f9018819319007d0ca6c99068fe",
        url: None,
        format: || labelled(Delimiter::Tsv, true, &[name("text")], name("label")),
    },
    DatasetInfo {
        name: "ag-news-titles",
        file: "ag_news_titles_10k.csv.gz",
        sha256_raw: "f089194a1048f715569622ca1e683d5488d2864699be3eaf9e5fef27246705c1",
        url: Some(
            "https://raw.githubusercontent.com/madewithml/boilerplate/11e6ac3a2ea25ed4a17fd8f39dc6794e15bbb784/datasets/news.csv",
        ),
        format: || labelled(Delimiter::Csv, true, &[name("X")], name("y")),
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
    },
    DatasetInfo {
        name: "text8",
        file: "text8-wiki2015.gz",
        sha256_raw: "c4020def32b1ab60fd6ad1197bb1a4ab0729a9e5be1bb2d915957ee10dd38ba7",
        url: None,
        format: || DataFormat::Corpus,
    },
    DatasetInfo {
        name: "questions-words",
        file: "questions-words.txt.gz",
        sha256_raw: "8c29b3332afc46f3fb8be04cb5297bf96f39aa7131272dff57869b4485b22a36",
        url: Some(
            "https://raw.githubusercontent.com/tmikolov/word2vec/20c129af10659f7c50e86e3be406df663beff438/questions-words.txt",
        ),
        format: || DataFormat::Analogy,
    },
    DatasetInfo {
        name: "wordsim353",
        file: "wordsim353.tsv.gz",
        sha256_raw: "1edf400ed472e796b3be562cf7970b10d749a07874a96ddc77e75fd1006b446c",
        url: Some(
            "https://raw.githubusercontent.com/mrmechko/simcross/ffc5c7598185be00260d81fd71274db32e6bceda/wordsim353/combined.tab",
        ),
        format: || DataFormat::Similarity,
    },
    DatasetInfo {
        name: "simlex999",
        file: "simlex999.tsv.gz",
        sha256_raw: "ca00ff8515a36cde32d13c2b83def23f5a167b67db93ebfcfb7dae039ba22c0b",
        url: Some(
            "https://raw.githubusercontent.com/mrmechko/simcross/ffc5c7598185be00260d81fd71274db32e6bceda/SimLex-999/SimLex-999.txt",
        ),
        format: || DataFormat::Similarity,
    },
    DatasetInfo {
        name: "men3000",
        file: "men3000.txt.gz",
        sha256_raw: "87a5b7229e6cf32426063da921e83031b9efeab3101d4413eaa3f44fcbce3a45",
        url: Some(
            "https://raw.githubusercontent.com/mrmechko/simcross/ffc5c7598185be00260d81fd71274db32e6bceda/MEN/MEN_dataset_natural_form_full",
        ),
        format: || DataFormat::Similarity,
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

/// A resolved `--data` argument.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The file to read.
    pub path: PathBuf,
    /// The named dataset, when the argument was a name or a path to a file
    /// with a registry file name.
    pub dataset: Option<&'static DatasetInfo>,
}

/// Where named datasets are looked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolver {
    /// `$ATTEND_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// The user cache, where downloads go.
    pub cache_dir: Option<PathBuf>,
    /// Whether a missing dataset with a public URL may be downloaded.
    pub download: bool,
}

impl Resolver {
    /// From the environment: `ATTEND_DATA_DIR`; `XDG_CACHE_HOME/attend` or
    /// `HOME/.cache/attend`; downloads unless `ATTEND_OFFLINE` is set.
    pub fn from_env() -> Self {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Resolver {
            data_dir: var("ATTEND_DATA_DIR"),
            cache_dir: var("XDG_CACHE_HOME")
                .map(|c| c.join("attend"))
                .or_else(|| var("HOME").map(|h| h.join(".cache").join("attend"))),
            download: var("ATTEND_OFFLINE").is_none(),
        }
    }

    /// Resolves a dataset name or a path. An existing path wins; an unknown
    /// name is an error listing the known ones.
    pub fn resolve(&self, name_or_path: &str) -> Result<Resolved> {
        let path = Path::new(name_or_path);
        if path.exists() {
            let file = path
                .file_name()
                .and_then(|f| f.to_str())
                .unwrap_or_default();
            return Ok(Resolved {
                path: path.to_path_buf(),
                dataset: DATASETS
                    .iter()
                    .find(|d| d.file == file || d.raw_file() == file),
            });
        }
        if let Some(info) = lookup(name_or_path) {
            return Ok(Resolved {
                path: self.find(info)?,
                dataset: Some(info),
            });
        }
        let looks_like_path = name_or_path.contains(['/', '\\', '.']);
        if looks_like_path {
            Err(Error::io(
                path,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file, expected a data file or a dataset name",
                ),
            ))
        } else {
            Err(Error::Dataset(format!(
                "unknown dataset `{name_or_path}`: expected a path to a file or one of {}",
                known_names()
            )))
        }
    }

    /// The file of a named dataset: in the data directory, else the cache,
    /// else downloaded into the cache and verified.
    pub fn find(&self, info: &DatasetInfo) -> Result<PathBuf> {
        let dirs = [self.data_dir.as_ref(), self.cache_dir.as_ref()];
        for dir in dirs.into_iter().flatten() {
            for file in [info.file, info.raw_file()] {
                let p = dir.join(file);
                if p.is_file() {
                    return Ok(p);
                }
            }
        }
        let where_to = self.where_to_put(info);
        match (&self.cache_dir, info.url, self.download) {
            (Some(cache), Some(url), true) => {
                let dest = cache.join(info.raw_file());
                fetch_verified(url, info.sha256_raw, &dest)
                    .map(|()| dest)
                    .map_err(|e| {
                        let why = match e {
                            Error::Dataset(msg) => msg,
                            other => other.to_string(),
                        };
                        Error::Dataset(format!("{where_to}; {why}"))
                    })
            }
            _ => Err(Error::Dataset(where_to)),
        }
    }

    fn where_to_put(&self, info: &DatasetInfo) -> String {
        let data = self.data_dir.as_ref().map_or_else(
            || "the directory named by ATTEND_DATA_DIR".to_string(),
            |d| format!("{} (ATTEND_DATA_DIR)", d.display()),
        );
        let cache = self
            .cache_dir
            .as_ref()
            .map_or_else(|| "the user cache".to_string(), |c| c.display().to_string());
        format!(
            "`{}` not found: put {} in {data} or {cache}",
            info.name, info.file
        )
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::thread::JoinHandle;

    use super::*;
    use crate::data::download::sha256_hex;

    /// Serves `body` once on a loopback port; returns its URL.
    fn serve_once(body: &'static [u8]) -> (String, JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/data.csv", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 2 {
                line.clear();
            }
            let mut out = stream;
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .unwrap();
            out.write_all(body).unwrap();
        });
        (url, handle)
    }

    fn info(url: String, sha: String) -> DatasetInfo {
        DatasetInfo {
            name: "tiny",
            file: "tiny.csv.gz",
            sha256_raw: Box::leak(sha.into_boxed_str()),
            url: Some(Box::leak(url.into_boxed_str())),
            format: || DataFormat::Corpus,
        }
    }

    fn resolver(root: &Path) -> Resolver {
        Resolver {
            data_dir: Some(root.join("data")),
            cache_dir: Some(root.join("cache")),
            download: true,
        }
    }

    const BODY: &[u8] = b"y,X\nWorld,Hello\n";

    #[test]
    fn download_is_verified_and_cached() {
        let dir = tempfile::tempdir().unwrap();
        let (url, server) = serve_once(BODY);
        let info = info(url, sha256_hex(BODY).unwrap());
        let r = resolver(dir.path());
        let path = r.find(&info).unwrap();
        server.join().unwrap();
        assert_eq!(path, dir.path().join("cache").join("tiny.csv"));
        assert_eq!(std::fs::read(&path).unwrap(), BODY);
        // Found in the cache now: no server needed.
        assert_eq!(r.find(&info).unwrap(), path);
    }

    #[test]
    fn wrong_checksum_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (url, server) = serve_once(BODY);
        let info = info(url, "0".repeat(64));
        let e = resolver(dir.path()).find(&info).unwrap_err().to_string();
        server.join().unwrap();
        assert!(e.contains("`tiny` not found: put tiny.csv.gz in"), "{e}");
        assert!(
            e.contains(&format!("sha256 is {}", sha256_hex(BODY).unwrap())),
            "{e}"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path().join("cache"))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "cache holds {left:?}");
    }

    #[test]
    fn offline_and_unknown_names_say_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let r = Resolver {
            download: false,
            ..resolver(dir.path())
        };
        let e = r.resolve("eng-fra").unwrap_err().to_string();
        let data = dir.path().join("data");
        let cache = dir.path().join("cache");
        assert_eq!(
            e,
            format!(
                "dataset: `eng-fra` not found: put eng-fra.txt.gz in {} (ATTEND_DATA_DIR) or {}",
                data.display(),
                cache.display()
            )
        );
        let e = r.resolve("eng-deu").unwrap_err().to_string();
        assert!(e.starts_with("dataset: unknown dataset `eng-deu`"), "{e}");
        assert!(e.contains("eng-fra, names, imdb"), "{e}");
        let e = r.resolve("missing/file.tsv").unwrap_err().to_string();
        assert!(e.starts_with("missing/file.tsv: no such file"), "{e}");
    }

    #[test]
    fn paths_win_and_data_dir_comes_first() {
        let dir = tempfile::tempdir().unwrap();
        let r = resolver(dir.path());
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let in_data = dir.path().join("data").join("names.tsv.gz");
        std::fs::write(&in_data, "name\tlanguage\n").unwrap();
        let got = r.resolve("names").unwrap();
        assert_eq!(got.path, in_data);
        assert_eq!(got.dataset.map(|d| d.name), Some("names"));
        // A path to a file with a registry name is recognised as that dataset.
        let by_path = r.resolve(in_data.to_str().unwrap()).unwrap();
        assert_eq!(by_path.dataset.map(|d| d.name), Some("names"));
        let other = dir.path().join("mine.tsv");
        std::fs::write(&other, "a\tb\n").unwrap();
        assert!(
            r.resolve(other.to_str().unwrap())
                .unwrap()
                .dataset
                .is_none()
        );
    }

    #[test]
    fn registry_matches_the_data_readme() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/README.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        for d in DATASETS {
            assert!(
                readme.contains(&format!("data/{}", d.file)),
                "{} not in README",
                d.file
            );
            assert!(
                readme.contains(d.sha256_raw),
                "{}: raw sha256 not in README",
                d.name
            );
        }
    }
}
