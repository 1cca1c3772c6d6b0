#!/usr/bin/env bash
# screenshot-html.sh — render a firebreak HTML export or scorecard in headless Chromium, to
# check by eye that it is one self-contained page that reads well on screen and on paper.
#
# Usage:
#   scripts/screenshot-html.sh PAGE.html [OUT.png]
#
# Writes OUT.png (default: PAGE.png beside the page), a 1280 px wide screenshot, and
# OUT.pdf, the page as Chromium prints it (A4/Letter per the system locale, print CSS applied).
#
# Make a page to look at:
#   firebreak drill run compromised-dev-key --html card.html
#   TEMPORAL_ADDRESS=127.0.0.1:7233 firebreak audit export WORKFLOW_ID --format html -o run.html
#
# Needs Chromium, which this script does not install. On Debian or Ubuntu:
#   sudo apt-get install chromium        # Debian; on Ubuntu the package may be chromium-browser
# or set CHROMIUM to the path of a Chromium or Chrome binary. Chromium is run with no network
# access to anything but the page's own file: a page that needs more is not self-contained.
#
# Exit codes: 0 rendered; 1 the page is not self-contained or Chromium failed; 2 bad usage;
# 3 Chromium is not installed.
set -euo pipefail

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[[ $# -ge 1 && $# -le 2 && $1 != -h && $1 != --help ]] || usage
page=$1
[[ -f $page ]] || { echo "screenshot-html: $page: no such file" >&2; exit 2; }
out=${2:-${page%.html}.png}
pdf=${out%.png}.pdf

# A self-contained page loads nothing: no scripts, no external style sheets, images or fonts.
if grep -Eiq '<script|<link[^>]+href=|src=|url\(|@import' "$page"; then
	echo "screenshot-html: $page is not self-contained: it loads scripts, style sheets or images" >&2
	grep -Ein '<script|<link[^>]+href=|src=|url\(|@import' "$page" | head -5 >&2
	exit 1
fi

browser=${CHROMIUM:-}
if [[ -z $browser ]]; then
	for b in chromium chromium-browser google-chrome-stable google-chrome chrome headless_shell; do
		if command -v "$b" >/dev/null 2>&1; then
			browser=$(command -v "$b")
			break
		fi
	done
fi
if [[ -z $browser || ! -x $browser ]]; then
	cat >&2 <<'MSG'
screenshot-html: Chromium was not found (looked for chromium, chromium-browser, google-chrome,
chrome and headless_shell on PATH, and $CHROMIUM). This script installs nothing. Install it with
  sudo apt-get install chromium
(Debian; chromium-browser on some Ubuntu releases), or point CHROMIUM at a Chromium binary.
MSG
	exit 3
fi

abs=$(cd "$(dirname "$page")" && pwd)/$(basename "$page")
flags=(--headless --disable-gpu --hide-scrollbars --no-first-run --no-default-browser-check
	--proxy-server='127.0.0.1:9' --proxy-bypass-list='<-loopback>' --window-size=1280,1800)
# Chromium's sandbox refuses to start as root (containers, CI): run it without there only.
if [[ $(id -u) == 0 ]]; then flags+=(--no-sandbox); fi

"$browser" "${flags[@]}" --screenshot="$out" "file://$abs" >/dev/null 2>&1 ||
	{ echo "screenshot-html: $browser failed to render $page" >&2; exit 1; }
"$browser" "${flags[@]}" --print-to-pdf="$pdf" --no-pdf-header-footer "file://$abs" >/dev/null 2>&1 ||
	{ echo "screenshot-html: $browser failed to print $page" >&2; exit 1; }
for f in "$out" "$pdf"; do
	[[ -s $f ]] || { echo "screenshot-html: $browser wrote no $f" >&2; exit 1; }
done
echo "wrote $out and $pdf"
