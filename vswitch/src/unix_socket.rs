//! Unix socket files the switch serves on (the control socket, the OpenFlow management
//! sockets, vhost-user server sockets): a path is claimed only if nobody listens on it. A
//! stale socket left by a dead process is removed; a live one, or a file that is not a socket,
//! is an error - the switch never takes over another process's socket.
#![forbid(unsafe_code)]
use std::io::ErrorKind;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// Makes `path` free for a server socket (`what` names it in errors): its directory is
/// created; a socket somebody still listens on is an error; a stale socket (nobody listening)
/// is removed with a warning; any other file is an error.
pub fn claim(path: &Path, what: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create directory {}: {e}", dir.display()))?;
    }
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("{what} {}: {e}", path.display())),
    };
    if !meta.file_type().is_socket() {
        return Err(format!("{what} {} exists and is not a socket; refusing to replace it", path.display()));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(format!("{what} {} is in use: another process is listening on it", path.display())),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            tracing::warn!(path = %path.display(), "removing stale {what} (nobody listening)");
            std::fs::remove_file(path).map_err(|e| format!("cannot remove stale {what} {}: {e}", path.display()))
        }
        Err(e) => Err(format!("{what} {}: cannot check whether the socket is in use: {e}", path.display())),
    }
}

/// Claims `path` and listens on it.
pub fn bind(path: &Path, what: &str) -> Result<UnixListener, String> {
    claim(path, what)?;
    UnixListener::bind(path).map_err(|e| format!("cannot bind {what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vswitch-socket-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn live_socket_is_refused_and_left_alone() {
        let dir = temp_dir("live");
        let path = dir.join("s.sock");
        let _listener = UnixListener::bind(&path).unwrap();
        let err = claim(&path, "test socket").unwrap_err();
        assert!(err.contains("in use"), "{err}");
        assert!(path.exists());
    }

    #[test]
    fn stale_socket_is_removed() {
        let dir = temp_dir("stale");
        let path = dir.join("s.sock");
        drop(UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        claim(&path, "test socket").unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn regular_file_is_refused() {
        let dir = temp_dir("file");
        let path = dir.join("s.sock");
        std::fs::write(&path, b"data").unwrap();
        let err = claim(&path, "test socket").unwrap_err();
        assert!(err.contains("not a socket"), "{err}");
        assert!(path.exists());
    }

    #[test]
    fn missing_directory_is_created() {
        let dir = temp_dir("mkdir");
        let path = dir.join("sub/dir/s.sock");
        claim(&path, "test socket").unwrap();
        assert!(path.parent().unwrap().is_dir());
    }
}
