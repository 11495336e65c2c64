//! fork() with an agent running: the child has the handle but not the agent's
//! thread. Dropping the handle in the child must neither wait for that thread
//! nor take a lock it may have held at the fork; the parent's agent goes on
//! and stops as usual. A child that does not exit within its bound has hung,
//! is killed, and fails the test.

use std::time::{Duration, Instant};

use sonde::agent::{self, LocalStore};

#[test]
fn a_forked_child_drops_the_handle_without_waiting() {
    let dir = std::env::temp_dir().join(format!("sonde-agent-fork-{}", std::process::id()));
    let agent = agent::builder("fork-test")
        .every("goroutine", Duration::from_millis(100))
        .sink(LocalStore::new(&dir))
        .start()
        .expect("start");
    std::thread::sleep(Duration::from_millis(200));
    for _ in 0..5 {
        // SAFETY: the child only reads stats, drops the handle and calls _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let _ = agent.stats();
            drop(agent);
            // SAFETY: ends the child without running the parent's test harness.
            unsafe { libc::_exit(0) };
        }
        let t = Instant::now();
        let mut status = 0;
        loop {
            // SAFETY: waits for the child this loop forked.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                break;
            }
            if t.elapsed() > Duration::from_secs(20) {
                // SAFETY: kills the hung child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                panic!("the child hung dropping the agent's handle");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "status {status}"
        );
        std::thread::sleep(Duration::from_millis(30));
    }
    // The parent's agent goes on after the children dropped their handles:
    // it collects again (however slowly a busy machine lets it).
    let count = |a: &agent::AgentHandle| a.stats().collected.get("goroutine").copied().unwrap_or(0);
    let after_forks = count(&agent);
    let t = Instant::now();
    while count(&agent) <= after_forks {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the agent stopped collecting: {:?}",
            agent.stats()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let stats = agent.stop();
    assert_eq!(stats.sinks[0].dropped, 0);
    let _ = std::fs::remove_dir_all(&dir);
}
