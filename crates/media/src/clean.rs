//! Cleaning and levelling of uploaded prompts (crisis messages are often
//! recorded over a phone line): decode, resample to 48 kHz, run WebRTC's
//! audio processing (high-pass filter, noise suppression, adaptive gain with
//! limiter), resample to 8 kHz, then check the result (not silent, duration
//! within bounds, not clipped).
//!
//! webrtc-audio-processing 0.5 works on 10 ms frames at 48 kHz only, hence
//! the rubato resampling on both sides. Levelling is done here, not by
//! WebRTC's gain control: on whole files its AGC1 (adaptive and fixed
//! digital modes alike) left the level unchanged in our tests, while the
//! whole recording is known up front, so one gain to a target RMS, capped
//! by the peak, is exact.

use webrtc_audio_processing::{
    Config, InitializationConfig, NoiseSuppression, NoiseSuppressionLevel, Processor,
    NUM_SAMPLES_PER_FRAME,
};

use crate::codec::SAMPLE_RATE;
use crate::prompt::{decode_mono, resample_between, Prompt, PromptError};

const WORK_RATE: u32 = 48_000;
/// Shortest and longest prompt accepted.
pub const MIN_MS: u64 = 300;
/// Longest prompt accepted (10 minutes).
pub const MAX_MS: u64 = 10 * 60 * 1000;
/// Below this RMS (dBFS) after cleaning, the upload is taken as silence.
pub const SILENCE_DBFS: f32 = -45.0;
/// Level the whole recording is brought to (RMS, dBFS), gain capped at
/// [`MAX_GAIN_DB`]; recordings already louder are not turned down.
pub const TARGET_RMS_DBFS: f32 = -20.0;
/// Most gain applied to reach [`TARGET_RMS_DBFS`].
pub const MAX_GAIN_DB: f32 = 30.0;
/// More than this share of samples at full scale in the original: clipped.
pub const MAX_CLIPPED_SHARE: f32 = 0.01;

/// What cleaning measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CleanReport {
    /// Sample rate of the upload, in Hz.
    pub original_rate: u32,
    /// Length after cleaning.
    pub duration_ms: u64,
    /// Loudness of the upload as sent (RMS, dBFS).
    pub original_rms_dbfs: f32,
    /// Loudness after cleaning (RMS, dBFS).
    pub rms_dbfs: f32,
    /// Loudest sample after cleaning (dBFS).
    pub peak_dbfs: f32,
    /// Share of the original's samples at full scale.
    pub clipped_share: f32,
}

/// Why an upload is refused.
#[derive(Debug, thiserror::Error)]
pub enum CleanError {
    /// The file is not audio softswitch can read.
    #[error(transparent)]
    Decode(#[from] PromptError),
    /// The audio could not be filtered or resampled.
    #[error("audio processing failed: {0}")]
    Processing(String),
    /// Too quiet to be speech.
    #[error("the recording is silent (RMS {rms_dbfs:.1} dBFS after cleaning, need above {SILENCE_DBFS} dBFS)")]
    Silent {
        /// Its loudness after cleaning.
        rms_dbfs: f32,
    },
    /// Under [`MIN_MS`].
    #[error("the recording is {ms} ms long: at least {MIN_MS} ms are needed")]
    TooShort {
        /// Its length.
        ms: u64,
    },
    /// Over [`MAX_MS`].
    #[error("the recording is {ms} ms long: at most {MAX_MS} ms are accepted")]
    TooLong {
        /// Its length.
        ms: u64,
    },
    /// Too many samples at full scale in the original.
    #[error("the recording is clipped ({:.1}% of samples at full scale): record it again at a lower level", share * 100.0)]
    Clipped {
        /// Share of its samples at full scale.
        share: f32,
    },
}

fn dbfs(x: f32) -> f32 {
    20.0 * x.max(1e-9).log10()
}

fn rms(s: &[f32]) -> f32 {
    if s.is_empty() {
        return 0.0;
    }
    (s.iter().map(|x| x * x).sum::<f32>() / s.len() as f32).sqrt()
}

/// Decode, clean, level and check an uploaded recording; the prompt (named
/// `name`) and what was measured.
pub fn clean_prompt(
    name: &str,
    data: &[u8],
    hint: Option<&str>,
) -> Result<(Prompt, CleanReport), CleanError> {
    let (mono, rate) = decode_mono(name, data, hint)?;
    let duration_ms = mono.len() as u64 * 1000 / u64::from(rate.max(1));
    if duration_ms < MIN_MS {
        return Err(CleanError::TooShort { ms: duration_ms });
    }
    if duration_ms > MAX_MS {
        return Err(CleanError::TooLong { ms: duration_ms });
    }
    let clipped = mono.iter().filter(|x| x.abs() >= 0.999).count() as f32 / mono.len() as f32;
    if clipped > MAX_CLIPPED_SHARE {
        return Err(CleanError::Clipped { share: clipped });
    }
    let original_rms_dbfs = dbfs(rms(&mono));
    let mut work = resample_between(&mono, rate, WORK_RATE).map_err(CleanError::Processing)?;
    drop(mono);
    process(&mut work)?;
    level(&mut work);
    let out = resample_between(&work, WORK_RATE, SAMPLE_RATE).map_err(CleanError::Processing)?;
    let level = rms(&out);
    let peak = out.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let report = CleanReport {
        original_rate: rate,
        duration_ms,
        original_rms_dbfs,
        rms_dbfs: dbfs(level),
        peak_dbfs: dbfs(peak),
        clipped_share: clipped,
    };
    if report.rms_dbfs < SILENCE_DBFS {
        return Err(CleanError::Silent {
            rms_dbfs: report.rms_dbfs,
        });
    }
    let pcm = out
        .iter()
        .map(|&x| (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect();
    Ok((Prompt::from_pcm(name, pcm)?, report))
}

/// Bring the RMS to [`TARGET_RMS_DBFS`] (at most [`MAX_GAIN_DB`] up, never
/// down), keeping the peak at or below -1 dBFS.
fn level(samples: &mut [f32]) {
    let now = dbfs(rms(samples));
    let peak = samples.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let wanted = (TARGET_RMS_DBFS - now).clamp(0.0, MAX_GAIN_DB);
    let by_peak = if peak > 0.0 {
        dbfs(0.891 / peak)
    } else {
        wanted
    };
    let gain = 10f32.powf(wanted.min(by_peak).max(0.0) / 20.0);
    for s in samples.iter_mut() {
        *s *= gain;
    }
}

/// High-pass filter and noise suppression, in place, 10 ms at a time.
fn process(samples: &mut [f32]) -> Result<(), CleanError> {
    let mut ap = Processor::new(&InitializationConfig {
        num_capture_channels: 1,
        num_render_channels: 1,
        ..InitializationConfig::default()
    })
    .map_err(|e| CleanError::Processing(format!("{e:?}")))?;
    ap.set_config(Config {
        enable_high_pass_filter: true,
        noise_suppression: Some(NoiseSuppression {
            suppression_level: NoiseSuppressionLevel::High,
        }),
        ..Config::default()
    });
    let n = NUM_SAMPLES_PER_FRAME as usize;
    let mut frame = vec![0.0f32; n];
    for chunk in samples.chunks_mut(n) {
        frame[..chunk.len()].copy_from_slice(chunk);
        frame[chunk.len()..].fill(0.0);
        ap.process_capture_frame(&mut frame)
            .map_err(|e| CleanError::Processing(format!("{e:?}")))?;
        let len = chunk.len();
        chunk.copy_from_slice(&frame[..len]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 16-bit mono WAV bytes.
    fn wav(rate: u32, samples: &[f32]) -> Vec<u8> {
        let mut out = Vec::new();
        let data_len = (samples.len() * 2) as u32;
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(36 + data_len).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&rate.to_le_bytes());
        out.extend_from_slice(&(rate * 2).to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&data_len.to_le_bytes());
        for s in samples {
            out.extend_from_slice(&((s * 32767.0) as i16).to_le_bytes());
        }
        out
    }

    /// A quiet, voice-like signal: a gliding harmonic tone with syllable
    /// envelopes, plus a little hiss.
    fn quiet_voice(rate: u32, secs: f32) -> Vec<f32> {
        let n = (rate as f32 * secs) as usize;
        let mut seed = 12345u32;
        (0..n)
            .map(|i| {
                let t = i as f32 / rate as f32;
                let f0 = 140.0 + 30.0 * (t * 1.7).sin();
                let env = (t * 4.0 * std::f32::consts::PI).sin().abs();
                let voice: f32 = (1..6)
                    .map(|h| (2.0 * std::f32::consts::PI * f0 * h as f32 * t).sin() / h as f32)
                    .sum();
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let hiss = ((seed >> 16) as f32 / 32768.0 - 1.0) * 0.002;
                0.03 * env * voice + hiss
            })
            .collect()
    }

    #[test]
    fn a_quiet_phone_recording_is_levelled_up() {
        let data = wav(16_000, &quiet_voice(16_000, 3.0));
        let (p, r) = clean_prompt("crisis", &data, Some("wav")).unwrap();
        assert_eq!(p.name(), "crisis");
        assert!(
            (2900..=3100).contains(&p.duration_ms()),
            "{}",
            p.duration_ms()
        );
        assert!(
            r.rms_dbfs > r.original_rms_dbfs + 3.0,
            "gain applied: {r:?}"
        );
        assert!(r.peak_dbfs <= -0.9, "peak kept under -1 dBFS: {r:?}");
    }

    #[test]
    fn silence_short_and_clipped_are_refused() {
        let silent = wav(8000, &vec![0.0; 16_000]);
        assert!(matches!(
            clean_prompt("x", &silent, Some("wav")),
            Err(CleanError::Silent { .. })
        ));
        let short = wav(8000, &quiet_voice(8000, 0.1));
        assert!(matches!(
            clean_prompt("x", &short, Some("wav")),
            Err(CleanError::TooShort { .. })
        ));
        let clipped: Vec<f32> = quiet_voice(8000, 2.0)
            .iter()
            .map(|x| (x * 1000.0).clamp(-1.0, 1.0))
            .collect();
        assert!(matches!(
            clean_prompt("x", &wav(8000, &clipped), Some("wav")),
            Err(CleanError::Clipped { .. })
        ));
        assert!(matches!(
            clean_prompt("x", b"not audio", None),
            Err(CleanError::Decode(_))
        ));
    }

    #[test]
    fn noise_suppression_and_high_pass_do_act() {
        // Steady hiss plus a 30 Hz hum, 3 s at 48 kHz: the processed last
        // second must be clearly quieter than the input.
        let mut seed = 7u32;
        let mut x: Vec<f32> = (0..48_000 * 3)
            .map(|i| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let hiss = ((seed >> 16) as f32 / 32768.0 - 1.0) * 0.01;
                let hum = 0.05 * (2.0 * std::f32::consts::PI * 30.0 * i as f32 / 48_000.0).sin();
                hiss + hum
            })
            .collect();
        let before = rms(&x[96_000..]);
        process(&mut x).unwrap();
        let after = rms(&x[96_000..]);
        assert!(
            dbfs(after) < dbfs(before) - 6.0,
            "before {} dBFS, after {} dBFS",
            dbfs(before),
            dbfs(after)
        );
    }
}
