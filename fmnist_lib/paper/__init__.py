"""The paper: every figure, table and sentence the chapters show (never imported by computing code)."""
