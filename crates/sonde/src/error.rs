//! The runtime's errors: what can go wrong when a profile is started, stopped or
//! taken. Each names the problem; none loses data already collected.

/// Errors of the runtime profilers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A profile of this kind is already running in the process (one CPU
    /// profile at a time, as Go's `StartCPUProfile`).
    #[error("a {kind} profile is already running in this process; stop it before starting another")]
    AlreadyRunning {
        /// The kind, as the message names it: `CPU`.
        kind: &'static str,
    },
    /// A thread-stack capture (a thread or wall-clock profile) waited this long
    /// for the captures other threads of the program asked for at the same
    /// time, one at a time.
    #[error(
        "other threads of this program kept capturing thread stacks for {waited:?} (one capture runs at a \
         time); try again, or take thread profiles from one place"
    )]
    CaptureBusy {
        /// How long it waited.
        waited: std::time::Duration,
    },
    /// Another component installed a handler for the signal sonde needs
    /// (SIGPROF for the CPU profile, `SIGRTMIN+6` for thread stacks), which
    /// sonde leaves alone.
    #[error(
        "another {signal} handler is installed (at {handler:#x}), and sonde will not replace it; stop the \
         other component that uses it (for SIGPROF: pprof-rs, gperftools, a setitimer user) or profile in \
         another process"
    )]
    SignalHandlerInUse {
        /// The signal, as the message names it: `SIGPROF`.
        signal: &'static str,
        /// Address of the installed handler.
        handler: usize,
    },
    /// Installing a signal handler failed.
    #[error("installing a signal handler failed: {0}")]
    Signal(std::io::Error),
    /// Creating or arming a per-thread timer failed.
    #[error("creating the per-thread CPU timers failed: {0}")]
    Timer(std::io::Error),
    /// No profile kind has this name (see [`profiles::kinds`](crate::profiles::kinds)).
    #[error("no profile kind named {name:?}; this build has: {known}")]
    UnknownKind {
        /// The name asked for.
        name: String,
        /// The kinds this build has, comma-separated.
        known: String,
    },
    /// A parameter a profile kind needs is missing, or one it does not take was
    /// given (see [`profiles::Params`](crate::profiles::Params)).
    #[error("the {kind:?} profile {problem}")]
    Parameter {
        /// The kind's name.
        kind: &'static str,
        /// What is wrong, as the message says it.
        problem: &'static str,
    },
    /// An option value out of range.
    #[error("{0}")]
    InvalidOption(String),
    /// This platform is not supported.
    #[error("CPU profiling is supported on Linux (x86_64 and aarch64) only")]
    Unsupported,
    /// The profile was started before `fork()` and cannot be stopped in the child.
    #[error("this profile was started in the parent process before fork(); stop it in the parent")]
    Forked,
    /// Reading information about the process failed.
    #[error("reading process information: {0}")]
    Io(#[from] std::io::Error),
    /// The collector thread stopped unexpectedly.
    #[error("the profiler's collector thread stopped unexpectedly")]
    Collector,
    /// The `/debug/pprof` server could not listen on its address.
    #[error(
        "the /debug/pprof server cannot listen on {addr}: {source}; choose another address (\"127.0.0.1:0\" picks a free port)"
    )]
    Listen {
        /// The address as given.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// Two profiles of one kind could not be subtracted (a delta profile).
    #[error("computing the delta profile failed: {0}")]
    Delta(sonde_profile::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn already_running_names_the_kind() {
        assert_eq!(
            Error::AlreadyRunning { kind: "CPU" }.to_string(),
            "a CPU profile is already running in this process; stop it before starting another"
        );
    }
}
