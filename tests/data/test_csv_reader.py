"""The CSV reader on small files the tests write: encodings, delimiters, headers, types, errors,
chunked reading and size limits."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aedetect.data import CsvFormat, iter_csv_chunks, read_csv, sniff_csv
from aedetect.data.csv_reader import SAMPLE_BYTES
from aedetect.data.csv_stream import BLOCK_BYTES, LONG_BLOCK_BYTES
from aedetect.errors import InvalidInput, NotFound, PayloadTooLarge

KOREAN = "설비,온도,압력\n1호기,20.5,101\n2호기,21.0,99\n"


class _Pipe(io.RawIOBase):
    """A raw stream that cannot seek, like a pipe or a streamed upload."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def non_seekable(data: bytes) -> io.BufferedReader:
    """A binary file object over ``data`` that cannot be rewound."""
    return io.BufferedReader(_Pipe(data))


def write(tmp_path: Path, data: bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_reads_utf8_with_types(tmp_path: Path) -> None:
    path = write(tmp_path, b"a,b,c\n1,2.5,x\n3,4.0,y\n")
    frame = read_csv(path)
    assert list(frame.columns) == ["a", "b", "c"]
    assert frame["a"].dtype == np.int64
    assert frame["b"].dtype == np.float64
    assert pd.api.types.is_string_dtype(frame["c"])
    assert frame["a"].tolist() == [1, 3]
    assert frame["c"].tolist() == ["x", "y"]


def test_reads_utf8_with_bom(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbf" + KOREAN.encode("utf-8"))
    frame = read_csv(path)
    assert list(frame.columns) == ["설비", "온도", "압력"]
    assert sniff_csv(path).encoding == "utf-8-sig"


def test_reads_korean_utf8_without_bom(tmp_path: Path) -> None:
    frame = read_csv(write(tmp_path, KOREAN.encode("utf-8")))
    assert list(frame.columns) == ["설비", "온도", "압력"]
    assert frame["설비"].tolist() == ["1호기", "2호기"]


@pytest.mark.parametrize("codec", ["cp949", "euc-kr"])
def test_reads_korean_legacy_encodings(tmp_path: Path, codec: str) -> None:
    path = write(tmp_path, KOREAN.encode(codec))
    frame = read_csv(path)
    assert sniff_csv(path).encoding == "cp949"
    assert list(frame.columns) == ["설비", "온도", "압력"]
    assert frame["설비"].tolist() == ["1호기", "2호기"]
    assert frame["온도"].tolist() == [20.5, 21.0]


def test_reads_utf16_with_bom(tmp_path: Path) -> None:
    frame = read_csv(write(tmp_path, KOREAN.replace(",", "\t").encode("utf-16")))
    assert list(frame.columns) == ["설비", "온도", "압력"]
    assert frame["압력"].tolist() == [101, 99]


@pytest.mark.parametrize("codec", ["utf-8", "cp949"])
def test_detects_encoding_when_the_sample_cuts_a_character(tmp_path: Path, codec: str) -> None:
    width = len("가".encode(codec))
    prefix = "이름,값\n".encode(codec) + b"x,0\n" * ((SAMPLE_BYTES - 200) // 4)
    prefix += b"y" * ((SAMPLE_BYTES - 1 - len(prefix)) % width)
    data = prefix + ("가" * 100 + ",1\n" + "나다,2\n" * 50).encode(codec)
    assert not data[SAMPLE_BYTES - 1 : SAMPLE_BYTES].isascii()
    assert data[SAMPLE_BYTES - 1 : SAMPLE_BYTES + width - 1] == "가".encode(codec)
    path = write(tmp_path, data)
    assert sniff_csv(path).encoding == codec
    frame = read_csv(path)
    assert frame["이름"].iloc[-1] == "나다"
    assert frame["이름"].iloc[-51].endswith("가" * 100)


def test_reads_cp949_text_that_starts_after_an_ascii_sample(tmp_path: Path) -> None:
    text = "line,value\n" + "L1,1\n" * 20_000 + "라인2,2\n"
    path = write(tmp_path, text.encode("cp949"))
    frame = read_csv(path)
    assert frame["line"].iloc[-1] == "라인2"
    assert len(frame) == 20_001


def test_cp949_lines_after_a_utf8_sample_with_korean_are_refused_naming_the_line(tmp_path: Path) -> None:
    """A sample with UTF-8 Korean settles the encoding: a later CP949 line mixes encodings."""
    head = ("line,value\n라인1,1\n" + "L1,1\n" * 20_000).encode("utf-8")
    path = write(tmp_path, head + "라인2,2\n".encode("cp949"))
    with pytest.raises(
        InvalidInput, match=r"^line 20003 is not valid UTF-8 text, but line 2 is: the file mixes"
    ):
        read_csv(path)


def test_utf8_and_cp949_lines_in_the_sample_are_refused_not_garbled(tmp_path: Path) -> None:
    """What charset detection used to call gb18030 (every Korean value garbled) is refused."""
    text = (
        "설비,온도\n".encode() + "1호기,20\n".encode() + "2호기,21\n".encode("cp949") + "3호기,22\n".encode()
    )
    with pytest.raises(
        InvalidInput, match=r"^line 3 is not valid UTF-8 text, but line 1 is: the file mixes"
    ) as err:
        read_csv(write(tmp_path, text))
    assert err.value.field == "encoding"


def test_cp949_sample_with_a_line_of_other_bytes_is_refused_naming_it(tmp_path: Path) -> None:
    text = "설비,온도\n1호기,20\n".encode("cp949") + b"\xff\xfe\xfd,1\n" + "2호기,21\n".encode("cp949")
    with pytest.raises(InvalidInput, match=r"^line 3 is not valid CP949 \(EUC-KR\) text, but line 1 is"):
        read_csv(write(tmp_path, text))


def test_utf8_line_after_an_ascii_sample_and_cp949_text_is_refused(tmp_path: Path) -> None:
    """ASCII first (UTF-8 assumed), CP949 further on (read again as CP949), then a UTF-8 line that
    is not CP949: the file mixes encodings, named at the line that does not decode."""
    head = "line,value\n" + "L1,1\n" * 20_000
    body = head.encode() + "라인2,2\n".encode("cp949") + b"L3,3\n" + "가나다라,4\n".encode()
    with pytest.raises(
        InvalidInput, match=r"^line 20004 is not valid CP949 \(EUC-KR\) text, but line 20002 is"
    ):
        read_csv(write(tmp_path, body))


def test_a_file_in_an_unsupported_encoding_is_refused_and_read_when_named(tmp_path: Path) -> None:
    """GB18030 is neither UTF-8 nor CP949: refused (never garbled), read when its encoding is given."""
    text = "名称,数量\n" + "".join(f"北京工厂第{i}号😀,{i}\n" for i in range(50))
    path = write(tmp_path, text.encode("gb18030"))
    with pytest.raises(InvalidInput, match=r"not valid"):
        read_csv(path)
    assert read_csv(path, encoding="gb18030")["名称"].iloc[0] == "北京工厂第0号😀"


def test_header_over_max_columns_is_refused_from_its_first_line(tmp_path: Path) -> None:
    path = write(tmp_path, ",".join(f"c{i}" for i in range(50)).encode() + b"\n" + b"1," * 49 + b"1\n")
    with pytest.raises(PayloadTooLarge, match=r"first line has 50 columns .* limit of 20 columns") as err:
        read_csv(path, max_columns=20)
    assert err.value.field == "max_columns"
    assert len(read_csv(path, max_columns=50).columns) == 50


def test_names_over_max_columns_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, b"1;2;3\n4;5;6\n")
    with pytest.raises(PayloadTooLarge, match=r"has 3 columns .* over the limit of 2"):
        read_csv(path, header=False, names=["a", "b", "c"], max_columns=2)


def test_header_line_over_max_line_bytes_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = write(tmp_path, b"a" * 5000 + b",b\n1,2\n")
    with pytest.raises(
        PayloadTooLarge, match=r"^line 1 of the file is longer than the limit of 4096 bytes"
    ) as err:
        read_csv(path, max_line_bytes=4096)
    assert err.value.field == "max_line_bytes"


def test_data_line_over_max_line_bytes_is_refused_naming_it(tmp_path: Path) -> None:
    text = b"a,b\n" + b"1,2\n" * (SAMPLE_BYTES // 4 + 10) + b"3," + b"x" * 5000 + b"\n4,5\n"
    with pytest.raises(PayloadTooLarge, match=rf"^line {SAMPLE_BYTES // 4 + 12} of the file is longer"):
        read_csv(write(tmp_path, text), max_line_bytes=4096)
    assert len(read_csv(write(tmp_path, text), max_line_bytes=8192)) == SAMPLE_BYTES // 4 + 12


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_detects_each_delimiter(tmp_path: Path, delimiter: str) -> None:
    text = "\n".join(delimiter.join(row) for row in [["a", "b", "c"], ["1", "2", "x"], ["3", "4", "y"]])
    path = write(tmp_path, text.encode())
    assert sniff_csv(path) == CsvFormat("utf-8", delimiter, True)
    frame = read_csv(path)
    assert list(frame.columns) == ["a", "b", "c"]
    assert frame["b"].tolist() == [2, 4]


def test_ignores_delimiters_inside_quotes(tmp_path: Path) -> None:
    path = write(tmp_path, b'name;note;v\n"a;b";"x, y";1\n"c";"z";2\n')
    assert sniff_csv(path).delimiter == ";"
    frame = read_csv(path)
    assert frame["name"].tolist() == ["a;b", "c"]
    assert frame["note"].tolist() == ["x, y", "z"]


def test_semicolon_file_with_decimal_commas_is_semicolon(tmp_path: Path) -> None:
    path = write(tmp_path, b"a;b\n1,5;2,25\n3,5;4,75\n")
    assert sniff_csv(path).delimiter == ";"


def test_trims_whitespace_after_delimiters(tmp_path: Path) -> None:
    frame = read_csv(write(tmp_path, b"a, b, c\n1, 2.5, x\n 3,  4, y \n"))
    assert list(frame.columns) == ["a", "b", "c"]
    assert frame["a"].dtype == np.int64
    assert frame["b"].tolist() == [2.5, 4.0]
    assert frame["c"].tolist() == ["x", "y"]


def test_quoted_field_after_whitespace_keeps_its_delimiter(tmp_path: Path) -> None:
    frame = read_csv(write(tmp_path, b'id, note, v\n1, "a, b", 2\n2, "c", 3\n'))
    assert frame["note"].tolist() == ["a, b", "c"]
    assert frame["v"].tolist() == [2, 3]


def test_quoted_newline_stays_in_the_value(tmp_path: Path) -> None:
    frame = read_csv(write(tmp_path, b'a,b\n"two\nlines",1\nx,2\n'))
    assert frame["a"].tolist() == ["two\nlines", "x"]


def test_matches_pandas_with_skipinitialspace(tmp_path: Path) -> None:
    """The old server read with pandas (skipinitialspace); plain files read the same here."""
    text = "t, p, line\n1.5, 10, A\n, 11, B\n2.5, , \n3.0, 13, A\n"
    path = write(tmp_path, text.encode())
    expected = pd.read_csv(path, skipinitialspace=True)
    pd.testing.assert_frame_equal(read_csv(path), expected)


def test_headerless_file_with_names(tmp_path: Path) -> None:
    frame = read_csv(write(tmp_path, b"1,2,x\n3,4,y\n"), header=False, names=["a", "b", "c"])
    assert list(frame.columns) == ["a", "b", "c"]
    assert frame["a"].tolist() == [1, 3]


def test_headerless_file_without_names_gets_numbered_columns(tmp_path: Path) -> None:
    frame = read_csv(write(tmp_path, b"1,2\n3,4\n"), header=False)
    assert list(frame.columns) == ["column_1", "column_2"]
    assert len(frame) == 2


def test_names_replace_an_existing_header(tmp_path: Path) -> None:
    frame = read_csv(write(tmp_path, b"a,b\n1,2\n"), names=["x", "y"])
    assert list(frame.columns) == ["x", "y"]
    assert frame["x"].tolist() == [1]


def test_names_that_do_not_match_the_columns_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="2 names were given but the file has 3 columns"):
        read_csv(write(tmp_path, b"1,2,3\n"), header=False, names=["a", "b"])


@pytest.mark.parametrize(
    ("data", "has_header"),
    [(b"a,b\n1,2\n", True), (b"1,2\n3,4\n", False), (b"x,1.5\ny,2.5\n", False)],
)
def test_auto_header_detection(tmp_path: Path, data: bytes, has_header: bool) -> None:
    path = write(tmp_path, data)
    assert sniff_csv(path).has_header is has_header
    frame = read_csv(path, header=None)
    assert len(frame) == (1 if has_header else 2)


def test_empty_cells_and_missing_markers_are_nan(tmp_path: Path) -> None:
    frame = read_csv(write(tmp_path, b"a,b,c\n1,,x\nNA,2.5,\n3,NULL,N/A\n"))
    assert frame["a"].dtype == np.float64
    assert np.isnan(frame["a"].iloc[1])
    assert frame["b"].isna().tolist() == [True, False, True]
    assert frame["c"].isna().tolist() == [False, True, True]


def test_column_with_no_values_is_all_nan_float(tmp_path: Path) -> None:
    frame = read_csv(write(tmp_path, b"a,b\n1,\n2,\n"))
    assert frame["b"].dtype == np.float64
    assert frame["b"].isna().all()


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    frame = read_csv(write(tmp_path, b"a,b\n\n1,2\n   \n3,4\n\n"))
    assert frame["a"].tolist() == [1, 3]


def test_ragged_row_error_gives_the_physical_line(tmp_path: Path) -> None:
    data = b"a,b,c,d\n1,2,3,4\n\n5,6,7,8\n9,10,11,12\n13,14,15,16\n17,18,19,20,21\n22,23,24,25\n"
    with pytest.raises(InvalidInput) as info:
        read_csv(write(tmp_path, data))
    assert info.value.message == "line 7 has 5 fields, expected 4 (header has 4 columns)"


def test_short_row_error_in_a_file_with_quoted_newlines(tmp_path: Path) -> None:
    data = b'a,b\n"x\ny",1\nz\n'
    with pytest.raises(InvalidInput, match=r"^line 4 has 1 fields, expected 2 \(header has 2 columns\)$"):
        read_csv(write(tmp_path, data))


def test_ragged_row_in_a_headerless_file_names_the_first_line(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"line 3 has 3 fields, expected 2 \(line 1 has 2 fields\)"):
        read_csv(write(tmp_path, b"1,2\n3,4\n5,6,7\n"), header=False)


def test_ragged_row_from_a_stream_that_cannot_rewind_shows_the_record(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"a record has 3 fields, expected 2 .*'5,6,7'"):
        read_csv(non_seekable(b"a,b\n3,4\n5,6,7\n"))


@pytest.mark.parametrize("data", [b"", b"\n\n", b"\xef\xbb\xbf", b"  \r\n"])
def test_empty_file_is_an_error(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(InvalidInput, match=r"^the file is empty$"):
        read_csv(write(tmp_path, data))


def test_header_only_gives_zero_rows_with_the_columns(tmp_path: Path) -> None:
    frame = read_csv(write(tmp_path, b"a,b,c\n"))
    assert list(frame.columns) == ["a", "b", "c"]
    assert len(frame) == 0


def test_nul_bytes_are_binary_content(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"^not a text CSV file \(binary content near byte 6\)$"):
        read_csv(write(tmp_path, b"a,b\n1,\x00\x01\x02"))


def test_nul_bytes_after_the_sample_are_binary_content(tmp_path: Path) -> None:
    head = b"a,b\n" + b"1,2\n" * (SAMPLE_BYTES // 4 + 100)
    with pytest.raises(InvalidInput, match=rf"binary content near byte {len(head)}\)"):
        read_csv(write(tmp_path, head + b"\x00\x00"))


def test_undecodable_garbage_is_binary_content(tmp_path: Path) -> None:
    garbage = bytes(np.random.default_rng(0).integers(1, 256, 4000, dtype=np.uint8))
    with pytest.raises(InvalidInput, match=r"^not a text CSV file \(binary content near byte \d+"):
        read_csv(write(tmp_path, garbage))


def test_duplicate_column_names_are_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"duplicate column names in the header: 'a' \(columns 1, 3\)"):
        read_csv(write(tmp_path, b"a,b,a\n1,2,3\n"))


def test_empty_column_name_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="empty column name in the header: column 2 has no name"):
        read_csv(write(tmp_path, b"a, ,c\n1,2,3\n"))


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no such file"):
        read_csv(tmp_path / "absent.csv")


def test_reads_bytes_and_file_objects_alike() -> None:
    data = KOREAN.encode("cp949")
    from_bytes = read_csv(data)
    stream = io.BytesIO(b"skipped" + data)
    stream.seek(len(b"skipped"))
    pd.testing.assert_frame_equal(read_csv(stream), from_bytes)
    pd.testing.assert_frame_equal(read_csv(non_seekable(data)), from_bytes)


def test_sniff_puts_a_seekable_stream_back() -> None:
    stream = io.BytesIO(b"a;b\n1;2\n")
    assert sniff_csv(stream).delimiter == ";"
    assert stream.tell() == 0


def _sensor_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "온도": rng.normal(50, 5, rows).round(3),
            "count": rng.integers(0, 1000, rows),
            "line": rng.choice(["L1", "L2", "라인3"], rows),
        }
    )
    frame.loc[rng.choice(rows, 50, replace=False), "온도"] = np.nan
    return frame


def test_chunked_reading_equals_a_plain_read(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    _sensor_frame(50_000).to_csv(path, index=False)
    chunks = list(iter_csv_chunks(path, chunk_rows=7_000))
    assert [len(c) for c in chunks] == [7_000] * 7 + [1_000]
    plain = read_csv(path)
    pd.testing.assert_frame_equal(pd.concat(chunks), plain)
    assert plain["count"].dtype == np.int64
    assert len(plain) == 50_000


def test_chunks_share_dtypes_settled_over_the_whole_file(tmp_path: Path) -> None:
    """A column of integers that has a decimal (or a gap) only in its last rows is float everywhere."""
    path = write(tmp_path, b"a,b\n" + b"1,2\n" * 3_000 + b"1.5,\n")
    chunks = list(iter_csv_chunks(path, chunk_rows=1_000))
    assert [c["a"].dtype for c in chunks] == [np.float64] * 4
    assert [c["b"].dtype for c in chunks] == [np.float64] * 4
    assert chunks[-1].index.tolist() == [3_000]


def test_chunked_reading_of_cp949_with_korean_header(tmp_path: Path) -> None:
    path = tmp_path / "kr.csv"
    _sensor_frame(5_000).to_csv(path, index=False, encoding="cp949")
    chunks = list(iter_csv_chunks(path, chunk_rows=2_000))
    pd.testing.assert_frame_equal(pd.concat(chunks), read_csv(path))
    assert list(chunks[0].columns) == ["온도", "count", "line"]


def _long_record_file(tmp_path: Path) -> tuple[Path, str]:
    """A file with one quoted field longer than two of the reader's small parse blocks (Arrow joins a
    record across two), among many rows."""
    long_text = "x" * (BLOCK_BYTES * 5 // 2)
    rows = b"".join(b"%d,short\n" % i for i in range(20_000))
    data = b"id,note\n" + rows + b'20000,"' + long_text.encode() + b'"\n' + rows
    return write(tmp_path, data), long_text


def test_a_record_longer_than_the_parse_block_is_read_again_in_larger_blocks(tmp_path: Path) -> None:
    path, long_text = _long_record_file(tmp_path)
    frame = read_csv(path)
    assert len(frame) == 40_001
    assert frame["note"].iloc[20_000] == long_text
    assert frame["note"].iloc[40_000] == "short"
    chunks = list(iter_csv_chunks(path, chunk_rows=15_000))
    pd.testing.assert_frame_equal(pd.concat(chunks), frame)
    streamed = read_csv(non_seekable(path.read_bytes()))
    pd.testing.assert_frame_equal(streamed, frame)


def test_an_unclosed_quote_is_reported_past_the_larger_block(tmp_path: Path) -> None:
    path = write(tmp_path, b'a,b\n1,"open\n' + b"2,x\n" * (LONG_BLOCK_BYTES // 2))
    with pytest.raises(InvalidInput, match=r"longer than 8 MiB \(an unclosed quote\?\)"):
        read_csv(path)


def test_max_bytes_on_a_path(tmp_path: Path) -> None:
    path = write(tmp_path, b"a,b\n1,2\n3,4\n")
    with pytest.raises(PayloadTooLarge, match="larger than the limit of 10 bytes"):
        read_csv(path, max_bytes=10)
    assert len(read_csv(path, max_bytes=12)) == 2


def test_max_bytes_on_bytes() -> None:
    with pytest.raises(PayloadTooLarge):
        read_csv(b"a,b\n1,2\n", max_bytes=4)


def test_max_bytes_on_a_stream_stops_while_reading() -> None:
    data = b"a,b\n" + b"1,2\n" * 100_000
    with pytest.raises(PayloadTooLarge, match="larger than the limit of 200000 bytes"):
        read_csv(non_seekable(data), max_bytes=200_000)
