"""Sources and text: turn corpora (FMG XML, plain text, JSONL/CSV, Reddit dumps) into a corpus dir (contract 1).

The ground floor: of ours it imports only lorecast.errors and textrules (the rules it shares with the worker),
and never torch, so it runs on any machine.
"""
