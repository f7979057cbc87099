#!/usr/bin/env bash
# A device call sends the working tree (tracked and untracked-not-ignored files), at most
# 64 MiB; results/ alone is about 170 MB. For the call, results/ leaves the index and is
# ignored; after it, it comes back. Nothing under results/ is touched on disk.
#   bash tools/device_tree.sh off    # before the device call: prints what will travel
#   bash tools/device_tree.sh on     # after it (before any commit: a commit in between
#                                    # would record results/ as deleted)
#   bash tools/device_tree.sh status
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
exclude="$(git rev-parse --git-path info/exclude)"
mkdir -p "$(dirname "$exclude")"
travels() {
    git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null \
        | tail -1 | cut -f1
}
case "${1:-status}" in
off)
    if ! git diff --cached --quiet; then
        echo "staged changes: commit or unstage them first" >&2
        exit 1
    fi
    grep -qx '/results/' "$exclude" 2>/dev/null || echo '/results/' >> "$exclude"
    grep -qx '/.gpu/' "$exclude" 2>/dev/null || echo '/.gpu/' >> "$exclude"
    git rm -r -q --cached results
    echo "results/ out of the index for the device call; $(travels) bytes travel"
    ;;
on)
    git reset -q -- results
    sed -i '/^\/results\/$/d' "$exclude"
    if git status --porcelain -- results | grep -q '^D'; then
        echo "results/ still shows deletions: check git status" >&2
        exit 1
    fi
    echo "results/ back in the index"
    ;;
status)
    if grep -qx '/results/' "$exclude" 2>/dev/null; then
        echo "off: results/ is out of the index (run: bash tools/device_tree.sh on)"
    else
        echo "on: $(travels) bytes would travel"
    fi
    ;;
*)
    echo "usage: bash tools/device_tree.sh off|on|status" >&2
    exit 2
    ;;
esac
