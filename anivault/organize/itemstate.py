"""An organize item's state as the ledger reports it: `undone` is derived, not written.

A rollback's batch writer used to mark every item its run reversed `undone` in the original run, one more
statement per batch beside the `files` update and its pages in every commit: 0.11 s of 100,000 items alone,
0.2-0.3 s inside a rollback whose writer already set the pace (docs/organize-benchmark-log.md). The ledger
holds the same fact without it: an organize item is undone when an item of one of its run's rollbacks that
reverses it (`undo_of`) is `done`. Item k of a rollback reverses item (last seq + 1 - k) of its run
(Ledger._INVERSE), so that item is found by its run and seq, one index search each. Items that earlier
versions marked `undone` keep that state. `v_ledger` (migration 0011), `anivault log show`, `anivault show`
and the counts all report the derived state; `operation_items.state` itself stays `done`.
"""

from __future__ import annotations

import sqlite3


def undone_sql(i: str) -> str:
    """True where organize item ``i`` (a table alias, or the name of a table the fragment does not alias:
    every table in it has an alias of its own) was reversed by a done item of a rollback of its run."""
    return (
        "EXISTS (SELECT 1 FROM operations r CROSS JOIN operation_items ri ON ri.op_id = r.id"
        f" AND ri.seq = (SELECT max(l.seq) + 1 FROM operation_items l WHERE l.op_id = {i}.op_id) - {i}.seq"
        f" WHERE r.undo_of = {i}.op_id AND ri.undo_of = {i}.id AND ri.state = 'done')"
    )


def state_sql(i: str) -> str:
    """The state of item ``i`` as reported: `undone` for a done organize item its rollback reversed."""
    return f"(CASE WHEN {i}.state = 'done' AND {i}.undo_of IS NULL AND {undone_sql(i)} THEN 'undone' ELSE {i}.state END)"


def item_counts(conn: sqlite3.Connection, op_id: int) -> dict[str, int]:
    """How many items of run ``op_id`` are in each state, `undone` derived (for the ledger and for
    `anivault status`, whatever row factory ``conn`` has)."""
    cur = conn.cursor()
    cur.row_factory = None
    counts: dict[str, int] = dict(
        cur.execute(
            "SELECT state, count(*) FROM operation_items INDEXED BY uq_operation_items_op_id_seq"
            " WHERE op_id=? GROUP BY state",
            (op_id,),
        ).fetchall()
    )
    if counts.get("done"):
        # The run's done items that a done item of one of its rollbacks reversed (as undone_sql finds them,
        # from the rollbacks' side: one search by primary key each).
        undone = cur.execute(
            "SELECT count(*) FROM operations r"
            " CROSS JOIN operation_items ri INDEXED BY uq_operation_items_op_id_seq ON ri.op_id = r.id"
            " CROSS JOIN operation_items o ON o.id = ri.undo_of"
            " WHERE r.undo_of = :op AND ri.state = 'done' AND o.op_id = :op AND o.state = 'done'"
            " AND o.undo_of IS NULL"
            " AND ri.seq = (SELECT max(seq) + 1 FROM operation_items WHERE op_id = :op) - o.seq",
            {"op": op_id},
        ).fetchone()[0]
        if undone:
            counts["done"] -= undone
            counts["undone"] = counts.get("undone", 0) + undone
            if not counts["done"]:
                del counts["done"]
    return counts
