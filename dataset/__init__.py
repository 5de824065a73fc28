"""Sources and text: turn corpora (FMG XML, plain text, JSONL/CSV, Reddit dumps) into a corpus dir.

This package never imports torch: it runs on any machine, the slim poster image included.
"""
