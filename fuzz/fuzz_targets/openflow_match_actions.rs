//! OpenFlow matches, actions and instructions from a controller: the decoders never panic, and
//! what decodes re-encodes to bytes that decode again and encode to the same bytes. A TLV map
//! gives tun_metadata0, 1 and 63 a place (4, 8 and 16 bytes), so NXM_NX_TUN_METADATA* decode.
#![no_main]
#![forbid(unsafe_code)]
use libfuzzer_sys::fuzz_target;
use vswitch::flow::tun_metadata::{publish, TlvMap, TlvMapping};
use vswitch::flow::{Action, Instructions, Match};
use vswitch::openflow::actions::{decode_actions, decode_instructions, encode_actions, encode_instructions};
use vswitch::openflow::oxm::{decode_match, decode_nx_match, encode_match, encode_nx_match, fits_v1_0_match};
use vswitch::openflow::{Reader, Version, Writer};

fn stable<T: PartialEq + std::fmt::Debug>(
    value: T,
    encode: impl Fn(&T) -> Vec<u8>,
    decode: impl Fn(&[u8]) -> Result<T, vswitch::openflow::OfError>,
) {
    let once = encode(&value);
    let again = decode(&once).unwrap_or_else(|error| panic!("{value:?} encodes to {once:02x?}, which fails: {error}"));
    assert_eq!(encode(&again), once, "{value:?} then {again:?}");
}

fn oxm(m: &Match) -> Vec<u8> {
    let mut w = Writer::new();
    encode_match(Version::V1_3, m, &mut w);
    w.into_bytes()
}

fn nxm(m: &Match) -> Vec<u8> {
    let mut w = Writer::new();
    encode_nx_match(m, &mut w);
    w.into_bytes()
}

fn ofp10(m: &Match) -> Vec<u8> {
    let mut w = Writer::new();
    encode_match(Version::V1_0, m, &mut w);
    w.into_bytes()
}

fn actions(version: Version) -> impl Fn(&Vec<Action>) -> Vec<u8> {
    move |list| {
        let mut w = Writer::new();
        encode_actions(version, list, &mut w);
        w.into_bytes()
    }
}

fn instructions(version: Version) -> impl Fn(&Instructions) -> Vec<u8> {
    move |set| {
        let mut w = Writer::new();
        encode_instructions(version, set, &mut w);
        w.into_bytes()
    }
}

/// tun_metadata0 (4 bytes), 1 (8) and 63 (16) mapped.
fn map_tun_metadata() {
    static MAPPED: std::sync::Once = std::sync::Once::new();
    MAPPED.call_once(|| {
        let mapping = |kind, len, index| TlvMapping { class: 0xffff, kind, len, index, offset: 0 };
        let mut map = TlvMap::default();
        map.add(&[mapping(1, 4, 0), mapping(2, 8, 1), mapping(3, 16, 63)]).expect("fits");
        publish(&map);
    });
}

fuzz_target!(|data: &[u8]| {
    map_tun_metadata();
    let Some((&selector, bytes)) = data.split_first() else { return };
    // Every version: 1.5 adds the meter action and copy_field, and packet_type in matches.
    let version = [Version::V1_0, Version::V1_3, Version::V1_4, Version::V1_5][usize::from(selector & 3)];
    match selector >> 2 & 3 {
        0 => {
            if let Ok(m) = decode_match(version, &mut Reader::new(bytes)) {
                match version {
                    Version::V1_3 | Version::V1_4 | Version::V1_5 => {
                        stable(m, oxm, |b| decode_match(Version::V1_3, &mut Reader::new(b)));
                    }
                    Version::V1_0 => {
                        assert!(fits_v1_0_match(&m), "{m:?} came from an ofp_match");
                        stable(m, ofp10, |b| decode_match(Version::V1_0, &mut Reader::new(b)));
                    }
                }
            }
        }
        1 => {
            if let Ok(m) = decode_nx_match(&mut Reader::new(bytes), bytes.len()) {
                stable(m, nxm, |b| decode_nx_match(&mut Reader::new(b), b.len()));
            }
        }
        2 => {
            if let Ok(list) = decode_actions(version, &mut Reader::new(bytes), bytes.len()) {
                stable(list, actions(version), |b| decode_actions(version, &mut Reader::new(b), b.len()));
            }
        }
        _ => {
            if let Ok(set) = decode_instructions(version, &mut Reader::new(bytes), bytes.len()) {
                stable(set, instructions(version), |b| decode_instructions(version, &mut Reader::new(b), b.len()));
            }
        }
    }
});
