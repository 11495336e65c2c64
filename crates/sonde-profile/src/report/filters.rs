//! The filters of a [`Config`] applied to a profile, in pprof's order (focus,
//! ignore, hide, show, show_from, tag filters, prune_from, then sonde's
//! user_code), with a warning for each filter that matched nothing.

use super::Config;
use crate::Result;
use crate::filter::{TagFilter, compile_opt};
use crate::model::Profile;

fn warn_no_match(matched: bool, option: &str, warnings: &mut Vec<String>) {
    if !matched {
        warnings.push(format!("{option} expression matched no samples"));
    }
}

/// Applies every filter of `cfg` to `p`, adding a warning for each filter that
/// matched nothing.
///
/// # Errors
/// A regex or tag filter that does not compile, named after its setting.
pub fn apply_filters(p: &mut Profile, cfg: &Config, warnings: &mut Vec<String>) -> Result<()> {
    let focus = compile_opt("focus", &cfg.focus)?;
    let ignore = compile_opt("ignore", &cfg.ignore)?;
    let hide = compile_opt("hide", &cfg.hide)?;
    let show = compile_opt("show", &cfg.show)?;
    let show_from = compile_opt("show_from", &cfg.show_from)?;
    let tagfocus = (!cfg.tagfocus.is_empty())
        .then(|| TagFilter::parse("tagfocus", &cfg.tagfocus, p))
        .transpose()?;
    let tagignore = (!cfg.tagignore.is_empty())
        .then(|| TagFilter::parse("tagignore", &cfg.tagignore, p))
        .transpose()?;
    let prune_from = compile_opt("prune_from", &cfg.prune_from)?;
    let tagshow = compile_opt("tagshow", &cfg.tagshow)?;
    let taghide = compile_opt("taghide", &cfg.taghide)?;

    let m = p.filter_by_name(focus.as_ref(), ignore.as_ref(), hide.as_ref(), show.as_ref());
    warn_no_match(focus.is_none() || m.focus, "Focus", warnings);
    warn_no_match(ignore.is_none() || m.ignore, "Ignore", warnings);
    warn_no_match(hide.is_none() || m.hide, "Hide", warnings);
    warn_no_match(show.is_none() || m.show, "Show", warnings);
    if let Some(re) = &show_from {
        let matched = p.show_from(re);
        warn_no_match(matched, "ShowFrom", warnings);
    }
    for (name, f) in [("tagfocus", &tagfocus), ("tagignore", &tagignore)] {
        if let Some(f) = f.as_ref().filter(|f| f.is_range()) {
            let _ = f;
            let value = if name == "tagfocus" {
                &cfg.tagfocus
            } else {
                &cfg.tagignore
            };
            warnings.push(format!("{name}: interpreted '{value}' as a range, not a regexp"));
        }
    }
    let (tfm, tim) = p.filter_by_tag(tagfocus.as_ref(), tagignore.as_ref());
    warn_no_match(tagfocus.is_none() || tfm, "TagFocus", warnings);
    warn_no_match(tagignore.is_none() || tim, "TagIgnore", warnings);
    if tagshow.is_some() || taghide.is_some() {
        let (sm, hm) = p.filter_labels_by_key(tagshow.as_ref(), taghide.as_ref());
        warn_no_match(tagshow.is_none() || sm, "TagShow", warnings);
        warn_no_match(taghide.is_none() || hm, "TagHide", warnings);
    }
    if let Some(re) = &prune_from {
        p.prune_from(re);
    }
    if cfg.user_code && !p.charge_to_user_code() {
        warnings.push(
            "user_code: no stack has a frame of your own code (frames of std, crates from a registry, \
             system libraries and frames without a source file do not count); build with debug info \
             (`debug = \"limited\"` under `[profile.release]` in Cargo.toml) so sonde can tell your code apart"
                .into(),
        );
    }
    Ok(())
}
