//! `softswitch ha1 --user U [--realm R]`: print `MD5(U:R:password)` for an
//! `ha1 = "..."` key, the password read from standard input (never from
//! the command line, where `ps` and shell history would keep it). On a
//! terminal it is asked for without echo.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

pub fn run(user: &str, realm: &str) -> ExitCode {
    if user.is_empty() {
        eprintln!("softswitch ha1: --user must not be empty");
        return ExitCode::FAILURE;
    }
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        eprint!("SIP password of {user} (realm {realm}): ");
        let _ = std::io::stderr().flush();
        let echo = EchoOff::new();
        let line = read_line(&mut stdin.lock());
        drop(echo);
        eprintln!();
        line
    } else {
        read_line(&mut stdin.lock())
    };
    match password {
        Ok(p) if !p.is_empty() => {
            println!("{}", sip::auth::ha1(user, realm, &p));
            ExitCode::SUCCESS
        }
        Ok(_) => {
            eprintln!("softswitch ha1: empty password on standard input");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("softswitch ha1: cannot read the password from standard input: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The first line, without its line end.
fn read_line(r: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let end = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(end);
    Ok(line)
}

/// The terminal's echo, off while this lives.
struct EchoOff(Option<libc::termios>);

impl EchoOff {
    fn new() -> EchoOff {
        // SAFETY: termios is plain data; tcgetattr fills it for fd 0 or fails.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return EchoOff(None);
            }
            let saved = t;
            t.c_lflag &= !libc::ECHO;
            if libc::tcsetattr(0, libc::TCSANOW, &t) != 0 {
                return EchoOff(None);
            }
            EchoOff(Some(saved))
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            // SAFETY: restores the settings tcgetattr returned.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_the_first_line_without_its_end() {
        for (input, want) in [
            ("secret\n", "secret"),
            ("secret\r\nmore\n", "secret"),
            ("with space \n", "with space "),
            ("no newline", "no newline"),
            ("", ""),
        ] {
            assert_eq!(read_line(&mut input.as_bytes()).unwrap(), want, "{input:?}");
        }
    }
}
