//! Ping/pong with derived processes: the pinger serves a ball to the
//! ponger, they rally until the pinger has sent `ROUNDS` pings, then both
//! end normally and the root reports the score.

use std::sync::mpsc;
use std::time::Duration;

use paragram::{BoxError, Ctx, Exit, Pid, Process, Root, Spawn};

const ROUNDS: u32 = 5;

/// Answers every `("ping", from)` with `("pong", me)`.
#[derive(Process)]
struct Ponger {
    pongs: u32,
}

#[paragram::process]
impl Ponger {
    #[receive("ping", Pid)]
    fn ping(&mut self, ctx: &mut Ctx, from: Pid) -> Result<(), BoxError> {
        self.pongs += 1;
        from.send(("pong", ctx.me()))
            .map_err(|_| "the pinger is gone")?;
        Ok(())
    }

    #[receive("stop")]
    fn stop(&mut self, ctx: &mut Ctx) {
        println!("ponger: {} pongs, stopping", self.pongs);
        ctx.terminate();
    }
}

/// Serves `ROUNDS` pings, then stops the ponger and itself and reports.
#[derive(Process)]
struct Pinger {
    ponger: Pid,
    pings: u32,
    done: mpsc::Sender<u32>,
}

#[paragram::process]
impl Pinger {
    #[start]
    fn serve(&mut self, ctx: &mut Ctx) -> Result<(), BoxError> {
        self.pings += 1;
        ctx.link(&self.ponger);
        self.ponger
            .send(("ping", ctx.me()))
            .map_err(|_| "the ponger is gone")?;
        Ok(())
    }

    #[receive("pong", Pid)]
    fn pong(&mut self, ctx: &mut Ctx, from: Pid) -> Result<(), BoxError> {
        println!("pinger: pong {} from {from}", self.pings);
        if self.pings == ROUNDS {
            from.send("stop").map_err(|_| "the ponger is gone")?;
            self.done.send(self.pings)?;
            ctx.terminate();
            return Ok(());
        }
        self.pings += 1;
        from.send(("ping", ctx.me()))
            .map_err(|_| "the ponger is gone")?;
        Ok(())
    }

    /// The ponger is linked: its normal end must not end the pinger early.
    #[receive(Exit, Pid)]
    fn linked_exit(&mut self, exit: Exit, peer: Pid) {
        println!("pinger: {peer} ended: {exit}");
    }
}

fn main() {
    let root = Root::new();
    let ponger = root
        .spawn(Spawn::new(Ponger { pongs: 0 }).name("ponger"))
        .expect("spawn ponger");
    let (done, rounds) = mpsc::channel();
    let pinger = root
        .spawn(
            Spawn::new(Pinger {
                ponger: ponger.clone(),
                pings: 0,
                done,
            })
            .name("pinger"),
        )
        .expect("spawn pinger");
    let played = rounds
        .recv_timeout(Duration::from_secs(10))
        .expect("the rally finishes");
    assert_eq!(played, ROUNDS);
    let deadline = Duration::from_secs(10);
    assert!(
        ponger
            .wait_timeout(deadline)
            .expect("ponger ends")
            .is_normal()
    );
    assert!(
        pinger
            .wait_timeout(deadline)
            .expect("pinger ends")
            .is_normal()
    );
    println!("{ROUNDS} rounds played");
}
