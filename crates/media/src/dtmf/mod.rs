//! DTMF digits from the three places callers send them: RFC 4733 RTP events, SIP INFO
//! bodies and in-band tones; the event type they all produce and their shared errors.

pub mod goertzel;
pub mod info;
pub mod rfc4733;

pub use goertzel::{generate_tone, InbandDetector};
pub use info::parse_info_body;
pub use rfc4733::{event_packets, Rfc4733Detector, TelephoneEvent};

/// Where a DTMF digit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfSource {
    /// RTP telephone-event packets (RFC 4733).
    Rfc4733,
    /// A SIP INFO request body (`application/dtmf-relay` or `application/dtmf`).
    SipInfo,
    /// Tones detected in the audio itself.
    InBand,
}

/// One DTMF key press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfEvent {
    /// `0`-`9`, `*`, `#` or `A`-`D`.
    pub digit: char,
    /// How long the key was held, in milliseconds (as reported or measured).
    pub duration_ms: u32,
    /// Where the digit came from.
    pub source: DtmfSource,
}

/// Errors parsing DTMF from the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DtmfError {
    /// A telephone-event payload shorter than its 4-byte header.
    #[error("telephone-event payload is {0} bytes, expected at least 4")]
    ShortPayload(usize),
    /// A SIP INFO content type that carries no DTMF we understand.
    #[error(
        "unsupported DTMF INFO content type {0:?}: expected application/dtmf-relay or application/dtmf"
    )]
    UnsupportedContentType(String),
    /// A SIP INFO body that is not UTF-8 text.
    #[error("DTMF INFO body is not UTF-8 text")]
    NotUtf8,
    /// A SIP INFO body without a signal.
    #[error("DTMF INFO body has no signal: expected \"Signal=<digit>\" or a digit")]
    MissingSignal,
    /// A signal that is not a DTMF digit.
    #[error("bad DTMF signal {0:?}: expected one of 0-9 * # A-D or an event code 0-15")]
    BadSignal(String),
    /// A duration that is not a whole number of milliseconds.
    #[error("bad DTMF duration {0:?}: expected a whole number of milliseconds")]
    BadDuration(String),
}

/// The digit of an RFC 4733 DTMF event code (0-9, 10 = `*`, 11 = `#`, 12-15 = `A`-`D`).
pub fn event_to_digit(code: u8) -> Option<char> {
    match code {
        0..=9 => Some((b'0' + code) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + code - 12) as char),
        _ => None,
    }
}

/// The RFC 4733 event code of a DTMF digit (`a`-`d` are accepted as `A`-`D`).
pub fn digit_to_event(digit: char) -> Option<u8> {
    match digit {
        '0'..='9' => Some(digit as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(digit as u8 - b'A' + 12),
        'a'..='d' => Some(digit as u8 - b'a' + 12),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_codes_map_both_ways() {
        let digits = "0123456789*#ABCD";
        for (code, digit) in digits.chars().enumerate() {
            assert_eq!(event_to_digit(code as u8), Some(digit));
            assert_eq!(digit_to_event(digit), Some(code as u8));
        }
        assert_eq!(digit_to_event('c'), Some(14));
        for code in 16..=255u8 {
            assert_eq!(event_to_digit(code), None);
        }
        for bad in ['E', 'e', ' ', '!', 'x', '\u{e9}'] {
            assert_eq!(digit_to_event(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn errors_say_what_was_expected() {
        let e = DtmfError::BadSignal("Z".into());
        assert_eq!(
            e.to_string(),
            "bad DTMF signal \"Z\": expected one of 0-9 * # A-D or an event code 0-15"
        );
        assert!(DtmfError::ShortPayload(2).to_string().contains("2 bytes"));
    }
}
