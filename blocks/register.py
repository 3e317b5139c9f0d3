"""Register prefect-compose's block types with the Prefect server in PREFECT_API_URL."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from blocks.compose_project import ComposeProject  # noqa: E402

if __name__ == "__main__":
    ComposeProject.register_type_and_schema()
    print("registered block type compose-project")
