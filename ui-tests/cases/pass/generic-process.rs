//! A generic process type, and helper methods left as they are.

use std::sync::mpsc;
use std::time::Duration;

use paragram::{Process, Root, Spawn};

#[derive(Process)]
struct Echo<T: Send + 'static> {
    out: mpsc::Sender<T>,
}

#[paragram::process]
impl<T: Send + 'static> Echo<T>
where
    T: From<i32>,
{
    #[receive("echo", i32)]
    fn echo(&mut self, n: i32) {
        self.forward(n);
    }

    fn forward(&self, n: i32) {
        let _ = self.out.send(T::from(n));
    }
}

fn main() {
    let root = Root::new();
    let (tx, rx) = mpsc::channel::<i64>();
    let pid = root.spawn(Spawn::new(Echo { out: tx }).name("echo")).unwrap();
    pid.send(("echo", 7)).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(7));
    pid.terminate();
    assert!(pid.wait_timeout(Duration::from_secs(10)).unwrap().is_normal());
}
