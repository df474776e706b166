//! Erlang, through the project's own escript (bench/erlang/bench.escript),
//! which prints the same figures as `W<n> <value>` lines.

use std::path::PathBuf;
use std::process::Command;

use crate::{Cfg, Res, W, parse_figure, run_with_deadline};

/// The escript to run, if `escript` is on PATH.
pub fn find() -> Result<PathBuf, String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("erlang/bench.escript");
    if !script.exists() {
        return Err(format!("{} missing", script.display()));
    }
    match Command::new("escript").arg(&script).arg("check").output() {
        Ok(out) if out.status.success() => Ok(script),
        Ok(out) => Err(format!(
            "escript check failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )),
        Err(_) => Err("escript is not on PATH (install erlang-base to include Erlang)".into()),
    }
}

/// One repetition: W1-W4 and W6 in one VM, W5 and W7 each in a fresh VM.
pub fn run(script: &PathBuf, cfg: &Cfg) -> Vec<(W, Res)> {
    let sizes = [cfg.w1, cfg.w2, cfg.w3 as u64, cfg.w4 as u64, cfg.w6].map(|n| n.to_string());
    let deadline = cfg.deadline * 5;
    let all = run_with_deadline(
        Command::new("escript").arg(script).arg("all").args(&sizes),
        deadline,
    );
    let w7 = run_with_deadline(
        Command::new("escript")
            .arg(script)
            .arg("w7")
            .arg(cfg.w7.to_string()),
        cfg.deadline,
    );
    let w5 = run_with_deadline(
        Command::new("escript")
            .arg(script)
            .arg("w5")
            .arg(cfg.w5.to_string()),
        cfg.deadline,
    );
    W::ALL
        .into_iter()
        .map(|w| {
            let out = match w {
                W::W5 => &w5,
                W::W7 => &w7,
                _ => &all,
            };
            let res = match out {
                Ok(out) => parse_figure(out, &w.to_string()),
                Err(crate::Skip::Failed(why)) => Err(crate::Skip::Failed(why.clone())),
                Err(crate::Skip::NotApplicable) => Err(crate::Skip::NotApplicable),
            };
            (w, res)
        })
        .collect()
}
