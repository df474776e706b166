//! A process's state as it crosses to a child OS process: encoded with
//! postcard, each `Pid` inside it written as its place in a table that
//! crosses beside it, where each is named and kept as a `Pid` in a message
//! is. Outside that, a `Pid` cannot be serialized: it names a process of
//! one program, and nothing but the connection to another can carry it.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::de::{DeserializeOwned, Error as _};
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::pid::Pid;
use crate::text;

thread_local! {
    /// The `Pid`s of the state being encoded or decoded on this thread.
    static TABLE: RefCell<Option<Vec<Pid>>> = const { RefCell::new(None) };
}

/// What a serializer says of a `Pid` outside a process's state.
const NOT_HERE: &str = "a `Pid` is serialized only in the state of a process spawned with \
     `Spawn::os_process` or `Spawn::os_process_fn`, where it crosses as a `Pid` in a message \
     does; it names a process of this program, which nothing else can carry";

/// `value` encoded, and the `Pid`s inside it, in the order their places
/// were written. A panic in `value`'s `Serialize` is an error here.
pub(crate) fn encode_state<T: Serialize>(value: &T) -> Result<(Vec<u8>, Vec<Pid>), String> {
    let table = Table::enter(Vec::new());
    let encoded = catch_unwind(AssertUnwindSafe(|| postcard::to_allocvec(value)));
    let pids = table.leave();
    match encoded {
        Ok(Ok(bytes)) => Ok((bytes, pids)),
        Ok(Err(error)) => Err(error.to_string()),
        Err(payload) => {
            text::forget_quietly(payload);
            Err("its `Serialize` panicked".into())
        }
    }
}

/// A `T` decoded from `bytes`, each `Pid` place inside it read from `pids`.
/// A panic in `T`'s `Deserialize` is an error here.
pub(crate) fn decode_state<T: DeserializeOwned>(bytes: &[u8], pids: Vec<Pid>) -> Result<T, String> {
    let table = Table::enter(pids);
    let decoded = catch_unwind(AssertUnwindSafe(|| postcard::from_bytes::<T>(bytes)));
    drop(table.leave());
    match decoded {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(error.to_string()),
        Err(payload) => {
            text::forget_quietly(payload);
            Err("its `Deserialize` panicked".into())
        }
    }
}

/// This thread's table, set for as long as it lives, and the one before
/// it put back after.
struct Table {
    before: Option<Vec<Pid>>,
}

impl Table {
    fn enter(pids: Vec<Pid>) -> Table {
        Table {
            before: TABLE.with(|table| table.replace(Some(pids))),
        }
    }

    fn leave(mut self) -> Vec<Pid> {
        let before = self.before.take();
        TABLE
            .with(|table| table.replace(before))
            .unwrap_or_default()
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        if let Some(before) = self.before.take() {
            TABLE.with(|table| table.replace(Some(before)));
        }
    }
}

impl Serialize for Pid {
    /// Its place in the table of the state being encoded; an error
    /// anywhere else.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let place = TABLE.with(|table| {
            let mut table = table.borrow_mut();
            let pids = table.as_mut()?;
            pids.push(self.clone());
            u32::try_from(pids.len() - 1).ok()
        });
        match place {
            Some(place) => serializer.serialize_u32(place),
            None => Err(S::Error::custom(NOT_HERE)),
        }
    }
}

impl<'de> Deserialize<'de> for Pid {
    /// The `Pid` at its place in the table of the state being decoded; an
    /// error anywhere else.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Pid, D::Error> {
        let place = u32::deserialize(deserializer)?;
        TABLE
            .with(|table| {
                let table = table.borrow();
                table.as_ref()?.get(place as usize).cloned()
            })
            .ok_or_else(|| D::Error::custom(NOT_HERE))
    }
}
