//! # sonde-test-support
//!
//! Helpers shared by the tests of sonde's crates, as a dev-dependency; never
//! published.
//!
//! * [`Tool`]: the gate of a test that needs an external program (Go's
//!   toolchain for the interop tests, [`GO`]): the test runs when the program
//!   does, skips with a message when it does not, and fails instead when CI
//!   says the program must be there (`SONDE_REQUIRE_GO=1`, set by `.ci/run`).
//!
//! * [`http`]: a minimal HTTP/1.1 client for tests of servers on 127.0.0.1.
//! * [`webdriver`]: a headless Chromium driven over WebDriver, for the web
//!   UI's tests, gated by [`webdriver::CHROMIUM`] (`SONDE_REQUIRE_CHROMIUM=1`).
//!
//! ```
//! use sonde_test_support::webdriver::CHROMIUM;
//!
//! # fn browser_test() {
//! if !CHROMIUM.available("web_ui_renders_top") {
//!     return; // skipped, and said so
//! }
//! # }
//! ```

#![deny(missing_docs)]

pub mod http;
pub mod webdriver;

use std::process::Command;

/// An external program some tests need.
#[derive(Clone, Copy, Debug)]
pub struct Tool {
    /// The program, as found on `PATH`: `go`.
    pub program: &'static str,
    /// Arguments with which the program only prints its version and succeeds:
    /// `["version"]` for `go`, `["--version"]` for most others.
    pub probe: &'static [&'static str],
    /// The environment variable that, when set, makes the program's absence a
    /// failure rather than a skip: `SONDE_REQUIRE_GO`.
    pub require_var: &'static str,
    /// How to install the program, for the skip message.
    pub install: &'static str,
}

/// Go's toolchain: `go tool pprof` and `go test -bench` are the reference
/// clients of the interop tests.
pub const GO: Tool = Tool {
    program: "go",
    probe: &["version"],
    require_var: "SONDE_REQUIRE_GO",
    install: "apt-get install golang-go",
};

impl Tool {
    /// Whether the program runs, for the test (or check) named `test`. When it
    /// does not: panics if [`Tool::require_var`] is set (CI must not skip),
    /// else prints that `test` is skipped and why, and returns false.
    #[track_caller]
    pub fn available(&self, test: &str) -> bool {
        let runs = Command::new(self.program)
            .args(self.probe)
            .output()
            .is_ok_and(|o| o.status.success());
        if !runs {
            if std::env::var_os(self.require_var).is_some() {
                panic!(
                    "{test}: {} is set but `{}` is not installed",
                    self.require_var, self.program
                );
            }
            eprintln!(
                "SKIPPED {test}: `{}` is not installed ({} to run it; set {} to make this a failure)",
                self.program, self.install, self.require_var
            );
        }
        runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MISSING: Tool = Tool {
        program: "sonde-no-such-program",
        probe: &["--version"],
        require_var: "SONDE_TEST_SUPPORT_REQUIRE_MISSING",
        install: "nothing to install",
    };

    #[test]
    fn a_missing_program_skips() {
        assert!(!MISSING.available("a_missing_program_skips"));
    }

    #[test]
    #[should_panic(expected = "PATH is set but `sonde-no-such-program` is not installed")]
    fn a_required_missing_program_fails() {
        // PATH stands for a require variable that is set (as in CI).
        let required = Tool {
            require_var: "PATH",
            ..MISSING
        };
        required.available("a_required_missing_program_fails");
    }

    #[test]
    fn a_program_that_runs_is_available() {
        let sh = Tool {
            program: "sh",
            probe: &["-c", "exit 0"],
            ..MISSING
        };
        assert!(sh.available("a_program_that_runs_is_available"));
        let failing = Tool {
            program: "sh",
            probe: &["-c", "exit 1"],
            ..MISSING
        };
        assert!(
            !failing.available("a failing probe"),
            "a probe that fails is not a working program"
        );
    }
}
