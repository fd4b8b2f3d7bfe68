//! The prompt store: the shipped prompts plus uploaded versions. An upload
//! is cleaned and checked (`media::clean`) and kept on disk with its
//! original and its metadata (`prompt_files`). It is published either at
//! once (`upload`) or after being heard as a draft (`prepare`, then
//! `publish_draft`); an earlier version, the shipped file (version 0)
//! included, comes back as a new version (`restore`). Publishing swaps in a
//! new library for new plays; calls in progress keep the library they
//! started with. At start-up the latest version of each name is put back
//! over the shipped file.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use chrono::{DateTime, Utc};
use media::clean::{clean_prompt, CleanError, CleanReport};
use media::prompt::{Prompt, PromptLibrary};
use serde::Serialize;

use crate::prompt_files::{self as files, Draft, PromptVersion};

/// One prompt as the API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct PromptInfo {
    /// The prompt's name, as flows refer to it.
    pub name: String,
    /// 0 for the shipped file, then 1, 2... for uploads and restores.
    pub version: u32,
    /// Length of the current version, in milliseconds.
    pub duration_ms: u64,
    /// When the current version was uploaded or restored (none for the
    /// shipped file).
    pub uploaded_at: Option<DateTime<Utc>>,
    /// What cleaning measured for the current version (none for the
    /// shipped file).
    pub report: Option<CleanReport>,
    /// Who published the current version.
    pub by: Option<String>,
    /// The earlier version the current one is a copy of.
    pub restored_from: Option<u32>,
    /// A cleaned recording waits to be published.
    pub draft: bool,
}

/// Why an upload, a draft, a publication or a restore was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The name is not 1-64 characters among a-z, 0-9, `-` and `_`.
    #[error("prompt name {0:?}: use 1-64 characters among a-z, 0-9, '-' and '_'")]
    BadName(String),
    /// Cleaning or checking refused the recording.
    #[error(transparent)]
    Refused(#[from] CleanError),
    /// No prompt has this name.
    #[error("no prompt named {0:?}")]
    Unknown(String),
    /// The prompt has no draft waiting.
    #[error("prompt {0:?} has no draft waiting to be published")]
    NoDraft(String),
    /// The prompt has no such version.
    #[error("prompt {name:?} has no version {version}")]
    NoVersion {
        /// The prompt's name.
        name: String,
        /// The version asked for.
        version: u32,
    },
    /// Reading or writing the prompt's files failed.
    #[error("cannot keep the recording on disk: {0}")]
    Io(#[from] std::io::Error),
}

/// Where a version's audio is: a WAV file on disk, or (the shipped
/// prompt, decoded at start) WAV bytes made in memory.
#[derive(Debug)]
pub enum PromptAudio {
    /// A WAV file on disk (an uploaded version or a draft).
    File(PathBuf),
    /// WAV bytes made in memory (the shipped file, version 0).
    Wav(Vec<u8>),
}

/// Shipped and uploaded prompts; swap-on-write.
pub struct PromptStore {
    current: RwLock<Arc<PromptLibrary>>,
    shipped: PromptLibrary,
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

fn check_name(name: &str) -> Result<(), UploadError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(UploadError::BadName(name.to_string()))
    }
}

/// An extension hint as a file name part (nothing odd on disk).
fn ext(hint: Option<&str>) -> &str {
    hint.filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or("bin")
}

impl PromptStore {
    /// Start from the shipped library; put back the latest version of each
    /// prompt found under `dir` (created if missing).
    pub fn open(shipped: PromptLibrary, dir: PathBuf) -> std::io::Result<PromptStore> {
        std::fs::create_dir_all(&dir)?;
        let mut lib = shipped.clone();
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
                        by: None,
                        restored_from: None,
                        draft: false,
                    },
                )
            })
            .collect();
        for e in std::fs::read_dir(&dir)?.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if !valid_name(&name) {
                continue;
            }
            let pdir = e.path();
            let Some(&version) = files::versions(&pdir).last() else {
                continue;
            };
            let path = files::wav_path(&pdir, version);
            match Prompt::load(&path) {
                Ok(p) => {
                    let p = Prompt::from_pcm(&name, p.pcm().to_vec()).unwrap_or(p);
                    let meta = files::read_meta(&pdir, version);
                    let meta = meta.as_ref();
                    info.insert(
                        name.clone(),
                        PromptInfo {
                            name: name.clone(),
                            version,
                            duration_ms: p.duration_ms(),
                            uploaded_at: meta.and_then(|m| m.uploaded_at),
                            report: meta.and_then(|m| m.report.clone()),
                            by: meta.and_then(|m| m.published_by.clone()),
                            restored_from: meta.and_then(|m| m.restored_from),
                            draft: false,
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
            shipped,
            info: Mutex::new(info),
            dir,
        })
    }

    /// The library new plays use (a call pins the one it starts with).
    pub fn current(&self) -> Arc<PromptLibrary> {
        self.current.read().expect("prompt store lock").clone()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, PromptInfo>> {
        self.info.lock().expect("prompt info lock")
    }

    /// Every prompt, by name, with its current version.
    pub fn list(&self) -> Vec<PromptInfo> {
        let mut v: Vec<PromptInfo> = self.lock().values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        for p in &mut v {
            p.draft = files::draft_wav(&self.dir.join(&p.name)).exists();
        }
        v
    }

    /// Clean, check, keep and publish an uploaded recording at once. Slow
    /// (decoding and processing): call it off the async executor.
    pub fn upload(
        &self,
        name: &str,
        data: &[u8],
        ext_hint: Option<&str>,
        by: &str,
    ) -> Result<PromptInfo, UploadError> {
        check_name(name)?;
        let (prompt, report) = clean_prompt(name, data, ext_hint)?;
        let mut info = self.lock();
        let version = self.next_version(&info, name);
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join(format!("v{version}-original.{}", ext(ext_hint))),
            data,
        )?;
        files::write_wav(&files::wav_path(&dir, version), prompt.pcm())?;
        let meta = PromptVersion {
            version,
            uploaded_at: Some(Utc::now()),
            duration_ms: prompt.duration_ms(),
            report: Some(report),
            by: Some(by.to_string()),
            published_by: Some(by.to_string()),
            restored_from: None,
        };
        files::write_meta(&dir, &meta)?;
        Ok(self.publish(&mut info, prompt, &meta))
    }

    /// Clean and check a recording and keep it as the prompt's draft (in
    /// place of any earlier one), not published. Slow: off the executor.
    pub fn prepare(
        &self,
        name: &str,
        data: &[u8],
        ext_hint: Option<&str>,
        by: &str,
    ) -> Result<Draft, UploadError> {
        check_name(name)?;
        let (prompt, report) = clean_prompt(name, data, ext_hint)?;
        let _info = self.lock();
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir)?;
        let draft = Draft {
            name: name.to_string(),
            prepared_at: Utc::now(),
            by: by.to_string(),
            duration_ms: prompt.duration_ms(),
            report,
            original: format!("draft-original.{}", ext(ext_hint)),
        };
        files::write_draft(&dir, &draft, data, prompt.pcm())?;
        tracing::info!(prompt = %name, duration_ms = draft.duration_ms, "prompt draft prepared");
        Ok(draft)
    }

    /// The prompt's draft, if one waits.
    pub fn draft(&self, name: &str) -> Result<Draft, UploadError> {
        check_name(name)?;
        files::read_draft(&self.dir.join(name))?.ok_or_else(|| UploadError::NoDraft(name.into()))
    }

    /// The draft's cleaned audio (8 kHz mono WAV).
    pub fn draft_audio(&self, name: &str) -> Result<PromptAudio, UploadError> {
        self.draft(name)?;
        Ok(PromptAudio::File(files::draft_wav(&self.dir.join(name))))
    }

    /// Forget the prompt's draft; what plays does not change.
    pub fn discard_draft(&self, name: &str) -> Result<Draft, UploadError> {
        let _info = self.lock();
        let draft = self.draft(name)?;
        files::remove_draft(&self.dir.join(name))?;
        Ok(draft)
    }

    /// Publish the prompt's draft for new plays as its next version.
    pub fn publish_draft(&self, name: &str, by: &str) -> Result<PromptInfo, UploadError> {
        let mut info = self.lock();
        let draft = self.draft(name)?;
        let dir = self.dir.join(name);
        let pcm = Prompt::load(&files::draft_wav(&dir))
            .map_err(|e| std::io::Error::other(format!("draft of {name:?} unreadable: {e}")))?;
        let prompt = Prompt::from_pcm(name, pcm.pcm().to_vec())
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let meta = PromptVersion {
            version: self.next_version(&info, name),
            uploaded_at: Some(draft.prepared_at),
            duration_ms: prompt.duration_ms(),
            report: Some(draft.report.clone()),
            by: Some(draft.by.clone()),
            published_by: Some(by.to_string()),
            restored_from: None,
        };
        files::promote_draft(&dir, &draft, &meta)?;
        Ok(self.publish(&mut info, prompt, &meta))
    }

    /// Every version of a prompt, the newest first; the shipped file is
    /// version 0.
    pub fn history(&self, name: &str) -> Result<Vec<PromptVersion>, UploadError> {
        check_name(name)?;
        let dir = self.dir.join(name);
        let mut v: Vec<PromptVersion> = files::versions(&dir)
            .into_iter()
            .rev()
            .filter_map(|n| files::read_meta(&dir, n))
            .collect();
        if let Some(p) = self.shipped.get(name) {
            v.push(PromptVersion {
                version: 0,
                uploaded_at: None,
                duration_ms: p.duration_ms(),
                report: None,
                by: None,
                published_by: None,
                restored_from: None,
            });
        }
        if v.is_empty() {
            return Err(UploadError::Unknown(name.into()));
        }
        Ok(v)
    }

    /// A version's audio (`None`: the current one).
    pub fn audio(&self, name: &str, version: Option<u32>) -> Result<PromptAudio, UploadError> {
        check_name(name)?;
        let version = match version {
            Some(v) => v,
            None => {
                self.lock()
                    .get(name)
                    .ok_or_else(|| UploadError::Unknown(name.into()))?
                    .version
            }
        };
        let no_version = || UploadError::NoVersion {
            name: name.into(),
            version,
        };
        if version == 0 {
            let p = self.shipped.get(name).ok_or_else(no_version)?;
            return Ok(PromptAudio::Wav(files::wav_bytes(p.pcm())));
        }
        let path = files::wav_path(&self.dir.join(name), version);
        if path.exists() {
            Ok(PromptAudio::File(path))
        } else {
            Err(no_version())
        }
    }

    /// Publish a copy of an earlier version (0: the shipped file) as the
    /// prompt's next version.
    pub fn restore(&self, name: &str, version: u32, by: &str) -> Result<PromptInfo, UploadError> {
        check_name(name)?;
        let mut info = self.lock();
        if !info.contains_key(name) {
            return Err(UploadError::Unknown(name.into()));
        }
        let dir = self.dir.join(name);
        let no_version = || UploadError::NoVersion {
            name: name.into(),
            version,
        };
        let (pcm, report) = if version == 0 {
            let p = self.shipped.get(name).ok_or_else(no_version)?;
            (p.pcm().to_vec(), None)
        } else {
            let meta = files::read_meta(&dir, version).ok_or_else(no_version)?;
            let p = Prompt::load(&files::wav_path(&dir, version)).map_err(|e| {
                std::io::Error::other(format!("version {version} of {name:?} unreadable: {e}"))
            })?;
            (p.pcm().to_vec(), meta.report)
        };
        let prompt =
            Prompt::from_pcm(name, pcm).map_err(|e| std::io::Error::other(e.to_string()))?;
        let meta = PromptVersion {
            version: self.next_version(&info, name),
            uploaded_at: Some(Utc::now()),
            duration_ms: prompt.duration_ms(),
            report,
            by: Some(by.to_string()),
            published_by: Some(by.to_string()),
            restored_from: Some(version),
        };
        std::fs::create_dir_all(&dir)?;
        files::write_wav(&files::wav_path(&dir, meta.version), prompt.pcm())?;
        files::write_meta(&dir, &meta)?;
        Ok(self.publish(&mut info, prompt, &meta))
    }

    /// After every version kept on disk and the current one.
    fn next_version(&self, info: &HashMap<String, PromptInfo>, name: &str) -> u32 {
        let on_disk = files::versions(&self.dir.join(name)).last().copied();
        let current = info.get(name).map(|i| i.version);
        on_disk.max(current).map_or(1, |v| v + 1)
    }

    /// Swap in a library with `prompt` for new plays.
    fn publish(
        &self,
        info: &mut HashMap<String, PromptInfo>,
        prompt: Prompt,
        meta: &PromptVersion,
    ) -> PromptInfo {
        let name = prompt.name().to_string();
        let entry = PromptInfo {
            name: name.clone(),
            version: meta.version,
            duration_ms: prompt.duration_ms(),
            uploaded_at: meta.uploaded_at,
            report: meta.report.clone(),
            by: meta.published_by.clone(),
            restored_from: meta.restored_from,
            draft: files::draft_wav(&self.dir.join(&name)).exists(),
        };
        info.insert(name.clone(), entry.clone());
        let mut lib = (*self.current()).clone();
        lib.insert(Arc::new(prompt));
        *self.current.write().expect("prompt store lock") = Arc::new(lib);
        tracing::warn!(prompt = %name, version = meta.version, restored_from = ?meta.restored_from, duration_ms = entry.duration_ms, "prompt published for new plays");
        entry
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn temp(what: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("prompt-store-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn sample() -> Vec<u8> {
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../prompts/info.wav")).unwrap()
    }

    /// A shipped library with a 1 s "welcome".
    fn shipped() -> PromptLibrary {
        let mut lib = PromptLibrary::new();
        let tone = (0..8000)
            .map(|i| ((i as f32 * 0.2).sin() * 8000.0) as i16)
            .collect();
        lib.insert(Arc::new(Prompt::from_pcm("welcome", tone).unwrap()));
        lib
    }

    #[test]
    fn a_draft_is_heard_before_it_plays_then_published_as_the_next_version() {
        let dir = temp("draft");
        let store = PromptStore::open(shipped(), dir.clone()).unwrap();
        let draft = store
            .prepare("welcome", &sample(), Some("wav"), "marie")
            .unwrap();
        assert!((9000..9400).contains(&draft.duration_ms), "{draft:?}");
        assert!(draft.report.rms_dbfs > -30.0, "{draft:?}");
        // Not published: new plays still get the shipped one.
        assert_eq!(store.current().get("welcome").unwrap().duration_ms(), 1000);
        assert!(store.list()[0].draft);
        assert!(matches!(store.draft_audio("welcome"), Ok(PromptAudio::File(p)) if p.exists()));
        let info = store.publish_draft("welcome", "paul").unwrap();
        assert_eq!((info.version, info.by.as_deref()), (1, Some("paul")));
        assert_eq!(
            store.current().get("welcome").unwrap().duration_ms(),
            draft.duration_ms
        );
        assert!(!store.list()[0].draft);
        assert!(matches!(
            store.publish_draft("welcome", "paul"),
            Err(UploadError::NoDraft(_))
        ));
        assert!(dir.join("welcome/v1-original.wav").exists());
        // A refused recording leaves no draft; a discarded one neither.
        assert!(matches!(
            store.prepare("welcome", &[0u8; 10], Some("wav"), "marie"),
            Err(UploadError::Refused(_))
        ));
        assert!(matches!(
            store.draft("welcome"),
            Err(UploadError::NoDraft(_))
        ));
        store
            .prepare("welcome", &sample(), Some("wav"), "marie")
            .unwrap();
        assert_eq!(store.discard_draft("welcome").unwrap().by, "marie");
        assert!(matches!(
            store.draft("welcome"),
            Err(UploadError::NoDraft(_))
        ));
        assert_eq!(
            store.current().get("welcome").unwrap().duration_ms(),
            draft.duration_ms
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_history_is_kept_across_restarts_and_any_version_comes_back() {
        let dir = temp("history");
        let store = PromptStore::open(shipped(), dir.clone()).unwrap();
        let v1 = store
            .upload("welcome", &sample(), Some("wav"), "marie")
            .unwrap();
        let back = store.restore("welcome", 0, "paul").unwrap();
        assert_eq!(
            (back.version, back.restored_from, back.duration_ms),
            (2, Some(0), 1000)
        );
        assert_eq!(store.current().get("welcome").unwrap().duration_ms(), 1000);
        assert!(
            matches!(store.audio("welcome", Some(0)), Ok(PromptAudio::Wav(b)) if b.len() == 44 + 16_000)
        );
        assert!(matches!(
            store.restore("welcome", 7, "paul"),
            Err(UploadError::NoVersion { version: 7, .. })
        ));
        assert!(matches!(
            store.restore("nothing", 0, "paul"),
            Err(UploadError::Unknown(_))
        ));
        drop(store);
        let store = PromptStore::open(shipped(), dir.clone()).unwrap();
        assert_eq!(store.list()[0].version, 2);
        assert_eq!(store.list()[0].restored_from, Some(0));
        let again = store.restore("welcome", 1, "lea").unwrap();
        assert_eq!((again.version, again.duration_ms), (3, v1.duration_ms));
        assert_eq!(
            again.report, v1.report,
            "a restored version keeps its checks"
        );
        let h = store.history("welcome").unwrap();
        let seen: Vec<_> = h
            .iter()
            .map(|v| (v.version, v.restored_from, v.by.as_deref()))
            .collect();
        assert_eq!(
            seen,
            vec![
                (3, Some(1), Some("lea")),
                (2, Some(0), Some("paul")),
                (1, None, Some("marie")),
                (0, None, None)
            ]
        );
        assert!(
            matches!(store.audio("welcome", None), Ok(PromptAudio::File(p)) if p.ends_with("v3.wav"))
        );
        assert!(matches!(
            store.history("nothing"),
            Err(UploadError::Unknown(_))
        ));
        assert!(matches!(
            store.history("../x"),
            Err(UploadError::BadName(_))
        ));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn an_upload_is_kept_and_restored_at_start() {
        let dir = temp("upload");
        let _ = std::fs::remove_dir_all(&dir);
        let data = sample();
        let store = PromptStore::open(PromptLibrary::new(), dir.clone()).unwrap();
        assert!(store.current().get("crisis").is_none());
        let before = store.current();
        let up = store.upload("crisis", &data, Some("wav"), "ops").unwrap();
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
            store
                .upload("crisis", &data, Some("wav"), "ops")
                .unwrap()
                .version,
            2
        );
        assert!(matches!(
            store.upload("../x", &data, None, "ops"),
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
