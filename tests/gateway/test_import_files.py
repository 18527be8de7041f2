"""Reading and mapping import files the test writes: CSV in UTF-8 (BOM) and Windows-1251, XLSX made by openpyxl."""
from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest

from crm_store.imports.types import ImportRow, Reject
from gateway.imports.columns import BadMapping, RowRules, checked_mapping, guess, name_parts, to_row
from gateway.imports.files import BadFile, open_table

RU = RowRules("RU", leads=True)
HEADER = ["ФИО", "Телефон", "Почта", "Компания", "Сумма", "Этап", "Ответственный", "Дата создания", "Примечание"]
ROW = ["Иванов Иван Иванович", "8 (916) 123-45-67 / +7 495 123 45 67", "Ivan@Example.COM", "ООО Ромашка",
       "1 500,50", "Новый", "anna", "31.12.2025", "звонить после обеда"]


def _csv(path: Path, rows: list[list[str]], encoding: str, delimiter: str = ";") -> Path:
    path.write_bytes("\r\n".join(delimiter.join(r) for r in rows).encode(encoding) + b"\r\n")
    return path


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "cp1251"])
def test_csv_encodings_and_russian_headers_are_read(tmp_path: Path, encoding: str) -> None:
    table = open_table(_csv(tmp_path / "clients.csv", [HEADER, ROW], encoding))
    assert table.encoding == ("utf-8-sig" if encoding.startswith("utf") else "cp1251")
    assert table.delimiter == ";" and table.header == tuple(HEADER)
    [row] = list(table.rows(10))
    assert row[0] == "Иванов Иван Иванович"
    assert guess(table.header) == {0: "name", 1: "phone", 2: "email", 3: "company", 4: "amount", 5: "stage",
                                   6: "owner", 7: "created", 8: "notes"}


def test_a_row_as_it_will_be_stored(tmp_path: Path) -> None:
    table = open_table(_csv(tmp_path / "c.csv", [HEADER, ROW], "utf-8-sig"))
    [cells] = list(table.rows(10))
    row = to_row(1, cells, guess(table.header), RU)
    assert isinstance(row, ImportRow)
    assert row.identities == (("phone", "+79161234567"), ("phone", "+74951234567"), ("email", "ivan@example.com"))
    assert row.company == "ООО Ромашка" and row.name == "Иванов Иван Иванович"
    assert row.lead is not None and row.lead.amount == 150050 and row.lead.owner == "anna"
    assert row.lead.created_at is not None and row.lead.created_at.isoformat() == "2025-12-31T00:00:00+00:00"
    assert name_parts(row.name) == {"last_name": "Иванов", "first_name": "Иван", "middle_name": "Иванович"}
    # The same cells give the same fingerprint: a re-run recognises the row.
    assert to_row(7, cells, guess(table.header), RU).fingerprint == row.fingerprint  # type: ignore[union-attr]


def test_an_unreadable_phone_refuses_the_row_and_says_which(tmp_path: Path) -> None:
    cells = ("Пётр", "12-34", "")
    row = to_row(3, cells, {0: "name", 1: "phone", 2: "email"}, RU)
    assert isinstance(row, Reject) and row.number == 3 and "'12-34'" in row.reason
    nobody = to_row(4, ("Пётр", "", ""), {0: "name", 1: "phone", 2: "email"}, RU)
    assert isinstance(nobody, Reject) and "no phone, e-mail" in nobody.reason


def test_xlsx_values_only_never_formulas(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Клиенты"
    sheet.append(["Имя", "Фамилия", "Телефон", "Email", "Теги"])
    sheet.append(["Анна", "Смирнова", 79161112233, "=HYPERLINK(\"http://x\")", "vip, опт"])
    other = book.create_sheet("Пусто")
    other.append(["x"])
    book.save(tmp_path / "c.xlsx")
    table = open_table(tmp_path / "c.xlsx", "Клиенты")
    assert table.kind == "xlsx" and table.sheets == ("Клиенты", "Пусто")
    [cells] = list(table.rows(10))
    assert cells[2] == "79161112233"           # a number-typed phone keeps its digits
    assert cells[3] == ""                      # a formula's value was never computed (no cached value): nothing
    row = to_row(1, cells, guess(table.header), RowRules("RU"))
    assert isinstance(row, ImportRow) and row.name == "Смирнова Анна" and row.tags == ("vip", "опт")
    with pytest.raises(BadFile, match="no sheet named"):
        open_table(tmp_path / "c.xlsx", "Лист9")


def test_malformed_files_are_refused_with_the_reason(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["Телефон"])
    for n in range(200):
        book.active.append([f"+7916{n:07d}"])
    book.save(tmp_path / "whole.xlsx")
    data = (tmp_path / "whole.xlsx").read_bytes()
    (tmp_path / "cut.xlsx").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadFile, match="XLSX"):
        open_table(tmp_path / "cut.xlsx")
    (tmp_path / "junk.csv").write_bytes(bytes(range(256)) * 10)
    with pytest.raises(BadFile, match="binary"):
        open_table(tmp_path / "junk.csv")
    broken = _csv(tmp_path / "quote.csv", [["Телефон", "Имя"], ['+79161234567', '"Анна'], ["+79161234568", "Б"]],
                  "utf-8", ",")
    with pytest.raises(BadFile, match="line"):
        list(open_table(broken).rows(10))
    many = _csv(tmp_path / "many.csv", [["Телефон"], *([f"+7916{n:07d}"] for n in range(20))], "utf-8")
    with pytest.raises(BadFile, match="more than 10 rows"):
        list(open_table(many).rows(10))
    with zipfile.ZipFile(tmp_path / "notbook.xlsx", "w") as z:
        z.writestr("hello.txt", "not a workbook")
    with pytest.raises(BadFile):
        open_table(tmp_path / "notbook.xlsx")


def test_a_user_mapping_is_checked_against_the_file() -> None:
    header = ("Tel", "Who")
    assert checked_mapping({"Tel": "phone", "Who": "name"}, header) == {0: "phone", 1: "name"}
    with pytest.raises(BadMapping, match="no column"):
        checked_mapping({"Nope": "phone"}, header)
    with pytest.raises(BadMapping, match="not a field"):
        checked_mapping({"Tel": "phone", "Who": "shoe_size"}, header)
    with pytest.raises(BadMapping, match="told"):
        checked_mapping({"Who": "name"}, header)
