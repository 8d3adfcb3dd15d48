#!/bin/sh
# Renders every diagram here: NAME.dot -> NAME.svg, with Graphviz's dot.
# Box sizes follow the fonts' real widths, so render with the fonts the
# sources name installed: DejaVu Sans (Latin) and Noto Sans CJK SC (the
# .zh-CN diagrams).
set -eu
cd "$(dirname "$0")"
if ! command -v dot >/dev/null 2>&1; then
    echo "render.sh: dot not found: install Graphviz (Debian/Ubuntu: apt-get install graphviz fonts-dejavu fonts-noto-cjk; macOS: brew install graphviz)" >&2
    exit 1
fi
for src in *.dot; do
    dot -Tsvg "$src" -o "${src%.dot}.svg"
    echo "${src%.dot}.svg"
done
