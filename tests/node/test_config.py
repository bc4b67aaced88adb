"""A node's configuration file (`node.config`): written, read back, checked, and its limits.

Each test writes a file into a temporary folder with `fresh`/`write` or by hand, loads it, and
checks the values, the file's mode, or the code and field of the refusal.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import tomli_w

from node.config import CentralLink, NodeConfig, fresh, load, write
from node.errors import NodeError
from node.kyc_limits import USD_PER_DAY_BY_TIER, default_daily_limits

CENTRAL_KEY = "ab" * 32


def written(tmp_path: Path, config: NodeConfig, name: str = "node.toml") -> Path:
    """`config` written to a file in `tmp_path`."""
    path = tmp_path / name
    write(config, path)
    return path


def refusal(path: Path) -> NodeError:
    """The error loading `path` raises (the test fails if it loads)."""
    with pytest.raises(NodeError) as raised:
        load(path)
    return raised.value


def test_round_trip(tmp_path: Path) -> None:
    """A fresh bank configuration written and loaded is the same, key included."""
    config = fresh("bank", "aba", 8701, ["KHR", "USD"], database="sqlite:////var/aba.db",
                   central=CentralLink(url="http://127.0.0.1:8700", key=CENTRAL_KEY))
    loaded = load(written(tmp_path, config))
    assert loaded == config
    assert loaded.key.participant == config.key.participant


def test_fresh_keys_differ() -> None:
    """Two fresh configurations never share a key."""
    assert fresh("central", "a", 1, ["KHR"]).key_seed != fresh("central", "a", 1, ["KHR"]).key_seed


def test_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """The file holds the key: mode 0600, also when it replaces a file that was world-readable."""
    path = tmp_path / "node.toml"
    path.write_text("old")
    path.chmod(0o644)
    write(fresh("central", "nbc", 8700, ["KHR"]), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load(path).name == "nbc"


def test_relative_sqlite_path_counts_from_the_file(tmp_path: Path) -> None:
    """`sqlite:///nbc.db` in a file in DIR means DIR/nbc.db; absolute paths and other URLs stay."""
    folder = tmp_path / "net"
    folder.mkdir()
    relative = load(written(folder, fresh("central", "nbc", 8700, ["KHR"])))
    assert relative.database == f"sqlite:///{(folder / 'nbc.db').resolve()}"
    absolute = fresh("central", "nbc", 8700, ["KHR"], database="sqlite:////srv/nbc.db")
    assert load(written(folder, absolute)).database == "sqlite:////srv/nbc.db"
    postgres = fresh("central", "nbc", 8700, ["KHR"],
                     database="postgresql+psycopg://earmark@db/ledger")
    assert load(written(folder, postgres)).database == "postgresql+psycopg://earmark@db/ledger"


@pytest.mark.parametrize(("change", "field"), [
    ({"port": "eighty"}, "port"),
    ({"port": 70_000}, "port"),
    ({"name": "Has Capitals"}, "name"),
    ({"currencies": ["KHR", "XYZ"]}, "currencies"),
    ({"role": "treasury"}, "role"),
    ({"key_seed": "00"}, "key_seed"),
    ({"colour": 1}, "colour"),
    ({"daily_limits": {"KHR": [1, 2]}}, "daily_limits"),
    ({"central": {"url": "http://c", "key": "no"}}, "central.key"),
])
def test_invalid_file_names_the_field(tmp_path: Path, change: dict[str, object],
                                      field: str) -> None:
    """A wrong value or an unknown field: config_invalid, with the field in the detail."""
    data = fresh("central", "nbc", 8700, ["KHR"]).model_dump(exclude_none=True) | change
    path = tmp_path / "node.toml"
    path.write_text(tomli_w.dumps(data))
    error = refusal(path)
    assert (error.problem.status, error.problem.code) == (400, "config_invalid")
    assert f": {field}: " in error.problem.detail


def test_missing_or_unreadable_file(tmp_path: Path) -> None:
    """No file, or not TOML: config_unreadable naming the file."""
    missing = refusal(tmp_path / "none.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("role = \n")
    unreadable = refusal(broken)
    assert missing.problem.code == unreadable.problem.code == "config_unreadable"
    assert "none.toml" in missing.problem.detail
    assert "broken.toml" in unreadable.problem.detail


def test_default_limits_follow_usd() -> None:
    """Tier 1 is USD 250 a day: 1,025,000.00 KHR at 4,100 riel a dollar, 250.00 USD."""
    assert USD_PER_DAY_BY_TIER[1] == 250
    assert default_daily_limits("KHR")[1] == 250 * 4_100 * 100
    assert default_daily_limits("USD") == [5_000, 25_000, 250_000, 2_500_000]
    assert default_daily_limits("JPY")[1] == 250 * 150  # the yen has no minor unit
    config = fresh("bank", "aba", 8701, ["KHR"])
    assert config.daily_limit("KHR", 1) == 102_500_000
    assert config.daily_limit("USD", 0) == 5_000  # a currency without its own: the default


def test_configured_limits_win(tmp_path: Path) -> None:
    """A bank's own limits per tier replace the defaults, and survive the file."""
    config = fresh("bank", "aba", 8701, ["KHR"]).model_copy(
        update={"daily_limits": {"KHR": [1, 2, 3, 4]}})
    assert load(written(tmp_path, config)).daily_limit("KHR", 2) == 3


def test_currency_without_a_reference_rate() -> None:
    """No default limit for a currency without a reference rate: config_invalid says so."""
    with pytest.raises(NodeError) as raised:
        fresh("bank", "aba", 8701, ["BHD"])
    assert raised.value.problem.code == "config_invalid"
    assert "daily_limits.BHD" in raised.value.problem.detail
