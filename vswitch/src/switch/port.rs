//! How a configured port becomes a DPDK device: devargs for each port type
//! and the vhost-user socket checks (never take over a live socket).
use std::io::ErrorKind;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::config::PortKind;

/// The DPDK devargs that create the device for a port. `vdev_index` keeps
/// net_vhost device names unique within the process.
pub fn devargs(kind: &PortKind, rx_queues: u16, vdev_index: u32) -> String {
    match kind {
        PortKind::Dpdk { devargs } => devargs.clone(),
        PortKind::VhostUser { path } => {
            format!("net_vhost_vs{vdev_index},iface={},queues={rx_queues},client=0", path.display())
        }
        PortKind::VhostUserClient { path } => {
            format!("net_vhost_vs{vdev_index},iface={},queues={rx_queues},client=1", path.display())
        }
    }
}

/// What a port is, for display.
pub fn kind_name(kind: &PortKind) -> &'static str {
    match kind {
        PortKind::Dpdk { .. } => "dpdk",
        PortKind::VhostUser { .. } => "vhost-user",
        PortKind::VhostUserClient { .. } => "vhost-user-client",
    }
}

/// The devargs of a dpdk port or the socket of a vhost port, for display.
pub fn target(kind: &PortKind) -> String {
    match kind {
        PortKind::Dpdk { devargs } => devargs.clone(),
        PortKind::VhostUser { path } | PortKind::VhostUserClient { path } => path.display().to_string(),
    }
}

/// Makes `path` usable for a vhost-user server socket: its directory is
/// created; a socket somebody still listens on is an error; a stale socket
/// (nobody listening) left by a dead process is removed; any other file is
/// an error.
pub fn prepare_server_socket(path: &Path) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create directory {}: {e}", dir.display()))?;
    }
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    if !meta.file_type().is_socket() {
        return Err(format!("{} exists and is not a socket; refusing to replace it", path.display()));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(format!("{} is in use: another process is listening on it", path.display())),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            tracing::warn!(path = %path.display(), "removing stale vhost-user socket (nobody listening)");
            std::fs::remove_file(path).map_err(|e| format!("cannot remove stale socket {}: {e}", path.display()))
        }
        Err(e) => Err(format!("{}: cannot check whether the socket is in use: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;
    use std::path::PathBuf;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vswitch-port-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn devargs_per_kind() {
        let dpdk = PortKind::Dpdk { devargs: "net_null0".into() };
        assert_eq!(devargs(&dpdk, 1, 0), "net_null0");
        let server = PortKind::VhostUser { path: "/run/x/vm1.sock".into() };
        assert_eq!(devargs(&server, 2, 7), "net_vhost_vs7,iface=/run/x/vm1.sock,queues=2,client=0");
        let client = PortKind::VhostUserClient { path: "/run/x/vm2.sock".into() };
        assert!(devargs(&client, 1, 8).ends_with(",client=1"));
    }

    #[test]
    fn live_socket_is_refused_and_left_alone() {
        let dir = temp_dir("live");
        let path = dir.join("s.sock");
        let _listener = UnixListener::bind(&path).unwrap();
        let err = prepare_server_socket(&path).unwrap_err();
        assert!(err.contains("in use"), "{err}");
        assert!(path.exists());
    }

    #[test]
    fn stale_socket_is_removed() {
        let dir = temp_dir("stale");
        let path = dir.join("s.sock");
        drop(UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        prepare_server_socket(&path).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn regular_file_is_refused() {
        let dir = temp_dir("file");
        let path = dir.join("s.sock");
        std::fs::write(&path, b"data").unwrap();
        let err = prepare_server_socket(&path).unwrap_err();
        assert!(err.contains("not a socket"), "{err}");
        assert!(path.exists());
    }

    #[test]
    fn missing_directory_is_created() {
        let dir = temp_dir("mkdir");
        let path = dir.join("sub/dir/s.sock");
        prepare_server_socket(&path).unwrap();
        assert!(path.parent().unwrap().is_dir());
    }
}
