//! A real softphone as an agent: baresip (Debian `baresip-core`) registers
//! with digest auth, auto-answers the queued call and talks (a 440 Hz tone)
//! while it records what it hears.

mod support;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

const T: Duration = Duration::from_secs(5);

/// One baresip process with its own configuration directory.
struct Baresip {
    child: Child,
    dir: PathBuf,
}

impl Baresip {
    fn start(user: &str, password: &str, softswitch: std::net::SocketAddr, dir: &Path) -> Baresip {
        let which = Command::new("baresip").arg("-h").output();
        assert!(
            which.is_ok(),
            "baresip is not installed: the README's test command installs Debian's baresip-core"
        );
        std::fs::create_dir_all(dir).unwrap();
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // A tone as the microphone, what it hears dumped to WAV (sndfile),
        // played into a bridge device nobody reads.
        let config = format!(
            "poll_method epoll\n\
             sip_listen 127.0.0.1:{port}\n\
             sip_transports udp\n\
             audio_player aubridge,nowhere\n\
             audio_alert aubridge,nowhere\n\
             audio_source ausine,440\n\
             ausrc_srate 48000\n\
             auplay_srate 48000\n\
             ausrc_channels 2\n\
             auplay_channels 2\n\
             module_path /usr/lib/baresip/modules\n\
             module g711.so\n\
             module ausine.so\n\
             module aubridge.so\n\
             module sndfile.so\n\
             snd_path {dir}\n\
             module_app account.so\n\
             module_app menu.so\n",
            dir = dir.display()
        );
        std::fs::write(dir.join("config"), config).unwrap();
        std::fs::write(
            dir.join("accounts"),
            format!(
                "<sip:{user}@{softswitch}>;auth_pass={password};answermode=auto;regint=300;audio_codecs=PCMU\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.join("contacts"), "").unwrap();
        let log = std::fs::File::create(dir.join("baresip.log")).unwrap();
        let child = Command::new("baresip")
            .arg("-f")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start baresip");
        Baresip {
            child,
            dir: dir.to_path_buf(),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("baresip.log")).unwrap_or_default()
    }

    /// The WAV dumps of what it decoded from the network.
    fn heard(&self) -> Vec<PathBuf> {
        std::fs::read_dir(&self.dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("dump-") && n.ends_with("-dec.wav"))
            })
            .collect()
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The PCMU audio arriving on `sock` within `dur`, decoded.
fn read_pcmu(sock: &UdpSocket, dur: Duration) -> Vec<i16> {
    let mut pcm = Vec::new();
    let deadline = Instant::now() + dur;
    let mut buf = [0u8; 2048];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        let Ok((n, _)) = sock.recv_from(&mut buf) else {
            break;
        };
        if n > 12 && buf[1] & 0x7f == 0 {
            media::g711::decode_ulaw(&buf[12..n], &mut pcm);
        }
    }
    pcm
}

/// Mean absolute level of 16-bit samples.
fn level(pcm: &[i16]) -> f64 {
    pcm.iter().map(|s| (*s as f64).abs()).sum::<f64>() / pcm.len().max(1) as f64
}

#[test]
fn baresip_registers_as_an_agent_answers_and_talks() {
    let srv = Server::start_with(queue_options());
    let phone = Baresip::start("agent2", "agent2", srv.udp, &srv.dir.join("baresip"));

    // Registered: the agent becomes offerable.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, agents) = curl(&srv, "GET", "/api/v1/agents", Some(ADMIN_TOKEN), None);
        let a2 = agents["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == "agent2")
            .cloned()
            .unwrap();
        if a2["registered"] == true {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "baresip did not register: {a2}\n--- baresip ---\n{}\n--- softswitch ---\n{}",
            phone.log(),
            srv.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // A caller queues; baresip is rung and answers by itself.
    let mut ua = Ua::udp(srv.udp);
    let mut call = ua.invite("7100", &Offer::default());
    ua.answer(&mut call, T);
    let tone: Vec<i16> = (0..16_000)
        .map(|i| ((i as f64 * 2.0 * std::f64::consts::PI * 1000.0 / 8000.0).sin() * 8000.0) as i16)
        .collect();
    let rtp = call.rtp.try_clone().unwrap();
    let listener = std::thread::spawn(move || read_pcmu(&rtp, Duration::from_millis(4000)));
    // Give the queue a moment to ring and baresip to answer, then speak.
    std::thread::sleep(Duration::from_millis(1500));
    call.send_audio(&tone);
    // The caller hears the phone's 440 Hz tone (PCMU through the bridge).
    let pcm = listener.join().unwrap();
    assert!(
        pcm.len() >= 8000,
        "at least a second of audio from the phone: {} samples\n--- baresip ---\n{}",
        pcm.len(),
        phone.log()
    );
    let tail = &pcm[pcm.len() - 8000..];
    assert!(
        level(tail) > 1000.0,
        "the phone's tone is loud: {}",
        level(tail)
    );

    let bye = ua.request(&mut call, "BYE", "", "");
    assert_eq!(status(&bye), Some(200));
    let rec = srv.record(&call.call_id);
    assert_eq!(rec["outcome"], "answered", "{rec}");
    assert_eq!(rec["agent"], "agent2", "{rec}");
    assert_eq!(rec["offers"][0]["result"], "answered", "{rec}");

    // And the phone heard the caller: its dump of decoded audio is loud.
    let deadline = Instant::now() + T;
    let loud = loop {
        let loud = phone.heard().iter().any(|p| {
            hound::WavReader::open(p).is_ok_and(|mut r| {
                let s: Vec<i16> = r.samples::<i16>().map_while(Result::ok).collect();
                level(&s) > 500.0
            })
        });
        if loud || Instant::now() > deadline {
            break loud;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        loud,
        "baresip heard the caller\n--- baresip ---\n{}",
        phone.log()
    );
}
