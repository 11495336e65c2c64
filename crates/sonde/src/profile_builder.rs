//! The one profile builder every collector must use: raw stacks in, a pprof
//! profile's locations, functions and mappings out. Each address becomes a
//! symbolized location (inlined frames expanded), each loaded binary a mapping
//! with its file name and build id, so every kind of profile names code the
//! same way. A collector sets its sample types and pushes its samples; it never
//! builds locations itself.

use std::collections::HashMap;
use std::sync::Arc;

use sonde_profile::{Function, Line, Location, Mapping, Profile, Str};

use crate::symbolize::{self, SourceFrame};
use crate::unwind::modules::{LoadedModule, module_for};

/// Nanoseconds since the Unix epoch at `t` (a profile's `time_nanos`); 0
/// before the epoch.
pub(crate) fn unix_nanos(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// A profile under construction: collectors add stacks (as location indexes)
/// and samples to it.
pub(crate) struct ProfileBuilder<'a> {
    /// The profile being built; collectors set its sample types and samples.
    pub p: Profile,
    modules: &'a [LoadedModule],
    blocklist: &'a [String],
    /// Leading frames (leaf side) whose function contains one of these, or whose
    /// source file starts with one, are dropped: the collector's own frames. With a non-empty list, leading frames
    /// of Rust's standard library are dropped too, as Go hides `runtime.` frames
    /// above the first user frame.
    skip_leaf: &'a [&'a str],
    trimmed: HashMap<(u64, usize), Option<u32>>,
    functions: HashMap<Function, u32>,
    mappings: HashMap<usize, u32>,
    locations: HashMap<u64, Option<u32>>,
    synthetic: HashMap<&'static str, u32>,
}

impl<'a> ProfileBuilder<'a> {
    /// Starts a profile over the given modules; the main binary becomes the first
    /// mapping, as pprof expects.
    pub(crate) fn new(
        p: Profile,
        modules: &'a [LoadedModule],
        blocklist: &'a [String],
        skip_leaf: &'a [&'a str],
    ) -> Self {
        let mut t = ProfileBuilder {
            p,
            modules,
            blocklist,
            skip_leaf,
            functions: HashMap::new(),
            mappings: HashMap::new(),
            locations: HashMap::new(),
            trimmed: HashMap::new(),
            synthetic: HashMap::new(),
        };
        if !modules.is_empty() {
            t.mapping(0);
        }
        t
    }

    /// The location indexes of a stack (pc first, then return addresses), leaf
    /// first, without blocklisted frames and without the collector's own leading
    /// frames.
    pub(crate) fn stack(&mut self, frames: &[u64]) -> Vec<u32> {
        let mut locs = Vec::with_capacity(frames.len());
        let mut leading = true;
        for (i, &addr) in frames.iter().enumerate() {
            // Return addresses point after the call; look up the call itself.
            let lookup = if i == 0 { addr } else { addr.wrapping_sub(1) };
            if leading && !self.skip_leaf.is_empty() {
                let (_, frames) = self.frames_of(lookup);
                // The collector's own functions, whatever was inlined into them.
                if frames
                    .last()
                    .is_some_and(|f| self.skip_leaf.iter().any(|s| f.function.contains(s)))
                {
                    continue;
                }
                let hidden = frames.iter().take_while(|f| self.hidden(f)).count();
                if hidden > 0 && hidden == frames.len() {
                    continue;
                }
                leading = false;
                if hidden > 0 {
                    if let Some(l) = self.location_without(lookup, hidden) {
                        locs.push(l);
                    }
                    continue;
                }
            }
            if let Some(l) = self.location(lookup) {
                locs.push(l);
            }
        }
        locs
    }

    fn frames_of(&self, addr: u64) -> (Option<usize>, Arc<[SourceFrame]>) {
        let m = module_for(self.modules, addr);
        let frames = match m {
            Some(m) if self.modules[m].has_file => {
                let module = &self.modules[m];
                symbolize::resolve(&module.path, &module.build_id, addr - module.bias)
            }
            _ => Arc::from(Vec::new()),
        };
        (m, frames)
    }

    /// Whether a leading frame is hidden: the collector's own, or Rust's standard
    /// library (by source path, or by full name for not-inlined frames).
    fn hidden(&self, f: &SourceFrame) -> bool {
        const STD: [&str; 6] = ["alloc::", "core::", "std::", "<alloc::", "<core::", "<std::"];
        self.skip_leaf
            .iter()
            .any(|s| f.function.contains(s) || f.file.starts_with(s))
            || f.file.starts_with("/rustc/")
            || STD.iter().any(|p| f.function.starts_with(p))
    }

    /// The location of `addr` without its `hidden` innermost (inlined) frames.
    fn location_without(&mut self, addr: u64, hidden: usize) -> Option<u32> {
        if let Some(&l) = self.trimmed.get(&(addr, hidden)) {
            return l;
        }
        let (m, frames) = self.frames_of(addr);
        let i = self.push_location(addr, m, frames[hidden..].iter());
        self.trimmed.insert((addr, hidden), Some(i));
        Some(i)
    }

    fn mapping(&mut self, m: usize) -> u32 {
        if let Some(&i) = self.mappings.get(&m) {
            return i;
        }
        let lm = &self.modules[m];
        let i = self.p.mappings.len() as u32;
        self.p.mappings.push(Mapping {
            memory_start: lm.text.start,
            memory_limit: lm.text.end,
            file_offset: lm.file_offset,
            filename: Str::from(lm.path.as_str()),
            build_id: Str::from(lm.build_id_hex()),
            has_functions: lm.has_file,
            has_filenames: lm.has_file,
            has_line_numbers: lm.has_file,
            has_inline_frames: lm.has_file,
        });
        self.mappings.insert(m, i);
        i
    }

    fn function(&mut self, f: &SourceFrame) -> u32 {
        let key = Function {
            name: Str::from(f.function.as_str()),
            system_name: Str::from(f.system_name.as_str()),
            filename: Str::from(f.file.as_str()),
            start_line: 0,
        };
        if let Some(&i) = self.functions.get(&key) {
            return i;
        }
        let i = self.p.functions.len() as u32;
        self.p.functions.push(key.clone());
        self.functions.insert(key, i);
        i
    }

    /// The location of a frame that stands for no code, only for something the
    /// collector knows (`[sonde: …]`): no mapping, no address, one function of
    /// that name.
    pub(crate) fn synthetic(&mut self, name: &'static str) -> u32 {
        if let Some(&l) = self.synthetic.get(name) {
            return l;
        }
        let frame = SourceFrame {
            function: name.to_string(),
            ..SourceFrame::default()
        };
        let l = self.push_location(0, None, std::iter::once(&frame));
        self.synthetic.insert(name, l);
        l
    }

    /// The location of `addr`, or `None` when every frame of it is blocklisted.
    fn location(&mut self, addr: u64) -> Option<u32> {
        if let Some(&l) = self.locations.get(&addr) {
            return l;
        }
        let (m, frames) = self.frames_of(addr);
        let kept: Vec<&SourceFrame> = frames
            .iter()
            .filter(|f| !self.blocklist.iter().any(|b| f.function.starts_with(b.as_str())))
            .collect();
        let result = if !frames.is_empty() && kept.is_empty() {
            None
        } else {
            Some(self.push_location(addr, m, kept.into_iter()))
        };
        self.locations.insert(addr, result);
        result
    }

    /// Adds the location of `addr` in module `m` with `frames` as its lines
    /// (innermost first); returns its index.
    fn push_location<'f>(&mut self, addr: u64, m: Option<usize>, frames: impl Iterator<Item = &'f SourceFrame>) -> u32 {
        let lines = frames
            .map(|f| Line {
                function: self.function(f),
                line: f.line as i64,
                column: 0,
            })
            .collect();
        let mapping = m.map(|m| self.mapping(m));
        let i = self.p.locations.len() as u32;
        self.p.locations.push(Location {
            mapping,
            address: addr,
            lines,
            is_folded: false,
        });
        i
    }
}

/// The name of the function at `addr` (a runtime address; the innermost of
/// its inlined frames), for remote symbolization (`/debug/pprof/symbol`).
/// Call quietly: symbols are loaded on first use and cached.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn function_at(modules: &[LoadedModule], addr: u64) -> Option<String> {
    let m = &modules[crate::unwind::modules::module_for(modules, addr)?];
    if !m.has_file {
        return None;
    }
    let frames = symbolize::resolve(&m.path, &m.build_id, addr.wrapping_sub(m.bias));
    frames.first().map(|f| f.function.clone())
}
