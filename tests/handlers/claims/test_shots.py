"""The shot list file, which photo is which shot, what is still missing, and "that's all I have"."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import ClaimsSettings, ConfigError, load_settings
from handlers.claims.asks import says_no_more
from handlers.claims.checks import EvidenceRules
from handlers.claims.shots import assign, load, missing, parse


def test_the_shipped_list_has_a_default_and_per_category_lists_each_with_both_languages() -> None:
    shots = load(ClaimsSettings().shots_file)
    assert shots.needed(None) == ["overall", "defect", "shipping_mark"]
    assert shots.needed("zipper") == ["overall", "zipper_closeup", "puller"]
    assert shots.needed("colour") == shots.needed(None)  # no list of its own: the default
    for shot in shots.shots.values():
        assert shot.en and shot.zh, shot.name
    assert shots.label("shipping_mark", "en") == "the carton's shipping mark"
    assert shots.label("shipping_mark", "zh") == "外箱唛头"
    assert shots.label("shipping_mark", "de") == "the carton's shipping mark"  # no German: English


def test_settings_name_the_file_and_the_limits() -> None:
    settings = load_settings("config/default.toml", env={})
    assert (settings.claims.shots_file, settings.claims.min_long_edge) == ("config/claims.toml", 1000)
    env = {"AFTERSALES_CLAIMS__MIN_LONG_EDGE": "1200"}
    assert load_settings("config/default.toml", env=env).claims.min_long_edge == 1200
    rules = EvidenceRules.from_settings(ClaimsSettings(min_long_edge=800, min_sharpness=12.5))
    assert (rules.quality.min_long_edge, rules.quality.min_sharpness) == (800, 12.5)


def test_photos_fill_the_missing_shots_in_order_unless_the_caption_names_one() -> None:
    needed = ["overall", "defect", "shipping_mark"]
    assert assign(needed, 2) == ["overall", "defect"]
    assert assign(needed, 4) == ["overall", "defect", "shipping_mark", None]  # the 4th is an extra
    assert assign(needed, 2, named="shipping_mark") == ["shipping_mark", "overall"]
    shots = load("config/claims.toml")
    assert shots.named_in("here is the shipping mark", needed) == "shipping_mark"
    assert shots.named_in("箱唛照片", needed) == "shipping_mark"
    assert shots.named_in("more photos", needed) is None
    assert shots.named_in("shipping mark", ["overall", "defect"]) is None  # not a shot this claim needs


def test_a_shot_stays_missing_until_a_good_photo_of_it_arrives() -> None:
    needed = ["overall", "defect", "shipping_mark"]
    assert missing(needed, []) == needed
    assert missing(needed, [("overall", False)]) == needed  # blurry: still missing
    assert missing(needed, [("overall", False), ("defect", True), ("overall", True)]) == ["shipping_mark"]
    assert missing(needed, [(None, True)]) == needed  # an extra photo fills nothing


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"shots": {"zipper": ["overall"]}, "shot": {"overall": {"en": "x", "zh": "y"}}}, "default"),
        ({"shots": {"default": ["overall", "nope"]}, "shot": {"overall": {"en": "x"}}}, "nope"),
        ({"shots": {"default": ["overall"]}, "shot": {"overall": {"zh": "只有中文"}}}, "en"),
        ({"shots": {"default": "overall"}, "shot": {"overall": {"en": "x"}}}, "list"),
    ],
)
def test_a_broken_shot_list_is_refused_naming_what_is_wrong(raw: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse(raw, "claims.toml")


def test_a_missing_shot_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load(str(tmp_path / "nope.toml"))


@pytest.mark.parametrize(
    "text",
    [
        "that's all I have",
        "That’s all I have.",
        "no more photos",
        "nothing else",
        "没有了",
        "就这些",
        "没有更多照片了",
    ],
)
def test_the_client_saying_they_have_no_more_photos(text: str) -> None:
    assert says_no_more(text)


@pytest.mark.parametrize(
    "text", ["no", "没有", "the zipper is broken", "that's all wrong with the strap", "3 pcs"]
)
def test_other_answers_are_not_taken_for_no_more_photos(text: str) -> None:
    assert not says_no_more(text)
