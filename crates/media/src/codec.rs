//! The audio codecs softswitch speaks (G.711 PCMU and PCMA) and their RTP constants.

use crate::g711;

/// RTP clock rate and sample rate of every supported codec, in Hz.
pub const SAMPLE_RATE: u32 = 8000;
/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;
/// Packetisation time of one frame, in milliseconds.
pub const FRAME_MS: u32 = 20;

/// A G.711 codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 mu-law, static RTP payload type 0.
    Pcmu,
    /// G.711 A-law, static RTP payload type 8.
    Pcma,
}

impl Codec {
    /// Every supported codec, in our order of preference.
    pub const ALL: [Codec; 2] = [Codec::Pcmu, Codec::Pcma];

    /// The static RTP payload type (RFC 3551): 0 for PCMU, 8 for PCMA.
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The codec of a static RTP payload type, if it is one we support.
    pub fn from_payload_type(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// The encoding name used in SDP `a=rtpmap`: "PCMU" or "PCMA".
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The codec for an SDP encoding name, compared case-insensitively.
    pub fn from_name(name: &str) -> Option<Codec> {
        Codec::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }

    /// Encodes linear PCM, appending one byte per sample to `out`.
    pub fn encode(self, pcm: &[i16], out: &mut Vec<u8>) {
        match self {
            Codec::Pcmu => g711::encode_ulaw(pcm, out),
            Codec::Pcma => g711::encode_alaw(pcm, out),
        }
    }

    /// Decodes codec bytes, appending one linear sample per byte to `out`.
    pub fn decode(self, bytes: &[u8], out: &mut Vec<i16>) {
        match self {
            Codec::Pcmu => g711::decode_ulaw(bytes, out),
            Codec::Pcma => g711::decode_alaw(bytes, out),
        }
    }

    /// The code of digital silence (linear 0): 0xFF for PCMU, 0xD5 for PCMA.
    pub fn silence(self) -> u8 {
        match self {
            Codec::Pcmu => 0xFF,
            Codec::Pcma => 0xD5,
        }
    }
}

impl std::fmt::Display for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_types_round_trip() {
        assert_eq!(Codec::Pcmu.payload_type(), 0);
        assert_eq!(Codec::Pcma.payload_type(), 8);
        for c in Codec::ALL {
            assert_eq!(Codec::from_payload_type(c.payload_type()), Some(c));
        }
        for pt in (1..=7).chain(9..=127) {
            assert_eq!(Codec::from_payload_type(pt), None, "pt {pt}");
        }
    }

    #[test]
    fn names_are_case_insensitive() {
        assert_eq!(Codec::from_name("PCMU"), Some(Codec::Pcmu));
        assert_eq!(Codec::from_name("pcma"), Some(Codec::Pcma));
        assert_eq!(Codec::from_name("PcMu"), Some(Codec::Pcmu));
        assert_eq!(Codec::from_name("G729"), None);
        assert_eq!(Codec::from_name(""), None);
        assert_eq!(Codec::Pcma.to_string(), "PCMA");
    }

    #[test]
    fn silence_decodes_to_zero_and_is_what_zero_encodes_to() {
        for c in Codec::ALL {
            let mut out = Vec::new();
            c.decode(&[c.silence()], &mut out);
            assert!(out[0].abs() <= 8, "{c}: {}", out[0]);
            let mut enc = Vec::new();
            c.encode(&[0], &mut enc);
            assert_eq!(enc, [c.silence()], "{c}");
        }
    }

    #[test]
    fn encode_decode_frame() {
        let pcm: Vec<i16> = (0..FRAME_SAMPLES)
            .map(|i| ((i as f64 * 0.3).sin() * 10_000.0) as i16)
            .collect();
        for c in Codec::ALL {
            let mut bytes = Vec::new();
            c.encode(&pcm, &mut bytes);
            assert_eq!(bytes.len(), FRAME_SAMPLES);
            let mut back = Vec::new();
            c.decode(&bytes, &mut back);
            for (a, b) in pcm.iter().zip(&back) {
                assert!((*a as i32 - *b as i32).abs() <= 320, "{c}: {a} vs {b}");
            }
        }
        assert_eq!(
            SAMPLE_RATE as usize * FRAME_MS as usize / 1000,
            FRAME_SAMPLES
        );
    }
}
