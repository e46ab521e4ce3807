"""Run every benchmark in one go and print the figures (`make bench`)."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

if __name__ == "__main__":
    failed = 0
    for bench in sorted(HERE.glob("bench_*.py")):
        print(f"\n##### {bench.name}", flush=True)
        failed |= subprocess.run([sys.executable, str(bench), *sys.argv[1:]]).returncode
    sys.exit(failed)
