"""The embedded `llamacpp` provider: GGUF models run in-process by llama-cpp-python.

provider (the Provider), runtime (the llama thread, shared models, loading), generate
(the token loop), text (prompts, stops, tool-call JSON: pure), options (a tier's
options, checked without llama_cpp), cpu (what this CPU lets llama.cpp do), assets
(finding and assembling model files). Kept light: `cascadectl validate` imports
options without llama_cpp, httpx or asyncio."""
