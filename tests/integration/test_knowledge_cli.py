"""``chatbot knowledge ...`` through the installed command, as a person types it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from chatbot.cells import cell_width
from tests.support.helpers import assert_one_line_error, run_chatbot


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "handbook"
    (folder / "net").mkdir(parents=True)
    (folder / "net" / "dns.md").write_text(
        "# Networking\n\n## DNS\n\nWhen names do not resolve, flush the resolver cache with "
        "`resolvectl flush-caches` and check /etc/resolv.conf.\n"
    )
    (folder / "printing.rst").write_text(
        "Printing\n========\n\nA stuck print queue clears with ``cancel -a`` and a restart of "
        "CUPS.\n"
    )
    (folder / "page.html").write_text(
        "<html><body><h1>VPN</h1><p>The VPN client needs port 1194 open.</p></body></html>"
    )
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(64))
    return folder


def test_add_list_search_update_remove(docs: Path) -> None:
    added = run_chatbot("knowledge", "add", "it", str(docs))
    assert added.returncode == 0, added
    assert "it: 3 files (3 read)" in added.stdout
    assert "skipped 1: 1 image" in added.stdout and "handbook/photo.jpg: image" in added.stdout
    assert added.stderr == ""  # no progress bar: stderr is not a terminal

    listing = run_chatbot("knowledge", "list")
    assert listing.returncode == 0
    header, row = listing.stdout.splitlines()
    assert header.split() == ["NAME", "FILES", "PASSAGES", "TEXT", "UPDATED", "SKIPPED", "VECTORS"]
    assert row.split()[:3] == ["it", "3", "3"]

    detail = run_chatbot("knowledge", "list", "it").stdout
    assert "handbook/net/dns.md  markdown, 1 passage," in detail
    assert "handbook/photo.jpg  skipped: image" in detail

    found = run_chatbot("knowledge", "search", "it", "names do not resolve, what now?")
    assert found.returncode == 0
    first = found.stdout.splitlines()[0]
    assert first == "[1] it: handbook/net/dns.md § Networking › DNS (lines 3–5)"
    assert "resolvectl flush-caches" in found.stdout

    html = run_chatbot("knowledge", "search", "it", "which port does the vpn need")
    assert html.stdout.splitlines()[0] == "[1] it: handbook/page.html § VPN"

    removed = run_chatbot("knowledge", "remove", "it")
    assert removed.returncode == 0 and "your files were not touched" in removed.stdout
    assert (docs / "net" / "dns.md").exists()
    gone = run_chatbot("knowledge", "search", "it", "dns")
    assert "no knowledge base 'it'" in assert_one_line_error(gone, status=2)


def test_an_unchanged_update_is_fast_and_a_deleted_file_leaves_the_results(
    docs: Path, tmp_path: Path
) -> None:
    for n in range(300):
        (docs / f"note{n}.md").write_text(f"# Note {n}\n\nTopic number {n} is about item{n}.\n")
    assert run_chatbot("knowledge", "add", "it", str(docs)).returncode == 0
    started = time.monotonic()
    again = run_chatbot("knowledge", "update", "it")
    elapsed = time.monotonic() - started
    assert "(0 read, 303 unchanged)" in again.stdout
    assert elapsed < 5  # about a second with the interpreter's start; generous for CI

    (docs / "net" / "dns.md").unlink()
    after = run_chatbot("knowledge", "update", "it")
    assert "1 removed" in after.stdout
    search = run_chatbot("knowledge", "search", "it", "resolver cache resolvectl")
    assert "dns.md" not in search.stdout


def test_a_hostile_document_reaches_the_terminal_without_its_escapes(docs: Path) -> None:
    (docs / "evil.md").write_text(
        "# Trap\x1b]0;pwned\x07\n\nclear \x1b[2J\x1b]52;c;ZXZpbA==\x07 the screen for resolver\n"
    )
    assert run_chatbot("knowledge", "add", "it", str(docs)).returncode == 0
    found = run_chatbot("knowledge", "search", "it", "screen resolver trap")
    assert "evil.md" in found.stdout
    assert "\x1b" not in found.stdout and "\x07" not in found.stdout


def test_mistakes_are_one_line_with_status_2(docs: Path, tmp_path: Path) -> None:
    missing = run_chatbot("knowledge", "add", "it", str(tmp_path / "nowhere"))
    assert "no such file or folder" in assert_one_line_error(missing, status=2)
    bad_name = run_chatbot("knowledge", "add", "Bad Name!", str(docs))
    assert "not a knowledge base name" in assert_one_line_error(bad_name, status=2)
    assert run_chatbot("knowledge", "list").stdout.startswith("no knowledge bases yet")


def test_help_names_every_command_and_what_is_read() -> None:
    shown = run_chatbot("knowledge", "--help").stdout
    for word in ("add", "list", "update", "remove", "search", "PDF", "HTML", "Markdown"):
        assert word in shown


def test_files_a_base_cannot_read_are_retried_only_once_they_change(docs: Path) -> None:
    run_chatbot("knowledge", "add", "it", str(docs))
    again = run_chatbot("knowledge", "update", "it")
    assert "handbook/photo.jpg" not in again.stdout  # known, not listed again
    assert "skipped 1: 1 image" in again.stdout
    photo = docs / "photo.jpg"
    photo.write_text("# Photo policy\n\nPhotos go in the shared drive.\n")
    os.utime(photo, ns=(photo.stat().st_atime_ns, photo.stat().st_mtime_ns + 10**10))
    changed = run_chatbot("knowledge", "update", "it")
    assert "(1 read, 3 unchanged)" in changed.stdout and "skipped" not in changed.stdout


def test_in_japanese_the_output_and_the_reasons_are_japanese(docs: Path) -> None:
    ja = {"CHATBOT_LANG": "ja"}
    added = run_chatbot("knowledge", "add", "it", str(docs), extra_env=ja)
    assert added.returncode == 0, added
    assert "it: ファイル 3 件(3 件読み込み)" in added.stdout
    # The reason was found in English and stored; it is shown in the reader's language.
    assert "handbook/photo.jpg: 画像" in added.stdout
    detail = run_chatbot("knowledge", "list", "it", extra_env=ja).stdout
    assert "handbook/photo.jpg  読み飛ばし: 画像" in detail
    assert "handbook/photo.jpg  skipped: image" in run_chatbot("knowledge", "list", "it").stdout
    header, row = run_chatbot("knowledge", "list", extra_env=ja).stdout.splitlines()
    assert header.split()[:3] == ["名前", "ファイル", "箇所"]
    assert row.split()[:3] == ["it", "3", "3"]
    # The count sits under its heading's last cell (a kanji or kana is two cells wide).
    assert cell_width(header[: header.index("ファイル") + 4]) == len(row[: row.index(" 3") + 2])
    missing = run_chatbot("knowledge", "search", "nope", "dns", extra_env=ja)
    assert "ナレッジベース 'nope' はありません" in assert_one_line_error(missing, status=2)


def test_compressed_documents_are_read_through_as_debian_ships_them(tmp_path: Path) -> None:
    import gzip

    folder = tmp_path / "doc" / "openvpn"
    folder.mkdir(parents=True)
    (folder / "README.Debian.gz").write_bytes(
        gzip.compress(b"OpenVPN for Debian\n\nThe tun device needs the tun kernel module.\n")
    )
    (folder / "changelog.gz").write_bytes(gzip.compress(b"\x7fELF not text"))
    added = run_chatbot("knowledge", "add", "docs", str(tmp_path / "doc"))
    assert added.returncode == 0, added
    assert "docs: 1 file (1 read), 1 passage," in added.stdout
    assert "changelog.gz: program" in added.stdout
    found = run_chatbot("knowledge", "search", "docs", "tun kernel module")
    assert found.stdout.splitlines()[0] == "[1] docs: doc/openvpn/README.Debian.gz (lines 1–3)"
