#!/bin/sh
# scripts/install-deps.sh, README's first command, for root and for a user
# alike: as root it installs at once (a fresh Debian where you are root may
# have no sudo), as a user it runs itself again through sudo, and a user
# with no sudo gets one clear line.  Nothing is installed here: id, sudo,
# dpkg and apt-get are stand-ins on a PATH of their own that log what they
# were asked.
cd "$(dirname "$0")/../.." || exit 1
S=$PWD/scripts/install-deps.sh
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir "$T/bin" "$T/nosudo"

fake() {	# fake DIR NAME BODY: a stand-in command
	printf '#!/bin/sh\n%s\n' "$3" >"$1/$2"
	chmod +x "$1/$2"
}
for d in bin nosudo; do
	fake "$T/$d" id 'echo "${FAKE_UID:-1000}"'
	fake "$T/$d" dpkg 'echo "dpkg $* (uid $FAKE_UID)" >>"$LOG"'
	fake "$T/$d" apt-get 'echo "apt-get $1 (uid $FAKE_UID)" >>"$LOG"'
done
fake "$T/bin" sudo 'echo "sudo $*" >>"$LOG"; [ "$1" = -- ] && shift
FAKE_UID=0 exec "$@"'

# run NAME UID DIR: the script with only the stand-ins on PATH.
run() {
	LOG=$T/$1.log
	: >"$LOG"
	env -i PATH="$T/$3" LOG="$LOG" FAKE_UID="$2" /bin/sh "$S" \
		>"$T/$1.out" 2>&1
	rc=$?
}

run root 0 bin
if [ "$rc" -eq 0 ] && ! grep -q '^sudo' "$LOG" &&
   grep -q '^dpkg --add-architecture i386 (uid 0)' "$LOG" &&
   grep -q '^apt-get install (uid 0)' "$LOG"; then
	echo "ok - as root: installs at once, without sudo"
else
	echo "not ok - as root: status $rc"
	cat "$LOG" "$T/root.out" | sed 's/^/# /'
fi

run user 1000 bin
if [ "$rc" -eq 0 ] && grep -q "^sudo -- .*install-deps.sh" "$LOG" &&
   grep -q '^apt-get install (uid 0)' "$LOG" &&
   ! grep -q '(uid 1000)' "$LOG"; then
	echo "ok - as a user: runs itself again through sudo, installs as root"
else
	echo "not ok - as a user: status $rc"
	cat "$LOG" "$T/user.out" | sed 's/^/# /'
fi

run nosudo 1000 nosudo
if [ "$rc" -ne 0 ] && [ ! -s "$LOG" ] &&
   grep -q "needs root" "$T/nosudo.out"; then
	echo "ok - as a user without sudo: refused in one line: $(cat "$T/nosudo.out")"
else
	echo "not ok - as a user without sudo: status $rc"
	cat "$LOG" "$T/nosudo.out" | sed 's/^/# /'
fi

grep -q '^    scripts/install-deps.sh && make' README.md &&
	echo "ok - README's first command does not start with sudo" ||
	echo "not ok - README's first command: $(grep -m1 'install-deps' README.md)"
