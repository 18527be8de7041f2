"""`switchboard import`: an XLSX file the test writes, mapped on the command line, rehearsed, then imported."""
from __future__ import annotations

import sqlite3
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
