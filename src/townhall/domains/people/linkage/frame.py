"""Source records as the linkage model reads them: one cleaned row per record, in DuckDB.

This module owns the table Splink compares (``people_frame`` in an in-memory DuckDB): every
source record (``people_source_records``) with its fields cleaned the same way on both sides of
every comparison. Names are lower-cased without accents or punctuation ("O'Neill-Smith" is
"oneill smith") and a first name also has its usual full form ("bill" is "william"), so a
nickname can agree; the date of birth is text, so a slip of one digit is one character; the
postcode is in its canonical form with its outward code (one that is not a UK postcode is
kept without its spaces, with no outward code); the UPRN is the source's own, or the
one address matching found for its address text; email is lower-case; phone is digits only in
its national form; the National Insurance number is upper-case without spaces.

Speed matters: a million records load in seconds. The rows are read as plain tuples in
batches (no ORM objects), handed to DuckDB through a pandas frame of objects, and cleaned by
one SQL statement in DuckDB, which does it column by column on every core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from townhall.platform.db import Database

if TYPE_CHECKING:
    import duckdb

FRAME = "people_frame"
_RAW = "people_frame_raw"
_NICKNAMES = "people_nicknames"
BATCH = 100_000

# The columns read from people_source_records, as the database gives them. The date of birth
# is cast to text in the database (SQLite keeps it as text already; PostgreSQL prints ISO).
_RAW_COLUMNS = (
    "unique_id",
    "source_system",
    "first_name",
    "last_name",
    "date_of_birth",
    "postcode",
    "uprn",
    "email",
    "phone",
    "national_insurance_number",
)
_SELECT = (
    "SELECT id, source_system, first_name, last_name, "
    "CAST(date_of_birth AS VARCHAR(10)), postcode, "
    "CAST(COALESCE(uprn, matched_uprn) AS VARCHAR(20)), email, phone, "
    "national_insurance_number FROM people_source_records"
)

# The columns of the frame Splink reads (besides unique_id and source_system).
FRAME_COLUMNS = (
    "first_name",
    "first_name_full",
    "surname",
    "dob",
    "postcode",
    "postcode_outward",
    "uprn",
    "email",
    "phone",
    "nino",
    # Blocking keys: the identifier when at most SHARED_LIMIT records share it, else null.
    "email_block",
    "phone_block",
    "nino_block",
)

# The identifiers whose shared values are kept out of blocking (``*_block`` columns, in order).
IDENTIFIERS = ("email", "phone", "nino")
# A phone, email or NI number shared by more records than this is a switchboard, a care home's
# landline, a placeholder or a test value: it pairs every record holding it with every other
# (n² pairs, most of a million records' blocked pairs in the generated borough) and says
# little about who is who. Such values still count in comparisons; they only stop pairing
# records on their own. A household of five, each in four systems, shares a landline 20 times.
SHARED_LIMIT = 20
_SHARED = "people_frame_shared_values"

# Usual English short forms of first names, by full form: "bill" and "william" then agree on
# ``first_name_full``. A general list (not the demo's), kept short: a name in two rows here
# (like "ally") takes the first full form, which is a guess either way.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "william": ("bill", "billy", "will", "willy", "liam"),
    "robert": ("bob", "bobby", "rob", "robbie", "bert"),
    "elizabeth": ("liz", "lizzie", "lizzy", "beth", "betty", "eliza", "libby", "bess"),
    "margaret": ("maggie", "meg", "peggy", "marge", "margo"),
    "richard": ("rick", "ricky", "rich", "richie", "dick"),
    "james": ("jim", "jimmy", "jamie", "jas"),
    "thomas": ("tom", "tommy"),
    "michael": ("mike", "mikey", "mick", "micky", "mickey"),
    "christopher": ("chris", "kit"),
    "christine": ("chrissie", "tina"),
    "christina": ("chrissy",),
    "jonathan": ("jon", "jonny", "johnny"),
    "john": ("jack", "jock"),
    "anthony": ("tony", "ant"),
    "daniel": ("dan", "danny"),
    "david": ("dave", "davy", "davey"),
    "edward": ("ed", "eddie", "eddy", "ted", "teddy", "ned"),
    "joseph": ("joe", "joey"),
    "josephine": ("jo", "josie"),
    "katherine": ("kate", "kathy", "katie", "kat", "kay", "kitty"),
    "catherine": ("cathy", "cath", "cat"),
    "rebecca": ("becky", "becca", "bex"),
    "samuel": ("sam", "sammy"),
    "samantha": ("sammie",),
    "alexander": ("alex", "alec", "sandy", "xander"),
    "alexandra": ("lexi", "alexa"),
    "benjamin": ("ben", "benny", "benji"),
    "charles": ("charlie", "chas", "chuck"),
    "charlotte": ("lottie", "lotte"),
    "deborah": ("debbie", "debs", "deb"),
    "frederick": ("fred", "freddie", "freddy"),
    "gregory": ("greg",),
    "henry": ("harry", "hal", "hank"),
    "jennifer": ("jen", "jenny", "jenna"),
    "jacqueline": ("jackie", "jacqui"),
    "kenneth": ("ken", "kenny"),
    "lawrence": ("larry", "laurie"),
    "leonard": ("len", "lenny", "leo"),
    "matthew": ("matt", "matty"),
    "nicholas": ("nick", "nicky"),
    "nicola": ("nikki",),
    "patricia": ("pat", "patty", "trish", "tricia"),
    "patrick": ("paddy",),
    "peter": ("pete",),
    "philip": ("phil",),
    "raymond": ("ray",),
    "ronald": ("ron", "ronnie"),
    "stephen": ("steve", "stevie"),
    "steven": ("steve",),
    "susan": ("sue", "susie", "suzy"),
    "suzanne": ("suzie",),
    "timothy": ("tim", "timmy"),
    "victoria": ("vicky", "vicki", "tori"),
    "andrew": ("andy", "drew"),
    "abigail": ("abby", "abbie", "gail"),
    "alfred": ("alf", "alfie"),
    "barbara": ("barb", "babs"),
    "dorothy": ("dot", "dotty", "dolly"),
    "douglas": ("doug",),
    "eleanor": ("ellie", "nell", "nellie"),
    "florence": ("flo", "florrie"),
    "gerald": ("gerry", "jerry"),
    "harold": ("harry",),
    "isabella": ("bella", "izzy", "issy"),
    "jessica": ("jess", "jessie"),
    "joshua": ("josh",),
    "kimberley": ("kim",),
    "louise": ("lou",),
    "madeleine": ("maddie", "maddy"),
    "nathaniel": ("nat", "nate", "nathan"),
    "oliver": ("ollie", "olly"),
    "pamela": ("pam",),
    "penelope": ("penny",),
    "sarah": ("sally", "sadie"),
    "terence": ("terry",),
    "theodore": ("theo",),
    "vincent": ("vince", "vinny"),
    "zachary": ("zach", "zack"),
}


def _nickname_rows() -> list[tuple[str, str]]:
    """(short form, full form) rows; a short form listed twice keeps its first full form."""
    rows: dict[str, str] = {}
    for full, forms in NICKNAMES.items():
        for form in forms:
            rows.setdefault(form, full)
    return sorted(rows.items())


def _clean_name(column: str) -> str:
    """SQL for a name without accents or punctuation: "O'Neill-Smith" -> "oneill smith"."""
    no_apostrophes = f"replace(replace(lower(strip_accents({column})), '''', ''), '\u2019', '')"
    spaced = f"regexp_replace({no_apostrophes}, '[^a-z0-9]+', ' ', 'g')"
    return f"nullif(trim({spaced}), '')"


# One statement from the raw rows to the frame, run in DuckDB.
_CLEAN = f"""
SELECT
    r.unique_id,
    r.source_system,
    n.first_name,
    COALESCE(k.full_form, n.first_name) AS first_name_full,
    n.surname,
    nullif(trim(r.date_of_birth), '') AS dob,
    p.postcode,
    CASE WHEN u.uk THEN split_part(p.postcode, ' ', 1) END AS postcode_outward,
    nullif(trim(r.uprn), '') AS uprn,
    nullif(lower(trim(r.email)), '') AS email,
    CASE
        WHEN n.digits LIKE '44%' AND length(n.digits) = 12 THEN '0' || n.digits[3:]
        ELSE nullif(n.digits, '')
    END AS phone,
    nullif(upper(regexp_replace(r.national_insurance_number, '\\s+', '', 'g')), '') AS nino,
    NULL AS email_block,
    NULL AS phone_block,
    NULL AS nino_block
FROM {_RAW} AS r
CROSS JOIN LATERAL (
    SELECT
        {_clean_name("r.first_name")} AS first_name,
        {_clean_name("r.last_name")} AS surname,
        regexp_replace(COALESCE(r.phone, ''), '[^0-9]', '', 'g') AS digits,
        upper(regexp_replace(COALESCE(r.postcode, ''), '\\s+', '', 'g')) AS compact
) AS n
CROSS JOIN LATERAL (
    SELECT regexp_matches(n.compact, '^[A-Z]{{1,2}}[0-9][A-Z0-9]?[0-9][A-Z]{{2}}$') AS uk
) AS u
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN u.uk THEN n.compact[:-4] || ' ' || n.compact[-3:]
        ELSE nullif(n.compact, '')
    END AS postcode
) AS p
LEFT JOIN {_NICKNAMES} AS k ON k.short_form = n.first_name
"""  # noqa: S608


def read_rows(
    database: Database, record_ids: Sequence[int] | None = None, *, batch: int = BATCH
) -> Iterator[list[tuple[Any, ...]]]:
    """The source records' raw linkage fields, ``batch`` rows at a time (all, or ``record_ids``)."""
    sql = _SELECT
    if record_ids is not None:
        if not record_ids:
            return
        sql += " WHERE id IN (" + ", ".join(str(int(rid)) for rid in record_ids) + ")"
    with database.read() as session:
        connection = session.connection().execution_options(stream_results=True)
        result = connection.execute(text(sql))
        while rows := result.fetchmany(batch):
            yield [tuple(row) for row in rows]


def create_frame(connection: duckdb.DuckDBPyConnection) -> None:
    """An empty frame (and the nickname table) in ``connection``."""
    connection.execute(
        f"CREATE OR REPLACE TABLE {_NICKNAMES} (short_form VARCHAR PRIMARY KEY, full_form VARCHAR)"
    )
    connection.executemany(f"INSERT INTO {_NICKNAMES} VALUES (?, ?)", _nickname_rows())  # noqa: S608
    columns = ", ".join(f"{name} VARCHAR" for name in FRAME_COLUMNS)
    connection.execute(
        f"CREATE OR REPLACE TABLE {FRAME} "
        f"(unique_id BIGINT PRIMARY KEY, source_system VARCHAR, {columns})"
    )
    # Counted again once the frame is loaded.
    connection.execute(f"DROP TABLE IF EXISTS {_SHARED}")


def add_rows(connection: duckdb.DuckDBPyConnection, rows: Sequence[tuple[Any, ...]]) -> int:
    """Clean raw rows (as ``read_rows`` gives them) into the frame, replacing any with their id."""
    if not rows:
        return 0
    import pandas as pd  # type: ignore[import-untyped]  # noqa: PLC0415

    raw = pd.DataFrame.from_records(rows, columns=list(_RAW_COLUMNS))
    raw["unique_id"] = raw["unique_id"].astype("int64")
    for name in _RAW_COLUMNS[1:]:
        # Strings or None: pandas would otherwise guess numbers for an all-digit column.
        raw[name] = raw[name].astype(object)
    connection.register(_RAW, raw)
    try:
        connection.execute(f"DELETE FROM {FRAME} WHERE unique_id IN (SELECT unique_id FROM {_RAW})")  # noqa: S608
        connection.execute(f"INSERT INTO {FRAME} {_CLEAN}")
        _set_blocking_keys(connection, f"unique_id IN (SELECT unique_id FROM {_RAW})")  # noqa: S608
    finally:
        connection.unregister(_RAW)
    return len(rows)


def _set_blocking_keys(connection: duckdb.DuckDBPyConnection, where: str) -> None:
    """Each identifier's blocking key on the rows ``where`` selects: null for a shared value.

    Shared values are counted once, when the frame is loaded (``limit_shared_values``), so a
    record added later is blocked as a full run over the same frame would block it.
    """
    counted = connection.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [_SHARED]
    ).fetchone()
    shared = bool(counted and counted[0])
    keys = ", ".join(
        f"{name}_block = {name}"
        if not shared
        else f"{name}_block = CASE WHEN {name} IN "  # noqa: S608
        f"(SELECT value FROM {_SHARED} WHERE identifier = '{name}') THEN NULL ELSE {name} END"
        for name in IDENTIFIERS
    )
    connection.execute(f"UPDATE {FRAME} SET {keys} WHERE {where}")  # noqa: S608


def limit_shared_values(connection: duckdb.DuckDBPyConnection) -> None:
    """Count the identifiers shared by more than SHARED_LIMIT records, and unblock them."""
    counts = " UNION ALL ".join(
        f"SELECT '{name}' AS identifier, {name} AS value FROM {FRAME} "  # noqa: S608
        f"WHERE {name} IS NOT NULL GROUP BY {name} HAVING count(*) > {SHARED_LIMIT}"
        for name in IDENTIFIERS
    )
    connection.execute(f"CREATE OR REPLACE TABLE {_SHARED} AS {counts}")
    _set_blocking_keys(connection, "true")


def load_frame(
    connection: duckdb.DuckDBPyConnection,
    database: Database,
    *,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Every source record of ``database`` into a fresh frame; the number of records.

    ``on_batch(rows)`` is called after each batch is cleaned.
    """
    create_frame(connection)
    total = 0
    for rows in read_rows(database):
        total += add_rows(connection, rows)
        if on_batch is not None:
            on_batch(len(rows))
    limit_shared_values(connection)
    return total


def remove_rows(connection: duckdb.DuckDBPyConnection, record_ids: Sequence[int]) -> None:
    """Drop records from the frame (ones deleted at their source)."""
    if record_ids:
        connection.execute(
            f"DELETE FROM {FRAME} WHERE unique_id IN (SELECT UNNEST(?))",  # noqa: S608
            [list(record_ids)],
        )
