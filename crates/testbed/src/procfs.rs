//! What the benchmarks read of a function process the Lambda host started: its pid (a child of
//! this process, by executable name) and its peak resident memory.

/// The pid of a live child of this process whose command name is `name` (Linux truncates it
/// to 15 bytes; pass it so). An earlier process that is a zombie until reaped is skipped.
pub fn child_pid(name: &str) -> Option<u32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        // pid (comm) state ppid …
        let (comm, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
        let mut fields = rest.split(' ');
        let (state, ppid) = (fields.next()?, fields.next()?);
        (comm == name && ppid == me && state != "Z").then_some(pid)
    })
}

/// Peak resident set size (`VmHWM`) of `pid` in KiB, 0 when it cannot be read.
pub fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
