//! Links between processes and the exit notifications they carry.
//!
//! Each process keeps its links in its own `Links`, behind a lock that no
//! user code ever runs under. Linking two processes takes both locks in the
//! order of their ids, so concurrent mutual links cannot deadlock; a process
//! that ends marks its links closed under its own lock, so a link racing
//! with the end is either in the set the process notifies or sees the
//! process dead and delivers its exit at once: exactly one notification.
//!
//! A link's notification is acted on only if the link is still there when
//! its receiver takes it (the receiver removes it then): once `unlink`
//! returns, the link has no further effect, even for a notification
//! already on its way, as Erlang promises. A one-way watch cannot be
//! removed, and its notification is always acted on.

use std::sync::{Arc, Weak};

use crate::exit::Exit;
use crate::monitors::{self, MonitorRef};
use crate::names::{self, RegisterError};
use crate::pid::{Core, Pid, ProcessId, lock};
use crate::runner::Envelope;

/// The links of one process. Links hold no strong reference: a link never
/// keeps a peer alive.
#[derive(Default)]
pub(crate) struct Links {
    /// Set on exit; from then on nothing joins the sets.
    closed: bool,
    /// Two-way links: each side notifies the other.
    peers: Vec<(u64, Weak<Core>)>,
    /// One-way links: processes this one notifies when it ends, and which
    /// do not notify it.
    watchers: Vec<(u64, Weak<Core>)>,
    /// The name the process is registered under (`names.rs`).
    name: Option<Arc<str>>,
    /// Its monitors, either way (`monitors.rs`), once it has one.
    monitors: Option<Box<Monitors>>,
}

/// The monitors of one process.
#[derive(Default)]
struct Monitors {
    /// Processes that monitor this one, by reference.
    watchers: Vec<(MonitorRef, Weak<Core>)>,
    /// Processes this one monitors, by reference.
    targets: Vec<(MonitorRef, Weak<Core>)>,
    /// References whose `Down`, on its way here, is to be dropped.
    flushed: Vec<MonitorRef>,
}

impl Links {
    fn monitors(&mut self) -> &mut Monitors {
        self.monitors.get_or_insert_with(Box::default)
    }
}

impl Links {
    fn add_peer(&mut self, core: &Arc<Core>) {
        if !self.peers.iter().any(|(id, _)| *id == core.id) {
            self.peers.push((core.id, Arc::downgrade(core)));
        }
    }

    /// Removes the link to `id`: whether there was one.
    fn remove_peer(&mut self, id: u64) -> bool {
        let before = self.peers.len();
        self.peers.retain(|(peer, _)| *peer != id);
        self.peers.len() < before
    }

    /// Whether a link or another process's monitor still reaches the
    /// process `core` whose links these are.
    fn reach(&self, core: &Core) -> bool {
        !self.peers.is_empty()
            || self.monitors.as_ref().is_some_and(|monitors| {
                monitors
                    .watchers
                    .iter()
                    .any(|(_, watcher)| !std::ptr::eq(watcher.as_ptr(), core))
            })
    }
}

/// Whether anything but a `Pid` still reaches `core`'s process: a link, or
/// a monitor of another process's. Counted with its handles before it ends
/// as unreachable; a registered name and a pending timer hold a `Pid`.
pub(crate) fn reached(core: &Core) -> bool {
    lock(&core.links).reach(core)
}

/// A link or a monitor that reached `core`'s process has gone: with no
/// `Pid` left either, it is told to see whether anything still reaches it.
fn released(core: &Core) {
    if core.handles() == 0 {
        let _ = core.mailbox.push(Envelope::Unreachable);
    }
}

/// Links `a` and `b` both ways, and mirrors the link where either runs, if
/// it runs elsewhere.
pub(crate) fn link(a: &Arc<Core>, b: &Arc<Core>) {
    link_local(a, b);
    mirror(a, b, true);
}

/// Makes `core` notify `watcher` when it ends, one way, and mirrors that
/// where `watcher` runs, if it runs elsewhere.
pub(crate) fn watch_mirrored(core: &Arc<Core>, watcher: &Arc<Core>) {
    watch(core, watcher);
    mirror_watch(core, watcher);
}

/// Removes the link between `a` and `b` here and where either runs, if it
/// runs elsewhere.
pub(crate) fn unlink(a: &Arc<Core>, b: &Arc<Core>) {
    unlink_local(a, b);
    mirror(a, b, false);
}

/// Mirrors a link made (or removed) here between `a` and `b` where each
/// that runs elsewhere runs.
fn mirror(a: &Arc<Core>, b: &Arc<Core>, add: bool) {
    mirror_from(a, b, add);
    mirror_from(b, a, add);
}

/// Makes (or removes) the link between `proxy`, if it stands for a process
/// that runs elsewhere, and `other`, where that process runs.
pub(crate) fn mirror_from(proxy: &Arc<Core>, other: &Arc<Core>, add: bool) {
    if let Some(route) = proxy.route.get() {
        route.mirror_link(proxy, other, add);
    }
}

/// Makes `core` tell `watcher` of its end where `watcher`'s process runs,
/// if it runs elsewhere.
pub(crate) fn mirror_watch(core: &Arc<Core>, watcher: &Arc<Core>) {
    if let Some(route) = watcher.route.get() {
        route.mirror_watch(watcher, core);
    }
}

/// Links `a` and `b` both ways in this program. A link to oneself does
/// nothing; a link to a process that has ended delivers its exit to the
/// other at once.
pub(crate) fn link_local(a: &Arc<Core>, b: &Arc<Core>) {
    if a.id == b.id {
        return;
    }
    let (first, second) = if a.id < b.id { (a, b) } else { (b, a) };
    let mut first_links = lock(&first.links);
    let mut second_links = lock(&second.links);
    match (first_links.closed, second_links.closed) {
        (false, false) => {
            first_links.add_peer(second);
            second_links.add_peer(first);
        }
        (true, false) => {
            // Noted on the live side, for its notification to find.
            second_links.add_peer(first);
            drop((first_links, second_links));
            deliver(second, first, true);
        }
        (false, true) => {
            first_links.add_peer(second);
            drop((first_links, second_links));
            deliver(first, second, true);
        }
        (true, true) => {}
    }
}

/// Links the new process `child`, not yet started, both ways to `parent`;
/// false, linking nothing, if `parent` has ended.
pub(crate) fn link_new(parent: &Arc<Core>, child: &Arc<Core>) -> bool {
    let (first, second) = if parent.id < child.id {
        (parent, child)
    } else {
        (child, parent)
    };
    let mut first_links = lock(&first.links);
    let mut second_links = lock(&second.links);
    if first_links.closed || second_links.closed {
        return false;
    }
    first_links.add_peer(second);
    second_links.add_peer(first);
    drop((first_links, second_links));
    mirror(parent, child, true);
    true
}

/// Removes the two-way link between `a` and `b`, if there is one.
pub(crate) fn unlink_local(a: &Arc<Core>, b: &Arc<Core>) {
    let (first, second) = if a.id < b.id { (a, b) } else { (b, a) };
    let mut first_links = lock(&first.links);
    let mut second_links = lock(&second.links);
    let linked = first_links.remove_peer(second.id) | second_links.remove_peer(first.id);
    drop((first_links, second_links));
    if linked {
        released(a);
        released(b);
    }
}

/// Makes `core` notify `watcher` when it ends, one way. Delivers at once if
/// `core` has already ended.
pub(crate) fn watch(core: &Arc<Core>, watcher: &Arc<Core>) {
    let mut links = lock(&core.links);
    if links.closed {
        drop(links);
        deliver(watcher, core, false);
    } else if !links.watchers.iter().any(|(id, _)| *id == watcher.id) {
        links.watchers.push((watcher.id, Arc::downgrade(watcher)));
    }
}

/// The exit step "notify links": closes `core`'s links and sends
/// `(Exit, Pid)` to every linked process. The exit value must be recorded.
pub(crate) fn notify_exit(core: &Arc<Core>) {
    let (peers, watchers, name, monitored_by, monitoring) = {
        let mut links = lock(&core.links);
        links.closed = true;
        let (monitored_by, monitoring) = links
            .monitors
            .as_mut()
            .map(|monitors| {
                (
                    std::mem::take(&mut monitors.watchers),
                    std::mem::take(&mut monitors.targets),
                )
            })
            .unzip();
        (
            std::mem::take(&mut links.peers),
            std::mem::take(&mut links.watchers),
            links.name.take(),
            monitored_by,
            monitoring,
        )
    };
    // Its monitors end with it, as Erlang's do: they no longer reach
    // the processes they watched.
    for (reference, target) in monitoring.into_iter().flatten() {
        if let Some(target) = target.upgrade()
            && unwatch(&target, reference)
        {
            released(&target);
        }
    }
    // Its name is free before anyone hears of its end.
    if let Some(name) = name {
        names::forget(&name, core.id);
    }
    // Each peer removes the link when it takes the notification.
    for (_, peer) in peers {
        if let Some(peer) = peer.upgrade() {
            deliver(&peer, core, true);
        }
    }
    for (_, watcher) in watchers {
        if let Some(watcher) = watcher.upgrade() {
            deliver(&watcher, core, false);
        }
    }
    if let Some(monitored_by) = monitored_by {
        let exit = core.exit().unwrap_or_default();
        for (reference, watcher) in monitored_by {
            if let Some(watcher) = watcher.upgrade() {
                monitors::deliver(&watcher, core, reference, exit.clone());
            }
        }
    }
}

/// Makes `watcher` monitor `target` under `reference`: false, noting
/// nothing, if `target` has ended.
pub(crate) fn add_monitor(watcher: &Arc<Core>, target: &Arc<Core>, reference: MonitorRef) -> bool {
    if watcher.id == target.id {
        let mut links = lock(&watcher.links);
        if links.closed {
            return false;
        }
        let monitors = links.monitors();
        monitors.watchers.push((reference, Arc::downgrade(watcher)));
        monitors.targets.push((reference, Arc::downgrade(target)));
        return true;
    }
    let (first, second) = if watcher.id < target.id {
        (watcher, target)
    } else {
        (target, watcher)
    };
    let mut first_links = lock(&first.links);
    let mut second_links = lock(&second.links);
    let (watcher_links, target_links) = if first.id == watcher.id {
        (&mut first_links, &mut second_links)
    } else {
        (&mut second_links, &mut first_links)
    };
    if target_links.closed {
        return false;
    }
    if watcher_links.closed {
        // The watcher has ended: nothing would ever take the monitor off
        // the target, which it would keep reachable.
        return true;
    }
    target_links
        .monitors()
        .watchers
        .push((reference, Arc::downgrade(watcher)));
    watcher_links
        .monitors()
        .targets
        .push((reference, Arc::downgrade(target)));
    true
}

/// Ends `watcher`'s monitor `reference`: true if it was still active.
/// Otherwise its `Down` has been received, or is on its way: with `flush`,
/// that one is dropped when it comes.
pub(crate) fn remove_monitor(watcher: &Arc<Core>, reference: MonitorRef, flush: bool) -> bool {
    let target = {
        let mut links = lock(&watcher.links);
        let Some(monitors) = links.monitors.as_mut() else {
            return false;
        };
        let Some(at) = monitors.targets.iter().position(|(r, _)| *r == reference) else {
            return false;
        };
        monitors.targets.swap_remove(at).1
    };
    let removed = target.upgrade().is_some_and(|target| {
        let removed = unwatch(&target, reference);
        if removed {
            released(&target);
        }
        removed
    });
    if !removed && flush {
        lock(&watcher.links).monitors().flushed.push(reference);
    }
    removed
}

/// Removes the monitor `reference` from those on `target`: whether it was
/// there.
fn unwatch(target: &Core, reference: MonitorRef) -> bool {
    let mut links = lock(&target.links);
    links.monitors.as_mut().is_some_and(|monitors| {
        let before = monitors.watchers.len();
        monitors.watchers.retain(|(r, _)| *r != reference);
        monitors.watchers.len() < before
    })
}

/// Whether the `Down` for `reference` that `core`'s process has just
/// taken is to be received: not if a demonitor with flush took it back.
pub(crate) fn take_down(core: &Core, reference: MonitorRef) -> bool {
    let mut links = lock(&core.links);
    let Some(monitors) = links.monitors.as_mut() else {
        return true;
    };
    if let Some(at) = monitors.flushed.iter().position(|r| *r == reference) {
        monitors.flushed.swap_remove(at);
        return false;
    }
    monitors.targets.retain(|(r, _)| *r != reference);
    true
}

/// Notes `name` as the name `core`'s process is registered under: an error
/// if it has ended or has a name already. Called under the names' table
/// lock.
pub(crate) fn claim_name(core: &Arc<Core>, name: &Arc<str>) -> Result<(), RegisterError> {
    let mut links = lock(&core.links);
    if links.closed {
        return Err(RegisterError::Ended);
    }
    if let Some(held) = &links.name {
        return Err(RegisterError::AlreadyRegistered {
            name: held.to_string(),
        });
    }
    links.name = Some(name.clone());
    Ok(())
}

/// Forgets that `core`'s process is registered as `name`, if it is.
pub(crate) fn release_name(core: &Arc<Core>, name: &str) {
    let mut links = lock(&core.links);
    if links.name.as_deref() == Some(name) {
        links.name = None;
    }
}

/// Forgets every link of a process that never ran, telling no one.
pub(crate) fn detach(core: &Arc<Core>) {
    let peers = {
        let mut links = lock(&core.links);
        links.closed = true;
        links.watchers.clear();
        std::mem::take(&mut links.peers)
    };
    for (_, peer) in peers {
        if let Some(peer) = peer.upgrade() {
            let removed = lock(&peer.links).remove_peer(core.id);
            if removed {
                released(&peer);
            }
        }
    }
}

/// Sends `to` the notification that `ended` has ended, through a link
/// (`linked`) or a one-way watch.
fn deliver(to: &Arc<Core>, ended: &Arc<Core>, linked: bool) {
    let exit = ended.exit().unwrap_or_else(Exit::normal);
    let from = Pid::from_core(ended.clone());
    // A closed mailbox: `to` has ended too and needs no news.
    let _ = to.mailbox.push(Envelope::Exit { from, exit, linked });
}

/// Whether `core`'s process, taking a linked notification from `from`, is
/// still linked to it: if so the link goes, its work done.
pub(crate) fn take_link(core: &Core, from: u64) -> bool {
    let linked = lock(&core.links).remove_peer(from);
    if linked {
        released(core);
    }
    linked
}

/// Who a process is tied to, for introspection.
pub(crate) struct Ties {
    pub(crate) name: Option<String>,
    pub(crate) links: Vec<ProcessId>,
    pub(crate) monitored_by: Vec<ProcessId>,
    pub(crate) monitors: Vec<ProcessId>,
}

/// A snapshot of `core`'s ties: its name, links and monitors either way,
/// of processes still there.
pub(crate) fn ties(core: &Core) -> Ties {
    let (name, peers, monitored_by, monitors) = {
        let links = lock(&core.links);
        let (monitored_by, monitors) = links
            .monitors
            .as_ref()
            .map(|monitors| {
                (
                    monitors.watchers.iter().map(|(_, w)| w.clone()).collect(),
                    monitors.targets.iter().map(|(_, t)| t.clone()).collect(),
                )
            })
            .unwrap_or_default();
        (
            links.name.as_deref().map(str::to_owned),
            links
                .peers
                .iter()
                .map(|(_, p)| p.clone())
                .collect::<Vec<_>>(),
            monitored_by,
            monitors,
        )
    };
    // A process that has ended is no tie any more, even before the
    // news of its end is taken.
    let ids = |weak: Vec<Weak<Core>>| -> Vec<ProcessId> {
        weak.iter()
            .filter_map(Weak::upgrade)
            .filter(|core| !core.is_finished())
            .map(|core| ProcessId::of_core(&core))
            .collect()
    };
    Ties {
        name,
        links: ids(peers),
        monitored_by: ids(monitored_by),
        monitors: ids(monitors),
    }
}
