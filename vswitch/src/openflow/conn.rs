//! One OpenFlow connection, whoever opened it (a listener of `targets` accepted it, or the
//! switch connected to an active controller): [`serve`] frames the byte
//! stream with the codec, negotiates the version by HELLO (1.3 and 1.0), answers ECHO, keeps
//! the peer alive with echo probes, and serves FEATURES, GET/SET_CONFIG, BARRIER, the
//! multipart statistics, FLOW_MOD (also the Nicira flow formats of ovs-ofctl's 1.0),
//! GROUP_MOD with the group multiparts (`groups`) and flow monitor requests and cancels (the
//! updates come as pushes, written before the reply to a later barrier).
//!
//! A connection never touches the switch: everything about the bridge is a typed
//! [`Query`] to the management thread (bounded wait). Messages are handled one at a time, in
//! order, and a flow_mod is answered by the management thread only once its table version is
//! published, so a BARRIER_REPLY always comes after everything before it took effect.
//!
//! Bounds: a message is at most 65535 bytes (the header's length); the input buffer holds one
//! message plus one read; replies are written with a timeout, so a peer that stops reading
//! loses its connection (its kernel socket buffer is the output buffer); a peer silent for two
//! probe intervals is dropped; at most [`MAX_CONNECTIONS`] connections per bridge. A bad
//! message gets an OFPT_ERROR and the connection goes on; a framing error (length below 8)
//! or a failed HELLO closes it.

mod groups;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam::channel::{self, Receiver, Sender};
use crossbeam::select;

use crate::config::{BridgeConfig, PacketInLimit};
use crate::flow::key::Field;
use crate::flow::tun_metadata;
use crate::flow::PacketInReason;
use crate::flow::{FlowModification, FlowRule, FlowSelector, Match, OfPort};
use crate::pipeline::meter::MeterSpec;
use crate::pipeline::table::{self, FlowOp, FlowTableError};
use crate::pipeline::xlate::{PacketInMeta, PacketInOrigin, PortFlags};
use crate::pmd::packet_in::PacketInEvent;
use crate::token_bucket::TokenBucket;

use super::bundle::{self, bundle_error, BundledFlowMod, Bundles};
use super::message::{
    self, bad_request, decode, decode_in, encode, encode_error, frame_length, negotiate, our_hello,
    packet_in_reason_wire, AsyncConfig, ControllerRole, EncodeError, FeaturesReply, FlowMod, FlowModCommand,
    FlowModFlags, FlowRemoved, FlowRemovedReason, FragHandling, Message, MeterCommand, MeterMod, PacketIn, PacketOut,
    PortDesc, PortMod, PortStatus, RoleChangeReason, RoleStatus, SwitchConfig, GROUP_ANY, NO_BUFFER,
};
use super::meters;
use super::monitor::nicira::code as nicira_monitor_codes;
use super::monitor::standard::code as monitor_codes;
use super::monitor::{FlowUpdate, MonitorError, Requester};
use super::multipart::{
    AggregateStats, Desc, FeatureId, FlowStats, FlowStatsRequest, MultipartReply, MultipartRequest, OxmId, PortStats,
    ReplyBody, RequestBody, TableDesc, TableFeatureProperty, TableFeatures, TableStats,
};
use super::nicira::{BundleAdd, BundleControl, BundleControlType, FlowFormat, PacketInFormat};
use super::registry::{Membership, Registry, MONITOR_MESSAGE_LEN};
use super::service::{
    Answer, FlowModFailure, FlowStat, MeterModFailure, MeterView, OfPending, PacketOutFailure, PortModFailure,
    PortView, Push, Query,
};
use super::tls::TlsStream;
use super::wire::{duration_nsec, duration_sec, ErrorType, OfError, Version};

/// The versions this switch speaks.
pub const VERSIONS: [Version; 4] = [Version::V1_0, Version::V1_3, Version::V1_4, Version::V1_5];
/// A peer that sends nothing for this long gets an echo request; silent for as long again, it
/// is disconnected (Open vSwitch's default inactivity probe is 5 s).
pub const PROBE_INTERVAL: Duration = Duration::from_secs(5);
/// A peer that does not take our output for this long is disconnected.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection waits for the management thread.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections per bridge (all its listeners together); more are closed at once.
pub const MAX_CONNECTIONS: usize = 64;
/// Tables the switch reports, as Open vSwitch does (0..=253; it keeps 254 hidden).
pub(super) const N_TABLES: u8 = 254;
/// OFPTC_EVICTION and OFPTC_VACANCY_EVENTS of OpenFlow 1.4.
const TABLE_CONFIG_V1_4: u32 = 0b1100;
/// miss_send_len until the controller sets one (OFPCML default of the specification).
const DEFAULT_MISS_SEND_LEN: u16 = 128;
/// Flow_mods of one connection sent to the management thread before their answers are
/// awaited.
const MAX_FLOW_MODS_IN_FLIGHT: usize = 1024;
/// Chunks read ahead of the connection thread (each up to 64 KiB).
const INPUT_QUEUE: usize = 4;
/// OpenFlow 1.3's asynchronous configuration for the master and equal roles (index 0) and
/// the slave role (index 1): packet-ins for no_match and action, every port status and
/// flow-removed reason; a slave gets port status only.
const DEFAULT_ASYNC: AsyncConfig =
    AsyncConfig { packet_in_mask: [0b011, 0], port_status_mask: [0b111, 0b111], flow_removed_mask: [0b1111, 0] };
/// OpenFlow 1.4's packet-in default for the master and equal roles: every reason (1.4 adds
/// action_set, group and packet_out); its flow-removed default adds meter_delete.
const DEFAULT_PACKET_IN_MASK_V1_4: u32 = 0b11_1111;

/// What a connection of a bridge needs.
#[derive(Clone)]
pub(super) struct Context {
    pub(super) bridge: String,
    pub(super) requests: Sender<OfPending>,
    /// Open connections of the bridge (all its listeners and controllers together).
    pub(super) connections: Arc<AtomicUsize>,
    /// The bridge's connections: push queues, roles, controller presence.
    pub(super) registry: Arc<Registry>,
    packet_in_limit: PacketInLimit,
    /// The bridge's datapath id, which vsctl may change at run time.
    datapath_id: Arc<AtomicU64>,
}

/// Counts a connection while it lives.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Context {
    pub(super) fn new(bridge: &BridgeConfig, requests: Sender<OfPending>) -> Context {
        Context {
            bridge: bridge.name.clone(),
            requests,
            connections: Arc::new(AtomicUsize::new(0)),
            registry: Registry::new(),
            packet_in_limit: bridge.packet_in_limit,
            datapath_id: Arc::new(AtomicU64::new(bridge.datapath_id)),
        }
    }

    /// What FEATURES_REPLY says from now on.
    pub(super) fn set_datapath_id(&self, datapath_id: u64) {
        self.datapath_id.store(datapath_id, Ordering::Relaxed);
    }

    fn take_slot(&self) -> Option<Slot> {
        let before = self.connections.fetch_add(1, Ordering::Relaxed);
        let slot = Slot(self.connections.clone());
        (before < MAX_CONNECTIONS).then_some(slot)
    }
}

/// Serves one connection, accepted from a listener or made to a controller, until it ends
/// (in the calling thread, with a second thread reading the socket); returns why it ended.
/// The one place a connection is handled.
pub(super) fn serve(stream: Stream, peer: &str, context: &Context) -> Closed {
    let Some(_slot) = context.take_slot() else {
        return format!("refused: {MAX_CONNECTIONS} connections open already");
    };
    tracing::info!(bridge = %context.bridge, %peer, "OpenFlow connection");
    // Controllers come over TCP or TLS; the management socket is not one.
    let controller = !matches!(stream, Stream::Unix(_));
    let _controller = controller.then(|| context.registry.controller_connected());
    let (reader_stream, closer) = match (stream.try_clone(), stream.try_clone()) {
        (Ok(reader), Ok(closer)) => (reader, closer),
        (Err(e), _) | (_, Err(e)) => return format!("cannot clone the socket: {e}"),
    };
    let (input_tx, input) = channel::bounded(INPUT_QUEUE);
    let reader = std::thread::Builder::new().name("of-read".into()).spawn(move || read_loop(reader_stream, &input_tx));
    let reader = match reader {
        Ok(reader) => reader,
        Err(e) => return format!("cannot start the reader thread: {e}"),
    };
    let (membership, pushes) = context.registry.join(peer, controller);
    let closed = Connection::new(stream, context.clone(), membership, pushes).run(&input);
    // The reader's blocked read returns at once; a send of it finds no receiver.
    closer.shutdown();
    drop(input);
    let _ = reader.join();
    closed
}

/// What the reader thread hands the connection.
enum Input {
    Bytes(Vec<u8>),
    Ended(Closed),
}

/// Reads the socket until it ends or the connection is gone.
fn read_loop(mut stream: Stream, input: &Sender<Input>) {
    let mut chunk = vec![0u8; 65536];
    loop {
        let next = match stream.read(&mut chunk) {
            Ok(0) => Input::Ended("closed by the peer".into()),
            Ok(n) => Input::Bytes(chunk.get(..n).unwrap_or_default().to_vec()),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => Input::Ended(format!("read failed: {e}")),
        };
        let ended = matches!(next, Input::Ended(_));
        if input.send(next).is_err() || ended {
            return;
        }
    }
}

/// A TCP, TLS or unix stream.
pub(super) enum Stream {
    Tcp(TcpStream),
    Tls(TlsStream),
    Unix(UnixStream),
}

impl Stream {
    /// A second handle on the same socket (to shut it down from another thread).
    pub(super) fn try_clone(&self) -> std::io::Result<Stream> {
        match self {
            Stream::Tcp(s) => s.try_clone().map(Stream::Tcp),
            Stream::Tls(s) => s.try_clone().map(Stream::Tls),
            Stream::Unix(s) => s.try_clone().map(Stream::Unix),
        }
    }

    /// Ends the connection both ways: a read blocked in another thread returns at once.
    pub(super) fn shutdown(&self) {
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Both),
            Stream::Tls(s) => s.shutdown(),
            Stream::Unix(s) => s.shutdown(Shutdown::Both),
        };
    }

    /// Reads block (the reader thread waits for input); writes time out.
    fn set_timeouts(&self, write: Duration) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(None).and_then(|()| s.set_write_timeout(Some(write))),
            Stream::Tls(s) => s.set_timeouts(write),
            Stream::Unix(s) => s.set_read_timeout(None).and_then(|()| s.set_write_timeout(Some(write))),
        }
    }

    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buffer),
            Stream::Tls(s) => s.read(buffer),
            Stream::Unix(s) => s.read(buffer),
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.write_all(bytes),
            Stream::Tls(s) => s.write_all(bytes),
            Stream::Unix(s) => s.write_all(bytes),
        }
    }
}

/// Why a connection ended.
pub(super) type Closed = String;

/// The state of one connection.
struct Connection {
    stream: Stream,
    context: Context,
    version: Option<Version>,
    /// Bytes read and not yet framed.
    input: Vec<u8>,
    config: SwitchConfig,
    async_config: AsyncConfig,
    /// NXT_FLOW_MOD_TABLE_ID: the 1.0 flow_mod command's high byte is a table id.
    flow_mod_table_id: bool,
    flow_format: FlowFormat,
    bundles: Bundles,
    next_xid: u32,
    /// The connection's place in the bridge's registry (role, counters).
    member: Membership,
    /// The packet-in rate limit, in nanoseconds since `started`.
    packet_in_bucket: TokenBucket,
    started: Instant,
    /// What the management thread pushes to this connection.
    pushes: Receiver<Push>,
}

impl Connection {
    fn new(stream: Stream, context: Context, member: Membership, pushes: Receiver<Push>) -> Connection {
        let limit = context.packet_in_limit;
        Connection {
            stream,
            context,
            version: None,
            input: Vec::with_capacity(4096),
            config: SwitchConfig {
                frag: FragHandling::Normal,
                invalid_ttl_to_controller: false,
                miss_send_len: DEFAULT_MISS_SEND_LEN,
            },
            async_config: DEFAULT_ASYNC,
            flow_mod_table_id: false,
            flow_format: FlowFormat::OpenFlow10,
            bundles: Bundles::default(),
            next_xid: 1,
            member,
            packet_in_bucket: TokenBucket::new(u64::from(limit.rate), u64::from(limit.burst), 1_000_000_000, 0),
            started: Instant::now(),
            pushes,
        }
    }

    /// Serves the connection until it ends; returns why. Waits for input (from the reader
    /// thread), pushes (from the management thread) and the probe deadline at once.
    fn run(mut self, input: &Receiver<Input>) -> Closed {
        let pushes = self.pushes.clone();
        if let Err(e) = self.stream.set_timeouts(WRITE_TIMEOUT) {
            return format!("cannot set socket timeouts: {e}");
        }
        let (hello_version, hello) = our_hello(&VERSIONS);
        match encode(hello_version, 0, &hello) {
            Ok(bytes) => {
                if let Err(e) = self.send(&bytes) {
                    return e;
                }
            }
            Err(e) => return format!("cannot encode our hello: {e}"),
        }
        // Input arrived at `heard`, or an echo request went out then.
        let mut heard = Instant::now();
        let mut probe_sent = false;
        loop {
            if let Err(closed) = self.handle_buffered() {
                return closed;
            }
            // Checked on every turn: a steady stream of pushes must not hide a silent peer.
            if heard.elapsed() >= PROBE_INTERVAL {
                if probe_sent {
                    return format!("no answer to an echo request within {PROBE_INTERVAL:?}");
                }
                probe_sent = true;
                heard = Instant::now();
                let xid = self.xid();
                let version = self.version.unwrap_or(Version::V1_3);
                if let Err(closed) = self.send_message(version, xid, &Message::EchoRequest(Vec::new())) {
                    return closed;
                }
            }
            let quiet = PROBE_INTERVAL.saturating_sub(heard.elapsed());
            select! {
                recv(input) -> next => match next {
                    Ok(Input::Bytes(bytes)) => {
                        self.input.extend_from_slice(&bytes);
                        heard = Instant::now();
                        probe_sent = false;
                    }
                    Ok(Input::Ended(closed)) => return closed,
                    Err(_) => return "the reader thread ended".into(),
                },
                recv(pushes) -> push => match push {
                    Ok(push) => {
                        if let Err(closed) = self.push(push) {
                            return closed;
                        }
                    }
                    Err(_) => return "the switch is stopping".into(),
                },
                default(quiet) => {}
            }
        }
    }

    /// Sends a push the peer asked for (its asynchronous configuration) once the version is
    /// negotiated; packet-ins within the rate limit.
    fn push(&mut self, push: Push) -> Result<(), Closed> {
        let Some(version) = self.version else { return Ok(()) };
        // The masks' first word is for masters and equals, the second for slaves.
        let slot = usize::from(self.member.state.role() == ControllerRole::Slave);
        let message = match push {
            Push::PacketIn(event) => {
                if event.meta.origin == PacketInOrigin::NoRule && !self.member.state.wants_misses() {
                    return Ok(());
                }
                let reason = packet_in_reason(version, &event.meta);
                if !wanted(self.async_config.packet_in_mask[slot], packet_in_reason_wire(version, reason)) {
                    return Ok(());
                }
                let now = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                if !self.packet_in_bucket.take(now) {
                    self.member.state.packet_ins_limited.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                self.member.state.packet_ins.fetch_add(1, Ordering::Relaxed);
                Message::PacketIn(packet_in(version, reason, &event))
            }
            Push::PortStatus { reason, port } => {
                if !wanted(self.async_config.port_status_mask[slot], reason as u8) {
                    return Ok(());
                }
                Message::PortStatus(PortStatus { reason, port: port_desc(version, &port) })
            }
            Push::FlowRemoved { reason, flow } => {
                if !flow.flags.send_flow_rem || !wanted(self.async_config.flow_removed_mask[slot], reason.wire(version))
                {
                    return Ok(());
                }
                Message::FlowRemoved(flow_removed(reason, &flow))
            }
            Push::FlowUpdates { messages, backlog } => {
                let sent = messages.into_iter().try_for_each(|updates| self.send_flow_updates(version, updates));
                self.member.state.monitor_backlog.fetch_sub(backlog, Ordering::SeqCst);
                return sent;
            }
            Push::FlowMonitorPaused | Push::FlowMonitorResumed => {
                let paused = matches!(push, Push::FlowMonitorPaused);
                let update = if paused { FlowUpdate::Paused } else { FlowUpdate::Resumed };
                // A message of its own before 1.4; an update of a flow monitor reply from 1.4 on.
                let message = match version {
                    Version::V1_0 | Version::V1_3 if paused => Message::FlowMonitorPaused,
                    Version::V1_0 | Version::V1_3 => Message::FlowMonitorResumed,
                    Version::V1_4 | Version::V1_5 => Message::MultipartReply(MultipartReply {
                        more: false,
                        body: ReplyBody::FlowMonitor(vec![update]),
                    }),
                };
                let sent = self.send_message(version, 0, &message);
                self.member.state.monitor_backlog.fetch_sub(MONITOR_MESSAGE_LEN, Ordering::SeqCst);
                return sent;
            }
            Push::RoleStatus { .. } if version < Version::V1_4 => return Ok(()),
            Push::RoleStatus { generation_id } => Message::RoleStatus(RoleStatus {
                role: ControllerRole::Slave,
                reason: RoleChangeReason::MasterRequest,
                generation_id,
            }),
        };
        self.send_message(version, 0, &message)
    }

    /// Flow monitor updates as flow monitor replies of xid 0 (several when they do not fit one).
    fn send_flow_updates(&mut self, version: Version, updates: Vec<FlowUpdate>) -> Result<(), Closed> {
        match split(version, 0, updates, ReplyBody::FlowMonitor) {
            Ok(replies) => replies.iter().try_for_each(|bytes| self.send(bytes)),
            Err(e) => {
                tracing::warn!(bridge = %self.context.bridge, "cannot encode flow updates: {e}");
                Ok(())
            }
        }
    }

    /// Sends what the management thread pushed so far: the flow updates of changes made
    /// before a barrier go out before its reply.
    fn drain_pushes(&mut self) -> Result<(), Closed> {
        while let Ok(push) = self.pushes.try_recv() {
            self.push(push)?;
        }
        Ok(())
    }

    /// Who asks for a table change: this connection's request `xid`.
    fn requester(&self, xid: u32) -> Requester {
        Requester { connection: self.member.id(), xid }
    }

    fn xid(&mut self) -> u32 {
        self.next_xid = self.next_xid.wrapping_add(1);
        self.next_xid
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), Closed> {
        self.stream.write_all(bytes).map_err(|e| match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => {
                format!("the peer did not take our output for {WRITE_TIMEOUT:?}")
            }
            _ => format!("write failed: {e}"),
        })
    }

    fn send_message(&mut self, version: Version, xid: u32, message: &Message) -> Result<(), Closed> {
        match encode(version, xid, message) {
            Ok(bytes) => self.send(&bytes),
            Err(e) => {
                tracing::warn!(bridge = %self.context.bridge, "cannot encode {}: {e}", message.name());
                Ok(())
            }
        }
    }

    fn send_error(&mut self, version: Version, xid: u32, error: &OfError, offending: &[u8]) -> Result<(), Closed> {
        tracing::debug!(bridge = %self.context.bridge, "OpenFlow error to the peer: {error}");
        let bytes = encode_error(version, xid, error, offending);
        self.send(&bytes)
    }

    /// Handles every whole message in the input buffer.
    fn handle_buffered(&mut self) -> Result<(), Closed> {
        let mut in_flight = Vec::new();
        loop {
            let length = match frame_length(&self.input) {
                Ok(Some(length)) if length <= self.input.len() => length,
                Ok(_) => return self.finish_flow_mods(in_flight),
                Err(error) => {
                    self.finish_flow_mods(in_flight)?;
                    let version = self.version.unwrap_or(Version::V1_3);
                    let head = self.input.get(..message::HEADER_LEN).unwrap_or_default().to_vec();
                    let xid = head.get(4..8).map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                    self.send_error(version, xid, &error, &head)?;
                    return Err(format!("framing error: {error}"));
                }
            };
            let mut frame: Vec<u8> = self.input.drain(..length).collect();
            if in_flight.len() < MAX_FLOW_MODS_IN_FLIGHT {
                match self.start_flow_mod(frame) {
                    Ok(started) => {
                        in_flight.push(started);
                        continue;
                    }
                    Err(not_started) => frame = not_started,
                }
            }
            self.finish_flow_mods(std::mem::take(&mut in_flight))?;
            self.handle_frame(&frame)?;
        }
    }

    /// Sends a flow_mod to the management thread without waiting for the answer, so that the
    /// flow_mods that arrived together reach it together (and cost one table version). Only a
    /// valid flow_mod of a master or equal connection whose answer nothing depends on (not a
    /// 1.0 modify, which may turn into an add); anything else comes back to be handled alone.
    fn start_flow_mod(&self, frame: Vec<u8>) -> Result<FlowModInFlight, Vec<u8>> {
        let Some(version) = self.version else { return Err(frame) };
        if self.member.state.role() == ControllerRole::Slave {
            return Err(frame);
        }
        let Ok((header, message)) = decode_in(version, &frame) else { return Err(frame) };
        let (flow_mod, new_cookie) = match &message {
            Message::FlowMod(flow_mod) => (flow_mod, None),
            Message::NxFlowMod(nx) => (&nx.flow_mod, Some(nx.new_cookie)),
            _ => return Err(frame),
        };
        if version == Version::V1_0 && matches!(flow_mod.command, FlowModCommand::Modify | FlowModCommand::ModifyStrict)
        {
            return Err(frame);
        }
        let Ok(op) = flow_mod_op(version, flow_mod, new_cookie, self.flow_mod_table_id) else {
            return Err(frame);
        };
        match self.send_query(Query::FlowMods { ops: vec![op], origin: self.requester(header.xid) }) {
            Ok(answer) => Ok(FlowModInFlight { version, xid: header.xid, frame, answer }),
            Err(_) => Err(frame),
        }
    }

    /// Waits for the answers of the flow_mods in flight, in order, and sends their errors.
    fn finish_flow_mods(&mut self, in_flight: Vec<FlowModInFlight>) -> Result<(), Closed> {
        for flow_mod in in_flight {
            let error = match await_answer(&flow_mod.answer) {
                Ok(Answer::FlowMod(Ok(_))) => continue,
                Ok(Answer::FlowMod(Err(FlowModFailure::Table { error, .. }))) => table_error(flow_mod.version, &error),
                Ok(Answer::FlowMod(Err(FlowModFailure::Internal(error)))) => eperm(error),
                Ok(other) => unexpected(&other),
                Err(error) => error,
            };
            self.send_error(flow_mod.version, flow_mod.xid, &error, &flow_mod.frame)?;
        }
        Ok(())
    }

    fn handle_frame(&mut self, frame: &[u8]) -> Result<(), Closed> {
        let Some(version) = self.version else { return self.handle_hello(frame) };
        match decode_in(version, frame) {
            Ok((header, message)) => {
                if message == Message::BarrierRequest {
                    self.drain_pushes()?;
                }
                match self.handle_message(version, header.xid, message) {
                    Ok(replies) => replies.iter().try_for_each(|bytes| self.send(bytes)),
                    Err(error) => self.send_error(version, header.xid, &error, frame),
                }
            }
            Err(e) => self.send_error(e.version, e.xid, &e.error, frame),
        }
    }

    /// The first message must be a HELLO with a version in common.
    fn handle_hello(&mut self, frame: &[u8]) -> Result<(), Closed> {
        match decode(frame) {
            Ok((header, Message::Hello(hello))) => match negotiate(&VERSIONS, header.version, &hello) {
                Ok(version) => {
                    tracing::debug!(bridge = %self.context.bridge, ?version, "OpenFlow version negotiated");
                    self.version = Some(version);
                    self.member.state.set_version(version);
                    if version >= Version::V1_4 {
                        self.async_config.packet_in_mask[0] = DEFAULT_PACKET_IN_MASK_V1_4;
                        self.async_config.flow_removed_mask[0] |= 1 << FlowRemovedReason::MeterDelete.wire(version);
                    }
                    self.want_misses(version == Version::V1_0 && self.member.state.is_controller());
                    Ok(())
                }
                Err(error) => {
                    let version = Version::from_wire(header.version).unwrap_or(Version::V1_0);
                    self.send_error(version, header.xid, &error, frame)?;
                    Err(format!("version negotiation failed: {error}"))
                }
            },
            Ok((header, message)) => {
                let error = OfError::new(ErrorType::HelloFailed, 1, format!("{} before HELLO", message.name()));
                self.send_error(Version::V1_3, header.xid, &error, frame)?;
                Err(error.reason)
            }
            Err(e) => {
                let error = OfError::new(ErrorType::HelloFailed, 1, format!("bad HELLO: {}", e.error));
                self.send_error(e.version, e.xid, &error, frame)?;
                Err(error.reason)
            }
        }
    }

    /// Follows whether this connection wants a packet-in for every table miss, as OpenFlow 1.0
    /// has it: a 1.0 controller does; a 1.0 client of the management socket once it sets a
    /// miss_send_len (as Open vSwitch's service connections get asynchronous messages only
    /// then, so that `ovs-ofctl dump-flows` does not change the datapath). The bridge's datapath
    /// follows before the next message is handled; when the connection ends, within the
    /// management thread's tick (100 ms).
    fn want_misses(&self, wanted: bool) {
        if wanted != self.member.state.wants_misses() {
            self.member.state.set_wants_misses(wanted);
            if let Err(e) = self.ask(Query::MissListenersChanged) {
                tracing::warn!(bridge = %self.context.bridge, "table misses not followed at once: {e}");
            }
        }
    }

    /// The management thread's answer to `query`.
    fn ask(&self, query: Query) -> Result<Answer, OfError> {
        await_answer(&self.send_query(query)?)
    }

    /// Queues `query` for the management thread; the answer comes on the receiver.
    fn send_query(&self, query: Query) -> Result<Receiver<Answer>, OfError> {
        let (reply_to, answer) = channel::bounded(1);
        let pending = OfPending { bridge: self.context.bridge.clone(), query, reply_to };
        if self.context.requests.send(pending).is_err() {
            return Err(eperm("the switch is shutting down"));
        }
        Ok(answer)
    }

    /// The encoded replies to one message (none for most asynchronous ones), or the error to
    /// answer it with.
    fn handle_message(&mut self, version: Version, xid: u32, message: Message) -> Result<Vec<Vec<u8>>, OfError> {
        let reply = |message: Message| -> Result<Vec<Vec<u8>>, OfError> {
            encode(version, xid, &message).map(|bytes| vec![bytes]).map_err(encode_failed)
        };
        if changes_the_switch(&message) && self.member.state.role() == ControllerRole::Slave {
            return Err(bad_request(message::bad_request::IS_SLAVE, format!("{} from a slave", message.name())));
        }
        match message {
            Message::Hello(_) | Message::EchoReply(_) => Ok(Vec::new()),
            Message::Error(error) => {
                tracing::info!(
                    bridge = %self.context.bridge,
                    "OpenFlow error from the peer: type {} code {}",
                    error.error_type,
                    error.code
                );
                Ok(Vec::new())
            }
            Message::EchoRequest(data) => reply(Message::EchoReply(data)),
            Message::FeaturesRequest => {
                let ports = self.ports()?;
                reply(Message::FeaturesReply(features(
                    version,
                    self.context.datapath_id.load(Ordering::Relaxed),
                    &ports,
                )))
            }
            Message::GetConfigRequest => reply(Message::GetConfigReply(self.config)),
            Message::SetConfig(config) => {
                self.config = config;
                // As Open vSwitch: OFPC_INVALID_TTL_TO_CONTROLLER turns the invalid_ttl
                // packet-ins (dec_mpls_ttl of a TTL of 0 or 1) of a master or equal on or off.
                let invalid_ttl = 1 << packet_in_reason_wire(version, PacketInReason::InvalidTtl);
                if config.invalid_ttl_to_controller {
                    self.async_config.packet_in_mask[0] |= invalid_ttl;
                } else {
                    self.async_config.packet_in_mask[0] &= !invalid_ttl;
                }
                if version == Version::V1_0 {
                    self.want_misses(self.member.state.is_controller() || config.miss_send_len > 0);
                }
                Ok(Vec::new())
            }
            Message::BarrierRequest => reply(Message::BarrierReply),
            Message::RoleRequest(request) => {
                reply(Message::RoleReply(self.context.registry.request_role(&self.member, request)?))
            }
            Message::NxRoleRequest(role) => {
                reply(Message::NxRoleReply(self.context.registry.request_nx_role(&self.member, role)))
            }
            Message::SetFlowFormat(format) => {
                self.flow_format = format;
                Ok(Vec::new())
            }
            Message::FlowModTableId(enabled) => {
                self.flow_mod_table_id = enabled;
                Ok(Vec::new())
            }
            Message::SetPacketInFormat(PacketInFormat::Standard) => Ok(Vec::new()),
            Message::SetPacketInFormat(format) => Err(bad_request(
                message::bad_request::EPERM,
                format!("packet-in format {format:?} not supported (standard only)"),
            )),
            Message::FlowMod(flow_mod) => self.flow_mod(version, xid, &flow_mod, None),
            Message::NxFlowMod(nx) => self.flow_mod(version, xid, &nx.flow_mod, Some(nx.new_cookie)),
            Message::FlowMonitorCancel(id) => {
                let query = Query::FlowMonitorCancel { connection: self.member.id(), id };
                match self.ask(query)? {
                    Answer::FlowMonitorCancel(result) => {
                        result.map(|()| Vec::new()).map_err(|e| monitor_error(version, e))
                    }
                    other => Err(unexpected(&other)),
                }
            }
            Message::GroupMod(group_mod) => groups::group_mod(&group_mod, |query| self.ask(query)),
            Message::MultipartRequest(request) => self.multipart(version, xid, request),
            Message::QueueGetConfigRequest(port) => {
                reply(Message::QueueGetConfigReply(message::QueueConfig { port, queues: Vec::new() }))
            }
            Message::PacketOut(packet_out) => self.packet_out(packet_out),
            Message::PortMod(port_mod) => self.port_mod(port_mod),
            Message::MeterMod(meter_mod) => self.meter_mod(&meter_mod),
            Message::TableMod(table_mod) if table_mod.table_id >= N_TABLES && table_mod.table_id != 0xff => {
                Err(OfError::new(ErrorType::TableModFailed, 0, format!("no table {}", table_mod.table_id)))
            }
            // 1.4's eviction and vacancy events: no table does them (OFPTMFC_BAD_CONFIG).
            Message::TableMod(table_mod) if version >= Version::V1_4 && table_mod.config & TABLE_CONFIG_V1_4 != 0 => {
                Err(OfError::new(ErrorType::TableModFailed, 1, format!("table config {:#x}", table_mod.config)))
            }
            // 1.3's table config has only deprecated bits: nothing to change.
            Message::TableMod(_) => Ok(Vec::new()),
            Message::GetAsyncRequest => reply(Message::GetAsyncReply(self.async_config)),
            Message::SetAsync(config) => {
                self.async_config = config;
                Ok(Vec::new())
            }
            Message::SetAsyncProperties(properties) => {
                properties.into_iter().for_each(|property| self.async_config.apply(property));
                Ok(Vec::new())
            }
            Message::TlvTableMod(table_mod) => {
                let query = Query::TlvTableMod { command: table_mod.command, mappings: table_mod.mappings };
                match self.ask(query)? {
                    Answer::TlvTableMod(Ok(())) => Ok(Vec::new()),
                    Answer::TlvTableMod(Err(error)) => {
                        Err(OfError::new(ErrorType::TlvTableModFailed, error.code(), error.to_string()))
                    }
                    other => Err(unexpected(&other)),
                }
            }
            Message::TlvTableRequest => match self.ask(Query::TlvTable)? {
                Answer::TlvTable(mappings) => reply(Message::TlvTableReply(message::TlvTableReply {
                    max_option_space: u32::try_from(tun_metadata::AREA_BYTES).unwrap_or(u32::MAX),
                    max_fields: u16::try_from(tun_metadata::FIELDS).unwrap_or(u16::MAX),
                    mappings,
                })),
                other => Err(unexpected(&other)),
            },
            Message::BundleControl(control) => self.bundle_control(version, xid, control),
            Message::BundleAdd(add) => self.bundle_add(version, xid, add),
            other => Err(bad_request(
                message::bad_request::BAD_TYPE,
                format!("{} is not supported by this switch (yet)", other.name()),
            )),
        }
    }

    fn ports(&self) -> Result<Vec<PortView>, OfError> {
        match self.ask(Query::Ports)? {
            Answer::Ports(ports) => Ok(ports),
            other => Err(unexpected(&other)),
        }
    }

    /// Applies a flow_mod. In OpenFlow 1.0 a modify that matches no rule adds one, as that
    /// version specifies (1.1 and later dropped this): the add follows as a second table
    /// version.
    fn flow_mod(
        &self,
        version: Version,
        xid: u32,
        flow_mod: &FlowMod,
        new_cookie: Option<u64>,
    ) -> Result<Vec<Vec<u8>>, OfError> {
        let op = flow_mod_op(version, flow_mod, new_cookie, self.flow_mod_table_id)?;
        let modified = self.apply(version, xid, op)?;
        let modify = matches!(flow_mod.command, FlowModCommand::Modify | FlowModCommand::ModifyStrict);
        if version == Version::V1_0 && modify && modified == 0 {
            let add = FlowMod { command: FlowModCommand::Add, ..flow_mod.clone() };
            self.apply(version, xid, flow_mod_op(version, &add, new_cookie, self.flow_mod_table_id)?)?;
        }
        Ok(Vec::new())
    }

    /// A bundle control request: open, close, commit (all the bundle's flow_mods as one table
    /// version) or discard. A failed commit is answered with the error of the flow_mod that
    /// failed (its own xid) and then MSG_FAILED; the bundle is gone either way.
    fn bundle_control(&mut self, version: Version, xid: u32, control: BundleControl) -> Result<Vec<Vec<u8>>, OfError> {
        let BundleControl { bundle_id, flags, .. } = control;
        let kind = match control.kind {
            BundleControlType::OpenRequest => {
                self.bundles.open(bundle_id, flags)?;
                BundleControlType::OpenReply
            }
            BundleControlType::CloseRequest => {
                self.bundles.close(bundle_id, flags)?;
                BundleControlType::CloseReply
            }
            BundleControlType::CommitRequest => {
                let (xids, ops): (Vec<u32>, Vec<FlowOp>) = self
                    .bundles
                    .take(bundle_id, flags)?
                    .into_iter()
                    .map(|flow_mod| (flow_mod.xid, flow_mod.op))
                    .unzip();
                let origin = self.requester(xids.first().copied().unwrap_or(xid));
                match self.ask(Query::FlowMods { ops, origin })? {
                    Answer::FlowMod(Ok(_)) => BundleControlType::CommitReply,
                    Answer::FlowMod(Err(FlowModFailure::Table { index, error })) => {
                        let failed = table_error(version, &error);
                        let commit = bundle_error(bundle::code::MSG_FAILED, format!("bundle {bundle_id}: {failed}"));
                        let inner_xid = xids.get(index).copied().unwrap_or(xid);
                        return Ok(vec![
                            encode_error(version, inner_xid, &failed, &[]),
                            encode_error(version, xid, &commit, &[]),
                        ]);
                    }
                    Answer::FlowMod(Err(FlowModFailure::Internal(error))) => return Err(eperm(error)),
                    other => return Err(unexpected(&other)),
                }
            }
            BundleControlType::DiscardRequest => {
                self.bundles.discard(bundle_id)?;
                BundleControlType::DiscardReply
            }
            reply => return Err(bundle_error(bundle::code::BAD_TYPE, format!("{reply:?} is not a request"))),
        };
        let reply = Message::BundleControl(BundleControl { bundle_id, kind, flags });
        encode(version, xid, &reply).map(|bytes| vec![bytes]).map_err(encode_failed)
    }

    /// A message added to a bundle: a flow_mod, checked now and applied at the commit.
    fn bundle_add(&mut self, version: Version, xid: u32, add: BundleAdd) -> Result<Vec<Vec<u8>>, OfError> {
        let op = match *add.message {
            Message::FlowMod(flow_mod) => flow_mod_op(version, &flow_mod, None, self.flow_mod_table_id)?,
            other => {
                return Err(bundle_error(bundle::code::MSG_UNSUP, format!("{} in a bundle", other.name())));
            }
        };
        self.bundles.add(add.bundle_id, add.flags, BundledFlowMod { xid, op })?;
        Ok(Vec::new())
    }

    /// Applies one table operation; returns how many rules it modified.
    fn apply(&self, version: Version, xid: u32, op: FlowOp) -> Result<usize, OfError> {
        match self.ask(Query::FlowMods { ops: vec![op], origin: self.requester(xid) })? {
            Answer::FlowMod(Ok(modified)) => Ok(modified),
            Answer::FlowMod(Err(FlowModFailure::Table { error, .. })) => Err(table_error(version, &error)),
            Answer::FlowMod(Err(FlowModFailure::Internal(error))) => Err(eperm(error)),
            other => Err(unexpected(&other)),
        }
    }

    /// Runs a packet-out. The switch never buffers packets, so a buffer id is unknown.
    fn packet_out(&self, packet_out: PacketOut) -> Result<Vec<Vec<u8>>, OfError> {
        if packet_out.buffer_id != NO_BUFFER {
            return Err(bad_request(
                message::bad_request::BUFFER_UNKNOWN,
                format!("buffer {} (the switch buffers no packets)", packet_out.buffer_id),
            ));
        }
        let query =
            Query::PacketOut { in_port: packet_out.in_port, actions: packet_out.actions, frame: packet_out.data };
        match self.ask(query)? {
            Answer::PacketOut(Ok(())) => Ok(Vec::new()),
            Answer::PacketOut(Err(PacketOutFailure::BadInPort(port))) => {
                Err(bad_request(message::bad_request::BAD_PORT, format!("in_port {port} is not a port of the bridge")))
            }
            Answer::PacketOut(Err(PacketOutFailure::Busy(why))) => Err(eperm(why)),
            other => Err(unexpected(&other)),
        }
    }

    fn meters(&self, id: u32) -> Result<Vec<MeterView>, OfError> {
        match self.ask(Query::Meters(id))? {
            Answer::Meters(views) => Ok(views),
            other => Err(unexpected(&other)),
        }
    }

    fn meter_mod(&self, meter_mod: &MeterMod) -> Result<Vec<Vec<u8>>, OfError> {
        let spec = match meter_mod.command {
            MeterCommand::Delete => MeterSpec { pktps: false, burst: false, stats: false, bands: Vec::new() },
            MeterCommand::Add | MeterCommand::Modify => meters::meter_spec(meter_mod)?,
        };
        match self.ask(Query::MeterMod { command: meter_mod.command, id: meter_mod.meter_id, spec })? {
            Answer::MeterMod(Ok(())) => Ok(Vec::new()),
            Answer::MeterMod(Err(MeterModFailure::Meter(error))) => Err(meters::meter_error(error)),
            Answer::MeterMod(Err(MeterModFailure::Internal(why))) => Err(eperm(why)),
            other => Err(unexpected(&other)),
        }
    }

    /// A PORT_MOD (OFPPMFC_BAD_PORT, BAD_HW_ADDR, BAD_CONFIG as the spec has them).
    fn port_mod(&self, port_mod: PortMod) -> Result<Vec<Vec<u8>>, OfError> {
        let query = Query::PortMod {
            port: port_mod.port_no,
            hw_addr: port_mod.hw_addr,
            set: port_flags(port_mod.config)?,
            mask: port_flags(port_mod.mask)?,
        };
        let failed = |code: u16, reason: String| OfError::new(ErrorType::PortModFailed, code, reason);
        match self.ask(query)? {
            Answer::PortMod(Ok(())) => Ok(Vec::new()),
            Answer::PortMod(Err(PortModFailure::NoSuchPort)) => Err(failed(0, format!("no port {}", port_mod.port_no))),
            Answer::PortMod(Err(PortModFailure::WrongHwAddr)) => {
                Err(failed(1, format!("port {}: another hardware address", port_mod.port_no)))
            }
            Answer::PortMod(Err(PortModFailure::Internal(why))) => Err(eperm(why)),
            other => Err(unexpected(&other)),
        }
    }

    fn multipart(&self, version: Version, xid: u32, request: MultipartRequest) -> Result<Vec<Vec<u8>>, OfError> {
        if request.more {
            return Err(bad_request(message::bad_request::EPERM, "multipart requests in parts are not supported"));
        }
        let is_nx = matches!(request.body, RequestBody::NxFlow(_) | RequestBody::NxAggregate(_));
        let single = |body: ReplyBody| split(version, xid, vec![body], |mut bodies| bodies.remove(0));
        match request.body {
            RequestBody::Desc => single(ReplyBody::Desc(Desc {
                manufacturer: "vswitch".into(),
                hardware: "DPDK userspace switch".into(),
                software: env!("CARGO_PKG_VERSION").into(),
                serial_num: "None".into(),
                datapath: format!("bridge {}", self.context.bridge),
            })),
            RequestBody::Flow(filter) | RequestBody::NxFlow(filter) => {
                let flows = match self.ask(Query::Flows(filter_selector(&filter)))? {
                    Answer::Flows(flows) => flows,
                    other => return Err(unexpected(&other)),
                };
                let stats: Vec<FlowStats> = flows.into_iter().map(flow_stats).collect();
                // NXST_FLOW is answered as NXST_FLOW, OFPST_FLOW as itself.
                if is_nx {
                    split(version, xid, stats, ReplyBody::NxFlow)
                } else {
                    split(version, xid, stats, ReplyBody::Flow)
                }
            }
            RequestBody::Aggregate(filter) | RequestBody::NxAggregate(filter) => {
                let sums = match self.ask(Query::Aggregate(filter_selector(&filter)))? {
                    Answer::Aggregate(sums) => sums,
                    other => return Err(unexpected(&other)),
                };
                let stats =
                    AggregateStats { packet_count: sums.packets, byte_count: sums.bytes, flow_count: sums.flows };
                single(if is_nx { ReplyBody::NxAggregate(stats) } else { ReplyBody::Aggregate(stats) })
            }
            RequestBody::Table => {
                let stats = match self.ask(Query::TableStats)? {
                    Answer::Tables(stats) => stats,
                    other => return Err(unexpected(&other)),
                };
                let tables: Vec<TableStats> = (0..N_TABLES)
                    .map(|t| {
                        let stat = stats.get(usize::from(t)).copied().unwrap_or_default();
                        TableStats {
                            table_id: t,
                            name: table_name(t),
                            wildcards: 0x003f_ffff,
                            max_entries: 1_000_000,
                            active_count: stat.active,
                            lookup_count: stat.lookups,
                            matched_count: stat.matched,
                        }
                    })
                    .collect();
                split(version, xid, tables, ReplyBody::Table)
            }
            RequestBody::TableFeatures(set) if set.is_empty() => {
                split(version, xid, (0..N_TABLES).map(table_features).collect(), ReplyBody::TableFeatures)
            }
            RequestBody::TableFeatures(_) => {
                Err(OfError::new(ErrorType::TableFeaturesFailed, 5, "the table features cannot be changed"))
            }
            RequestBody::PortStats(port) => {
                let stats = match self.ask(Query::PortStats(port))? {
                    Answer::PortStats(stats) => stats,
                    other => return Err(unexpected(&other)),
                };
                if stats.is_empty() && port.is_switch_port() && version >= Version::V1_3 {
                    return Err(bad_request(message::bad_request::BAD_PORT, format!("no port {port}")));
                }
                let stats: Vec<PortStats> = stats
                    .into_iter()
                    .map(|c| PortStats {
                        port_no: OfPort(c.ofport),
                        rx_packets: c.rx_packets,
                        tx_packets: c.tx_packets,
                        rx_bytes: c.rx_bytes,
                        tx_bytes: c.tx_bytes,
                        rx_dropped: c.rx_dropped,
                        tx_dropped: c.tx_dropped,
                        rx_errors: c.rx_errors,
                        tx_errors: c.tx_errors,
                        rx_frame_err: 0,
                        rx_over_err: 0,
                        rx_crc_err: 0,
                        collisions: 0,
                        duration_sec: duration_sec(c.duration_ms),
                        duration_nsec: duration_nsec(c.duration_ms),
                    })
                    .collect();
                split(version, xid, stats, ReplyBody::PortStats)
            }
            RequestBody::PortDesc(wanted) => {
                let ports = self.ports()?;
                let descs = ports
                    .iter()
                    .filter(|p| wanted == OfPort::NONE || OfPort(p.ofport) == wanted)
                    .map(|p| port_desc(version, p));
                split(version, xid, descs.collect(), ReplyBody::PortDesc)
            }
            RequestBody::Group(id) => groups::group_stats(version, xid, id, |query| self.ask(query)),
            RequestBody::GroupDesc(id) => groups::group_desc(version, xid, id, |query| self.ask(query)),
            RequestBody::GroupFeatures => single(ReplyBody::GroupFeatures(groups::features(version))),
            // The switch has no queues (yet): a truthful empty answer (also to QUEUE_DESC).
            RequestBody::Queue { .. } => single(ReplyBody::Queue(Vec::new())),
            RequestBody::Meter(id) => {
                let stats = self.meters(id)?.iter().map(meters::meter_stats).collect();
                split(version, xid, stats, ReplyBody::Meter)
            }
            RequestBody::MeterConfig(id) => {
                let configs = self.meters(id)?.iter().map(meters::meter_config).collect();
                split(version, xid, configs, ReplyBody::MeterConfig)
            }
            RequestBody::MeterFeatures => single(ReplyBody::MeterFeatures(meters::meter_features())),
            RequestBody::FlowMonitor(requests) => {
                match self.ask(Query::FlowMonitor { connection: self.member.id(), requests })? {
                    Answer::FlowMonitor(Ok(initial)) => split(version, xid, initial, ReplyBody::FlowMonitor),
                    Answer::FlowMonitor(Err(error)) => Err(monitor_error(version, error)),
                    other => Err(unexpected(&other)),
                }
            }
            // No table evicts or reports vacancy: every table's configuration is 0.
            RequestBody::TableDesc => split(
                version,
                xid,
                (0..N_TABLES).map(|table_id| TableDesc { table_id, config: 0 }).collect(),
                ReplyBody::TableDesc,
            ),
            RequestBody::QueueDesc { .. } => single(ReplyBody::QueueDesc(Vec::new())),
        }
    }
}

/// The management thread's answer to a query, waited for at most [`QUERY_TIMEOUT`].
fn await_answer(answer: &Receiver<Answer>) -> Result<Answer, OfError> {
    match answer.recv_timeout(QUERY_TIMEOUT) {
        Ok(Answer::NoBridge) => Err(eperm("the bridge is gone")),
        Ok(answer) => Ok(answer),
        Err(_) => Err(eperm("the switch did not answer in time")),
    }
}

/// A flow_mod sent to the management thread whose answer is still to come.
struct FlowModInFlight {
    version: Version,
    xid: u32,
    frame: Vec<u8>,
    answer: Receiver<Answer>,
}

/// Whether a message changes the switch (a slave may not send it).
fn changes_the_switch(message: &Message) -> bool {
    matches!(
        message,
        Message::FlowMod(_)
            | Message::NxFlowMod(_)
            | Message::PacketOut(_)
            | Message::GroupMod(_)
            | Message::PortMod(_)
            | Message::TableMod(_)
            | Message::MeterMod(_)
            | Message::BundleControl(_)
            | Message::BundleAdd(_)
            | Message::TlvTableMod(_)
    )
}

/// Whether bit `reason` is set in an asynchronous-configuration mask.
fn wanted(mask: u32, reason: u8) -> bool {
    reason < 32 && mask & (1 << reason) != 0
}

/// The reason a packet-in gives in `version`: the table-miss rule's is a miss in 1.3 and an
/// action in 1.0 (which has no table-miss rule), as Open vSwitch reports them.
fn packet_in_reason(version: Version, meta: &PacketInMeta) -> PacketInReason {
    match (meta.origin, version) {
        (PacketInOrigin::TableMissRule, Version::V1_3 | Version::V1_4 | Version::V1_5) => PacketInReason::NoMatch,
        _ => meta.reason,
    }
}

/// The PACKET_IN of a packet-in event, with `reason`: never buffered; the match has in_port and
/// the pipeline fields that are not zero. In 1.3 the packet is cut to the controller action's
/// max_len; in 1.0 an unbuffered packet goes whole, whatever max_len or miss_send_len say (the
/// 1.0 specification, and Open vSwitch since it buffers no packets).
fn packet_in(version: Version, reason: PacketInReason, event: &PacketInEvent) -> PacketIn {
    let meta = &event.meta;
    let mut matches = Match::catch_all();
    matches.set_in_port(OfPort(meta.in_port));
    let pipeline_fields = [(Field::Metadata, u128::from(meta.metadata)), (Field::TunId, u128::from(meta.tun_id))]
        .into_iter()
        .chain(meta.regs.iter().zip(0u8..).map(|(value, r)| (Field::Reg(r), u128::from(*value))));
    for (field, value) in pipeline_fields {
        if value != 0 {
            matches.set_exact(field, value);
        }
    }
    // The whole message must fit its 16-bit length: header, fixed part and match take < 512.
    let room = match version {
        Version::V1_3 | Version::V1_4 | Version::V1_5 => usize::from(meta.max_len),
        Version::V1_0 => usize::MAX,
    }
    .min(usize::from(u16::MAX) - 512);
    PacketIn {
        buffer_id: NO_BUFFER,
        total_len: u16::try_from(event.total_len).unwrap_or(u16::MAX),
        reason,
        table_id: meta.table_id,
        cookie: meta.cookie,
        matches,
        data: event.data.get(..room.min(event.data.len())).unwrap_or_default().to_vec(),
    }
}

/// The FLOW_REMOVED of a rule that went away.
fn flow_removed(reason: FlowRemovedReason, flow: &FlowStat) -> FlowRemoved {
    let rule = &flow.rule;
    FlowRemoved {
        cookie: rule.cookie,
        priority: rule.priority,
        reason,
        table_id: rule.table,
        duration_sec: duration_sec(flow.duration_ms),
        duration_nsec: duration_nsec(flow.duration_ms),
        idle_timeout: rule.idle_timeout,
        hard_timeout: rule.hard_timeout,
        packet_count: flow.packets,
        byte_count: flow.bytes,
        matches: rule.matches.clone(),
    }
}

/// The OFPT_ERROR of a refused flow monitor request or cancel, as Open vSwitch sends it: 1.4's
/// OFPMOFC codes, Open vSwitch's extension's before.
fn monitor_error(version: Version, error: MonitorError) -> OfError {
    let failed = |code: u16| OfError::new(ErrorType::FlowMonitorFailed, code, error.to_string());
    let (exists, unknown) = match version {
        Version::V1_0 | Version::V1_3 => (nicira_monitor_codes::MONITOR_EXISTS, nicira_monitor_codes::UNKNOWN_MONITOR),
        Version::V1_4 | Version::V1_5 => (monitor_codes::MONITOR_EXISTS, monitor_codes::UNKNOWN_MONITOR),
    };
    match error {
        MonitorError::Exists(_) => failed(exists),
        MonitorError::Unknown(_) => failed(unknown),
        // OFPBRC_BAD_TABLE_ID.
        MonitorError::BadTable(_) => bad_request(9, error.to_string()),
    }
}

fn eperm(reason: impl Into<String>) -> OfError {
    bad_request(message::bad_request::EPERM, reason)
}

fn unexpected(answer: &Answer) -> OfError {
    eperm(format!("internal error: unexpected answer {answer:?}"))
}

fn encode_failed(error: EncodeError) -> OfError {
    eperm(format!("reply cannot be encoded: {error}"))
}

/// Encodes `items` as one or more multipart replies (`more` on all but the last), each at
/// most 65535 bytes.
fn split<T: Clone>(
    version: Version,
    xid: u32,
    items: Vec<T>,
    make: impl Fn(Vec<T>) -> ReplyBody,
) -> Result<Vec<Vec<u8>>, OfError> {
    let mut out = Vec::new();
    let mut rest: &[T] = &items;
    let mut per_message = rest.len().max(1);
    loop {
        let take = per_message.min(rest.len());
        let more = take < rest.len();
        let body = make(rest.get(..take).unwrap_or_default().to_vec());
        match encode(version, xid, &Message::MultipartReply(MultipartReply { more, body })) {
            Ok(bytes) => {
                out.push(bytes);
                rest = rest.get(take..).unwrap_or_default();
                if rest.is_empty() {
                    return Ok(out);
                }
            }
            Err(EncodeError::TooLong { .. }) if take > 1 => per_message = take / 2,
            Err(e) => return Err(encode_failed(e)),
        }
    }
}

/// FEATURES_REPLY: capabilities flow, table, port (and, in 1.3, group) stats; 1.0 also lists the
/// ports and the one action set it has (output).
fn features(version: Version, datapath_id: u64, ports: &[PortView]) -> FeaturesReply {
    FeaturesReply {
        datapath_id,
        n_buffers: 0,
        n_tables: N_TABLES,
        auxiliary_id: 0,
        // Flow, table and port stats; in 1.3 group stats too (bit 3 is STP in 1.0).
        capabilities: if version >= Version::V1_3 { 0xf } else { 0x7 },
        actions: if version == Version::V1_0 { 0x1 } else { 0 },
        ports: if version == Version::V1_0 {
            ports.iter().map(|p| port_desc(version, p)).collect()
        } else {
            Vec::new()
        },
    }
}

/// A port in the bits of `version`: link down (1) or, in 1.3, live (4); the current speed as
/// a full-duplex feature bit and, in 1.3, in kbps.
fn port_desc(version: Version, port: &PortView) -> PortDesc {
    let speed_bit = match port.speed_mbps {
        10 => 1 << 1,
        100 => 1 << 3,
        1_000 => 1 << 5,
        10_000 => 1 << 6,
        40_000 if version >= Version::V1_3 => 1 << 7,
        100_000 if version >= Version::V1_3 => 1 << 8,
        0 => 0,
        _ if version >= Version::V1_3 => 1 << 10,
        _ => 0,
    };
    let state = match (port.link_up && !port.flags.down, version) {
        (false, _) => 1,
        (true, Version::V1_3 | Version::V1_4 | Version::V1_5) => 4,
        (true, Version::V1_0) => 0,
    };
    PortDesc {
        port_no: OfPort(port.ofport),
        hw_addr: port.mac,
        name: port.name.clone(),
        config: port_config_bits(port.flags),
        state,
        curr: speed_bit,
        advertised: 0,
        supported: 0,
        peer: 0,
        curr_speed: port.speed_mbps.saturating_mul(1000),
        max_speed: port.speed_mbps.saturating_mul(1000),
    }
}

/// OFPPC_* bits: PORT_DOWN, NO_RECV, NO_FLOOD (1.0's bit, accepted in 1.3 as Open vSwitch
/// does), NO_FWD, NO_PACKET_IN. The same numbers in 1.0 and 1.3.
const PORT_CONFIG_BITS: [u32; 5] = [1, 1 << 2, 1 << 4, 1 << 5, 1 << 6];

fn port_config_bits(flags: PortFlags) -> u32 {
    let set = [flags.down, flags.no_recv, flags.no_flood, flags.no_fwd, flags.no_packet_in];
    PORT_CONFIG_BITS.iter().zip(set).filter(|(_, on)| *on).map(|(bit, _)| bit).sum()
}

/// The flags of OFPPC_* bits; bits the switch does not have (1.0's STP bits) are an error.
fn port_flags(bits: u32) -> Result<PortFlags, OfError> {
    let known: u32 = PORT_CONFIG_BITS.iter().sum();
    if bits & !known != 0 {
        return Err(OfError::new(ErrorType::PortModFailed, 2, format!("port config bits {:#x}", bits & !known)));
    }
    let on = |bit: u32| bits & bit != 0;
    Ok(PortFlags {
        down: on(PORT_CONFIG_BITS[0]),
        no_recv: on(PORT_CONFIG_BITS[1]),
        no_flood: on(PORT_CONFIG_BITS[2]),
        no_fwd: on(PORT_CONFIG_BITS[3]),
        no_packet_in: on(PORT_CONFIG_BITS[4]),
    })
}

fn table_name(table: u8) -> String {
    if table == 0 {
        "classifier".into()
    } else {
        format!("table{table}")
    }
}

/// OXM header of an OpenFlow basic field (class 0x8000) of `bytes` bytes.
fn oxm(field: u8, bytes: u8) -> OxmId {
    OxmId { header: 0x8000_0000 | u32::from(field) << 9 | u32::from(bytes), experimenter: None }
}

/// The OpenFlow basic fields the pipeline matches and sets: in_port, metadata, Ethernet
/// addresses and type, VLAN id and PCP, IP DSCP/ECN/protocol, IPv4 addresses, TCP/UDP ports,
/// ICMP type/code, ARP op/addresses.
fn match_fields() -> Vec<OxmId> {
    [
        (0, 4),
        (2, 8),
        (3, 6),
        (4, 6),
        (5, 2),
        (6, 2),
        (7, 1),
        (8, 1),
        (9, 1),
        (10, 1),
        (11, 4),
        (12, 4),
        (13, 2),
        (14, 2),
        (15, 2),
        (16, 2),
        (19, 1),
        (20, 1),
        (21, 2),
        (22, 4),
        (23, 4),
        (24, 6),
        (25, 6),
    ]
    .into_iter()
    .map(|(field, bytes)| oxm(field, bytes))
    .collect()
}

/// Instruction or action ids: only their type.
fn ids(kinds: &[u16]) -> Vec<FeatureId> {
    kinds.iter().map(|&kind| FeatureId { kind, data: Vec::new() }).collect()
}

/// The table-features entry of one table, with the eight properties OpenFlow 1.3 requires
/// (ovs-ofctl refuses a reply without them): instructions goto_table, write_metadata,
/// write/apply/clear_actions; next tables: every later one; actions output, set_field,
/// push/pop VLAN, group, dec_nw_ttl; the match fields (all of them wildcardable and settable).
fn table_features(table: u8) -> TableFeatures {
    let last = table + 1 >= N_TABLES;
    let instructions = if last { ids(&[2, 3, 4, 5]) } else { ids(&[1, 2, 3, 4, 5]) };
    let actions = ids(&[0, 17, 18, 22, 24, 25]);
    let fields = match_fields();
    TableFeatures {
        table_id: table,
        name: table_name(table),
        metadata_match: u64::MAX,
        metadata_write: u64::MAX,
        config: 0,
        max_entries: 1_000_000,
        properties: vec![
            TableFeatureProperty::Instructions { miss: false, ids: instructions },
            TableFeatureProperty::NextTables { miss: false, tables: (table.saturating_add(1)..N_TABLES).collect() },
            TableFeatureProperty::WriteActions { miss: false, ids: actions.clone() },
            TableFeatureProperty::ApplyActions { miss: false, ids: actions },
            TableFeatureProperty::Match(fields.clone()),
            TableFeatureProperty::Wildcards(fields.clone()),
            TableFeatureProperty::WriteSetfield { miss: false, fields: fields.clone() },
            TableFeatureProperty::ApplySetfield { miss: false, fields },
        ],
    }
}

fn flow_stats(stat: FlowStat) -> FlowStats {
    let rule = stat.rule;
    FlowStats {
        table_id: rule.table,
        duration_sec: duration_sec(stat.duration_ms),
        duration_nsec: duration_nsec(stat.duration_ms),
        priority: rule.priority,
        idle_timeout: rule.idle_timeout,
        hard_timeout: rule.hard_timeout,
        flags: FlowModFlags {
            send_flow_rem: stat.flags.send_flow_rem,
            check_overlap: stat.flags.check_overlap,
            reset_counts: stat.flags.reset_counts,
            no_packet_counts: false,
            no_byte_counts: false,
        },
        cookie: rule.cookie,
        packet_count: stat.packets,
        byte_count: stat.bytes,
        idle_age: u16::try_from(stat.idle_age_s + 1).unwrap_or(u16::MAX),
        hard_age: u16::try_from(stat.hard_age_s + 1).unwrap_or(u16::MAX),
        matches: rule.matches,
        instructions: rule.instructions,
    }
}

/// The selector of a flow or aggregate stats request.
fn filter_selector(filter: &FlowStatsRequest) -> FlowSelector {
    FlowSelector {
        table: (filter.table_id != 0xff).then_some(filter.table_id),
        strict: false,
        priority: 0,
        matches: filter.matches.clone(),
        cookie: filter.cookie,
        cookie_mask: filter.cookie_mask,
        out_port: (filter.out_port != OfPort::NONE).then_some(filter.out_port),
        out_group: (filter.out_group != GROUP_ANY).then_some(filter.out_group),
    }
}

fn flow_mod_failed(version: Version, code_v13: u16, code_v10: u16, reason: impl Into<String>) -> OfError {
    let code = if version >= Version::V1_3 { code_v13 } else { code_v10 };
    OfError::new(ErrorType::FlowModFailed, code, reason)
}

/// The OFPT_ERROR of a refused flow_mod.
fn table_error(version: Version, error: &FlowTableError) -> OfError {
    match error {
        // OFPFMFC_BAD_TABLE_ID (1.3); 1.0 has no such code: OFPFMFC_EPERM.
        FlowTableError::BadTable(_) => flow_mod_failed(version, 2, 2, error.to_string()),
        // OFPBIC_BAD_TABLE_ID; 1.0 has no goto_table at all.
        FlowTableError::BadGoto { .. } => OfError::new(ErrorType::BadInstruction, 2, error.to_string()),
        // OFPFMFC_OVERLAP.
        FlowTableError::Overlap(_) => flow_mod_failed(version, 3, 1, error.to_string()),
        // OFPBMC_BAD_PREREQ (1.0: reported as OFPBRC_EPERM by the codec).
        FlowTableError::Invalid(_) => OfError::new(ErrorType::BadMatch, 9, error.to_string()),
        // OFPBAC_BAD_OUT_GROUP (1.0 has no group actions to name one).
        FlowTableError::UnknownGroup(_) => OfError::new(ErrorType::BadAction, 9, error.to_string()),
        FlowTableError::UnknownMeter(_) => {
            OfError::new(ErrorType::MeterModFailed, meters::code::UNKNOWN_METER, error.to_string())
        }
    }
}

/// The table operation of a flow_mod. `new_cookie`
/// is the cookie an NXT_FLOW_MOD sets (its `flow_mod.cookie`/`cookie_mask` are the cookie
/// match); `table_id_ext`: NXT_FLOW_MOD_TABLE_ID is on, so a 1.0 command carries a table id.
pub fn flow_mod_op(
    version: Version,
    flow_mod: &FlowMod,
    new_cookie: Option<u64>,
    table_id_ext: bool,
) -> Result<FlowOp, OfError> {
    // 1.0 without the table-id extension: adds go to table 0, everything else to every table.
    let table_id = if version == Version::V1_0 && !table_id_ext { 0xff } else { flow_mod.table_id };
    let deletes = matches!(flow_mod.command, FlowModCommand::Delete | FlowModCommand::DeleteStrict);
    // A delete has no packet to release: its buffer_id means nothing (OpenFlow 1.0 5.3.3,
    // and Open vSwitch ignores it).
    if flow_mod.buffer_id != NO_BUFFER && !deletes {
        return Err(bad_request(
            message::bad_request::BUFFER_UNKNOWN,
            format!("buffer {:#x}: the switch buffers no packets", flow_mod.buffer_id),
        ));
    }
    // Cookies: 1.3 matches on cookie/cookie_mask and a modify keeps the rules' cookie; 1.0's
    // OFPT_FLOW_MOD has no cookie match and its cookie is the new one (all ones: unchanged);
    // NXT_FLOW_MOD has both.
    let (match_cookie, match_mask, set_cookie) = match (version, new_cookie) {
        (_, Some(new)) => (flow_mod.cookie, flow_mod.cookie_mask, new),
        (Version::V1_3 | Version::V1_4 | Version::V1_5, None) => (flow_mod.cookie, flow_mod.cookie_mask, u64::MAX),
        (Version::V1_0, None) => (0, 0, flow_mod.cookie),
    };
    let selector = |strict: bool, out_port: bool| FlowSelector {
        table: (table_id != 0xff).then_some(table_id),
        strict,
        priority: flow_mod.priority,
        matches: flow_mod.matches.clone(),
        cookie: match_cookie,
        cookie_mask: match_mask,
        out_port: (out_port && flow_mod.out_port != OfPort::NONE).then_some(flow_mod.out_port),
        out_group: (out_port && flow_mod.out_group != GROUP_ANY).then_some(flow_mod.out_group),
    };
    let strict = matches!(flow_mod.command, FlowModCommand::ModifyStrict | FlowModCommand::DeleteStrict);
    Ok(match flow_mod.command {
        FlowModCommand::Add => {
            let rule = FlowRule {
                table: if table_id == 0xff { 0 } else { table_id },
                priority: flow_mod.priority,
                cookie: match (version, new_cookie) {
                    (Version::V1_3 | Version::V1_4 | Version::V1_5, None) => flow_mod.cookie,
                    _ if set_cookie == u64::MAX => 0,
                    _ => set_cookie,
                },
                idle_timeout: flow_mod.idle_timeout,
                hard_timeout: flow_mod.hard_timeout,
                matches: flow_mod.matches.clone(),
                instructions: flow_mod.instructions.clone(),
            };
            if version >= Version::V1_3 && flow_mod.table_id == 0xff {
                return Err(flow_mod_failed(version, 2, 2, "table 255 (all) in an add"));
            }
            rule.check().map_err(|e| OfError::new(ErrorType::BadMatch, 9, e.to_string()))?;
            let flags = table::FlowModFlags {
                send_flow_rem: flow_mod.flags.send_flow_rem,
                check_overlap: flow_mod.flags.check_overlap,
                // In 1.0 an add that replaces a rule always starts its counters from zero (1.0
                // has no OFPFF_RESET_COUNTS); Open vSwitch sets the flag for it.
                reset_counts: flow_mod.flags.reset_counts || version == Version::V1_0,
            };
            FlowOp::Add { rule, flags }
        }
        FlowModCommand::Modify | FlowModCommand::ModifyStrict => FlowOp::Modify(FlowModification {
            selector: selector(strict, false),
            new_cookie: (set_cookie != u64::MAX).then_some(set_cookie),
            idle_timeout: flow_mod.idle_timeout,
            hard_timeout: flow_mod.hard_timeout,
            instructions: flow_mod.instructions.clone(),
        }),
        FlowModCommand::Delete | FlowModCommand::DeleteStrict => FlowOp::Delete(selector(strict, true)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Instructions, Match};

    fn flow_mod(command: FlowModCommand) -> FlowMod {
        FlowMod {
            cookie: 0x10,
            cookie_mask: 0,
            table_id: 3,
            command,
            idle_timeout: 0,
            hard_timeout: 0,
            priority: 100,
            buffer_id: NO_BUFFER,
            out_port: OfPort::NONE,
            out_group: GROUP_ANY,
            flags: FlowModFlags::default(),
            matches: Match::catch_all(),
            instructions: Instructions::default(),
        }
    }

    #[test]
    fn adds_keep_their_table_and_cookie() {
        let FlowOp::Add { rule, .. } = flow_mod_op(Version::V1_3, &flow_mod(FlowModCommand::Add), None, false).unwrap()
        else {
            panic!("not an add")
        };
        assert_eq!((rule.table, rule.cookie, rule.priority), (3, 0x10, 100));
        // 1.0 without the table-id extension: table 0.
        let FlowOp::Add { rule, .. } = flow_mod_op(Version::V1_0, &flow_mod(FlowModCommand::Add), None, false).unwrap()
        else {
            panic!("not an add")
        };
        assert_eq!((rule.table, rule.cookie), (0, 0x10));
    }

    #[test]
    fn adds_reset_counters_in_1_0_and_only_when_asked_in_1_3() {
        let reset = |version: Version, asked: bool| {
            let mut add = flow_mod(FlowModCommand::Add);
            add.flags.reset_counts = asked;
            match flow_mod_op(version, &add, None, false).unwrap() {
                FlowOp::Add { flags, .. } => flags.reset_counts,
                other => panic!("not an add: {other:?}"),
            }
        };
        assert!(reset(Version::V1_0, false));
        assert!(!reset(Version::V1_3, false));
        assert!(reset(Version::V1_3, true));
    }

    #[test]
    fn modify_keeps_cookies_in_1_3_and_sets_them_in_1_0() {
        let mut m = flow_mod(FlowModCommand::Modify);
        m.cookie_mask = 0xff;
        let FlowOp::Modify(modification) = flow_mod_op(Version::V1_3, &m, None, false).unwrap() else {
            panic!("not a modify")
        };
        assert_eq!(modification.new_cookie, None);
        assert_eq!((modification.selector.cookie, modification.selector.cookie_mask), (0x10, 0xff));
        assert_eq!(modification.selector.table, Some(3));
        let FlowOp::Modify(modification) = flow_mod_op(Version::V1_0, &m, None, false).unwrap() else {
            panic!("not a modify")
        };
        assert_eq!(modification.new_cookie, Some(0x10));
        assert_eq!((modification.selector.table, modification.selector.cookie_mask), (None, 0));
        m.cookie = u64::MAX;
        let FlowOp::Modify(modification) = flow_mod_op(Version::V1_0, &m, None, true).unwrap() else {
            panic!("not a modify")
        };
        assert_eq!((modification.new_cookie, modification.selector.table), (None, Some(3)));
    }

    #[test]
    fn deletes_filter_on_out_port_and_strictness() {
        let mut d = flow_mod(FlowModCommand::DeleteStrict);
        d.table_id = 0xff;
        d.out_port = OfPort(2);
        let FlowOp::Delete(selector) = flow_mod_op(Version::V1_3, &d, None, false).unwrap() else {
            panic!("not a delete")
        };
        assert!(selector.strict);
        assert_eq!((selector.table, selector.out_port, selector.priority), (None, Some(OfPort(2)), 100));
        d.out_group = 7;
        let FlowOp::Delete(selector) = flow_mod_op(Version::V1_3, &d, None, false).unwrap() else {
            panic!("not a delete")
        };
        assert_eq!(selector.out_group, Some(7));
    }

    #[test]
    fn refusals_carry_the_version_s_codes() {
        let mut m = flow_mod(FlowModCommand::Add);
        m.buffer_id = 5;
        let error = flow_mod_op(Version::V1_3, &m, None, false).unwrap_err();
        assert_eq!((error.kind, error.code), (ErrorType::BadRequest, 8));
        m.buffer_id = NO_BUFFER;
        m.table_id = 0xff;
        let error = flow_mod_op(Version::V1_3, &m, None, false).unwrap_err();
        assert_eq!((error.kind, error.code), (ErrorType::FlowModFailed, 2));
        let overlap = FlowTableError::Overlap(Box::default());
        assert_eq!(table_error(Version::V1_3, &overlap).code, 3);
        assert_eq!(table_error(Version::V1_0, &overlap).code, 1);
    }

    #[test]
    fn deletes_ignore_the_buffer_id() {
        for version in [Version::V1_0, Version::V1_3] {
            for command in [FlowModCommand::Delete, FlowModCommand::DeleteStrict] {
                let mut d = flow_mod(command);
                d.buffer_id = 5;
                assert!(
                    matches!(flow_mod_op(version, &d, None, false), Ok(FlowOp::Delete(_))),
                    "{version:?} {command:?}"
                );
            }
        }
    }

    #[test]
    fn big_replies_are_split_below_64_kib() {
        let tables: Vec<TableFeatures> = (0..N_TABLES).map(table_features).collect();
        let messages = split(Version::V1_3, 9, tables, ReplyBody::TableFeatures).unwrap();
        assert!(messages.len() > 1);
        let mut seen = 0;
        for (i, bytes) in messages.iter().enumerate() {
            assert!(bytes.len() <= 65535);
            let (_, message) = decode(bytes).unwrap();
            let Message::MultipartReply(reply) = message else { panic!("not a reply") };
            assert_eq!(reply.more, i + 1 < messages.len());
            let ReplyBody::TableFeatures(tables) = reply.body else { panic!("not table features") };
            seen += tables.len();
        }
        assert_eq!(seen, usize::from(N_TABLES));
        let empty = split(Version::V1_3, 9, Vec::<FlowStats>::new(), ReplyBody::Flow).unwrap();
        assert_eq!(empty.len(), 1);
    }
}
