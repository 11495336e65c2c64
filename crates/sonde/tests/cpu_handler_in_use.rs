//! Another SIGPROF handler is already installed: starting fails with a clear
//! error and the other handler stays in place.

extern "C" fn someone_elses_handler(_: libc::c_int) {}

#[test]
fn refuses_to_replace_another_handler() {
    // SAFETY: installs a trivial handler; zeroed sigaction is valid.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = someone_elses_handler as *const () as usize;
    assert_eq!(unsafe { libc::sigaction(libc::SIGPROF, &sa, std::ptr::null_mut()) }, 0);

    let err = sonde::cpu::start(sonde::cpu::CpuOptions::default())
        .err()
        .expect("start must fail");
    assert!(matches!(err, sonde::Error::SignalHandlerInUse { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("another SIGPROF handler") && msg.contains("will not replace it"),
        "{msg}"
    );

    // SAFETY: reads the current action.
    let mut now: libc::sigaction = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::sigaction(libc::SIGPROF, std::ptr::null(), &mut now) }, 0);
    assert_eq!(
        now.sa_sigaction, someone_elses_handler as *const () as usize,
        "the other handler is untouched"
    );

    // Bad options are refused before anything is touched.
    let err = sonde::cpu::start(sonde::cpu::CpuOptions::default().frequency(0))
        .err()
        .expect("bad frequency");
    assert!(err.to_string().contains("between 1 and 10000 Hz"), "{err}");
}
