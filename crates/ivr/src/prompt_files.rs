//! The files of one prompt under the upload directory: `v<N>.wav` (what
//! plays, 8 kHz mono 16-bit), `v<N>-original.<ext>` (what was sent),
//! `v<N>.json` (when, by whom, what cleaning measured, what it was restored
//! from), and the draft waiting to be published (`draft.wav`,
//! `draft-original.<ext>`, `draft.json`). Every file is written under a
//! temporary name then renamed: a crash never leaves half a file.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use media::clean::CleanReport;
use serde::{Deserialize, Serialize};

/// One version of a prompt, as its history shows it. Version 0 is the
/// shipped file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptVersion {
    /// Version number: 0 for the shipped file, then 1, 2... per upload or
    /// restore.
    pub version: u32,
    /// When it was uploaded or restored (none for the shipped file).
    pub uploaded_at: Option<DateTime<Utc>>,
    /// Length of the audio, in milliseconds.
    pub duration_ms: u64,
    /// What cleaning measured (none for the shipped file).
    pub report: Option<CleanReport>,
    /// The account that sent the recording (or restored the version).
    pub by: Option<String>,
    /// The account that published it for new calls.
    pub published_by: Option<String>,
    /// The earlier version this one is a copy of.
    pub restored_from: Option<u32>,
}

/// A cleaned recording waiting to be heard and published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    /// The prompt it is a draft of.
    pub name: String,
    /// When it was sent and cleaned.
    pub prepared_at: DateTime<Utc>,
    /// The account that sent the recording.
    pub by: String,
    /// Length of the cleaned audio, in milliseconds.
    pub duration_ms: u64,
    /// What cleaning measured.
    pub report: CleanReport,
    /// File name of the original as sent, next to the draft.
    pub original: String,
}

/// `v12.wav` -> 12.
pub(crate) fn version_of(file_name: &str) -> Option<u32> {
    file_name
        .strip_prefix('v')?
        .strip_suffix(".wav")?
        .parse::<u32>()
        .ok()
}

/// The uploaded versions kept in a prompt's directory, oldest first.
pub(crate) fn versions(dir: &Path) -> Vec<u32> {
    let mut v: Vec<u32> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| version_of(&e.file_name().to_string_lossy()))
                .collect()
        })
        .unwrap_or_default();
    v.sort_unstable();
    v
}

pub(crate) fn wav_path(dir: &Path, version: u32) -> PathBuf {
    dir.join(format!("v{version}.wav"))
}

fn meta_path(dir: &Path, version: u32) -> PathBuf {
    dir.join(format!("v{version}.json"))
}

/// A version's metadata; for an upload kept before metadata existed, what
/// the WAV file itself tells (duration, date).
pub(crate) fn read_meta(dir: &Path, version: u32) -> Option<PromptVersion> {
    if let Ok(text) = std::fs::read(meta_path(dir, version)) {
        match serde_json::from_slice(&text) {
            Ok(m) => return Some(m),
            Err(err) => {
                tracing::error!(dir = %dir.display(), version, %err, "prompt version metadata unreadable; using the WAV file's")
            }
        }
    }
    let wav = wav_path(dir, version);
    let reader = hound::WavReader::open(&wav).ok()?;
    let spec = reader.spec();
    let duration_ms = u64::from(reader.duration()) * 1000 / u64::from(spec.sample_rate.max(1));
    Some(PromptVersion {
        version,
        uploaded_at: std::fs::metadata(&wav)
            .and_then(|m| m.modified())
            .ok()
            .map(DateTime::<Utc>::from),
        duration_ms,
        report: None,
        by: None,
        published_by: None,
        restored_from: None,
    })
}

pub(crate) fn write_meta(dir: &Path, meta: &PromptVersion) -> std::io::Result<()> {
    write_json(&meta_path(dir, meta.version), meta)
}

pub(crate) fn draft_wav(dir: &Path) -> PathBuf {
    dir.join("draft.wav")
}

fn draft_json(dir: &Path) -> PathBuf {
    dir.join("draft.json")
}

pub(crate) fn read_draft(dir: &Path) -> std::io::Result<Option<Draft>> {
    if !draft_wav(dir).exists() {
        return Ok(None);
    }
    match std::fs::read(draft_json(dir)) {
        Ok(text) => serde_json::from_slice(&text)
            .map(Some)
            .map_err(std::io::Error::other),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Keep a draft (replacing any earlier one of the same prompt).
pub(crate) fn write_draft(
    dir: &Path,
    draft: &Draft,
    original: &[u8],
    pcm: &[i16],
) -> std::io::Result<()> {
    remove_draft(dir)?;
    write_atomic(&dir.join(&draft.original), original)?;
    write_wav(&draft_wav(dir), pcm)?;
    write_json(&draft_json(dir), draft)
}

/// Forget the draft's files (none is fine).
pub(crate) fn remove_draft(dir: &Path) -> std::io::Result<()> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name == "draft.wav" || name == "draft.json" || name.starts_with("draft-original.") {
            std::fs::remove_file(e.path())?;
        }
    }
    Ok(())
}

/// Turn the draft's files into version `version` (the metadata last, so
/// that the draft stays whole until its audio has moved).
pub(crate) fn promote_draft(
    dir: &Path,
    draft: &Draft,
    meta: &PromptVersion,
) -> std::io::Result<()> {
    let ext = draft
        .original
        .strip_prefix("draft-original.")
        .unwrap_or("bin");
    let original = dir.join(&draft.original);
    if original.exists() {
        std::fs::rename(
            original,
            dir.join(format!("v{}-original.{ext}", meta.version)),
        )?;
    }
    std::fs::rename(draft_wav(dir), wav_path(dir, meta.version))?;
    write_meta(dir, meta)?;
    std::fs::remove_file(draft_json(dir))
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    write_atomic(path, &text)
}

fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data)?;
    std::fs::rename(tmp, path)
}

fn spec() -> hound::WavSpec {
    hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

/// 8 kHz mono 16-bit samples as a WAV file in memory.
pub(crate) fn wav_bytes(pcm: &[i16]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::with_capacity(44 + pcm.len() * 2));
    {
        let mut w = hound::WavWriter::new(&mut out, spec()).expect("a WAV header fits in memory");
        for s in pcm {
            w.write_sample(*s).expect("writing to memory");
        }
        w.finalize().expect("writing to memory");
    }
    out.into_inner()
}

pub(crate) fn write_wav(path: &Path, pcm: &[i16]) -> std::io::Result<()> {
    let tmp = path.with_extension("wav.tmp");
    let mut w = hound::WavWriter::create(&tmp, spec()).map_err(std::io::Error::other)?;
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
    fn versions_are_read_from_file_names_and_wavs_stand_alone() {
        assert_eq!(version_of("v12.wav"), Some(12));
        assert_eq!(version_of("v1-original.wav"), None);
        assert_eq!(version_of("draft.wav"), None);
        let dir = std::env::temp_dir().join(format!("prompt-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        write_wav(&wav_path(&dir, 3), &vec![100; 16_000]).unwrap();
        std::fs::write(dir.join("v3-original.mp3"), b"x").unwrap();
        std::fs::write(dir.join("draft.wav"), b"x").unwrap();
        assert_eq!(versions(&dir), vec![3]);
        // No metadata kept (an upload from before histories): the WAV says 2 s.
        let m = read_meta(&dir, 3).unwrap();
        assert_eq!((m.version, m.duration_ms, m.by), (3, 2000, None));
        assert!(m.uploaded_at.is_some());
        assert!(read_meta(&dir, 4).is_none());
        let bytes = wav_bytes(&[1, 2, 3]);
        assert_eq!(bytes.len(), 44 + 6);
        assert_eq!(&bytes[..4], b"RIFF");
        std::fs::remove_dir_all(&dir).ok();
    }
}
