//! Rule changes pushed continuously while traffic flows: every `vsctl
//! mod-flows` installs a new table version, and the PMD must switch to it
//! without losing a frame and without forwarding any frame by a rule that
//! no longer exists.
//!
//! p1 replays a pcap file (net_pcap `rx_pcap`, once) of `FRAMES` distinct
//! 64-byte UDP frames, each with its sequence number in its payload; p2
//! writes what it sends to a pcap file (`tx_pcap`). The one rule of the
//! bridge, `in_port=1,actions=mod_dl_src:02:00:00:00:VV:VV,output:2`, is
//! rewritten by a background thread with VV = 1, 2, 3, ... as fast as
//! vsctl returns, while p1 (added at run time with `vsctl add-port`, after
//! the thread started) replays the file. Afterwards: exactly `FRAMES`
//! frames came out, each sequence number once and in order, each frame
//! unchanged but for its source MAC; the version stamped in the source MAC
//! never decreases along the output (one PMD, one queue: frames leave in
//! the order they were processed), is always one a mod-flows set, and is
//! never above the last one applied; many versions show up in the output
//! (the changes overlapped the traffic); the PMD flushed its caches at least
//! once per change; nothing was dropped.
#![forbid(unsafe_code)]
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;
use vswitch_e2e::command::CmdOutput;
use vswitch_e2e::vswitchd::vsctl_at;
use vswitch_e2e::{frames, pcap};
use vswitch_e2e::{wait, PortSpec, SwitchConfig, TestDir, Vswitchd};

/// Frames in the replayed file: enough that the replay lasts long enough
/// for many rule changes (net_pcap reads and writes files one frame at a
/// time, and each change costs the PMD a round of upcalls).
const FRAMES: u32 = 2_000_000;
/// Length of every frame.
const FRAME_LEN: usize = 64;
/// Where the sequence number (u32, big endian) sits: the UDP payload.
const SEQ_AT: usize = 42;
/// The source MAC: bytes 6..12; the version is in its last two bytes.
const SRC_MAC: std::ops::Range<usize> = 6..12;
/// The fixed first four bytes of every stamped source MAC.
const STAMP_PREFIX: [u8; 4] = [0x02, 0, 0, 0];
/// At most this many rule changes...
const MAX_CHANGES: u16 = 2000;
/// ...and for at most this long.
const CHANGE_WINDOW: Duration = Duration::from_secs(3);
/// How long the whole replay may take.
const REPLAY_LIMIT: Duration = Duration::from_secs(60);
/// Fewest distinct versions the output must show.
const MIN_VERSIONS_SEEN: usize = 5;

/// The rule of version `version`.
fn rule(version: u16) -> String {
    let [high, low] = version.to_be_bytes();
    format!("in_port=1,actions=mod_dl_src:02:00:00:00:{high:02x}:{low:02x},output:2")
}

/// `vsctl --json pmd-stats`, the part checked here.
#[derive(Debug, Deserialize)]
struct PmdStatsReply {
    pmds: Vec<PmdStats>,
}

#[derive(Debug, Deserialize)]
struct PmdStats {
    cache_flushes: u64,
    revalidations: u64,
    upcalls: u64,
}

fn pmd_stats(switch: &Vswitchd) -> PmdStatsReply {
    switch.json(&["pmd-stats"])
}

/// Datapath versions the PMDs took: each either flushed or revalidated their caches.
fn versions_taken(stats: &PmdStatsReply) -> u64 {
    stats.pmds.iter().map(|p| p.cache_flushes + p.revalidations).sum()
}

/// What the changer thread did.
#[derive(Debug, Default)]
struct Changes {
    /// Versions whose mod-flows succeeded, in order (0 is the initial rule).
    applied: Vec<u16>,
    /// The first mod-flows that failed, if one did.
    failure: Option<(u16, String)>,
    took: Duration,
}

/// Runs mod-flows with versions 1, 2, 3, ... until `stop` is set, or
/// `MAX_CHANGES` or `CHANGE_WINDOW` is reached, or one fails.
fn change_rules(socket: &Path, stop: &AtomicBool) -> Changes {
    let started = Instant::now();
    let mut changes = Changes { applied: vec![0], ..Changes::default() };
    for version in 1..=MAX_CHANGES {
        if stop.load(Ordering::Acquire) || started.elapsed() >= CHANGE_WINDOW {
            break;
        }
        let output: CmdOutput = vsctl_at(socket, &["mod-flows", "br0", &rule(version)]);
        if !output.success() {
            changes.failure = Some((version, output.to_string()));
            break;
        }
        changes.applied.push(version);
    }
    changes.took = started.elapsed();
    changes
}

#[test]
fn rule_changes_under_traffic_lose_nothing_and_never_go_back() {
    let dir = TestDir::new("table_versions");
    let (input, output) = (dir.join("in.pcap"), dir.join("out.pcap"));
    let generated = Instant::now();
    let frames_in: Vec<Vec<u8>> = (0..FRAMES).map(|i| frames::numbered_udp_frame(1, i, FRAME_LEN)).collect();
    for (i, frame) in frames_in.iter().enumerate().step_by(99_991) {
        assert_eq!(frame[SEQ_AT..SEQ_AT + 4], u32::try_from(i).unwrap().to_be_bytes(), "sequence number of frame {i}");
    }
    pcap::write(&input, &frames_in);
    eprintln!("generated {FRAMES} frames of {FRAME_LEN} bytes in {:?}", generated.elapsed());

    let config =
        SwitchConfig::new(&dir).port(PortSpec::dpdk("p2", 2, &format!("net_pcap1,tx_pcap={}", output.display())));
    let switch = Vswitchd::start(&dir, &config);
    // At run time: the configuration file may not name a port it lacks.
    switch.vsctl_ok(&["add-flow", "br0", &format!("priority=10,{}", rule(0))]);
    let versions_before = versions_taken(&pmd_stats(&switch));

    let stop = AtomicBool::new(false);
    let socket = switch.socket().to_owned();
    let (changes, replay, last_stats) = std::thread::scope(|scope| {
        let changer = scope.spawn(|| change_rules(&socket, &stop));
        // Traffic starts once the changer runs.
        let started = Instant::now();
        let devargs = format!("devargs=net_pcap0,rx_pcap={}", input.display());
        let added = switch.vsctl(&["add-port", "br0", "p1", "type=dpdk", &devargs, "ofport=1"]);
        let mut last = None;
        let done = added.success()
            && wait::poll(REPLAY_LIMIT, || {
                let stats = switch.port_stats();
                let finished = stats.get("p1").is_some_and(|p| p.rx_packets >= u64::from(FRAMES))
                    && stats.port("p2").tx_packets >= u64::from(FRAMES);
                last = Some(stats);
                finished.then_some(())
            })
            .is_some();
        let replay = started.elapsed();
        stop.store(true, Ordering::Release);
        let changes = changer.join().expect("the changer thread panicked");
        assert!(added.success(), "add-port p1 failed:\n{added}");
        assert!(done, "p1 did not replay {FRAMES} frames to p2 within {REPLAY_LIMIT:?}; last counters: {last:#?}");
        (changes, replay, last)
    });
    if let Some((version, failure)) = &changes.failure {
        panic!("mod-flows of version {version} failed:\n{failure}");
    }
    let highest = *changes.applied.last().expect("version 0");
    std::thread::sleep(Duration::from_millis(200));
    let stats = switch.port_stats();
    let pmds = pmd_stats(&switch);
    let versions = versions_taken(&pmds) - versions_before;
    let flushes: u64 = pmds.pmds.iter().map(|p| p.cache_flushes).sum();
    let upcalls: u64 = pmds.pmds.iter().map(|p| p.upcalls).sum();
    let dump = switch.vsctl_ok(&["dump-flows", "br0"]);
    switch.stop();

    let (p1, p2) = (stats.port("p1"), stats.port("p2"));
    eprintln!(
        "replay of {FRAMES} frames: {replay:?}; {} mod-flows in {:?} (highest version {highest}); \
         {versions} versions taken, {flushes} cache flushes (since start), {upcalls} upcalls",
        changes.applied.len() - 1,
        changes.took
    );
    assert_eq!(p1.rx_packets, u64::from(FRAMES), "p1: {p1:?} (before: {last_stats:?})");
    assert_eq!(p2.tx_packets, u64::from(FRAMES), "p2 sent more or less than p1 received: {p2:?}");
    assert_eq!((p1.all_drops(), p2.all_drops()), (0, 0), "drops: {p1:?} {p2:?}");
    let [high, low] = highest.to_be_bytes();
    let last_mac = format!("02:00:00:00:{high:02x}:{low:02x}");
    assert!(dump.contains(&last_mac), "the last rule ({last_mac}) is installed:\n{dump}");
    assert!(
        versions >= (changes.applied.len() - 1) as u64,
        "{versions} datapath versions taken for {} rule changes: {pmds:?}",
        changes.applied.len() - 1
    );

    let out = pcap::read(&output);
    let applied: BTreeSet<u16> = changes.applied.iter().copied().collect();
    let mut seen = vec![false; FRAMES as usize];
    let mut versions = Vec::<(u16, usize)>::new(); // (version, first output index)
    let mut previous = 0u16;
    for (index, frame) in out.iter().enumerate() {
        assert_eq!(frame.len(), FRAME_LEN, "out.pcap frame {index}: length");
        let seq = u32::from_be_bytes(frame[SEQ_AT..SEQ_AT + 4].try_into().expect("4 bytes"));
        assert!(seq < FRAMES, "out.pcap frame {index}: sequence number {seq} was never sent");
        assert!(!seen[seq as usize], "out.pcap frame {index}: sequence number {seq} a second time");
        seen[seq as usize] = true;
        assert_eq!(seq as usize, index, "out.pcap frame {index} is sequence number {seq}: out of order");
        let sent = &frames_in[seq as usize];
        let src = &frame[SRC_MAC];
        assert_eq!(src[..4], STAMP_PREFIX, "out.pcap frame {index} (seq {seq}): source MAC {src:02x?} not stamped");
        let version = u16::from_be_bytes([src[4], src[5]]);
        let mut expected = sent.clone();
        expected[SRC_MAC].copy_from_slice(frame.get(SRC_MAC).expect("checked length"));
        assert!(
            *frame == expected,
            "out.pcap frame {index} (seq {seq}): changed elsewhere than the source MAC:\n sent {sent:02x?}\n got  {frame:02x?}"
        );
        assert!(
            applied.contains(&version),
            "out.pcap frame {index} (seq {seq}): version {version} was never set by a mod-flows that succeeded \
             (highest {highest})"
        );
        assert!(
            version >= previous,
            "out.pcap frame {index} (seq {seq}): version {version} after version {previous}: forwarded by a rule \
             that was already replaced"
        );
        if versions.last().map(|&(v, _)| v) != Some(version) {
            versions.push((version, index));
        }
        previous = version;
    }
    let missing = seen.iter().filter(|&&s| !s).count();
    assert_eq!(out.len(), FRAMES as usize, "out.pcap: {} frames, {missing} sequence numbers missing", out.len());
    assert!(previous <= highest, "version {previous} above the highest applied, {highest}");
    eprintln!(
        "{} versions seen in the output, from {} to {}; first output index of each: {:?}",
        versions.len(),
        versions.first().map_or(0, |v| v.0),
        previous,
        &versions[..versions.len().min(40)]
    );
    assert!(
        versions.len() >= MIN_VERSIONS_SEEN,
        "only {} versions in the output ({versions:?}): the rule changes did not overlap the traffic \
         ({} changes in {:?}, replay {replay:?})",
        versions.len(),
        changes.applied.len() - 1,
        changes.took
    );
}
