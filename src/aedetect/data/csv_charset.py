"""Encoding detection of CSV files: byte-order marks, UTF-8, CP949/EUC-KR, else charset detection.

Part of the CSV reader (:mod:`aedetect.data.csv_reader`); the names here are its internals.
"""

from __future__ import annotations

import codecs
from typing import Final

from charset_normalizer import from_bytes

from aedetect.errors import InvalidInput, quoted

_BOMS: Final = {
    "utf-8-sig": (codecs.BOM_UTF8,),
    "utf-16": (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE),
}


def binary_error(offset: int, detail: str = "") -> InvalidInput:
    suffix = f": {detail}" if detail else ""
    return InvalidInput(f"not a text CSV file (binary content near byte {offset}{suffix})")


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


def detect_encoding(sample: bytes, at_eof: bool) -> str:
    """UTF-8 (BOM or not), UTF-16 with BOM, CP949, else whatever charset detection trusts."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    nul = sample.find(b"\x00")
    if nul >= 0:
        raise binary_error(nul)
    bad_utf8 = decodes(sample, "utf-8", at_eof)
    if bad_utf8 is None:
        return "utf-8"
    if decodes(sample, "cp949", at_eof) is None:
        return "cp949"
    best = from_bytes(sample).best()
    if best is None or best.encoding.startswith(("utf_16", "utf_32")):
        raise binary_error(bad_utf8, "not valid UTF-8 or CP949 text")
    return str(best.encoding)
