//! Who is running: the host and process that own a run or a temporary file,
//! and whether such a process is still alive, so work a killed process left
//! behind can be recognized and cleaned up.

use std::path::Path;

/// This machine's host name (`unknown` when it cannot be read).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// `HOST:PID` of this process.
pub fn owner_id() -> String {
    format!("{}:{}", hostname(), std::process::id())
}

/// Whether the process `pid` of this machine is alive. `None` when this
/// platform cannot tell (no `/proc`): callers then rely on heartbeats alone.
pub fn is_alive(pid: u32) -> Option<bool> {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return None;
    }
    Some(proc.join(pid.to_string()).exists())
}

/// Whether `owner` (`HOST:PID`, as from [`owner_id`]) is a process of this
/// machine known to have ended. Owners on other hosts, malformed ones and
/// platforms without `/proc` give `false`: nothing is known of them.
pub fn owner_has_ended(owner: &str) -> bool {
    let Some((host, pid)) = owner.rsplit_once(':') else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    host == hostname() && is_alive(pid) == Some(false)
}

/// The text a panic was raised with (`panic!("...")`), for error messages.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_finished_one_is_not() {
        assert!(!owner_has_ended(&owner_id()));
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("run `true`");
        let pid = child.id();
        child.wait().expect("wait for `true`");
        assert!(owner_has_ended(&format!("{}:{pid}", hostname())));
        assert!(!owner_has_ended(&format!("some-other-host:{pid}")));
        assert!(!owner_has_ended("no-pid"));
        assert!(!owner_has_ended("host:notanumber"));
    }
}
