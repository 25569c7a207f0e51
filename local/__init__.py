"""The local stack: moto + SAM CLI's local API Gateway service + one worker process per Lambda sandbox.

`python -m local` (SAM CLI's virtualenv) starts it; see local/stack.py. Only
local/template.py is meant to be imported from the dev virtualenv too.
"""
