//! The OpenFlow channel over TLS, with certificates made at test time by Open vSwitch's own
//! `ovs-pki` (openvswitch-common) in the test's scratch directory: a switch CA and a
//! controller CA (`ovs-pki init`), the switch's certificate from the switch CA and the
//! controllers' from the controller CA, as in Open vSwitch's documentation; a second PKI is
//! "another CA".
//!
//! Passive (`ptls:PORT`): the real `ovs-ofctl` with its key, certificate and the switch CA
//! adds and dumps flows over `ssl:`; a client with a certificate of another CA, a client
//! without a certificate and a plaintext OpenFlow client are refused (and logged with the
//! reason), a client that never finishes its handshake costs only its own connection, and the
//! switch serves the good client all along. Active (`tls:IP:PORT`): a controller written here
//! with rustls requires the switch's certificate (of the switch CA) and gets its HELLO and
//! FEATURES over TLS; a controller with a certificate of another CA is refused by the switch.
//! `vsctl set-controller`/`get-controller` take and print the TLS targets. Bad `[tls]` files
//! and a TLS target without `[tls]` stop vswitchd before DPDK starts, naming the problem.
#![forbid(unsafe_code)]
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, ServerConfig, ServerConnection,
    SignatureScheme, StreamOwned,
};

use vswitch_e2e::command::{run, CmdOutput};
use vswitch_e2e::openflow_raw::read_message;
use vswitch_e2e::switch_config::TlsFiles;
use vswitch_e2e::{bins, wait, PortSpec, SwitchConfig, TestDir, Vswitchd};

const OVS_OFCTL: &str = "/usr/bin/ovs-ofctl";
const OVS_PKI: &str = "/usr/bin/ovs-pki";
const TOOL_LIMIT: Duration = Duration::from_secs(30);
/// The switch connects to a new controller at once and retries after at most 8 s.
const CONNECT_LIMIT: Duration = Duration::from_secs(12);
const READ_LIMIT: Duration = Duration::from_secs(10);
/// A refused start must be this quick (DPDK is never initialised).
const QUICK: Duration = Duration::from_secs(5);
const OPENFLOW_HELLO_13: [u8; 8] = [4, 0, 0, 8, 0, 0, 0, 1];

/// A key and the certificate for it (PEM files).
struct Identity {
    private_key: PathBuf,
    certificate: PathBuf,
}

/// Open vSwitch's PKI layout, made by ovs-pki in `dir`.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn init(scratch: &TestDir, name: &str) -> Pki {
        let pki = Pki { dir: scratch.join(name) };
        pki.ovs_pki(scratch, &["init"]);
        pki
    }

    /// `ovs-pki req+sign NAME switch|controller`: NAME-privkey.pem and NAME-cert.pem in the
    /// scratch directory, signed by this PKI's switch or controller CA.
    fn sign(&self, scratch: &TestDir, name: &str, kind: &str) -> Identity {
        // Relative to the scratch directory (ovs-pki runs there): the name goes into the
        // certificate's CN, which has at most 64 characters.
        self.ovs_pki(scratch, &["req+sign", name, kind]);
        Identity {
            private_key: scratch.join(&format!("{name}-privkey.pem")),
            certificate: scratch.join(&format!("{name}-cert.pem")),
        }
    }

    fn switch_ca(&self) -> PathBuf {
        self.dir.join("switchca/cacert.pem")
    }

    fn controller_ca(&self) -> PathBuf {
        self.dir.join("controllerca/cacert.pem")
    }

    fn ovs_pki(&self, scratch: &TestDir, args: &[&str]) {
        let mut command = Command::new(OVS_PKI);
        command
            .arg(format!("--dir={}", self.dir.display()))
            .arg(format!("--log={}", scratch.join("ovs-pki.log").display()))
            .args(args)
            .current_dir(scratch.path());
        let output = run(command, TOOL_LIMIT);
        assert!(output.success(), "{output}");
    }
}

/// The switch's `[tls]`: its certificate from the switch CA, trusting the controller CA.
fn switch_tls(pki: &Pki, switch: &Identity) -> TlsFiles {
    TlsFiles {
        private_key: switch.private_key.clone(),
        certificate: switch.certificate.clone(),
        ca_certificate: pki.controller_ca(),
    }
}

/// `ovs-ofctl -O OpenFlow13` over `ssl:` with `identity`, trusting `ca`.
fn ofctl_ssl(identity: &Identity, ca: &Path, args: &[&str]) -> CmdOutput {
    let mut command = Command::new(OVS_OFCTL);
    command
        .args(["-O", "OpenFlow13", "--timeout=10"])
        .arg(format!("--private-key={}", identity.private_key.display()))
        .arg(format!("--certificate={}", identity.certificate.display()))
        .arg(format!("--ca-cert={}", ca.display()))
        .args(args);
    run(command, TOOL_LIMIT)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0").local_addr().expect("local address").port()
}

fn certificates(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path).expect("a PEM file").collect::<Result<_, _>>().expect("certificates")
}

fn private_key(path: &Path) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(path).expect("a PEM private key")
}

fn roots(ca: &Path) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for certificate in certificates(ca) {
        roots.add(certificate).expect("a CA certificate");
    }
    Arc::new(roots)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Everything the peer sends until it closes (bounded); None if it stays open.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + limit;
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    while Instant::now() < deadline {
        stream.set_read_timeout(Some(Duration::from_millis(200))).expect("read timeout");
        match stream.read(&mut buffer) {
            Ok(0) => return Some(received),
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return Some(received),
        }
    }
    None
}

/// A TLS controller: requires a client certificate of `trusted_ca` (the switch's), presents
/// `identity`.
struct TlsController {
    listener: TcpListener,
    config: Arc<ServerConfig>,
}

impl TlsController {
    fn new(identity: &Identity, trusted_ca: &Path) -> TlsController {
        let verifier =
            WebPkiClientVerifier::builder_with_provider(roots(trusted_ca), provider()).build().expect("verifier");
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_client_cert_verifier(verifier)
            .with_single_cert(certificates(&identity.certificate), private_key(&identity.private_key))
            .expect("the controller's certificate");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("non-blocking listener");
        TlsController { listener, config: Arc::new(config) }
    }

    fn target(&self) -> String {
        format!("tls:127.0.0.1:{}", self.listener.local_addr().expect("local address").port())
    }

    /// The switch's next TCP connection, if it comes within `limit`.
    fn accept_within(&self, limit: Duration) -> Option<TcpStream> {
        let accepted = wait::poll(limit, || match self.listener.accept() {
            Ok((stream, _)) => Some(stream),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
            Err(e) => panic!("accept: {e}"),
        })?;
        accepted.set_nonblocking(false).expect("blocking stream");
        accepted.set_read_timeout(Some(READ_LIMIT)).expect("read timeout");
        Some(accepted)
    }

    /// The TLS session on `socket`: the handshake, which verifies the switch's certificate.
    fn handshake(&self, socket: TcpStream) -> Result<StreamOwned<ServerConnection, TcpStream>, std::io::Error> {
        let session = ServerConnection::new(self.config.clone()).expect("a server session");
        let mut stream = StreamOwned::new(session, socket);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        Ok(stream)
    }
}

/// A TLS client that presents no certificate. It takes any server certificate (what it
/// tests is the switch's side: it must refuse the client).
fn anonymous_client(port: u16) -> StreamOwned<ClientConnection, TcpStream> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServer(provider().signature_verification_algorithms)))
        .with_no_client_auth();
    let name = ServerName::from(std::net::IpAddr::from([127, 0, 0, 1]));
    let session = ClientConnection::new(Arc::new(config), name).expect("a client session");
    let socket = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    socket.set_read_timeout(Some(READ_LIMIT)).expect("read timeout");
    StreamOwned::new(session, socket)
}

/// Takes any server certificate whose handshake signature is right.
#[derive(Debug)]
struct AnyServer(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, certificate, signature, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, certificate, signature, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// Waits until the switch's log has `needle`.
fn wait_for_log(switch: &Vswitchd, needle: &str) {
    let found = wait::poll(READ_LIMIT, || switch.stderr().contains(needle).then_some(()));
    assert!(found.is_some(), "the switch did not log {needle:?}:\n{}", switch.stderr());
}

#[test]
fn ptls_listener_and_tls_controllers_verify_certificates_both_ways() {
    let dir = TestDir::new("openflow_tls");
    let pki = Pki::init(&dir, "pki");
    let switch_identity = pki.sign(&dir, "sc", "switch");
    let controller_identity = pki.sign(&dir, "ctl", "controller");
    let other_pki = Pki::init(&dir, "other-pki");
    let stranger = other_pki.sign(&dir, "stranger", "controller");

    let port = free_port();
    let listener = format!("ptls:{port}:127.0.0.1");
    let controller = TlsController::new(&controller_identity, &pki.switch_ca());
    let config = SwitchConfig::new(&dir)
        .tls(switch_tls(&pki, &switch_identity))
        .openflow(&listener)
        .openflow(&controller.target())
        .port(PortSpec::pcap_tx("p1", 1, 1, &dir.join("p1.pcap")));
    let switch = Vswitchd::start(&dir, &config);
    let ssl = format!("ssl:127.0.0.1:{port}");

    // ovs-ofctl over ssl: with the controller's certificate, trusting the switch CA.
    let added = ofctl_ssl(&controller_identity, &pki.switch_ca(), &["add-flow", &ssl, "priority=7,ip,actions=drop"]);
    assert!(added.success(), "{added}");
    let dump = ofctl_ssl(&controller_identity, &pki.switch_ca(), &["dump-flows", &ssl]);
    assert!(dump.success() && dump.stdout.contains("priority=7,ip actions=drop"), "{dump}");
    assert!(switch.vsctl_ok(&["dump-flows", "br0"]).contains("priority=7,ip actions=drop"));

    // A certificate of another CA: refused, logged with the reason.
    let refused = ofctl_ssl(&stranger, &pki.switch_ca(), &["dump-flows", &ssl]);
    assert!(!refused.success(), "a client of another CA was served:\n{refused}");
    wait_for_log(&switch, "OpenFlow connection refused: TLS handshake failed: invalid peer certificate");

    // No certificate at all: the switch never answers in OpenFlow.
    let mut anonymous = anonymous_client(port);
    let outcome = anonymous.write_all(&OPENFLOW_HELLO_13).and_then(|()| anonymous.flush());
    let answer = outcome.ok().and_then(|()| read_message(&mut anonymous));
    assert!(answer.is_none(), "a client without a certificate got {answer:?}");
    wait_for_log(&switch, "peer sent no certificates");

    // Plaintext OpenFlow on the TLS port: no HELLO back, the connection is closed.
    let mut plaintext = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    plaintext.write_all(&OPENFLOW_HELLO_13).expect("hello");
    let received = read_until_closed(&mut plaintext, READ_LIMIT).expect("the switch closes a plaintext client");
    assert!(!received.windows(2).any(|w| w == [4, 0]), "plaintext OpenFlow got an answer: {received:?}");

    // A client that never finishes its handshake does not hold the others up.
    let stalled = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let started = Instant::now();
    let dump = ofctl_ssl(&controller_identity, &pki.switch_ca(), &["dump-flows", &ssl]);
    assert!(dump.success() && dump.stdout.contains("priority=7,ip actions=drop"), "{dump}");
    assert!(started.elapsed() < Duration::from_secs(8), "served only after {:?}", started.elapsed());
    drop(stalled);

    // The active controller: the switch presents its certificate (the controller requires
    // one of the switch CA) and sends its HELLO over TLS.
    let socket = controller.accept_within(CONNECT_LIMIT).expect("the switch connects to the TLS controller");
    let mut session = controller.handshake(socket).expect("the switch's certificate is accepted");
    assert!(session.conn.peer_certificates().is_some_and(|chain| !chain.is_empty()));
    let hello = read_message(&mut session).expect("the switch's HELLO over TLS");
    assert_eq!(hello[1], 0, "the switch starts with a HELLO: {hello:?}");
    session.write_all(&OPENFLOW_HELLO_13).expect("hello");
    session.write_all(&[4, 5, 0, 8, 0, 0, 0, 2]).expect("features request");
    let features = (0..8).find_map(|_| read_message(&mut session).filter(|m| m[1] == 6)).expect("FEATURES_REPLY");
    assert_eq!(features[4..8], 2u32.to_be_bytes(), "{features:?}");

    // get-controller prints the TLS targets back; set-controller takes them.
    let expected = format!("{listener}\n{}\n", controller.target());
    assert_eq!(switch.vsctl_ok(&["get-controller", "br0"]), expected);

    // A controller whose certificate comes from another CA: the switch refuses it.
    let impostor = TlsController::new(&stranger, &pki.switch_ca());
    switch.vsctl_ok(&["set-controller", "br0", &listener, &impostor.target()]);
    assert_eq!(switch.vsctl_ok(&["get-controller", "br0"]), format!("{listener}\n{}\n", impostor.target()));
    let socket = impostor.accept_within(CONNECT_LIMIT).expect("the switch connects to the impostor");
    let refused = impostor.handshake(socket).and_then(|mut session| {
        read_message(&mut session).map_or(Ok(()), |message| Err(std::io::Error::other(format!("got {message:?}"))))
    });
    assert!(refused.is_err(), "the switch went on with a controller of another CA");
    wait_for_log(&switch, "cannot connect to OpenFlow controller: TLS handshake failed: invalid peer certificate");
    // The listener was kept and still serves.
    let dump = ofctl_ssl(&controller_identity, &pki.switch_ca(), &["dump-flows", &ssl]);
    assert!(dump.success(), "{dump}");

    let report = switch.stop();
    assert!(report.took < Duration::from_secs(5), "{report:?}");
}

#[test]
fn bad_tls_settings_stop_vswitchd_before_dpdk() {
    let dir = TestDir::new("openflow_tls_bad");
    let pki = Pki::init(&dir, "pki");
    let switch_identity = pki.sign(&dir, "sc", "switch");
    let controller_identity = pki.sign(&dir, "ctl", "controller");
    let good = switch_tls(&pki, &switch_identity);
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").expect("write");
    let port = free_port();
    let cases = [
        (TlsFiles { private_key: dir.join("missing.pem"), ..good.clone() }, "tls.private_key", "cannot read"),
        (TlsFiles { ca_certificate: garbage.clone(), ..good.clone() }, "tls.ca_certificate", "no PEM CA certificate"),
        (TlsFiles { certificate: garbage, ..good.clone() }, "tls.certificate", "no PEM certificate"),
        (
            TlsFiles { private_key: controller_identity.private_key.clone(), ..good.clone() },
            "tls.private_key",
            "does not belong to the certificate",
        ),
    ];
    for (index, (files, key, problem)) in cases.into_iter().enumerate() {
        let config = SwitchConfig::new(&dir).tls(files).openflow(&format!("ptls:{port}"));
        let output = start_refused(&dir, &config, &format!("case{index}"));
        assert!(output.stderr.contains(key) && output.stderr.contains(problem), "{key}: {problem}:\n{output}");
    }
    let without_tls = SwitchConfig::new(&dir).openflow(&format!("ptcp:{port}")).openflow("tls:127.0.0.1:6653");
    let output = start_refused(&dir, &without_tls, "no-tls");
    assert!(output.stderr.contains("bridge[0].openflow[1]: tls:127.0.0.1:6653: TLS needs"), "{output}");
}

/// Runs vswitchd on `config`, which must exit non-zero quickly without starting DPDK.
fn start_refused(dir: &TestDir, config: &SwitchConfig, name: &str) -> CmdOutput {
    let path = config.write(dir, &format!("{name}.toml"));
    let mut command = Command::new(bins::vswitchd());
    command.arg("--config").arg(&path);
    let output = run(command, QUICK * 3);
    assert_eq!(output.code(), Some(1), "{output}");
    assert!(output.elapsed < QUICK, "{output}");
    assert!(!output.stderr.lines().any(|line| line.starts_with("EAL:")), "DPDK was started:\n{output}");
    output
}
