"""The evaluator stands alone: nothing of app/ or workers/, no ML framework, no HTTP library."""

from __future__ import annotations

import json
import subprocess
import sys


def test_importing_the_evaluator_loads_none_of_the_forbidden_modules() -> None:
    code = (
        "import json, sys, evaluator, evaluator.testing; "
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"
    )
    loaded = set(json.loads(subprocess.check_output([sys.executable, "-c", code], text=True)))
    assert not loaded & {"app", "workers", "torch", "transformers", "vllm", "numpy", "httpx"}
