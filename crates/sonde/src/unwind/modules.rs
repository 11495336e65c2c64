//! The binaries loaded in this process (the executable, shared libraries, the
//! vDSO): where their code is, their unwind tables (`.eh_frame_hdr` and
//! `.eh_frame`, read from memory), and their build ids. Enumerated with
//! `dl_iterate_phdr`, outside any signal handler.

use std::ffi::CStr;
use std::ops::Range;

/// One loaded object.
#[derive(Clone, Debug)]
pub(crate) struct LoadedModule {
    /// Path of the file (the executable's real path for the main program), or a
    /// pseudo name such as `[vdso]`.
    pub path: String,
    /// Load bias: runtime address = file virtual address + bias.
    pub bias: u64,
    /// Runtime address range of the executable segments.
    pub text: Range<u64>,
    /// File offset of the first executable segment (for pprof's `Mapping`).
    pub file_offset: u64,
    /// Runtime address range of `.eh_frame_hdr`, if the module has one.
    pub eh_frame_hdr: Option<Range<u64>>,
    /// Runtime address range from the start of `.eh_frame` to the end of the
    /// segment holding it (the section's exact end is not recorded in memory).
    pub eh_frame: Option<Range<u64>>,
    /// The GNU build id, if present.
    pub build_id: Vec<u8>,
    /// Whether the module is backed by a file we can read symbols from.
    pub has_file: bool,
}

impl LoadedModule {
    /// The build id as lowercase hex, as pprof writes it.
    pub fn build_id_hex(&self) -> String {
        self.build_id.iter().map(|b| format!("{b:02x}")).collect()
    }
}

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const PT_GNU_EH_FRAME: u32 = 0x6474_e550;
const PF_X: u32 = 1;
const NT_GNU_BUILD_ID: u32 = 3;

/// Enumerates the loaded objects, main program first.
pub(crate) fn loaded_modules() -> Vec<LoadedModule> {
    let mut out: Vec<LoadedModule> = Vec::new();
    // SAFETY: dl_iterate_phdr calls `collect` synchronously with valid
    // `dl_phdr_info` pointers; `data` points at `out`, which outlives the call.
    // Inside the gate that fork() waits for: glibc's lock for this call is
    // not fork-safe (see `crate::fork`). The listing's own allocations are
    // counted but never sampled: a sample would capture a stack, whose first
    // use lists the modules again, inside this gate, which is not reentrant.
    crate::alloc::busy(false, || {
        crate::fork::MODULES.with(|| unsafe {
            libc::dl_iterate_phdr(Some(collect), (&mut out as *mut Vec<LoadedModule>).cast());
        })
    });
    // A program whose file was replaced while it runs (an upgrade in place, a
    // rebuild) is `… (deleted)`: its symbols are read through /proc/self/exe,
    // which still opens the file the process runs.
    let exe = std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .ok()
        .filter(|p| !p.ends_with(" (deleted)"))
        .unwrap_or_else(|| "/proc/self/exe".into());
    for (i, m) in out.iter_mut().enumerate() {
        if i == 0 && m.path.is_empty() {
            m.path = exe.clone();
            m.has_file = true;
        } else if m.path.contains("linux-vdso") || m.path.contains("linux-gate") {
            m.path = "[vdso]".into();
            m.has_file = false;
        } else if m.path.is_empty() {
            m.path = "[anon]".into();
            m.has_file = false;
        }
    }
    out
}

unsafe extern "C" fn collect(info: *mut libc::dl_phdr_info, _size: usize, data: *mut libc::c_void) -> libc::c_int {
    // SAFETY: called by dl_iterate_phdr with a valid `info`; `data` is the
    // `Vec<LoadedModule>` passed by `loaded_modules`.
    let (info, out) = unsafe { (&*info, &mut *(data as *mut Vec<LoadedModule>)) };
    let bias = info.dlpi_addr;
    let path = if info.dlpi_name.is_null() {
        String::new()
    } else {
        // SAFETY: dlpi_name is a NUL-terminated string owned by the loader.
        unsafe { CStr::from_ptr(info.dlpi_name) }.to_string_lossy().into_owned()
    };
    // SAFETY: dlpi_phdr points to dlpi_phnum program headers.
    let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
    let mut text: Option<Range<u64>> = None;
    let mut file_offset = 0;
    let mut hdr: Option<Range<u64>> = None;
    let mut build_id = Vec::new();
    for ph in phdrs {
        let start = bias.wrapping_add(ph.p_vaddr);
        let range = start..start.wrapping_add(ph.p_memsz);
        match ph.p_type {
            PT_LOAD if ph.p_flags & PF_X != 0 => {
                if text.is_none() {
                    file_offset = ph.p_offset;
                }
                text = Some(match text {
                    Some(t) => t.start.min(range.start)..t.end.max(range.end),
                    None => range,
                });
            }
            PT_GNU_EH_FRAME => hdr = Some(range),
            PT_NOTE if build_id.is_empty() => {
                // SAFETY: a PT_NOTE segment of a loaded object is mapped and readable.
                let notes = unsafe { std::slice::from_raw_parts(start as *const u8, ph.p_memsz as usize) };
                build_id = find_build_id(notes).unwrap_or_default();
            }
            _ => {}
        }
    }
    let Some(text) = text else { return 0 };
    let eh_frame = hdr.as_ref().and_then(|h| {
        // SAFETY: the header lies in a loaded, readable segment of this module.
        let hdr_bytes = unsafe { std::slice::from_raw_parts(h.start as *const u8, (h.end - h.start) as usize) };
        let start = eh_frame_start(hdr_bytes, h.start)?;
        // Bound the section by the end of the loaded segment that contains it.
        let end = phdrs
            .iter()
            .filter(|ph| ph.p_type == PT_LOAD)
            .map(|ph| bias.wrapping_add(ph.p_vaddr)..bias.wrapping_add(ph.p_vaddr).wrapping_add(ph.p_memsz))
            .find(|r| r.contains(&start))?
            .end;
        Some(start..end)
    });
    out.push(LoadedModule {
        path,
        bias,
        text,
        file_offset,
        eh_frame_hdr: hdr,
        eh_frame,
        build_id,
        has_file: true,
    });
    0
}

/// Finds the `NT_GNU_BUILD_ID` note in a notes segment.
fn find_build_id(mut notes: &[u8]) -> Option<Vec<u8>> {
    let word = |b: &[u8], i: usize| -> Option<u32> { Some(u32::from_ne_bytes(b.get(i..i + 4)?.try_into().ok()?)) };
    let align4 = |n: usize| (n + 3) & !3;
    while notes.len() >= 12 {
        let (namesz, descsz, ty) = (word(notes, 0)? as usize, word(notes, 4)? as usize, word(notes, 8)?);
        let name_end = 12 + align4(namesz);
        let desc_end = name_end + align4(descsz);
        if desc_end > notes.len() {
            return None;
        }
        if ty == NT_GNU_BUILD_ID && namesz == 4 && &notes[12..16] == b"GNU\0" {
            return Some(notes[name_end..name_end + descsz].to_vec());
        }
        notes = &notes[desc_end..];
    }
    None
}

/// Reads the address of `.eh_frame` from the `.eh_frame_hdr` header at `hdr_addr`.
fn eh_frame_start(hdr: &[u8], hdr_addr: u64) -> Option<u64> {
    if hdr.len() < 8 || hdr[0] != 1 {
        return None;
    }
    let enc = hdr[1];
    let field_addr = hdr_addr + 4;
    let raw = &hdr[4..];
    let value: i64 = match enc & 0x0f {
        0x00 | 0x04 => u64::from_ne_bytes(raw.get(..8)?.try_into().ok()?) as i64,
        0x03 => u32::from_ne_bytes(raw.get(..4)?.try_into().ok()?) as i64,
        0x0b => i32::from_ne_bytes(raw.get(..4)?.try_into().ok()?) as i64,
        0x0c => i64::from_ne_bytes(raw.get(..8)?.try_into().ok()?),
        _ => return None,
    };
    match enc & 0x70 {
        0x00 => Some(value as u64),
        0x10 => Some(field_addr.wrapping_add(value as u64)),
        0x30 => Some(hdr_addr.wrapping_add(value as u64)),
        _ => None,
    }
}

/// The module whose code contains `addr`, if any (modules sorted by text start).
pub(crate) fn module_for(modules: &[LoadedModule], addr: u64) -> Option<usize> {
    modules.iter().position(|m| m.text.contains(&addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_this_executable_with_unwind_tables_and_build_id() {
        let mods = loaded_modules();
        let main = &mods[0];
        let here = finds_this_executable_with_unwind_tables_and_build_id as *const () as usize as u64;
        assert!(main.text.contains(&here), "{main:?} should contain {here:#x}");
        assert!(main.eh_frame_hdr.is_some() && main.eh_frame.is_some(), "{main:?}");
        assert!(!main.build_id.is_empty(), "rustc links with a build id: {main:?}");
        assert!(mods.iter().any(|m| m.path.contains("libc")), "{mods:?}");
        assert_eq!(module_for(&mods, here), Some(0));
    }

    #[test]
    fn parses_build_id_notes() {
        let mut notes = Vec::new();
        notes.extend_from_slice(&4u32.to_ne_bytes());
        notes.extend_from_slice(&3u32.to_ne_bytes());
        notes.extend_from_slice(&NT_GNU_BUILD_ID.to_ne_bytes());
        notes.extend_from_slice(b"GNU\0");
        notes.extend_from_slice(&[0xab, 0xcd, 0xef, 0]);
        assert_eq!(find_build_id(&notes), Some(vec![0xab, 0xcd, 0xef]));
    }
}
