"""What a file that is not CSV text looks like, from its first bytes (magic numbers), so that a
refusal can say "this looks like a PDF document" and how to make a CSV of it, instead of
"binary content near byte 5".

Only signatures that CSV text never starts with are used; the Excel workbook (a ZIP archive that
holds ``xl/workbook.xml``) is told apart from other ZIP archives by the names of its parts, which
ZIP stores uncompressed in the first bytes.
"""

from __future__ import annotations

from typing import Final

from aedetect.errors import InvalidInput

ZIP_MAGIC: Final = (b"PK\x03\x04", b"PK\x05\x06")
OLE2_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

SAVE_AS: Final = "save it as CSV (UTF-8) or as an Excel workbook (.xlsx) and send that"

_SIGNATURES: Final = (
    (b"%PDF-", "a PDF document", "export the table from the program that made the PDF as CSV or .xlsx"),
    (b"\x1f\x8b", "a gzip-compressed file", "decompress it (gunzip) and send the CSV inside"),
    (b"BZh", "a bzip2-compressed file", "decompress it (bunzip2) and send the CSV inside"),
    (b"\xfd7zXZ\x00", "an xz-compressed file", "decompress it (unxz) and send the CSV inside"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract it and send the CSV inside"),
    (b"Rar!\x1a\x07", "a RAR archive", "extract it and send the CSV inside"),
    (b"PAR1", "a Parquet file", "convert it to CSV, e.g. pandas.read_parquet(path).to_csv(out, index=False)"),
    (b"\x89PNG\r\n\x1a\n", "an image (PNG)", f"an image holds no table: {SAVE_AS}"),
    (b"\xff\xd8\xff", "an image (JPEG)", f"an image holds no table: {SAVE_AS}"),
    (b"GIF87a", "an image (GIF)", f"an image holds no table: {SAVE_AS}"),
    (b"GIF89a", "an image (GIF)", f"an image holds no table: {SAVE_AS}"),
    (b"II*\x00", "an image (TIFF)", f"an image holds no table: {SAVE_AS}"),
    (b"MM\x00*", "an image (TIFF)", f"an image holds no table: {SAVE_AS}"),
    (
        OLE2_MAGIC,
        "an old Office document (OLE2: an .xls workbook or a .doc file)",
        "open it in Excel or LibreOffice and save it as .xlsx or CSV",
    ),
)

_ZIP_KINDS: Final = (
    (
        b"xl/",
        "an Excel workbook (.xlsx)",
        "the service and the CLI read workbooks (with openpyxl installed), or " + SAVE_AS,
    ),
    (b"word/", "a Word document (.docx)", "a document is not a table: " + SAVE_AS),
    (b"ppt/", "a PowerPoint presentation (.pptx)", "a presentation is not a table: " + SAVE_AS),
    (b"opendocument.spreadsheet", "an OpenDocument spreadsheet (.ods)", "save it as .xlsx or CSV"),
)


class NotText(InvalidInput):
    """A file refused for what it is (a PDF, an image, a workbook that cannot be read ...): its
    message says so and how to make a CSV of it, and needs no "not a readable CSV" before it."""


_BZIP2_BLOCKS: Final = (b"1AY&SY", b"\x17rE8P\x90")


def _text_byte(byte: bytes) -> bool:
    """Whether ``byte`` (one byte, or none at the end) may follow in a text file."""
    return not byte or byte in b"\t\r\n" or 0x20 <= byte[0] < 0x7F or byte[0] >= 0x80


def looks_like(head: bytes) -> tuple[str, str] | None:
    """What a file starting with ``head`` is, and how to make a CSV of it; ``None`` when its
    first bytes are not a known binary format (it may be text)."""
    if head.startswith(ZIP_MAGIC):
        for marker, what, fix in _ZIP_KINDS:
            if marker in head:
                return what, fix
        return "a ZIP archive", "extract it and send the CSV inside"
    for magic, what, fix in _SIGNATURES:
        if head.startswith(magic):
            if magic == b"PAR1" and _text_byte(head[4:5]):
                continue  # a header cell "PAR1..." of a text file
            if magic == b"BZh" and head[4:10] not in _BZIP2_BLOCKS:
                continue
            return what, fix
    return None


def not_text_message(head: bytes) -> str | None:
    """The refusal of a file that looks like a known binary format, or ``None``."""
    found = looks_like(head)
    if found is None:
        return None
    what, fix = found
    return f"this looks like {what}, not a text CSV file: {fix}"
