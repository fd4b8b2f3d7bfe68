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
mod tests {
    use super::*;
    use std::f64::consts::PI;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let path = std::env::temp_dir().join(format!(
                "media-prompt-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn sine(freq: f64, rate: u32, seconds: f64, amplitude: f64) -> Vec<f64> {
        let n = (rate as f64 * seconds).round() as usize;
        (0..n)
            .map(|i| amplitude * (2.0 * PI * freq * i as f64 / rate as f64).sin())
            .collect()
    }

    fn wav_bytes(spec: hound::WavSpec, samples: &[f64]) -> Vec<u8> {
        let mut cursor = Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
        for &s in samples {
            for _ in 0..spec.channels {
                match (spec.sample_format, spec.bits_per_sample) {
                    (hound::SampleFormat::Float, _) => w.write_sample(s as f32).unwrap(),
                    (_, 8) => w.write_sample((s * 127.0).round() as i8).unwrap(),
                    (_, 16) => w.write_sample((s * 32767.0).round() as i16).unwrap(),
                    (_, 24) => w.write_sample((s * 8_388_607.0).round() as i32).unwrap(),
                    (_, bits) => panic!("no writer for {bits} bits"),
                }
            }
        }
        w.finalize().unwrap();
        cursor.into_inner()
    }

    fn spec(rate: u32, channels: u16, bits: u16) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        }
    }

    /// A G.711 WAV (format tag 6 = A-law, 7 = mu-law), which hound cannot write.
    fn g711_wav(format_tag: u16, codes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(4 + 26 + 12 + 8 + codes.len() as u32).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&18u32.to_le_bytes());
        out.extend_from_slice(&format_tag.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes()); // channels
        out.extend_from_slice(&8000u32.to_le_bytes()); // sample rate
        out.extend_from_slice(&8000u32.to_le_bytes()); // byte rate
        out.extend_from_slice(&1u16.to_le_bytes()); // block align
        out.extend_from_slice(&8u16.to_le_bytes()); // bits per sample
        out.extend_from_slice(&0u16.to_le_bytes()); // extra size
        out.extend_from_slice(b"fact");
        out.extend_from_slice(&4u32.to_le_bytes());
        out.extend_from_slice(&(codes.len() as u32).to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&(codes.len() as u32).to_le_bytes());
        out.extend_from_slice(codes);
        out
    }

    fn crc8(data: &[u8]) -> u8 {
        let mut crc = 0u8;
        for &b in data {
            crc ^= b;
            for _ in 0..8 {
                crc = if crc & 0x80 != 0 {
                    (crc << 1) ^ 0x07
                } else {
                    crc << 1
                };
            }
        }
        crc
    }

    fn crc16(data: &[u8]) -> u16 {
        let mut crc = 0u16;
        for &b in data {
            crc ^= u16::from(b) << 8;
            for _ in 0..8 {
                crc = if crc & 0x8000 != 0 {
                    (crc << 1) ^ 0x8005
                } else {
                    crc << 1
                };
            }
        }
        crc
    }

    /// A minimal FLAC file: mono 16-bit, one VERBATIM subframe per frame of up to 1152
    /// samples (sample rate taken from STREAMINFO).
    fn flac_bytes(rate: u32, samples: &[i16]) -> Vec<u8> {
        const BLOCK: usize = 1152;
        let mut out = b"fLaC".to_vec();
        out.push(0x80); // last metadata block, type 0 = STREAMINFO
        out.extend_from_slice(&[0, 0, 34]);
        out.extend_from_slice(&(BLOCK as u16).to_be_bytes()); // min block size
        out.extend_from_slice(&(BLOCK as u16).to_be_bytes()); // max block size
        out.extend_from_slice(&[0; 6]); // min/max frame size unknown
        let total = samples.len() as u64;
        // 20 bits rate, 3 bits channels-1 (0), 5 bits bps-1 (15), 36 bits total samples.
        let packed = (u64::from(rate) << 44) | (15u64 << 36) | total;
        out.extend_from_slice(&packed.to_be_bytes());
        out.extend_from_slice(&[0; 16]); // MD5 unknown
        for (index, block) in samples.chunks(BLOCK).enumerate() {
            assert!(index < 128, "frame number must fit one UTF-8 byte");
            let start = out.len();
            // Sync, fixed blocking; block size 0111 (16-bit size follows), rate 0000
            // (STREAMINFO); mono, 16-bit; frame number; block size - 1; CRC-8.
            out.extend_from_slice(&[0xFF, 0xF8, 0x70, 0x08, index as u8]);
            out.extend_from_slice(&(block.len() as u16 - 1).to_be_bytes());
            let header_crc = crc8(&out[start..]);
            out.push(header_crc);
            out.push(0x02); // VERBATIM subframe, no wasted bits
            for s in block {
                out.extend_from_slice(&s.to_be_bytes());
            }
            let crc = crc16(&out[start..]);
            out.extend_from_slice(&crc.to_be_bytes());
        }
        out
    }

    /// Power of `freq` in `pcm` relative to its total power (1.0 = a pure tone).
    fn tone_share(pcm: &[i16], freq: f64) -> f64 {
        let w = 2.0 * PI * freq / 8000.0;
        let (mut s1, mut s2, mut energy) = (0.0f64, 0.0f64, 0.0f64);
        for &x in pcm {
            let x = x as f64;
            energy += x * x;
            let s0 = x + 2.0 * w.cos() * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
        2.0 * power / pcm.len() as f64 / energy
    }

    fn rms(pcm: &[i16]) -> f64 {
        (pcm.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / pcm.len() as f64).sqrt()
    }

    /// The samples away from the edges, where the resampler's filter has settled.
    fn middle(p: &Prompt) -> &[i16] {
        let pcm = p.pcm();
        &pcm[800..pcm.len() - 1600]
    }

    #[test]
    fn wav_16bit_8khz_is_taken_as_is() {
        let samples = sine(1000.0, 8000, 1.0, 0.5);
        let p = Prompt::from_bytes(
            "hello",
            &wav_bytes(spec(8000, 1, 16), &samples),
            Some("wav"),
        )
        .unwrap();
        assert_eq!(p.name(), "hello");
        assert_eq!(p.duration_ms(), 1000);
        assert_eq!(p.frame_count(), 50);
        for (i, (&got, &want)) in p.pcm().iter().zip(&samples).enumerate() {
            assert_eq!(got, (want * 32767.0).round() as i16, "sample {i}");
        }
        let mut ulaw = Vec::new();
        g711::encode_ulaw(p.pcm(), &mut ulaw);
        assert_eq!(p.encoded(Codec::Pcmu), &ulaw[..]);
        assert_eq!(p.frame(Codec::Pcmu, 3), Some(&ulaw[480..640]));
        assert_eq!(p.frame(Codec::Pcma, 49).map(<[u8]>::len), Some(160));
        assert_eq!(p.frame(Codec::Pcma, 50), None);
        assert_eq!(p.frame(Codec::Pcmu, usize::MAX), None);
    }

    #[test]
    fn last_frame_is_padded_with_silence() {
        let samples = sine(440.0, 8000, 0.105, 0.5); // 840 samples = 5.25 frames
        let p = Prompt::from_bytes("pad", &wav_bytes(spec(8000, 1, 16), &samples), None).unwrap();
        assert_eq!(p.pcm().len(), 960);
        assert_eq!(p.frame_count(), 6);
        assert_eq!(p.duration_ms(), 120);
        assert!(p.pcm()[840..].iter().all(|&s| s == 0));
        let last = p.frame(Codec::Pcmu, 5).unwrap();
        assert!(last[40..].iter().all(|&b| b == Codec::Pcmu.silence()));
        let last = p.frame(Codec::Pcma, 5).unwrap();
        assert!(last[40..].iter().all(|&b| b == Codec::Pcma.silence()));
    }

    #[test]
    fn stereo_44k1_is_downmixed_and_resampled_keeping_pitch_and_level() {
        let samples = sine(1000.0, 44_100, 1.5, 0.5);
        let p = Prompt::from_bytes("s", &wav_bytes(spec(44_100, 2, 16), &samples), Some("wav"))
            .unwrap();
        assert!(
            (1480..=1500).contains(&p.duration_ms()),
            "{}",
            p.duration_ms()
        );
        let mid = middle(&p);
        assert!(
            tone_share(mid, 1000.0) > 0.95,
            "{}",
            tone_share(mid, 1000.0)
        );
        let want = 0.5 * 32767.0 / 2f64.sqrt();
        let got = rms(mid);
        assert!((got / want - 1.0).abs() < 0.03, "rms {got} vs {want}");
    }

    #[test]
    fn stereo_channels_are_averaged() {
        // Left carries a tone, right is silent: the mono mix has half the amplitude.
        let tone = sine(500.0, 8000, 0.5, 0.8);
        let mut cursor = Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut cursor, spec(8000, 2, 16)).unwrap();
        for &s in &tone {
            w.write_sample((s * 32767.0).round() as i16).unwrap();
            w.write_sample(0i16).unwrap();
        }
        w.finalize().unwrap();
        let p = Prompt::from_bytes("lr", &cursor.into_inner(), None).unwrap();
        let want = 0.4 * 32767.0 / 2f64.sqrt();
        assert!((rms(&p.pcm()[..4000]) / want - 1.0).abs() < 0.01);
    }

    #[test]
    fn resampling_removes_what_would_alias() {
        // 5 kHz is above the new 4 kHz Nyquist: it must be filtered out, not folded to 3 kHz.
        let samples = sine(5000.0, 48_000, 1.0, 0.5);
        let p = Prompt::from_bytes("hf", &wav_bytes(spec(48_000, 1, 16), &samples), None).unwrap();
        let level = rms(middle(&p)) / (0.5 * 32767.0 / 2f64.sqrt());
        assert!(level < 0.01, "aliased level {level}");
    }

    #[test]
    fn other_rates_and_depths() {
        for (rate, bits) in [
            (16_000, 16),
            (22_050, 8),
            (11_025, 24),
            (48_000, 24),
            (8000, 8),
        ] {
            let samples = sine(1000.0, rate, 1.0, 0.6);
            let p = Prompt::from_bytes("x", &wav_bytes(spec(rate, 1, bits), &samples), Some("wav"))
                .unwrap();
            assert!(
                (980..=1000).contains(&p.duration_ms()),
                "{rate}/{bits}: {}",
                p.duration_ms()
            );
            let mid = middle(&p);
            assert!(tone_share(mid, 1000.0) > 0.95, "{rate}/{bits}");
            let want = 0.6 * 32767.0 / 2f64.sqrt();
            assert!(
                (rms(mid) / want - 1.0).abs() < 0.05,
                "{rate}/{bits}: rms {}",
                rms(mid)
            );
        }
        let float = hound::WavSpec {
            channels: 1,
            sample_rate: 32_000,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let p = Prompt::from_bytes(
            "f",
            &wav_bytes(float, &sine(1000.0, 32_000, 1.0, 0.5)),
            None,
        )
        .unwrap();
        assert!(tone_share(middle(&p), 1000.0) > 0.95);
    }

    #[test]
    fn g711_wavs_decode_to_the_same_codes() {
        let pcm: Vec<i16> = sine(700.0, 8000, 0.5, 0.3)
            .iter()
            .map(|s| (s * 32767.0) as i16)
            .collect();
        let mut ulaw = Vec::new();
        g711::encode_ulaw(&pcm, &mut ulaw);
        let p = Prompt::from_bytes("mu", &g711_wav(7, &ulaw), Some("wav")).unwrap();
        assert_eq!(p.duration_ms(), 500);
        assert_eq!(p.encoded(Codec::Pcmu), &ulaw[..]);

        let mut alaw = Vec::new();
        g711::encode_alaw(&pcm, &mut alaw);
        let p = Prompt::from_bytes("a", &g711_wav(6, &alaw), None).unwrap();
        assert_eq!(p.encoded(Codec::Pcma), &alaw[..]);
    }

    #[test]
    fn flac_decodes_and_resamples() {
        let pcm: Vec<i16> = sine(1000.0, 16_000, 1.2, 0.5 * 32767.0)
            .iter()
            .map(|s| s.round() as i16)
            .collect();
        let p = Prompt::from_bytes("flac", &flac_bytes(16_000, &pcm), Some("flac")).unwrap();
        assert_eq!(p.duration_ms(), 1200);
        assert!(tone_share(middle(&p), 1000.0) > 0.95);
        // At 8 kHz the samples come through exactly.
        let pcm8: Vec<i16> = (0..1600).map(|i| ((i * 37) % 2000 - 1000) as i16).collect();
        let p = Prompt::from_bytes("flac8", &flac_bytes(8000, &pcm8), None).unwrap();
        assert_eq!(p.pcm(), &pcm8[..]);
    }

    #[test]
    fn garbage_and_empty_input_are_errors() {
        let garbage = b"this is certainly not an audio file, just some text".repeat(20);
        for hint in [None, Some("wav"), Some("mp3"), Some("flac"), Some("ogg")] {
            let err = Prompt::from_bytes("junk", &garbage, hint).unwrap_err();
            assert!(
                matches!(
                    err,
                    PromptError::Unsupported { .. } | PromptError::Decode { .. }
                ),
                "{hint:?}: {err}"
            );
            assert!(err.to_string().starts_with("prompt junk: "), "{err}");
        }
        let err = Prompt::from_bytes("nothing", &[], Some("wav")).unwrap_err();
        assert!(matches!(err, PromptError::Empty { .. }), "{err}");
        // A valid WAV header with no samples.
        let empty = wav_bytes(spec(8000, 1, 16), &[]);
        let err = Prompt::from_bytes("silent", &empty, Some("wav")).unwrap_err();
        assert_eq!(err.to_string(), "prompt silent: contains no audio");
        // A truncated WAV header.
        let wav = wav_bytes(spec(8000, 1, 16), &sine(440.0, 8000, 0.1, 0.5));
        assert!(Prompt::from_bytes("cut", &wav[..30], Some("wav")).is_err());
        assert!(Prompt::from_pcm("none", Vec::new()).is_err());
    }

    #[test]
    fn random_bytes_never_panic() {
        use rand::{rngs::StdRng, Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(99);
        let wav = wav_bytes(spec(8000, 1, 16), &sine(440.0, 8000, 0.05, 0.5));
        let flac = flac_bytes(8000, &[1, 2, 3, 4]);
        for _ in 0..200 {
            let len = rng.gen_range(0..600);
            let bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            let _ = Prompt::from_bytes("r", &bytes, None);
            // Valid headers followed by corrupt content.
            for base in [&wav, &flac] {
                let mut b = base.clone();
                let at = rng.gen_range(0..b.len());
                b[at] = rng.gen();
                b.truncate(rng.gen_range(at..=b.len()));
                let _ = Prompt::from_bytes("r", &b, None);
            }
        }
    }

    #[test]
    fn from_pcm_pads() {
        let p = Prompt::from_pcm("beep", vec![1000; 200]).unwrap();
        assert_eq!(p.frame_count(), 2);
        assert_eq!(p.duration_ms(), 40);
    }

    #[test]
    fn load_and_load_dir() {
        let dir = TempDir::new();
        let one = sine(1000.0, 8000, 0.5, 0.5);
        std::fs::write(
            dir.0.join("welcome.wav"),
            wav_bytes(spec(8000, 1, 16), &one),
        )
        .unwrap();
        std::fs::write(
            dir.0.join("menu.WAV"),
            wav_bytes(spec(44_100, 2, 16), &sine(1000.0, 44_100, 1.0, 0.5)),
        )
        .unwrap();
        std::fs::write(dir.0.join("info.flac"), flac_bytes(8000, &[100; 800])).unwrap();
        std::fs::write(dir.0.join("notes.txt"), b"not a prompt").unwrap();
        std::fs::create_dir(dir.0.join("sub.wav")).unwrap();

        let p = Prompt::load(&dir.0.join("welcome.wav")).unwrap();
        assert_eq!((p.name(), p.duration_ms()), ("welcome", 500));

        let lib = PromptLibrary::load_dir(&dir.0).unwrap();
        assert_eq!(lib.names(), ["info", "menu", "welcome"]);
        assert_eq!(lib.len(), 3);
        assert!((980..=1000).contains(&lib.get("menu").unwrap().duration_ms()));
        assert_eq!(lib.get("info").unwrap().duration_ms(), 100);
        assert!(lib.get("notes").is_none());
        let shared = lib.get("welcome").unwrap();
        assert!(Arc::ptr_eq(&shared, &lib.get("welcome").unwrap()));

        // Insert replaces by name.
        let mut lib2 = lib.clone();
        let beep = Arc::new(Prompt::from_pcm("welcome", vec![0; 160]).unwrap());
        assert!(lib2.insert(beep).is_some());
        assert_eq!(lib2.get("welcome").unwrap().duration_ms(), 20);
        assert_eq!(lib.get("welcome").unwrap().duration_ms(), 500);

        // A bad file fails the load, naming the file.
        std::fs::write(dir.0.join("broken.mp3"), b"no audio here at all").unwrap();
        let err = PromptLibrary::load_dir(&dir.0).unwrap_err();
        assert!(err.to_string().contains("broken.mp3"), "{err}");
        std::fs::remove_file(dir.0.join("broken.mp3")).unwrap();

        // Two files with the same stem are ambiguous.
        std::fs::write(dir.0.join("info.wav"), wav_bytes(spec(8000, 1, 16), &one)).unwrap();
        let err = PromptLibrary::load_dir(&dir.0).unwrap_err();
        assert!(
            matches!(err, PromptError::Duplicate { ref name, .. } if name == "info"),
            "{err}"
        );

        let err = PromptLibrary::load_dir(&dir.0.join("missing")).unwrap_err();
        assert!(err.to_string().starts_with("prompt directory "), "{err}");
        let err = Prompt::load(&dir.0.join("missing.wav")).unwrap_err();
        assert!(matches!(err, PromptError::Io { .. }));
        assert!(err.to_string().contains("missing.wav"), "{err}");
    }
}
