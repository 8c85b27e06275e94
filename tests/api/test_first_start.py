"""What a start prints about API keys, through real server processes: the first start makes an
admin key and prints it once; every later start says how to make another when it is lost."""

from __future__ import annotations

from pathlib import Path

from support.server import KEY_PATTERN, ServerProcess


def test_a_second_start_tells_how_to_get_a_key_and_prints_none(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    server.stop()
    first = server.log_path.read_text(errors="replace")
    assert len(set(KEY_PATTERN.findall(first))) == 1  # the key, and the sign-in link that carries it
    assert "aedetect keys create --role admin" not in first.split("first start")[0]
    server.start()
    try:
        later = server.log_path.read_text(errors="replace")[len(first) :]
        assert "aedetect keys create --role admin" in later
        assert KEY_PATTERN.findall(later) == []  # the key is never printed again
    finally:
        server.stop()
