#!/usr/bin/env python3
"""Writes the 10,000 most common passwords, one a line, to OUTPUT.

Run by the build.  The source is the ranked password frequency list of
Debian 12's python3-zxcvbn package (a build dependency), drawn from
public password leaks; nothing of it is kept in this repository.  Entries
are lower-cased, printable ASCII, deduplicated, in rank order.
"""
import sys

sys.path.insert(0, "/usr/lib/python3/dist-packages")
from zxcvbn import frequency_lists  # noqa: E402

COUNT = 10000


def main():
    out = sys.argv[1]
    seen, rows = set(), []
    for pw in frequency_lists.FREQUENCY_LISTS["passwords"]:
        pw = pw.lower()
        if pw in seen or not pw.isascii() or not pw.isprintable():
            continue
        seen.add(pw)
        rows.append(pw)
        if len(rows) == COUNT:
            break
    with open(out, "w", encoding="ascii") as f:
        f.write("# The 10,000 most common passwords, by rank, lower-cased,\n")
        f.write("# from Debian's python3-zxcvbn.\n")
        for pw in rows:
            f.write(pw + "\n")


main()
