"""Models: train a GPT-2 generator (contract 2) and the selector that ranks its candidates (contract 3) from a
corpus dir, and preview what the handler would serve (`lorecast train sample`, through the worker's own
GenerationService).

torch and transformers are imported inside the functions that need them, never at module level of
`commands/`, so that the `lorecast` CLI stays light for the commands that do not train.
"""
