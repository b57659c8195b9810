"""Register extracts as delivered (SAS7BDAT, SAS transport, Stata, Parquet, CSV with Danish conventions),
mapped by the params ``events:`` section onto the engine's event tables and converted once to Parquet.

``convert(params, out_dir)`` (command line: ``cluster-eval convert PARAMS --out DIR``); the mapping is
documented in docs/data.md.
"""
from .convert import ConvertResult, convert
from .mapping import Extracts, load_extracts
from .readers import ExtractReader

__all__ = ["ConvertResult", "ExtractReader", "Extracts", "convert", "load_extracts"]
