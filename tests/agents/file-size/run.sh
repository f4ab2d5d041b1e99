#!/bin/sh
# Each uploaded file's path (from the stdin manifest; server-chosen names under /tmp/uploads,
# one per line here) and size, read with stat: the file itself is never read.
printf '{"files": ['
sep=''
grep -o '"path": *"[^"]*"' | sed 's/^"path": *"\(.*\)"$/\1/' | {
    while IFS= read -r p; do
        printf '%s{"path": "%s", "size": %s}' "$sep" "$p" "$(stat -c %s "$p")"
        sep=', '
    done
    printf ']}\n'
}
