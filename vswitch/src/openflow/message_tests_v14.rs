//! Tests of the OpenFlow 1.4 and 1.5 codec: every message whose layout 1.4 or 1.5 changed round
//! trips, and what the switch sends in those versions is what Open vSwitch's decoder
//! (`ovs-ofctl ofp-print`, when installed) reads, field by field as it prints them.

use crate::flow::key::Field;
use crate::flow::{parse_add_flow, Action, Instructions, OfPort, PacketInReason, Subfield};

use super::message::*;
use super::message_tests::{hex, in_port_match, ofp_print, port, port_stats};
use super::multipart::*;
use super::nicira::*;
use super::wire::{ErrorType, Version};

fn flow_stats() -> FlowStats {
    FlowStats {
        table_id: 1,
        duration_sec: 5,
        duration_nsec: 500_000_000,
        priority: 100,
        idle_timeout: 10,
        hard_timeout: 20,
        flags: FlowModFlags { send_flow_rem: true, ..FlowModFlags::default() },
        cookie: 0x123,
        packet_count: 7,
        byte_count: 700,
        idle_age: 0,
        hard_age: 0,
        matches: in_port_match(1),
        instructions: Instructions { meter: Some(3), ..parse_add_flow("actions=output:2").unwrap().instructions },
    }
}

/// The flow_mod of [`flow_stats`]'s rule.
fn flow_mod() -> FlowMod {
    let flow = flow_stats();
    FlowMod {
        cookie: flow.cookie,
        cookie_mask: 0,
        table_id: flow.table_id,
        command: FlowModCommand::Add,
        idle_timeout: flow.idle_timeout,
        hard_timeout: flow.hard_timeout,
        priority: flow.priority,
        buffer_id: NO_BUFFER,
        out_port: OfPort::NONE,
        out_group: GROUP_ANY,
        flags: flow.flags,
        matches: flow.matches,
        instructions: flow.instructions,
    }
}

fn flow_removed() -> FlowRemoved {
    FlowRemoved {
        cookie: 0x55,
        priority: 9,
        reason: FlowRemovedReason::Delete,
        table_id: 2,
        duration_sec: 3,
        duration_nsec: 4,
        idle_timeout: 5,
        hard_timeout: 6,
        packet_count: 7,
        byte_count: 8,
        matches: in_port_match(3),
    }
}

fn bucket(id: u32, weight: u16, port: u32) -> Bucket {
    Bucket { id, weight, watch_port: OfPort::NONE, watch_group: GROUP_ANY, actions: vec![Action::output(OfPort(port))] }
}

fn reply(body: ReplyBody) -> Message {
    Message::MultipartReply(MultipartReply { more: false, body })
}

fn request(body: RequestBody) -> Message {
    Message::MultipartRequest(MultipartRequest { more: false, body })
}

/// Messages of 1.4 and 1.5 with what `ovs-ofctl ofp-print` must print for them.
fn samples() -> Vec<(Version, Message, &'static [&'static str])> {
    let (v14, v15) = (Version::V1_4, Version::V1_5);
    let copy = Action::Move { src: Subfield::whole(Field::DlSrc), dst: Subfield::whole(Field::DlDst) };
    vec![
        (v14, Message::PortStatus(PortStatus { reason: PortReason::Modify, port: port(1) }), &[
            "OFPT_PORT_STATUS (OF1.4)",
            "MOD: 1(p1): addr:00:11:22:33:44:01",
            "current:    1GB-FD COPPER AUTO_NEG",
            "speed: 10000 Mbps now, 10000 Mbps max",
        ]),
        (v14, reply(ReplyBody::PortDesc(vec![port(1), port(2)])), &["OFPST_PORT_DESC reply (OF1.4)", "2(p2): addr:00:11:22:33:44:02"]),
        (v14, reply(ReplyBody::PortStats(vec![PortStats { duration_sec: 13, duration_nsec: 14, ..port_stats(OfPort(1)) }])), &[
            "OFPST_PORT reply (OF1.4)",
            "port  1: rx pkts=1, bytes=3, drop=5, errs=7, frame=9, over=10, crc=11",
            "tx pkts=2, bytes=4, drop=6, errs=8, coll=12",
            "duration=13.000000014s",
        ]),
        (
            v14,
            Message::PortMod(PortMod {
                port_no: OfPort(1),
                hw_addr: [0, 0x11, 0x22, 0x33, 0x44, 1],
                config: 1,
                mask: 1,
                advertise: 0x20,
            }),
            &["OFPT_PORT_MOD (OF1.4)", "port: 1: addr:00:11:22:33:44:01", "config: PORT_DOWN", "mask:   PORT_DOWN", "advertise: 1GB-FD"],
        ),
        (
            v14,
            reply(ReplyBody::Queue(vec![QueueStats {
                port_no: OfPort(1),
                queue_id: 2,
                tx_bytes: 3,
                tx_packets: 4,
                tx_errors: 5,
                duration_sec: 6,
                duration_nsec: 0,
            }])),
            &["OFPST_QUEUE reply (OF1.4)", "port 1 queue 2: bytes=3, pkts=4, errors=5, duration=6s"],
        ),
        (
            v14,
            reply(ReplyBody::TableDesc(vec![TableDesc { table_id: 0, config: 0 }, TableDesc { table_id: 1, config: 0 }])),
            &["OFPST_TABLE_DESC reply (OF1.4)", "table 1:"],
        ),
        (v14, request(RequestBody::QueueDesc { port: OfPort(1), queue_id: QUEUE_ALL }), &["OFPST_QUEUE_DESC request (OF1.4)", "port=1"]),
        (v14, reply(ReplyBody::QueueDesc(vec![QueueDesc { port_no: OfPort(1), queue_id: 2 }])), &["OFPST_QUEUE_DESC reply (OF1.4)", "port=1\nqueue 2:"]),
        (
            v14,
            Message::GetAsyncReply(AsyncConfig {
                packet_in_mask: [0b11_1111, 0],
                port_status_mask: [0b111, 0b111],
                flow_removed_mask: [0b1111, 0],
            }),
            &[
                "OFPT_GET_ASYNC_REPLY (OF1.4)",
                "PACKET_IN: no_match action invalid_ttl action_set group packet_out",
                "FLOW_REMOVED: idle hard delete group_delete",
            ],
        ),
        (
            v14,
            Message::SetAsyncProperties(vec![AsyncProperty { kind: 5, mask: 0b101 }]),
            &["OFPT_SET_ASYNC (OF1.4)", "FLOW_REMOVED: idle delete"],
        ),
        (
            v14,
            Message::RoleStatus(RoleStatus { role: ControllerRole::Slave, reason: RoleChangeReason::MasterRequest, generation_id: 7 }),
            &["OFPT_ROLE_STATUS (OF1.4)", "role=secondary generation_id=7 reason=primary_request"],
        ),
        (
            v14,
            Message::BundleControl(BundleControl {
                bundle_id: 3,
                kind: BundleControlType::CommitReply,
                flags: BundleFlags { atomic: true, ordered: false },
            }),
            &["OFPT_BUNDLE_CONTROL (OF1.4)", "bundle_id=0x3 type=COMMIT_REPLY flags=atomic"],
        ),
        (
            v14,
            Message::PacketIn(PacketIn {
                buffer_id: NO_BUFFER,
                total_len: 4,
                reason: PacketInReason::Group,
                table_id: 0,
                cookie: 0,
                matches: in_port_match(2),
                data: vec![0; 4],
            }),
            &["OFPT_PACKET_IN (OF1.4)", "in_port=2 (via group)"],
        ),
        (v14, Message::FlowRemoved(flow_removed()), &["OFPT_FLOW_REMOVED (OF1.4)", "priority=9,in_port=3 reason=delete table_id=2"]),
        (
            v14,
            Message::FlowRemoved(FlowRemoved { reason: FlowRemovedReason::MeterDelete, ..flow_removed() }),
            &["reason=meter_delete"],
        ),
        (v15, Message::FlowRemoved(flow_removed()), &[
            "OFPT_FLOW_REMOVED (OF1.5)",
            "priority=9,in_port=3 reason=delete table_id=2 cookie:0x55 duration3.000000004s idle5 hard6 pkts7 bytes8",
        ]),
        (
            v14,
            Message::FlowMod(flow_mod()),
            &["OFPT_FLOW_MOD (OF1.4)", "ADD table:1 priority=100,in_port=1 cookie:0x123 idle:10 hard:20 send_flow_rem actions=meter:3,output:2"],
        ),
        (
            v15,
            Message::FlowMod(flow_mod()),
            &["OFPT_FLOW_MOD (OF1.5)", "ADD table:1 priority=100,in_port=1 cookie:0x123 idle:10 hard:20 send_flow_rem actions=meter:3,output:2"],
        ),
        (v14, reply(ReplyBody::Flow(vec![flow_stats()])), &[
            "OFPST_FLOW reply (OF1.4)",
            "cookie=0x123, duration=5.500s, table=1, n_packets=7, n_bytes=700, idle_timeout=10, hard_timeout=20, send_flow_rem priority=100,in_port=1 actions=meter:3,output:2",
        ]),
        (v15, reply(ReplyBody::Flow(vec![flow_stats()])), &[
            "OFPST_FLOW reply (OF1.5)",
            "cookie=0x123, duration=5.500s, table=1, n_packets=7, n_bytes=700, idle_timeout=10, hard_timeout=20, send_flow_rem priority=100,in_port=1 actions=meter:3,output:2",
        ]),
        (
            v15,
            reply(ReplyBody::Aggregate(AggregateStats { packet_count: 5, byte_count: 6, flow_count: 7 })),
            &["OFPST_AGGREGATE reply (OF1.5)", "packet_count=5 byte_count=6 flow_count=7"],
        ),
        (
            v15,
            Message::PacketOut(PacketOut {
                buffer_id: NO_BUFFER,
                in_port: OfPort(1),
                actions: vec![copy.clone(), Action::output(OfPort(2))],
                data: vec![0; 14],
            }),
            &["OFPT_PACKET_OUT (OF1.5)", "in_port=1 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],output:2"],
        ),
        (
            v15,
            Message::GroupMod(GroupMod {
                command: GroupCommand::Add,
                group_type: GroupType::Select,
                group_id: 1,
                buckets: vec![bucket(0, 1, 2), bucket(5, 3, 3)],
            }),
            &["OFPT_GROUP_MOD (OF1.5)", "ADD group_id=1,type=select,bucket=bucket_id:0,actions=output:2,bucket=bucket_id:5,weight:3,actions=output:3"],
        ),
        (
            v15,
            Message::GroupMod(GroupMod {
                command: GroupCommand::InsertBuckets(BucketPlace::Last),
                group_type: GroupType::Select,
                group_id: 1,
                buckets: vec![bucket(7, 1, 1)],
            }),
            &["INSERT_BUCKET command_bucket_id:last,group_id=1"],
        ),
        (
            v15,
            Message::GroupMod(GroupMod {
                command: GroupCommand::RemoveBuckets(BucketPlace::Id(7)),
                group_type: GroupType::Select,
                group_id: 1,
                buckets: Vec::new(),
            }),
            &["REMOVE_BUCKET command_bucket_id:7,group_id=1"],
        ),
        (
            v15,
            reply(ReplyBody::GroupDesc(vec![GroupDesc {
                group_type: GroupType::All,
                group_id: 4,
                buckets: vec![bucket(9, 0, 2)],
            }])),
            &["OFPST_GROUP_DESC reply (OF1.5)", "group_id=4,type=all,bucket=bucket_id:9,actions=output:2"],
        ),
        (v15, request(RequestBody::GroupDesc(4)), &["OFPST_GROUP_DESC request (OF1.5)", "group_id=4"]),
        (v15, request(RequestBody::PortDesc(OfPort(2))), &["OFPST_PORT_DESC request (OF1.5)", "port=2"]),
    ]
}

#[test]
fn v1_4_and_v1_5_messages_round_trip_and_open_vswitch_reads_them() {
    let mut missing = Vec::new();
    for (version, message, printed) in samples() {
        let bytes = encode(version, 0x42, &message).unwrap_or_else(|e| panic!("{message:?}: {e}"));
        let (header, decoded) = decode(&bytes).unwrap_or_else(|e| panic!("{message:?}: {e}"));
        assert_eq!((header.version, usize::from(header.length)), (version.wire(), bytes.len()));
        assert_eq!(decoded, message);
        assert_eq!(encode(version, 0x42, &decoded).unwrap(), bytes);
        if let Some(text) = ofp_print(&bytes) {
            missing.extend(
                printed
                    .iter()
                    .filter(|expected| !text.contains(*expected))
                    .map(|expected| format!("{message:?}: ovs-ofctl printed\n{text}without {expected:?}")),
            );
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n\n"));
}

#[test]
fn bundles_of_1_4_are_standard_messages_and_their_errors_bundle_failed() {
    let control = Message::BundleControl(BundleControl {
        bundle_id: 1,
        kind: BundleControlType::OpenRequest,
        flags: BundleFlags::default(),
    });
    let bytes = encode(Version::V1_4, 5, &control).unwrap();
    // OFPT_BUNDLE_CONTROL (33), no experimenter header.
    assert_eq!(&bytes[..2], &[5, 33]);
    assert_eq!(bytes.len(), 16);
    let add = Message::BundleAdd(BundleAdd {
        bundle_id: 1,
        flags: BundleFlags::default(),
        message: Box::new(Message::BarrierRequest),
    });
    let bytes = encode(Version::V1_4, 6, &add).unwrap();
    assert_eq!(&bytes[..2], &[5, 34]);
    assert_eq!(decode(&bytes).unwrap().1, add);
    // The ONF extension stays 1.3's.
    assert_eq!(encode(Version::V1_3, 5, &control).unwrap()[1], 4);
    // A bundle error: OFPET_BUNDLE_FAILED (17) with the code itself in 1.4.
    let error = super::wire::OfError::new(ErrorType::BundleFailed, 2, "bad id");
    let sent = encode_error(Version::V1_4, 9, &error, &bytes);
    assert_eq!(&sent[8..12], &[0, 17, 0, 2]);
}

#[test]
fn async_properties_change_only_what_they_name() {
    let mut config = AsyncConfig { packet_in_mask: [1, 2], port_status_mask: [3, 4], flow_removed_mask: [5, 6] };
    // OFPACPT_PORT_STATUS_SLAVE (2) and FLOW_REMOVED_MASTER (5); ROLE_STATUS_MASTER (7) is taken
    // and not kept.
    for (kind, mask) in [(2, 9), (5, 10), (7, 1)] {
        config.apply(AsyncProperty { kind, mask });
    }
    assert_eq!(config, AsyncConfig { packet_in_mask: [1, 2], port_status_mask: [3, 9], flow_removed_mask: [10, 6] });
    assert_eq!(config.properties().len(), 6);
    // An unknown property type is OFPET_BAD_PROPERTY / OFPBPC_BAD_TYPE.
    let bytes = [5, 28, 0, 16, 0, 0, 0, 1, 0, 12, 0, 8, 0, 0, 0, 1];
    let error = decode(&bytes).unwrap_err().error;
    assert_eq!((error.kind, error.code), (ErrorType::BadProperty, 0));
}

#[test]
fn v1_5_meter_action_and_copy_field_decode_to_the_model() {
    // apply_actions(meter:3, copy_field eth_src->eth_dst (48 bits), output:2): in a flow_mod,
    // `ovs-ofctl ofp-print` reads it as "actions=meter:3,move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],output:2".
    let bytes = hex("00040038 00000000 001d0008 00000003 001c0018 00300000 00000000 80000806 80000606 00000000 \
                     00000010 00000002 00000000 00000000");
    let mut r = super::wire::Reader::new(&bytes);
    let decoded = super::actions::decode_instructions(Version::V1_5, &mut r, bytes.len()).unwrap();
    assert_eq!(decoded.meter, Some(3));
    assert_eq!(
        decoded.apply_actions,
        vec![
            Action::Move { src: Subfield::whole(Field::DlSrc), dst: Subfield::whole(Field::DlDst) },
            Action::output(OfPort(2))
        ]
    );
    let mut w = super::wire::Writer::new();
    super::actions::encode_instructions(Version::V1_5, &decoded, &mut w);
    assert_eq!(w.into_bytes(), bytes);
    // A meter action anywhere else is OFPBAC_UNSUPPORTED_ORDER.
    let late = hex("00040020 00000000 00000010 00000002 00000000 00000000 001d0008 00000003");
    let error = super::actions::decode_instructions(Version::V1_5, &mut super::wire::Reader::new(&late), late.len());
    assert_eq!(error.map_err(|e| (e.kind, e.code)), Err((ErrorType::BadAction, 10)));
}

#[test]
fn packet_type_ethernet_is_taken_and_others_refused() {
    // OXM_OF_PACKET_TYPE (class 0x8000, field 44, 4 bytes) in a 1.5 match.
    let ethernet = [0, 1, 0, 12, 0x80, 0, 44 << 1, 4, 0, 0, 0, 0, 0, 0, 0, 0];
    let m = super::oxm::decode_match(Version::V1_5, &mut super::wire::Reader::new(&ethernet)).unwrap();
    assert!(m.is_catch_all());
    let ipv4 = [0, 1, 0, 12, 0x80, 0, 44 << 1, 4, 0, 1, 0x08, 0, 0, 0, 0, 0];
    let error = super::oxm::decode_match(Version::V1_5, &mut super::wire::Reader::new(&ipv4)).unwrap_err();
    assert_eq!((error.kind, error.code), (ErrorType::BadMatch, 7));
}

#[test]
fn a_1_5_packet_out_needs_in_port_and_takes_nothing_else() {
    let packet_out = |fields: &[u8]| {
        let mut bytes = vec![6, 13, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
        let match_len = 4 + fields.len();
        bytes.extend([0, 1, 0, u8::try_from(match_len).unwrap()]);
        bytes.extend(fields);
        bytes.resize(bytes.len() + (8 - match_len % 8) % 8, 0);
        let len = u16::try_from(bytes.len()).unwrap().to_be_bytes();
        bytes[2..4].copy_from_slice(&len);
        decode(&bytes)
    };
    let error = packet_out(&[]).unwrap_err().error;
    assert_eq!((error.kind, error.code), (ErrorType::BadRequest, 11));
    let Message::PacketOut(ok) = packet_out(&[0x80, 0, 0, 4, 0, 0, 0, 3]).unwrap().1 else { panic!() };
    assert_eq!(ok.in_port, OfPort(3));
    // in_port and metadata: refused (the switch takes in_port only).
    let error = packet_out(&[0x80, 0, 0, 4, 0, 0, 0, 3, 0x80, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0, 1]).unwrap_err().error;
    assert_eq!(error.kind, ErrorType::BadMatch);
}

#[test]
fn negotiation_with_1_4_and_1_5_and_1_1_refused() {
    let ours = [Version::V1_0, Version::V1_3, Version::V1_4, Version::V1_5];
    let bitmap = |versions: &[u8]| Hello { versions: Some(versions.to_vec()) };
    assert_eq!(negotiate(&ours, 6, &bitmap(&[1, 4, 6])), Ok(Version::V1_5));
    assert_eq!(negotiate(&ours, 5, &bitmap(&[1, 4, 5])), Ok(Version::V1_4));
    assert_eq!(negotiate(&ours, 5, &Hello { versions: None }), Ok(Version::V1_4));
    assert_eq!(negotiate(&ours, 6, &Hello { versions: None }), Ok(Version::V1_5));
    // 1.1 and 1.2 alone are refused, plainly or by bitmap.
    for error in [negotiate(&ours, 2, &Hello { versions: None }), negotiate(&ours, 3, &bitmap(&[2, 3]))] {
        let error = error.unwrap_err();
        assert_eq!((error.kind, error.code), (ErrorType::HelloFailed, 0));
    }
    let (version, hello) = our_hello(&ours);
    let bytes = encode(version, 1, &hello).unwrap();
    // Header 1.5, bitmap 1.0, 1.3, 1.4, 1.5.
    assert_eq!(bytes, [6, 0, 0, 16, 0, 0, 0, 1, 0, 1, 0, 8, 0, 0, 0, 0x72]);
}

#[test]
fn a_meter_delete_removal_is_its_own_reason_from_1_4_and_delete_before() {
    let removed = Message::FlowRemoved(FlowRemoved { reason: FlowRemovedReason::MeterDelete, ..flow_removed() });
    for (version, reason) in [(Version::V1_0, FlowRemovedReason::Delete), (Version::V1_3, FlowRemovedReason::Delete)] {
        let Message::FlowRemoved(decoded) = decode(&encode(version, 1, &removed).unwrap()).unwrap().1 else { panic!() };
        assert_eq!(decoded.reason, reason, "{version:?}");
    }
    assert_eq!(FlowRemovedReason::MeterDelete.wire(Version::V1_5), 4);
}

#[test]
fn a_masked_set_field_is_taken_from_1_5_on() {
    // set_field of metadata 0x12/0xff (OXM_OF_METADATA_W).
    let bytes = hex("00190018 80000510 00000000 00000012 00000000 000000ff");
    let decode_in =
        |version| super::actions::decode_actions(version, &mut super::wire::Reader::new(&bytes), bytes.len());
    let error = decode_in(Version::V1_4).unwrap_err();
    assert_eq!((error.kind, error.code), (ErrorType::BadAction, 15));
    let actions = decode_in(Version::V1_5).unwrap();
    assert_eq!(actions, [Action::SetField { field: Field::Metadata, value: 0x12, mask: 0xff }]);
}
