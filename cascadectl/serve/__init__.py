"""`cascadectl serve`: the cascade behind OpenAI's Chat Completions wire format.

A thin layer over the library, like the CLI: `settings` (what the server is given,
no web imports), `wire` (OpenAI request -> stream_events arguments, events -> OpenAI
dicts), `relay` (one request's cascade on the wire), `limits` (auth, concurrency,
body size) and `app` (the Starlette app). See docs/serve.md.
"""
