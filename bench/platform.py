"""The whole platform end to end: cases/s submitted, assigned, answered and closed; latency.

    python bench/platform.py                      # 30 s per phase, 8 clients, 1 then 2 workers
    python bench/platform.py --quick              # 10 s per phase, 4 clients, 1 worker (CI smoke)
    python bench/platform.py --duration 60 --clients 16 --workers 2
    python bench/platform.py --json out.json      # the figures as JSON too ('-': stdout only)
    python bench/platform.py --profile /tmp/prof  # py-spy the hot processes while they run

The benchmark itself is bench/platform_flow.py (its docstring says what is measured). This file
only starts it, because of its name: `python bench/<any script>.py` puts bench/ first on
sys.path, so `import platform` — the standard library's, which grpcio, rich and the other bench
scripts import — finds this file. Imported under that name, it hands over the real module.
"""

from __future__ import annotations

import os
import sys

if __name__ == "platform":
    import importlib.util
    import sysconfig

    _spec = importlib.util.spec_from_file_location(
        "platform", os.path.join(sysconfig.get_paths()["stdlib"], "platform.py")
    )
    _real = importlib.util.module_from_spec(_spec)
    sys.modules["platform"] = _real  # what the importer returns, instead of this file
    _spec.loader.exec_module(_real)
else:
    _root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:0] = [_root, os.path.join(_root, "gen", "python")]
    if __name__ == "__main__":
        from bench.platform_flow import main

        sys.exit(main())
