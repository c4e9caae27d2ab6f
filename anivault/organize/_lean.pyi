# The C functions' signatures (anivault/organize/_lean.c): a run of lean moves per call, and the intent
# rows of a run of plain items.
from typing import Any

from anivault.organize.plan import Step

def move_run(
    steps: list[Step],
    start: int,
    stop: int,
    sources: dict[str, tuple[int, int]],
    targets: dict[str, tuple[int, int]],
    touched: set[str],
) -> tuple[int, int]: ...
def intent_rows(steps: list[Step], start: int, dest_dev: int | None) -> tuple[list[tuple[Any, ...]], int]: ...
