//! Load generator for TCP echo servers (used by benches/transport.sh).
//!
//! `echo_load ADDR rtt SECONDS` — one connection, 64-byte request/response round trips; prints
//! round trips per second.
//! `echo_load ADDR stream MIB` — one connection, writes MIB mebibytes while a second thread
//! reads the echo back; prints MiB/s.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: echo_load ADDR rtt SECONDS | echo_load ADDR stream MIB");
        std::process::exit(2);
    }
    let addr = &args[1];
    let n: f64 = args[3].parse().unwrap_or(1.0);
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    match args[2].as_str() {
        "rtt" => {
            let msg = [b'x'; 64];
            let mut buf = [0u8; 64];
            let end = Instant::now() + Duration::from_secs_f64(n);
            let start = Instant::now();
            let mut count = 0u64;
            while Instant::now() < end {
                s.write_all(&msg)?;
                s.read_exact(&mut buf)?;
                count += 1;
            }
            println!("{:.0}", count as f64 / start.elapsed().as_secs_f64());
        }
        _ => {
            let total = (n * 1024.0 * 1024.0) as u64;
            let mut r = s.try_clone()?;
            let start = Instant::now();
            let reader = std::thread::spawn(move || -> std::io::Result<u64> {
                let mut buf = vec![0u8; 256 * 1024];
                let mut got = 0u64;
                while got < total {
                    let k = r.read(&mut buf)?;
                    if k == 0 {
                        break;
                    }
                    got += k as u64;
                }
                Ok(got)
            });
            let chunk = vec![b'y'; 256 * 1024];
            let mut sent = 0u64;
            while sent < total {
                let k = chunk.len().min((total - sent) as usize);
                s.write_all(&chunk[..k])?;
                sent += k as u64;
            }
            let got = reader
                .join()
                .map_err(|_| std::io::Error::other("reader panicked"))??;
            let secs = start.elapsed().as_secs_f64();
            println!("{:.1}", got as f64 / 1024.0 / 1024.0 / secs);
        }
    }
    Ok(())
}
