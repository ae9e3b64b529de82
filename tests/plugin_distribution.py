"""A real installed-looking distribution on ``sys.path``, as pip would leave it, for entry-point tests."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def installed_distribution(
    root: Path, name: str, *, modules: Mapping[str, str], entry_points: Mapping[str, Mapping[str, str]]
) -> Iterator[Path]:
    """Write ``modules`` (file path -> source) and a ``dist-info`` declaring ``entry_points`` (group -> name ->
    target) under ``root``, put ``root`` on ``sys.path``, and take it all away again afterwards."""
    for relative, source in modules.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    dist = root / f"{name.replace('-', '_')}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{key} = {target}\n" for key, target in targets.items())
            for group, targets in entry_points.items()
        )
    )
    sys.path.insert(0, str(root))
    try:
        yield root
    finally:
        sys.path.remove(str(root))
        for module in [
            m for m in sys.modules if m.split(".")[0] in {Path(r).parts[0].removesuffix(".py") for r in modules}
        ]:
            sys.modules.pop(module, None)
