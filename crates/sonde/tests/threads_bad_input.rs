//! The thread profile's faults: another component owns its signal (a clear
//! error, their handler untouched); a profile taken from a panic hook works;
//! bad options are refused with what to use instead.

extern "C" fn someone_elses_handler(_: libc::c_int) {}

fn sigrtmin_plus_6() -> libc::c_int {
    libc::SIGRTMIN() + 6
}

#[test]
fn faults_give_clear_results() {
    // SAFETY: installs a trivial handler; a zeroed sigaction is valid.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = someone_elses_handler as *const () as usize;
    assert_eq!(
        unsafe { libc::sigaction(sigrtmin_plus_6(), &sa, std::ptr::null_mut()) },
        0
    );
    let err = sonde::threads::profile().expect_err("the signal is taken");
    assert!(
        matches!(
            err,
            sonde::Error::SignalHandlerInUse {
                signal: "SIGRTMIN+6",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("another SIGRTMIN+6 handler"), "{err}");
    // SAFETY: reads the current action.
    let mut now: libc::sigaction = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::sigaction(sigrtmin_plus_6(), std::ptr::null(), &mut now) },
        0
    );
    assert_eq!(
        now.sa_sigaction, someone_elses_handler as *const () as usize,
        "theirs stays"
    );

    // Given back, the profile works, from a panic hook too.
    // SAFETY: restores the default action.
    let mut dfl: libc::sigaction = unsafe { std::mem::zeroed() };
    dfl.sa_sigaction = libc::SIG_DFL;
    assert_eq!(
        unsafe { libc::sigaction(sigrtmin_plus_6(), &dfl, std::ptr::null_mut()) },
        0
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    std::panic::set_hook(Box::new(move |_| {
        let threads = sonde::threads::text(1).map(|t| t.lines().next().unwrap_or_default().to_string());
        let _ = tx.lock().map(|tx| tx.send(threads));
    }));
    let _ = std::thread::spawn(|| panic!("to run the hook")).join();
    let _ = std::panic::take_hook();
    let first = rx
        .recv()
        .expect("the hook ran")
        .expect("a thread profile from a panic hook");
    assert!(first.starts_with("goroutine profile: total "), "{first}");

    let err = sonde::threads::text(0).expect_err("debug=0 is the protobuf profile");
    assert!(err.to_string().contains("debug=1 or debug=2"), "{err}");
    let err = sonde::threads::wall_profile(std::time::Duration::from_millis(10), 0).expect_err("0 Hz");
    assert!(err.to_string().contains("1 to 1000"), "{err}");
}
