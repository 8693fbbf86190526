"""Example tools for the tool loop: `cascadectl stream CASCADE "..." --tools examples.weather_tools:executor`.

Deterministic stand-ins (no network) for the tools in evalsets/tools.jsonl, so a
multi-step task runs anywhere. Replace the bodies with real calls in your own module.
"""
from __future__ import annotations

from cascadectl.tools import ToolConfig, ToolExecutor

_WEATHER = {
    "paris": ("heavy rain", 14), "oslo": ("snow", -3), "madrid": ("sunny", 18),
    "tokyo": ("cloudy", 21), "berlin": ("overcast", 9), "london": ("drizzle", 11),
}
_RATES = {("USD", "EUR"): 0.923, ("EUR", "USD"): 1.08, ("GBP", "EUR"): 1.17, ("EUR", "GBP"): 0.855}
_TIMES = {"tokyo": "14:05", "london": "06:05", "new york": "01:05", "paris": "07:05"}


def get_weather(city: str, units: str = "celsius") -> dict:
    """Current weather for a city.

    Args:
        city: City name, e.g. Paris.
        units: celsius or fahrenheit.
    """
    condition, celsius = _WEATHER.get(city.strip().lower(), ("unknown", None))
    if celsius is None:
        raise ValueError(f"no weather station for {city!r} (try: {', '.join(sorted(_WEATHER))})")
    temp = celsius if units != "fahrenheit" else round(celsius * 9 / 5 + 32, 1)
    return {"city": city, "condition": condition, "temperature": temp, "units": units}


def convert_currency(amount: float, from_currency: str, to_currency: str) -> dict:
    """Convert an amount of money between currencies (ISO codes, e.g. USD, EUR)."""
    rate = _RATES.get((from_currency.upper(), to_currency.upper()))
    if rate is None:
        raise ValueError(f"no rate for {from_currency}->{to_currency}")
    return {"amount": round(amount * rate, 2), "currency": to_currency.upper()}


def get_time(city: str) -> str:
    """Current local time in a city."""
    return _TIMES.get(city.strip().lower(), "unknown city")


executor = ToolExecutor(
    [ToolConfig.from_function(get_weather), ToolConfig.from_function(convert_currency), ToolConfig.from_function(get_time)],
    timeout_s=5.0,
)
