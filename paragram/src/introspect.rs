//! Introspection: every live process of the program, what it is doing and
//! who it is tied to, as Erlang's `processes/0` and `process_info/1`, and
//! the links and monitors between them as a Graphviz graph (the original's
//! `graph()`).
//!
//! Every process's core is noted in one of 64 tables (by id), in a slot
//! it keeps, when it is made, and taken out when its exit steps are done
//! (or when it is dropped without having run). A table holds no strong reference, so it
//! keeps nothing alive; a listing locks one table at a time, then each
//! process's links, never running user code under a lock.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, OnceLock, Weak};

use crate::link;
use crate::pid::{Core, Pid, ProcessId, lock};

const SHARDS: usize = 64;

/// One table: processes' cores by slot, and the slots free for reuse. A
/// process's slot is kept in its core.
#[derive(Default)]
struct Table {
    slots: Vec<Weak<Core>>,
    free: Vec<u32>,
}

type Shard = Mutex<Table>;

fn shards() -> &'static [Shard; SHARDS] {
    static TABLES: OnceLock<[Shard; SHARDS]> = OnceLock::new();
    TABLES.get_or_init(|| std::array::from_fn(|_| Mutex::new(Table::default())))
}

fn shard(id: u64) -> &'static Shard {
    &shards()[(id % SHARDS as u64) as usize]
}

/// Notes a new process.
pub(crate) fn enter(core: &std::sync::Arc<Core>) {
    let weak = std::sync::Arc::downgrade(core);
    let mut table = lock(shard(core.id));
    let slot = match table.free.pop() {
        Some(slot) => {
            table.slots[slot as usize] = weak;
            slot
        }
        None => {
            table.slots.push(weak);
            u32::try_from(table.slots.len() - 1).unwrap_or(u32::MAX)
        }
    };
    drop(table);
    core.listed.store(slot, Ordering::Relaxed);
}

/// Forgets an ended process.
pub(crate) fn leave(core: &Core) {
    let slot = core.listed.swap(UNLISTED, Ordering::Relaxed);
    if slot == UNLISTED {
        return;
    }
    let mut table = lock(shard(core.id));
    let weak = table
        .slots
        .get_mut(slot as usize)
        .map(|place| std::mem::replace(place, Weak::new()));
    table.free.push(slot);
    drop(table);
    drop(weak);
}

/// A core's slot when it is in no table.
pub(crate) const UNLISTED: u32 = u32::MAX;

/// What a process is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Its code runs now.
    Running,
    /// Something is queued for it.
    Runnable,
    /// Its mailbox is empty: it waits for a message.
    Waiting,
    /// It has ended; its exit steps are under way.
    Exiting,
}

/// A process as [`processes`] and [`process_info`] see it: a snapshot.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProcessInfo {
    /// Who it is.
    pub process: ProcessId,
    /// What runs it (`Thread`, `Scheduler`, `OsProcess`), as its `Pid`
    /// prints.
    pub kind: String,
    /// The name it is registered under, if any.
    pub registered: Option<String>,
    /// How many messages and signals are queued for it.
    pub mailbox_len: usize,
    /// The processes it is linked to.
    pub links: Vec<ProcessId>,
    /// The processes that monitor it.
    pub monitored_by: Vec<ProcessId>,
    /// The processes it monitors.
    pub monitors: Vec<ProcessId>,
    /// What it is doing.
    pub status: Status,
}

fn info(core: &Core) -> ProcessInfo {
    let ties = link::ties(core);
    let status = if core.exit().is_some() {
        Status::Exiting
    } else if core.running.load(Ordering::Relaxed) {
        Status::Running
    } else if core.mailbox.len() > 0 {
        Status::Runnable
    } else {
        Status::Waiting
    };
    ProcessInfo {
        process: ProcessId::of_core(core),
        kind: core.tag.to_string(),
        registered: ties.name,
        mailbox_len: core.mailbox.len(),
        links: ties.links,
        monitored_by: ties.monitored_by,
        monitors: ties.monitors,
        status,
    }
}

/// Every live process of this program (a child OS process's processes
/// are listed in it; here, the stand-ins that reach them), in order of
/// id: Erlang's `processes/0` with `process_info/1` of each.
///
/// ```
/// use paragram::{Root, Spawn};
/// let root = Root::new();
/// let worker = root.spawn(Spawn::from_fn(|_| {}).name("worker")).unwrap();
/// let listed = paragram::processes();
/// assert!(listed.iter().any(|p| p.process == worker && p.process.name() == "worker"));
/// # worker.terminate();
/// ```
pub fn processes() -> Vec<ProcessInfo> {
    let mut all: Vec<ProcessInfo> = shards()
        .iter()
        .flat_map(|shard| {
            let cores: Vec<Weak<Core>> = lock(shard)
                .slots
                .iter()
                .filter(|weak| weak.strong_count() > 0)
                .cloned()
                .collect();
            cores
        })
        .filter_map(|core| core.upgrade())
        .filter(|core| !core.is_finished())
        .map(|core| info(&core))
        .collect();
    all.sort_by_key(|info| info.process.id());
    all
}

/// The process's snapshot, or `None` once it has ended: Erlang's
/// `process_info/1`.
pub fn process_info(pid: &Pid) -> Option<ProcessInfo> {
    let core = pid.core();
    (!core.is_finished()).then(|| info(core))
}

/// The live processes as a Graphviz graph: a box per process, labelled
/// with its name, kind and id (and registered name); a line per link; a
/// dashed arrow per monitor, from the monitoring process. `dot -Tsvg`
/// draws it.
pub fn graph() -> String {
    let all = processes();
    let mut dot = String::from("digraph paragram {\n  node [shape=box, fontname=\"monospace\"];\n");
    for info in &all {
        let mut label = format!(
            "{}\\n{} {}",
            escape(info.process.name()),
            info.kind,
            info.process.id()
        );
        if let Some(name) = &info.registered {
            let _ = write!(label, "\\nregistered: {}", escape(name));
        }
        let _ = writeln!(dot, "  p{} [label=\"{label}\"];", info.process.id());
    }
    for info in &all {
        let me = info.process.id();
        for peer in &info.links {
            if me < peer.id() {
                let _ = writeln!(dot, "  p{me} -> p{} [dir=none];", peer.id());
            }
        }
        for target in &info.monitors {
            let _ = writeln!(
                dot,
                "  p{me} -> p{} [style=dashed, label=\"monitors\"];",
                target.id()
            );
        }
    }
    dot.push_str("}\n");
    dot
}

/// `text` for a quoted Graphviz string.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}
