"""Encoding detection of CSV files: byte-order marks, UTF-8, CP949/EUC-KR, else charset detection.

Part of the CSV reader (:mod:`aedetect.data.csv_reader`); the names here are its internals.
"""

from __future__ import annotations

import codecs
from typing import Final

from charset_normalizer import from_bytes

from aedetect.data.filetype import NotText, not_text_message
from aedetect.errors import InvalidInput, quoted

_BOMS: Final = {
    "utf-8-sig": (codecs.BOM_UTF8,),
    "utf-16": (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE),
}


def binary_error(offset: int, detail: str = "", head: bytes = b"") -> InvalidInput:
    """The refusal of bytes that are not text: what the file looks like when its first bytes
    (``head``) tell (a PDF, a workbook, an image ...) with how to make a CSV of it, else where."""
    known = not_text_message(head)
    if known is not None:
        return NotText(known)
    suffix = f": {detail}" if detail else ""
    return InvalidInput(f"not a text CSV file (binary content near byte {offset}{suffix})")


def check_not_binary(head: bytes) -> None:
    """Refuse a file whose first bytes are those of a known binary format, before any decoding
    (a PDF's first lines may decode as text, a workbook's never do)."""
    known = not_text_message(head)
    if known is not None:
        raise NotText(known)


def decodes(sample: bytes, encoding: str, final: bool) -> int | None:
    """None if ``sample`` decodes strictly as ``encoding``, else the offset of the first bad byte.

    With ``final=False`` a character cut at the end of the sample is not an error.
    """
    try:
        codecs.getincrementaldecoder(encoding)("strict").decode(sample, final)
    except UnicodeDecodeError as exc:
        return exc.start
    return None


def split_bom(data: bytes, encoding: str) -> tuple[bytes, str]:
    """``data`` without the byte-order mark that ``encoding`` allows, and the codec for the rest."""
    for bom in _BOMS.get(encoding, ()):
        if data.startswith(bom):
            data = data[len(bom) :]
            break
    else:
        bom = b""
    if encoding == "utf-8-sig":
        return data, "utf-8"
    if encoding == "utf-16":
        return data, "utf-16-be" if bom == codecs.BOM_UTF16_BE else "utf-16-le"
    return data, encoding


def check_codec(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InvalidInput(f"unknown encoding {quoted(encoding)}", field="encoding") from None


CATCH_ALL_ENCODINGS: Final = frozenset({"gb18030"})
"""Encodings that decode almost any bytes, so charset detection naming them found nothing: a
file in one of them must say so (``encoding=``); guessing would garble text silently."""

_NAMES: Final = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "cp949": "CP949 (EUC-KR)"}


def encoding_name(encoding: str) -> str:
    """How messages name an encoding."""
    return _NAMES.get(encoding, encoding)


def mixed_encoding_error(line: int, encoding: str, good_line: int) -> InvalidInput:
    """A file whose lines are in different encodings: refused, never decoded in part or garbled."""
    name = encoding_name(encoding)
    return InvalidInput(
        f"line {line} is not valid {name} text, but line {good_line} is: the file mixes text "
        "encodings. Save the whole file in one encoding (UTF-8 is best) and send it again",
        field="encoding",
    )


def _check_one_encoding(lines: list[bytes], encoding: str) -> None:
    """Refuse ``lines`` when some non-ASCII line decodes as ``encoding`` and another does not."""
    good = bad = None
    for number, line in enumerate(lines, start=1):
        if line.isascii():
            continue
        if decodes(line, encoding, True) is None:
            good = good or number
        else:
            bad = bad or number
        if good is not None and bad is not None:
            raise mixed_encoding_error(bad, encoding, good)


def detect_encoding(sample: bytes, at_eof: bool) -> str:
    """UTF-8 (BOM or not), UTF-16 with BOM, CP949, else what charset detection finds for the
    whole sample. A sample whose lines are partly UTF-8 (or partly CP949) and partly something
    else is refused naming the first line that does not decode; catch-all guesses are refused."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    nul = sample.find(b"\x00")
    if nul >= 0:
        raise binary_error(nul, head=sample)
    bad_utf8 = decodes(sample, "utf-8", at_eof)
    if bad_utf8 is None:
        return "utf-8"
    lines = sample.split(b"\n")
    whole = lines if at_eof or len(lines) == 1 else lines[:-1]
    _check_one_encoding(whole, "utf-8")
    if decodes(sample, "cp949", at_eof) is None:
        return "cp949"
    _check_one_encoding(whole, "cp949")
    best = from_bytes(sample).best()
    if best is None or best.encoding.startswith(("utf_16", "utf_32")) or best.encoding in CATCH_ALL_ENCODINGS:
        raise binary_error(
            bad_utf8, "not valid UTF-8 or CP949 text; if it is text, give its encoding", sample
        )
    return str(best.encoding)
