//! Call recording: stereo WAV, caller on the left, agent on the right,
//! 8 kHz 16-bit, one frame per 20 ms tick so the file lasts as long as the
//! conversation (silence where a leg sent nothing, e.g. on hold).
//!
//! The media worker decodes what each recorded session receives into that
//! session's [`ChannelBuffer`] (a small jitter buffer) and, every tick, takes
//! one frame from each side. File writing happens on one recorder thread,
//! never on a media worker: each tick a worker sends one batch for all its
//! recordings. A file is written as `NAME.wav.part` and renamed to
//! `NAME.wav` when the recording ends, so a listed file is always complete.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};

use chrono::NaiveDate;

use crate::codec::FRAME_SAMPLES;

/// Frames held before a side starts being read (absorbs arrival jitter).
const PRIME_FRAMES: usize = 2;
/// More than this is dropped from the oldest end (a burst after a stall).
const MAX_FRAMES: usize = 10;

/// What one session received, waiting to be written.
#[derive(Debug, Default)]
pub(crate) struct ChannelBuffer {
    samples: VecDeque<i16>,
    primed: bool,
}

impl ChannelBuffer {
    pub(crate) fn push(&mut self, pcm: &[i16]) {
        self.samples.extend(pcm);
        let max = MAX_FRAMES * FRAME_SAMPLES;
        if self.samples.len() > max {
            let extra = self.samples.len() - max;
            self.samples.drain(..extra);
        }
    }

    /// The next 20 ms of this side into every other slot of `out` (stereo
    /// interleaving), silence when there is none.
    pub(crate) fn pop_into(&mut self, out: &mut [i16], channel: usize) {
        if !self.primed && self.samples.len() >= PRIME_FRAMES * FRAME_SAMPLES {
            self.primed = true;
        }
        let take = if self.primed {
            self.samples.len().min(FRAME_SAMPLES)
        } else {
            0
        };
        for i in 0..FRAME_SAMPLES {
            out[i * 2 + channel] = if i < take {
                self.samples.pop_front().unwrap_or(0)
            } else {
                0
            };
        }
        if take < FRAME_SAMPLES {
            self.primed = false; // ran dry: wait for a cushion again
        }
    }
}

pub(crate) enum RecMsg {
    Start {
        key: u64,
        path: PathBuf,
    },
    /// One tick: for each key, `2 * FRAME_SAMPLES` interleaved samples.
    Frames {
        keys: Vec<u64>,
        samples: Vec<i16>,
    },
    Stop {
        key: u64,
    },
}

/// The recorder thread's inbox; cheap to clone.
#[derive(Clone)]
pub(crate) struct RecordSink {
    tx: Sender<RecMsg>,
}

impl RecordSink {
    pub(crate) fn start() -> std::io::Result<RecordSink> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || write_loop(rx))?;
        Ok(RecordSink { tx })
    }

    pub(crate) fn send(&self, msg: RecMsg) {
        let _ = self.tx.send(msg);
    }
}

type Writer = hound::WavWriter<BufWriter<File>>;

fn write_loop(rx: Receiver<RecMsg>) {
    let mut open: HashMap<u64, (Writer, PathBuf)> = HashMap::new();
    while let Ok(msg) = rx.recv() {
        match msg {
            RecMsg::Start { key, path } => match create(&path) {
                Ok(w) => {
                    tracing::info!(file = %path.display(), "recording started");
                    open.insert(key, (w, path));
                }
                Err(e) => {
                    tracing::error!(file = %path.display(), error = %e, "cannot create the recording")
                }
            },
            RecMsg::Frames { keys, samples } => {
                let per = FRAME_SAMPLES * 2;
                for (i, key) in keys.iter().enumerate() {
                    let Some((w, path)) = open.get_mut(key) else {
                        continue;
                    };
                    let frame = &samples[i * per..(i + 1) * per];
                    let mut r = Ok(());
                    for s in frame {
                        r = r.and_then(|_| w.write_sample(*s));
                    }
                    if let Err(e) = r {
                        tracing::error!(file = %path.display(), error = %e, "recording write failed; recording stopped");
                        open.remove(key);
                    }
                }
            }
            RecMsg::Stop { key } => {
                if let Some((w, path)) = open.remove(&key) {
                    finish(w, &path);
                }
            }
        }
    }
    // The engine is gone: close what is open.
    for (_, (w, path)) in open {
        finish(w, &path);
    }
}

fn part_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".part");
    PathBuf::from(p)
}

fn create(path: &Path) -> Result<Writer, hound::Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    hound::WavWriter::create(part_path(path), spec)
}

fn finish(w: Writer, path: &Path) {
    let frames = w.duration();
    match w.finalize() {
        Ok(()) => match std::fs::rename(part_path(path), path) {
            Ok(()) => {
                tracing::info!(file = %path.display(), duration_ms = frames as u64 / 8, "recording finished")
            }
            Err(e) => {
                tracing::error!(file = %path.display(), error = %e, "cannot publish the recording")
            }
        },
        Err(e) => {
            tracing::error!(file = %path.display(), error = %e, "cannot finish the recording")
        }
    }
}

/// Where the recording of a call goes: `<dir>/<day>/<queue>/<record_id>.wav`,
/// the day being the UTC date at the head of the record id.
pub fn recording_path(dir: &Path, queue: &str, record_id: &str) -> PathBuf {
    let day = record_day(record_id)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "undated".into());
    dir.join(day)
        .join(safe(queue))
        .join(format!("{}.wav", safe(record_id)))
}

fn safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_start_matches('.')
        .to_string()
}

/// Today's UTC date (the calendar recordings are filed by).
pub fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// `20261123T201500Z-...` -> 2026-11-23.
pub fn record_day(record_id: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(record_id.get(..8)?, "%Y%m%d").ok()
}

/// One finished recording on disk.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecordingFile {
    /// The call's record id (the file name).
    pub record_id: String,
    /// The queue the conversation was in (the directory).
    pub queue: String,
    /// The day it was recorded (the directory).
    pub day: NaiveDate,
    /// Relative to the recordings directory.
    pub path: String,
    /// Size of the WAV file.
    pub bytes: u64,
    /// Its length.
    pub duration_ms: u64,
}

fn wav_duration_ms(path: &Path) -> u64 {
    hound::WavReader::open(path)
        .map(|r| r.duration() as u64 * 1000 / r.spec().sample_rate.max(1) as u64)
        .unwrap_or(0)
}

/// Finished recordings whose day lies in `[from, to]`, for `queue` if given.
pub fn list(
    dir: &Path,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    queue: Option<&str>,
) -> std::io::Result<Vec<RecordingFile>> {
    let mut out = Vec::new();
    let Ok(days) = std::fs::read_dir(dir) else {
        return Ok(out); // nothing recorded yet
    };
    for day_entry in days.flatten() {
        let Some(day) = day_entry
            .file_name()
            .to_str()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        else {
            continue;
        };
        if from.is_some_and(|f| day < f) || to.is_some_and(|t| day > t) {
            continue;
        }
        for q in std::fs::read_dir(day_entry.path())?.flatten() {
            let qname = q.file_name().to_string_lossy().to_string();
            if queue.is_some_and(|want| safe(want) != qname) {
                continue;
            }
            for f in std::fs::read_dir(q.path())?.flatten() {
                let name = f.file_name().to_string_lossy().to_string();
                let Some(id) = name.strip_suffix(".wav") else {
                    continue; // `.part`: still recording
                };
                let path = f.path();
                out.push(RecordingFile {
                    record_id: id.to_string(),
                    queue: qname.clone(),
                    day,
                    path: format!("{}/{qname}/{name}", day.format("%Y-%m-%d")),
                    bytes: f.metadata().map(|m| m.len()).unwrap_or(0),
                    duration_ms: wav_duration_ms(&path),
                });
            }
        }
    }
    out.sort_by(|a, b| a.record_id.cmp(&b.record_id));
    Ok(out)
}

/// The finished recording of a call, if any.
pub fn find(dir: &Path, record_id: &str) -> Option<PathBuf> {
    let day = record_day(record_id)?;
    let day_dir = dir.join(day.format("%Y-%m-%d").to_string());
    let name = format!("{}.wav", safe(record_id));
    std::fs::read_dir(day_dir)
        .ok()?
        .flatten()
        .map(|q| q.path().join(&name))
        .find(|p| p.is_file())
}

/// Delete the recordings older than their queue's retention (days, from
/// `retention(queue)`), counted from `today`; returns how many went.
/// Empty directories left behind are removed too.
pub fn purge(
    dir: &Path,
    today: NaiveDate,
    retention: &dyn Fn(&str) -> u32,
) -> std::io::Result<usize> {
    let mut removed = 0;
    let Ok(days) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    for day_entry in days.flatten() {
        let Some(day) = day_entry
            .file_name()
            .to_str()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        else {
            continue;
        };
        let age = (today - day).num_days();
        for q in std::fs::read_dir(day_entry.path())?.flatten() {
            let qname = q.file_name().to_string_lossy().to_string();
            if age < i64::from(retention(&qname)) {
                continue;
            }
            for f in std::fs::read_dir(q.path())?.flatten() {
                let is_part = f.file_name().to_string_lossy().ends_with(".part");
                if !is_part {
                    std::fs::remove_file(f.path())?;
                    removed += 1;
                }
            }
            let _ = std::fs::remove_dir(q.path()); // only if empty
        }
        let _ = std::fs::remove_dir(day_entry.path());
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_buffer_primes_pads_and_caps() {
        let mut b = ChannelBuffer::default();
        let mut out = vec![7i16; FRAME_SAMPLES * 2];
        b.push(&[100; FRAME_SAMPLES]);
        b.pop_into(&mut out, 0);
        assert!(
            out.iter().step_by(2).all(|s| *s == 0),
            "not primed yet: silence"
        );
        assert!(
            out.iter().skip(1).step_by(2).all(|s| *s == 7),
            "other channel untouched"
        );
        b.push(&[200; FRAME_SAMPLES]);
        b.pop_into(&mut out, 1);
        assert!(
            out.iter().skip(1).step_by(2).all(|s| *s == 100),
            "oldest first"
        );
        b.pop_into(&mut out, 1);
        assert!(out.iter().skip(1).step_by(2).all(|s| *s == 200));
        b.pop_into(&mut out, 1);
        assert!(
            out.iter().skip(1).step_by(2).all(|s| *s == 0),
            "dry: silence"
        );
        for i in 0..20 {
            b.push(&[i; FRAME_SAMPLES]);
        }
        assert_eq!(b.samples.len(), MAX_FRAMES * FRAME_SAMPLES, "capped");
        b.pop_into(&mut out, 0);
        assert_eq!(out[0], 10, "the oldest frames were dropped");
    }

    #[test]
    fn paths_listing_lookup_and_purge() {
        let dir = std::env::temp_dir().join(format!("rec-test-{}", rand::random::<u64>()));
        let id = "20261123T101500Z-0123456789ab";
        let p = recording_path(&dir, "general", id);
        assert!(p.ends_with("2026-11-23/general/20261123T101500Z-0123456789ab.wav"));
        assert!(recording_path(&dir, "../etc", id).starts_with(&dir));

        let sink = RecordSink::start().unwrap();
        sink.send(RecMsg::Start {
            key: 1,
            path: p.clone(),
        });
        let mut samples = vec![0i16; FRAME_SAMPLES * 2];
        samples[0] = 1000;
        for _ in 0..50 {
            sink.send(RecMsg::Frames {
                keys: vec![1],
                samples: samples.clone(),
            });
        }
        sink.send(RecMsg::Stop { key: 1 });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !p.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let r = hound::WavReader::open(&p).unwrap();
        assert_eq!((r.spec().channels, r.spec().sample_rate), (2, 8000));
        assert_eq!(r.duration(), 50 * FRAME_SAMPLES as u32, "one second");

        let old = recording_path(&dir, "expert", "20260901T101500Z-0123456789ab");
        std::fs::create_dir_all(old.parent().unwrap()).unwrap();
        std::fs::copy(&p, &old).unwrap();
        let all = list(&dir, None, None, None).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].duration_ms, 1000);
        assert_eq!(list(&dir, None, None, Some("expert")).unwrap().len(), 1);
        assert_eq!(find(&dir, id), Some(p.clone()));
        assert_eq!(find(&dir, "20261124T000000Z-x"), None);

        // 60 days for expert: the September file goes on 2026-11-23.
        let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(purge(&dir, today, &|_| 60).unwrap(), 1);
        assert!(!old.exists() && p.exists());
        assert!(!dir.join("2026-09-01").exists(), "empty day removed");
        std::fs::remove_dir_all(&dir).ok();
    }
}
