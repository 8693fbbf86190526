from __future__ import annotations

import pytest

from cascadectl.errors import ConfigError
from cascadectl.pricing import Price, PriceTable, default_table


def _source(model: str) -> str | None:
    price = default_table().lookup(model)
    return None if price is None else price.source


@pytest.mark.parametrize(
    ("model", "source"),
    [
        ("gpt-4o", "table:gpt-4o"),
        ("gpt-4o-2024-08-06", "table:gpt-4o"),
        ("gpt-4o-mini", "table:gpt-4o-mini"),
        ("gpt-4o-mini-2024-07-18", "table:gpt-4o-mini"),
        ("gpt-4o-2024-05-13", "table:gpt-4o-2024-05-13"),
        ("o1", "table:o1"),
        ("o1-2024-12-17", "table:o1"),
        ("o1-mini-2024-09-12", "table:o1-mini"),
        ("o1-pro", "table:o1-pro"),
        ("o3-mini-2025-01-31", "table:o3-mini"),
        ("o4-mini", "table:o4-mini"),
        ("gpt-4-0613", "table:gpt-4"),
        ("gpt-4-1106-preview", "table:gpt-4-1106"),
        ("gpt-4.1-mini-2025-04-14", "table:gpt-4.1-mini"),
        ("gpt-5-mini-2025-08-07", "table:gpt-5-mini"),
        ("gpt-5-chat-latest", "table:gpt-5"),
        ("gpt-5-pro", "table:gpt-5-pro"),
        ("gpt-5.1-codex", "table:gpt-5.1"),
        ("claude-3-5-haiku-latest", "table:claude-3-5-haiku"),
        ("claude-3-haiku-20240307", "table:claude-3-haiku"),
        ("claude-3-opus-20240229", "table:claude-3-opus"),
        ("claude-haiku-4-5-20251001", "table:claude-haiku-4-5"),
        ("claude-sonnet-4-5-20250929", "table:claude-sonnet-4-5"),
        ("claude-opus-4-1-20250805", "table:claude-opus-4-1"),
        ("claude-opus-4-5-20251101", "table:claude-opus-4-5"),
        ("claude-3-5-sonnet@20240620", "table:claude-3-5-sonnet"),
        ("llama-3.3-70b-versatile", "table:llama-3.3-70b-versatile"),
        ("meta-llama/Llama-3.3-70B-Instruct-Turbo-Free", "table:meta-llama/Llama-3.3-70B-Instruct-Turbo-Free"),
        ("meta-llama/Llama-3.3-70B-Instruct-Turbo", "table:meta-llama/Llama-3.3-70B-Instruct-Turbo"),
        ("deepseek-reasoner", "table:deepseek-reasoner"),
        ("mistral-small-latest", "table:mistral-small-latest"),
    ],
)
def test_longest_prefix_wins(model: str, source: str) -> None:
    assert _source(model) == source


@pytest.mark.parametrize(
    "model",
    [
        "gpt-5.2",  # "gpt-5" must not price a later point release
        "gpt-4o-mini-transcribe",  # unpriced: "gpt-4o-mini" would misprice it
        "gpt-4o-realtime-preview-2024-12-17",
        "o3-deep-research",
        "claude-sonnet-4-6",  # newer than the table: no "claude-sonnet-4" guess
        "claude-opus-4-6",
        "deepseek-chat-v3-0324",  # "deepseek-chat" is exact
        "deepseek-ai/DeepSeek-R1-Distill-Llama-70B",
        "openai/gpt-oss-120b",
        "llama3.1",
        "gemini-2.0-flash",
        "",
    ],
)
def test_unknown_models_stay_unknown(model: str) -> None:
    assert default_table().lookup(model) is None


def test_prices_come_from_the_matched_entry() -> None:
    mini = default_table().lookup("gpt-4o-mini-2024-07-18")
    assert mini == Price(0.15, 0.6, 0.075, "table:gpt-4o-mini")
    assert default_table().lookup("gpt-4o") == Price(2.5, 10.0, 1.25, "table:gpt-4o")


@pytest.mark.parametrize(
    ("model", "source"),
    [
        ("openai/gpt-4o-mini", "table:gpt-4o-mini"),
        ("anthropic/claude-3-5-sonnet-20241022", "table:claude-3-5-sonnet"),
        ("together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo", "table:meta-llama/Llama-3.3-70B-Instruct-Turbo"),
        ("deepseek/deepseek-chat", "table:deepseek-chat"),
        ("GPT-4O-MINI", "table:gpt-4o-mini"),
        ("  gpt-4o-mini  ", "table:gpt-4o-mini"),
        ("META-LLAMA/llama-3.3-70b-instruct-turbo", "table:meta-llama/Llama-3.3-70B-Instruct-Turbo"),
    ],
)
def test_vendor_prefix_and_case_are_ignored(model: str, source: str) -> None:
    assert _source(model) == source


def test_full_name_beats_the_name_after_the_vendor() -> None:
    table = PriceTable({"acme/m": Price(1.0, 1.0, None, ""), "m": Price(2.0, 2.0, None, "")})
    assert table.lookup("acme/m-large") == Price(1.0, 1.0, None, "table:acme/m")
    assert table.lookup("other/m-large") == Price(2.0, 2.0, None, "table:m")


def test_dot_and_letters_do_not_continue_a_key() -> None:
    table = PriceTable({"gpt-4": Price(30.0, 60.0, None, "")})
    assert table.lookup("gpt-4-0613") is not None
    assert table.lookup("gpt-4:ft-acme") is not None
    for model in ("gpt-4o", "gpt-4.1", "gpt-45", "gpt"):
        assert table.lookup(model) is None, model


def test_exact_key_blocks_shorter_keys_for_its_family() -> None:
    prices: dict[str, Price | None] = {"m": Price(1.0, 1.0, None, ""), "m-chat": Price(2.0, 2.0, None, "")}
    table = PriceTable(prices, exact=["M-Chat"])
    assert table.lookup("m-chat") == Price(2.0, 2.0, None, "table:m-chat")
    assert table.lookup("m-chat-v3") is None
    assert table.lookup("m-other") == Price(1.0, 1.0, None, "table:m")


def test_unpriced_name_blocks_the_shorter_key() -> None:
    table = PriceTable({"m": Price(1.0, 1.0, None, ""), "m-audio": None})
    assert table.lookup("m-audio-2025") is None
    assert table.lookup("m-2025") is not None


def test_keys_differing_only_in_case_are_rejected() -> None:
    with pytest.raises(ConfigError, match="appears twice"):
        PriceTable({"GPT-4o": Price(1.0, 1.0, None, ""), "gpt-4o": Price(2.0, 2.0, None, "")})


def test_price_to_dict_and_known() -> None:
    price = Price(1.0, None, None, "config")
    assert price.to_dict() == {"input": 1.0, "output": None, "cached_input": None, "source": "config"}
    assert not price.known
    assert Price(1.0, 2.0, None, "config").known
