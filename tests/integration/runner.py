"""Runs integration test modules as ctest does: `python3 runner.py MODULE...` (from this directory).

The same as `python3 -m unittest -v MODULE...`, except for skipped tests, which unittest counts as
passed: exit 0 when every test ran and passed, 1 when any failed, 77 when some were skipped and none
failed (ctest shows Skipped: SKIP_RETURN_CODE in tests/CMakeLists.txt). Under CI=true a skipped test
fails the run, since CI must run every test."""

import os
import sys
import unittest


def main(names):
    if not names:
        print(__doc__, file=sys.stderr)
        return 2
    suite = unittest.defaultTestLoader.loadTestsFromNames(names)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    if not result.wasSuccessful():
        return 1
    if result.testsRun == 0:
        print("FAILED: no tests ran", file=sys.stderr)
        return 1
    if result.skipped:
        reasons = "\n".join(f"  {test.id()}: {reason}" for test, reason in result.skipped)
        if os.environ.get("CI") == "true":
            print(f"FAILED: {len(result.skipped)} test(s) skipped under CI=true, where every test must run:\n{reasons}",
                  file=sys.stderr)
            return 1
        print(f"SKIPPED: {len(result.skipped)} test(s) could not run here (exit 77):\n{reasons}", file=sys.stderr)
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
