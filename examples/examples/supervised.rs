//! A small supervised service: a supervisor runs three named workers; a
//! frontend answers hits by calling a counter; an auditor hears of every
//! hit and reports when traffic goes quiet. The counter crashes, the
//! supervisor restarts it under the same name, and the service goes on.
//! With `--dot`, it prints its processes as a Graphviz graph instead of
//! its story.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use paragram::supervisor::{Child, Strategy, Supervisor, which_children};
use paragram::{BoxError, Ctx, Down, Process, ReceiveTimeout, ReplyTo, Root, pattern, whereis};

const TIMEOUT: Duration = Duration::from_secs(5);

/// Set by `--dot`: the story goes to stderr, the graph to stdout.
static DOT: AtomicBool = AtomicBool::new(false);

/// Tells the story.
macro_rules! say {
    ($($arg:tt)*) => {
        if DOT.load(Ordering::Relaxed) {
            eprintln!($($arg)*);
        } else {
            println!($($arg)*);
        }
    };
}

/// Counts hits; loses its count when it crashes, as any process state.
#[derive(Process, Default)]
struct Counter {
    hits: u64,
}

#[paragram::process]
impl Counter {
    #[receive(ReplyTo, "incr")]
    fn incr(&mut self, from: ReplyTo) {
        self.hits += 1;
        from.reply(self.hits);
    }

    #[receive("crash")]
    fn crash(&mut self) -> Result<(), BoxError> {
        Err(format!("counter crashed at {} hits", self.hits).into())
    }
}

/// Answers `(ReplyTo, "hit", path)` with the hit's number, from the
/// counter, and tells the auditor.
#[derive(Process)]
struct Frontend;

#[paragram::process]
impl Frontend {
    #[receive(ReplyTo, "hit", String)]
    fn hit(&mut self, from: ReplyTo, path: String) -> Result<(), BoxError> {
        let counter = whereis("counter").ok_or("no counter")?;
        let (n,): (u64,) = counter.call_as("incr", TIMEOUT)?;
        paragram::send_named("auditor", ("hit", path.clone(), n))?;
        from.reply((path, n));
        Ok(())
    }
}

/// Logs each hit, and says so when nothing has come for 50 ms.
#[derive(Process)]
struct Auditor;

#[paragram::process]
impl Auditor {
    #[start]
    fn start(&mut self, ctx: &mut Ctx) {
        ctx.set_receive_timeout(Duration::from_millis(50));
    }

    #[receive("hit", String, u64)]
    fn hit(&mut self, path: String, n: u64) {
        say!("  audit: hit {n} on {path}");
    }

    #[receive(ReceiveTimeout)]
    fn quiet(&mut self, ctx: &mut Ctx, _timeout: ReceiveTimeout) {
        say!("  audit: quiet for 50 ms");
        ctx.cancel_receive_timeout();
    }
}

fn main() -> Result<(), BoxError> {
    DOT.store(
        std::env::args().any(|arg| arg == "--dot"),
        Ordering::Relaxed,
    );
    let root = Root::new();
    let supervisor = root.spawn_link(
        Supervisor::new(Strategy::OneForOne)
            .intensity(3, Duration::from_secs(5))
            .child(Child::new("counter", Counter::default).registered())
            .child(Child::new("auditor", || Auditor).registered())
            .child(Child::new("frontend", || Frontend).registered()),
    )?;
    for (id, pid) in which_children(&supervisor, TIMEOUT)? {
        say!("child {id}: {pid:?}");
    }

    let frontend = whereis("frontend").ok_or("no frontend")?;
    for path in ["/", "/about", "/"] {
        let (path, n): (String, u64) = frontend.call_as(("hit", path), TIMEOUT)?;
        say!("hit {n}: {path}");
    }

    // The counter crashes; the root watches it go.
    let (down_tx, downs) = std::sync::mpsc::channel();
    root.receive(pattern!(Down), move |_, (down,): (Down,)| {
        let _ = down_tx.send(down);
    })?;
    let counter = whereis("counter").ok_or("no counter")?;
    root.monitor(&counter);
    counter.send("crash")?;
    let down = downs.recv_timeout(TIMEOUT)?;
    say!("{} ended: {}", down.pid, down.exit);

    // The supervisor heard of it first and has restarted it: a call made
    // now is handled after the restart.
    let children = which_children(&supervisor, TIMEOUT)?;
    let restarted = whereis("counter").ok_or("no counter")?;
    assert_ne!(restarted, counter);
    assert_eq!(children[0].1, restarted);
    say!("counter restarted: {restarted:?}");

    let (path, n): (String, u64) = frontend.call_as(("hit", "/again"), TIMEOUT)?;
    say!("hit {n}: {path} (the count started again)");
    assert_eq!(n, 1);

    // `--dot`: the processes, their links and monitors, for Graphviz.
    if DOT.load(Ordering::Relaxed) {
        print!("{}", paragram::graph());
        return Ok(());
    }

    supervisor.terminate();
    let exit = supervisor.wait()?;
    say!("supervisor ended: {exit}");
    Ok(())
}
