#!/usr/bin/env python3
"""Map a guest-EIP profile to kernel functions.

    bench/guest_profile.py --map /tmp/kallsyms.map     # once per kernel
    LGUEST_PROFILE=/tmp/prof ./lguest 256m guest/cache/vmlinuz \\
        --initrd=guest/cache/initrd.img nokaslr ...
    bench/guest_profile.py /tmp/prof /tmp/kallsyms.map [top]

The CPU (src/cpu/cpu.c) samples the guest's linear EIP every 16384
instructions when LGUEST_PROFILE names a file, and appends the samples
there when the guest ends.  This prints the top functions by share of the
samples, that is of guest instructions.  Debian ships a stub System.map
(the real one is in the -dbg package), so --map boots the guest once to
read /proc/kallsyms; boot the profiled guest with nokaslr too, so that the
addresses agree.  Addresses below the kernel are grouped per 4 KiB page.
"""
import base64
import bisect
import collections
import re
import subprocess
import sys


def make_map(out):
    script = base64.b64encode(b'cat /proc/kallsyms\n').decode()
    log = subprocess.run(
        ['./lguest', '256m', 'guest/cache/vmlinuz',
         '--initrd=guest/cache/initrd.img', 'cryptomgr.notests', 'nokaslr',
         'lguest.run=' + script], capture_output=True, check=True).stdout
    sym = re.compile(rb'^[0-9a-f]{8} [tTwW] \S+')
    with open(out, 'wb') as f:
        for line in log.splitlines():
            line = line.rstrip(b'\r')
            if sym.match(line):
                f.write(line + b'\n')


def load_map(path):
    syms = []
    with open(path) as f:
        for line in f:
            w = line.split()
            name = w[2] + (' ' + w[3] if len(w) > 3 else '')
            syms.append((int(w[0], 16), name))
    syms.sort()
    return [a for a, _ in syms], [n for _, n in syms]


def name_of(addr, addrs, names):
    i = bisect.bisect_right(addrs, addr) - 1
    if addr < 0xc0000000 or i < 0 or addr - addrs[i] > 0x10000:
        return '[page %08x]' % (addr & ~0xfff)
    return names[i]


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == '--map':
        make_map(sys.argv[2])
        return
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    addrs, names = load_map(sys.argv[2])
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    count = collections.Counter()
    with open(sys.argv[1]) as f:
        for line in f:
            count[name_of(int(line, 16), addrs, names)] += 1
    total = sum(count.values())
    print('%d samples (x16384 instructions)' % total)
    for name, n in count.most_common(top):
        print('%8d %5.1f%%  %s' % (n, 100.0 * n / total, name))


if __name__ == '__main__':
    main()
