//! DTMF carried in SIP INFO bodies: `application/dtmf-relay` and `application/dtmf`.

use super::{digit_to_event, event_to_digit, DtmfError, DtmfEvent, DtmfSource};

/// Duration assumed when a body does not give one, in milliseconds.
pub const DEFAULT_DURATION_MS: u32 = 250;

/// Parses the body of a SIP INFO request carrying one DTMF digit.
///
/// `content_type` is the Content-Type header value, compared case-insensitively with any
/// parameters after `;` ignored. `application/dtmf-relay` bodies are `key=value` lines
/// (`Signal=5`, `Duration=160`; keys case-insensitive, whitespace and CRLF or LF tolerated,
/// unknown keys ignored); the signal is a digit (`0`-`9`, `*`, `#`, `A`-`D`) or its event
/// code (`10` = `*`, `11` = `#`, ...), the duration is in milliseconds and defaults to
/// [`DEFAULT_DURATION_MS`]. `application/dtmf` bodies are just the digit or event code.
pub fn parse_info_body(content_type: &str, body: &[u8]) -> Result<DtmfEvent, DtmfError> {
    let mime = content_type.split(';').next().unwrap_or("").trim();
    let text = std::str::from_utf8(body).map_err(|_| DtmfError::NotUtf8)?;
    let (digit, duration_ms) = if mime.eq_ignore_ascii_case("application/dtmf-relay") {
        parse_relay(text)?
    } else if mime.eq_ignore_ascii_case("application/dtmf") {
        let signal = text.trim();
        if signal.is_empty() {
            return Err(DtmfError::MissingSignal);
        }
        (parse_signal(signal)?, DEFAULT_DURATION_MS)
    } else {
        return Err(DtmfError::UnsupportedContentType(
            content_type.trim().to_string(),
        ));
    };
    Ok(DtmfEvent {
        digit,
        duration_ms,
        source: DtmfSource::SipInfo,
    })
}

fn parse_relay(text: &str) -> Result<(char, u32), DtmfError> {
    let mut signal = None;
    let mut duration = DEFAULT_DURATION_MS;
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            k if k.eq_ignore_ascii_case("signal") => {
                if value.is_empty() {
                    return Err(DtmfError::MissingSignal);
                }
                signal = Some(parse_signal(value)?);
            }
            k if k.eq_ignore_ascii_case("duration") => {
                duration = value
                    .parse()
                    .map_err(|_| DtmfError::BadDuration(value.to_string()))?;
            }
            _ => {}
        }
    }
    Ok((signal.ok_or(DtmfError::MissingSignal)?, duration))
}

/// A digit, or an event code 0-15.
fn parse_signal(value: &str) -> Result<char, DtmfError> {
    let bad = || DtmfError::BadSignal(value.to_string());
    let mut chars = value.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => {
            let code = digit_to_event(c).ok_or_else(bad)?;
            event_to_digit(code).ok_or_else(bad)
        }
        _ => {
            let code: u8 = value.parse().map_err(|_| bad())?;
            event_to_digit(code).ok_or_else(bad)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(body: &str) -> Result<DtmfEvent, DtmfError> {
        parse_info_body("application/dtmf-relay", body.as_bytes())
    }

    #[test]
    fn dtmf_relay_basic() {
        let ev = relay("Signal=5\r\nDuration=160\r\n").unwrap();
        assert_eq!(
            ev,
            DtmfEvent {
                digit: '5',
                duration_ms: 160,
                source: DtmfSource::SipInfo
            }
        );
    }

    #[test]
    fn dtmf_relay_tolerates_case_whitespace_and_lf() {
        let ev = relay("  signal = #  \nDURATION= 100\n").unwrap();
        assert_eq!((ev.digit, ev.duration_ms), ('#', 100));
        let ev = relay("Signal=*").unwrap();
        assert_eq!((ev.digit, ev.duration_ms), ('*', 250));
        let ev = relay("Signal= d\r\n").unwrap();
        assert_eq!(ev.digit, 'D');
        // Unknown keys and junk lines are ignored.
        let ev = relay("Foo=bar\r\njunk\r\nSignal=0\r\n\r\n").unwrap();
        assert_eq!(ev.digit, '0');
    }

    #[test]
    fn dtmf_relay_numeric_event_codes() {
        assert_eq!(relay("Signal=10").unwrap().digit, '*');
        assert_eq!(relay("Signal=11").unwrap().digit, '#');
        assert_eq!(relay("Signal=12").unwrap().digit, 'A');
        assert_eq!(relay("Signal=15").unwrap().digit, 'D');
        assert_eq!(relay("Signal=7").unwrap().digit, '7');
        assert_eq!(relay("Signal=16"), Err(DtmfError::BadSignal("16".into())));
    }

    #[test]
    fn dtmf_relay_errors() {
        assert_eq!(relay(""), Err(DtmfError::MissingSignal));
        assert_eq!(relay("Duration=100\r\n"), Err(DtmfError::MissingSignal));
        assert_eq!(relay("Signal=\r\n"), Err(DtmfError::MissingSignal));
        assert_eq!(relay("Signal=E"), Err(DtmfError::BadSignal("E".into())));
        assert_eq!(relay("Signal=!"), Err(DtmfError::BadSignal("!".into())));
        assert_eq!(relay("Signal=55"), Err(DtmfError::BadSignal("55".into())));
        assert_eq!(
            relay("Signal=1\r\nDuration=long\r\n"),
            Err(DtmfError::BadDuration("long".into()))
        );
        assert_eq!(
            relay("Signal=1\r\nDuration=-5\r\n"),
            Err(DtmfError::BadDuration("-5".into()))
        );
        assert_eq!(
            parse_info_body("application/dtmf-relay", &[0xFF, 0xFE]),
            Err(DtmfError::NotUtf8)
        );
    }

    #[test]
    fn content_type_is_case_insensitive_and_parameters_ignored() {
        let body = b"Signal=9\r\nDuration=200\r\n";
        let ev = parse_info_body("Application/DTMF-Relay; charset=utf-8", body).unwrap();
        assert_eq!((ev.digit, ev.duration_ms), ('9', 200));
        let ev = parse_info_body("  application/dtmf-relay  ", body).unwrap();
        assert_eq!(ev.digit, '9');
    }

    #[test]
    fn application_dtmf() {
        let ev = parse_info_body("application/dtmf", b"4").unwrap();
        assert_eq!(
            ev,
            DtmfEvent {
                digit: '4',
                duration_ms: 250,
                source: DtmfSource::SipInfo
            }
        );
        assert_eq!(
            parse_info_body("APPLICATION/DTMF", b" #\r\n")
                .unwrap()
                .digit,
            '#'
        );
        assert_eq!(
            parse_info_body("application/dtmf", b"11").unwrap().digit,
            '#'
        );
        assert_eq!(
            parse_info_body("application/dtmf", b"\r\n"),
            Err(DtmfError::MissingSignal)
        );
        assert_eq!(
            parse_info_body("application/dtmf", b"12x"),
            Err(DtmfError::BadSignal("12x".into()))
        );
    }

    #[test]
    fn unsupported_content_types() {
        for ct in [
            "application/sdp",
            "text/plain",
            "",
            "application/dtmf-relayx",
        ] {
            assert_eq!(
                parse_info_body(ct, b"Signal=1"),
                Err(DtmfError::UnsupportedContentType(ct.into())),
                "{ct}"
            );
        }
        let err = parse_info_body("application/media_control+xml", b"").unwrap_err();
        assert!(err.to_string().contains("application/media_control+xml"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(ct in "[a-zA-Z/;= -]{0,30}", body in proptest::collection::vec(0u8..=255, 0..64)) {
            let _ = parse_info_body(&ct, &body);
            let _ = parse_info_body("application/dtmf-relay", &body);
            let _ = parse_info_body("application/dtmf", &body);
        }
    }
}
