//! Tests of prompt loading, conversion and the prompt library.

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
    let p =
        Prompt::from_bytes("s", &wav_bytes(spec(44_100, 2, 16), &samples), Some("wav")).unwrap();
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
