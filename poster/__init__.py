"""The posters: small CronJob programs that publish texts (see the posters issue). Empty for now.

Imports only requests, requests-oauthlib, click and the standard library: no torch.
"""
