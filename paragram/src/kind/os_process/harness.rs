//! OS processes spawned from a test that cargo's own harness runs. Such a
//! test cannot call the hook before the harness's `main`, so its children
//! are the test binary run on that one test (`NAME --exact`), as
//! rusty-fork runs one: the test's body calls the hook first, and in the
//! child the hook runs the process and exits before the body goes on.
//!
//! `#[paragram::test]` marks the test's thread with the test's name; a
//! root made on that thread remembers it, so that every OS process
//! spawned under the root, from whatever thread, starts the same way.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, Weak};

use crate::pid::{Core, lock};

/// The arguments that run one test of the test binary, and nothing else.
type TestArgs = Arc<[String]>;

thread_local! {
    /// The test this thread runs, set by `#[paragram::test]`.
    static TEST: RefCell<Option<TestArgs>> = const { RefCell::new(None) };
}

/// Roots made on a test's thread, and that test.
static ROOTS: Mutex<Vec<(Weak<Core>, TestArgs)>> = Mutex::new(Vec::new());

/// Marks the calling thread as running the test `name` of the module
/// `module_path` (as `module_path!()` gives it, the crate's name first)
/// until dropped.
pub struct TestThread {
    before: Option<TestArgs>,
}

impl TestThread {
    pub(crate) fn enter(module_path: &str, name: &str) -> TestThread {
        // The harness names a test by its path inside the crate.
        let test = match module_path.split_once("::") {
            Some((_, inner)) => format!("{inner}::{name}"),
            None => name.to_owned(),
        };
        let args: TestArgs = [test, "--exact".into(), "--nocapture".into()].into();
        TestThread {
            before: TEST.with(|test| test.replace(Some(args))),
        }
    }
}

impl Drop for TestThread {
    fn drop(&mut self) {
        let before = self.before.take();
        TEST.with(|test| test.replace(before));
    }
}

/// Remembers the calling thread's test, if it runs one, for `root`.
pub(crate) fn adopt(root: &Arc<Core>) {
    let Some(args) = TEST.with(|test| test.borrow().clone()) else {
        return;
    };
    let mut roots = lock(&ROOTS);
    roots.retain(|(root, _)| root.strong_count() > 0);
    roots.push((Arc::downgrade(root), args));
}

/// The arguments a child OS process spawned under `owner` (from the
/// calling thread) is started with: its test, if it was spawned from one.
pub(crate) fn child_args(owner: Option<&Arc<Core>>) -> Option<TestArgs> {
    if let Some(args) = TEST.with(|test| test.borrow().clone()) {
        return Some(args);
    }
    let owner = owner?;
    lock(&ROOTS)
        .iter()
        .find(|(root, _)| std::ptr::eq(root.as_ptr(), Arc::as_ptr(owner)))
        .map(|(_, args)| args.clone())
}
