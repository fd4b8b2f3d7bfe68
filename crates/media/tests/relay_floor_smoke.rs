//! The relay_floor example (`benches/relay_floor.rs`) runs here for a
//! second in each mode, with a hundred sockets, so it does not rot. Nothing
//! about speed is asserted (benchmarks are not tests): only that packets
//! went round.

use std::path::PathBuf;
use std::process::Command;

/// `cargo test` builds the examples beside the test executables:
/// target/<profile>/deps/<this test> and target/<profile>/examples/.
fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    profile_dir.join("examples").join("relay_floor")
}

/// The number before `word` in `line`.
fn count_before(line: &str, word: &str) -> u64 {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| w.starts_with(word))
        .unwrap_or_else(|| panic!("no {word:?} in {line}"));
    words[at - 1]
        .parse()
        .unwrap_or_else(|_| panic!("no count before {word:?} in {line}"))
}

#[test]
fn relay_floor_runs_in_every_mode() {
    let bin = example();
    assert!(bin.exists(), "{} not built", bin.display());
    for mode in ["send", "epoll", "uring"] {
        let out = Command::new(&bin)
            .args([mode, "100", "1"])
            .output()
            .expect("run relay_floor");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if mode == "uring" && !out.status.success() && stderr.contains("io_uring setup") {
            // A kernel or container without io_uring: the tool says so.
            eprintln!("io_uring unavailable here: {stderr}");
            continue;
        }
        assert!(out.status.success(), "{mode}: {stdout}\n{stderr}");
        let line = stdout.trim();
        assert!(
            line.starts_with(&format!("relay_floor {mode} sockets=100:")),
            "{line}"
        );
        // 100 sockets, 5 packets a millisecond, for a second.
        let moved = count_before(line, "packets");
        assert!(moved > 1_000, "{line}");
        let echoes: u64 = line
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no echo count in {line}"));
        assert!(echoes > 0, "the pacer got packets back: {line}");
        assert!(echoes <= moved, "{line}");
    }
}
