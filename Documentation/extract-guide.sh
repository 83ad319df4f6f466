#!/bin/sh
# Collects the tagged comments of src/ into one document: the tour of
# lguest's source, in the order a reader should meet it.
#
#	Documentation/extract-guide.sh [-c] [FILE...]
#
# With no FILE, reads every .c and .h under src/ (in path order) and checks
# the references in Documentation/guide.md and Documentation/lguest.1 too.
# Prints the tour (Markdown) on stdout; with -c prints nothing and only
# checks.  Every broken rule is one "file:line: why" on stderr, and the exit
# status is then 1.  `make guide` writes the tour to build/guide/tour.md and
# `make doc-check` runs -c.  The rules are in Documentation/guide.md
# ("Tagged comments"); in short:
#
#   - a passage opens with /*X:NNN, where X is a chapter letter (L M C D V N,
#     in reading order) and NNN three digits, 100 to 999;
#   - it runs to the first ":*/", which may be comments later: C code
#     between its comments belongs to the passage and is shown as code;
#   - no passage opens inside another, every one closes in its own file,
#     and no ":*/" closes nothing;
#   - each X:NNN is used once, and each passage says something;
#   - a reference "X:NNN" anywhere in those files names a passage that
#     exists.
#
# Plain POSIX sh and awk (Debian's mawk), as everything else in the tree.
check=0
if [ "$1" = "-c" ]; then
	check=1
	shift
fi
cd "$(dirname "$0")/.." || exit 1
if [ $# -eq 0 ]; then
	set -- $(find src -name '*.[ch]' | LC_ALL=C sort)
	refs_only="Documentation/guide.md Documentation/lguest.1"
else
	refs_only=""
fi
for f in $refs_only; do
	[ -f "$f" ] || refs_only=$(echo "$refs_only" | sed "s|$f||")
done

awk -v check="$check" -v refs_only="$refs_only" '
BEGIN {
	CHAPTERS = "LMCDVN"
	title["L"] = "The Launcher: from the command line to a loaded guest"
	title["M"] = "The Machine: guest memory, the bus, the run loop"
	title["C"] = "The CPU"
	title["D"] = "The PC devices and the terminal"
	title["V"] = "Virtio: the transport, the virtqueue, the devices"
	title["N"] = "Networks"
	nref = 0; errors = 0
	split(refs_only, ro, " ")
	for (i in ro)
		is_ref_only[ro[i]] = 1
}

function err(msg) {
	printf "%s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"
	errors++
}

# Remembers every "X:NNN" in s that is not the opening of a passage.
function scan_refs(s,    t, pre) {
	t = s
	while (match(t, /[LMCDVN]:[0-9][0-9][0-9]/)) {
		pre = substr(t, 1, RSTART - 1)
		if (pre !~ /\/\*$/ && pre !~ /[A-Za-z0-9_]$/ &&
		    substr(t, RSTART + RLENGTH, 1) !~ /[0-9]/) {
			nref++
			ref[nref] = substr(t, RSTART, RLENGTH)
			refwhere[nref] = FILENAME ":" FNR
		}
		t = substr(t, RSTART + RLENGTH)
	}
}

# Prose from a comment line: no comment markers, no leading " * ".
function prose(s) {
	sub(/:?\*\/.*$/, "", s)
	sub(/^[ \t]*\/\*+/, "", s)
	if (s ~ /^[ \t]*\*([ \t]|$)/)
		sub(/^[ \t]*\*/, "", s)
	sub(/^ /, "", s)
	gsub(/\t/, "    ", s)
	sub(/[ \t]+$/, "", s)
	return s
}

function add(line, kind) {
	if (body[cur] == "" && line == "")
		return
	# Code lines go in a fence; a switch between prose and code closes
	# or opens one.
	if (kind == "code" && !incode) {
		body[cur] = body[cur] "\n\n```c"
		incode = 1
	} else if (kind == "prose" && incode) {
		body[cur] = body[cur] "\n```\n"
		incode = 0
	}
	body[cur] = body[cur] "\n" line
	if (kind == "prose" && line ~ /[A-Za-z]/)
		words[cur]++
}

function close_passage() {
	if (incode)
		body[cur] = body[cur] "\n```"
	incode = 0
	if (!words[cur])
		err(cur " says nothing")
	cur = ""
}

FNR == 1 {
	if (cur != "") {
		printf "%s: %s is never closed (no :*/)\n", prev_file, cur > "/dev/stderr"
		errors++
		cur = ""
	}
	prev_file = FILENAME
	in_comment = 0
}

{
	line = $0
	scan_refs(line)
	if (FILENAME in is_ref_only)
		next
	# Anything that looks like a tag must be one.
	t = line
	while (match(t, /\/\*[A-Z]:/)) {
		rest = substr(t, RSTART + 2)
		if (rest !~ /^[LMCDVN]:[1-9][0-9][0-9]([^0-9]|$)/)
			err("malformed tag \"" substr(rest, 1, 8) "\" (want X:NNN, X one of " CHAPTERS ", NNN 100-999)")
		t = rest
	}
	opens = match(line, /\/\*[LMCDVN]:[1-9][0-9][0-9]/)
	if (opens) {
		tag = substr(line, RSTART + 2, 5)
		if (cur != "") {
			err(tag " opens inside " cur " (close that with :*/ first)")
			close_passage()
		}
		if (tag in where) {
			err(tag " is used twice (first at " where[tag] ")")
			tag = tag "#dup" FNR
		}
		where[tag] = FILENAME ":" FNR
		cur = tag
		body[cur] = ""
		words[cur] = 0
		incode = 0
		rest = substr(line, RSTART + RLENGTH)
		in_comment = 1
		if (rest ~ /\*\//)
			in_comment = 0
		add(prose(rest), "prose")
		if (rest ~ /:\*\//)
			close_passage()
		next
	}
	closes = (line ~ /:\*\//)
	if (cur == "") {
		if (closes)
			err("\":*/\" closes no passage")
		next
	}
	if (in_comment) {
		add(prose(line), "prose")
		if (line ~ /\*\//)
			in_comment = 0
	} else if (line ~ /^[ \t]*\/\*/) {
		add(prose(line), "prose")
		if (line !~ /\/\*.*\*\//)
			in_comment = 1
	} else {
		add(line, "code")
		if (line ~ /\/\*/ && line !~ /\/\*.*\*\//)
			in_comment = 1
	}
	if (closes)
		close_passage()
}

END {
	if (cur != "") {
		printf "%s: %s is never closed (no :*/)\n", prev_file, cur > "/dev/stderr"
		errors++
	}
	for (i = 1; i <= nref; i++)
		if (!(ref[i] in where)) {
			printf "%s: reference to %s, which no passage has\n", refwhere[i], ref[i] > "/dev/stderr"
			errors++
		}
	if (errors) {
		printf "%d error(s) in the tagged comments\n", errors > "/dev/stderr"
		exit 1
	}
	if (check)
		exit 0
	print "# A tour of lguest'\''s source"
	print ""
	print "Generated by `make guide` (Documentation/extract-guide.sh) from the"
	print "tagged comments in src/: edit those, not this.  Documentation/guide.md"
	print "says how the tags work."
	for (c = 1; c <= length(CHAPTERS); c++) {
		ch = substr(CHAPTERS, c, 1)
		started = 0
		for (n = 100; n <= 999; n++) {
			tag = ch ":" n
			if (!(tag in where))
				continue
			if (!started) {
				print ""
				print "## " ch ": " title[ch]
				started = 1
			}
			w = where[tag]
			sub(/:[0-9]+$/, "", w)
			print ""
			print "### " tag " (" w ")"
			print body[tag]
		}
	}
}
' "$@" $refs_only
