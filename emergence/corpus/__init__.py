"""The corpus side of the pipeline: stream → clean/validate → split → sample → audit.

    >>> from emergence.corpus import stream_records, split_of, sample_path
    >>> rec = next(iter(stream_records(sample_path())))
    >>> split_of(rec) in {"train", "held_out"}
    True
"""
from emergence.corpus.records import LoadError, LoadStats, Record, clean_text
from emergence.corpus.sample import generate_sample, sample_path, write_sample
from emergence.corpus.split import split_of
from emergence.corpus.stream import stream_records

__all__ = ["LoadError", "LoadStats", "Record", "clean_text", "generate_sample", "sample_path",
           "split_of", "stream_records", "write_sample"]
