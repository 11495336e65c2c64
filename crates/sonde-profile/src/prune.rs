//! Pruning stacks, as pprof's `profile/prune.go`: the profile's own
//! `drop_frames` / `keep_frames` expressions ([`Profile::remove_uninteresting`],
//! [`Profile::prune`]) and `prune_from` ([`Profile::prune_from`]).

use std::sync::OnceLock;

use regex::Regex;

use crate::Result;
use crate::filter::compile;
use crate::model::Profile;

impl Profile {
    /// Applies the profile's own `drop_frames` / `keep_frames` expressions.
    pub fn remove_uninteresting(&mut self) -> Result<()> {
        if self.drop_frames.is_empty() {
            return Ok(());
        }
        let drop = compile("drop_frames", &format!("^({})$", self.drop_frames))?;
        let keep = if self.keep_frames.is_empty() {
            None
        } else {
            Some(compile("keep_frames", &format!("^({})$", self.keep_frames))?)
        };
        self.prune(&drop, keep.as_ref());
        Ok(())
    }

    /// Removes frames matching `drop` (unless they match `keep`) together with
    /// everything they called, keeping the frames up to the first user frame.
    pub fn prune(&mut self, drop: &Regex, keep: Option<&Regex>) {
        let n = self.locations.len();
        let (mut prune, mut prune_beneath) = (vec![false; n], vec![false; n]);
        let mut locations = std::mem::take(&mut self.locations);
        for (i, loc) in locations.iter_mut().enumerate() {
            let hit = loc.lines.iter().rposition(|l| {
                let name = &self.functions[l.function as usize].name;
                if name.is_empty() {
                    return false;
                }
                let name = simplify_func(name);
                drop.is_match(name) && keep.is_none_or(|k| !k.is_match(name))
            });
            if let Some(j) = hit {
                prune_beneath[i] = true;
                if j == loc.lines.len() - 1 {
                    prune[i] = true;
                } else {
                    loc.lines.drain(..=j);
                }
            }
        }
        self.locations = locations;
        for s in &mut self.samples {
            let mut found_user = false;
            for i in (0..s.locations.len()).rev() {
                let id = s.locations[i] as usize;
                if !prune[id] && !prune_beneath[id] {
                    found_user = true;
                    continue;
                }
                if !found_user {
                    continue;
                }
                if prune[id] {
                    s.locations.drain(..=i);
                } else {
                    s.locations.drain(..i);
                }
                break;
            }
        }
    }

    /// Removes the frames below (called by) the lowest frame matching `re`.
    pub fn prune_from(&mut self, re: &Regex) {
        let mut prune_beneath = vec![false; self.locations.len()];
        let mut locations = std::mem::take(&mut self.locations);
        for (i, loc) in locations.iter_mut().enumerate() {
            let hit = loc.lines.iter().position(|l| {
                let name = &self.functions[l.function as usize].name;
                !name.is_empty() && re.is_match(simplify_func(name))
            });
            if let Some(j) = hit {
                prune_beneath[i] = true;
                loc.lines.drain(..j);
            }
        }
        self.locations = locations;
        for s in &mut self.samples {
            if let Some(i) = s.locations.iter().position(|&l| prune_beneath[l as usize]) {
                s.locations.drain(..i);
            }
        }
    }
}

/// Strips an argument list from a function name (`f(int)` becomes `f`), except for
/// names such as `operator()` whose parentheses are part of the name.
fn simplify_func(f: &str) -> &str {
    static RX: OnceLock<Regex> = OnceLock::new();
    let rx = RX.get_or_init(|| Regex::new(r"\(anonymous namespace\)|operator\(\)|\(").expect("static regex"));
    let name = f.strip_prefix('.').unwrap_or(f);
    for m in rx.find_iter(name) {
        if m.as_str() == "(" {
            return &name[..m.start()];
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simplify_keeps_reserved_parentheses() {
        assert_eq!(simplify_func("foo(int)"), "foo");
        assert_eq!(simplify_func("ns::operator()(int)"), "ns::operator()");
        assert_eq!(simplify_func("(anonymous namespace)::f(x)"), "(anonymous namespace)::f");
        assert_eq!(simplify_func(".main"), "main");
    }
}
