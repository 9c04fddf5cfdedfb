//! OpenFlow messages from a controller: decoding arbitrary bytes never panics, and what
//! decodes re-encodes to bytes that decode to the same message. Every version the switch
//! speaks (the header's version byte: 1.0, 1.3, 1.4, 1.5); the first byte's low two bits pick
//! one half of the time, so the 1.4 and 1.5 layouts (properties, OXS stats, bundles, 1.5's
//! group_mod and packet_out) get explored as much as the others. The bodies of flow monitor
//! requests and replies (NXST/ONFST_FLOW_MONITOR, and 1.4's OFPMP_FLOW_MONITOR) are also fed
//! to their decoders directly, in the format and version the first byte picks, so that they
//! get explored without a valid header.
#![no_main]
#![forbid(unsafe_code)]
use libfuzzer_sys::fuzz_target;
use vswitch::openflow::message::{decode, encode};
use vswitch::openflow::monitor::{nicira, standard, FlowUpdate, MonitorRequest};
use vswitch::openflow::{OfError, Reader, Version, Writer};

/// A flow monitor format's decoders and encoders of request and reply bodies.
struct MonitorFormat {
    decode_requests: fn(Version, &mut Reader) -> Result<Vec<MonitorRequest>, OfError>,
    encode_requests: fn(Version, &[MonitorRequest], &mut Writer),
    decode_updates: fn(Version, &mut Reader) -> Result<Vec<FlowUpdate>, OfError>,
    encode_updates: fn(Version, &[FlowUpdate], &mut Writer),
}

const NICIRA: MonitorFormat = MonitorFormat {
    decode_requests: nicira::decode_requests,
    encode_requests: nicira::encode_requests,
    decode_updates: nicira::decode_updates,
    encode_updates: nicira::encode_updates,
};

const STANDARD: MonitorFormat = MonitorFormat {
    decode_requests: standard::decode_requests,
    encode_requests: standard::encode_requests,
    decode_updates: standard::decode_updates,
    encode_updates: standard::encode_updates,
};

fuzz_target!(|data: &[u8]| {
    let mut bytes = data.to_vec();
    // Make the header's length honest half of the time, so the bodies get explored.
    if bytes.len() >= 8 && bytes.len() <= 0xffff && bytes[2] & 0x80 == 0 {
        let length = bytes.len() as u16;
        bytes[2..4].copy_from_slice(&length.to_be_bytes());
        if bytes[0] & 0x80 == 0 {
            bytes[0] = [1, 4, 5, 6][usize::from(bytes[0] & 3)];
        }
    }
    if let Ok((header, message)) = decode(&bytes) {
        let version = Version::from_wire(header.version).unwrap_or(Version::V1_3);
        if let Ok(encoded) = encode(version, header.xid, &message) {
            let (_, again) = decode(&encoded).expect("an encoded message must decode");
            assert_eq!(again, message);
        }
    }
    if let Some((&selector, body)) = data.split_first() {
        let (format, version) = match selector & 5 {
            0 => (&NICIRA, Version::V1_0),
            1 => (&NICIRA, Version::V1_3),
            4 => (&STANDARD, Version::V1_4),
            _ => (&STANDARD, Version::V1_5),
        };
        if selector & 2 == 0 {
            if let Ok(requests) = (format.decode_requests)(version, &mut Reader::new(body)) {
                let mut w = Writer::new();
                (format.encode_requests)(version, &requests, &mut w);
                let again = (format.decode_requests)(version, &mut Reader::new(w.as_slice()));
                assert_eq!(again.as_ref(), Ok(&requests));
            }
        } else if let Ok(updates) = (format.decode_updates)(version, &mut Reader::new(body)) {
            let mut w = Writer::new();
            (format.encode_updates)(version, &updates, &mut w);
            let again = (format.decode_updates)(version, &mut Reader::new(w.as_slice()));
            assert_eq!(again.as_ref(), Ok(&updates));
        }
    }
});
