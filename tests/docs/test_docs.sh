#!/bin/sh
# The documentation stays true: the tagged comments of src/ are well formed
# and the tour can be made from them (and the checker catches each kind of
# breakage, tried on small broken files); the man page lists exactly the
# options `lguest --help` prints and the exit statuses the code defines;
# the guide names only files that exist and every option; `make install`
# puts the binary and the man page where PREFIX and DESTDIR say.
cd "$(dirname "$0")/../.." || exit 1
L=${LGUEST:-$PWD/lguest}
X=Documentation/extract-guide.sh
MAN=Documentation/lguest.1
GUIDE=Documentation/guide.md
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

ok() { echo "ok - $1"; }
notok() { echo "not ok - $1"; }
# check WHAT CMD...: ok if CMD succeeds.
check() {
	what=$1
	shift
	if "$@" >"$T/out" 2>&1; then
		ok "$what"
	else
		notok "$what"
		sed 's/^/# /' "$T/out" | head -n 20
	fi
}

# --- The tagged comments ---

check "the tagged comments in src/ follow the rules ($X -c)" sh "$X" -c
if sh "$X" >"$T/tour.md" 2>"$T/err" && grep -q '^### [LMCDVN]:[0-9]' \
	"$T/tour.md"; then
	ok "the tour is made: $(grep -c '^### ' "$T/tour.md") passages"
else
	notok "the tour is made"
	sed 's/^/# /' "$T/err"
fi

# The checker itself, on files broken one way each: it must fail, and say
# the reason.  bad NAME REASON CONTENT
mkdir -p "$T/bad"
bad() {
	printf '%b' "$3" >"$T/bad/$1.c"
	if sh "$X" -c "$T/bad/$1.c" >"$T/out" 2>&1; then
		notok "the checker refuses $1 (it passed)"
	elif grep -q -e "$2" "$T/out"; then
		ok "the checker refuses $1"
	else
		notok "the checker refuses $1 with '$2'"
		sed 's/^/# /' "$T/out"
	fi
}
bad duplicate "used twice" '/*L:100 one :*/\n/*L:100 two :*/\n'
bad duplicate-far-apart "used twice" \
	'/*M:100 one :*/\nint x;\n/*M:100 again :*/\n'
bad short-number "malformed tag" '/*L:10 too short :*/\n'
bad long-number "malformed tag" '/*L:1000 too long :*/\n'
bad unknown-chapter "malformed tag" '/*Q:100 no such chapter :*/\n'
bad unclosed "never closed" '/*L:100 opened */\nint x;\n'
bad nested "opens inside" '/*L:100 outer */\n/*L:110 inner :*/\n'
bad stray-close "closes no passage" 'int x; /* nothing open :*/\n'
bad empty "says nothing" '/*L:100 :*/\n'
bad code-only "says nothing" '/*L:100 */\nint x;\n/* :*/\n'
bad dangling-reference "reference to M:130" \
	'/*L:100 This one points at M:130, which is nowhere. :*/\n'
bad reference-outside-a-tag "reference to D:999" \
	'/* an ordinary comment that says see D:999 */\n'

# And a good file: passages in chapter order, then number order, whatever
# the order in the files; code between a passage's comments is shown.
printf '%s\n' '/*M:100 Second chapter. :*/' '/*L:110 Second of L, see M:100.' \
	' * More of it. */' 'int between;' '/* End. :*/' \
	'/*L:100 First of all. :*/' >"$T/good.c"
if sh "$X" "$T/good.c" >"$T/tour" 2>"$T/err"; then
	order=$(grep '^### ' "$T/tour" | cut -d' ' -f2 | tr '\n' ' ')
	if [ "$order" = "L:100 L:110 M:100 " ]; then
		ok "the tour orders passages by chapter, then number"
	else
		notok "the tour orders passages by chapter, then number: $order"
	fi
	if grep -q '^int between;$' "$T/tour"; then
		ok "code between a passage's comments is in the tour"
	else
		notok "code between a passage's comments is in the tour"
	fi
else
	notok "a good file passes the checker"
	sed 's/^/# /' "$T/err"
fi

# --- The man page and --help ---

if [ ! -x "$L" ]; then
	notok "$L is built (make builds it)"
	exit 1
fi
"$L" --help >"$T/help" 2>&1
# One line per option: "--long[=META] -s", from --help's table...
sed -n 's/^  *\(-[a-zA-Z], \)\{0,1\}\(--[a-z][a-z-]*\(=[A-Za-z:]*\)\{0,1\}\).*/\2 \1/p' \
	"$T/help" | sed 's/, $//; s/ $//' | LC_ALL=C sort >"$T/help.opts"
# ...and from the line after each .TP of the man page's OPTIONS section,
# with the font macros' arguments joined as roff joins them.
awk '
/^\.SH/ { in_opts = ($2 == "OPTIONS") }
in_opts && prev == ".TP" {
	line = $0
	gsub(/\\-/, "-", line)
	gsub(/"/, "", line)
	if (line ~ /^\.(BI|BR|IB|IR|RB|RI) /)
		{ sub(/^\.[A-Z][A-Z] /, "", line); gsub(/ /, "", line) }
	else
		sub(/^\.[A-Z][A-Z]? /, "", line)
	short = ""
	if (match(line, /^-[a-zA-Z],/)) {
		short = substr(line, 1, 2)
		line = substr(line, 4)
	}
	if (match(line, /^--[a-z][a-z-]*(=[A-Za-z:]*)?/))
		print substr(line, 1, RLENGTH) (short != "" ? " " short : "")
}
{ prev = $0 }
' "$MAN" | LC_ALL=C sort >"$T/man.opts"
if [ -s "$T/help.opts" ] && cmp -s "$T/help.opts" "$T/man.opts"; then
	ok "lguest.1 lists exactly the $(wc -l <"$T/help.opts") options of --help"
else
	notok "lguest.1 lists exactly the options of --help (< help, > man)"
	diff "$T/help.opts" "$T/man.opts" | grep '^[<>]' | sed 's/^/# /'
fi

# The exit statuses the code defines are in EXIT STATUS.
sed -n '/^\.SH "*EXIT STATUS/,/^\.SH/p' "$MAN" >"$T/exit"
# (src/util.c's two tables, plain and --exit-port, "[END_X] = N".)
statuses=$(grep -o '\[END_[A-Z_]*\] = [0-9]*' src/util.c |
	sed 's/.* = //' | sort -nu)
missing=""
for s in $statuses; do
	grep -q "^\.B $s\$" "$T/exit" || missing="$missing $s"
done
if [ -n "$statuses" ] && [ -z "$missing" ]; then
	ok "lguest.1 explains every exit status in the code:$(echo $statuses | tr '\n' ' ')"
else
	notok "lguest.1 explains every exit status in the code (missing:$missing)"
fi
if grep -q -- '--exit-port' "$T/help.opts"; then
	check "lguest.1 gives the exit port's status" grep -q '<< 1) | 1' "$T/exit"
fi

# It renders, without a warning.
if command -v groff >/dev/null 2>&1; then
	groff -man -Tutf8 -ww -z "$MAN" >"$T/warn" 2>&1
	if [ ! -s "$T/warn" ]; then
		ok "groff renders lguest.1 without warnings"
	else
		notok "groff renders lguest.1 without warnings"
		sed 's/^/# /' "$T/warn" | head
	fi
	LC_ALL=C.UTF-8 groff -man -Tutf8 "$MAN" 2>/dev/null |
		sed 's/.\x08//g' >"$T/rendered"
	missing=""
	for sec in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" FILES \
		EXAMPLES "SEE ALSO"; do
		grep -q "^$sec\$" "$T/rendered" || missing="$missing '$sec'"
	done
	[ -z "$missing" ] && ok "lguest.1 has its sections" ||
		notok "lguest.1 has its sections (missing:$missing)"
else
	ok "lguest.1 renders # SKIP no groff here (apt-get install groff-base)"
fi

# --- The guide ---

if [ -f "$GUIDE" ]; then
	missing=""
	# Paths from the top of the tree (not build/tests/..., a build output).
	for f in $(grep -oE '(^|[^/A-Za-z0-9_.-])(src|tests|guest|Documentation|bench|scripts)/[A-Za-z0-9_./-]*[A-Za-z0-9_]' \
		"$GUIDE" | sed 's/^[^A-Za-z]*//' | sort -u); do
		# A glob such as tests/*/rules.mk names no one file; the test
		# guest's cache and the tests' logs are made by running, and a
		# fresh clone has neither yet.
		case "$f" in *'*'*|guest/cache*|tests/out*|bench/out*) continue ;; esac
		[ -e "$f" ] || missing="$missing $f"
	done
	[ -z "$missing" ] && ok "every file the guide names exists" ||
		notok "every file the guide names exists (not:$missing)"
	missing=""
	for o in $(cut -d' ' -f1 "$T/help.opts" | sed 's/=.*//'); do
		grep -q -e "$o" "$GUIDE" || missing="$missing $o"
	done
	[ -z "$missing" ] && ok "the guide mentions every option" ||
		notok "the guide mentions every option (not:$missing)"
	check "README links to the guide" grep -q 'Documentation/guide.md' README.md
else
	notok "$GUIDE exists"
fi

# --- make install ---

D=$T/destdir
if make -s -o lguest install DESTDIR="$D" PREFIX=/usr >"$T/out" 2>&1 &&
	[ -x "$D/usr/bin/lguest" ] && cmp -s "$D/usr/share/man/man1/lguest.1" "$MAN"
then
	ok "make install DESTDIR=... PREFIX=/usr installs the binary and man page"
else
	notok "make install DESTDIR=... PREFIX=/usr installs the binary and man page"
	sed 's/^/# /' "$T/out"
	find "$D" | sed 's/^/# /'
fi
if "$D/usr/bin/lguest" --version 2>/dev/null | grep -q '^lguest [0-9]'; then
	ok "the installed lguest runs"
else
	notok "the installed lguest runs"
fi
rm -rf "$D"
if make -s -o lguest install DESTDIR="$D" >"$T/out" 2>&1 &&
	[ -x "$D/usr/local/bin/lguest" ] &&
	[ -f "$D/usr/local/share/man/man1/lguest.1" ]; then
	ok "PREFIX defaults to /usr/local"
else
	notok "PREFIX defaults to /usr/local"
	sed 's/^/# /' "$T/out"
fi
