//! Reading memory: the process's resident set (what the kernel's OOM killer and the
//! container limit count) and the memory available to it (the cgroup limit when there is
//! one, else the machine's), from `/proc` and `/sys/fs/cgroup`. Linux only; elsewhere the
//! readers report nothing and percentage limits cannot be used.

use std::path::Path;

/// Where the memory limiter reads usage from; tests inject their own.
pub trait MemoryReader: Send + Sync + 'static {
    /// Bytes in use now.
    fn used_bytes(&self) -> u64;
}

/// The resident set size from `/proc/self/status` (`VmRSS`): one small file read per check.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessRss;

impl MemoryReader for ProcessRss {
    fn used_bytes(&self) -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| kib_field(&s, "VmRSS:"))
            .unwrap_or(0)
    }
}

/// `Key:   12345 kB` → bytes.
fn kib_field(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kib: u64 = line
        .get(key.len()..)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

/// The memory the process may use: the cgroup (v2 `memory.max`, or v1
/// `memory.limit_in_bytes`) limit when it is below the machine's total, else the total
/// (`/proc/meminfo`). `root` is `/` outside tests.
pub fn total_memory(root: &Path) -> Option<u64> {
    let total = std::fs::read_to_string(root.join("proc/meminfo"))
        .ok()
        .and_then(|s| kib_field(&s, "MemTotal:"));
    let cgroup = cgroup_limit(root);
    match (cgroup, total) {
        (Some(c), Some(t)) => Some(c.min(t)),
        (c, t) => c.or(t),
    }
}

fn read_limit(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    // "max" (v2) means no limit; v1 reports a huge number instead.
    text.trim().parse().ok()
}

fn cgroup_limit(root: &Path) -> Option<u64> {
    // cgroup v2: the process's own group (from /proc/self/cgroup, `0::/path`), then the
    // namespace root (inside a container the group is usually `/`).
    let own = std::fs::read_to_string(root.join("proc/self/cgroup"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("0::")
                    .map(|p| p.trim_start_matches('/').to_owned())
            })
        });
    let v2 = root.join("sys/fs/cgroup");
    if let Some(p) = own.filter(|p| !p.is_empty())
        && let Some(l) = read_limit(&v2.join(p).join("memory.max"))
    {
        return Some(l);
    }
    if let Some(l) = read_limit(&v2.join("memory.max")) {
        return Some(l);
    }
    read_limit(&root.join("sys/fs/cgroup/memory/memory.limit_in_bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("meshtrace-mem-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn total_is_the_cgroup_limit_when_lower() {
        let meminfo = "MemTotal:       24576000 kB\nMemFree:  1 kB\n";
        let r = scratch("v2");
        write(&r, "proc/meminfo", meminfo);
        write(&r, "proc/self/cgroup", "0::/\n");
        write(&r, "sys/fs/cgroup/memory.max", "536870912\n");
        assert_eq!(total_memory(&r), Some(512 << 20));

        let r = scratch("v2-own");
        write(&r, "proc/meminfo", meminfo);
        write(&r, "proc/self/cgroup", "0::/kubepods/pod1/c1\n");
        write(
            &r,
            "sys/fs/cgroup/kubepods/pod1/c1/memory.max",
            "1073741824\n",
        );
        assert_eq!(total_memory(&r), Some(1 << 30));

        let r = scratch("unlimited");
        write(&r, "proc/meminfo", meminfo);
        write(&r, "sys/fs/cgroup/memory.max", "max\n");
        assert_eq!(total_memory(&r), Some(24_576_000 * 1024));

        let r = scratch("v1");
        write(&r, "proc/meminfo", meminfo);
        write(
            &r,
            "sys/fs/cgroup/memory/memory.limit_in_bytes",
            "9223372036854771712\n",
        );
        assert_eq!(
            total_memory(&r),
            Some(24_576_000 * 1024),
            "v1 without a limit"
        );
        write(
            &r,
            "sys/fs/cgroup/memory/memory.limit_in_bytes",
            "268435456\n",
        );
        assert_eq!(total_memory(&r), Some(256 << 20));
        for d in ["v2", "v2-own", "unlimited", "v1"] {
            let _ = std::fs::remove_dir_all(scratch(d));
        }
    }

    #[test]
    fn rss_of_this_process_is_read() {
        // A running test binary uses well over a megabyte.
        assert!(ProcessRss.used_bytes() > 1 << 20);
        assert_eq!(kib_field("VmRSS:\t  2048 kB\n", "VmRSS:"), Some(2 << 20));
    }
}
