"""Importing clients and leads from CSV and XLSX: reading files, mapping columns, running jobs in the background."""
