//! G.711 mu-law and A-law companding (ITU-T G.711) between 16-bit linear PCM and 8-bit codes.
//!
//! mu-law follows the classic Sun/CCITT `g711.c` (bias 0x84, clip 32635, sign-magnitude
//! input); A-law follows the ITU-T G.191 reference (one's complement for negative input,
//! even bits toggled with 0x55), which is the Sun 13-bit variant scaled to 16 bits.
//! Every conversion is one lookup in a table built at compile time: 256 entries to decode or
//! transcode, 8 K (mu-law, by |sample| >> 2) or 2 K (A-law, by magnitude >> 4) to encode.

/// Bias added to the mu-law magnitude before segment search (Sun `g711.c` `BIAS`).
const ULAW_BIAS: i32 = 0x84;
/// Largest mu-law magnitude before the bias is added (Sun `g711.c` `CLIP`).
const ULAW_CLIP: i32 = 32635;

/// Encodes one 16-bit linear sample to a mu-law code (compile-time formula behind the table).
const fn ulaw_encode(s: i16) -> u8 {
    let (mag, mask) = if s < 0 {
        (-(s as i32), 0x7F)
    } else {
        (s as i32, 0xFF)
    };
    let mag = (if mag > ULAW_CLIP { ULAW_CLIP } else { mag }) + ULAW_BIAS; // 132..=32767
                                                                           // Segment = bit length of the biased magnitude minus 8 (0..=7).
    let seg = 24 - (mag as u32).leading_zeros();
    let mant = ((mag as u32) >> (seg + 3)) & 0x0F;
    ((seg << 4) | mant) as u8 ^ mask
}

/// Decodes one mu-law code to 16-bit linear (compile-time formula behind the table).
const fn ulaw_decode(u: u8) -> i16 {
    let u = !u;
    let t = ((((u & 0x0F) as i32) << 3) + ULAW_BIAS) << ((u & 0x70) >> 4);
    if u & 0x80 != 0 {
        (ULAW_BIAS - t) as i16
    } else {
        (t - ULAW_BIAS) as i16
    }
}

/// Encodes one 16-bit linear sample to an A-law code (compile-time formula behind the table).
const fn alaw_encode(s: i16) -> u8 {
    // One's complement for negative values keeps the quantiser symmetric: !s == -s - 1.
    let (mag, mask) = if s >= 0 {
        (s as i32, 0xD5)
    } else {
        (!(s as i32), 0x55)
    };
    let ix = (mag >> 4) as u32; // 12-bit magnitude, 0..=2047
    let exp = 28 - (ix | 0x0F).leading_zeros(); // bit length minus 4, 0..=7
    let shift = if exp == 0 { 0 } else { exp - 1 };
    let code = (exp << 4) | ((ix >> shift) & 0x0F);
    code as u8 ^ mask
}

/// Decodes one A-law code to 16-bit linear (compile-time formula behind the table).
const fn alaw_decode(a: u8) -> i16 {
    let a = a ^ 0x55;
    let seg = ((a & 0x70) >> 4) as u32;
    let mut t = ((a & 0x0F) as i32) << 4;
    if seg == 0 {
        t += 8;
    } else {
        t = (t + 0x108) << (seg - 1);
    }
    if a & 0x80 != 0 {
        t as i16
    } else {
        -t as i16
    }
}

/// mu-law code without the sign mask, by `|s| >> 2` (the code only depends on those bits,
/// since the bias 0x84 is a multiple of 4). Indices past 8192 are unreachable.
const fn ulaw_encode_table() -> [u8; 16384] {
    let mut table = [0u8; 16384];
    let mut i = 0;
    while i < 16384 {
        let mag = if i * 4 > 32767 { 32767 } else { i * 4 };
        // The positive code XOR its mask 0xFF gives the unmasked code.
        table[i] = ulaw_encode(mag as i16) ^ 0xFF;
        i += 1;
    }
    table
}

/// A-law code without the sign mask, by magnitude `>> 4` (0..=2047 reachable).
const fn alaw_encode_table() -> [u8; 4096] {
    let mut table = [0u8; 4096];
    let mut i = 0;
    while i < 4096 {
        let mag = if i * 16 > 32767 { 32767 } else { i * 16 };
        table[i] = alaw_encode(mag as i16) ^ 0xD5;
        i += 1;
    }
    table
}

const fn decode_table(ulaw: bool) -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = if ulaw {
            ulaw_decode(i as u8)
        } else {
            alaw_decode(i as u8)
        };
        i += 1;
    }
    table
}

/// The code of `to_ulaw`'s law whose reconstruction level is nearest `target`; ties go to
/// the code with the sign of the source (`negative`), then to the smaller magnitude.
const fn nearest_code(target: i16, negative: bool, to_ulaw: bool) -> u8 {
    let mut best = 0u8;
    let mut best_key = (i32::MAX, true, i32::MAX);
    let mut c = 0;
    while c < 256 {
        let v = if to_ulaw {
            ulaw_decode(c as u8)
        } else {
            alaw_decode(c as u8)
        } as i32;
        // In both laws a clear top bit means a negative level.
        let key = (
            (v - target as i32).abs(),
            (c & 0x80 == 0) != negative,
            v.abs(),
        );
        let better = key.0 < best_key.0
            || (key.0 == best_key.0
                && ((!key.1 && best_key.1) || (key.1 == best_key.1 && key.2 < best_key.2)));
        if better {
            best = c as u8;
            best_key = key;
        }
        c += 1;
    }
    best
}

/// Transcoding table mapping each code to the other law's nearest reconstruction level.
/// (Going through `linear_to_*` is not enough: at segment edges the G.711 decision
/// thresholds are not midway between levels.)
const fn transcode_table(from_ulaw: bool) -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let level = if from_ulaw {
            ulaw_decode(i as u8)
        } else {
            alaw_decode(i as u8)
        };
        table[i] = nearest_code(level, i & 0x80 == 0, !from_ulaw);
        i += 1;
    }
    table
}

/// Unmasked mu-law code by `|s| >> 2`.
static ULAW_ENCODE: [u8; 16384] = ulaw_encode_table();
/// Unmasked A-law code by magnitude `>> 4`.
static ALAW_ENCODE: [u8; 4096] = alaw_encode_table();
/// mu-law code -> linear sample.
static ULAW_TO_LINEAR: [i16; 256] = decode_table(true);
/// A-law code -> linear sample.
static ALAW_TO_LINEAR: [i16; 256] = decode_table(false);
/// mu-law code -> A-law code of the nearest level.
static ULAW_TO_ALAW: [u8; 256] = transcode_table(true);
/// A-law code -> mu-law code of the nearest reconstruction level.
static ALAW_TO_ULAW: [u8; 256] = transcode_table(false);

/// Encodes one 16-bit linear sample to a mu-law code.
#[inline]
pub fn linear_to_ulaw(s: i16) -> u8 {
    // Sign mask: 0xFF for positive samples, 0x7F for negative ones.
    let mask = 0xFF ^ ((s >> 8) as u8 & 0x80);
    ULAW_ENCODE[usize::from(s.unsigned_abs() >> 2)] ^ mask
}

/// Encodes one 16-bit linear sample to an A-law code.
#[inline]
pub fn linear_to_alaw(s: i16) -> u8 {
    // One's complement for negative values keeps the quantiser symmetric: !s == -s - 1.
    let sign = s >> 15;
    let mag = (s ^ sign) as u16;
    let mask = 0xD5 ^ (sign as u8 & 0x80);
    ALAW_ENCODE[usize::from(mag >> 4)] ^ mask
}

/// Decodes one mu-law code to a 16-bit linear sample.
#[inline]
pub fn ulaw_to_linear(u: u8) -> i16 {
    ULAW_TO_LINEAR[u as usize]
}

/// Decodes one A-law code to a 16-bit linear sample.
#[inline]
pub fn alaw_to_linear(a: u8) -> i16 {
    ALAW_TO_LINEAR[a as usize]
}

/// Transcodes a mu-law code to the A-law code of the nearest level (one table lookup).
#[inline]
pub fn ulaw_to_alaw(u: u8) -> u8 {
    ULAW_TO_ALAW[u as usize]
}

/// Transcodes an A-law code to the mu-law code of the nearest level (one table lookup).
#[inline]
pub fn alaw_to_ulaw(a: u8) -> u8 {
    ALAW_TO_ULAW[a as usize]
}

/// Encodes `pcm` to mu-law, appending one byte per sample to `out`.
pub fn encode_ulaw(pcm: &[i16], out: &mut Vec<u8>) {
    out.extend(pcm.iter().map(|&s| linear_to_ulaw(s)));
}

/// Encodes `pcm` to A-law, appending one byte per sample to `out`.
pub fn encode_alaw(pcm: &[i16], out: &mut Vec<u8>) {
    out.extend(pcm.iter().map(|&s| linear_to_alaw(s)));
}

/// Decodes mu-law `bytes`, appending one sample per byte to `out`.
pub fn decode_ulaw(bytes: &[u8], out: &mut Vec<i16>) {
    out.extend(bytes.iter().map(|&b| ULAW_TO_LINEAR[b as usize]));
}

/// Decodes A-law `bytes`, appending one sample per byte to `out`.
pub fn decode_alaw(bytes: &[u8], out: &mut Vec<i16>) {
    out.extend(bytes.iter().map(|&b| ALAW_TO_LINEAR[b as usize]));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sun `g711.c` `linear2ulaw`, literally: segment search over `seg_end`, no clip.
    fn reference_ulaw(pcm: i16) -> u8 {
        const SEG_END: [i32; 8] = [0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF, 0x3FFF, 0x7FFF];
        let pcm = pcm as i32;
        let (val, mask) = if pcm < 0 {
            (0x84 - pcm, 0x7F)
        } else {
            (pcm + 0x84, 0xFF)
        };
        match SEG_END.iter().position(|&end| val <= end) {
            None => (0x7F ^ mask) as u8,
            Some(seg) => ((((seg as i32) << 4) | ((val >> (seg + 3)) & 0x0F)) ^ mask) as u8,
        }
    }

    /// ITU-T G.191 `alaw_compress`, literally.
    fn reference_alaw(lin: i16) -> u8 {
        let mut ix: i32 = if lin < 0 {
            (!(lin as i32)) >> 4
        } else {
            (lin as i32) >> 4
        };
        if ix > 15 {
            let mut iexp = 1;
            while ix > 16 + 15 {
                ix >>= 1;
                iexp += 1;
            }
            ix -= 16;
            ix += iexp << 4;
        }
        if lin >= 0 {
            ix |= 0x80;
        }
        (ix ^ 0x55) as u8
    }

    /// ITU-T G.191 `alaw_expand`, literally.
    fn reference_alaw_expand(code: u8) -> i16 {
        let ix = (code ^ 0x55) as i32 & 0x7F;
        let iexp = ix >> 4;
        let mut mant = ix & 0x0F;
        if iexp > 0 {
            mant += 16;
        }
        mant = (mant << 4) + 8;
        if iexp > 1 {
            mant <<= iexp - 1;
        }
        if code > 127 {
            mant as i16
        } else {
            -mant as i16
        }
    }

    /// ITU-T G.191 `ulaw_expand`, literally.
    fn reference_ulaw_expand(code: u8) -> i16 {
        let sign = if code < 0x80 { -1 } else { 1 };
        let mantissa = !code as i32;
        let exponent = (mantissa >> 4) & 0x07;
        let segment = exponent + 1;
        let mantissa = mantissa & 0x0F;
        let step = 4 << segment;
        (sign * ((0x80 << exponent) + step * mantissa + step / 2 - 4 * 33)) as i16
    }

    #[test]
    fn tables_match_the_formulas_for_every_sample() {
        for s in i16::MIN..=i16::MAX {
            assert_eq!(linear_to_ulaw(s), ulaw_encode(s), "ulaw {s}");
            assert_eq!(linear_to_alaw(s), alaw_encode(s), "alaw {s}");
        }
    }

    #[test]
    fn ulaw_encoder_matches_sun_reference_for_every_sample() {
        for s in i16::MIN..=i16::MAX {
            assert_eq!(linear_to_ulaw(s), reference_ulaw(s), "sample {s}");
        }
    }

    #[test]
    fn alaw_encoder_matches_g191_reference_for_every_sample() {
        for s in i16::MIN..=i16::MAX {
            assert_eq!(linear_to_alaw(s), reference_alaw(s), "sample {s}");
        }
    }

    #[test]
    fn decoders_match_g191_reference_for_every_code() {
        for c in 0..=255u8 {
            assert_eq!(ulaw_to_linear(c), reference_ulaw_expand(c), "ulaw {c:#04x}");
            assert_eq!(alaw_to_linear(c), reference_alaw_expand(c), "alaw {c:#04x}");
        }
    }

    #[test]
    fn ulaw_known_values() {
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_ulaw(-1), 0x7F);
        assert_eq!(linear_to_ulaw(32767), 0x80);
        assert_eq!(linear_to_ulaw(-32768), 0x00);
        assert_eq!(linear_to_ulaw(4), 0xFE);
        assert_eq!(linear_to_ulaw(-4), 0x7E);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0);
        assert_eq!(ulaw_to_linear(0xFE), 8);
        assert_eq!(ulaw_to_linear(0x7E), -8);
    }

    #[test]
    fn alaw_known_values() {
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(linear_to_alaw(-1), 0x55);
        assert_eq!(linear_to_alaw(32767), 0xAA);
        assert_eq!(linear_to_alaw(-32768), 0x2A);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0x2A), -32256);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0xD4), 24);
        assert_eq!(alaw_to_linear(0xC5), 264);
    }

    #[test]
    fn decode_encode_round_trip_is_identity_on_levels() {
        for c in 0..=255u8 {
            let u = ulaw_to_linear(c);
            assert_eq!(ulaw_to_linear(linear_to_ulaw(u)), u, "ulaw {c:#04x}");
            let a = alaw_to_linear(c);
            assert_eq!(alaw_to_linear(linear_to_alaw(a)), a, "alaw {c:#04x}");
        }
        // Every A-law code is canonical; mu-law has two zeros (0xFF and 0x7F).
        for c in 0..=255u8 {
            assert_eq!(linear_to_alaw(alaw_to_linear(c)), c);
            if c != 0x7F {
                assert_eq!(linear_to_ulaw(ulaw_to_linear(c)), c);
            }
        }
    }

    #[test]
    fn encoding_is_monotonic() {
        let mut last_u = i16::MIN;
        let mut last_a = i16::MIN;
        for s in i16::MIN..=i16::MAX {
            let u = ulaw_to_linear(linear_to_ulaw(s));
            let a = alaw_to_linear(linear_to_alaw(s));
            assert!(u >= last_u, "ulaw not monotonic at {s}");
            assert!(a >= last_a, "alaw not monotonic at {s}");
            last_u = u;
            last_a = a;
        }
    }

    #[test]
    fn quantisation_error_is_within_half_a_step() {
        // The step at magnitude m is at most 1/16 of the segment's top, so the error stays
        // below ~3.2% of the magnitude plus the smallest step.
        for s in i16::MIN..=i16::MAX {
            let m = (s as i32).abs();
            let eu = (ulaw_to_linear(linear_to_ulaw(s)) as i32 - s as i32).abs();
            let ea = (alaw_to_linear(linear_to_alaw(s)) as i32 - s as i32).abs();
            assert!(eu <= 8 + m / 32 || m > 32124, "ulaw error {eu} at {s}");
            assert!(ea <= 16 + m / 32 || m > 32256, "alaw error {ea} at {s}");
        }
    }

    #[test]
    fn transcoding_maps_to_the_nearest_level_keeping_the_sign() {
        for c in 0..=255u8 {
            let lin = ulaw_to_linear(c) as i32;
            let a = ulaw_to_alaw(c);
            let err = (alaw_to_linear(a) as i32 - lin).abs();
            let best = (0..=255u8)
                .map(|x| (alaw_to_linear(x) as i32 - lin).abs())
                .min()
                .unwrap();
            assert_eq!(err, best, "u {c:#04x}");
            assert_eq!(a & 0x80, c & 0x80, "u {c:#04x} keeps its sign");

            let lin = alaw_to_linear(c) as i32;
            let u = alaw_to_ulaw(c);
            let err = (ulaw_to_linear(u) as i32 - lin).abs();
            let best = (0..=255u8)
                .map(|x| (ulaw_to_linear(x) as i32 - lin).abs())
                .min()
                .unwrap();
            assert_eq!(err, best, "a {c:#04x}");
            assert_eq!(u & 0x80, c & 0x80, "a {c:#04x} keeps its sign");
        }
        assert_eq!(ulaw_to_alaw(0xFF), 0xD5);
        assert_eq!(ulaw_to_alaw(0x7F), 0x55);
        assert_eq!(alaw_to_ulaw(0xD5), 0xFE);
        assert_eq!(ulaw_to_alaw(0x80), 0xAA);
        assert_eq!(alaw_to_ulaw(0x2A), 0x00);
        // The segment-edge case where going through linear_to_ulaw would be 252 off.
        assert_eq!(alaw_to_linear(0x0A), -8064);
        assert_eq!(ulaw_to_linear(alaw_to_ulaw(0x0A)), -7932);
        // A mu-law -> A-law -> mu-law round trip never moves more than one mu-law step.
        for c in 0..=255u8 {
            let back = alaw_to_ulaw(ulaw_to_alaw(c));
            let (x, y) = (ulaw_to_linear(c) as i32, ulaw_to_linear(back) as i32);
            assert!(
                (x - y).abs() <= 1024 && (c as i32 - back as i32).abs() <= 1,
                "{c:#04x}"
            );
        }
    }

    #[test]
    fn slice_helpers_append() {
        let pcm = [0i16, -1, 1000, -1000, 32767, -32768];
        let mut u = vec![0xAB];
        encode_ulaw(&pcm, &mut u);
        assert_eq!(u.len(), 7);
        assert_eq!(u[0], 0xAB);
        assert_eq!(&u[1..3], &[0xFF, 0x7F]);
        let mut a = Vec::new();
        encode_alaw(&pcm, &mut a);
        assert_eq!(&a[..2], &[0xD5, 0x55]);

        let mut back = vec![7i16];
        decode_ulaw(&u[1..], &mut back);
        assert_eq!(back.len(), 7);
        assert_eq!(back[0], 7);
        for (orig, dec) in pcm.iter().zip(&back[1..]) {
            assert!(
                (*orig as i32 - *dec as i32).abs() <= 1024,
                "{orig} vs {dec}"
            );
        }
        let mut back = Vec::new();
        decode_alaw(&a, &mut back);
        assert_eq!(back[0], 8);
        assert_eq!(back[1], -8);
    }
}
