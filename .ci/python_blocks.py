"""Runs the ```python blocks of each Markdown file given, in order, one namespace per file,
from the repository's root. Usage: python .ci/python_blocks.py README.md docs/python.md"""

import re
import sys
import time

for path in sys.argv[1:]:
    blocks = re.findall(r"```python\n(.*?)```", open(path, encoding="utf-8").read(), re.S)
    if not blocks:
        sys.exit(f"{path}: no python blocks")
    namespace = {"__name__": "__main__"}
    for i, block in enumerate(blocks):
        start = time.perf_counter()
        exec(compile(block, f"{path} block {i + 1}", "exec"), namespace)
        print(f"{path} block {i + 1}: ok ({time.perf_counter() - start:.1f} s)", flush=True)
