"""CSV in, typed table out: encoding and delimiter detection, streaming reads."""

from aedetect.data.csv_reader import CsvFormat, iter_csv_chunks, read_csv, sniff_csv

__all__ = ["CsvFormat", "iter_csv_chunks", "read_csv", "sniff_csv"]
