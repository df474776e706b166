//! Reading this OS process's memory and CPU use from /proc (no libc).

use std::fs;

/// Resident set size in KiB (`VmRSS` in /proc/self/status).
pub fn vm_rss_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// User + system CPU time of the whole process, in clock ticks
/// (/proc/self/stat fields 14 and 15; 100 ticks a second on Linux).
pub fn cpu_ticks() -> u64 {
    let stat = fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) may hold spaces; fields after it follow ')'.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3, so field 14 is index 11.
    let utime: u64 = fields.get(11).and_then(|f| f.parse().ok()).unwrap_or(0);
    let stime: u64 = fields.get(12).and_then(|f| f.parse().ok()).unwrap_or(0);
    utime + stime
}

/// Nanoseconds on CPU of every thread of this process but `exclude`
/// (first field of /proc/self/task/*/schedstat); `None` without schedstat,
/// or where the kernel keeps none and every thread reads 0.
pub fn task_cpu_ns(exclude: u32) -> Option<u64> {
    let mut total = 0u64;
    for entry in fs::read_dir("/proc/self/task").ok()? {
        let entry = entry.ok()?;
        if entry.file_name().to_str() == Some(&exclude.to_string()) {
            continue;
        }
        let text = fs::read_to_string(entry.path().join("schedstat")).ok()?;
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    (total > 0).then_some(total)
}
