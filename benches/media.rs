//! Micro-benchmarks of the per-packet media work: G.711 encoding, in-band DTMF detection
//! and RFC 4733 event handling.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use media::dtmf::{event_packets, generate_tone, InbandDetector, Rfc4733Detector};
use media::g711::{decode_ulaw, encode_alaw, encode_ulaw};

/// One second of a speech-band signal at 8 kHz (a sum of three tones).
fn one_second() -> Vec<i16> {
    (0..8000)
        .map(|n| {
            let t = n as f64 / 8000.0;
            let v = 6000.0 * (2.0 * std::f64::consts::PI * 310.0 * t).sin()
                + 3000.0 * (2.0 * std::f64::consts::PI * 1130.0 * t).sin()
                + 1500.0 * (2.0 * std::f64::consts::PI * 2450.0 * t).sin();
            v as i16
        })
        .collect()
}

fn g711(c: &mut Criterion) {
    let second = one_second();
    let frame = &second[..160];
    let mut out = Vec::with_capacity(8000);

    let mut g = c.benchmark_group("g711");
    g.throughput(Throughput::Elements(160));
    g.bench_function("encode_ulaw/frame", |b| {
        b.iter(|| {
            out.clear();
            encode_ulaw(black_box(frame), &mut out);
            black_box(&out);
        })
    });
    g.bench_function("encode_alaw/frame", |b| {
        b.iter(|| {
            out.clear();
            encode_alaw(black_box(frame), &mut out);
            black_box(&out);
        })
    });
    g.throughput(Throughput::Elements(8000));
    g.bench_function("encode_ulaw/1s", |b| {
        b.iter(|| {
            out.clear();
            encode_ulaw(black_box(&second), &mut out);
            black_box(&out);
        })
    });
    g.bench_function("encode_alaw/1s", |b| {
        b.iter(|| {
            out.clear();
            encode_alaw(black_box(&second), &mut out);
            black_box(&out);
        })
    });
    let mut ulaw = Vec::new();
    encode_ulaw(&second, &mut ulaw);
    let mut pcm = Vec::with_capacity(8000);
    g.bench_function("decode_ulaw/1s", |b| {
        b.iter(|| {
            pcm.clear();
            decode_ulaw(black_box(&ulaw), &mut pcm);
            black_box(&pcm);
        })
    });
    g.finish();
}

fn dtmf(c: &mut Criterion) {
    let mut g = c.benchmark_group("dtmf");
    let speech = one_second();
    let mut keyed = generate_tone('5', 500, 7000);
    keyed.extend([0i16; 4000]);
    g.throughput(Throughput::Elements(8000));
    g.bench_function("goertzel/1s_speech", |b| {
        b.iter(|| {
            let mut det = InbandDetector::new();
            black_box(det.feed(black_box(&speech)));
        })
    });
    g.bench_function("goertzel/1s_digit_in_20ms_frames", |b| {
        b.iter(|| {
            let mut det = InbandDetector::new();
            for frame in keyed.chunks(160) {
                black_box(det.feed(black_box(frame)));
            }
        })
    });

    let packets: Vec<[u8; 4]> = event_packets('7', 100, 20)
        .iter()
        .map(|(_, e)| e.to_bytes())
        .collect();
    let mid = packets[2];
    g.throughput(Throughput::Elements(1));
    let mut det = Rfc4733Detector::new();
    det.on_packet(1000, true, &packets[0]);
    g.bench_function("rfc4733/continuation_packet", |b| {
        b.iter(|| black_box(det.on_packet(black_box(1000), false, black_box(&mid))))
    });
    let mut ts = 0u32;
    let mut det = Rfc4733Detector::new();
    g.throughput(Throughput::Elements(packets.len() as u64));
    g.bench_function("rfc4733/whole_event", |b| {
        b.iter(|| {
            ts = ts.wrapping_add(1600);
            for (i, p) in packets.iter().enumerate() {
                black_box(det.on_packet(ts, i == 0, black_box(p)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, g711, dtmf);
criterion_main!(benches);
