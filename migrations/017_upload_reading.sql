-- How the worker read a CSV upload: the delimiter it split the lines on (given, Excel's `sep=` line
-- or detected) and the encoding it decoded the bytes from (given, or a byte-order mark's). The
-- reports (errors.csv, rows.csv) are written in that form, so that the options the upload was sent
-- with read a fixed report back. Saved with the header (input_columns); null for a workbook, and
-- for a job read before this column or that stopped before its header.
ALTER TABLE jobs ADD COLUMN input_delimiter text, ADD COLUMN input_encoding text;
