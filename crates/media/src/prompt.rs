//! Prompts: audio files decoded once (symphonia), downmixed, resampled to 8 kHz (rubato),
//! encoded to both G.711 laws and shared by every call through a [`PromptLibrary`].

use std::collections::HashMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rubato::{FftFixedInOut, Resampler};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::codec::{Codec, FRAME_SAMPLES, SAMPLE_RATE};
use crate::g711;

/// File extensions [`PromptLibrary::load_dir`] picks up (case-insensitive).
pub const EXTENSIONS: [&str; 4] = ["wav", "mp3", "ogg", "flac"];

/// Input frames per resampler chunk; also sets the length of its anti-aliasing filter.
const RESAMPLE_CHUNK: usize = 1024;

/// Errors loading a prompt. Each names the prompt (or file) and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The file could not be read.
    #[error("prompt {prompt}: cannot read: {source}")]
    Io {
        /// Prompt name or file path.
        prompt: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not audio in a format we can decode.
    #[error(
        "prompt {prompt}: unsupported or unrecognised audio format ({detail}); expected WAV, MP3, OGG/Vorbis or FLAC"
    )]
    Unsupported {
        /// Prompt name or file path.
        prompt: String,
        /// What the decoder said.
        detail: String,
    },
    /// The format was recognised but its audio could not be decoded.
    #[error("prompt {prompt}: cannot decode audio: {detail}")]
    Decode {
        /// Prompt name or file path.
        prompt: String,
        /// What the decoder said.
        detail: String,
    },
    /// The file decodes to no samples at all.
    #[error("prompt {prompt}: contains no audio")]
    Empty {
        /// Prompt name or file path.
        prompt: String,
    },
    /// Resampling to 8 kHz failed.
    #[error("prompt {prompt}: cannot resample from {rate} Hz to 8000 Hz: {detail}")]
    Resample {
        /// Prompt name or file path.
        prompt: String,
        /// The source sample rate.
        rate: u32,
        /// What the resampler said.
        detail: String,
    },
    /// The prompt directory could not be listed.
    #[error("prompt directory {}: {source}", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Two files in the directory give the same prompt name.
    #[error("prompt {name:?} is defined twice: {} and {}", first.display(), second.display())]
    Duplicate {
        /// The prompt name (file stem).
        name: String,
        /// The first file.
        first: PathBuf,
        /// The second file.
        second: PathBuf,
    },
}

/// One prompt: 8 kHz mono PCM and its mu-law and A-law encodings, padded with silence to
/// whole 20 ms frames. Immutable once built; share it with `Arc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    name: String,
    pcm: Vec<i16>,
    ulaw: Vec<u8>,
    alaw: Vec<u8>,
}

impl Prompt {
    /// Decodes an audio file's bytes: WAV (PCM 8/16/24/32-bit, float, A-law, mu-law),
    /// MP3, OGG/Vorbis or FLAC, at any sample rate and channel count. `extension_hint`
    /// (e.g. "wav") helps the probe; the content decides.
    pub fn from_bytes(
        name: &str,
        data: &[u8],
        extension_hint: Option<&str>,
    ) -> Result<Prompt, PromptError> {
        Self::decode(name, name, data, extension_hint)
    }

    /// Reads and decodes a file; the prompt is named after the file stem.
    pub fn load(path: &Path) -> Result<Prompt, PromptError> {
        let label = path.display().to_string();
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| label.clone());
        let data = std::fs::read(path).map_err(|source| PromptError::Io {
            prompt: label.clone(),
            source,
        })?;
        let ext = path.extension().and_then(|e| e.to_str());
        Self::decode(&name, &label, &data, ext)
    }

    /// Builds a prompt from 8 kHz mono PCM (generated tones, tests).
    pub fn from_pcm(name: &str, pcm: Vec<i16>) -> Result<Prompt, PromptError> {
        if pcm.is_empty() {
            return Err(PromptError::Empty {
                prompt: name.to_string(),
            });
        }
        Ok(Self::encode(name, pcm))
    }

    fn decode(
        name: &str,
        label: &str,
        data: &[u8],
        extension_hint: Option<&str>,
    ) -> Result<Prompt, PromptError> {
        let (mono, rate) = decode_mono(label, data, extension_hint)?;
        if mono.is_empty() {
            return Err(PromptError::Empty {
                prompt: label.to_string(),
            });
        }
        let resampled = resample(&mono, rate).map_err(|detail| PromptError::Resample {
            prompt: label.to_string(),
            rate,
            detail,
        })?;
        drop(mono);
        let pcm = resampled
            .iter()
            .map(|&x| (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
            .collect();
        Ok(Self::encode(name, pcm))
    }

    fn encode(name: &str, mut pcm: Vec<i16>) -> Prompt {
        let frames = pcm.len().div_ceil(FRAME_SAMPLES);
        pcm.resize(frames * FRAME_SAMPLES, 0);
        pcm.shrink_to_fit();
        let mut ulaw = Vec::with_capacity(pcm.len());
        g711::encode_ulaw(&pcm, &mut ulaw);
        let mut alaw = Vec::with_capacity(pcm.len());
        g711::encode_alaw(&pcm, &mut alaw);
        Prompt {
            name: name.to_string(),
            pcm,
            ulaw,
            alaw,
        }
    }

    /// The prompt's name (the file stem when loaded from a file).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Length in milliseconds, including the silence padding the last frame.
    pub fn duration_ms(&self) -> u64 {
        self.pcm.len() as u64 * 1000 / u64::from(SAMPLE_RATE)
    }

    /// Number of 20 ms frames.
    pub fn frame_count(&self) -> usize {
        self.pcm.len() / FRAME_SAMPLES
    }

    /// The encoded payload (160 bytes) of frame `index` in `codec`.
    pub fn frame(&self, codec: Codec, index: usize) -> Option<&[u8]> {
        let start = index.checked_mul(FRAME_SAMPLES)?;
        self.encoded(codec).get(start..start + FRAME_SAMPLES)
    }

    /// The whole prompt encoded in `codec`.
    pub fn encoded(&self, codec: Codec) -> &[u8] {
        match codec {
            Codec::Pcmu => &self.ulaw,
            Codec::Pcma => &self.alaw,
        }
    }

    /// 8 kHz mono linear PCM.
    pub fn pcm(&self) -> &[i16] {
        &self.pcm
    }
}

/// Decodes to mono f32 in [-1, 1] at the file's sample rate.
/// Decode any supported audio file to mono f32 samples at its own rate:
/// (samples, sample rate).
pub fn decode_mono(
    label: &str,
    data: &[u8],
    extension_hint: Option<&str>,
) -> Result<(Vec<f32>, u32), PromptError> {
    let unsupported = |detail: String| PromptError::Unsupported {
        prompt: label.to_string(),
        detail,
    };
    let decode_err = |detail: String| PromptError::Decode {
        prompt: label.to_string(),
        detail,
    };
    if data.is_empty() {
        return Err(PromptError::Empty {
            prompt: label.to_string(),
        });
    }

    let mut hint = Hint::new();
    if let Some(ext) = extension_hint {
        hint.with_extension(ext);
    }
    let source = MediaSourceStream::new(Box::new(Cursor::new(data.to_vec())), Default::default());
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            source,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| unsupported(e.to_string()))?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| unsupported("no audio track".to_string()))?;
    let track_id = track.id;
    let mut rate = track.codec_params.sample_rate;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| unsupported(e.to_string()))?;

    let mut mono = Vec::new();
    let mut buffer: Option<SampleBuffer<f32>> = None;
    let mut decoded_any = false;
    let mut last_error = None;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break
            }
            // A chained stream changing parameters: keep what we have.
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => return Err(decode_err(e.to_string())),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let audio = match decoder.decode(&packet) {
            Ok(audio) => audio,
            // A corrupt packet (common in MP3 streams): skip it.
            Err(SymphoniaError::DecodeError(e)) => {
                last_error = Some(e.to_string());
                continue;
            }
            Err(e) => return Err(decode_err(e.to_string())),
        };
        decoded_any = true;
        let spec = *audio.spec();
        rate = Some(spec.rate);
        let channels = spec.channels.count().max(1);
        let frames = audio.frames();
        if frames == 0 {
            continue;
        }
        let buf = match &mut buffer {
            Some(b) if b.capacity() >= audio.capacity() * channels => b,
            _ => buffer.insert(SampleBuffer::new(audio.capacity() as u64, spec)),
        };
        buf.copy_interleaved_ref(audio);
        let samples = buf.samples();
        if channels == 1 {
            mono.extend_from_slice(samples);
        } else {
            let scale = 1.0 / channels as f32;
            mono.extend(
                samples
                    .chunks_exact(channels)
                    .map(|frame| frame.iter().sum::<f32>() * scale),
            );
        }
    }
    if !decoded_any {
        if let Some(e) = last_error {
            return Err(decode_err(e));
        }
    }
    let rate = rate
        .filter(|&r| r > 0)
        .ok_or_else(|| decode_err("unknown sample rate".to_string()))?;
    Ok((mono, rate))
}

/// Resamples mono audio to 8 kHz (see [`resample_between`]).
fn resample(input: &[f32], rate: u32) -> Result<Vec<f32>, String> {
    resample_between(input, rate, SAMPLE_RATE)
}

/// Resamples mono audio from `rate` to `to` with rubato's FFT resampler
/// (its low-pass filter removes everything above the lower Nyquist
/// frequency first); a copy when the rates are equal.
pub fn resample_between(input: &[f32], rate: u32, to: u32) -> Result<Vec<f32>, String> {
    if rate == to {
        return Ok(input.to_vec());
    }
    let mut resampler = FftFixedInOut::<f32>::new(rate as usize, to as usize, RESAMPLE_CHUNK, 1)
        .map_err(|e| e.to_string())?;
    let delay = resampler.output_delay();
    let wanted = (input.len() as u64 * u64::from(to)).div_ceil(u64::from(rate)) as usize;
    let chunk = resampler.input_frames_next();
    let mut chunk_in = vec![vec![0.0f32; chunk]];
    let mut chunk_out = resampler.output_buffer_allocate(true);
    let mut out = Vec::with_capacity(wanted + delay + chunk_out[0].len());
    let mut pos = 0;
    // Feed the input, then silence, until the delayed output covers the whole input.
    while out.len() < wanted + delay {
        let n = input.len().saturating_sub(pos).min(chunk);
        chunk_in[0][..n].copy_from_slice(&input[pos..pos + n]);
        chunk_in[0][n..].fill(0.0);
        pos += n;
        let (_, produced) = resampler
            .process_into_buffer(&chunk_in, &mut chunk_out, None)
            .map_err(|e| e.to_string())?;
        out.extend_from_slice(&chunk_out[0][..produced]);
    }
    out.drain(..delay);
    out.truncate(wanted);
    Ok(out)
}

/// All prompts by name, shared with `Arc`. Cloning is cheap; to change prompts while calls
/// run, build a new library and swap it in.
#[derive(Debug, Clone, Default)]
pub struct PromptLibrary {
    prompts: HashMap<String, Arc<Prompt>>,
}

impl PromptLibrary {
    /// An empty library.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads every `.wav`, `.mp3`, `.ogg` and `.flac` file in `dir` (not recursive), named
    /// by file stem. Fails on the first file that does not decode, naming it.
    pub fn load_dir(dir: &Path) -> Result<PromptLibrary, PromptError> {
        let dir_err = |source| PromptError::Dir {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(dir_err)? {
            let path = entry.map_err(dir_err)?.path();
            let wanted = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)));
            if wanted && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        let mut library = PromptLibrary::new();
        let mut sources: HashMap<String, PathBuf> = HashMap::new();
        for path in paths {
            let prompt = Prompt::load(&path)?;
            if let Some(first) = sources.get(prompt.name()) {
                return Err(PromptError::Duplicate {
                    name: prompt.name().to_string(),
                    first: first.clone(),
                    second: path,
                });
            }
            sources.insert(prompt.name().to_string(), path);
            library.insert(Arc::new(prompt));
        }
        Ok(library)
    }

    /// The prompt called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Prompt>> {
        self.prompts.get(name).cloned()
    }

    /// Prompt names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.prompts.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Adds or replaces a prompt under its name; returns the one it replaced.
    pub fn insert(&mut self, prompt: Arc<Prompt>) -> Option<Arc<Prompt>> {
        self.prompts.insert(prompt.name().to_string(), prompt)
    }

    /// Number of prompts.
    pub fn len(&self) -> usize {
        self.prompts.len()
    }

    /// Whether there is no prompt.
    pub fn is_empty(&self) -> bool {
        self.prompts.is_empty()
    }
}

#[cfg(test)]
mod tests;
