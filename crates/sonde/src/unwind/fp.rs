//! Frame-pointer unwinding: follows the chain of saved frame pointers from the
//! interrupted registers. Runs inside the signal handler, so it allocates nothing,
//! takes no lock and reads only stack memory between the stack pointer and the end
//! of the current thread's stack.

use super::Registers;

/// Writes the interrupted pc, then the return address of each frame, into `out`.
/// Returns the number of frames written. Signal-safe.
#[inline]
pub(crate) fn walk(regs: &Registers, stack_end: u64, out: &mut [u64]) -> usize {
    let mut n = 0;
    let mut push = |addr: u64, out: &mut [u64]| -> bool {
        match out.get_mut(n) {
            Some(slot) => {
                *slot = addr;
                n += 1;
                true
            }
            None => false,
        }
    };
    if !push(regs.pc, out) {
        return n;
    }
    #[cfg(target_arch = "aarch64")]
    {
        // A leaf that has not stored its frame record yet returns through lr.
        let first_saved_lr = read(regs.fp.wrapping_add(8), regs.sp, stack_end);
        if regs.lr != 0 && first_saved_lr != Some(regs.lr) && !push(strip(regs.lr), out) {
            return n;
        }
    }
    let mut fp = regs.fp;
    let mut low = regs.sp;
    // A frame record is [saved fp, return address] at fp.
    while let (Some(next), Some(ret)) = (read(fp, low, stack_end), read(fp.wrapping_add(8), low, stack_end)) {
        if ret == 0 || !push(strip(ret), out) {
            break;
        }
        // Frames live at increasing addresses; anything else ends the chain.
        if next <= fp {
            break;
        }
        low = fp.wrapping_add(16);
        fp = next;
    }
    n
}

/// Reads the aligned word at `addr` if it lies within `[low, end)`.
#[inline]
fn read(addr: u64, low: u64, end: u64) -> Option<u64> {
    if addr < low || addr % 8 != 0 || addr.checked_add(8).is_none_or(|e| e > end) {
        return None;
    }
    // SAFETY: `addr` is 8-byte aligned and lies between the interrupted stack
    // pointer and the end of the current thread's stack mapping, memory that is
    // mapped and readable while this thread runs.
    Some(unsafe { std::ptr::read_volatile(addr as *const u64) })
}

/// Removes pointer-authentication bits from a return address.
#[inline]
fn strip(addr: u64) -> u64 {
    if cfg!(target_arch = "aarch64") {
        addr & 0x0000_ffff_ffff_ffff
    } else {
        addr
    }
}
