//! What the benchmarks share.

/// A `/proc/self/status` line in MiB: `VmHWM:` (peak resident set) or `VmRSS:` (now). None off
/// Linux.
pub fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
