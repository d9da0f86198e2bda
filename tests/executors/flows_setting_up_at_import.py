"""A flow file that sets up its process when imported, as flow files do (``load_dotenv()``,
``sys.path.insert``): its tasks rely on it on every try, other flows must not see it."""

from __future__ import annotations

import os
import sys

import weir

os.environ["WEIR_TEST_FROM_IMPORT"] = "set at import"
sys.path.append("/nowhere/weir-test-import")


@weir.task
def rely() -> dict[str, object]:
    return {
        "pid": os.getpid(),
        "env": os.environ.get("WEIR_TEST_FROM_IMPORT"),
        "path": "/nowhere/weir-test-import" in sys.path,
    }


@weir.flow
def relying() -> dict[str, object]:
    return rely()
