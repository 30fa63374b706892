"""Importers for LIMA's community sources: Stack Exchange, wikiHow, Reddit (Pushshift), Super-NaturalInstructions.

Pure parsing and filtering (no Django import): each importer reads a public dump, applies the
paper's curation rules, one small function per rule, and returns a `CandidateBatch`, the
candidates plus an `ImportReport` (records read, kept, rejected per rule, rows skipped).
`annotation.services.curation` writes a batch to the database in one transaction.

Bad-input policy, the same for every importer:

* **Stop** (raise `InputError` naming the file and line; nothing is written) on problems that
  make the whole file suspect: a file that cannot be opened, malformed or truncated XML/JSON, a
  truncated or corrupt .zst stream, bytes that are not UTF-8, a CSV without the needed columns.
* **Skip and report** (file and line/row in `ImportReport.skipped`) a single record that parses
  but is unusable: a row missing a required field or with a non-numeric id/score, one bad JSON
  line inside an NDJSON dump (Pushshift dumps contain a few). `strict=True` turns these into
  stops as well.

Either way an import is one batch: it is written whole, or not at all.
"""
