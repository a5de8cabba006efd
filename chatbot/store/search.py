"""Searching the store: the full-text index, and a bounded scan for very short queries.

Titles, message text and attached text files are indexed with SQLite FTS5's ``trigram`` tokenizer
(see :func:`chatbot.store.schema.migrate_to_3` and ``migrate_to_4``): any substring of three or more
characters is found through the index, in any script and any case, so a search
costs about the same in a store of any size. A trigram index cannot find one or
two characters; those queries scan the titles and only the newest
:data:`SHORT_QUERY_SCAN` messages, and say so.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from chatbot.store.records import SearchHit, SearchResult
from chatbot.store.rows import INFO_COLUMNS, info_from_row
from chatbot.store.schema import INDEX_STRIPS

__all__ = ["MIN_INDEXED_CHARS", "SHORT_QUERY_SCAN", "normalize", "search", "snippet"]

#: The shortest query the trigram index can answer.
MIN_INDEXED_CHARS = 3
#: How many of the newest messages a one- or two-character query looks through.
SHORT_QUERY_SCAN = 20_000
#: Width of the text shown around a match.
SNIPPET_CHARS = 72

_UNMARK = str.maketrans("", "", INDEX_STRIPS)


def normalize(text: str) -> str:
    """``text`` as the index sees it: without Markdown emphasis marks."""
    return text.translate(_UNMARK)


def _phrase(text: str) -> str:
    """An FTS5 query matching ``text`` exactly (as a substring, with trigrams)."""
    return '"' + text.replace('"', '""') + '"'


def snippet(content: str, needle: str, *, width: int = SNIPPET_CHARS) -> str:
    """One line of ``content`` around the first match of ``needle``, marks removed."""
    text = " ".join(normalize(content).split())
    wanted = " ".join(normalize(needle).split()) or needle
    at = max(0, text.casefold().find(wanted.casefold()))
    start = max(0, min(at - (width - len(wanted)) // 2, len(text) - width))
    end = min(len(text), start + width)
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


def _merge_newest(newest: dict[int, int], more: Iterable[tuple[int, int]]) -> None:
    for conversation_id, message_id in more:
        newest[conversation_id] = max(newest.get(conversation_id, 0), message_id)


def _indexed_matches(conn: sqlite3.Connection, query: str) -> tuple[dict[int, int], set[int]]:
    """Conversation id -> newest matching message id, and the ids whose title matches."""
    newest = dict(
        conn.execute(
            "SELECT m.conversation_id, max(m.id) FROM message_index f"
            # SQLite would read the wide table row of every hit; the index has both ids.
            " JOIN messages m INDEXED BY messages_by_id ON m.id = f.rowid"
            " WHERE message_index MATCH ? GROUP BY m.conversation_id",
            (query,),
        ).fetchall()
    )
    # A match inside an attached text file counts for the message it came with.
    _merge_newest(
        newest,
        conn.execute(
            "SELECT m.conversation_id, max(a.message_id) FROM attachment_index f"
            " JOIN attachments a ON a.id = f.rowid"
            " JOIN messages m INDEXED BY messages_by_id ON m.id = a.message_id"
            " WHERE attachment_index MATCH ? GROUP BY m.conversation_id",
            (query,),
        ).fetchall(),
    )
    titled = {
        int(row[0])
        for row in conn.execute(
            "SELECT rowid FROM title_index WHERE title_index MATCH ?", (query,)
        ).fetchall()
    }
    return newest, titled


def _contains(column: str, needle: str) -> tuple[str, str]:
    """SQL testing that ``column`` contains ``needle`` in any case, and its parameter.

    SQLite's own ``instr`` runs in C; its ``lower`` folds ASCII only, which is all an
    ASCII needle needs, and a needle without case (CJK, digits) needs no folding.
    Anything else goes through the Python ``chatbot_contains``.
    """
    if needle.isascii():
        return f"instr(lower({column}), ?) > 0", needle.lower()
    if needle.casefold() == needle == needle.upper():
        return f"instr({column}, ?) > 0", needle
    return f"chatbot_contains({column}, ?)", needle


def _scanned_matches(
    conn: sqlite3.Connection, needle: str
) -> tuple[dict[int, int], set[int], bool]:
    """Like :func:`_indexed_matches` for short queries, over the newest messages only."""
    top = conn.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0]
    floor = int(top) - SHORT_QUERY_SCAN
    in_content, argument = _contains("content", needle)
    newest = dict(
        conn.execute(
            "SELECT conversation_id, max(id) FROM messages"
            f" WHERE id > ? AND {in_content} GROUP BY conversation_id",
            (floor, argument),
        ).fetchall()
    )
    in_text, argument = _contains("a.text", needle)
    _merge_newest(
        newest,
        conn.execute(
            "SELECT m.conversation_id, max(a.message_id) FROM attachments a"
            " JOIN messages m ON m.id = a.message_id"
            f" WHERE a.message_id > ? AND a.text IS NOT NULL AND {in_text}"
            " GROUP BY m.conversation_id",
            (floor, argument),
        ).fetchall(),
    )
    in_title, argument = _contains("title", needle)
    titled = {
        int(row[0])
        for row in conn.execute(f"SELECT id FROM conversations WHERE {in_title}", (argument,))
    }
    complete = (
        floor <= 0
        or conn.execute(
            "SELECT NOT EXISTS (SELECT 1 FROM messages WHERE id <= ?)", (floor,)
        ).fetchone()[0]
    )
    return newest, titled, bool(complete)


def _message_snippet(conn: sqlite3.Connection, message_id: int, needle: str) -> str | None:
    """The snippet for a matching message: from its text, else from the file that matched."""
    row = conn.execute("SELECT content FROM messages WHERE id = ?", (message_id,)).fetchone()
    if row is None:
        return None
    content = str(row[0])
    wanted = " ".join(normalize(needle).split()).casefold()
    if wanted in " ".join(normalize(content).split()).casefold():
        return snippet(content, needle)
    files = conn.execute(
        "SELECT name, text FROM attachments WHERE message_id = ? AND text IS NOT NULL"
        " ORDER BY position",
        (message_id,),
    ).fetchall()
    for name, text in files:
        if wanted in " ".join(normalize(str(text)).split()).casefold():
            return f"{name}: {snippet(str(text), needle)}"
    return snippet(content, needle)


def search(conn: sqlite3.Connection, text: str, *, limit: int) -> SearchResult:
    """Conversations whose title or messages contain ``text``, newest activity first."""
    indexed = normalize(text)
    complete = True
    if len(indexed) >= MIN_INDEXED_CHARS:
        newest, titled = _indexed_matches(conn, _phrase(indexed))
    else:
        newest, titled, complete = _scanned_matches(conn, indexed or text)
    found = set(newest) | titled
    if not found or limit == 0:
        return SearchResult(hits=[], complete=complete)
    # Ids come from the database as integers, so listing them inline is safe.
    listed = ", ".join(str(int(cid)) for cid in found)
    rows = conn.execute(
        f"SELECT {INFO_COLUMNS} FROM conversations c WHERE c.id IN ({listed})"
        " ORDER BY c.updated_at DESC, c.id DESC LIMIT ?",
        (limit,),
    ).fetchall()
    hits: list[SearchHit] = []
    for row in rows:
        info = info_from_row(row)
        message_id = newest.get(info.id)
        shown = None
        if message_id is not None:
            shown = _message_snippet(conn, message_id, indexed or text)
        hits.append(SearchHit(info=info, snippet=shown))
    return SearchResult(hits=hits, complete=complete)
