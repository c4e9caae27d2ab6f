# The C loop's signature (anivault/organize/_lean.c): a run of lean moves per call.
from anivault.organize.plan import Step

def move_run(
    steps: list[Step],
    start: int,
    stop: int,
    sources: dict[str, tuple[int, int]],
    targets: dict[str, tuple[int, int]],
    touched: set[str],
) -> tuple[int, int]: ...
