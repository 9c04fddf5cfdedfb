//! TLS for the OpenFlow channel (`ptls:` listeners, `tls:` controllers), with rustls on the
//! ring crypto provider.
//!
//! [`TlsIdentity::load`] reads the switch's `[tls]` files once, at start-up: the private key,
//! its certificate and the CA certificate(s), checking that each parses and that the key
//! belongs to the certificate. Both directions verify the peer, and both present the switch's
//! certificate: a listener requires a client certificate (mutual TLS), an active connection
//! verifies the controller's server certificate. As in Open vSwitch, a peer's certificate must
//! chain to the CA and be valid now; its names and IP addresses are not compared with
//! anything (ovs-pki certificates carry neither the host name nor the IP), so the CA decides
//! who may talk OpenFlow to the switch. There is no plaintext fallback.
//!
//! [`TlsStream`] is one TLS connection shared by the connection's reader thread and its
//! writing thread: the rustls state sits behind a mutex that is never held while waiting for
//! the peer's bytes (the reader reads the socket without it, then feeds what came under it),
//! so a reader blocked in `read` never stops the writer. Writes hold the mutex while the
//! records go out, which keeps the records in order; each socket write is bounded by the
//! socket's write timeout. [`TlsStream::shutdown`] only shuts the socket down (no mutex), so
//! it wakes a blocked read from any thread at once. The handshake is bounded by
//! [`HANDSHAKE_TIMEOUT`] as a whole, not per read: a peer that never finishes costs only its
//! own connection.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Shutdown, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{
    ClientConfig, ClientConnection, Connection, DigitallySignedStruct, RootCertStore, ServerConfig, ServerConnection,
    SignatureScheme,
};

use crate::config::TlsConfig;

/// How long a TLS handshake may take in all.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes read from the socket at once: one TLS record at most.
const RECORD_READ: usize = 16 * 1024 + 256;

/// The switch's TLS identity and trust, ready for connections of both directions.
#[derive(Clone)]
pub struct TlsIdentity {
    /// For `ptls:` listeners: requires and verifies a client certificate.
    server: Arc<ServerConfig>,
    /// For `tls:` controllers: verifies the controller's certificate, presents ours.
    client: Arc<ClientConfig>,
}

impl TlsIdentity {
    /// Reads and checks the `[tls]` files. An error names the key and the file: missing or
    /// unreadable, not PEM of the right kind, a key that does not belong to the certificate.
    pub fn load(config: &TlsConfig) -> Result<TlsIdentity, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = load_private_key(&config.private_key)
            .map_err(|problem| format!("tls.private_key: {}: {problem}", config.private_key.display()))?;
        let chain = load_certificates(&config.certificate, "certificate")
            .map_err(|problem| format!("tls.certificate: {}: {problem}", config.certificate.display()))?;
        let roots = load_roots(&config.ca_certificate)
            .map_err(|problem| format!("tls.ca_certificate: {}: {problem}", config.ca_certificate.display()))?;
        rustls::sign::CertifiedKey::from_der(chain.clone(), key.clone_key(), &provider).map_err(|e| {
            format!(
                "tls.private_key: {} does not belong to the certificate {}: {e}",
                config.private_key.display(),
                config.certificate.display()
            )
        })?;
        let roots = Arc::new(roots);
        let client_verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|e| format!("tls.ca_certificate: {}: {e}", config.ca_certificate.display()))?;
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_client_cert_verifier(client_verifier)
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(|e| format!("tls.certificate: {}: {e}", config.certificate.display()))?;
        let server_verifier =
            Arc::new(ChainOnlyVerifier { roots, algorithms: provider.signature_verification_algorithms });
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(server_verifier)
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("tls.certificate: {}: {e}", config.certificate.display()))?;
        Ok(TlsIdentity { server: Arc::new(server), client: Arc::new(client) })
    }

    /// The server side of an accepted connection, once the handshake verified the client's
    /// certificate.
    pub(super) fn accept(&self, socket: TcpStream) -> Result<TlsStream, String> {
        let session = ServerConnection::new(self.server.clone()).map_err(|e| format!("TLS: {e}"))?;
        TlsStream::handshaken(socket, session.into(), HANDSHAKE_TIMEOUT)
    }

    /// The client side of a connection to the controller at `ip`, once the handshake verified
    /// the controller's certificate.
    pub(super) fn connect(&self, socket: TcpStream, ip: IpAddr) -> Result<TlsStream, String> {
        let session =
            ClientConnection::new(self.client.clone(), ServerName::from(ip)).map_err(|e| format!("TLS: {e}"))?;
        TlsStream::handshaken(socket, session.into(), HANDSHAKE_TIMEOUT)
    }
}

fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| format!("no PEM private key in it ({e})"))
}

fn load_certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read(path)?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM {what} file ({e})"))?;
    if certificates.is_empty() {
        return Err(format!("no PEM {what} in it"));
    }
    Ok(certificates)
}

fn load_roots(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for certificate in load_certificates(path, "CA certificate")? {
        roots.add(certificate).map_err(|e| format!("not a usable CA certificate: {e}"))?;
    }
    Ok(roots)
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read: {e}"))
}

/// Verifies a controller's server certificate as Open vSwitch does: it must chain to our CA
/// and be valid now; the name or IP it was reached by is not compared (see the module doc).
#[derive(Debug)]
struct ChainOnlyVerifier {
    roots: Arc<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let certificate = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(&certificate, &self.roots, intermediates, now, self.algorithms.all)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, certificate, signature, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, certificate, signature, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The rustls state of a connection and the bytes read from the socket it has not taken yet.
struct Session {
    connection: Connection,
    unprocessed: Vec<u8>,
}

/// One TLS connection over TCP, handshaken; clones share it (see the module doc for who locks
/// what).
pub(super) struct TlsStream {
    socket: TcpStream,
    session: Arc<Mutex<Session>>,
    /// This handle's buffer for reading the socket (allocated by its first read).
    record: Vec<u8>,
}

impl TlsStream {
    fn handshaken(socket: TcpStream, connection: Connection, timeout: Duration) -> Result<TlsStream, String> {
        let session = Arc::new(Mutex::new(Session { connection, unprocessed: Vec::new() }));
        let mut stream = TlsStream { socket, session, record: Vec::new() };
        stream.handshake(timeout)?;
        Ok(stream)
    }

    /// Completes the handshake within `timeout` in all: the peer's certificate is verified
    /// (a peer without one, or with one of another CA, fails here with the reason).
    fn handshake(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let timed_out = || format!("no TLS handshake within {timeout:?}");
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(timed_out());
            }
            self.socket.set_write_timeout(Some(left)).map_err(|e| format!("cannot set a socket timeout: {e}"))?;
            self.socket.set_read_timeout(Some(left)).map_err(|e| format!("cannot set a socket timeout: {e}"))?;
            let mut session = self.lock();
            if let Err(failure) = session.process() {
                // The alert telling the peer why, if it still listens.
                let _ = flush(&mut session.connection, &self.socket);
                return Err(format!("TLS handshake failed: {failure}"));
            }
            flush(&mut session.connection, &self.socket).map_err(|e| handshake_io_error(&e, timed_out))?;
            if !session.connection.is_handshaking() {
                return Ok(());
            }
            drop(session);
            if !self.receive().map_err(|e| handshake_io_error(&e, timed_out))? {
                return Err("the peer closed the connection during the TLS handshake".into());
            }
        }
    }

    /// A second handle on the same connection.
    pub(super) fn try_clone(&self) -> std::io::Result<TlsStream> {
        Ok(TlsStream { socket: self.socket.try_clone()?, session: self.session.clone(), record: Vec::new() })
    }

    /// Ends the connection both ways: a read blocked in another thread returns at once.
    pub(super) fn shutdown(&self) -> std::io::Result<()> {
        self.socket.shutdown(Shutdown::Both)
    }

    /// Reads block (the reader thread waits for input); writes time out.
    pub(super) fn set_timeouts(&self, write: Duration) -> std::io::Result<()> {
        self.socket.set_read_timeout(None).and_then(|()| self.socket.set_write_timeout(Some(write)))
    }

    /// Reads plaintext; 0 when the peer closed the connection.
    pub(super) fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if let Some(read) = self.take_plaintext(buffer)? {
                return Ok(read);
            }
            if !self.receive()? {
                return Ok(0);
            }
        }
    }

    /// Waits for the peer's next bytes, without the lock, and queues them for rustls; false
    /// when the peer closed the connection.
    fn receive(&mut self) -> std::io::Result<bool> {
        self.record.resize(RECORD_READ, 0);
        let read = (&self.socket).read(&mut self.record)?;
        if read == 0 {
            return Ok(false);
        }
        self.lock().unprocessed.extend_from_slice(self.record.get(..read).unwrap_or_default());
        Ok(true)
    }

    /// Plaintext already decrypted or decryptable from the bytes read so far; None when the
    /// peer must send more.
    fn take_plaintext(&self, buffer: &mut [u8]) -> std::io::Result<Option<usize>> {
        let mut session = self.lock();
        loop {
            match session.connection.reader().read(buffer) {
                Ok(read) => return Ok(Some(read)),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            let before = session.unprocessed.len();
            let processed = session.process();
            // Whatever the peer is owed: an alert after a failure, a key update...
            flush(&mut session.connection, &self.socket)?;
            processed.map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))?;
            if session.unprocessed.len() == before {
                // Nothing (more) rustls could take: the peer must send more.
                return Ok(None);
            }
        }
    }

    /// Encrypts and sends `bytes`, every record in order (the lock is held until they are out).
    pub(super) fn write_all(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        let mut session = self.lock();
        while !bytes.is_empty() {
            let taken = session.connection.writer().write(bytes)?;
            flush(&mut session.connection, &self.socket)?;
            if taken == 0 {
                return Err(ErrorKind::WriteZero.into());
            }
            bytes = bytes.get(taken..).unwrap_or_default();
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Session {
    /// Hands the bytes read so far to rustls, as far as it takes them (it stops taking while
    /// decrypted plaintext waits for [`TlsStream::take_plaintext`]).
    fn process(&mut self) -> Result<(), rustls::Error> {
        while !self.unprocessed.is_empty() && self.connection.wants_read() {
            let mut unread = self.unprocessed.as_slice();
            let taken = self.connection.read_tls(&mut unread).map_err(|e| rustls::Error::General(e.to_string()))?;
            self.unprocessed.drain(..taken);
            self.connection.process_new_packets()?;
            if taken == 0 {
                break;
            }
        }
        Ok(())
    }
}

/// Sends every TLS record rustls has ready (each socket write bounded by its write timeout).
fn flush(connection: &mut Connection, socket: &TcpStream) -> std::io::Result<()> {
    let mut socket = socket;
    while connection.wants_write() {
        connection.write_tls(&mut socket)?;
    }
    Ok(())
}

fn handshake_io_error(error: &std::io::Error, timed_out: impl Fn() -> String) -> String {
    match error.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => timed_out(),
        _ => format!("TLS handshake: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU32, Ordering};

    use rcgen::{BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair};

    use super::*;

    /// A CA made at test time, signing identities written as PEM files into a scratch dir.
    struct TestCa {
        certificate: Certificate,
        key: KeyPair,
        dir: PathBuf,
    }

    impl TestCa {
        fn new(name: &str) -> TestCa {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let unique = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("vswitch-tls-test-{}-{unique}-{name}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.distinguished_name.push(DnType::CommonName, format!("test CA {name}"));
            let certificate = params.self_signed(&key).unwrap();
            std::fs::write(dir.join("cacert.pem"), certificate.pem()).unwrap();
            TestCa { certificate, key, dir }
        }

        /// `[tls]` of an identity signed by this CA that trusts `trusted`'s certificates.
        fn identity(&self, name: &str, trusted: &TestCa) -> TlsConfig {
            let key = KeyPair::generate().unwrap();
            // A name that is neither the peer's address nor a DNS name: not checked.
            let certificate = CertificateParams::new(vec![format!("{name}.invalid")])
                .unwrap()
                .signed_by(&key, &self.certificate, &self.key)
                .unwrap();
            let config = TlsConfig {
                private_key: self.dir.join(format!("{name}-privkey.pem")),
                certificate: self.dir.join(format!("{name}-cert.pem")),
                ca_certificate: trusted.dir.join("cacert.pem"),
            };
            std::fs::write(&config.private_key, key.serialize_pem()).unwrap();
            std::fs::write(&config.certificate, certificate.pem()).unwrap();
            config
        }
    }

    impl Drop for TestCa {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// A connected pair of TCP sockets: (client side, server side).
    fn sockets() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    /// The switch accepting and a controller of `controller` connecting, at once.
    fn handshake(
        switch: &TlsIdentity,
        controller: &TlsIdentity,
    ) -> (Result<TlsStream, String>, Result<TlsStream, String>) {
        let (client, server) = sockets();
        let controller = controller.clone();
        let connecting = std::thread::spawn(move || controller.connect(client, "127.0.0.1".parse().unwrap()));
        let accepted = switch.accept(server);
        (accepted, connecting.join().unwrap())
    }

    #[test]
    fn both_sides_verify_and_carry_bytes_both_ways() {
        let ca = TestCa::new("ca");
        let switch = TlsIdentity::load(&ca.identity("switch", &ca)).unwrap();
        let controller = TlsIdentity::load(&ca.identity("controller", &ca)).unwrap();
        let (accepted, connected) = handshake(&switch, &controller);
        let (mut accepted, mut connected) = (accepted.unwrap(), connected.unwrap());
        connected.write_all(b"hello switch").unwrap();
        let mut buffer = [0u8; 64];
        let read = accepted.read(&mut buffer).unwrap();
        assert_eq!(&buffer[..read], b"hello switch");
        // A message larger than a TLS record arrives whole, in order.
        let big: Vec<u8> = (0..100_000u32).map(|i| (i & 0xff) as u8).collect();
        accepted.write_all(&big).unwrap();
        let mut received = Vec::new();
        while received.len() < big.len() {
            let read = connected.read(&mut buffer).unwrap();
            assert_ne!(read, 0);
            received.extend_from_slice(&buffer[..read]);
        }
        assert_eq!(received, big);
    }

    #[test]
    fn a_peer_of_another_ca_is_refused_both_ways() {
        let (ours, theirs) = (TestCa::new("ours"), TestCa::new("theirs"));
        let switch = TlsIdentity::load(&ours.identity("switch", &ours)).unwrap();
        // Trusts our CA, but its own certificate is from another one.
        let stranger = TlsIdentity::load(&theirs.identity("stranger", &ours)).unwrap();
        let (accepted, _) = handshake(&switch, &stranger);
        let refused = accepted.err().unwrap();
        assert!(refused.contains("TLS handshake failed") && refused.contains("certificate"), "{refused}");
        // The switch as the client does not accept a controller of another CA either.
        let (_, connected) = handshake(&stranger, &switch);
        let refused = connected.err().unwrap();
        assert!(refused.contains("UnknownIssuer"), "{refused}");
    }

    #[test]
    fn a_client_without_a_certificate_is_refused() {
        let ca = TestCa::new("ca");
        let switch = TlsIdentity::load(&ca.identity("switch", &ca)).unwrap();
        let roots = Arc::new(load_roots(&ca.dir.join("cacert.pem")).unwrap());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(ChainOnlyVerifier { roots, algorithms: provider.signature_verification_algorithms });
        let anonymous = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        let (client, server) = sockets();
        let connecting = std::thread::spawn(move || {
            let session =
                ClientConnection::new(Arc::new(anonymous), ServerName::from(std::net::IpAddr::from([127, 0, 0, 1])));
            TlsStream::handshaken(client, session.unwrap().into(), HANDSHAKE_TIMEOUT)
        });
        let refused = switch.accept(server).err().unwrap();
        assert!(refused.contains("TLS handshake failed") && refused.contains("certificate"), "{refused}");
        let _ = connecting.join().unwrap();
    }

    #[test]
    fn plaintext_openflow_on_a_tls_listener_is_refused() {
        let ca = TestCa::new("ca");
        let switch = TlsIdentity::load(&ca.identity("switch", &ca)).unwrap();
        let (mut client, server) = sockets();
        // An OpenFlow 1.3 HELLO.
        client.write_all(&[0x04, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01]).unwrap();
        let refused = switch.accept(server).err().unwrap();
        assert!(refused.starts_with("TLS handshake failed"), "{refused}");
    }

    #[test]
    fn a_stalled_handshake_times_out() {
        let ca = TestCa::new("ca");
        let switch = TlsIdentity::load(&ca.identity("switch", &ca)).unwrap();
        let (_silent_client, server) = sockets();
        let started = Instant::now();
        let session = ServerConnection::new(switch.server.clone()).unwrap();
        let refused = TlsStream::handshaken(server, session.into(), Duration::from_millis(300)).err().unwrap();
        assert!(refused.contains("no TLS handshake within"), "{refused}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_blocked_reader_neither_stops_the_writer_nor_outlives_a_shutdown() {
        let ca = TestCa::new("ca");
        let switch = TlsIdentity::load(&ca.identity("switch", &ca)).unwrap();
        let controller = TlsIdentity::load(&ca.identity("controller", &ca)).unwrap();
        let (accepted, connected) = handshake(&switch, &controller);
        let (mut writer, mut peer) = (accepted.unwrap(), connected.unwrap());
        let mut reader = writer.try_clone().unwrap();
        let closer = writer.try_clone().unwrap();
        let blocked = std::thread::spawn(move || reader.read(&mut [0u8; 64]));
        std::thread::sleep(Duration::from_millis(100));
        // The reader waits for the peer; writing goes on meanwhile.
        writer.set_timeouts(Duration::from_secs(5)).unwrap();
        writer.write_all(b"while you wait").unwrap();
        let mut buffer = [0u8; 64];
        let read = peer.read(&mut buffer).unwrap();
        assert_eq!(&buffer[..read], b"while you wait");
        let started = Instant::now();
        closer.shutdown().unwrap();
        assert_eq!(blocked.join().unwrap().unwrap(), 0, "the blocked read ends");
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn bad_files_are_named_with_the_problem() {
        let ca = TestCa::new("ca");
        let good = ca.identity("switch", &ca);
        let other = ca.identity("other", &ca);
        let error = |config: &TlsConfig| TlsIdentity::load(config).err().unwrap();

        let missing = TlsConfig { private_key: ca.dir.join("nope.pem"), ..good.clone() };
        let problem = error(&missing);
        assert!(problem.starts_with("tls.private_key: ") && problem.contains("cannot read"), "{problem}");

        let garbage = ca.dir.join("garbage.pem");
        std::fs::write(&garbage, "not PEM at all\n").unwrap();
        let problem = error(&TlsConfig { certificate: garbage.clone(), ..good.clone() });
        assert!(problem.starts_with("tls.certificate: ") && problem.contains("no PEM certificate"), "{problem}");
        let problem = error(&TlsConfig { private_key: garbage.clone(), ..good.clone() });
        assert!(problem.starts_with("tls.private_key: ") && problem.contains("no PEM private key"), "{problem}");
        let problem = error(&TlsConfig { ca_certificate: garbage, ..good.clone() });
        assert!(problem.starts_with("tls.ca_certificate: "), "{problem}");
        // A key file where the CA certificate should be.
        let problem = error(&TlsConfig { ca_certificate: good.private_key.clone(), ..good.clone() });
        assert!(problem.starts_with("tls.ca_certificate: ") && problem.contains("no PEM CA certificate"), "{problem}");

        let mismatched = TlsConfig { private_key: other.private_key, ..good };
        let problem = error(&mismatched);
        assert!(problem.contains("does not belong to the certificate"), "{problem}");
    }
}
