#!/usr/bin/env python3
"""Print the plain test summary line from meson's testlog.json.

Usage: test-summary.py BUILD_DIR [LOGNAME]   (LOGNAME: testlog, testlog-valgrind)
Prints failing tests' names, then "N passed, N failed[, N skipped]" as the
last line; exits 1 when anything failed or no test ran.
"""
import json
import os
import sys

log = sys.argv[2] if len(sys.argv) > 2 else "testlog"
path = os.path.join(sys.argv[1], "meson-logs", log + ".json")
passed = failed = skipped = 0
bad = []
try:
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            res = r.get("result")
            if res in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif res == "SKIP":
                skipped += 1
            else:
                failed += 1
                bad.append("%s (%s)" % (r.get("name"), res))
except FileNotFoundError:
    pass
for b in bad:
    print("failed: " + b)
line = "%d passed, %d failed" % (passed, failed)
if skipped:
    line += ", %d skipped" % skipped
print(line)
sys.exit(1 if failed or passed == 0 else 0)
