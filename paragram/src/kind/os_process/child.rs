//! The child side: the hook at the top of `main`, the registry of process
//! types it can run, and the life of a child OS process.

use std::any::TypeId;
use std::collections::{BTreeSet, HashMap};
use std::os::fd::AsFd;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::CHILD_ENV;
use super::conn::{ChildEnd, Conn, Side};
use super::reap;
use crate::ctx::Ctx;
use crate::driver::{Kind, Launch};
use crate::pid::{Pid, lock, next_id};
use crate::process::{FnProcess, Outcome, Process};
use crate::route::NodeId;
use crate::spawn::{DEFAULT_SHUTDOWN, SpawnError};
use crate::threads::{self, Slot};
use crate::wire::{Frame, WireExit, decode_state, encode_frame, read_frame};

/// Builds a registered process from its state and the `Pid`s it names.
type Build = Box<dyn Fn(&[u8], Vec<Pid>) -> Result<Box<dyn Process>, String>>;

/// The process types and functions a child OS process can run, by name.
#[derive(Default)]
pub struct Registry {
    types: HashMap<&'static str, (TypeId, Build)>,
}

impl Registry {
    /// Registers `build` under `T`'s name. Two types of one name (two
    /// functions `f` in two blocks of one function, say) cannot be told
    /// apart: that name then builds nothing, with an error saying why.
    fn insert<T: 'static>(&mut self, build: Build) {
        let name = std::any::type_name::<T>();
        let id = TypeId::of::<T>();
        let build = match self.types.get(name) {
            Some((other, _)) if *other != id => Box::new(move |_: &[u8], _| {
                Err(format!(
                    "two registered processes are named `{name}`: give them distinct paths"
                ))
            }),
            _ => build,
        };
        self.types.insert(name, (id, build));
    }

    /// Lets a child run processes of type `P` (spawned with
    /// [`Spawn::os_process`](crate::Spawn::os_process)).
    pub fn register<P: Process + DeserializeOwned>(&mut self) -> &mut Registry {
        let build = |state: &[u8], pids| -> Result<Box<dyn Process>, String> {
            let process: P = decode_state(state, pids)?;
            Ok(Box::new(process))
        };
        self.insert::<P>(Box::new(build));
        self
    }

    /// Lets a child run the function `start` as a process (spawned with
    /// [`Spawn::os_process_fn`](crate::Spawn::os_process_fn)).
    pub fn register_fn<F, A, R>(&mut self, start: F) -> &mut Registry
    where
        F: Fn(&mut Ctx, A) -> R + Send + Sync + 'static,
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Outcome,
    {
        const {
            assert!(
                std::mem::size_of::<F>() == 0,
                "`Registry::register_fn` takes a named function, as `Spawn::os_process_fn` does"
            );
        }
        let start = Arc::new(start);
        let build = move |state: &[u8], pids| -> Result<Box<dyn Process>, String> {
            let arg: A = decode_state(state, pids)?;
            let start = start.clone();
            Ok(Box::new(FnProcess::new(move |ctx: &mut Ctx| {
                start(ctx, arg)
            })))
        };
        self.insert::<F>(Box::new(build));
        self
    }
}

/// The hook (see [`crate::os_process::hook`]); a child's own process runs
/// on the kind `local`.
pub(crate) fn hook(register: impl FnOnce(&mut Registry), local: Kind) {
    let mut registry = Registry::default();
    register(&mut registry);
    lock(&REGISTERED).extend(registry.types.keys());
    HOOKED.store(true, Ordering::SeqCst);
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    std::process::exit(run(&registry, local));
}

/// The names of every process type and function the hook registered: what
/// a child of this program can run. The parent knows them too, and refuses
/// a spawn of anything else before it starts a child.
static REGISTERED: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());

/// Whether a child of this program can run the process `type_name`.
pub(crate) fn check_registered(type_name: &'static str) -> Result<(), SpawnError> {
    let hooked = HOOKED.load(Ordering::SeqCst);
    if hooked && lock(&REGISTERED).contains(type_name) {
        return Ok(());
    }
    Err(SpawnError::NotRegistered { type_name, hooked })
}

/// Whether [`hook`] has been called in this program.
static HOOKED: AtomicBool = AtomicBool::new(false);

/// The exit code of a child whose `main` does not call [`hook`] first.
const NO_HOOK: i32 = 3;

/// Exits a program started as an OS-process child whose `main` did not
/// call [`hook`] first, before it runs `main` a second time (and, at its
/// first OS-process spawn, starts a child that does the same, and so on).
/// Called as a root is made, which any program spawning processes does
/// first.
pub(crate) fn refuse_without_hook() {
    if !HOOKED.load(Ordering::SeqCst) && std::env::var_os(CHILD_ENV).is_some() {
        eprintln!(
            "paragram: this program was started as an OS-process child, but `main` did not \
             call `paragram::os_process::hook` first; exiting with code {NO_HOOK} rather \
             than run `main` again"
        );
        std::process::exit(NO_HOOK);
    }
}

/// Exit codes of a child OS process that could not run its process.
mod code {
    /// The connection from the parent is missing or is not one.
    pub const NO_PARENT: i32 = 2;
    /// The parent's frames could not be read; the parent was told why.
    pub const BAD_FRAMES: i32 = 2;
}

/// Runs the child, its own process of the kind `local`: its exit code.
fn run(registry: &Registry, local: Kind) -> i32 {
    let socket = match parent_connection() {
        Ok(socket) => socket,
        Err(why) => {
            eprintln!(
                "paragram: {CHILD_ENV} is set, so this program ran as an OS-process child, \
                 but {why}. A paragram program sets it for the children it starts; unset it \
                 to run this program yourself (and remove it, with `Command::env_remove`, \
                 from programs a child starts)."
            );
            return code::NO_PARENT;
        }
    };
    // Unbuffered: what follows the first frame belongs to the reader.
    let init = match read_frame(&mut &socket, &mut Vec::new()) {
        Ok(Some(Frame::Init {
            type_name,
            state,
            name,
            shutdown,
            pids,
        })) => (type_name, state, name, shutdown, pids),
        other => {
            let what = match other {
                Ok(None) => "it ended".to_owned(),
                Ok(Some(_)) => "another frame came".to_owned(),
                Err(error) => error.to_string(),
            };
            eprintln!(
                "paragram: OS-process child {}: expected the parent's first frame, but {what}",
                std::process::id()
            );
            return code::NO_PARENT;
        }
    };
    let (type_name, state, name, shutdown, pids) = init;
    let to_fail = match socket.try_clone() {
        Ok(socket) => socket,
        Err(error) => return fail_conn(error),
    };
    let conn = Slot::take().and_then(|slot| {
        Conn::new(
            Side::Child,
            NodeId::here(),
            NodeId(u64::from(std::os::unix::process::parent_id())),
            socket,
            slot,
        )
    });
    let conn = match conn {
        Ok(conn) => conn,
        Err(error) => return fail_conn(error),
    };
    // The processes the state names, as this side knows them: proxies of
    // the parent's (and, through it, its other children's).
    let pids = pids
        .into_iter()
        .map(|pid| conn.local_pid(pid))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| error.to_string());
    let process = registry
        .types
        .get(type_name.as_str())
        .ok_or_else(|| {
            format!("process type `{type_name}` is not registered in `paragram::os_process::hook`")
        })
        .and_then(|(_, build)| build(&state, pids?));
    let process = match process {
        Ok(process) => process,
        Err(message) => return fail(&to_fail, message),
    };
    let (done, ended) = mpsc::channel();
    conn.set_done(done);
    let launch = Launch {
        id: next_id(),
        name: name.into(),
        process,
        owner: None,
        default_kind: Kind::default(),
        stack_size: None,
        shutdown: DEFAULT_SHUTDOWN,
        serialized: None,
        link: Box::new(|_| Ok(())),
    };
    match local.driver().start(launch) {
        Ok(pid) => conn.set_main(pid),
        Err(error) => return fail_conn(error),
    }
    let reader = conn.clone();
    let slot = match Slot::take() {
        Ok(slot) => slot,
        Err(error) => return fail_conn(error),
    };
    if let Err(error) = threads::start("os-reader".into(), None, slot, move |_slot| {
        reader.run_child(shutdown);
    }) {
        return fail_conn(error);
    }
    match ended.recv() {
        // The main process has ended and its `Exited` frame is written;
        // the OS processes it spawned were told to end, and are waited
        // for, so that none is left an orphan.
        Ok(ChildEnd::Ended) => {
            reap::wait_for_all();
            0
        }
        // The OS processes this one spawned read their parent's end, as
        // this one did, and end by themselves.
        Ok(ChildEnd::ParentGone) | Err(_) => 0,
        Ok(ChildEnd::Failed) => code::BAD_FRAMES,
    }
}

/// The connection to the parent, on stdin, checked to be one: the
/// variable names the OS process that started this one (its parent, or, if
/// that has already exited, a process that no longer runs), and stdin is
/// a socket.
fn parent_connection() -> Result<UnixStream, String> {
    let parent = std::os::unix::process::parent_id();
    let named = std::env::var(CHILD_ENV).unwrap_or_default();
    let Ok(starter) = named.trim().parse::<u32>() else {
        return Err(format!(
            "it holds {named:?}, where a paragram parent puts its OS pid"
        ));
    };
    if starter != parent && runs(starter) {
        return Err(format!(
            "it holds {starter}, not the OS pid of this program's parent ({parent}): \
             it was set by hand or inherited"
        ));
    }
    let fd = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|error| format!("its stdin cannot be used: {error}"))?;
    let file = std::fs::File::from(fd);
    let is_socket = file
        .metadata()
        .map(|meta| meta.file_type().is_socket())
        .unwrap_or(false);
    if !is_socket {
        return Err("its stdin is not the socket a parent connects a child with".into());
    }
    Ok(UnixStream::from(std::os::fd::OwnedFd::from(file)))
}

/// Whether the OS process `pid` runs (exists, and has not exited).
fn runs(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command's closing parenthesis.
    let state = stat
        .rfind(')')
        .and_then(|at| stat[at + 1..].split_whitespace().next());
    !matches!(state, Some("Z" | "X"))
}

fn fail(socket: &UnixStream, message: String) -> i32 {
    let mut bytes = Vec::new();
    let frame = Frame::Exited {
        id: 0,
        exit: WireExit::Error(message),
    };
    if encode_frame(&frame, &mut bytes).is_ok() {
        let _ = std::io::Write::write_all(&mut &*socket, &bytes);
    }
    1
}

fn fail_conn(error: impl std::fmt::Display) -> i32 {
    eprintln!("paragram: OS process cannot start: {error}");
    2
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Registry;
    use crate::ctx::Ctx;

    /// Two functions `f` in two blocks of one function share a path: the
    /// registry builds neither rather than run the wrong one.
    #[test]
    fn two_processes_of_one_name_build_nothing() {
        let mut registry = Registry::default();
        let first = {
            fn f(_: &mut Ctx, _: ()) {}
            registry.register_fn(f);
            std::any::type_name_of_val(&f)
        };
        let second = {
            fn f(_: &mut Ctx, _: ()) {}
            registry.register_fn(f);
            std::any::type_name_of_val(&f)
        };
        assert_eq!(first, second);
        let (_, build) = &registry.types[first];
        let state = postcard::to_allocvec(&()).unwrap();
        let error = build(&state, Vec::new())
            .err()
            .expect("an ambiguous name builds nothing");
        assert!(error.contains("give them distinct paths"), "{error}");
    }
}
