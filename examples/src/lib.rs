//! Runnable scenarios; see the `examples/` folder.
