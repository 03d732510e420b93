//! Resolving `--data NAME|PATH` (DESIGN §4): a path that exists wins, so a
//! path works wherever a name does; a name is looked for in
//! `$ATTEND_DATA_DIR`, then the user cache (`$XDG_CACHE_HOME/attend` or
//! `~/.cache/attend`), then — where the dataset has a public byte-identical
//! URL — downloaded into the cache and verified. Offline, the error says
//! which file to put where.

use std::path::{Path, PathBuf};

use super::download::fetch_verified;
use super::registry::{DATASETS, DatasetInfo, known_names, lookup};
use crate::error::{Error, Result};

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
        if path.is_dir() {
            return Err(Error::format(
                path,
                None,
                "is a directory, expected a data file",
            ));
        }
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
    use crate::data::DataFormat;
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
            test_set: None,
            classify: None,
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
}
