//! The OpenFlow targets of every bridge and their threads: the unix management socket
//! `<bridge>.mgmt`, passive listeners (`ptcp:PORT[:IP]`, `ptls:PORT[:IP]`) and active
//! controllers (`tcp:IP:PORT`, `tls:IP:PORT`). An accepted connection gets its own thread; an
//! active controller has one thread that connects, serves the connection with the same
//! [`conn::serve`] as an accepted one and, when the connection fails or ends, reconnects with
//! exponential backoff (1 s doubling to 8 s, Open vSwitch's default max_backoff). Each state
//! change of a controller is logged once, not every retry. A TLS target's connection makes
//! its handshake (with the switch's [`TlsIdentity`], loaded once at start) in its own thread
//! before it is served; one that fails is refused, never served in plaintext.
//!
//! Every thread notices a stop within [`POLL`] (listeners accept without blocking and sleep
//! in short steps; a controller sleeps its backoff in short steps and waits for a connect
//! made in a helper thread in short steps), and stopping a target shuts its open connections
//! down, which wakes their blocked reads at once. [`OpenFlowServer::set_targets`] (vsctl
//! set-controller/del-controller, on the management thread) changes a bridge's targets:
//! targets it keeps are untouched (their connections stay), new ones start, removed ones stop,
//! a removed listener is unbound before it returns. The fail mode is stored here too, and
//! [`OpenFlowServer::fail_open`] tells the management thread when a standalone bridge must
//! forward on its own.

use std::collections::{BTreeMap, HashMap};
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel::{self, Receiver, RecvTimeoutError, Sender};

use crate::config::{Config, FailMode, OpenFlowTarget, Transport};
use crate::control::protocol::ConnectionStatus;
use crate::pipeline::table::RuleEntry;

use super::conn::{serve, Context, Stream, PROBE_INTERVAL};
use super::monitor::{ChangeSet, FlowUpdate, MonitorError, MonitorRequest};
use super::service::{OfPending, Push};
use super::tls::{TlsIdentity, TlsStream};

/// The first wait before reconnecting to a controller, and after a connection ended.
pub const MIN_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between connection attempts (Open vSwitch's max_backoff default).
pub const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a waiting thread looks at its stop flag.
const POLL: Duration = Duration::from_millis(20);
/// How long a standalone bridge waits without a controller before it forwards on its own
/// (Open vSwitch: three inactivity probe intervals).
pub const FAIL_OPEN_AFTER: Duration = Duration::from_secs(3 * PROBE_INTERVAL.as_secs());
/// How long stopping the server waits for its threads.
const SHUTDOWN_WAIT: Duration = Duration::from_millis(500);

/// The OpenFlow targets of every bridge. Dropping it stops every thread (bounded wait) and
/// removes the management sockets.
pub struct OpenFlowServer {
    requests: Sender<OfPending>,
    bridges: BTreeMap<String, BridgeTargets>,
    /// Every thread holds a clone of the sender; when all are gone the receiver disconnects.
    threads_alive: Option<Sender<()>>,
    threads_done: Receiver<()>,
    /// The switch's TLS identity (`[tls]`), for `tls:` and `ptls:` targets.
    tls: Option<TlsIdentity>,
}

/// One bridge's management socket, targets and fail mode.
struct BridgeTargets {
    context: Context,
    mgmt_socket: PathBuf,
    mgmt: Running,
    targets: Vec<(OpenFlowTarget, Running)>,
    fail_mode: Option<FailMode>,
}

/// The threads of one target: they end once `stop` is set; `open` are its live connections.
#[derive(Clone, Default)]
struct Lifetime {
    stop: Arc<AtomicBool>,
    open: Arc<Mutex<HashMap<u64, Stream>>>,
    next_id: Arc<AtomicU64>,
}

/// A connection in its target's `open` set while it lives.
struct Registration {
    lifetime: Lifetime,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.lifetime.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&self.id);
    }
}

impl Lifetime {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Stops the target's threads and shuts its open connections down.
    fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        for stream in self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).values() {
            stream.shutdown();
        }
    }

    /// Registers a connection so that [`Lifetime::stop`] can end it.
    fn register(&self, stream: &Stream) -> Result<Registration, String> {
        let handle = stream.try_clone().map_err(|e| format!("cannot register the connection: {e}"))?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(id, handle);
        let registration = Registration { lifetime: self.clone(), id };
        // A stop between the check in the caller and the insert: end it here.
        if self.stopped() {
            stream.shutdown();
        }
        Ok(registration)
    }

    /// Sleeps `duration` in short steps; false when stopped meanwhile.
    fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        while !self.stopped() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            std::thread::sleep(left.min(POLL));
        }
        false
    }
}

/// A running target: its lifetime and, for a listener, its accepting thread (joined on stop,
/// so that the address is free again when [`Running::stop`] returns).
struct Running {
    lifetime: Lifetime,
    accepting: Option<JoinHandle<()>>,
}

impl Running {
    fn stop(mut self) {
        self.lifetime.stop();
        if let Some(thread) = self.accepting.take() {
            let _ = thread.join();
        }
    }
}

/// A bound listener, not yet accepting.
enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Listener {
    fn accept(&self) -> std::io::Result<(Stream, String)> {
        match self {
            Listener::Tcp(listener) => {
                let (stream, peer) = listener.accept()?;
                stream.set_nonblocking(false)?;
                let _ = stream.set_nodelay(true);
                Ok((Stream::Tcp(stream), peer.to_string()))
            }
            Listener::Unix(listener) => {
                let (stream, _) = listener.accept()?;
                stream.set_nonblocking(false)?;
                Ok((Stream::Unix(stream), "unix".into()))
            }
        }
    }

    fn set_nonblocking(&self) -> std::io::Result<()> {
        match self {
            Listener::Tcp(listener) => listener.set_nonblocking(true),
            Listener::Unix(listener) => listener.set_nonblocking(true),
        }
    }
}

impl OpenFlowServer {
    /// Loads the TLS identity (`[tls]`), binds every bridge's management socket and
    /// listeners, starts accepting and connecting to its controllers. The receiver gets the
    /// connections' queries for the management thread.
    pub fn start(config: &Config) -> Result<(OpenFlowServer, Receiver<OfPending>), String> {
        let tls = config.tls.as_ref().map(TlsIdentity::load).transpose()?;
        let (requests, received) = channel::unbounded();
        let (threads_alive, threads_done) = channel::bounded(1);
        let mut server = OpenFlowServer {
            requests,
            bridges: BTreeMap::new(),
            threads_alive: Some(threads_alive),
            threads_done,
            tls,
        };
        for bridge in &config.bridges {
            let context = Context::new(bridge, server.requests.clone());
            let path = config.control.mgmt_socket(&bridge.name);
            let listener = crate::unix_socket::bind(&path, "OpenFlow management socket")?;
            let mgmt = server.start_listener(Listener::Unix(listener), None, &context)?;
            tracing::info!(bridge = %bridge.name, socket = %path.display(), "OpenFlow management socket");
            server.bridges.insert(
                bridge.name.clone(),
                BridgeTargets { context, mgmt_socket: path, mgmt, targets: Vec::new(), fail_mode: bridge.fail_mode },
            );
            server.set_targets(&bridge.name, &bridge.openflow).map_err(|e| format!("bridge {}: {e}", bridge.name))?;
        }
        Ok((server, received))
    }

    /// The targets of `bridge`, in the order they were set.
    pub fn targets(&self, bridge: &str) -> Result<Vec<OpenFlowTarget>, String> {
        Ok(self.bridge(bridge)?.targets.iter().map(|(target, _)| *target).collect())
    }

    /// Replaces the targets of `bridge`: all new listeners are bound first (a failure, or a
    /// TLS target without `[tls]`, changes nothing), then removed targets stop (their
    /// connections are closed, listeners unbound) and new ones start. Targets in both lists
    /// are untouched.
    pub fn set_targets(&mut self, bridge: &str, wanted: &[OpenFlowTarget]) -> Result<(), String> {
        let current = self.targets(bridge)?;
        let new_targets: Vec<&OpenFlowTarget> = wanted.iter().filter(|t| !current.contains(t)).collect();
        for target in &new_targets {
            target.check_tls_configured(self.tls.is_some())?;
        }
        let mut bound: Vec<(OpenFlowTarget, Option<TcpListener>)> = Vec::new();
        for target in new_targets {
            bound.push((*target, bind(target)?));
        }
        let Some(state) = self.bridges.get_mut(bridge) else { return Err(format!("no bridge named {bridge:?}")) };
        let (kept, removed): (Vec<_>, Vec<_>) =
            std::mem::take(&mut state.targets).into_iter().partition(|(target, _)| wanted.contains(target));
        state.targets = kept;
        for (target, running) in removed {
            running.stop();
            tracing::info!(bridge, target = %target, "OpenFlow target removed");
        }
        let context = state.context.clone();
        let mut started = Vec::new();
        for (target, listener) in bound {
            let tls = match target.transport() {
                Transport::Tcp => None,
                Transport::Tls => self.tls.clone(),
            };
            let running = match listener {
                Some(listener) => self.start_listener(Listener::Tcp(listener), tls, &context)?,
                None => self.start_controller(target.address(), tls, &context)?,
            };
            tracing::info!(bridge, target = %target, "OpenFlow target added");
            started.push((target, running));
        }
        let Some(state) = self.bridges.get_mut(bridge) else { return Err(format!("no bridge named {bridge:?}")) };
        state.targets.extend(started);
        // The order the caller gave.
        state.targets.sort_by_key(|(target, _)| wanted.iter().position(|w| w == target));
        Ok(())
    }

    /// A new datapath id for `bridge`: what FEATURES_REPLY says from now on. Its controllers
    /// (active targets) are reconnected so that they see it, as Open vSwitch does; connections
    /// to its listeners stay (their next FEATURES_REQUEST gets the new id).
    pub fn set_datapath_id(&mut self, bridge: &str, datapath_id: u64) -> Result<(), String> {
        self.bridge(bridge)?.context.set_datapath_id(datapath_id);
        let targets = self.targets(bridge)?;
        let listeners: Vec<OpenFlowTarget> =
            targets.iter().filter(|t| matches!(t, OpenFlowTarget::Listen(..))).copied().collect();
        if listeners.len() < targets.len() {
            self.set_targets(bridge, &listeners)?;
            self.set_targets(bridge, &targets)?;
        }
        Ok(())
    }

    pub fn fail_mode(&self, bridge: &str) -> Result<Option<FailMode>, String> {
        Ok(self.bridge(bridge)?.fail_mode)
    }

    pub fn set_fail_mode(&mut self, bridge: &str, mode: Option<FailMode>) -> Result<(), String> {
        let state = self.bridges.get_mut(bridge).ok_or_else(|| format!("no bridge named {bridge:?}"))?;
        state.fail_mode = mode;
        Ok(())
    }

    /// The OpenFlow connections of `bridge` now.
    pub fn connections(&self, bridge: &str) -> Result<Vec<ConnectionStatus>, String> {
        Ok(self.bridge(bridge)?.context.registry.statuses())
    }

    /// Whether `bridge` should forward on its own now (fail-open): its fail mode is standalone
    /// (also when not set, as in Open vSwitch), it has controller targets, and no controller
    /// has been connected for [`FAIL_OPEN_AFTER`].
    pub fn fail_open(&self, bridge: &str) -> bool {
        let Some(state) = self.bridges.get(bridge) else { return false };
        state.fail_mode != Some(FailMode::Secure)
            && !state.targets.is_empty()
            && state.context.registry.alone_for().is_some_and(|alone| alone >= FAIL_OPEN_AFTER)
    }

    /// Whether a connection of `bridge` wants a packet-in for every table miss (OpenFlow 1.0).
    pub fn wants_misses(&self, bridge: &str) -> bool {
        self.bridges.get(bridge).is_some_and(|state| state.context.registry.wants_misses())
    }

    fn bridge(&self, bridge: &str) -> Result<&BridgeTargets, String> {
        self.bridges.get(bridge).ok_or_else(|| format!("no bridge named {bridge:?}"))
    }

    fn thread_token(&self) -> Option<Sender<()>> {
        self.threads_alive.clone()
    }

    /// Queues `push` for every connection of `bridge`.
    pub fn push(&self, bridge: &str, push: &Push) {
        if let Some(state) = self.bridges.get(bridge) {
            state.context.registry.push(push);
        }
    }

    /// Flow monitor requests of a connection of `bridge` (see
    /// `Registry::apply_flow_monitor_requests`).
    pub fn apply_flow_monitor_requests(
        &self,
        bridge: &str,
        connection: u64,
        requests: Vec<MonitorRequest>,
        rules: &[Arc<RuleEntry>],
    ) -> Result<Vec<FlowUpdate>, MonitorError> {
        match self.bridges.get(bridge) {
            Some(state) => state.context.registry.apply_flow_monitor_requests(connection, requests, rules),
            None => Ok(Vec::new()),
        }
    }

    pub fn cancel_flow_monitor(&self, bridge: &str, connection: u64, id: u32) -> Result<(), MonitorError> {
        match self.bridges.get(bridge) {
            Some(state) => state.context.registry.cancel_flow_monitor(connection, id),
            None => Err(MonitorError::Unknown(id)),
        }
    }

    /// Reports rule changes of `bridge` to its flow monitors (`revision`: the tables' next);
    /// returns whether any connection of the bridge still has a monitor.
    pub fn report_rule_changes(&self, bridge: &str, sets: &[ChangeSet], revision: u64) -> bool {
        let Some(state) = self.bridges.get(bridge) else { return false };
        if !sets.is_empty() {
            state.context.registry.report_rule_changes(sets, revision);
        }
        state.context.registry.has_flow_monitors()
    }

    /// Resumes the paused flow monitors of `bridge` whose connection caught up.
    pub fn resume_flow_monitors(&self, bridge: &str, rules: impl FnOnce() -> Vec<Arc<RuleEntry>>) {
        if let Some(state) = self.bridges.get(bridge) {
            state.context.registry.resume_flow_monitors(rules);
        }
    }

    /// Starts accepting on `listener`; with `tls`, every connection is TLS.
    fn start_listener(
        &self,
        listener: Listener,
        tls: Option<TlsIdentity>,
        context: &Context,
    ) -> Result<Running, String> {
        listener.set_nonblocking().map_err(|e| format!("cannot make the OpenFlow listener non-blocking: {e}"))?;
        let lifetime = Lifetime::default();
        let (thread_lifetime, thread_context, token) = (lifetime.clone(), context.clone(), self.thread_token());
        let accepting = spawn("of-accept", move || {
            let _token = token;
            accept(&listener, tls.as_ref(), &thread_context, &thread_lifetime);
        })?;
        Ok(Running { lifetime, accepting: Some(accepting) })
    }

    /// Starts connecting to the controller at `address`; with `tls`, over TLS.
    fn start_controller(
        &self,
        address: SocketAddr,
        tls: Option<TlsIdentity>,
        context: &Context,
    ) -> Result<Running, String> {
        let lifetime = Lifetime::default();
        let (thread_lifetime, thread_context, token) = (lifetime.clone(), context.clone(), self.thread_token());
        // Not joined on stop: the thread may be waiting for the management thread itself.
        spawn("of-controller", move || {
            let _token = token;
            keep_connected(address, tls.as_ref(), &thread_context, &thread_lifetime);
        })?;
        Ok(Running { lifetime, accepting: None })
    }
}

impl Drop for OpenFlowServer {
    fn drop(&mut self) {
        for (_, state) in std::mem::take(&mut self.bridges) {
            state.mgmt.stop();
            for (_, running) in state.targets {
                running.stop();
            }
            let _ = std::fs::remove_file(&state.mgmt_socket);
        }
        self.threads_alive = None;
        if self.threads_done.recv_timeout(SHUTDOWN_WAIT) == Err(RecvTimeoutError::Timeout) {
            tracing::warn!("OpenFlow threads still running after {SHUTDOWN_WAIT:?}; they end with the process");
        }
    }
}

/// Binds a listener target (None for an active controller: nothing to bind).
fn bind(target: &OpenFlowTarget) -> Result<Option<TcpListener>, String> {
    match *target {
        OpenFlowTarget::Listen(address, _) => {
            TcpListener::bind(address).map(Some).map_err(|e| format!("OpenFlow listener {target}: {e}"))
        }
        OpenFlowTarget::Connect(..) => Ok(None),
    }
}

fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, String> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(work)
        .map_err(|e| format!("cannot start an OpenFlow thread: {e}"))
}

/// Accepts connections until stopped; each gets its own thread (and, with `tls`, makes its
/// handshake there: a client that stalls or fails it costs only its own connection).
fn accept(listener: &Listener, tls: Option<&TlsIdentity>, context: &Context, lifetime: &Lifetime) {
    while !lifetime.stopped() {
        match listener.accept() {
            Ok((stream, peer)) => {
                let (connection_context, connection_lifetime) = (context.clone(), lifetime.clone());
                let tls = tls.cloned();
                let spawned = spawn("of-conn", move || {
                    let bridge = connection_context.bridge.as_str();
                    let handshake = tls.as_ref().map(|identity| |socket| identity.accept(socket));
                    match register_and_secure(stream, handshake, &connection_lifetime) {
                        Ok((stream, _registration)) => {
                            let reason = serve(stream, &peer, &connection_context);
                            tracing::info!(bridge, %peer, "OpenFlow connection closed: {reason}");
                        }
                        Err(refused) => tracing::warn!(bridge, %peer, "OpenFlow connection refused: {refused}"),
                    }
                });
                if let Err(e) = spawned {
                    tracing::warn!(bridge = %context.bridge, "{e}");
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(e) => {
                tracing::warn!(bridge = %context.bridge, "OpenFlow accept failed: {e}");
                std::thread::sleep(POLL);
            }
        }
    }
}

/// Registers `stream` with its target, so that a stop ends it (during a TLS handshake too),
/// then, for a TLS target, makes the handshake: `handshake` turns the TCP socket into a
/// verified TLS stream. The connection lives as long as the registration.
fn register_and_secure(
    stream: Stream,
    handshake: Option<impl FnOnce(TcpStream) -> Result<TlsStream, String>>,
    lifetime: &Lifetime,
) -> Result<(Stream, Registration), String> {
    let registration = lifetime.register(&stream)?;
    match (stream, handshake) {
        (Stream::Tcp(socket), Some(handshake)) => Ok((Stream::Tls(handshake(socket)?), registration)),
        (stream, _) => Ok((stream, registration)),
    }
}

/// What a controller thread is doing, to log each change once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ControllerState {
    Connecting,
    Connected,
    Failing,
}

/// Connects to the controller at `address` (over TLS with `tls`), serves the connection,
/// reconnects with backoff when it fails or ends; until stopped. A failed TLS handshake is a
/// failed attempt.
fn keep_connected(address: SocketAddr, tls: Option<&TlsIdentity>, context: &Context, lifetime: &Lifetime) {
    let bridge = context.bridge.as_str();
    let mut state = ControllerState::Connecting;
    let mut backoff = MIN_BACKOFF;
    tracing::info!(bridge, controller = %address, "connecting to OpenFlow controller");
    while !lifetime.stopped() {
        match open(address, tls, lifetime) {
            Ok((stream, _registration)) => {
                state = ControllerState::Connected;
                backoff = MIN_BACKOFF;
                tracing::info!(bridge, controller = %address, "connected to OpenFlow controller");
                let reason = serve(stream, &address.to_string(), context);
                if lifetime.stopped() {
                    break;
                }
                tracing::info!(
                    bridge,
                    controller = %address,
                    "OpenFlow controller connection ended: {reason}; reconnecting in {backoff:?}"
                );
            }
            Err(None) => break,
            Err(Some(e)) => {
                if state != ControllerState::Failing {
                    tracing::warn!(
                        bridge,
                        controller = %address,
                        "cannot connect to OpenFlow controller: {e}; retrying with backoff up to {MAX_BACKOFF:?}"
                    );
                    state = ControllerState::Failing;
                }
            }
        }
        if !lifetime.sleep(backoff) {
            break;
        }
        if state == ControllerState::Failing {
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
    tracing::info!(bridge, controller = %address, "OpenFlow controller stopped");
}

/// Connects to the controller at `address` and, with `tls`, makes the handshake; the
/// connection is registered with the target. `Err(None)`: stopped.
fn open(
    address: SocketAddr,
    tls: Option<&TlsIdentity>,
    lifetime: &Lifetime,
) -> Result<(Stream, Registration), Option<String>> {
    let socket = connect(address, lifetime).map_err(|e| e.map(|e| e.to_string()))?;
    let handshake = tls.map(|identity| move |socket| identity.connect(socket, address.ip()));
    let opened = register_and_secure(Stream::Tcp(socket), handshake, lifetime);
    match opened {
        Err(_) if lifetime.stopped() => Err(None),
        opened => opened.map_err(Some),
    }
}

/// One connection attempt, made in a helper thread so that a stop is noticed within [`POLL`]
/// while it is under way (an abandoned attempt ends by itself within [`CONNECT_TIMEOUT`]).
/// `Err(None)`: stopped.
fn connect(address: SocketAddr, lifetime: &Lifetime) -> Result<TcpStream, Option<std::io::Error>> {
    let (result_tx, result) = channel::bounded(1);
    let helper = spawn("of-connect", move || {
        let _ = result_tx.send(TcpStream::connect_timeout(&address, CONNECT_TIMEOUT));
    });
    if let Err(e) = helper {
        return Err(Some(std::io::Error::other(e)));
    }
    loop {
        match result.recv_timeout(POLL) {
            Ok(Ok(stream)) if lifetime.stopped() => {
                drop(stream);
                return Err(None);
            }
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(e)) => return Err(Some(e)),
            Err(RecvTimeoutError::Timeout) if lifetime.stopped() => return Err(None),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Err(Some(std::io::Error::other("the connecting thread ended without a result")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_lifetime_ends_its_sleep_promptly() {
        let lifetime = Lifetime::default();
        let stopper = lifetime.clone();
        let started = Instant::now();
        let sleeper = std::thread::spawn(move || lifetime.sleep(Duration::from_secs(8)));
        std::thread::sleep(Duration::from_millis(50));
        stopper.stop();
        assert!(!sleeper.join().unwrap());
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn stopping_shuts_registered_connections_down() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut accepted, _) = listener.accept().unwrap();
        let lifetime = Lifetime::default();
        let registration = lifetime.register(&Stream::Tcp(client)).unwrap();
        lifetime.stop();
        let mut byte = [0u8; 1];
        accepted.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(std::io::Read::read(&mut accepted, &mut byte).unwrap(), 0, "the peer sees the close");
        drop(registration);
        assert!(lifetime.open.lock().unwrap().is_empty());
    }

    #[test]
    fn a_connect_attempt_gives_up_when_stopped() {
        // 192.0.2.1 (TEST-NET-1) does not answer: the attempt hangs until stopped or timed out.
        let lifetime = Lifetime::default();
        let stopper = lifetime.clone();
        let started = Instant::now();
        let attempt = std::thread::spawn(move || connect("192.0.2.1:6653".parse().unwrap(), &lifetime).err());
        std::thread::sleep(Duration::from_millis(50));
        stopper.stop();
        let result = attempt.join().unwrap();
        assert!(started.elapsed() < Duration::from_secs(2));
        // Stopped, or refused at once by a host without a route: either way, no stream.
        assert!(result.is_some());
    }
}
