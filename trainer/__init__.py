"""Models: train a GPT-2 generator from a corpus dir (and, later, the selector).

Import torch/transformers inside functions, never at module level of `commands.py`, so that the
`lorecast` CLI stays light for the commands that do not train.
"""
