"""`switchboard import`: an XLSX file the test writes, mapped on the command line, rehearsed, then imported."""
from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from gateway.cli import main


def test_import_command_dry_run_then_real_then_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "sb.db"
    monkeypatch.setenv("SWITCHBOARD_DATABASE__URL", f"sqlite+aiosqlite:///{db}")
    book = openpyxl.Workbook()
    book.active.title = "Лиды"
    book.active.append(["Клиент", "Моб.", "Бюджет"])
    book.active.append(["Анна", "8 916 111-22-33", 1000])
    book.active.append(["Анна", "+7 916 111 22 33", 2000])
    book.active.append(["Борис", "нет", 5])
    book.save(tmp_path / "leads.xlsx")
    args = ["import", str(tmp_path / "leads.xlsx"), "--map", "Клиент=name,Моб.=phone,Бюджет=amount", "--leads"]

    assert main([*args, "--dry-run"]) == 0
    assert "would be created 1, joined 1, skipped 0, invalid 1, leads 2" in capsys.readouterr().out
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT count(*) FROM contacts").fetchone() == (0,)

    assert main(args) == 0
    assert "were created 1, joined 1, skipped 0, invalid 1, leads 2" in capsys.readouterr().out
    assert main([*args, "--on-duplicate", "overwrite"]) == 0
    assert "were created 0, joined 0, skipped 2, invalid 1, leads 0" in capsys.readouterr().out
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT count(*), sum(amount) FROM leads").fetchone() == (2, 300000)

    assert main(["import", str(tmp_path / "leads.xlsx"), "--map", "Клиент=name"]) == 2
    assert "phone, e-mail or messenger" in capsys.readouterr().err


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_run_whose_process_died_is_resumed_by_the_next_run_of_the_same_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "sb.db"
    monkeypatch.setenv("SWITCHBOARD_DATABASE__URL", f"sqlite+aiosqlite:///{db}")
    data = tmp_path / "clients.csv"
    data.write_text("Имя;Телефон\n" + "".join(f"Клиент {n};+7916{n:07d}\n" for n in range(5)), encoding="utf-8")
    args = ["import", str(data), "--map", "Имя=name,Телефон=phone"]
    assert main([*args, "--dry-run"]) == 0                  # makes the schema; a rehearsal is never resumed
    capsys.readouterr()
    with sqlite3.connect(db) as c:                           # a run killed after its first two rows
        options = {"mapping": {"0": "name", "1": "phone"}, "on_match": "fill", "leads": False, "split_name": False,
                   "dry_run": False, "cli": True, "pid": _dead_pid(), "host": socket.gethostname()}
        c.execute("INSERT INTO imports (state, filename, path, options, rows, cursor, counts, created_at, updated_at) "
                  "VALUES ('running', 'clients.csv', ?, ?, 5, 2, '{\"created\": 2}', '2026-12-01', '2026-12-01')",
                  (str(data.resolve()), json.dumps(options)))
        killed = c.execute("SELECT max(id) FROM imports").fetchone()[0]
    assert main(args) == 0
    out = capsys.readouterr()
    assert f"import {killed}: resuming after row 2" in out.err
    assert f"import {killed} done: 5 rows read; were created 5" in out.out    # 2 before the kill + 3 now
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT count(*) FROM contacts").fetchone() == (3,)   # the rows after the cursor only
        assert c.execute("SELECT count(*) FROM imports WHERE state = 'running'").fetchone() == (0,)
