#!/usr/bin/env python3
"""Reads `go test -json` on stdin and prints what plain `go test` would.

Package lines (ok/FAIL), build errors, and the whole output of every failed
test (its own lines, as test2json attributed them) are printed as they come;
passed and skipped tests stay quiet. At the end: the slowest top-level tests
with their seconds, and, because CI shows the log's tail, the failed tests
again with the last lines of their output.

Exits 1 if any test, package or build failed, or if a test started and never
ended (a panic or -timeout kills the test binary: that test's output is
printed then). Lines that are not JSON (e.g. go's own errors) are printed as
they are. Usage: go test -json ... | test-summary.py [--top N] [--out FILE]
(FILE gets every test's seconds, slowest first).
"""

import argparse
import json
import sys

TAIL = 40


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--out")
    args = ap.parse_args()

    out = {}  # (package, test) -> output lines of a running test
    elapsed = {}  # (package, test) -> seconds of a finished top-level test
    failed = []  # (package, test, output)
    bad = False

    def emit(s: str) -> None:
        sys.stdout.write(s)
        sys.stdout.flush()

    for line in sys.stdin:
        try:
            ev = json.loads(line)
        except ValueError:
            emit(line)
            continue
        if not isinstance(ev, dict):
            emit(line)
            continue
        action, pkg, test = ev.get("Action"), ev.get("Package", ev.get("ImportPath", "")), ev.get("Test")
        if action == "build-output":
            emit(ev.get("Output", ""))
        elif action == "build-fail":
            bad = True
        elif not test:
            text = ev.get("Output", "")
            if action == "fail" or (action == "output" and text.startswith("FAIL")):
                # If the binary died (a panic, -timeout): what the tests
                # still running had printed, before the package's FAIL.
                for (p, t), lines in sorted(out.items()):
                    if p == pkg:
                        emit("".join(lines))
                        failed.append((p, t + " (did not finish)", lines))
                        del out[(p, t)]
            if action == "output" and text != "PASS\n":
                emit(text)
            elif action == "fail":
                bad = True
        elif action == "run":
            out[(pkg, test)] = []
        elif action == "output":
            out.setdefault((pkg, test), []).append(ev.get("Output", ""))
        elif action in ("pass", "fail", "skip"):
            lines = out.pop((pkg, test), [])
            if "/" not in test and action != "skip":
                elapsed[(pkg, test)] = float(ev.get("Elapsed", 0))
            if action == "fail":
                bad = True
                emit("".join(lines))
                failed.append((pkg, test, lines))

    ranked = sorted(elapsed.items(), key=lambda kv: -kv[1])
    if ranked:
        emit("\nslowest tests (seconds; a parallel test's own time):\n")
        for (pkg, test), s in ranked[: args.top]:
            emit("%8.1f  %s  %s\n" % (s, test, pkg.rsplit("/", 1)[-1]))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            for (pkg, test), s in ranked:
                f.write("%.1f\t%s\t%s\n" % (s, pkg, test))
    if failed:
        emit("\nfailed tests (the last %d lines of each; the whole output is above):\n" % TAIL)
        for pkg, test, lines in failed:
            emit("--- FAIL: %s (%s)\n" % (test, pkg))
            emit("".join(lines[-TAIL:]))
    if bad and not failed:
        emit("\nFAIL: a package or build failed (output above)\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
