//! Holds the trybuild cases; see `tests/ui.rs`.
