//! Texts copied into exit values: bounded in size, and made without letting
//! a user's `Display`, `Debug` or panic payload unwind into the runtime.
//!
//! A process can end because of a 20 MiB message or a panic with a 20 MiB
//! payload; its exit text names that cause, so it keeps the first
//! [`PART_LIMIT`] bytes and says how many more there were, rather than copy
//! the whole of it into every exit, link notification and frame.

use std::fmt::{self, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The most bytes of one user-provided text (a message printed as the cause
/// of an unhandled-message exit, a panic message) an exit keeps.
pub const PART_LIMIT: usize = 1024;

/// The most bytes of an exit's whole text, which may be made of parts (a
/// linked exit names its peer and quotes its cause).
pub const EXIT_LIMIT: usize = 4 * PART_LIMIT;

/// What a text says where a user's `Display` or `Debug` panicked.
pub const PANICKED: &str = "<panicked while formatting>";

/// The text `write` produces, cut to at most `limit` bytes at a character
/// boundary, with `… N bytes more` after a cut. A panic inside `write`
/// ends the text with [`PANICKED`]; the panic goes no further.
pub(crate) fn bounded(limit: usize, write: impl FnOnce(&mut dyn Write) -> fmt::Result) -> String {
    let mut out = Bounded {
        text: String::new(),
        limit,
        more: 0,
    };
    let written = catch_unwind(AssertUnwindSafe(|| write(&mut out)));
    let panicked = match written {
        Ok(_) => false,
        Err(payload) => {
            forget_quietly(payload);
            true
        }
    };
    out.finish(panicked)
}

/// [`bounded`] for one value's `Display`.
pub(crate) fn display(limit: usize, value: &(impl fmt::Display + ?Sized)) -> String {
    bounded(limit, |w| write!(w, "{value}"))
}

/// Room a bounded text keeps for what follows its cut: `… N bytes more`
/// and [`PANICKED`].
const SUFFIX_ROOM: usize = 64;

/// `text` cut to at most `limit` bytes, as [`bounded`] cuts: for texts that
/// arrive whole (from another OS process). A text already bounded at
/// `limit`, its suffix included, is kept as it is.
pub(crate) fn cap(text: String, limit: usize) -> String {
    if text.len() <= limit + SUFFIX_ROOM {
        return text;
    }
    bounded(limit, |w| w.write_str(&text))
}

/// Drops a panic payload whose own `Drop` may panic, and the payloads of
/// those panics in turn; one that keeps panicking is leaked rather than let
/// unwind.
pub(crate) fn forget_quietly(payload: Box<dyn std::any::Any + Send>) {
    let mut payload = payload;
    for _ in 0..8 {
        match catch_unwind(AssertUnwindSafe(move || drop(payload))) {
            Ok(()) => return,
            Err(next) => payload = next,
        }
    }
    std::mem::forget(payload);
}

/// A writer that keeps the first `limit` bytes and counts the rest.
struct Bounded {
    text: String,
    limit: usize,
    more: usize,
}

impl Bounded {
    fn finish(mut self, panicked: bool) -> String {
        if panicked {
            self.text.push_str(PANICKED);
        }
        if self.more > 0 {
            let _ = write!(self.text, "… {} bytes more", self.more);
        }
        self.text
    }
}

impl Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.limit.saturating_sub(self.text.len());
        if self.more == 0 && s.len() <= room {
            self.text.push_str(s);
            return Ok(());
        }
        let kept = if self.more == 0 {
            s.floor_char_boundary(room)
        } else {
            0
        };
        self.text.push_str(&s[..kept]);
        self.more += s.len() - kept;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_texts_are_kept_whole() {
        assert_eq!(display(10, "hello"), "hello");
        assert_eq!(display(5, "hello"), "hello");
    }

    #[test]
    fn long_texts_are_cut_at_a_character_and_counted() {
        assert_eq!(display(4, "hello"), "hell… 1 bytes more");
        // 'é' is two bytes: the cut falls before it, not inside it.
        assert_eq!(display(2, "héllo"), "h… 5 bytes more");
        let big = "x".repeat(20 << 20);
        let text = display(PART_LIMIT, &big);
        assert_eq!(text.len(), PART_LIMIT + "… 20970496 bytes more".len());
        assert!(text.ends_with("… 20970496 bytes more"), "{}", &text[1000..]);
    }

    #[test]
    fn a_panicking_display_ends_the_text() {
        struct Bad;
        impl fmt::Display for Bad {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("half")?;
                panic!("no display for you")
            }
        }
        assert_eq!(display(100, &Bad), format!("half{PANICKED}"));
    }

    #[test]
    fn a_payload_that_panics_when_dropped_is_contained() {
        struct Grenade;
        impl Drop for Grenade {
            fn drop(&mut self) {
                std::panic::panic_any(Grenade);
            }
        }
        forget_quietly(Box::new(Grenade));
    }

    #[test]
    fn cap_cuts_only_long_texts() {
        assert_eq!(cap("abc".into(), 3), "abc");
        let bounded = display(3, "abcd");
        assert_eq!(cap(bounded.clone(), 3), bounded);
        let long = "x".repeat(3 + SUFFIX_ROOM + 1);
        assert_eq!(cap(long, 3), format!("xxx… {} bytes more", SUFFIX_ROOM + 1));
    }
}
