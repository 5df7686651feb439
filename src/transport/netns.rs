//! Two private network namespaces joined by a veth pair, with `tc netem` loss on both ends:
//! a lossy wire for the kernel's own TCP (root only).
//!
//! ```text
//!  netns wl-a-PID                         netns wl-b-PID
//!  wla-PID 10.213.0.1/30  <── veth ──>  wlb-PID 10.213.0.2/30
//!  (netem loss P)                         (netem loss P)
//! ```
//!
//! The addresses exist only inside these two namespaces; nothing leaves the machine.

use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::process::Command;

pub struct NetemPair {
    a: String,
    b: String,
}

const ADDR_A: &str = "10.213.0.1";
const ADDR_B: &str = "10.213.0.2";

fn sh(args: &[&str]) -> io::Result<()> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot run {}: {e} (install iproute2)", args[0]),
            )
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

impl NetemPair {
    /// Creates the namespaces, the veth pair and netem with `loss` (0..1) on both ends.
    pub fn create(loss: f64) -> io::Result<NetemPair> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "needs root: it creates two network namespaces and a veth pair",
            ));
        }
        let pid = std::process::id();
        let pair = NetemPair {
            a: format!("wl-a-{pid}"),
            b: format!("wl-b-{pid}"),
        };
        let (va, vb) = (format!("wla{pid}"), format!("wlb{pid}"));
        let pct = format!("{}%", loss * 100.0);
        sh(&["ip", "netns", "add", &pair.a])?;
        sh(&["ip", "netns", "add", &pair.b])?;
        sh(&[
            "ip", "link", "add", &va, "netns", &pair.a, "type", "veth", "peer", "name", &vb,
            "netns", &pair.b,
        ])?;
        for (ns, dev, addr) in [(&pair.a, &va, ADDR_A), (&pair.b, &vb, ADDR_B)] {
            sh(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/30"),
                "dev",
                dev,
            ])?;
            sh(&["ip", "-n", ns, "link", "set", dev, "up"])?;
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
            sh(&[
                "tc", "-n", ns, "qdisc", "add", "dev", dev, "root", "netem", "loss", &pct,
            ])
            .map_err(|e| io::Error::other(format!("tc netem is not available here ({e})")))?;
        }
        Ok(pair)
    }

    /// Runs `f` on a thread inside namespace A, with a listener bound inside namespace B and
    /// the address to connect to.
    pub fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(TcpListener, SocketAddr) -> T + Send + 'static,
    ) -> io::Result<T> {
        let (a, b) = (self.a.clone(), self.b.clone());
        let listener = std::thread::spawn(move || -> io::Result<TcpListener> {
            enter(&b)?;
            TcpListener::bind((ADDR_B, 0))
        })
        .join()
        .map_err(|_| io::Error::other("namespace thread panicked"))??;
        let addr = listener.local_addr()?;
        std::thread::spawn(move || -> io::Result<T> {
            enter(&a)?;
            Ok(f(listener, addr))
        })
        .join()
        .map_err(|_| io::Error::other("namespace thread panicked"))?
    }
}

/// Moves the calling thread into the named network namespace.
fn enter(name: &str) -> io::Result<()> {
    let f = File::open(format!("/var/run/netns/{name}"))?;
    // SAFETY: setns on an fd we own; affects only this thread's network namespace.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Drop for NetemPair {
    fn drop(&mut self) {
        // Deleting a namespace deletes its end of the veth pair, and with it the other end.
        let _ = sh(&["ip", "netns", "del", &self.a]);
        let _ = sh(&["ip", "netns", "del", &self.b]);
    }
}
