"""The HTTP providers: `openai` (and every OpenAI-compatible server) and `anthropic`,
over one HTTP layer (transport: timeouts, retries, error classes; sse: the one SSE
parser; pool: connection pools; credentials: which variable holds a key; checks: a
tier's settings, checked without httpx). Kept light: importing a submodule must not
pull in httpx unless that submodule needs it."""
