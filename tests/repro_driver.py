"""Runs reproducer scripts as `__main__`, one after another in this one process (a framework's
python), so the framework is imported once rather than once per script. Usage:
    python repro_driver.py RESULTS.json SCRIPT.py...
Writes one record per script: its exit status and what it printed. Imports nothing from the harness.
"""
import contextlib
import io
import json
import runpy
import sys
import traceback


def run(path: str) -> dict:
    out = io.StringIO()
    status = 0
    with contextlib.redirect_stdout(out):
        try:
            runpy.run_path(path, run_name="__main__")
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # a script that breaks is a failed reproducer, not a reproduced finding
            status = "error"
            print(traceback.format_exc())
    return {"path": path, "status": status, "output": out.getvalue()[-4000:]}


def main() -> None:
    results = [run(path) for path in sys.argv[2:]]
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
