"""What SQLite's trigram index is asked for a needle: at most two short pieces of it, the row checks the rest.

Each trigram asked costs a look-up in every segment of the FTS5 index (26 segments at a million leads,
about 0.13 ms a trigram), and a common trigram ("cli", "exa", "912") makes FTS5 step through its long
doclist for every candidate the rarer ones propose: an e-mail address asked as the phrase of its 21
trigrams took 55-70 ms at a million leads, the phrase of its digits 0.6 ms. So a needle is asked as one
short piece, the one with the most digits (phones, e-mails and numbers differ in their digits), or as
its first and last trigram when it has few digits; every lead found is then checked for the whole needle
on its own search text (crm_store.search), so the leads found are exactly those containing it.

The index keeps no positions (`detail=none`, migration 0007: a smaller index, cheaper to write and merge
on every intake commit), so it cannot match a phrase of several trigrams: a piece is asked as its trigrams
with AND, which finds every text holding them anywhere; the row check keeps those where they are adjacent.
"""
from __future__ import annotations

PIECE = 6           # characters of the piece picked for its digits: 4 trigrams
DIGITS = 3          # fewer digits than this in the best piece: not a number, ask for both ends instead
TRIGRAM = 3         # the tokenizer's token: a needle's trigrams are what the index can be asked for


def term(trigram: str) -> str:
    """One trigram as an FTS5 string (a single token: no phrase, which `detail=none` cannot match)."""
    return '"' + trigram.replace('"', '""') + '"'


def trigrams(piece: str) -> str:
    """Every trigram of `piece` (3 characters or more), with AND: each text containing `piece` matches."""
    return " AND ".join(term(t) for t in dict.fromkeys(piece[at:at + TRIGRAM]
                                                       for at in range(len(piece) - TRIGRAM + 1)))


def fts_query(needle: str) -> str:
    """The FTS5 MATCH expression whose matches include every text containing `needle` (3 characters or more)."""
    if len(needle) <= PIECE - 1:      # three trigrams or fewer: all of them are cheap
        return trigrams(needle)
    starts = range(len(needle) - PIECE + 1)
    # The rightmost of the pieces with the most digits: a phone's last digits tell it apart, its prefix does not.
    best = max(starts, key=lambda at: (sum(ch.isdigit() for ch in needle[at:at + PIECE]), at))
    piece = needle[best:best + PIECE]
    if sum(ch.isdigit() for ch in piece) >= DIGITS:
        return trigrams(piece)
    return f"{term(needle[:TRIGRAM])} AND {term(needle[-TRIGRAM:])}"
