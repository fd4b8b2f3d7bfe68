//! In-band DTMF: a Goertzel detector over 8 kHz linear PCM, and a tone generator.
//!
//! The signal is cut into blocks of [`BLOCK`] samples (12.75 ms; the bins are 78 Hz wide, so
//! each neighbouring DTMF frequency falls near the first null of the others). Each block is
//! scored at the 8 DTMF frequencies and accepted as a digit only if all of these hold:
//! - both tones are above a minimum level (about -37 dBm0 each), so silence and line noise
//!   never count;
//! - the chosen row and column each exceed every other row or column by 8 dB;
//! - twist within limits: the row (low) tone at most 8 dB above the column (high) tone
//!   (normal twist), the column at most 4 dB above the row (reverse twist);
//! - the two tones carry at least [`MIN_TONE_SHARE`] of the block's energy. This rejects
//!   speech, music and noise (their energy is spread over many frequencies, including the
//!   harmonics a voice adds) and blocks only partly covered by a tone. So that a tone up to
//!   1.5% off its nominal frequency (the ITU-T Q.24 tolerance) still passes, a block that
//!   falls short is re-scored, from its buffered samples, 1.5% either side of the chosen
//!   row and column; tones 3.5% off are rejected.
//!
//! A digit is confirmed after 2 consecutive blocks agree (about 25 ms of clean tone; a 20 ms
//! blip cannot fill two blocks, a 40 ms tone always does) and released after 2 blocks
//! without it, so a held key is one digit. Digits are reported at release, with the
//! duration measured from the first to the last block that held the tone (12.75 ms
//! resolution); [`InbandDetector::flush`] releases a digit still held when the audio stops.

use super::{DtmfEvent, DtmfSource};

/// Samples per analysis block (12.75 ms at 8 kHz).
pub const BLOCK: usize = 102;
/// Minimum share of the block's energy the two tones must carry.
pub const MIN_TONE_SHARE: f32 = 0.85;
/// Consecutive agreeing blocks needed to confirm a digit.
const CONFIRM_BLOCKS: u32 = 2;
/// Consecutive blocks without the digit needed to release it.
const RELEASE_BLOCKS: u32 = 2;
/// Minimum mean square of each tone: a sine of peak amplitude 300 (about -37.5 dBm0).
const MIN_TONE_POWER: f32 = 300.0 * 300.0 / 2.0;
/// Row (low group) above column (high group): at most 8 dB, as a power ratio.
const MAX_NORMAL_TWIST: f32 = 6.31;
/// Column (high group) above row (low group): at most 4 dB, as a power ratio.
const MAX_REVERSE_TWIST: f32 = 2.51;
/// The chosen row/column must exceed the others by 8 dB, as a power ratio.
const MIN_RELATIVE_PEAK: f32 = 6.31;
/// Relative frequency offset of the extra bins tried when the nominal ones fall short.
const OFFSET: f32 = 0.015;
/// Below this share even the off-frequency bins cannot make up the difference.
const MIN_SHARE_TO_REFINE: f32 = 0.5;

const SAMPLE_RATE: f32 = 8000.0;
/// Low-group (row) frequencies in Hz.
const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
/// High-group (column) frequencies in Hz.
const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
/// The keypad, by row then column.
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// A digit seen in enough blocks to be confirmed and not yet released.
#[derive(Debug, Clone, Copy)]
struct Active {
    digit: char,
    first_block: u64,
    last_block: u64,
}

/// Detects DTMF digits in 8 kHz linear PCM (for example decoded G.711).
#[derive(Debug, Clone)]
pub struct InbandDetector {
    /// Goertzel coefficients 2cos(2 pi f / fs), rows then columns.
    coeffs: [f32; 8],
    s1: [f32; 8],
    s2: [f32; 8],
    energy: f32,
    /// The block's samples, for re-scoring off-frequency.
    block: [i16; BLOCK],
    filled: usize,
    block_index: u64,
    candidate: Option<char>,
    candidate_hits: u32,
    candidate_first: u64,
    active: Option<Active>,
    misses: u32,
}

impl Default for InbandDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl InbandDetector {
    /// A detector at the start of a stream.
    pub fn new() -> Self {
        let mut coeffs = [0.0; 8];
        for (c, f) in coeffs.iter_mut().zip(ROWS.iter().chain(&COLS)) {
            *c = 2.0 * (2.0 * std::f32::consts::PI * f / SAMPLE_RATE).cos();
        }
        InbandDetector {
            coeffs,
            s1: [0.0; 8],
            s2: [0.0; 8],
            energy: 0.0,
            block: [0; BLOCK],
            filled: 0,
            block_index: 0,
            candidate: None,
            candidate_hits: 0,
            candidate_first: 0,
            active: None,
            misses: 0,
        }
    }

    /// Feeds samples (any chunk size) and returns the digits released by them.
    pub fn feed(&mut self, pcm: &[i16]) -> Vec<DtmfEvent> {
        let mut out = Vec::new();
        let mut rest = pcm;
        while !rest.is_empty() {
            let take = (BLOCK - self.filled).min(rest.len());
            let (now, later) = rest.split_at(take);
            self.block[self.filled..self.filled + take].copy_from_slice(now);
            self.accumulate(now);
            self.filled += take;
            rest = later;
            if self.filled == BLOCK {
                let digit = self.finish_block();
                self.on_block(digit, &mut out);
            }
        }
        out
    }

    /// Releases the digit still held when the stream stops (the partial block is dropped).
    pub fn flush(&mut self) -> Option<DtmfEvent> {
        self.reset_block();
        self.candidate = None;
        self.candidate_hits = 0;
        self.misses = 0;
        self.active.take().map(release)
    }

    fn accumulate(&mut self, samples: &[i16]) {
        let c = self.coeffs;
        let mut s1 = self.s1;
        let mut s2 = self.s2;
        let mut energy = self.energy;
        for &x in samples {
            let x = f32::from(x);
            energy += x * x;
            for k in 0..8 {
                let s0 = x + c[k] * s1[k] - s2[k];
                s2[k] = s1[k];
                s1[k] = s0;
            }
        }
        self.s1 = s1;
        self.s2 = s2;
        self.energy = energy;
    }

    fn reset_block(&mut self) {
        self.s1 = [0.0; 8];
        self.s2 = [0.0; 8];
        self.energy = 0.0;
        self.filled = 0;
    }

    /// Scores the finished block; the digit it holds, if it passes every check.
    fn finish_block(&mut self) -> Option<char> {
        let mut power = [0.0f32; 8];
        for (k, p) in power.iter_mut().enumerate() {
            *p = goertzel_power(self.s1[k], self.s2[k], self.coeffs[k]);
        }
        let block_power = self.energy / BLOCK as f32;
        self.reset_block();

        let (row, row_p, row_next) = strongest(&power[..4]);
        let (col, col_p, col_next) = strongest(&power[4..]);
        if row_p < row_next * MIN_RELATIVE_PEAK || col_p < col_next * MIN_RELATIVE_PEAK {
            return None;
        }
        let (mut row_p, mut col_p) = (row_p, col_p);
        let share = (row_p + col_p) / block_power.max(1.0);
        if (MIN_SHARE_TO_REFINE..MIN_TONE_SHARE).contains(&share) {
            for f in [1.0 - OFFSET, 1.0 + OFFSET] {
                row_p = row_p.max(block_power_at(&self.block, ROWS[row] * f));
                col_p = col_p.max(block_power_at(&self.block, COLS[col] * f));
            }
        }
        let accepted = row_p >= MIN_TONE_POWER
            && col_p >= MIN_TONE_POWER
            && row_p + col_p >= MIN_TONE_SHARE * block_power
            && row_p <= col_p * MAX_NORMAL_TWIST
            && col_p <= row_p * MAX_REVERSE_TWIST;
        accepted.then(|| KEYS[row][col])
    }

    fn on_block(&mut self, digit: Option<char>, out: &mut Vec<DtmfEvent>) {
        let index = self.block_index;
        self.block_index += 1;

        if let Some(active) = &mut self.active {
            if digit == Some(active.digit) {
                active.last_block = index;
                self.misses = 0;
            } else {
                self.misses += 1;
                if self.misses >= RELEASE_BLOCKS {
                    out.extend(self.active.take().map(release));
                }
            }
        }

        match digit {
            Some(d) if self.candidate == Some(d) => self.candidate_hits += 1,
            Some(d) => {
                self.candidate = Some(d);
                self.candidate_hits = 1;
                self.candidate_first = index;
            }
            None => {
                self.candidate = None;
                self.candidate_hits = 0;
            }
        }

        if let Some(d) = self.candidate {
            let already = self.active.map(|a| a.digit) == Some(d);
            if self.candidate_hits >= CONFIRM_BLOCKS && !already {
                // Another digit with no gap: the previous one ends here.
                out.extend(self.active.take().map(release));
                self.active = Some(Active {
                    digit: d,
                    first_block: self.candidate_first,
                    last_block: index,
                });
                self.misses = 0;
            }
        }
    }
}

fn release(a: Active) -> DtmfEvent {
    let samples = (a.last_block - a.first_block + 1) * BLOCK as u64;
    DtmfEvent {
        digit: a.digit,
        duration_ms: (samples * 1000 / SAMPLE_RATE as u64) as u32,
        source: DtmfSource::InBand,
    }
}

/// Index and power of the strongest of four, and the strongest of the other three.
fn strongest(p: &[f32]) -> (usize, f32, f32) {
    let mut best = 0;
    for i in 1..p.len() {
        if p[i] > p[best] {
            best = i;
        }
    }
    let second = (0..p.len())
        .filter(|&i| i != best)
        .map(|i| p[i])
        .fold(0.0, f32::max);
    (best, p[best], second)
}

/// Mean square of a sine at the filter's frequency: 2|X|^2 / N^2 from the Goertzel state.
fn goertzel_power(s1: f32, s2: f32, coeff: f32) -> f32 {
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) * (2.0 / (BLOCK * BLOCK) as f32)
}

/// Mean square of a sine at `freq` in a whole block (one-off Goertzel).
fn block_power_at(block: &[i16; BLOCK], freq: f32) -> f32 {
    let coeff = 2.0 * (2.0 * std::f32::consts::PI * freq / SAMPLE_RATE).cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in block {
        let s0 = f32::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    goertzel_power(s1, s2, coeff)
}

/// The row and column frequencies of a digit (`a`-`d` accepted as `A`-`D`).
fn frequencies(digit: char) -> Option<(f32, f32)> {
    let digit = digit.to_ascii_uppercase();
    KEYS.iter().enumerate().find_map(|(r, keys)| {
        keys.iter()
            .position(|&k| k == digit)
            .map(|c| (ROWS[r], COLS[c]))
    })
}

/// Two sines (frequencies in Hz, peak amplitudes) summed and clamped, at 8 kHz.
fn dual_tone(f1: f32, a1: f32, f2: f32, a2: f32, samples: usize) -> Vec<i16> {
    let w1 = 2.0 * std::f64::consts::PI * f64::from(f1) / f64::from(SAMPLE_RATE);
    let w2 = 2.0 * std::f64::consts::PI * f64::from(f2) / f64::from(SAMPLE_RATE);
    (0..samples)
        .map(|n| {
            let n = n as f64;
            let v = f64::from(a1) * (w1 * n).sin() + f64::from(a2) * (w2 * n).sin();
            v.round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
        })
        .collect()
}

/// The DTMF tone pair of `digit` for `duration_ms` at 8 kHz; `amplitude` is the peak of
/// each of the two sines (their sum is clamped to i16). An unknown digit gives silence of
/// the same length. About 7000 is -10 dBm0 per tone, about 1300 is -25 dBm0.
pub fn generate_tone(digit: char, duration_ms: u32, amplitude: i16) -> Vec<i16> {
    let samples = duration_ms as usize * SAMPLE_RATE as usize / 1000;
    match frequencies(digit) {
        Some((row, col)) => dual_tone(
            row,
            f32::from(amplitude),
            col,
            f32::from(amplitude),
            samples,
        ),
        None => vec![0; samples],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Codec;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    /// Peak amplitude of a sine at `dbm0` on the G.711 scale (0 dBm0 = 3.17 dB below full scale).
    fn amplitude(dbm0: f64) -> i16 {
        (22_650.0 * 10f64.powf(dbm0 / 20.0)).round() as i16
    }

    fn silence(ms: u32) -> Vec<i16> {
        vec![0; ms as usize * 8]
    }

    fn through(codec: Codec, pcm: &[i16]) -> Vec<i16> {
        let mut bytes = Vec::new();
        codec.encode(pcm, &mut bytes);
        let mut out = Vec::new();
        codec.decode(&bytes, &mut out);
        out
    }

    fn detect(pcm: &[i16]) -> Vec<DtmfEvent> {
        let mut det = InbandDetector::new();
        let mut out = det.feed(pcm);
        out.extend(det.flush());
        out
    }

    fn digits(events: &[DtmfEvent]) -> String {
        events.iter().map(|e| e.digit).collect()
    }

    #[test]
    fn generated_tone_has_the_right_length_and_level() {
        let t = generate_tone('5', 100, 7000);
        assert_eq!(t.len(), 800);
        let peak = t.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((13_000..=14_000).contains(&peak), "peak {peak}");
        assert!(generate_tone('x', 20, 7000).iter().all(|&s| s == 0));
        assert_eq!(generate_tone('x', 20, 7000).len(), 160);
        assert_eq!(generate_tone('d', 20, 7000), generate_tone('D', 20, 7000));
        // Loud tones are clamped, never wrapped.
        let loud = generate_tone('1', 50, i16::MAX);
        assert!(loud.contains(&i16::MAX) && loud.contains(&i16::MIN));
    }

    #[test]
    fn every_digit_once_through_g711_at_loud_and_quiet_levels() {
        for codec in [Codec::Pcmu, Codec::Pcma] {
            for dbm0 in [-10.0, -25.0] {
                for digit in "0123456789*#ABCD".chars() {
                    let mut pcm = silence(50);
                    pcm.extend(generate_tone(digit, 100, amplitude(dbm0)));
                    pcm.extend(silence(100));
                    let got = detect(&through(codec, &pcm));
                    assert_eq!(digits(&got), digit.to_string(), "{codec} {dbm0} dBm0");
                    let ms = got[0].duration_ms;
                    assert!((75..=128).contains(&ms), "{digit}: {ms} ms");
                    assert_eq!(got[0].source, DtmfSource::InBand);
                }
            }
        }
    }

    #[test]
    fn sequence_with_short_gaps_in_order() {
        let mut pcm = Vec::new();
        for d in "1234#".chars() {
            pcm.extend(generate_tone(d, 70, amplitude(-10.0)));
            pcm.extend(silence(60));
        }
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let mut det = InbandDetector::new();
            // Released as soon as each gap is long enough, without a flush.
            assert_eq!(digits(&det.feed(&through(codec, &pcm))), "1234#", "{codec}");
        }
    }

    #[test]
    fn same_digit_repeated_is_reported_each_time() {
        let mut pcm = Vec::new();
        for _ in 0..3 {
            pcm.extend(generate_tone('5', 60, amplitude(-15.0)));
            pcm.extend(silence(45));
        }
        assert_eq!(digits(&detect(&pcm)), "555");
    }

    #[test]
    fn held_key_is_one_digit_with_its_duration() {
        let mut pcm = generate_tone('8', 2000, amplitude(-12.0));
        pcm.extend(silence(50));
        let got = detect(&through(Codec::Pcmu, &pcm));
        assert_eq!(digits(&got), "8");
        assert!(
            (1980..=2030).contains(&got[0].duration_ms),
            "{}",
            got[0].duration_ms
        );
    }

    #[test]
    fn digit_held_at_end_of_stream_needs_flush() {
        let mut det = InbandDetector::new();
        assert_eq!(det.feed(&generate_tone('3', 200, amplitude(-10.0))), vec![]);
        let ev = det.flush().unwrap();
        assert_eq!(ev.digit, '3');
        assert_eq!(det.flush(), None);
    }

    #[test]
    fn chunk_size_does_not_matter() {
        let mut pcm = silence(13);
        for d in "90*".chars() {
            pcm.extend(generate_tone(d, 80, amplitude(-10.0)));
            pcm.extend(silence(70));
        }
        let whole = detect(&pcm);
        assert_eq!(digits(&whole), "90*");
        for chunk in [1, 7, 101, 102, 103, 160, 1000] {
            let mut det = InbandDetector::new();
            let mut got = Vec::new();
            for c in pcm.chunks(chunk) {
                got.extend(det.feed(c));
            }
            got.extend(det.flush());
            assert_eq!(got, whole, "chunk {chunk}");
        }
    }

    #[test]
    fn forty_ms_tone_detected_at_every_alignment() {
        for offset in (0..BLOCK).step_by(7) {
            let mut pcm = vec![0; offset];
            pcm.extend(generate_tone('6', 40, amplitude(-20.0)));
            pcm.extend(silence(60));
            assert_eq!(digits(&detect(&pcm)), "6", "offset {offset}");
        }
    }

    #[test]
    fn twenty_ms_blip_is_not_a_digit() {
        for offset in 0..BLOCK {
            let mut pcm = vec![0; offset];
            pcm.extend(generate_tone('2', 20, amplitude(-5.0)));
            pcm.extend(silence(60));
            assert_eq!(detect(&pcm), vec![], "offset {offset}");
        }
    }

    #[test]
    fn too_quiet_is_not_a_digit() {
        let mut pcm = generate_tone('1', 200, amplitude(-45.0));
        pcm.extend(silence(50));
        assert_eq!(detect(&through(Codec::Pcmu, &pcm)), vec![]);
    }

    #[test]
    fn twist_limits() {
        let (row, col) = frequencies('5').unwrap();
        let tone = |row_db: f64, col_db: f64| {
            let mut pcm = dual_tone(
                row,
                amplitude(row_db) as f32,
                col,
                amplitude(col_db) as f32,
                1200,
            );
            pcm.extend(silence(50));
            digits(&detect(&pcm))
        };
        assert_eq!(tone(-10.0, -16.0), "5", "6 dB normal twist is accepted");
        assert_eq!(tone(-13.0, -10.0), "5", "3 dB reverse twist is accepted");
        assert_eq!(tone(-6.0, -16.0), "", "10 dB normal twist is rejected");
        assert_eq!(tone(-16.0, -10.0), "", "6 dB reverse twist is rejected");
    }

    #[test]
    fn frequency_tolerance() {
        let off = |digit: char, pct: f32| {
            let (row, col) = frequencies(digit).unwrap();
            let f = 1.0 + pct / 100.0;
            let a = amplitude(-15.0) as f32;
            let mut pcm = dual_tone(row * f, a, col * f, a, 800);
            pcm.extend(silence(50));
            digits(&detect(&through(Codec::Pcmu, &pcm)))
        };
        for digit in "0123456789*#ABCD".chars() {
            for pct in [-1.5, -1.0, 1.0, 1.5] {
                assert_eq!(off(digit, pct), digit.to_string(), "{digit} {pct:+}%");
            }
            for pct in [-3.5, 3.5, -5.0, 5.0] {
                assert_eq!(off(digit, pct), "", "{digit} {pct:+}%");
            }
        }
    }

    #[test]
    fn tone_buried_in_noise_is_rejected() {
        let mut rng = StdRng::seed_from_u64(7);
        let tone = generate_tone('7', 500, amplitude(-20.0));
        let noisy: Vec<i16> = tone
            .iter()
            .map(|&s| s.saturating_add(rng.gen_range(-4000..=4000)))
            .collect();
        assert_eq!(detect(&noisy), vec![]);
        // The same tone with mild noise is still found.
        let mild: Vec<i16> = tone
            .iter()
            .map(|&s| s.saturating_add(rng.gen_range(-150..=150)))
            .collect();
        assert_eq!(digits(&detect(&mild)), "7");
    }

    /// Several seconds of white noise at a few levels.
    fn white_noise(rng: &mut StdRng) -> Vec<i16> {
        let mut out = Vec::new();
        for level in [30, 300, 3000, 20_000] {
            out.extend((0..16_000).map(|_| rng.gen_range(-level..=level) as i16));
        }
        out
    }

    /// Voiced "speech": harmonics of a wandering 100-250 Hz fundamental shaped by three
    /// moving formants, in syllables with pauses.
    fn synthetic_speech(rng: &mut StdRng, seconds: usize) -> Vec<i16> {
        let mut out = Vec::new();
        let mut phase = [0.0f64; 40];
        while out.len() < seconds * 8000 {
            let syllable = rng.gen_range(800..2400);
            let f0_start: f64 = rng.gen_range(100.0..250.0);
            let f0_end: f64 = rng.gen_range(100.0..250.0);
            let formants = [
                (rng.gen_range(250.0..900.0), rng.gen_range(60.0..120.0)),
                (rng.gen_range(800.0..2300.0), rng.gen_range(80.0..160.0)),
                (rng.gen_range(2000.0..3200.0), rng.gen_range(100.0..250.0)),
            ];
            let loud: f64 = rng.gen_range(2000.0..12_000.0);
            for n in 0..syllable {
                let t = n as f64 / syllable as f64;
                let f0 = f0_start + (f0_end - f0_start) * t;
                let envelope = (std::f64::consts::PI * t).sin();
                let mut v = 0.0;
                for (h, ph) in phase.iter_mut().enumerate() {
                    let f = f0 * (h + 1) as f64;
                    if f > 3800.0 {
                        break;
                    }
                    *ph += 2.0 * std::f64::consts::PI * f / 8000.0;
                    let gain: f64 = formants
                        .iter()
                        .map(|&(fc, bw): &(f64, f64)| 1.0 / (1.0 + ((f - fc) / bw).powi(2)))
                        .sum();
                    v += gain * ph.sin() / (h + 1) as f64;
                }
                out.push((v * loud * envelope).clamp(-32768.0, 32767.0) as i16);
            }
            out.extend(silence(rng.gen_range(20..200)));
        }
        out
    }

    /// Linear sweeps across the voice band, up and down, at two speeds.
    fn chirps() -> Vec<i16> {
        let mut out = Vec::new();
        for (from, to, ms) in [
            (300.0, 3400.0, 1000),
            (3400.0, 300.0, 1000),
            (600.0, 1700.0, 3000),
        ] {
            let n = ms * 8;
            let mut ph = 0.0f64;
            for i in 0..n {
                let f = from + (to - from) * i as f64 / n as f64;
                ph += 2.0 * std::f64::consts::PI * f / 8000.0;
                out.push((ph.sin() * 12_000.0) as i16);
            }
        }
        out
    }

    #[test]
    fn no_digits_in_noise_speech_and_call_progress_tones() {
        let mut rng = StdRng::seed_from_u64(0x5eed);
        let signals: Vec<(&str, Vec<i16>)> = vec![
            ("white noise", white_noise(&mut rng)),
            ("speech", synthetic_speech(&mut rng, 20)),
            ("chirps", chirps()),
            ("1 kHz", dual_tone(1000.0, 15_000.0, 1000.0, 0.0, 24_000)),
            ("dial tone", dual_tone(350.0, 7000.0, 440.0, 7000.0, 24_000)),
            ("ringback", dual_tone(440.0, 7000.0, 480.0, 7000.0, 24_000)),
            ("busy", dual_tone(480.0, 7000.0, 620.0, 7000.0, 24_000)),
            ("row pair", dual_tone(697.0, 7000.0, 941.0, 7000.0, 24_000)),
            (
                "col pair",
                dual_tone(1209.0, 7000.0, 1477.0, 7000.0, 24_000),
            ),
        ];
        for (name, pcm) in signals {
            for codec in [Codec::Pcmu, Codec::Pcma] {
                assert_eq!(detect(&through(codec, &pcm)), vec![], "{name} via {codec}");
            }
        }
    }

    #[test]
    fn digits_between_speech_are_still_found() {
        let mut rng = StdRng::seed_from_u64(42);
        let mut pcm = synthetic_speech(&mut rng, 2);
        pcm.extend(silence(30));
        pcm.extend(generate_tone('#', 90, amplitude(-12.0)));
        pcm.extend(silence(30));
        pcm.extend(synthetic_speech(&mut rng, 2));
        assert_eq!(digits(&detect(&through(Codec::Pcma, &pcm))), "#");
    }
}
