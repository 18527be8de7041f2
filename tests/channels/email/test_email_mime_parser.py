"""The feed parser without its per-mail boundary regex reads every mail exactly as `BytesParser` does, and the
parts it makes (`header_policy.MailPart`) give the library's content type however often and after any change."""
from __future__ import annotations

import os
import re
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from channels.email import header_policy, mime_parser
from channels.email.header_policy import POLICY
from channels.email.mime_parser import BoundaryMatcher, boundary_pattern_separator, parse_bytes

CORPUS = Path(__file__).with_name("corpus")


def shape(message: EmailMessage) -> list[object]:
    """Everything the parser decides, part by part: raw headers, payload, preamble, epilogue, defects."""
    return [(tuple(part._headers), part.is_multipart(), None if part.is_multipart() else part.get_payload(),
             part.preamble, part.epilogue, [type(d).__name__ for d in part.defects]) for part in message.walk()]


def assert_same(raw: bytes) -> None:
    expected, found = BytesParser(policy=POLICY).parsebytes(raw), parse_bytes(raw, POLICY)
    assert shape(found) == shape(expected)
    try:
        written = expected.as_bytes()
    except UnicodeEncodeError:      # the library cannot write 8-bit boundaries back either
        with pytest.raises(UnicodeEncodeError):
            found.as_bytes()
    else:
        assert found.as_bytes() == written


def boundary_pattern(separator: str) -> str:
    # As `email.feedparser.FeedParser._parsegen` writes it.
    return ('(?P<sep>' + re.escape(separator) + r')(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$')


def cyrillic_alternative(boundary: str | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = "Анна Смирнова <anna@example.ru>"
    message["To"] = "sales@shop.example"
    message["Subject"] = "Заявка на поставку"
    message.set_content("Здравствуйте!\nПерезвоните по номеру +7 916 123-45-67.\n-- \nАнна\n")
    message.add_alternative("<p>Здравствуйте!</p><p>Перезвоните: <b>+7 916 123-45-67</b></p>", subtype="html")
    if boundary is not None:
        message.set_boundary(boundary)
    return message.as_bytes()


def with_attachments() -> bytes:
    message = EmailMessage()
    message["From"] = "buyer@firm.ru"
    message["Subject"] = "Прайс"
    message.set_content("Прайс во вложении.", charset="koi8-r", cte="8bit")
    message.add_alternative("<p>Прайс во вложении.</p>", subtype="html", charset="windows-1251", cte="quoted-printable")
    message.add_attachment(b"%PDF-1.4 " + bytes(range(256)) * 40, maintype="application", subtype="pdf",
                           filename="Прайс 2026.pdf")
    message.add_attachment("a;b\n1;2\n", subtype="csv", filename="остатки.csv")
    inner = EmailMessage()
    inner["Subject"] = "Fwd: заказ"
    inner.set_content("Вложенное письмо")
    inner.add_attachment(b"\x89PNG\r\n" + bytes(500), maintype="image", subtype="png", filename="logo.png")
    message.add_attachment(inner)
    return message.as_bytes()


def nested_related() -> bytes:
    message = EmailMessage()
    message["From"] = "shop@example.com"
    message.set_content("plain")
    message.add_alternative("<img src='cid:logo'>", subtype="html")
    html = message.get_payload()[1]
    html.add_related(b"GIF89a" + bytes(100), maintype="image", subtype="gif", cid="<logo>")
    message.add_attachment(b"zip" * 100, maintype="application", subtype="zip", filename="a.zip")
    return message.as_bytes()


BROKEN = [
    # the close boundary missing
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n",
    # no start boundary at all
    b"Content-Type: multipart/alternative; boundary=zz\r\n\r\njust text\r\nmore\r\n",
    # no boundary parameter
    b"Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\ntext\r\n--x--\r\n",
    # boundary lines with trailing white space, a closing one without a line end, LF and CR endings
    b"Content-Type: multipart/mixed; boundary=\"a b\"\n\npre\n--a b \t\nContent-Type: text/plain\n\none\n--a b--",
    b"Content-Type: multipart/mixed; boundary=q\r\rpreamble\r--q\r\rbody\r--q--\repilogue\r",
    # an inner boundary that starts with the outer one, and lines that only look like boundaries
    b"Content-Type: multipart/mixed; boundary=\"==x\"\r\n\r\n--==x\r\nContent-Type: multipart/alternative;"
    b" boundary=\"==x.1\"\r\n\r\n--==x.1\r\n\r\n--==x.1a not me\r\n---==x.1\r\n--==x.1--\r\n--==x--junk\r\n"
    b"--==x\r\n\r\nlast\r\n--==x--\r\n\r\nepilogue\r\n",
    # characters the regex escaping cares about, repeated boundary lines, a part with no headers
    b"Content-Type: multipart/mixed; boundary=\"(+?.*)[$^]{|}\\\\#&~\"\r\n\r\n--(+?.*)[$^]{|}\\#&~\r\n"
    b"--(+?.*)[$^]{|}\\#&~\r\n\r\nbody\r\n--(+?.*)[$^]{|}\\#&~--\r\n",
    # a multipart with a transfer encoding it may not have, and 8-bit bytes in the boundary
    b"Content-Type: multipart/mixed; boundary=\"\xd0\xb6\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"--\xd0\xb6\r\n\r\n\xd0\xb6\r\n--\xd0\xb6--\r\n",
    # truncated in the middle of a nested part
    b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n"
    b"\r\n--i\r\nContent-Type: text/plain\r\n\r\ncut he",
]


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.eml")), ids=lambda p: p.name)
def test_the_corpus_parses_the_same(path: Path) -> None:
    assert_same(path.read_bytes())


@pytest.mark.parametrize("raw", [cyrillic_alternative(), cyrillic_alternative("=_Part_0_1.1765123"),
                                 with_attachments(), nested_related()] + BROKEN)
def test_realistic_and_broken_mail_parses_the_same(raw: bytes) -> None:
    assert_same(raw)


def test_the_boundary_regex_is_not_compiled_per_mail(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[str] = []
    real = re.compile

    def counting(pattern: str, flags: int = 0) -> re.Pattern[str]:
        compiled.append(pattern)
        return real(pattern, flags)

    raw = with_attachments()
    monkeypatch.setattr(mime_parser.re, "compile", counting)    # the `re` module itself, everyone's
    parse_bytes(raw, POLICY)
    assert compiled == []


@pytest.mark.parametrize("separator", ["--b", "--=_Part_0_1.2", "--(+?.*)[$^]{|}\\#&~", "--a b", "--ж", "--\n"])
def test_a_boundary_pattern_gives_back_its_separator(separator: str) -> None:
    assert boundary_pattern_separator(boundary_pattern(separator)) == separator


@pytest.mark.parametrize("pattern", ["(?P<sep>--a.b)(?P<end>--)?(?P<ws>[ \\t]*)(?P<linesep>\\r\\n|\\r|\\n)?$",
                                     "(?P<sep>--a)(?P<end>--)?(?P<ws>[ \\t]*)(?P<linesep>\\r\\n|\\n)?$", r"\r\n|\r|\n"])
def test_any_other_pattern_is_left_to_re(pattern: str) -> None:
    # `.` unescaped is not a literal; another tail is another pattern.
    assert boundary_pattern_separator(pattern) is None


BCHARS = st.sampled_from(list("abcXYZ019'()+_,-./:=? ") + ["ж", "\\", "$", "*", "[", "|", "\t"])
LINES = st.sampled_from(["", " ", "\t", "--", "-- ", "--x", "--\t ", "junk", "\r", "\n"])


@settings(max_examples=300, deadline=None)
@given(separator_body=st.text(BCHARS, min_size=1, max_size=20), tail=st.lists(LINES, max_size=3).map("".join),
       ending=st.sampled_from(["", "\r\n", "\n", "\r", "\r\n\r\n", "x\n"]))
@example(separator_body="b", tail="--", ending="\r\n")
@example(separator_body="b", tail="-- \t", ending="")
def test_the_matcher_answers_as_the_regex(separator_body: str, tail: str, ending: str) -> None:
    separator = "--" + separator_body
    regex = re.compile(boundary_pattern(separator))
    matcher = BoundaryMatcher(separator)
    for line in (separator + tail + ending, separator[:-1] + tail + ending, "-" + separator + ending, tail + ending):
        expected, found = regex.match(line), matcher.match(line)
        assert (found is None) == (expected is None), line
        if expected is not None and found is not None:
            assert (found.group("end"), found.group("linesep")) == (expected.group("end"), expected.group("linesep"))


@settings(max_examples=150, deadline=None)
@given(boundary=st.text(BCHARS, min_size=1, max_size=15).filter(lambda b: b.strip() == b and '"' not in b),
       parts=st.lists(st.lists(st.one_of(LINES, st.text(BCHARS, max_size=10)), max_size=4), min_size=0, max_size=4),
       closed=st.booleans(), newline=st.sampled_from(["\r\n", "\n"]))
def test_generated_multiparts_parse_the_same(boundary: str, parts: list[list[str]], closed: bool,
                                             newline: str) -> None:
    # Bodies full of lines that start like the boundary, the boundary itself with suffixes, and none at all.
    lines = [f'Content-Type: multipart/mixed; boundary="{boundary}"', "", "preamble"]
    for body in parts:
        lines += [f"--{boundary}", "Content-Type: text/plain; charset=utf-8", ""]
        lines += [f"--{boundary}{line}" if i % 2 else line for i, line in enumerate(body)]
    if closed:
        lines += [f"--{boundary}--", "epilogue"]
    assert_same(newline.join(lines).encode("utf-8", "surrogateescape"))


HEADER_NAMES = st.sampled_from(["From", "To", "Subject", "Message-ID", "Content-Type", "content-type",
                                "Content-Transfer-Encoding", "Content-Disposition", "X-Mailer", "Received"])
HEADER_VALUES = st.one_of(
    st.sampled_from(["text/plain; charset=utf-8", "text/html", "TEXT/PLAIN", "multipart/mixed; boundary=b",
                     "message/rfc822", "message/delivery-status", "Multipart/Alternative; boundary=x", "image/png",
                     "base64", "8bit", "quoted-printable", "attachment; filename=a.txt", "text", "a/b/c", "",
                     "Client <c@example.ru>", "=?utf-8?b?0JfQsNGP0LLQutCw?= 1", "<id@example.ru>"]),
    st.text(st.sampled_from(list("ab :;=\t\"<>@\r\n-") + ["ж", "\udcd0", "\x00", "\x0b", "\x85"]), max_size=12))
BODY_LINES = st.sampled_from(["", "text", " folded?", "--b", "--b--", "From here", "Subject: no", ".", "\r", "\n",
                              "\udcd0\udcb6", "\x0c", "ж"])
ENDINGS = st.sampled_from(["\r\n", "\r\n", "\n", "\r"])


@settings(max_examples=400, deadline=None)
@given(headers=st.lists(st.tuples(HEADER_NAMES, st.sampled_from([": ", ":", ":\t", " : ", ": \r\n "]), HEADER_VALUES,
                                  ENDINGS), max_size=6),
       blank=st.sampled_from(["\r\n", "\r\n", "\n", "", " \r\n"]),
       body=st.lists(st.tuples(BODY_LINES, ENDINGS), max_size=5), last=st.sampled_from(["", "tail"]))
def test_generated_single_part_mail_parses_the_same(headers: list[tuple[str, str, str, str]], blank: str,
                                                    body: list[tuple[str, str]], last: str) -> None:
    # Mostly the shape built without the feed parser (plain CRLF header lines, a blank line, any body), and the
    # shapes next to it that are not: folded, odd or 8-bit header lines, LF or CR endings, MIME types parsed on.
    text = "".join(n + c + v + e for n, c, v, e in headers) + blank + "".join(line + e for line, e in body) + last
    assert_same(text.encode("utf-8", "surrogateescape"))


@pytest.mark.parametrize("raw", [
    b"From: a@b.c\r\nSubject: hi\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\xd0\x97\xd0\xb0\r\n",
    b"From: a@b.c\r\n\r\n", b"From: a@b.c\r\n\r\n\r\n\r\nbody after blank lines\r\n",
    b"From:a@b.c\r\nX-Empty:\r\n\r\nFrom the body\r\n", b"Subject: tabs\tinside \r\n\r\nbody",
    b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody\r\n",
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\npart\r\n--b--\r\n",
])
def test_plain_single_part_mail_parses_the_same(raw: bytes) -> None:
    assert_same(raw)


def test_a_plain_single_part_mail_skips_the_feed_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_parser(**_: object) -> None:
        raise AssertionError("the feed parser was used")
    monkeypatch.setattr(mime_parser._FEEDPARSER, "FeedParser", no_parser)
    message = parse_bytes(b"From: a@b.c\r\nContent-Type: text/plain\r\n\r\nhello\r\n", POLICY)
    assert (message["from"], message.get_payload(), type(message).__name__) == ("a@b.c", "hello\r\n", "MailPart")


def library_types(message: EmailMessage) -> list[str]:
    return [EmailMessage.get_content_type(part) for part in message.walk()]


def our_types(message: EmailMessage) -> list[str]:
    return [part.get_content_type() for part in message.walk()]


DIGEST = (b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: inner\r\n\r\nbody\r\n"
          b"--d\r\nContent-Type: text/plain\r\n\r\nplain\r\n--d--\r\n")
ODD_TYPES = [b"Content-Type: TEXT/HTML; charset=x\r\n\r\n<p>a</p>", b"Content-Type: text\r\n\r\nno slash",
             b"Content-Type: a/b/c\r\n\r\ntwo slashes", b"Content-Type:\r\n\r\nempty",
             b"Content-Type: text/plain\r\nContent-Type: text/html\r\n\r\ntwo headers"]


@pytest.mark.parametrize("raw", [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))] +
                         [with_attachments(), nested_related(), DIGEST] + BROKEN + ODD_TYPES)
def test_each_part_has_the_library_s_content_type_however_often_asked(raw: bytes) -> None:
    message = parse_bytes(raw, POLICY)
    assert all(type(part).__name__ == "MailPart" for part in message.walk())
    assert our_types(message) == library_types(message)
    assert our_types(message) == library_types(message)     # the second time from what the first kept


@pytest.mark.parametrize("change", ["default", "replace", "delete", "set_type", "add", "set_param", "same_text"])
def test_a_changed_part_is_asked_again(change: str) -> None:
    message = parse_bytes(DIGEST, POLICY)
    for part in message.walk():
        part.get_content_type()     # kept
        if change == "default":
            part.set_default_type("message/rfc822" if part.get_default_type() == "text/plain" else "text/plain")
        elif change == "replace" and "Content-Type" in part:
            part.replace_header("Content-Type", "image/png")
        elif change == "delete":
            del part["Content-Type"]
        elif change == "set_type":
            part.set_type("text/html")
        elif change == "add" and "Content-Type" not in part:
            part["Content-Type"] = "application/pdf"
        elif change == "set_param":
            part.set_param("charset", "koi8-r")
        elif change == "same_text" and "Content-Type" in part:
            part.replace_header("Content-Type", str(part["Content-Type"]))
    assert our_types(message) == library_types(message)
    assert [p.get_content_charset() for p in message.walk()] == \
        [EmailMessage.get_content_charset(p) for p in message.walk()]


LIBRARY_POLICY = POLICY.clone(message_factory=EmailMessage)


def readings(message: EmailMessage) -> list[object]:
    """What the readers of MIME headers say of every part (they split the header's text again)."""
    found: list[object] = []
    for part in message.walk():
        found.append((part.get_content_type(), part.get_params(), part.get_params(unquote=False),
                      part.get_params(header="content-disposition"), part.get_boundary(), part.get_filename(),
                      part.get_content_charset(), part.get_content_charset("none"), part.get_content_charset(),
                      part.get_content_disposition(), part.is_attachment(),
                      part.get_param("name"), part.get_param("filename", header="Content-Disposition")))
    return found


def assert_same_readings(raw: bytes) -> None:
    ours, library = parse_bytes(raw, POLICY), parse_bytes(raw, LIBRARY_POLICY)
    assert type(library).__name__ == "EmailMessage"
    assert readings(ours) == readings(library)


@pytest.mark.parametrize("raw", [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))] +
                         [cyrillic_alternative(), with_attachments(), nested_related(), DIGEST] + BROKEN + ODD_TYPES)
def test_mime_headers_read_as_the_library_reads_them(raw: bytes) -> None:
    assert_same_readings(raw)


TOKEN = st.one_of(st.text(st.sampled_from(list("aZ09-._+")), min_size=1, max_size=8),
                  st.text(st.sampled_from(list("aZ09-._+!#$%&'*^`{|}~")), min_size=1, max_size=8))
QUOTED = st.text(st.sampled_from(list("aZ09 -._;=,:/?@[]<>") + ["ж", "\\", '"', "(", ")", "*", "?"]), max_size=10)
SPACE = st.sampled_from(["", " ", "  ", "\t", "\r\n ", "\r\n\t"])
PARAM_NAME = st.sampled_from(["boundary", "charset", "name", "filename", "format", "Name", "FILENAME", "x"])
PARAM = st.one_of(
    st.tuples(PARAM_NAME, SPACE, TOKEN).map(lambda t: f"{t[0]}={t[1]}{t[2]}"),
    st.tuples(PARAM_NAME, SPACE, QUOTED).map(lambda t: f'{t[0]}={t[1]}"{t[2]}"'),
    st.tuples(PARAM_NAME, st.sampled_from(["utf-8''%D0%96.pdf", "koi8-r'ru'%E6", "us-ascii''a%20b", "''x"]))
    .map(lambda t: f"{t[0]}*={t[1]}"),
    st.tuples(PARAM_NAME, TOKEN, TOKEN).map(lambda t: f"{t[0]}*0={t[1]}; {t[0]}*1={t[2]}"),
    st.sampled_from(["", "bare", "=x", "x=", "(comment)", 'a="unclosed', "=?utf-8?b?0JY=?="]),
)
MIME_TYPE = st.one_of(st.tuples(TOKEN, TOKEN).map("/".join),
                      st.sampled_from(["multipart/mixed", "MULTIPART/Alternative", "text", "a/b/c", "", "text/plain (x)"]))


@pytest.mark.parametrize("value", ['multipart/mixed; boundary="----=_Part_1_2.3"', "multipart/alternative;\tboundary=b1",
                                   "text/plain; charset=utf-8; format=flowed", 'attachment; filename="schet 2026.pdf"',
                                   'application/pdf; name="a;b=c.pdf"', "inline", " text/html ; charset=UTF-8 "])
def test_the_usual_mime_values_are_read_without_the_parser(value: str) -> None:
    # These take the shortcut, so the comparisons above and below exercise it.
    assert header_policy._plain_mime_value(value)
    assert_same_readings(f"Content-Type: {value}\r\nContent-Disposition: {value}\r\n\r\nbody".encode())


@settings(max_examples=int(os.environ.get("MIME_EXAMPLES", "400")), deadline=None)
@given(ctype=MIME_TYPE, params=st.lists(st.tuples(SPACE, PARAM, SPACE), max_size=4),
       disposition=st.sampled_from(["", "attachment", "inline", "Attachment ", "x"]),
       disposition_params=st.lists(st.tuples(SPACE, PARAM, SPACE), max_size=3), trailing=st.sampled_from(["", ";", "; "]))
@example(ctype="multipart/mixed", params=[("", 'boundary="----=_Part_1_2.3"', "")], disposition="",
         disposition_params=[], trailing="")
def test_generated_mime_headers_read_as_the_library_reads_them(
        ctype: str, params: list[tuple[str, str, str]], disposition: str,
        disposition_params: list[tuple[str, str, str]], trailing: str) -> None:
    content_type = ctype + "".join(f";{a}{p}{b}" for a, p, b in params) + trailing
    lines = [f"Content-Type: {content_type}"]
    if disposition:
        lines.append("Content-Disposition: " + disposition + "".join(f";{a}{p}{b}" for a, p, b in disposition_params))
    assert_same_readings(("\r\n".join(lines) + "\r\n\r\nbody\r\n").encode("utf-8"))


def test_plain_parameters_split_once_read_the_same_in_the_next_mail_and_are_not_shared() -> None:
    raw = with_attachments()
    first = parse_bytes(raw, POLICY)
    params = first.get_params(unquote=False)
    assert params is not None
    params.append(("spoiled", "yes"))      # a caller's own list: changing it changes no later reading
    for part in first.walk():
        (part.get_params(unquote=False) or []).clear()
    assert readings(parse_bytes(raw, POLICY)) == readings(parse_bytes(raw, LIBRARY_POLICY))
    assert readings(first) == readings(parse_bytes(raw, LIBRARY_POLICY))
