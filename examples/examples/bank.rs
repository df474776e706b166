//! A small bank: each account is a derived process, transfers are
//! messages, and a branch links its accounts. An overdrawn account crashes;
//! the crash brings down the branch and every account linked to it, and
//! the root, linked to the branch like a supervisor, reports the cause.

use std::fmt;
use std::sync::mpsc::{self, Sender};
use std::time::Duration;

use paragram::{BoxError, Ctx, Exit, LinkedExit, Pid, Process, Root, Spawn, pattern};

const DEADLINE: Duration = Duration::from_secs(10);

/// An account asked to pay more than it holds.
#[derive(Debug)]
struct Overdrawn {
    account: String,
    balance: u64,
    amount: u64,
}

impl fmt::Display for Overdrawn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} overdrawn: {} requested, {} held",
            self.account, self.amount, self.balance
        )
    }
}

impl std::error::Error for Overdrawn {}

/// One account: deposits, transfers out, and balance statements.
#[derive(Process)]
struct Account {
    balance: u64,
    statements: Sender<(String, u64)>,
}

#[paragram::process]
impl Account {
    #[receive("deposit", u64)]
    fn deposit(&mut self, amount: u64) {
        self.balance += amount;
    }

    #[receive("transfer", u64, Pid)]
    fn transfer(&mut self, ctx: &mut Ctx, amount: u64, to: Pid) -> Result<(), BoxError> {
        if amount > self.balance {
            return Err(Overdrawn {
                account: ctx.name().to_owned(),
                balance: self.balance,
                amount,
            }
            .into());
        }
        self.balance -= amount;
        to.send(("deposit", amount))
            .map_err(|_| format!("{to} is closed"))?;
        Ok(())
    }

    #[receive("statement")]
    fn statement(&mut self, ctx: &mut Ctx) -> Result<(), BoxError> {
        self.statements
            .send((ctx.name().to_owned(), self.balance))?;
        Ok(())
    }
}

/// Opens the accounts, linked both ways, and hands their pids out. It has
/// no `(Exit, Pid)` receiver: an account's crash ends the branch, and the
/// branch's end ends the other accounts.
#[derive(Process)]
struct Branch {
    opened: Sender<Vec<Pid>>,
    statements: Sender<(String, u64)>,
}

#[paragram::process]
impl Branch {
    #[start]
    fn open(&mut self, ctx: &mut Ctx) -> Result<(), BoxError> {
        let mut accounts = Vec::new();
        for (name, balance) in [("alice", 100), ("bob", 50), ("carol", 0)] {
            let account = Account {
                balance,
                statements: self.statements.clone(),
            };
            accounts.push(ctx.spawn_link(Spawn::new(account).name(name))?);
        }
        self.opened.send(accounts)?;
        Ok(())
    }
}

fn statement(account: &Pid, statements: &mpsc::Receiver<(String, u64)>) -> (String, u64) {
    account.send("statement").expect("the account is open");
    statements
        .recv_timeout(DEADLINE)
        .expect("a statement before the deadline")
}

fn main() {
    let root = Root::new();
    let (reports, reported) = mpsc::channel();
    root.receive(pattern!(Exit, Pid), move |_, (exit, peer)| {
        let _ = reports.send(format!("{peer} ended: {}", exit.root_cause()));
    })
    .expect("the supervisor's receiver fits its pattern");

    let (opened, accounts) = mpsc::channel();
    let (statements_tx, statements) = mpsc::channel();
    let branch = root
        .spawn_link(
            Spawn::new(Branch {
                opened,
                statements: statements_tx,
            })
            .name("branch"),
        )
        .expect("spawn the branch");
    let accounts = accounts.recv_timeout(DEADLINE).expect("accounts opened");
    let [alice, bob, carol] = <[Pid; 3]>::try_from(accounts).expect("three accounts");

    // Messages from one sender arrive in order, and a statement is asked
    // for only after the payer's own statement shows the deposit was sent.
    alice.send(("transfer", 30u64, bob.clone())).unwrap();
    assert_eq!(statement(&alice, &statements), ("alice".into(), 70));
    assert_eq!(statement(&bob, &statements), ("bob".into(), 80));
    bob.send(("transfer", 80u64, carol.clone())).unwrap();
    assert_eq!(statement(&bob, &statements), ("bob".into(), 0));
    assert_eq!(statement(&carol, &statements), ("carol".into(), 80));

    // Carol tries to pay more than she holds: her account crashes.
    carol.send(("transfer", 500u64, alice.clone())).unwrap();

    let carol_exit = carol.wait_timeout(DEADLINE).expect("carol's account ends");
    let overdrawn = carol_exit
        .downcast_ref::<Overdrawn>()
        .expect("carol's account ends overdrawn");
    assert_eq!((overdrawn.balance, overdrawn.amount), (80, 500));

    let branch_exit = branch.wait_timeout(DEADLINE).expect("the branch ends");
    let linked = branch_exit
        .downcast_ref::<LinkedExit>()
        .expect("the branch ends of a linked exit");
    assert_eq!(linked.peer, carol);
    for account in [&alice, &bob] {
        let exit = account.wait_timeout(DEADLINE).expect("linked accounts end");
        assert!(
            exit.root_cause().downcast_ref::<Overdrawn>().is_some(),
            "{account} ends with the root cause, not {exit}"
        );
    }

    let report = reported.recv_timeout(DEADLINE).expect("the root reports");
    println!("supervisor: {report}");
    assert_eq!(
        report,
        "branch ended: carol overdrawn: 500 requested, 80 held"
    );
}
