from __future__ import annotations

import math

import pytest

from cascadectl.config.model import PriceSpec
from cascadectl.errors import ConfigError
from cascadectl.pricing import UNKNOWN, Price, PriceTable, blended_per_1k_to_price, cost_usd, resolve_price
from cascadectl.streaming.deltas import Usage

TABLE = PriceTable({"m": Price(2.0, 8.0, 0.5, ""), "bare": Price(1.0, 3.0, None, "")})


def test_table_price_without_override() -> None:
    assert resolve_price("m-2025", None, TABLE) == Price(2.0, 8.0, 0.5, "table:m")


def test_full_override_is_config_only() -> None:
    spec = PriceSpec(input=1.0, output=4.0, cached_input=0.1)
    assert resolve_price("m", spec, TABLE) == Price(1.0, 4.0, 0.1, "config")


def test_override_fields_merge_with_the_table() -> None:
    spec = PriceSpec(output=9.0)
    assert resolve_price("m", spec, TABLE) == Price(2.0, 9.0, 0.5, "config+table:m")


def test_override_for_an_unknown_model() -> None:
    assert resolve_price("mystery", PriceSpec(input=1.0), TABLE) == Price(1.0, None, None, "config")


def test_empty_override_on_a_known_model_is_table() -> None:
    assert resolve_price("m", PriceSpec(), TABLE).source == "table:m"


def test_nothing_known_is_unknown() -> None:
    assert resolve_price("mystery", None, TABLE) == UNKNOWN
    assert resolve_price("mystery", PriceSpec(), TABLE) == Price(None, None, None, "unknown")


def test_default_table_is_used_when_none_given() -> None:
    assert resolve_price("gpt-4o-mini-2024-07-18", None).source == "table:gpt-4o-mini"


def test_cost_with_cached_tokens_by_hand() -> None:
    # 1,000 input of which 400 cached, 500 output at 2 / 0.5 / 8 USD per 1M:
    # 600*2 + 400*0.5 + 500*8 = 1200 + 200 + 4000 = 5400 per 1M = 0.0054 USD
    usage = Usage(input_tokens=1000, output_tokens=500, cached_input_tokens=400)
    assert cost_usd(usage, Price(2.0, 8.0, 0.5, "x")) == pytest.approx(0.0054)


def test_cached_tokens_fall_back_to_the_input_price() -> None:
    # 1000*1 + 200*3 = 1600 per 1M
    usage = Usage(input_tokens=1000, output_tokens=200, cached_input_tokens=300)
    assert cost_usd(usage, Price(1.0, 3.0, None, "x")) == pytest.approx(0.0016)


def test_gpt_4o_mini_example() -> None:
    # 53 input, 15 output at 0.15 / 0.6: 7.95 + 9 = 16.95 per 1M
    price = resolve_price("gpt-4o-mini-2024-07-18", None)
    assert cost_usd(Usage(53, 15), price) == pytest.approx(16.95e-6)


@pytest.mark.parametrize(
    "price",
    [UNKNOWN, Price(1.0, None, None, "config"), Price(None, 1.0, None, "config")],
)
def test_unknown_price_gives_unknown_cost(price: Price) -> None:
    assert cost_usd(Usage(10, 10), price) is None


def test_cached_tokens_need_some_input_price() -> None:
    usage = Usage(input_tokens=100, output_tokens=0, cached_input_tokens=100)
    assert cost_usd(usage, Price(None, 1.0, None, "x")) is None
    assert cost_usd(usage, Price(None, 1.0, 0.25, "x")) == pytest.approx(25e-6)


def test_zero_tokens_of_a_kind_need_no_price() -> None:
    assert cost_usd(Usage(1000, 0), Price(2.0, None, None, "config")) == pytest.approx(0.002)
    assert cost_usd(Usage(0, 1000), Price(None, 5.0, None, "config")) == pytest.approx(0.005)
    assert cost_usd(Usage(0, 0), UNKNOWN) == 0.0


def test_more_cached_than_input_never_goes_negative() -> None:
    usage = Usage(input_tokens=10, output_tokens=0, cached_input_tokens=50)
    assert cost_usd(usage, Price(4.0, 4.0, 1.0, "x")) == pytest.approx(50e-6)


def test_estimated_usage_is_still_priced() -> None:
    assert cost_usd(Usage(1000, 1000, estimated=True), Price(1.0, 1.0, None, "x")) == pytest.approx(0.002)


def test_blended_per_1k() -> None:
    spec = blended_per_1k_to_price(0.002)
    assert spec.input == pytest.approx(2.0) and spec.output == pytest.approx(2.0)
    assert spec.cached_input == pytest.approx(2.0)
    price = resolve_price("gpt-4o-mini", spec)
    assert price.source == "config"
    assert cost_usd(Usage(1500, 500, cached_input_tokens=1000), price) == pytest.approx(0.004)


@pytest.mark.parametrize("bad", [-0.001, math.nan, math.inf, True, "0.002", None])
def test_blended_rejects_bad_costs(bad: object) -> None:
    with pytest.raises(ConfigError, match="cost: expected a number >= 0"):
        blended_per_1k_to_price(bad)  # type: ignore[arg-type]
