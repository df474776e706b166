//! The `tracing` feature: a span per process, entered while its code runs,
//! one per handled message inside it, and an event when it ends. Run with
//! `cargo test -p paragram-tests --features tracing --test tracing`.
#![cfg(feature = "tracing")]

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use paragram::{Kind, Root, Spawn, pattern};
use paragram_tests::ended;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records every span's name and fields, every entry and every event.
#[derive(Default)]
struct Recorder {
    next: AtomicU64,
    spans: Mutex<HashMap<u64, String>>,
    entered: Mutex<Vec<String>>,
    events: Mutex<Vec<String>>,
}

/// A span's or event's fields as `name=value` text.
#[derive(Default)]
struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl Subscriber for &'static Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attributes: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let mut fields = Fields::default();
        attributes.record(&mut fields);
        let text = format!("{}: {}", attributes.metadata().name(), fields.0.trim_end());
        self.spans.lock().unwrap().insert(id, text);
        Id::from_u64(id)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.events
            .lock()
            .unwrap()
            .push(fields.0.trim_end().to_owned());
    }

    fn enter(&self, span: &Id) {
        let text = self.spans.lock().unwrap()[&span.into_u64()].clone();
        self.entered.lock().unwrap().push(text);
    }

    fn exit(&self, _: &Id) {}
}

#[test]
fn each_process_and_each_handled_message_has_a_span() {
    let recorder: &'static Recorder = Box::leak(Box::default());
    tracing::subscriber::set_global_default(recorder).unwrap();
    for kind in [Kind::THREAD, Kind::SCHEDULER] {
        let name = format!("traced-{kind:?}");
        let root = Root::new();
        let pid = root
            .spawn(
                Spawn::from_fn(|ctx| ctx.receive(pattern!(u32), |_, (_,): (u32,)| {}))
                    .name(name.clone())
                    .kind(kind),
            )
            .unwrap();
        for n in 0..3u32 {
            pid.send(n).unwrap();
        }
        pid.terminate();
        assert!(ended(&pid).is_normal());
        let id = pid.id();
        let process = format!("process: id={id} name={name} kind=\"{kind:?}\"");
        let entered = recorder.entered.lock().unwrap().clone();
        assert!(entered.contains(&process), "{kind:?}: {entered:#?}");
        // Three messages, then the terminate's `(Exit,)` offered to the
        // receivers.
        let messages = entered.iter().filter(|s| s.starts_with("message")).count();
        assert!(messages >= 3, "{kind:?}: {entered:#?}");
        let events = recorder.events.lock().unwrap().clone();
        assert!(
            events
                .iter()
                .any(|e| e == "message=process ended exit=normal"),
            "{kind:?}: {events:#?}"
        );
    }
}
