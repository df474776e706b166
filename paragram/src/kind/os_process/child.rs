//! The child side: the hook at the top of `main`, the registry of process
//! types it can run, and the life of a child OS process.

use std::any::TypeId;
use std::collections::HashMap;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::CHILD_ENV;
use super::conn::{Conn, Side};
use crate::ctx::Ctx;
use crate::kind::thread::Slot;
use crate::process::{FnProcess, Outcome, Process};
use crate::spawn::{self, Spawn};
use crate::wire::{Frame, WireExit, encode_frame, read_frame};

type Build = Box<dyn Fn(&[u8]) -> Result<Box<dyn Process>, String>>;

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
            Some((other, _)) if *other != id => Box::new(move |_: &[u8]| {
                Err(format!(
                    "two registered processes are named `{name}`: give them distinct paths"
                ))
            }),
            _ => build,
        };
        self.types.insert(name, (id, build));
    }

    /// Lets a child run processes of type `P` (spawned with
    /// [`Spawn::os_process`]).
    pub fn register<P: Process + DeserializeOwned>(&mut self) -> &mut Registry {
        let build = |state: &[u8]| -> Result<Box<dyn Process>, String> {
            let process: P = postcard::from_bytes(state).map_err(|e| e.to_string())?;
            Ok(Box::new(process))
        };
        self.insert::<P>(Box::new(build));
        self
    }

    /// Lets a child run the function `start` as a process (spawned with
    /// [`Spawn::os_process_fn`]).
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
        let build = move |state: &[u8]| -> Result<Box<dyn Process>, String> {
            let arg: A = postcard::from_bytes(state).map_err(|e| e.to_string())?;
            let start = start.clone();
            Ok(Box::new(FnProcess::new(move |ctx: &mut Ctx| {
                start(ctx, arg)
            })))
        };
        self.insert::<F>(Box::new(build));
        self
    }
}

/// The hook that makes this program able to run OS-process children: call
/// it first thing in `main`, registering every type spawned with
/// [`Spawn::os_process`]. In the parent it returns at once (without calling
/// `register`); in a child it runs the process and exits when the process
/// ends or the parent goes away, never returning.
///
/// ```no_run
/// # #[derive(paragram::Process, serde::Serialize, serde::Deserialize)]
/// # struct Worker;
/// # #[paragram::process] impl Worker {}
/// fn main() {
///     paragram::os_process::hook(|r| {
///         r.register::<Worker>();
///     });
///     // ... the program as usual
/// }
/// ```
pub fn hook(register: impl FnOnce(&mut Registry)) {
    HOOKED.store(true, Ordering::SeqCst);
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let mut registry = Registry::default();
    register(&mut registry);
    std::process::exit(run(&registry));
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

/// Runs the child: its exit code.
fn run(registry: &Registry) -> i32 {
    let socket = match std::io::stdin().as_fd().try_clone_to_owned() {
        Ok(fd) => UnixStream::from(fd),
        Err(error) => {
            eprintln!("paragram: OS process without its connection: {error}");
            return 2;
        }
    };
    // Unbuffered: what follows the first frame belongs to the reader.
    let (type_name, state, name) = match read_frame(&mut &socket, &mut Vec::new()) {
        Ok(Some(Frame::Init {
            type_name,
            state,
            name,
        })) => (type_name, state, name),
        _ => return 2,
    };
    let process = registry
        .types
        .get(type_name.as_str())
        .ok_or_else(|| {
            format!("process type `{type_name}` is not registered in `paragram::os_process::hook`")
        })
        .and_then(|(_, build)| build(&state));
    let process = match process {
        Ok(process) => process,
        Err(message) => return fail(&socket, message),
    };
    let conn = Slot::take().and_then(|slot| {
        Conn::new(
            Side::Child,
            std::process::id(),
            std::os::unix::process::parent_id(),
            socket,
            slot,
        )
    });
    let conn = match conn {
        Ok(conn) => conn,
        Err(error) => return fail_conn(error),
    };
    let (done, ended) = mpsc::channel();
    conn.set_done(done);
    let spawn = Spawn {
        process,
        name: Some(name),
        ..Spawn::process(crate::process::Noop)
    };
    match spawn::spawn(spawn, None, None) {
        Ok(pid) => conn.set_main(pid),
        Err(error) => return fail_conn(error),
    }
    let reader = conn.clone();
    let slot = match Slot::take() {
        Ok(slot) => slot,
        Err(error) => return fail_conn(error),
    };
    if let Err(error) = std::thread::Builder::new()
        .name("os-reader".into())
        .spawn(move || {
            let _slot = slot;
            reader.run_child();
        })
    {
        return fail_conn(error);
    }
    // The main process has ended (its `Exited` frame is written) or the
    // parent has gone.
    let _ = ended.recv();
    0
}

fn fail(socket: &UnixStream, message: String) -> i32 {
    let mut bytes = Vec::new();
    let frame = Frame::Exited {
        id: 0,
        exit: WireExit::Error(message),
    };
    encode_frame(&frame, &mut bytes);
    let _ = std::io::Write::write_all(&mut &*socket, &bytes);
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
        let error = build(&state)
            .err()
            .expect("an ambiguous name builds nothing");
        assert!(error.contains("give them distinct paths"), "{error}");
    }
}
