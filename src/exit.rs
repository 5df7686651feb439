//! Exit codes: 0 success, 1 failure at run time, 2 bad usage or bad input.

use std::io;
use std::net::SocketAddr;

/// An error caused by what the user typed or gave us (a bad file, an address in use):
/// exit code 2. Everything else that fails is a run-time failure: exit code 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// The exit code for an error: 2 if any cause in its chain is [`BadInput`], else 1.
pub fn code_for(err: &anyhow::Error) -> u8 {
    if err.chain().any(|e| e.is::<BadInput>()) {
        2
    } else {
        1
    }
}

/// Turns a failed bind into an error that names the address and what to do about it.
pub fn bind_error(addr: SocketAddr, e: io::Error) -> anyhow::Error {
    match e.kind() {
        io::ErrorKind::AddrInUse => BadInput(format!(
            "cannot listen on {addr}: address already in use (another program holds that port; \
             pick another with --listen, or port 0 for a free one)"
        ))
        .into(),
        io::ErrorKind::AddrNotAvailable => BadInput(format!(
            "cannot listen on {addr}: no interface on this machine has that address"
        ))
        .into(),
        io::ErrorKind::PermissionDenied => BadInput(format!(
            "cannot listen on {addr}: permission denied (ports below 1024 need root)"
        ))
        .into(),
        _ => anyhow::Error::new(e).context(format!("cannot listen on {addr}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_anywhere_in_chain_is_exit_2() {
        let e = anyhow::Error::new(BadInput("x".into())).context("while reading");
        assert_eq!(code_for(&e), 2);
        assert_eq!(code_for(&anyhow::anyhow!("peer gone")), 1);
    }

    #[test]
    fn addr_in_use_is_bad_input() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let e = bind_error(a, io::Error::from(io::ErrorKind::AddrInUse));
        assert_eq!(code_for(&e), 2);
        assert!(e.to_string().contains("127.0.0.1:1"));
    }
}
