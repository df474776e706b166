//! The floor under the OS-process kind ("raw pipe (floor)"): the bytes
//! paragram's wire carries for W1 and W2 (one postcard-encoded `Deliver`
//! frame per u64, behind the wire's 4-byte little-endian length) over the
//! same channel (one end of a Unix socket pair as the child's stdin),
//! between this process and a child that is this binary re-executed with a
//! hidden subcommand running a bare echo or count loop. No paragram: no
//! processes, mailboxes, proxies, reader threads or terms.
//!
//! Only W1 and W2 are measured: the others are n/a.

use std::io::{self, BufReader, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::common::{self, Timed, Workloads, left};
use crate::producers::{self, Producers};
use crate::{Cfg, OrFail, Res, Skip, W};

/// The hidden subcommand a floor child runs: `__raw_floor W1` (echo) or
/// `__raw_floor W2 <total>` (count).
pub const HIDDEN: &str = "__raw_floor";

/// Round trips before W1's clock starts.
const WARM_UP: u64 = 100;

/// Bytes a W2 producer encodes before one write: the batch size of
/// paragram's proxy driver.
const BATCH: usize = 64 << 10;

/// The wire's `Frame`, as far as a message of one u64 needs. postcard
/// writes an enum as its variant's index, then its fields: with the wire's
/// variant order kept, the bytes are the wire's.
#[derive(Serialize, Deserialize)]
enum Frame {
    /// The wire's `Init`, never sent here: keeps `Deliver` at index 1.
    Init,
    /// A message (its terms, flattened) for process `to`.
    Deliver { to: u64, message: Vec<Node> },
}

/// The wire's `Node`, up to `Int` (how a u64 term crosses).
#[derive(Serialize, Deserialize)]
enum Node {
    /// Keeps `Int` at index 1.
    Bool(bool),
    Int(i128),
}

/// Appends `x`, addressed to `to`, as one length-prefixed frame.
fn encode(to: u64, x: u64, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    let frame = Frame::Deliver {
        to,
        message: vec![Node::Int(x.into())],
    };
    let body = std::mem::take(out);
    // Serializing into a Vec cannot fail for these types.
    *out = postcard::to_extend(&frame, body).unwrap_or_default();
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

/// Reads one frame and returns its u64; `None` at a clean end of stream.
fn read_one(r: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<Option<u64>> {
    let mut prefix = [0u8; 4];
    match r.read_exact(&mut prefix) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    }
    let len = u32::from_le_bytes(prefix) as usize;
    if len > paragram::os_process::MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    buf.resize(len, 0);
    r.read_exact(buf)?;
    match postcard::from_bytes::<Frame>(buf) {
        Ok(Frame::Deliver { message, .. }) => match message.as_slice() {
            [Node::Int(x)] => Ok(Some(*x as u64)),
            _ => Err(io::Error::new(io::ErrorKind::InvalidData, "not one u64")),
        },
        _ => Err(io::Error::new(io::ErrorKind::InvalidData, "not a Deliver")),
    }
}

/// The peer "raw pipe (floor)".
struct Floor;

pub fn run(w: W, cfg: &Cfg) -> Res {
    common::measure(&Floor, w, cfg, Instant::now() + cfg.deadline)
}

/// W5 is not measured for this peer.
pub fn w5(_n: usize) -> Res {
    Err(Skip::NotApplicable)
}

impl Workloads for Floor {
    fn w1(&self, n: u64, deadline: Instant) -> Timed {
        w1(n, deadline)
    }
    fn w2(&self, total: u64, deadline: Instant) -> Timed {
        w2(total, deadline)
    }
}

/// A floor child and our end of its socket; killed and reaped on drop
/// unless [`RawChild::finish`] ended it first.
struct RawChild {
    child: Child,
    socket: UnixStream,
}

impl RawChild {
    /// Starts this binary as a floor child with `args`; reads and writes on
    /// the socket give up at `deadline`.
    fn spawn(args: &[String], deadline: Instant) -> Result<RawChild, Skip> {
        let (ours, theirs) = UnixStream::pair().or_fail("socket pair")?;
        let timeout = Some(left(deadline).max(Duration::from_millis(1)));
        ours.set_read_timeout(timeout).or_fail("read timeout")?;
        ours.set_write_timeout(timeout).or_fail("write timeout")?;
        let child = Command::new(std::env::current_exe().or_fail("current_exe")?)
            .arg(HIDDEN)
            .args(args)
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .spawn()
            .or_fail("spawn floor child")?;
        Ok(RawChild {
            child,
            socket: ours,
        })
    }

    /// Closes the socket (the child reads EOF and exits) and reaps the
    /// child, killing it if it is still there at `deadline`.
    fn finish(mut self, deadline: Instant) -> Result<(), Skip> {
        let _ = self.socket.shutdown(std::net::Shutdown::Both);
        loop {
            match self.child.try_wait().or_fail("wait floor child")? {
                Some(status) if status.success() => return Ok(()),
                Some(status) => return Err(Skip::Failed(format!("floor child: {status}"))),
                None if Instant::now() >= deadline => {
                    return Err(Skip::Failed("floor child did not exit; killed".into()));
                }
                None => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }
}

impl Drop for RawChild {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// W1: `n` round trips of one frame each way, each written with one
/// `write` as paragram's driver writes a lone frame.
fn w1(n: u64, deadline: Instant) -> Timed {
    let child = RawChild::spawn(&["W1".into()], deadline)?;
    let mut reader = BufReader::new(&child.socket);
    let (mut out, mut buf) = (Vec::new(), Vec::new());
    let mut round_trip = |x: u64| -> Result<(), Skip> {
        out.clear();
        encode(0, x, &mut out);
        (&child.socket).write_all(&out).or_fail("write")?;
        match read_one(&mut reader, &mut buf).or_fail("read")? {
            Some(y) if y == x => Ok(()),
            _ => Err(Skip::Failed("floor child echoed something else".into())),
        }
    };
    for x in 0..WARM_UP {
        round_trip(x)?;
    }
    let start = Instant::now();
    for x in 0..n {
        if x % 1024 == 0 && Instant::now() >= deadline {
            return Err(Skip::Failed("ping-pong passed its deadline".into()));
        }
        round_trip(x)?;
    }
    let elapsed = start.elapsed();
    drop(reader);
    child.finish(deadline)?;
    Ok(elapsed)
}

/// A W2 producer's end of the socket: encodes into its own buffer and
/// writes it, under the shared lock, each [`BATCH`] bytes and when the
/// producer is done (dropped). Clones start empty.
struct Batcher {
    out: Arc<Mutex<UnixStream>>,
    buf: std::cell::RefCell<Vec<u8>>,
}

impl Batcher {
    fn push(&self, x: u64) {
        let mut buf = self.buf.borrow_mut();
        encode(0, x, &mut buf);
        if buf.len() >= BATCH {
            self.flush(&mut buf);
        }
    }

    fn flush(&self, buf: &mut Vec<u8>) {
        if let Ok(mut out) = self.out.lock() {
            // A failed write shows as a missing acknowledgement.
            let _ = out.write_all(buf);
        }
        buf.clear();
    }
}

impl Clone for Batcher {
    fn clone(&self) -> Batcher {
        Batcher {
            out: self.out.clone(),
            buf: std::cell::RefCell::new(Vec::with_capacity(BATCH + 64)),
        }
    }
}

impl Drop for Batcher {
    fn drop(&mut self) {
        let mut buf = std::mem::take(self.buf.get_mut());
        if !buf.is_empty() {
            self.flush(&mut buf);
        }
    }
}

/// W2: two producer threads write `total` frames to the counting child;
/// the clock stops when its acknowledgement frame arrives.
fn w2(total: u64, deadline: Instant) -> Timed {
    let child = RawChild::spawn(&["W2".into(), total.to_string()], deadline)?;
    // Handshake: one frame echoed, so the child is up before the clock.
    let mut out = Vec::new();
    encode(0, 0, &mut out);
    (&child.socket).write_all(&out).or_fail("write hello")?;
    let mut reader = BufReader::new(child.socket.try_clone().or_fail("clone socket")?);
    let mut buf = Vec::new();
    read_one(&mut reader, &mut buf)
        .or_fail("read hello")?
        .or_fail("floor child ended")?;
    // The acknowledgement is read on its own thread, as a paragram reader
    // would; it gives up with the socket's read timeout.
    let (done, done_rx) = mpsc::channel();
    let ack = std::thread::spawn(move || {
        if let Ok(Some(n)) = read_one(&mut reader, &mut buf) {
            let _ = done.send(n);
        }
    });
    let batcher = Batcher {
        out: Arc::new(Mutex::new(
            child.socket.try_clone().or_fail("clone socket")?,
        )),
        buf: std::cell::RefCell::new(Vec::new()),
    };
    let send = move |x: u64| batcher.push(x);
    let producers = Producers::spawn(total, false, send, producers::plain)?;
    let start = producers.start(deadline)?;
    let counted = done_rx
        .recv_timeout(left(deadline))
        .or_fail("floor child did not count every message");
    let elapsed = start.elapsed();
    producers.join()?;
    if counted? != total {
        return Err(Skip::Failed("floor child miscounted".into()));
    }
    ack.join().or_fail("ack reader panicked")?;
    child.finish(deadline)?;
    Ok(elapsed)
}

// ------------------------------------------------------------ the child

/// The floor child: `W1` echoes each frame back; `W2 <total>` echoes the
/// first frame, counts `total` more, then writes the count. Both run until
/// the parent closes the socket.
pub fn child(args: &[String]) {
    let code = match child_loop(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("raw floor child: {e}");
            1
        }
    };
    std::process::exit(code);
}

fn child_loop(args: &[String]) -> io::Result<()> {
    // The parent's socket is our stdin, as for a paragram child.
    let socket = UnixStream::from(io::stdin().as_fd().try_clone_to_owned()?);
    let mut reader = BufReader::new(&socket);
    let (mut buf, mut out) = (Vec::new(), Vec::new());
    let mut reply = |x: u64| {
        out.clear();
        encode(1, x, &mut out);
        (&socket).write_all(&out)
    };
    match args.first().map(String::as_str) {
        Some("W1") => {
            while let Some(x) = read_one(&mut reader, &mut buf)? {
                reply(x)?;
            }
        }
        Some("W2") => {
            let total: u64 = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(0);
            if let Some(x) = read_one(&mut reader, &mut buf)? {
                reply(x)?;
            }
            let mut seen = 0u64;
            while read_one(&mut reader, &mut buf)?.is_some() {
                seen += 1;
                if seen == total {
                    reply(seen)?;
                }
            }
        }
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown floor workload {other:?}"),
            ));
        }
    }
    Ok(())
}
