# Shared by the A/B scripts (bench/*-ab.sh): a git worktree of an earlier
# commit under target/bench, removed again when the script exits.
# Usage (sourced): ab_old_tree REV  -> sets $old_tree, prints both commits.
ab_old_tree() {
  local rev=$1
  old_tree=$work/ab-old-src
  if [ ! -d "$old_tree" ]; then
    git -C "$root" worktree add --detach -q "$old_tree" "$rev"
  else
    git -C "$old_tree" checkout -q --detach "$rev"
  fi
  trap 'git -C "$root" worktree remove --force "$old_tree" 2>/dev/null || true' EXIT
  echo "old: $(git -C "$old_tree" log -1 --format='%h %s' | cut -c1-80)"
  echo "new: working tree of $(git -C "$root" log -1 --format='%h %s' | cut -c1-80)"
}

# The median of the numbers on standard input, one per line.
ab_median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
