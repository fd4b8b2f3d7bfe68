//! The prompt store: the shipped prompts plus uploaded versions. An upload
//! is cleaned and checked (`media::clean`), kept on disk (original and
//! cleaned, `<dir>/<name>/v<N>-original.<ext>` and `v<N>.wav`), and
//! published as a new library for new plays; calls in progress keep the
//! library they started with. At start-up the latest upload of each name is
//! put back over the shipped file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use media::clean::{clean_prompt, CleanError, CleanReport};
use media::prompt::{Prompt, PromptLibrary};
use serde::Serialize;

/// One prompt as the API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct PromptInfo {
    pub name: String,
    /// 0 for the shipped file, then 1, 2... for uploads.
    pub version: u32,
    pub duration_ms: u64,
    pub uploaded_at: Option<DateTime<Utc>>,
    pub report: Option<CleanReport>,
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("prompt name {0:?}: use 1-64 characters among a-z, 0-9, '-' and '_'")]
    BadName(String),
    #[error(transparent)]
    Refused(#[from] CleanError),
    #[error("cannot keep the recording on disk: {0}")]
    Io(#[from] std::io::Error),
}

/// Shipped and uploaded prompts; swap-on-write.
pub struct PromptStore {
    current: RwLock<Arc<PromptLibrary>>,
    info: Mutex<HashMap<String, PromptInfo>>,
    dir: PathBuf,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Highest `v<N>.wav` in a prompt's upload directory.
fn latest_upload(dir: &Path) -> Option<(u32, PathBuf)> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let n = name
                .strip_prefix('v')?
                .strip_suffix(".wav")?
                .parse::<u32>()
                .ok()?;
            Some((n, e.path()))
        })
        .max_by_key(|(n, _)| *n)
}

impl PromptStore {
    /// Start from the shipped library; put back the latest upload of each
    /// prompt found under `dir` (created if missing).
    pub fn open(shipped: PromptLibrary, dir: PathBuf) -> std::io::Result<PromptStore> {
        std::fs::create_dir_all(&dir)?;
        let mut lib = shipped;
        let mut info: HashMap<String, PromptInfo> = lib
            .names()
            .iter()
            .filter_map(|n| lib.get(n))
            .map(|p| {
                (
                    p.name().to_string(),
                    PromptInfo {
                        name: p.name().to_string(),
                        version: 0,
                        duration_ms: p.duration_ms(),
                        uploaded_at: None,
                        report: None,
                    },
                )
            })
            .collect();
        for e in std::fs::read_dir(&dir)?.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if !valid_name(&name) {
                continue;
            }
            let Some((version, path)) = latest_upload(&e.path()) else {
                continue;
            };
            match Prompt::load(&path) {
                Ok(p) => {
                    let p = Prompt::from_pcm(&name, p.pcm().to_vec()).unwrap_or(p);
                    let uploaded_at = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .map(DateTime::<Utc>::from);
                    info.insert(
                        name.clone(),
                        PromptInfo {
                            name: name.clone(),
                            version,
                            duration_ms: p.duration_ms(),
                            uploaded_at,
                            report: None,
                        },
                    );
                    lib.insert(Arc::new(p));
                    tracing::info!(prompt = %name, version, "uploaded prompt restored");
                }
                Err(err) => {
                    tracing::error!(prompt = %name, path = %path.display(), %err, "uploaded prompt unreadable; the shipped one stays")
                }
            }
        }
        Ok(PromptStore {
            current: RwLock::new(Arc::new(lib)),
            info: Mutex::new(info),
            dir,
        })
    }

    /// The library new plays use (a call pins the one it starts with).
    pub fn current(&self) -> Arc<PromptLibrary> {
        self.current.read().expect("prompt store lock").clone()
    }

    pub fn list(&self) -> Vec<PromptInfo> {
        let mut v: Vec<PromptInfo> = self
            .info
            .lock()
            .expect("prompt info lock")
            .values()
            .cloned()
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Clean, check, keep and publish an uploaded recording. Slow (decoding
    /// and processing): call it off the async executor.
    pub fn upload(
        &self,
        name: &str,
        data: &[u8],
        ext_hint: Option<&str>,
    ) -> Result<PromptInfo, UploadError> {
        if !valid_name(name) {
            return Err(UploadError::BadName(name.to_string()));
        }
        let (prompt, report) = clean_prompt(name, data, ext_hint)?;
        let mut info = self.info.lock().expect("prompt info lock");
        let version = info.get(name).map_or(1, |i| i.version + 1);
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join(format!("v{version}-original.{}", ext_hint.unwrap_or("bin"))),
            data,
        )?;
        write_wav(&dir.join(format!("v{version}.wav")), prompt.pcm())?;
        let entry = PromptInfo {
            name: name.to_string(),
            version,
            duration_ms: prompt.duration_ms(),
            uploaded_at: Some(Utc::now()),
            report: Some(report),
        };
        info.insert(name.to_string(), entry.clone());
        let mut lib = (*self.current()).clone();
        lib.insert(Arc::new(prompt));
        *self.current.write().expect("prompt store lock") = Arc::new(lib);
        tracing::warn!(prompt = %name, version, duration_ms = entry.duration_ms, "prompt published for new plays");
        Ok(entry)
    }
}

fn write_wav(path: &Path, pcm: &[i16]) -> std::io::Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let tmp = path.with_extension("wav.tmp");
    let mut w = hound::WavWriter::create(&tmp, spec).map_err(std::io::Error::other)?;
    for s in pcm {
        w.write_sample(*s).map_err(std::io::Error::other)?;
    }
    w.finalize().map_err(std::io::Error::other)?;
    // Published only whole: a crash mid-write leaves no half file behind.
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_is_kept_and_restored_at_start() {
        let dir = std::env::temp_dir().join(format!("prompt-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let info = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../prompts/info.wav");
        let data = std::fs::read(&info).unwrap();
        let store = PromptStore::open(PromptLibrary::new(), dir.clone()).unwrap();
        assert!(store.current().get("crisis").is_none());
        let before = store.current();
        let up = store.upload("crisis", &data, Some("wav")).unwrap();
        assert_eq!(up.version, 1);
        assert!(
            before.get("crisis").is_none(),
            "a pinned library never changes"
        );
        assert_eq!(
            store.current().get("crisis").unwrap().duration_ms(),
            up.duration_ms
        );
        assert_eq!(
            store.upload("crisis", &data, Some("wav")).unwrap().version,
            2
        );
        assert!(matches!(
            store.upload("../x", &data, None),
            Err(UploadError::BadName(_))
        ));
        drop(store);
        let again = PromptStore::open(PromptLibrary::new(), dir.clone()).unwrap();
        let p = again.current().get("crisis").expect("restored");
        assert_eq!(p.duration_ms(), up.duration_ms);
        assert_eq!(again.list()[0].version, 2);
        std::fs::remove_dir_all(&dir).ok();
    }
}
